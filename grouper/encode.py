"""Turn records (pandas, Arrow, list of dicts) into the kernel's integer arrays.

Codes are looked up once per batch with Arrow's hash kernels (``index_in``)
against the pack's input-code dictionary, then replaced by the grouper code
the pack maps them to: mapping is one step, exactly as the tables specify.
Nothing is normalised here: a code the map does not know stays unmapped
(``-1``) and the record becomes ``invalid`` with that code named.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from foundation.arrow_columns import plain_array

from grouper._kernels import Batch, _split_cells
from icd_tables.compiled import MISSING, NUMERIC_ORDER, CompiledPack
from icd_tables.intake.values import canonical_records
from icd_tables.schema import (
    CODE_LIST_COLUMNS,
    CODE_LIST_SEPARATOR,
    NUMERIC_COLUMNS,
    NUMERIC_DEFAULTS,
    REQUIRED_COLUMNS,
    TEXT_COLUMNS,
)

#: Numeric fields are integers of at most this magnitude (int32, whose minimum marks "missing").
NUMERIC_LIMIT = 2**31 - 1


class RecordSchemaError(ValueError):
    """The input lacks a required column or has a column of an unusable type."""


@dataclass(frozen=True)
class Encoded:
    """A batch ready for the kernel, plus the input codes the results quote."""

    batch: Batch
    principal_dx: pa.Array  # input codes, string
    secondary_dx: pa.Array  # flat input codes of all records, string
    procedures: pa.Array  # flat input codes, string


def to_arrow(records) -> pa.Table:
    """Accept a pandas DataFrame, an Arrow table or record batch, or a list of dicts.

    Python-object columns become Arrow columns cell by cell: code-list columns
    holding list cells become ``list<string>`` (text cells are split on ``|``),
    other mixed columns become text.
    """
    if isinstance(records, pa.Table):
        return records
    if isinstance(records, pa.RecordBatch):
        return pa.Table.from_batches([records])
    if isinstance(records, pd.DataFrame):
        frame = records.reset_index(drop=True)
        columns = {
            name: _object_column(name, frame[name].tolist()) if frame[name].dtype == object else None
            for name in frame.columns
        }
        plain = frame[[c for c, v in columns.items() if v is None]]
        table = pa.Table.from_pandas(plain, preserve_index=False)
        for name, column in columns.items():
            if column is not None:
                table = table.append_column(str(name), column)
        return table.select([str(c) for c in frame.columns])
    if isinstance(records, (list, tuple)):
        if not records:
            return pa.table({c: pa.array([], pa.string()) for c in REQUIRED_COLUMNS})
        rows = [dict(r) for r in records]
        names = dict.fromkeys(k for r in rows for k in r)
        return pa.table({k: _object_column(k, [r.get(k) for r in rows]) for k in names})
    raise TypeError(
        f"records must be a pandas DataFrame, a pyarrow Table or a list of dicts, not {type(records).__name__}"
    )


def _is_list_like(value) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def _is_missing(value) -> bool:
    if _is_list_like(value):
        return False
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _object_column(name, values: list) -> pa.Array:
    """An Arrow column from Python cells: lists stay lists in code-list columns; mixed cells become text."""
    values = [None if _is_missing(v) else v for v in values]
    if name in CODE_LIST_COLUMNS and any(_is_list_like(v) for v in values):
        return pa.array([_as_code_list(v) for v in values], type=pa.list_(pa.string()))
    if not any(_is_list_like(v) for v in values):
        try:
            return pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _as_code_list(value) -> list | None:
    if value is None:
        return None
    if _is_list_like(value):
        return [None if _is_missing(v) else str(v) for v in value]
    text = str(value)
    return text.split(CODE_LIST_SEPARATOR) if text else []


def check_columns(table: pa.Table) -> None:
    """Raise :class:`RecordSchemaError` naming every missing required column."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise RecordSchemaError(
            f"input lacks required column(s) {', '.join(missing)}; columns found: "
            f"{', '.join(table.column_names) or 'none'}. See the record schema in the README."
        )


def numeric_column(column: pa.ChunkedArray | pa.Array | None, n: int) -> np.ndarray:
    """An int32 array of a canonical whole-number column, :data:`MISSING` for absent or out-of-range values.

    Text is read by the intake (:func:`icd_tables.intake.values.canonical_records`) before this.
    """
    if column is None:
        return np.full(n, MISSING, dtype=np.int32)
    # unsafe: an integer beyond 2**53 may round, but it is far out of range and reads as missing anyway
    floats = pc.cast(plain_array(column), pa.float64(), safe=False)
    values = np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64)
    ok = np.isfinite(values) & (values == np.floor(values)) & (np.abs(values) <= NUMERIC_LIMIT)
    out = np.full(n, MISSING, dtype=np.int32)
    out[ok] = values[ok].astype(np.int32)
    return out


