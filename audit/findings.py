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
    index = pa.array(np.asarray(rows, dtype=np.int64))

    def text(v) -> pa.Array:
        if isinstance(v, (pa.Array, pa.ChunkedArray)):
            return v.cast(pa.string())
        return pa.array(np.full(n, "" if v is None else str(v), dtype=object), pa.string())

    return pa.table({
        "case_id": case_id.take(index).cast(pa.string()),
        "row_no": pa.array(np.asarray(row_no)[np.asarray(rows, dtype=np.int64)], pa.int64()),
        "rule_id": text(rule_id),
        "severity": text(severity),
        "field": text(field),
        "value": text(value),
        "message_zh": text(message_zh),
        "message_en": text(message_en),
        "suggestion": text(suggestion),
    }, schema=FINDING_SCHEMA)


__all__ = ["FINDING_SCHEMA", "SEVERITIES", "SEVERITY_ZH", "empty_findings", "findings_table"]
