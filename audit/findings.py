"""The findings table: one row per problem found on a record (质控问题).

Every check of :mod:`audit` produces rows of this shape, so they concatenate
into one table that the command line writes and the service returns.

Columns
-------
``case_id`` (病案号), ``row_no`` (行号, the record's input row from 1),
``rule_id`` (规则编号), ``severity`` (严重程度: ``fatal`` 致命 — the record cannot
be grouped; ``error`` 错误 — must be fixed before upload; ``warning`` 警告;
``info`` 提示), ``field`` (字段, a record-schema column), ``value`` (the value
found, as text), ``message_zh``, ``message_en``, ``suggestion`` (修改建议).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SEVERITIES = ("fatal", "error", "warning", "info")
SEVERITY_ZH = {"fatal": "致命", "error": "错误", "warning": "警告", "info": "提示"}

FINDING_SCHEMA = pa.schema([
    ("case_id", pa.string()),
    ("row_no", pa.int64()),
    ("rule_id", pa.string()),
    ("severity", pa.string()),
    ("field", pa.string()),
    ("value", pa.string()),
    ("message_zh", pa.string()),
    ("message_en", pa.string()),
    ("suggestion", pa.string()),
])


_EMPTY = FINDING_SCHEMA.empty_table()

#: Up to this many findings, texts are filled and picked in Python: Arrow's and NumPy's fixed cost per call is
#: then the larger part (one record's findings).
FEW = 64


def value_codes(column: pa.Array | pa.ChunkedArray, ranked: bool = False) -> tuple[np.ndarray, list]:
    """Integer code of each value and the distinct values (``ranked``: codes in the values' sorted order)."""
    encoded = pc.dictionary_encode(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
    codes, values = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()
    if not ranked:
        return codes, values
    order = sorted(range(len(values)), key=values.__getitem__)
    rank = np.empty(len(values), np.int64)
    rank[order] = np.arange(len(values))
    return rank[codes] if len(values) else codes, [values[j] for j in order]


def severity_ranks(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each finding's place in :data:`SEVERITIES` (``fatal`` 0); a severity not listed ranks last."""
    codes, values = value_codes(column)
    return np.array([SEVERITIES.index(s) if s in SEVERITIES else len(SEVERITIES) for s in values], np.int64)[codes]


def empty_findings() -> pa.Table:
    """A findings table with no rows (one shared table: Arrow tables are immutable)."""
    return _EMPTY


def findings_table(case_id: pa.Array, row_no: np.ndarray, rows: np.ndarray, *, rule_id: str, severity: str,
                   field: str, value, message_zh, message_en, suggestion) -> pa.Table:
    """Findings for the records at positions ``rows`` of a batch.

    Parameters
    ----------
    case_id : pyarrow.Array
        Case ids of the whole batch (text).
    row_no : numpy.ndarray
        Row numbers of the whole batch.
    rows : numpy.ndarray
        Positions (into the batch) of the records the rule fired on; a position
        may repeat (one finding per offending code).
    rule_id, severity, field : str
    value, message_zh, message_en, suggestion : str or pyarrow.Array
        One text for all rows, or one per finding (aligned with ``rows``).
    """
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}; one of {', '.join(SEVERITIES)}")
    n = len(rows)

    def text(v) -> pa.Array:
        if isinstance(v, (pa.Array, pa.ChunkedArray)):
            return v.cast(pa.string())
        return pa.array(np.full(n, "" if v is None else str(v), dtype=object), pa.string())

    return _table(case_id, row_no, np.asarray(rows, dtype=np.int64), rule_id=text(rule_id), severity=text(severity),
                  field=text(field), value=text(value), message_zh=text(message_zh), message_en=text(message_en),
                  suggestion=text(suggestion))


def _table(case_id: pa.Array, row_no: np.ndarray, rows: np.ndarray, **texts: pa.Array) -> pa.Table:
    """The findings at batch positions ``rows``: their case ids and row numbers, and the text columns given."""
    return pa.table({"case_id": case_id.take(pa.array(rows)).cast(pa.string()),
                     "row_no": pa.array(np.asarray(row_no)[rows], pa.int64()), **texts}, schema=FINDING_SCHEMA)


@dataclass(frozen=True)
class Part:
    """Findings of one rule on one field before they are a table (:func:`assemble` makes one table of many).

    Attributes
    ----------
    rows : numpy.ndarray
        Positions (into the batch) of the records, one per finding.
    rule_id, severity, field : str
    value : pyarrow.Array
        The value found, one per finding.
    texts : tuple of list of str
        ``message_zh``, ``message_en`` and ``suggestion`` as filled in, each once per distinct combination of
        the message's values.
    text_index : numpy.ndarray
        Each finding's place in ``texts``.
    """

    rows: np.ndarray
    rule_id: str
    severity: str
    field: str
    value: pa.Array
    texts: tuple
    text_index: np.ndarray


def assemble(case_id: pa.Array, row_no: np.ndarray, parts: list[Part], *, ordered: bool = False) -> pa.Table:
    """One findings table of ``parts``, in their order (``ordered``: then stably by ``row_no``).

    Each column is gathered in one step, however many parts there are: a batch's case ids are taken
    once, and each message column once from the texts of all parts together.

    Parameters
    ----------
    case_id : pyarrow.Array
        Case ids of the whole batch (text).
    row_no : numpy.ndarray
        Row numbers of the whole batch.
    parts : list of Part
    ordered : bool
        Sort by ``row_no`` (stable: within a record, the parts' order).
    """
    parts = [part for part in parts if len(part.rows)]
    if not parts:
        return _EMPTY
    for part in parts:
        if part.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {part.severity!r}; one of {', '.join(SEVERITIES)}")
    rows = np.concatenate([np.asarray(part.rows, dtype=np.int64) for part in parts])
    order = np.argsort(np.asarray(row_no)[rows], kind="stable") if ordered else None
    sizes = [len(part.rows) for part in parts]
    labels = np.repeat(np.arange(len(parts), dtype=np.int64), sizes)

    def gathered(texts: list[str], index: np.ndarray) -> pa.Array:
        index = index if order is None else index[order]
        if len(index) <= FEW:
            return pa.array([texts[i] for i in index.tolist()], pa.string())
        return pa.array(texts, pa.string()).take(pa.array(index))

    def label(name: str) -> pa.Array:
        return gathered([getattr(part, name) for part in parts], labels)

    offsets = np.cumsum([0] + [len(part.texts[0]) for part in parts[:-1]])
    text_index = np.concatenate([part.text_index + offset for part, offset in zip(parts, offsets)])

    def message(k: int) -> pa.Array:
        return gathered([text for part in parts for text in part.texts[k]], text_index)

    values = pa.concat_arrays([part.value.cast(pa.string()) for part in parts])
    picked = rows if order is None else rows[order]
    return _table(case_id, row_no, picked, rule_id=label("rule_id"), severity=label("severity"), field=label("field"),
                  value=values if order is None else values.take(pa.array(order)), message_zh=message(0),
                  message_en=message(1), suggestion=message(2))


__all__ = ["FEW", "FINDING_SCHEMA", "SEVERITIES", "SEVERITY_ZH", "Part", "assemble", "empty_findings", "findings_table"]
