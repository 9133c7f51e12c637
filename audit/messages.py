"""Message texts of findings: each rule's templates filled once per distinct combination of values.

A batch of findings repeats a few thousand combinations (a code and what it maps to), and the next
batch, or the next request of a service, repeats the same ones: the texts of each combination are
remembered (:func:`foundation.remembered.per_text`), so a combination is formatted once per process.
A few findings (one record's) are grouped in Python; many with NumPy and Arrow, whose fixed cost per
call is then the smaller part.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit.findings import FEW
from audit.rulebook import Rule
from foundation.remembered import per_text

#: Combinations remembered per rule: messages quoting dates or amounts are nearly all distinct, and a
#: long-running service would otherwise keep up to :data:`foundation.remembered.LIMIT` texts of each.
REMEMBERED = 4096
_PLACEHOLDERS: dict[tuple, list[str]] = {}


def filled(rule: Rule, n: int, values: dict) -> tuple[tuple[list, list, list], np.ndarray]:
    """``message_zh``, ``message_en`` and ``suggestion`` of ``n`` findings of ``rule``.

    Parameters
    ----------
    rule : Rule
    n : int
        Number of findings.
    values : dict
        Each placeholder the templates use (other than parameters): one value for all findings, or
        ``n`` values (Arrow, or NumPy holding integers or text); missing values read as ``""``.

    Returns
    -------
    texts : tuple of three lists of str
        The texts of each distinct combination of values.
    index : numpy.ndarray
        Each finding's combination (int64).
    """
    names = _placeholders(rule)
    missing = [name for name in names if name not in values]
    if missing:
        raise KeyError(f"rule {rule.id}: no value for placeholder(s) {', '.join(missing)}")
    combos, index = _combinations([values[name] for name in names], n)
    question = ("messages", rule.message_zh, rule.message_en, rule.suggestion, *names,
                *(f"{k}={v!r}" for k, v in rule.params.items()))
    texts = per_text(combos, question, lambda new: [rule.format(**dict(zip(names, combo))) for combo in new],
                     limit=REMEMBERED)
    return tuple([t[k] for t in texts] for k in range(3)), index


def _placeholders(rule: Rule) -> list[str]:
    """The placeholders of the rule's templates that are not its parameters (templates parsed once)."""
    key = (rule.message_zh, rule.message_en, rule.suggestion, tuple(rule.params))
    names = _PLACEHOLDERS.get(key)
    if names is None:
        if len(_PLACEHOLDERS) >= 1024:  # rule books edited in a long-running process
            _PLACEHOLDERS.clear()
        names = _PLACEHOLDERS[key] = sorted(rule.placeholders - set(rule.params))
    return names


def _combinations(columns: list, n: int) -> tuple[list[tuple], np.ndarray]:
    """The distinct combinations (tuples of text) of the value columns and each row's combination."""
    if n <= FEW:
        combos: dict[tuple, int] = {}
        rows = zip(*(_few_texts(column, n) for column in columns)) if columns else itertools.repeat((), n)
        index = np.fromiter((combos.setdefault(row, len(combos)) for row in rows), np.int64, n)
        return list(combos), index
    key = np.zeros(n, dtype=np.int64)
    parts = []
    for column in columns:
        codes, texts = _many_texts(column, n)
        parts.append((codes, texts))
        _, key = np.unique(key * len(texts) + codes, return_inverse=True)  # re-numbered: the key stays small
    _, first, index = np.unique(key, return_index=True, return_inverse=True)
    return [tuple(texts[codes[row]] for codes, texts in parts) for row in first.tolist()], index.astype(np.int64)


def _few_texts(value, n: int):
    """A value as text for each of ``n`` findings, in Python."""
    if isinstance(value, (pa.Array, pa.ChunkedArray)):
        value = (value if value.type == pa.string() else value.cast(pa.string())).to_pylist()
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    else:
        return itertools.repeat(str(value), n)
    return ["" if v is None else str(v) for v in value]


def _many_texts(value, n: int) -> tuple[np.ndarray, list[str]]:
    """A value as codes into its distinct texts, for ``n`` findings, with Arrow."""
    if not isinstance(value, (pa.Array, pa.ChunkedArray, np.ndarray)):
        return np.zeros(n, dtype=np.int64), [str(value)]
    if isinstance(value, np.ndarray):
        value = pa.array(value)
    encoded = pc.fill_null(value.cast(pa.string()), "").dictionary_encode()
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()


__all__ = ["filled"]
