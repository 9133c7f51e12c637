"""Each Numba kernel of payment/_kernels.py against a plain-Python twin, on random and edge-case inputs."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from payment import _kernels as k

RATIO = 10_000


def twin_classify(i, a):
    """One case, as the module docstring of payment.engine states the rules."""
    d = a["drg"][i]
    rw, mean, rate = int(a["drg_rw"][d]), int(a["drg_mean"][d]), int(a["rate"][i])
    c, h = int(a["cost"][i]), a["hosp"][i]
    if a["reject"][i]:
        t = k.REJECTED
    elif a["interim"][i]:
        t = k.INTERIM
    elif a["event"][i]:
        t = k.EVENT
    elif a["special"][i]:
        t = k.SPECIAL
    elif a["single_price"][i] >= 0:
        t = k.SINGLE_DISEASE
    elif a["status"][i]:
        t = a["ungroupable_type"]
    elif rate >= 0:
        t = k.PER_DIEM
    elif a["long_days"] and a["los"][i] > a["long_days"]:
        t = k.LONG_STAY
    elif rw <= 0:
        t = a["no_weight_type"]
    else:
        kk = int(a["hosp_k"][h]) or next(int(kv) for b, kv in zip(list(a["tier_bounds"]) + [None], a["tier_k"])
                                         if b is None or rw < b)
        base = rw * int(a["hosp_coef"][h]) // RATIO
        if c * RATIO > kk * mean:
            return k.HIGH, base + (c * RATIO - kk * mean) * rw // (RATIO * mean), 0
        if c * RATIO < a["low_u"] * mean:
            return k.LOW, c * rw // mean, 0
        return k.NORMAL, base, 0
    interim = rate * int(a["los"][i]) if rate >= 0 else c * a["long_ratio"] // RATIO
    standard = {k.PER_DIEM: rate * int(a["los"][i]), k.INTERIM: interim, k.SINGLE_DISEASE: int(a["single_price"][i]),
                k.LONG_STAY: c * a["long_ratio"] // RATIO,
                k.SPECIAL: c * a["special_ratio"] // RATIO, k.EVENT: c * a["event_ratio"] // RATIO,
                k.UNGROUPABLE: c * a["ungroupable_ratio"] // RATIO, k.NO_WEIGHT_FFS: c}.get(t, 0)
    return t, 0, standard


@st.composite
def classify_inputs(draw):
    n = draw(st.integers(1, 60))
    n_drg, n_h = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    ints = lambda lo, hi, size: np.array(draw(st.lists(st.integers(lo, hi), min_size=size, max_size=size)),  # noqa
                                         np.int64)
    return {
        "status": ints(0, 2, n), "drg": ints(0, n_drg - 1, n),
        "drg_rw": np.array([draw(st.sampled_from([-1, 1, 999_999, 1_000_000, 2_345_678, 5_000_000, 60_000_000]))
                            for _ in range(n_drg)], np.int64),
        # a DRG's mean cost of 100.00 元 or more: the range classify() checks before the kernel
        "drg_mean": ints(10**4, 10**8, n_drg), "rate": np.array(
            [draw(st.sampled_from([-1, -1, 0, 45_000])) for _ in range(n)], np.int64),
        "single_price": np.array([draw(st.sampled_from([-1, -1, -1, 0, 300_000])) for _ in range(n)], np.int64),
        "interim": ints(0, 1, n).astype(bool) & ints(0, 1, n).astype(bool),
        "single_outside": draw(st.booleans()),
        "hosp": ints(0, n_h - 1, n), "hosp_coef": ints(1, 20_000, n_h),
        "hosp_k": np.array([draw(st.sampled_from([0, 0, 20_000])) for _ in range(n_h)], np.int64),
        "tier_bounds": np.array([1_000_000, 2_000_000, 3_000_000, 5_000_000], np.int64),
        "tier_k": np.array([30_000, 25_000, 20_000, 15_000, 13_000], np.int64),
        "cost": np.array([draw(st.one_of(st.integers(0, 10**10), st.sampled_from([0, 1, 10**10 - 1])))
                          for _ in range(n)], np.int64),
        "los": ints(-1, 200, n), "reject": ints(0, 1, n) * ints(0, 1, n),
        "special": ints(0, 1, n).astype(bool) & ints(0, 1, n).astype(bool),
        "event": ints(0, 1, n).astype(bool) & ints(0, 1, n).astype(bool),
        "low_u": draw(st.sampled_from([0, 4_000, 10_000])), "long_days": draw(st.sampled_from([0, 60])),
        "no_weight_type": draw(st.sampled_from([k.NO_WEIGHT_FFS, k.HELD])),
        "ungroupable_type": draw(st.sampled_from([k.UNGROUPABLE, k.UNGROUPABLE_HELD])),
        "long_ratio": 9_000, "special_ratio": 10_000, "event_ratio": 12_345, "ungroupable_ratio": 8_000,
    }


ORDER = ("status", "drg", "drg_rw", "drg_mean", "rate", "hosp", "hosp_coef", "hosp_k", "tier_bounds", "tier_k",
         "cost", "los", "reject", "special", "event", "low_u", "long_days", "no_weight_type", "ungroupable_type",
         "long_ratio", "special_ratio", "event_ratio", "ungroupable_ratio", "single_price", "interim", "single_outside")


@settings(max_examples=150, deadline=None)
@given(classify_inputs())
def test_classify_points_matches_its_twin(a):
    case_type, points, standard, category = k.classify_points(*(a[name] for name in ORDER))
    for i in range(len(a["status"])):
        assert (case_type[i], points[i], standard[i]) == twin_classify(i, a), i
        outside = case_type[i] == k.EVENT or case_type[i] == k.SINGLE_DISEASE and a["single_outside"]
        expected = (k.CAT_DRG if case_type[i] <= k.LOW else k.CAT_EVENT if outside else
                    k.CAT_UNPAID if case_type[i] in (k.UNGROUPABLE_HELD, k.HELD, k.REJECTED) else k.CAT_RESERVE)
        assert category[i] == expected


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**40), st.integers(0, 2)), min_size=1, max_size=40),
       st.lists(st.tuples(st.integers(0, 2**50), st.integers(1, 2**50)), min_size=3, max_size=3))
def test_standards_match_exact_integer_division(cases, groups):
    points = np.array([p for p, _ in cases], np.int64)
    group = np.array([g for _, g in cases], np.int64)
    num = np.array([n for n, _ in groups], np.int64)
    den = np.array([d for _, d in groups], np.int64)
    mask = (points % 3) != 1
    fits = [p * int(num[g]) // int(den[g]) < 2**52 for p, g in zip(points.tolist(), group.tolist())]
    if not all(fits):
        return
    q, r = k.standards(points, group, num, den, mask)
    for i, (p, g) in enumerate(zip(points.tolist(), group.tolist())):
        assert (q[i], r[i]) == (divmod(p * int(num[g]), int(den[g])) if mask[i] else (0, 0))


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.booleans(),
                          st.lists(st.integers(-10**12, 10**12), min_size=5, max_size=5)), max_size=50))
def test_category_sums_match_a_loop(rows):
    n = len(rows)
    slot = np.array([r[0] for r in rows], np.int64)
    cat = np.array([r[1] for r in rows], np.int64)
    keep = np.array([r[2] for r in rows], bool)
    values = [np.array([r[3][j] for r in rows], np.int64) for j in range(5)]
    out = k.category_sums(slot, cat, keep, 6, *values)
    expected = np.zeros((6, 4, 6), np.int64)
    for i in range(n):
        if keep[i]:
            expected[slot[i], cat[i], 0] += 1
            for j in range(5):
                expected[slot[i], cat[i], j + 1] += values[j][i]
    assert (out == expected).all()


@settings(deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(0, 10**9).map(lambda f: f / 100)),
                max_size=40))
def test_yuan_to_fen_matches_its_twin(values):
    fen, valid = k.yuan_to_fen(np.array(values, np.float64))
    for x, f, v in zip(values, fen, valid):
        scaled = x * 100
        ok = math.isfinite(scaled) and 0 <= round(scaled) < 10**13
        assert (bool(v), int(f)) == (ok, round(scaled) if ok else 0)  # Python's round: ties to even, like rint


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 1), st.integers(1, 3),
                          st.booleans()), min_size=1, max_size=40))
def test_patient_shares_match_its_twin(rows):
    table = np.array([[[-1, -1, -1], [80_000, 8_500, 10**8], [-1, -1, -1], [100_000, 7_000, 5 * 10**7]]] * 2,
                     np.int64)
    cost, self_pay, ins, level, unref = (np.array([r[j] for r in rows]) for j in range(5))
    fund, ok = k.patient_shares(cost.astype(np.int64), self_pay.astype(np.int64), ins.astype(np.int64),
                                level.astype(np.int64), unref.astype(bool), table, 1_000)
    for i, (c, s, t, lv, u) in enumerate(rows):
        deductible, ratio, cap = table[t, lv]
        if deductible < 0:
            assert not ok[i] and fund[i] == 0
            continue
        ratio = max(ratio - 1_000, 0) if u else ratio
        assert ok[i] and fund[i] == min(max(c - min(s, c) - deductible, 0) * ratio // RATIO, cap)



@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**10), st.integers(0, 10**10), st.integers(0, 2), st.booleans()),
                min_size=1, max_size=40),
       st.lists(st.integers(1, 30_000), min_size=3, max_size=3))
def test_fund_coefficient_matches_its_twin(rows, coef):
    standard, patient, hosp, mask = (np.array(col) for col in zip(*rows))
    got = k.fund_coefficient(standard.astype(np.int64), patient.astype(np.int64), hosp.astype(np.int64),
                             np.array(coef, np.int64), mask.astype(bool))
    # twin: patient + ⌊(standard − patient) × coefficient⌋, toward −∞ when the patient paid more than the standard
    assert got.tolist() == [p + math.floor(Fraction((s - p) * coef[h], RATIO)) if m else s for s, p, h, m in rows]
