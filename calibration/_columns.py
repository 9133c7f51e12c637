"""Case columns (Arrow or pandas) as NumPy arrays: category codes, numbers, years, months, decimals.

Every conversion is vectorised: a text column is dictionary-encoded once and
only its distinct values are looked at in Python.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from foundation.text_values import parse_numbers, year_month
from icd_tables.intake.values import canonical_records



def as_table(cases) -> pa.Table:
    """Cases as one Arrow table in the canonical record types (from Arrow, pandas or a list of dicts)."""
    if isinstance(cases, pa.Table):
        return canonical_records(cases)
    if isinstance(cases, pd.DataFrame):
        return canonical_records(pa.Table.from_pandas(cases, preserve_index=False))
    if isinstance(cases, list):
        return canonical_records(pa.Table.from_pylist(cases))
    raise TypeError(f"cases must be a pyarrow Table, a pandas DataFrame or a list of dicts, not {type(cases).__name__}")


def _plain(column) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def categories(column) -> tuple[np.ndarray, list[str]]:
    """Codes into the sorted distinct values of a text column (``-1`` for missing or empty).

    Returns
    -------
    codes : numpy.ndarray of int32
    values : list of str
        Sorted distinct non-empty values; ``values[codes[i]]`` is row i's value.
    """
    column = _plain(column)
    if not pa.types.is_dictionary(column.type):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            column = pc.cast(column, pa.string())
        column = pc.dictionary_encode(column)
    dictionary = column.dictionary.cast(pa.string()).to_pylist()
    indices = column.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    values = sorted({v for v in dictionary if v})
    position = {v: i for i, v in enumerate(values)}
    remap = np.array([position.get(v, -1) if v else -1 for v in dictionary] + [-1], dtype=np.int32)
    codes = remap[np.where(valid, indices, len(dictionary))]
    return codes, values


def numbers(column) -> np.ndarray:
    """A numeric column (or text, read by :func:`foundation.text_values.parse_numbers`) as float64, NaN where
    missing or not a number."""
    return parse_numbers(_plain(column))


def column_or_none(table: pa.Table, name: str):
    return table.column(name) if name in table.column_names else None


def years(table: pa.Table) -> np.ndarray:
    """Year of each case: the ``year`` column when present, else the year of ``discharge_date``.

    Returns int64 with ``-1`` where there is none.
    """
    if "year" in table.column_names:
        values = numbers(table.column("year"))
        whole = np.isfinite(values) & (values == np.floor(values)) & (values > 0)
        return np.where(whole, values, -1).astype(np.int64)
    if "discharge_date" not in table.column_names:
        return np.full(table.num_rows, -1, dtype=np.int64)
    yyyymm = year_month(_discharge_dates(table))
    return np.where(yyyymm > 0, yyyymm // 100, -1)


def months(table: pa.Table) -> tuple[np.ndarray, list[str]]:
    """Month (``YYYY-MM``) of ``discharge_date`` as codes into the sorted months; ``-1`` where unknown."""
    if "discharge_date" not in table.column_names:
        return np.full(table.num_rows, -1, dtype=np.int32), []
    yyyymm = year_month(_discharge_dates(table))
    present = np.unique(yyyymm[yyyymm > 0])
    codes = np.searchsorted(present, yyyymm).astype(np.int32)
    return np.where(yyyymm > 0, codes, -1).astype(np.int32), [f"{m // 100:04d}-{m % 100:02d}" for m in present]


def _discharge_dates(table: pa.Table) -> pa.Array:
    return canonical_records(table.select(["discharge_date"])).column("discharge_date")
