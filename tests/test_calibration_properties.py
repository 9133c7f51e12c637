"""The vectorised calibrator against a plain-Python twin, on random histories (hypothesis)."""

from __future__ import annotations

import math
from fractions import Fraction

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calibration import RelativeWeightCalibrator
from calibration.estimator import round_half_up

DRGS = ("AA11", "AA13", "AB11", "AB13", "BA11")
YEARS = (2022, 2023, 2024)


def quantile(values, p):
    """Linear interpolation between order statistics of sorted ``values``."""
    h = (len(values) - 1) * p
    low = math.floor(h)
    high = min(low + 1, len(values) - 1)
    return values[low] + (h - low) * (values[high] - values[low])


def keep_bounds(values, method, tails):
    if method == "none":
        return -math.inf, math.inf
    if method == "iqr":
        q1, q3 = quantile(values, 0.25), quantile(values, 0.75)
        return q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    if method == "percentile":
        return quantile(values, tails[0] / 100), quantile(values, tails[1] / 100)
    mean = float(Fraction(sum(values), len(values)))
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean - 3 * sd, mean + 3 * sd


def reference(rows, method, min_cases, tails, weights, index):
    """Plain-Python calibration: rows are (drg, cost, los, year, status); returns drg → (rw, n_cases, n_used, cv)."""
    valid = [r for r in rows if r[4] == "ok" and r[1] >= 5 and 0 <= r[2] <= 60]
    years = sorted({r[3] for r in valid})
    weight = dict(zip(years, weights)) if weights else {}
    base = max(years) if index else None
    by_drg = {}
    for drg, cost, los, year, status in valid:
        fen = round(cost * 100)
        if index:
            fen = round(fen * float(Fraction(index[base]) / Fraction(index[year])))
        by_drg.setdefault(drg, []).append((fen, Fraction(weight.get(year, 1))))
    kept = {}
    for drg, items in by_drg.items():
        values = sorted(f for f, _ in items)
        low, high = keep_bounds(values, method, tails)
        kept[drg] = [(f, w) for f, w in items if low <= f <= high] or items  # nothing kept: keep all
    total = sum(w * f for items in kept.values() for f, w in items)
    overall = total / sum(w for items in kept.values() for _, w in items)
    out = {}
    for drg in sorted(kept):
        items = kept[drg]
        mean = sum(w * f for f, w in items) / sum(w for _, w in items) / overall
        n = len(items)
        if n < min_cases:
            adrg = [x for d, v in kept.items() if d[:3] == drg[:3] for x in v]
            adrg_mean = sum(w * f for f, w in adrg) / sum(w for _, w in adrg) / overall
            mean = (n * mean + min_cases * adrg_mean) / (n + min_cases)
        plain = [f for f, _ in items]
        m = sum(plain) / n
        cv = math.sqrt(sum((f - m) ** 2 for f in plain) / (n - 1)) / m if n > 1 else None
        out[drg] = (round_half_up(mean, 6), len(by_drg[drg]), n, cv)
    return out


row = st.tuples(st.sampled_from(DRGS), st.integers(300, 2_000_000).map(lambda fen: fen / 100),
                st.integers(0, 70), st.sampled_from(YEARS), st.sampled_from(["ok"] * 6 + ["qy"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row, min_size=1, max_size=80), method=st.sampled_from(["none", "iqr", "sd", "percentile"]),
       min_cases=st.integers(1, 6), tails=st.sampled_from([(2.5, 97.5), (10.0, 90.0), (0.0, 100.0)]),
       weighted=st.booleans(), inflated=st.booleans())
def test_matches_plain_python(rows, method, min_cases, tails, weighted, inflated):
    if not any(r[4] == "ok" and r[1] >= 5 and r[2] <= 60 for r in rows):
        return
    years = sorted({r[3] for r in rows if r[4] == "ok" and r[1] >= 5 and r[2] <= 60})
    weights = [2, 3, 5][: len(years)] if weighted else None
    index = {2022: "100", 2023: "103.5", 2024: "107.2"} if inflated else None
    frame = pd.DataFrame(rows, columns=["drg", "total_cost", "los_days", "year", "status"])
    model = RelativeWeightCalibrator(method, min_cases=min_cases, tails=tails, year_weights=weights,
                                     inflation=index).fit(frame)
    expected = reference(rows, method, min_cases, tails, weights, index)
    stats = model.group_stats_.set_index("drg")
    assert list(stats.index) == list(expected)
    for drg, (rw, n_cases, n_used, cv) in expected.items():
        assert stats.loc[drg, "rw"] == rw, drg
        assert (stats.loc[drg, "n_cases"], stats.loc[drg, "n_used"]) == (n_cases, n_used), drg
        if cv is None:
            assert pd.isna(stats.loc[drg, "cv"])
        else:
            assert abs(stats.loc[drg, "cv"] - cv) <= 1e-6 + 1e-9 * cv
