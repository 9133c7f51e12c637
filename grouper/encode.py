"""Turn records (pandas, Arrow, list of dicts) into the kernel's integer arrays.

Code cells are split and looked up by a kernel over their Arrow buffers against
a hash of the pack's input codes (:meth:`icd_tables.intake.codes.CodeNormalizer.encode_columns`),
then replaced by the grouper code the pack maps them to: mapping is one step,
exactly as the tables specify.  With ``normalize`` the same pass fixes the
codes' formatting; otherwise a code the map does not know as written stays
unmapped (``-1``) and the record becomes ``invalid`` with that code named.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from foundation.arrow_columns import plain_array
from foundation.background import worker_pool

from grouper._kernels import Batch, interleave_codes
from icd_tables.compiled import MISSING, NUMERIC_ORDER, CompiledPack
from icd_tables.intake.codes import MIN_CHUNK_ROWS, normalizer_for
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
    reformatted: np.ndarray | None = None  # bool per record: formatting changed a code (encoded with normalize)


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
    if value is None:
        return True
    # text and whole numbers (most cells) are never missing: decided without pandas
    if type(value) in (str, int) or _is_list_like(value):
        return False
    try:
        return bool(pd.isna(value))
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
    names = set(table.column_names)  # Arrow builds the list afresh on each access
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise RecordSchemaError(
            f"input lacks required column(s) {', '.join(missing)}; columns found: "
            f"{', '.join(table.column_names) or 'none'}. See the record schema in the README."
        )


def numeric_column(column: pa.ChunkedArray | pa.Array | None, n: int, out: np.ndarray | None = None) -> np.ndarray:
    """An int32 array of a canonical whole-number column, :data:`MISSING` for absent or out-of-range values.

    Text is read by the intake (:func:`icd_tables.intake.values.canonical_records`) before this.
    Written to ``out`` (``n`` int32) where given.
    """
    out = np.empty(n, dtype=np.int32) if out is None else out
    if column is None:
        out[:] = MISSING
        return out
    column = plain_array(column)
    if column.type in (pa.int64(), pa.int32()):  # the canonical types: their values read in place
        dtype = np.dtype(column.type.to_pandas_dtype())
        values = np.frombuffer(column.buffers()[1], dtype=dtype, count=len(column),
                               offset=column.offset * dtype.itemsize)
        out[:] = values  # cast in place; the values out of range are marked missing below
        missing = (values < -NUMERIC_LIMIT) | (values > NUMERIC_LIMIT)
        if column.null_count:
            missing |= column.is_null().to_numpy(zero_copy_only=False)
        out[missing] = MISSING
        return out
    # unsafe: an integer beyond 2**53 may round, but it is far out of range and reads as missing anyway
    floats = pc.cast(column, pa.float64(), safe=False)
    values = np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64)
    ok = np.isfinite(values) & (values == np.floor(values)) & (np.abs(values) <= NUMERIC_LIMIT)
    out[:] = MISSING
    out[ok] = values[ok].astype(np.int32)
    return out


def text_index(column: pa.ChunkedArray | pa.Array | None, n: int, values: pa.Array) -> np.ndarray:
    """Index of each cell's exact text in ``values``; ``len(values)`` for other text, :data:`MISSING` for none."""
    if column is None:
        return np.full(n, MISSING, dtype=np.int32)
    text = _text(column, n)
    if len(values):
        index = pc.fill_null(pc.index_in(text, value_set=values), len(values))
        out = index.to_numpy(zero_copy_only=False).astype(np.int32)
    else:  # a pack whose rules compare no text: every value is "other text"
        out = np.zeros(n, dtype=np.int32)
    if text.null_count:
        out[pc.is_null(text).to_numpy(zero_copy_only=False)] = MISSING
    return out


def _text(column: pa.ChunkedArray | None, n: int) -> pa.Array:
    if column is None:
        return pa.nulls(n, pa.string())
    column = plain_array(column)
    if pa.types.is_large_string(column.type) or not pa.types.is_string(column.type):
        column = column.cast(pa.string())
    return column


def _rule_fields(table: pa.Table, pack: CompiledPack) -> np.ndarray:
    """The numeric rows of the kernel (:data:`NUMERIC_ORDER`), typed as every command types the fields
    (text such as "65岁" or "男")."""
    n = table.num_rows
    names = set(table.column_names)  # Arrow builds the list afresh on each access
    typed = canonical_records(table.select([c for c in (*NUMERIC_COLUMNS.values(), *TEXT_COLUMNS.values())
                                            if c in names]))
    typed_names = set(typed.column_names)
    get = lambda c: typed.column(c) if c in typed_names else None  # noqa: E731
    nums = np.empty((len(NUMERIC_ORDER), n), dtype=np.int32)
    for row, field in enumerate(NUMERIC_ORDER):
        if field in TEXT_COLUMNS:
            nums[row] = text_index(get(TEXT_COLUMNS[field]), n, pack.text_values)
            continue
        numeric_column(get(NUMERIC_COLUMNS[field]), n, out=nums[row])
        if field in NUMERIC_DEFAULTS:
            nums[row][nums[row] == MISSING] = NUMERIC_DEFAULTS[field]
    return nums


def encode(table: pa.Table, pack: CompiledPack, *, normalize: bool = False) -> Encoded:
    """Encode an Arrow table of records for the kernel.

    Parameters
    ----------
    table : pyarrow.Table
        Records in the canonical schema; extra columns are ignored.
    pack : CompiledPack
    normalize : bool
        Fix the codes' formatting in the same pass (spaces, full width, separators, letter case:
        :mod:`icd_tables.intake.codes`); ``Encoded.reformatted`` marks the records it changed.

    Returns
    -------
    Encoded
    """
    check_columns(table)
    n = table.num_rows
    names = table.column_names
    get = lambda c: table.column(c) if c in names else None  # noqa: E731

    # the rule fields of a large batch are typed in a thread of their own while the code columns are encoded
    parallel = numba.get_num_threads() > 1 and n >= MIN_CHUNK_ROWS
    fields = worker_pool("encode-fields", 1).submit(_rule_fields, table, pack) if parallel else None
    principal, secondary, procedures = normalizer_for(pack).encode_columns(
        [("principal_dx", get("principal_dx"), pack.dx_input_target),
         ("secondary_dx", get("secondary_dx"), pack.dx_input_target),
         ("procedures", get("procedures"), pack.proc_input_target)], n, normalize=normalize)
    dx_start, dx_ids = np.empty(n + 1, dtype=np.int64), np.empty(n + len(secondary.ids), dtype=np.int32)
    interleave_codes(principal.ids, secondary.cell_start, secondary.ids, dx_start, dx_ids)
    nums = _rule_fields(table, pack) if fields is None else fields.result()

    batch = Batch(
        dx_start=dx_start,
        dx_ids=dx_ids,
        proc_start=procedures.cell_start,
        proc_ids=procedures.ids,
        nums=nums,
    )
    reformatted = principal.changed | secondary.changed | procedures.changed if normalize else None
    return Encoded(batch, principal.codes, secondary.codes, procedures.codes, reformatted)
