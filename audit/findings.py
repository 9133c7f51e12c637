"""The findings table: one row per problem found on a record (质控问题).

Every check of :mod:`audit` produces rows of this shape, so they concatenate
into one table that the command line writes and the service returns.

Columns
-------
``case_id`` (病案号), ``row_no`` (行号, the record's input row from 1),
``rule_id`` (规则编号), ``severity`` (严重程度: ``fatal`` 致命 — the record cannot
be grouped; ``error`` 错误 — must be fixed before upload; ``warning`` 警告;
``info`` 提示), ``field`` (字段, a record-schema column), ``value`` (the value
found, as text), ``message_zh``, ``message_en``, ``suggestion`` (修改建议).  The three texts are
dictionary columns: each distinct message is held once, however many findings repeat it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from foundation.arrow_columns import FEW, cast, text_codes

SEVERITIES = ("fatal", "error", "warning", "info")
SEVERITY_ZH = {"fatal": "致命", "error": "错误", "warning": "警告", "info": "提示"}

FINDING_SCHEMA = pa.schema([
    ("case_id", pa.string()),
    ("row_no", pa.int64()),
    ("rule_id", pa.string()),
    ("severity", pa.string()),
    ("field", pa.string()),
    ("value", pa.string()),
    ("message_zh", pa.dictionary(pa.int32(), pa.string())),
    ("message_en", pa.dictionary(pa.int32(), pa.string())),
    ("suggestion", pa.dictionary(pa.int32(), pa.string())),
])


_EMPTY = FINDING_SCHEMA.empty_table()


def value_codes(column: pa.Array | pa.ChunkedArray, ranked: bool = False) -> tuple[np.ndarray, list]:
    """Integer code of each value and the distinct values (``ranked``: codes in the values' sorted order)."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_string(column.type) and not column.null_count:
        codes, values = text_codes(column)
    else:
        encoded = pc.dictionary_encode(column)
        codes, values = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()
    return _ranked(codes, values) if ranked else (codes, values)


def _ranked(codes: np.ndarray, values: list) -> tuple[np.ndarray, list]:
    """``codes`` into ``values`` re-numbered in the values' sorted order, and the values sorted."""
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


def _table(case_id: pa.Array, row_no: np.ndarray, rows: np.ndarray, **texts: pa.Array) -> pa.Table:
    """The findings at batch positions ``rows``: their case ids and row numbers, and the text columns given."""
    return pa.table({"case_id": cast(case_id.take(pa.array(rows)), pa.string()),
                     "row_no": pa.array(np.asarray(row_no)[rows], pa.int64()), **texts}, schema=FINDING_SCHEMA)


@dataclass(frozen=True)
class Part:
    """Findings of one rule before they are a table (:func:`assemble` makes one table of many).

    Attributes
    ----------
    rows : numpy.ndarray
        Positions (into the batch) of the records, one per finding.
    rule_id, severity : str
    field : str or numpy.ndarray
        The field of all the findings, or of each (an array of text).
    value : pyarrow.Array
        The value found, one per finding.
    texts : tuple of list of str
        ``message_zh``, ``message_en`` and ``suggestion`` as filled in, each once per distinct combination of
        the message's values (:meth:`audit.rulebook.Rule.fill`).
    text_index : numpy.ndarray
        Each finding's place in ``texts``.
    """

    rows: np.ndarray
    rule_id: str
    severity: str
    field: str | np.ndarray
    value: pa.Array
    texts: tuple
    text_index: np.ndarray


def labels(parts: list[Part], name: str, *, ranked: bool = False) -> tuple[list[str], np.ndarray]:
    """The distinct texts of one attribute of the findings of ``parts``, and each finding's text.

    Parameters
    ----------
    parts : list of Part
    name : str
        ``rule_id``, ``severity`` or ``field``.
    ranked : bool
        Texts sorted, so that the index orders like the texts (for sorting findings).

    Returns
    -------
    texts : list of str
    index : numpy.ndarray
        Each finding's place in ``texts`` (int64), in the parts' order.
    """
    texts: dict[str, int] = {}
    index = []
    for part in parts:
        value = getattr(part, name)
        if isinstance(value, str):
            index.append(np.full(len(part.rows), texts.setdefault(value, len(texts)), dtype=np.int64))
        else:
            distinct, which = np.unique(np.asarray(value, dtype=object).astype(str), return_inverse=True)
            codes = np.array([texts.setdefault(text, len(texts)) for text in distinct.tolist()], dtype=np.int64)
            index.append(codes[which.ravel()] if len(codes) else np.zeros(0, np.int64))
    index = np.concatenate(index) if index else np.zeros(0, np.int64)
    if not ranked:
        return list(texts), index
    index, ordered = _ranked(index, list(texts))
    return ordered, index


def assemble(case_id: pa.Array, row_no: np.ndarray, parts: list[Part], *, order: np.ndarray | None = None) -> pa.Table:
    """One findings table of ``parts``.

    Each column is gathered in one step, however many parts there are: a batch's case ids are taken
    once, and each message column once from the texts of all parts together.

    Parameters
    ----------
    case_id : pyarrow.Array
        Case ids of the whole batch (text).
    row_no : numpy.ndarray
        Row numbers of the whole batch.
    parts : list of Part
    order : numpy.ndarray, optional
        Positions into the findings of all the parts (in the parts' order) of the findings to keep, in the
        order to list them (:func:`by_row`); default all, in the parts' order.
    """
    parts = [part for part in parts if len(part.rows)]
    if not parts:
        return _EMPTY
    for part in parts:
        if part.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {part.severity!r}; one of {', '.join(SEVERITIES)}")
    rows = finding_rows(parts)

    def picked(index: np.ndarray) -> np.ndarray:
        return index if order is None else index[order]

    def gathered(texts: list[str], index: np.ndarray) -> pa.Array:
        index = picked(index)
        if len(index) <= FEW:
            return pa.array([texts[i] for i in index.tolist()], pa.string())
        return pa.array(texts, pa.string()).take(pa.array(index))

    offsets = np.cumsum([0] + [len(part.texts[0]) for part in parts[:-1]])
    text_index = np.concatenate([part.text_index + offset for part, offset in zip(parts, offsets)])

    def message(k: int) -> pa.DictionaryArray:
        # parts may fill in the same text: each distinct one once (pandas takes a dictionary as categories)
        code, distinct = text_codes(pa.array([text for part in parts for text in part.texts[k]], pa.string()))
        return pa.DictionaryArray.from_arrays(pa.array(code[picked(text_index)].astype(np.int32)),
                                              pa.array(distinct, pa.string()))

    values = pa.concat_arrays([cast(part.value, pa.string()) for part in parts])
    return _table(case_id, row_no, rows if order is None else rows[order],
                  **{name: gathered(*labels(parts, name)) for name in ("rule_id", "severity", "field")},
                  value=values if order is None else values.take(pa.array(order)), message_zh=message(0),
                  message_en=message(1), suggestion=message(2))


def finding_rows(parts: list[Part]) -> np.ndarray:
    """The batch position of each finding of ``parts``, in their order."""
    return np.concatenate([np.asarray(part.rows, dtype=np.int64) for part in parts]) if parts \
        else np.zeros(0, np.int64)


def by_row(parts: list[Part], row_no: np.ndarray) -> np.ndarray:
    """The order of :func:`assemble` that lists the findings by ``row_no``, within a record in the parts' order."""
    return np.argsort(np.asarray(row_no)[finding_rows(parts)], kind="stable")


__all__ = ["FEW", "FINDING_SCHEMA", "SEVERITIES", "SEVERITY_ZH", "Part", "assemble", "by_row", "empty_findings",
           "finding_rows", "labels", "severity_ranks", "value_codes"]
