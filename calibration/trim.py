"""Outlier trimming within each DRG (剔除极端值), vectorised over all DRGs at once.

The costs of all DRGs lie in one array sorted by (DRG, cost); DRG g holds the
positions ``start[g] .. start[g] + count[g] - 1``.  Each method gives, per DRG,
the bounds [low, high] of the costs it keeps (both inclusive):

========== ============================================================
``none``   every case: [−∞, +∞]
``iqr``    [Q1 − k·IQR, Q3 + k·IQR], IQR = Q3 − Q1, k = ``iqr_factor`` (1.5)
``sd``     [mean − k·SD, mean + k·SD], SD with ddof = 1, k = ``sd_factor`` (3);
           a DRG of one case keeps it
``percentile`` [P_a, P_b], (a, b) = ``tails`` in percent (2.5, 97.5)
========== ============================================================

A DRG whose bounds fall between two neighbouring costs, so that they would keep no
case (percentiles of a DRG of two or three cases), keeps all its cases.

Quantiles are by linear interpolation between order statistics, as
``numpy.quantile(..., method="linear")``: for p in [0, 1] and n sorted values
x₀ ≤ … ≤ xₙ₋₁, h = (n − 1)·p and Q(p) = x⌊h⌋ + (h − ⌊h⌋)·(x⌊h⌋₊₁ − x⌊h⌋).
"""

from __future__ import annotations

import numpy as np

METHODS = ("none", "iqr", "sd", "percentile")


def group_quantiles(sorted_values: np.ndarray, start: np.ndarray, count: np.ndarray, p: float) -> np.ndarray:
    """Quantile ``p`` (0–1) of each group's values by linear interpolation (NaN for an empty group)."""
    out = np.full(len(start), np.nan)
    has = count > 0
    h = (count[has] - 1) * p
    low = np.floor(h).astype(np.int64)
    high = np.minimum(low + 1, count[has] - 1)
    base = start[has]
    x_low = sorted_values[base + low].astype(np.float64)
    x_high = sorted_values[base + high].astype(np.float64)
    out[has] = x_low + (h - low) * (x_high - x_low)
    return out


def segment_sums(values: np.ndarray, bounds: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Sums of ``values`` over segments that tile it in order (segment i: ``bounds[i]``, ``lengths[i]`` long).

    Empty segments sum to 0 (``np.add.reduceat`` alone would give the next value there).
    """
    sums = np.zeros(len(bounds), dtype=values.dtype)
    filled = lengths > 0
    if filled.any():
        sums[filled] = np.add.reduceat(values, bounds[filled])
    return sums


def group_mean_sd(sorted_values: np.ndarray, start: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD (ddof = 1; NaN below two values) of each group, two-pass for accuracy."""
    values = sorted_values.astype(np.float64)
    total = segment_sums(values, start, count)
    mean = np.divide(total, count, out=np.full(len(count), np.nan), where=count > 0)
    deviation = values - np.repeat(np.nan_to_num(mean), count)
    squares = segment_sums(deviation * deviation, start, count)
    sd = np.sqrt(np.divide(squares, count - 1, out=np.full(len(count), np.nan), where=count > 1))
    return mean, sd


def bounds(method: str, sorted_values: np.ndarray, start: np.ndarray, count: np.ndarray, *,
           iqr_factor: float = 1.5, sd_factor: float = 3.0,
           tails: tuple[float, float] = (2.5, 97.5)) -> tuple[np.ndarray, np.ndarray]:
    """Per-group bounds [low, high] of the values kept by ``method`` (see the module docstring)."""
    n = len(start)
    if method == "none":
        return np.full(n, -np.inf), np.full(n, np.inf)
    if method == "iqr":
        q1 = group_quantiles(sorted_values, start, count, 0.25)
        q3 = group_quantiles(sorted_values, start, count, 0.75)
        spread = iqr_factor * (q3 - q1)
        return q1 - spread, q3 + spread
    if method == "sd":
        mean, sd = group_mean_sd(sorted_values, start, count)
        sd = np.where(np.isfinite(sd), sd, 0.0)
        return mean - sd_factor * sd, mean + sd_factor * sd
    if method == "percentile":
        return (group_quantiles(sorted_values, start, count, tails[0] / 100),
                group_quantiles(sorted_values, start, count, tails[1] / 100))
    raise ValueError(f"unknown trimming method {method!r}; use one of {', '.join(METHODS)}")


__all__ = ["METHODS", "bounds", "group_mean_sd", "group_quantiles", "segment_sums"]