def text_index(column: pa.ChunkedArray | pa.Array | None, n: int, values: pa.Array) -> np.ndarray:
    """Index of each cell's exact text in ``values``; ``len(values)`` for other text, :data:`MISSING` for none."""
    if column is None:
        return np.full(n, MISSING, dtype=np.int32)
    text = _text(column, n)
    index = pc.fill_null(pc.index_in(text, value_set=values), len(values))
    out = index.to_numpy(zero_copy_only=False).astype(np.int32)
    out[pc.is_null(text).to_numpy(zero_copy_only=False)] = MISSING
    return out


def _text(column: pa.ChunkedArray | None, n: int) -> pa.Array:
    if column is None:
        return pa.nulls(n, pa.string())
    column = plain_array(column)
    if pa.types.is_large_string(column.type) or not pa.types.is_string(column.type):
        column = column.cast(pa.string())
    return column


def _code_lists(column: pa.ChunkedArray | None, n: int) -> tuple[np.ndarray, pa.Array]:
    """Offsets (int64, n + 1) and flat codes of a list column or a ``|``-joined text column.

    An empty or missing cell is an empty list; otherwise the text is split on
    ``|`` and every piece, empty ones included, is a code.
    """
    if column is not None:
        column = plain_array(column)
    if column is None or not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        return _split_text(_text(column, n))
    lists = column.cast(pa.list_(pa.string()))
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets, pc.fill_null(pc.list_flatten(lists), "").cast(pa.string())


def _split_text(text: pa.StringArray) -> tuple[np.ndarray, pa.Array]:
    """Split ``|``-joined cells with the Numba splitter (Arrow buffers in, Arrow buffers out)."""
    n = len(text)
    if text.null_count == n:
        return np.zeros(n + 1, dtype=np.int64), pa.array([], pa.string())
    _, offsets_buf, data_buf = text.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=n + 1, offset=4 * text.offset)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    empty = pc.fill_null(pc.equal(pc.binary_length(text), 0), True).to_numpy(zero_copy_only=False)
    cell_start, piece_offsets, piece_bytes = _split_cells(offsets, data, empty, ord(CODE_LIST_SEPARATOR))
    pieces = pa.StringArray.from_buffers(
        len(piece_offsets) - 1, pa.py_buffer(piece_offsets), pa.py_buffer(piece_bytes)
    )
    return cell_start, pieces


def _lookup(codes: pa.Array, inputs: pa.Array, targets: np.ndarray) -> np.ndarray:
    """Grouper code id of each input code, -1 where the pack cannot map it."""
    index = pc.index_in(codes, value_set=inputs)
    found = pc.fill_null(index, -1).to_numpy(zero_copy_only=False)
    ids = np.full(len(codes), -1, dtype=np.int32)
    hit = found >= 0
    ids[hit] = targets[found[hit]]
    return ids


def encode(table: pa.Table, pack: CompiledPack) -> Encoded:
    """Encode an Arrow table of records for the kernel.

    Parameters
    ----------
    table : pyarrow.Table
        Records in the canonical schema; extra columns are ignored.
    pack : CompiledPack

    Returns
    -------
    Encoded
    """
    check_columns(table)
    n = table.num_rows
    names = table.column_names
    get = lambda c: table.column(c) if c in names else None  # noqa: E731

    principal = _text(get("principal_dx"), n)
    sec_offsets, secondary = _code_lists(get("secondary_dx"), n)
    proc_start, procedures = _code_lists(get("procedures"), n)

    principal_ids = _lookup(principal, pack.dx_inputs, pack.dx_input_target)
    secondary_ids = _lookup(secondary, pack.dx_inputs, pack.dx_input_target)
    dx_start = sec_offsets + np.arange(n + 1, dtype=np.int64)
    dx_ids = np.empty(dx_start[-1], dtype=np.int32)
    is_principal = np.zeros(dx_start[-1], dtype=bool)
    is_principal[dx_start[:-1]] = True
    dx_ids[is_principal] = principal_ids
    dx_ids[~is_principal] = secondary_ids

    # the fields the rules read, typed as every command types them (text such as "65岁" or "男")
    typed = canonical_records(table.select([c for c in (*NUMERIC_COLUMNS.values(), *TEXT_COLUMNS.values())
                                            if c in names]))
    get = lambda c: typed.column(c) if c in typed.column_names else None  # noqa: E731
    nums = np.empty((len(NUMERIC_ORDER), n), dtype=np.int32)
    for row, field in enumerate(NUMERIC_ORDER):
        if field in TEXT_COLUMNS:
            nums[row] = text_index(get(TEXT_COLUMNS[field]), n, pack.text_values)
            continue
        column = NUMERIC_COLUMNS[field]
        nums[row] = numeric_column(get(column), n)
        if field in NUMERIC_DEFAULTS:
            nums[row][nums[row] == MISSING] = NUMERIC_DEFAULTS[field]

    batch = Batch(
        dx_start=dx_start,
        dx_ids=dx_ids,
        proc_start=proc_start,
        proc_ids=_lookup(procedures, pack.proc_inputs, pack.proc_input_target),
        nums=nums,
    )
    return Encoded(batch, principal, secondary, procedures)
