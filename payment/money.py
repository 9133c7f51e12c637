"""Exact money and point arithmetic on int64 arrays (金额以分计、点数以万分之一点计).

Units
-----
* money: integer **fen** (分, 0.01 元), int64;
* relative weight: integer millionths (:data:`weights.RW_UNITS`), as the weight table stores it;
* points (点数): integer units of 1/10,000 point (:data:`POINT_UNITS`);
* coefficients, multipliers K and L, shares and ratios: integer units of 1/10,000
  (:data:`RATIO_UNITS`; a policy value with more than 4 decimals is refused);
* a point value (点值) is an exact ratio ``N / D`` fen per point unit, never a float.

The rounding rule
-----------------
Every computed amount is **rounded down to its unit** (floor: 向下取整到分 / 到万分之一点).
Where a total must be met exactly (the year's distributable budget over the cases), the
units that flooring left over go one each to the items with the largest remainders, ties
to the earlier item (:func:`allocate_largest_remainder`, 最大余数法).

Input costs arrive as yuan in float (Parquet) or text (CSV) columns.  They are converted once,
at the boundary (``payment._kernels.yuan_to_fen``), to the nearest fen (ties to even); a value that is not a
finite non-negative number is reported per case, never dropped.

Products such as ``points × N`` exceed 64 bits; :func:`mul_div_floor` computes
``floor(a × b / d)`` exactly with a float64 estimate corrected by the exact remainder in
wrapping 64-bit arithmetic (exact while the true remainder fits in 63 bits, which the
documented bounds guarantee and the function checks).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from foundation.text_values import exact_decimal

POINT_UNITS = 10_000
RATIO_UNITS = 10_000
#: Operands of :func:`mul_div_floor` stay below this (exact as float64).
EXACT_LIMIT = 2**53
#: Divisors stay below this, so that the exact remainder fits in 63 bits.
DIVISOR_LIMIT = 2**51


class MoneyRangeError(ValueError):
    """An amount or a product is outside the range the exact arithmetic supports."""


def decimal_units(text, places: int, what: str) -> int:
    """An exact decimal (text, int or Decimal) as an integer count of ``10**-places``.

    Raises
    ------
    ValueError
        Not a number, not finite, or more than ``places`` decimals; the message names ``what``.
    """
    try:
        value = exact_decimal(text)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{what}: {text} has more than {places} decimals")
    return int(scaled)


def mul_div_floor(a, b, d) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``q = floor(a × b / d)`` and remainder ``r = a × b − q × d`` (0 ≤ r < d), elementwise.

    Parameters
    ----------
    a, b : int64 array-like or int
        Non-negative, each below 2**53.
    d : int64 array-like or int
        Positive, below 2**51.

    Raises
    ------
    MoneyRangeError
        An operand or the quotient is outside the supported range.
    """
    a, b, d = (np.asarray(x, dtype=np.int64) for x in (a, b, d))
    if a.size and (a.min() < 0 or a.max() >= EXACT_LIMIT):
        raise MoneyRangeError(f"operand out of range 0…2^53: {a.min()}…{a.max()}")
    if b.size and (b.min() < 0 or b.max() >= EXACT_LIMIT):
        raise MoneyRangeError(f"operand out of range 0…2^53: {b.min()}…{b.max()}")
    if d.size and (d.min() <= 0 or d.max() >= DIVISOR_LIMIT):
        raise MoneyRangeError(f"divisor out of range 1…2^51: {d.min()}…{d.max()}")
    estimate = np.floor(a.astype(np.float64) * b.astype(np.float64) / d.astype(np.float64))
    if estimate.size and estimate.max() >= 2**52:
        raise MoneyRangeError(f"quotient {estimate.max():.3e} too large for exact arithmetic")
    q = np.broadcast_to(estimate.astype(np.int64), np.broadcast_shapes(a.shape, b.shape, d.shape)).copy()
    au, bu, du = a.astype(np.uint64), b.astype(np.uint64), d.astype(np.uint64)
    with np.errstate(over="ignore"):
        r = (au * bu - q.astype(np.uint64) * du).view(np.int64)  # exact: |true r| < 4d < 2^63
    dd = np.broadcast_to(d, q.shape)
    while True:
        low, high = r < 0, r >= dd
        if not (low.any() or high.any()):
            return q, r
        q = q - low + high
        r = r + np.where(low, dd, 0) - np.where(high, dd, 0)


def allocate_largest_remainder(floors: np.ndarray, remainders: np.ndarray, total: int) -> np.ndarray:
    """Add one unit to the ``total − Σ floors`` items with the largest remainders (ties: earlier first).

    Parameters
    ----------
    floors : int64 array
        The floored shares.
    remainders : int64 array
        Their remainders, all over the same divisor.
    total : int
        The exact total the shares must reach.
    """
    floors = np.asarray(floors, dtype=np.int64)
    left = int(total) - int(floors.sum())
    if left < 0 or left > len(floors):
        raise ValueError(f"cannot allocate {left} units over {len(floors)} items")
    if left == 0:
        return floors.copy()
    n = len(floors)
    threshold = np.partition(remainders, n - left)[n - left]
    above = remainders > threshold
    ties = np.flatnonzero(remainders == threshold)[: left - int(above.sum())]
    out = floors + above
    out[ties] += 1
    return out


def ratio_decimal(numerator: int, denominator: int, places: int) -> Decimal:
    """``numerator / denominator`` rounded down to ``places`` decimals, for display only."""
    return Decimal(numerator * 10**places // denominator).scaleb(-places)


__all__ = [
    "POINT_UNITS", "RATIO_UNITS", "MoneyRangeError", "allocate_largest_remainder",
    "decimal_units", "mul_div_floor", "ratio_decimal",
]
