"""Plausibility bounds of the numeric record fields (数值合理范围), kept as data in ``bounds.toml``.

A value outside its field's bounds is one no real stay can have (a negative age, a stay of 4×10^18
days).  The intake keeps the value and warns; grouping follows the scheme's rules as given, while
settlement, indices and summaries treat the row as a data error: :func:`implausible_rows` tells
them which rows, :func:`implausible_messages` what to say.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from foundation.arrow_columns import plain_array
from foundation.decimals import unscaled

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BOUNDS_FILE = Path(__file__).with_name("bounds.toml")


@dataclass(frozen=True)
class Bound:
    """The plausible range of one field (inclusive) and the Chinese message of a value outside it."""

    field: str
    min: Decimal
    max: Decimal
    message: str


@lru_cache(maxsize=None)
def load_bounds(path: Path = BOUNDS_FILE) -> tuple[Bound, ...]:
    """The bounds of ``path`` (default: the shipped ``bounds.toml``)."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return tuple(Bound(name, Decimal(str(spec["min"])), Decimal(str(spec["max"])), spec["message"])
                 for name, spec in data.items())


@lru_cache(maxsize=None)
def _units(bound: Bound, scale: int) -> tuple[int, int]:
    """The bounds as compared with whole numbers of 10^-``scale`` units: a count of units is below ``min`` when
    below the ceiling of ``min`` in units."""
    return math.ceil(bound.min.scaleb(scale)), math.floor(bound.max.scaleb(scale))


@lru_cache(maxsize=None)
def _floats(bound: Bound) -> tuple[float, float]:
    """The bounds as Arrow casts them to float64."""
    return tuple(pa.scalar(v).cast(pa.float64()).as_py() for v in (bound.min, bound.max))


def _outside(column, bound: Bound) -> np.ndarray:
    # compared in NumPy where the values are exact there: a few Arrow calls cost more than the comparison of a
    # short column (one record)
    column = plain_array(column)
    t = column.type
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        low, high = _floats(bound) if pa.types.is_floating(t) else _units(bound, 0)
        values = (column.fill_null(0) if column.null_count else column).to_numpy(zero_copy_only=False)
    elif pa.types.is_decimal128(t) and t.precision <= 18:  # the unscaled values fit int64
        low, high = _units(bound, t.scale)
        values = unscaled(column)
    elif pa.types.is_decimal(t):
        low, high = (pa.scalar(v, t) for v in (bound.min, bound.max))
        out = pc.or_(pc.less(column, low), pc.greater(column, high))
        return pc.fill_null(out, False).to_numpy(zero_copy_only=False)
    else:
        return np.zeros(len(column), bool)  # text: the value was unreadable, said elsewhere
    out = (values < low) | (values > high)
    return out & column.is_valid().to_numpy(zero_copy_only=False) if column.null_count else out


def implausible_fields(table: pa.Table) -> dict[str, np.ndarray]:
    """Field → rows whose value is outside its bounds, for the fields of ``table`` that have any."""
    found = {}
    names = frozenset(table.column_names)  # Arrow builds the list afresh on each access
    for bound in load_bounds():
        if bound.field in names:
            outside = _outside(table.column(bound.field), bound)
            if outside.any():
                found[bound.field] = outside
    return found


def implausible_rows(table: pa.Table) -> np.ndarray:
    """Rows of ``table`` holding at least one value outside its field's bounds."""
    rows = np.zeros(table.num_rows, bool)
    for outside in implausible_fields(table).values():
        rows |= outside
    return rows


def implausible_messages(table: pa.Table) -> dict[str, pa.Array]:
    """Field → the warning of each row whose value is outside the bounds (null elsewhere)."""
    bounds = {b.field: b for b in load_bounds()}
    out = {}
    for name, outside in implausible_fields(table).items():
        b = bounds[name]
        text = pc.cast(plain_array(table.column(name)), pa.string())
        message = pc.binary_join_element_wise(
            f"{b.message}：{name} = ", text, f" (value outside the plausible range {b.min}–{b.max}: data error)", "")
        out[name] = pc.if_else(pa.array(outside), message, pa.scalar(None, pa.string()))
    return out


__all__ = ["BOUNDS_FILE", "Bound", "implausible_fields", "implausible_messages", "implausible_rows", "load_bounds"]
