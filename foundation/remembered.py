"""What a pure function gave for each distinct text, or for the same objects, remembered across calls.

A long-running service meets the same few thousand texts (codes, dates) again and again; with
their answers remembered, reading one record costs dictionary look-ups instead of a dozen
vectorised calls with fixed costs each.  Batches classify only the texts not seen before, with
the same vectorised function, so an answer never depends on what was seen earlier.  What is
derived from objects that live on (a pack's tables, a weight table) is made once per object
(:func:`per_object`).
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


#: Answers remembered by :func:`per_object` per question, by default (the least recently used forgotten first).
OBJECT_LIMIT = 8

_OBJECTS: dict[str, dict[tuple, tuple[tuple, object]]] = {}


def per_object(question: str, objects: tuple, answer: Callable[[], object], limit: int = OBJECT_LIMIT):
    """``answer()``, asked once per ``question`` and ``objects`` (by identity: they are kept while remembered).

    Parameters
    ----------
    question : str
        What is derived (one name per function deriving it).
    objects : tuple
        The objects it is derived from, which must not change (a pack's arrays, a weight table).
    answer : callable
        Pure function of those objects.
    limit : int
        Answers remembered for this question at most (a few packs' worth: a service replacing its pack does
        not keep every earlier one alive).
    """
    answers = _OBJECTS.setdefault(question, {})
    key = tuple(map(id, objects))
    hit = answers.pop(key, None)
    if hit is None or any(kept is not given for kept, given in zip(hit[0], objects)):
        hit = (objects, answer())
        while len(answers) >= limit:
            answers.pop(next(iter(answers)))
    answers[key] = hit  # the most recently used last
    return hit[1]


def forget() -> None:
    """Forget every remembered answer (tests)."""
    _SEEN.clear()
    _OBJECTS.clear()


__all__ = ["LIMIT", "OBJECT_LIMIT", "forget", "per_object", "per_text"]
