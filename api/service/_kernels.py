"""Numba kernels that lay Arrow columns out as PostgreSQL binary ``COPY`` rows.  Private: use
:func:`api.service.pgcopy.binary_copy`.

Every kernel writes one field per row of ``start:stop`` at ``pos[row]`` of the output and moves ``pos[row]``
past it: a 4-byte big-endian length (-1 for NULL) and the value in PostgreSQL's binary form.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from foundation.numba_options import JIT

#: Base-10000 digits a numeric of up to 19 decimal digits (and 3 more of padding) needs.
_MAX_GROUPS = 8


@njit(**JIT)
def _put_be(out, at, value, nbytes):
    """``value`` as ``nbytes`` big-endian two's-complement bytes at ``out[at]``."""
    for k in range(nbytes):
        out[at + k] = (value >> (8 * (nbytes - 1 - k))) & 0xFF


@njit(**JIT)
def _put_field_counts(out, pos, n_fields, start, stop):
    for r in range(start, stop):
        _put_be(out, pos[r], n_fields, 2)
        pos[r] += 2


@njit(**JIT)
def _put_int8(out, pos, values, valid, start, stop):
    """``BIGINT`` and ``TIMESTAMP`` (microseconds since 2000-01-01): 8 bytes."""
    for r in range(start, stop):
        p = pos[r]
        if valid[r]:
            _put_be(out, p, 8, 4)
            _put_be(out, p + 4, values[r], 8)
            pos[r] = p + 12
        else:
            _put_be(out, p, -1, 4)
            pos[r] = p + 4


@njit(**JIT)
def _put_text(out, pos, offsets, data, valid, start, stop):
    """``TEXT``: the UTF-8 bytes of Arrow's string buffers (``offsets``, ``data``)."""
    for r in range(start, stop):
        p = pos[r]
        if valid[r]:
            a, b = offsets[r], offsets[r + 1]
            _put_be(out, p, b - a, 4)
            for k in range(b - a):
                out[p + 4 + k] = data[a + k]
            pos[r] = p + 4 + b - a
        else:
            _put_be(out, p, -1, 4)
            pos[r] = p + 4


@njit(**JIT)
def _numeric_groups(units, scale, groups):
    """Base-10000 digits of ``|units| / 10**scale``, least significant first, in ``groups``; returns the range
    ``lo:hi`` of the digits kept (leading and trailing zero digits dropped) and the weight of the first."""
    n_fraction = (scale + 3) // 4  # digits after the point, the last padded with zeros
    pad = 4 * n_fraction - scale
    u = -units if units < 0 else units
    low = 10 ** (4 - pad)
    groups[0] = (u % low) * 10 ** pad
    u //= low
    hi = 1
    while u > 0:
        groups[hi] = u % 10000
        u //= 10000
        hi += 1
    while hi > 0 and groups[hi - 1] == 0:
        hi -= 1
    lo = 0
    while lo < hi and groups[lo] == 0:
        lo += 1
    weight = hi - 1 - n_fraction if hi > lo else 0
    return lo, hi, weight


@njit(**JIT)
def _numeric_sizes(units, valid, scale):
    """Bytes of each ``NUMERIC`` field (length word included)."""
    sizes = np.empty(units.shape[0], dtype=np.int64)
    groups = np.zeros(_MAX_GROUPS, dtype=np.int64)
    for r in range(units.shape[0]):
        if valid[r]:
            lo, hi, _ = _numeric_groups(units[r], scale, groups)
            sizes[r] = 4 + 8 + 2 * (hi - lo)
        else:
            sizes[r] = 4
    return sizes


@njit(**JIT)
def _put_numeric(out, pos, units, valid, scale, start, stop):
    """``NUMERIC`` of the fixed-point ``units / 10**scale``: digit count, weight, sign, display scale, digits."""
    groups = np.zeros(_MAX_GROUPS, dtype=np.int64)
    for r in range(start, stop):
        p = pos[r]
        if not valid[r]:
            _put_be(out, p, -1, 4)
            pos[r] = p + 4
            continue
        lo, hi, weight = _numeric_groups(units[r], scale, groups)
        n = hi - lo
        _put_be(out, p, 8 + 2 * n, 4)
        _put_be(out, p + 4, n, 2)
        _put_be(out, p + 6, weight, 2)
        _put_be(out, p + 8, 0x4000 if units[r] < 0 and n > 0 else 0, 2)
        _put_be(out, p + 10, scale, 2)
        for k in range(n):
            _put_be(out, p + 12 + 2 * k, groups[hi - 1 - k], 2)
        pos[r] = p + 12 + 2 * n
