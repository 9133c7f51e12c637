"""Exact decimal Arrow columns from integer units: one helper for every layer that stores RW, money or points."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa


def decimal_array(units: np.ndarray, scale: int, valid: np.ndarray | None = None, precision: int = 18) -> pa.Array:
    """Integer ``units`` (value × 10^scale) as an exact ``decimal128(precision, scale)`` array.

    Parameters
    ----------
    units : numpy.ndarray
        Integer values in units of 10^-scale (fen for ``scale=2``, RW millionths for ``scale=6``).
    scale : int
    valid : numpy.ndarray of bool, optional
        Null where False.
    precision : int
    """
    units = np.ascontiguousarray(units, dtype=np.int64)
    words = np.empty((len(units), 2), dtype=np.int64)  # 128-bit little-endian two's complement
    words[:, 0] = units
    words[:, 1] = units >> 63  # the sign extended: -1 for a negative value, else 0
    validity, nulls = None, 0
    if valid is not None and not np.asarray(valid).all():
        validity = pa.py_buffer(np.packbits(np.asarray(valid, dtype=np.uint8), bitorder="little").tobytes())
        nulls = int(len(units) - np.count_nonzero(valid))
    return pa.Array.from_buffers(pa.decimal128(precision, scale), len(units), [validity, pa.py_buffer(words)],
                                 null_count=nulls)


def units_or_null(units: np.ndarray, scale: int) -> pa.Array:
    """Like :func:`decimal_array`, with a negative unit count (the ``-1`` of "none") as null."""
    units = np.asarray(units, dtype=np.int64)
    return decimal_array(np.maximum(units, 0), scale, valid=units >= 0)


def unscaled(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A ``decimal128`` column as its exact unscaled int64 values (fen for scale 2), ``-1`` for null."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not len(column):
        return np.zeros(0, np.int64)
    words = np.frombuffer(column.buffers()[1], dtype=np.int64)[2 * column.offset: 2 * (column.offset + len(column))]
    if not column.null_count:
        return words[0::2].copy()
    return np.where(column.is_valid().to_numpy(zero_copy_only=False), words[0::2], -1)


def yuan(fen: int) -> Decimal:
    """Fen as an exact ``Decimal`` of 元: ``123456`` → ``Decimal('1234.56')``."""
    return Decimal(int(fen)).scaleb(-2)


def fen_text(fen: int, thousands: bool = True) -> str:
    """Fen as 元 text with two decimals: ``123456`` → ``1,234.56`` (``1234.56`` without ``thousands``)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole:,}.{cents:02d}" if thousands else f"{sign}{whole}.{cents:02d}"


__all__ = ["decimal_array", "fen_text", "units_or_null", "unscaled", "yuan"]
