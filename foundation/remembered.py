"""What a pure function gave for each distinct text, remembered across calls.

A long-running service meets the same few thousand texts (codes, dates) again and again; with
their answers remembered, reading one record costs dictionary look-ups instead of a dozen
vectorised calls with fixed costs each.  Batches classify only the texts not seen before, with
the same vectorised function, so an answer never depends on what was seen earlier.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

#: Texts remembered per question: more than the national code lists hold, a bound on what messy batches can add.
LIMIT = 50_000

_SEEN: dict[tuple, dict] = {}


def per_text(texts: Sequence, question: tuple, answer: Callable[[list], Sequence], limit: int | None = None) -> list:
    """``answer(texts)`` (one answer per text), asking ``answer`` only about texts not seen before.

    Parameters
    ----------
    texts : sequence of hashable
        Values (repeats allowed).
    question : tuple
        What is asked (function name and its arguments); answers are remembered under it.
    answer : callable
        Pure function of a list of distinct texts, returning one answer per text.
    limit : int, optional
        Texts remembered for this question at most, default :data:`LIMIT` (later ones are answered, not
        remembered).
    """
    seen = _SEEN.setdefault(question, {})
    new = list(dict.fromkeys(t for t in texts if t not in seen))
    if new:
        found = dict(zip(new, answer(new)))
        if len(seen) + len(new) <= (LIMIT if limit is None else limit):
            seen.update(found)
        else:
            found.update(seen)
            seen = found
    return [seen[t] for t in texts]


def forget() -> None:
    """Forget every remembered answer (tests)."""
    _SEEN.clear()


__all__ = ["LIMIT", "forget", "per_text"]
