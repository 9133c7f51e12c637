"""Exact decimal Arrow columns from integer units: one helper for every layer that stores RW, money or points."""

from __future__ import annotations

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
    words[:, 1] = np.where(units < 0, -1, 0)
    validity, nulls = None, 0
    if valid is not None and not np.all(valid):
        validity = pa.py_buffer(np.packbits(np.asarray(valid, dtype=np.uint8), bitorder="little").tobytes())
        nulls = int(len(units) - np.count_nonzero(valid))
    return pa.Array.from_buffers(pa.decimal128(precision, scale), len(units), [validity, pa.py_buffer(words)],
                                 null_count=nulls)


__all__ = ["decimal_array"]
