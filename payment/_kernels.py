"""Numba kernels of the settlement: one pass per step over int64 case arrays (private; see payment.engine).

Every kernel takes only arrays and scalars, writes only its own case's row (parallel loops) or
accumulates sequentially (sums), and has a plain-Python twin in ``tests/test_payment_kernels.py``.
No floating point reaches an amount: the float64 in :func:`_mul_div` is only an estimate that the
exact wrapping-integer remainder then corrects (see :func:`payment.money.mul_div_floor`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from foundation.numba_options import JIT, PARALLEL

RATIO = 10_000

# case types (payment.engine.CASE_TYPES)
NORMAL, HIGH, LOW, PER_DIEM, LONG_STAY, SPECIAL, EVENT, UNGROUPABLE, UNGROUPABLE_HELD, NO_WEIGHT_FFS, HELD, \
    REJECTED, QUOTA, SINGLE_DISEASE, INTERIM = range(15)  # QUOTA: set by payment.engine under the quota method
# categories of the sums
CAT_DRG, CAT_RESERVE, CAT_EVENT, CAT_UNPAID = range(4)


@njit(**JIT)
def _mul_div(a, b, d):
    """Exact (⌊a·b/d⌋, a·b mod d) for 0 ≤ a, b < 2^53, 0 < d < 2^51, quotient < 2^52."""
    q = np.int64(np.floor(np.float64(a) * np.float64(b) / np.float64(d)))
    r = np.int64(np.uint64(a) * np.uint64(b) - np.uint64(q) * np.uint64(d))
    while r < 0:
        q -= 1
        r += d
    while r >= d:
        q += 1
        r -= d
    return q, r


@njit(**PARALLEL)
def classify_points(status, drg, drg_rw, drg_mean, rate, hosp, hosp_coef, hosp_k, tier_bounds, tier_k,
                    cost, los, reject, special, event, low_u, long_days, no_weight_type, ungroupable_type,
                    long_ratio, special_ratio, event_ratio, ungroupable_ratio, single_price, interim,
                    single_outside):
    """Case type, points (1/10,000) and non-DRG standard (fen) of every case; category for the sums.

    ``hosp_k[h] > 0`` gives K by hospital level, else K comes from the RW tiers (``tier_bounds`` in RW
    millionths, ``tier_k`` one longer).  ``long_days`` 0 = no long-stay rule; per case: ``rate`` the
    per-diem rate (-1 = not per diem), ``single_price`` the 单病种 price (-1 = none), ``interim`` an
    interim record (paid its days × rate, or cost × the long-stay ratio).  ``single_outside``: 单病种
    is paid outside the budget (category of events) rather than beside the other tracks.
    """
    n = len(status)
    case_type = np.empty(n, np.int64)
    points = np.zeros(n, np.int64)
    standard = np.zeros(n, np.int64)
    category = np.empty(n, np.int64)
    for i in prange(n):
        d = drg[i]
        rw, mean, r = drg_rw[d], drg_mean[d], rate[i]
        c = cost[i]
        if reject[i] > 0:
            t = REJECTED
        elif interim[i]:
            t = INTERIM
        elif event[i]:
            t = EVENT
        elif special[i]:
            t = SPECIAL
        elif single_price[i] >= 0:
            t = SINGLE_DISEASE
        elif status[i] != 0:
            t = ungroupable_type
        elif r >= 0:
            t = PER_DIEM
        elif long_days > 0 and los[i] > long_days:
            t = LONG_STAY
        elif rw <= 0:
            t = no_weight_type
        else:
            k = hosp_k[hosp[i]]
            if k <= 0:
                j = 0
                while j < len(tier_bounds) and rw >= tier_bounds[j]:
                    j += 1
                k = tier_k[j]
            base = rw * hosp_coef[hosp[i]] // RATIO
            if c * RATIO > k * mean:
                t = HIGH
                extra, _ = _mul_div(c * RATIO - k * mean, rw, RATIO * mean)
                points[i] = base + extra
            elif c * RATIO < low_u * mean:
                t = LOW
                points[i], _ = _mul_div(c, rw, mean)
            else:
                t = NORMAL
                points[i] = base
        case_type[i] = t
        if t == PER_DIEM:
            standard[i] = r * los[i]
        elif t == INTERIM:
            standard[i] = r * los[i] if r >= 0 else c * long_ratio // RATIO
        elif t == SINGLE_DISEASE:
            standard[i] = single_price[i]
        elif t == LONG_STAY:
            standard[i] = c * long_ratio // RATIO
        elif t == SPECIAL:
            standard[i] = c * special_ratio // RATIO
        elif t == EVENT:
            standard[i] = c * event_ratio // RATIO
        elif t == UNGROUPABLE:
            standard[i] = c * ungroupable_ratio // RATIO
        elif t == NO_WEIGHT_FFS:
            standard[i] = c
        if t <= LOW:
            category[i] = CAT_DRG
        elif t == EVENT or t == SINGLE_DISEASE and single_outside:
            category[i] = CAT_EVENT
        elif t == UNGROUPABLE_HELD or t == HELD or t == REJECTED:
            category[i] = CAT_UNPAID
        else:
            category[i] = CAT_RESERVE
    return case_type, points, standard, category


@njit(**PARALLEL)
def standards(points, group, numerator, denominator, mask):
    """⌊points × N_g / D_g⌋ and its remainder for the cases in ``mask`` (others 0)."""
    n = len(points)
    q = np.zeros(n, np.int64)
    r = np.zeros(n, np.int64)
    for i in prange(n):
        if mask[i]:
            g = group[i]
            q[i], r[i] = _mul_div(points[i], numerator[g], denominator[g])
    return q, r


@njit(**PARALLEL)
def fund_coefficient(standard, patient, hosp, coef, mask):
    """Coefficient on the fund amount: patient + ⌊(standard − patient) × coef[hosp] / 10,000⌋ in ``mask``."""
    n = len(standard)
    out = standard.copy()
    for i in prange(n):
        if mask[i]:
            out[i] = patient[i] + (standard[i] - patient[i]) * coef[hosp[i]] // RATIO
    return out


@njit(**JIT)
def category_sums(slot, category, keep, n_slots, a, b, c, d, e):
    """Per slot and category: count and the sums of ``a`` … ``e`` → int64 array [n_slots, 4, 6]."""
    out = np.zeros((n_slots, 4, 6), np.int64)
    for i in range(len(slot)):
        if keep[i]:
            row = out[slot[i], category[i]]
            row[0] += 1
            row[1] += a[i]
            row[2] += b[i]
            row[3] += c[i]
            row[4] += d[i]
            row[5] += e[i]
    return out


@njit(**PARALLEL)
def yuan_to_fen(values):
    """Float yuan → fen to the nearest (ties to even), and validity (finite, ≥ 0, < 10^13 fen)."""
    n = len(values)
    fen = np.zeros(n, np.int64)
    valid = np.zeros(n, np.bool_)
    for i in prange(n):
        x = np.rint(values[i] * 100.0)
        if x >= 0 and x < 1e13:  # False for NaN
            fen[i] = np.int64(x)
            valid[i] = True
    return fen, valid


@njit(**PARALLEL)
def patient_shares(cost, self_pay, insurance, level, unreferred, table, cut):
    """Benefit calculator per case: fund part ⌊max(0, cost − self pay − deductible) × ratio⌋, capped per case.

    ``table[insurance, level]`` = (deductible, ratio, cap), deductible −1 = no rule.  Returns the fund
    part (before any annual cap across a patient's cases) and whether a rule applied.
    """
    n = len(cost)
    fund = np.zeros(n, np.int64)
    ok = np.zeros(n, np.bool_)
    for i in prange(n):
        rule = table[insurance[i], level[i]]
        if rule[0] < 0:
            continue
        ratio = rule[1] - cut if unreferred[i] else rule[1]
        if ratio < 0:
            ratio = 0
        eligible = cost[i] - min(self_pay[i], cost[i]) - rule[0]
        part = eligible * ratio // RATIO if eligible > 0 else 0
        fund[i] = min(part, rule[2])
        ok[i] = True
    return fund, ok

