"""Relative-weight calibration: hand-computed examples, the pandas reference, recovery of a known truth."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from calibration import CalibrationError, RelativeWeightCalibrator
from calibration.estimator import round_half_up
from calibration.synthetic import synthetic_history


def cases(rows):
    """Grouped cases from (drg, cost, los[, year[, status]]) tuples."""
    out = []
    for k, row in enumerate(rows):
        drg, cost, los = row[:3]
        year = row[3] if len(row) > 3 else 2024
        status = row[4] if len(row) > 4 else "ok"
        out.append({"case_id": f"C{k}", "drg": drg, "adrg": drg[:3], "drg_name": f"名{drg}", "status": status,
                    "total_cost": cost, "los_days": los, "discharge_date": f"{year}-06-01",
                    "pack_version": "test@1"})
    return pd.DataFrame(out)


def stats(model):
    return model.group_stats_.set_index("drg")


def test_iqr_hand_example():
    # AA11 costs 100, 200, 300, 400, 10000: n = 5, Q1 at h = 4·0.25 = 1 → 200, Q3 at h = 3 → 400,
    # IQR = 200, bounds [200 − 300, 400 + 300] = [−100, 700]: 10000 is trimmed; kept mean 250.
    # AB11 costs 1000, 1000: kept mean 1000.  All kept: (100+200+300+400+1000+1000) / 6 = 500.
    data = cases([("AA11", c, 3) for c in (100, 200, 300, 400, 10000)] + [("AB11", 1000, 5), ("AB11", 1000, 7)])
    model = RelativeWeightCalibrator("iqr", min_cases=1).fit(data)
    s = stats(model)
    assert s.loc["AA11", "n_cases"] == 5 and s.loc["AA11", "n_used"] == 4
    assert s.loc["AA11", "rw"] == Decimal("0.500000")  # 250 / 500
    assert s.loc["AB11", "rw"] == Decimal("2.000000")  # 1000 / 500
    assert s.loc["AA11", "mean_cost"] == Decimal("250.00") and s.loc["AA11", "median_cost"] == Decimal("250.00")
    # kept AA11: deviations −150, −50, 50, 150 → Σd² = 50000, SD = √(50000/3) = 129.0994, CV = 0.516398
    assert s.loc["AA11", "cv"] == pytest.approx(math.sqrt(50000 / 3) / 250, abs=1e-6)
    assert s.loc["AB11", "cv"] == 0.0
    # RIV: within = 50000 + 0; total about 500: 400² + 300² + 200² + 100² + 2·500² = 800000 → 1 − 1/16
    assert model.riv_ == pytest.approx(0.9375, abs=1e-12)
    assert model.cv_share_ == 1.0
    assert model.mean_cost_ == Decimal("500.00")
    assert s.loc["AA11", "mean_los"] == Decimal("3.00")


def test_sd_hand_example():
    # ten cases of 10 and one of 1000: mean 100; Σd² = 10·90² + 900² = 891000; SD = √(891000/10) = 298.496;
    # bounds 100 ± 895.49 = [−795.5, 995.5]: 1000 lies just outside and is trimmed.
    data = cases([("AA11", 10, 1)] * 10 + [("AA11", 1000, 1)])
    s = stats(RelativeWeightCalibrator("sd", min_cases=1).fit(data))
    assert s.loc["AA11", "n_used"] == 10 and s.loc["AA11", "mean_cost"] == Decimal("10.00")
    # with k = 4 the bound is 100 + 4·298.496 = 1294 and all eleven stay
    assert stats(RelativeWeightCalibrator("sd", sd_factor=4, min_cases=1).fit(data)).loc["AA11", "n_used"] == 11


def test_percentile_hand_example():
    # costs 100 … 1000: P10 at h = 9·0.1 = 0.9 → 100 + 0.9·100 = 190; P90 at h = 8.1 → 900 + 0.1·100 = 910;
    # kept 200 … 900, mean 550.
    data = cases([("AA11", 100 * k, 2) for k in range(1, 11)])
    s = stats(RelativeWeightCalibrator("percentile", tails=(10, 90), min_cases=1).fit(data))
    assert s.loc["AA11", "n_used"] == 8 and s.loc["AA11", "mean_cost"] == Decimal("550.00")


def test_small_group_shrinks_toward_adrg():
    # AA11 one case of 1000, AA13 four of 500 (same ADRG AA1); min_cases 2 → k = 2.
    # overall mean (1000 + 4·500) / 5 = 600; raw RW_AA11 = 1000/600 = 5/3; ADRG AA1 mean 600 → RW_A = 1;
    # shrunk RW_AA11 = (1·5/3 + 2·1) / (1 + 2) = 11/9 = 1.222222; AA13 = 500/600 = 0.833333 (not shrunk).
    data = cases([("AA11", 1000, 2)] + [("AA13", 500, 2)] * 4)
    s = stats(RelativeWeightCalibrator("none", min_cases=2).fit(data))
    assert s.loc["AA11", "rw"] == Decimal("1.222222") and s.loc["AA11", "rw_raw"] == Decimal("1.666667")
    assert bool(s.loc["AA11", "small_group"]) and not bool(s.loc["AA13", "small_group"])
    assert s.loc["AA13", "rw"] == Decimal("0.833333")
    # smoothing k = 1: (5/3 + 1) / 2 = 4/3
    assert stats(RelativeWeightCalibrator("none", min_cases=2, smoothing=1).fit(data)).loc["AA11", "rw"] == \
        Decimal("1.333333")


def test_year_weights_and_inflation_hand_example():
    # index 2022: 100, 2023: 200, base 2023 → 2022 costs × 2.  Weights 2022: 1, 2023: 3.
    # AA11: 100 (2022 → 200, w 1), 300 (2023, w 3): (200 + 900) / 4 = 275
    # AB11: 200 (2022 → 400, w 1), 200 (2023, w 3): (400 + 600) / 4 = 250
    # all: (200 + 900 + 400 + 600) / 8 = 262.5 → RW 275/262.5 = 1.047619, 250/262.5 = 0.952381
    data = cases([("AA11", 100, 1, 2022), ("AA11", 300, 1, 2023), ("AB11", 200, 1, 2022), ("AB11", 200, 1, 2023)])
    model = RelativeWeightCalibrator("none", min_cases=1, year_weights=[1, 3], inflation={2022: 100, 2023: 200},
                                     base_year=2023).fit(data)
    s = stats(model)
    assert s.loc["AA11", "rw"] == Decimal("1.047619") and s.loc["AB11", "rw"] == Decimal("0.952381")
    assert s.loc["AA11", "mean_cost"] == Decimal("275.00")
    assert model.years_ == [2022, 2023] and model.inflation_factors_ == ["2", "1"]
    # the same as a dict, and the year from a 'year' column rather than discharge_date
    again = RelativeWeightCalibrator("none", min_cases=1, year_weights={2022: 1, 2023: 3},
                                     inflation={2022: 100, 2023: 200}).fit(
        data.drop(columns="discharge_date").assign(year=[2022, 2023, 2022, 2023]))
    assert again.weights_.equals(model.weights_)


def test_rw_equals_pandas_ratio_of_means_exactly():
    table, _ = synthetic_history(30_000, n_drgs=40, seed=3)
    frame = table.to_pandas()
    model = RelativeWeightCalibrator("none", min_cases=1, max_los=None).fit(table)
    reference = frame.groupby("drg", observed=True)["total_cost"].mean() / frame["total_cost"].mean()
    expected = {d: Decimal(repr(v)).quantize(Decimal("0.000001"), ROUND_HALF_UP) for d, v in reference.items()}
    assert model.weights_.to_dict() == expected
    assert list(model.weights_.index) == sorted(expected)


def test_rw_equals_pandas_on_generated_records():
    from grouper import Grouper
    from icd_tables.sample import sample_records

    grouper = Grouper()
    records = sample_records(grouper.pack.compiled, 3000, seed=5)
    results = grouper.group(records).assign(total_cost=records["total_cost"], los_days=records["los_days"])
    model = RelativeWeightCalibrator("none", min_cases=1, min_cost=0, max_los=None).fit(results)
    ok = results[(results["status"] == "ok") & (results["total_cost"] > 0)]
    reference = ok.groupby("drg", observed=True)["total_cost"].mean() / ok["total_cost"].mean()
    assert model.weights_.to_dict() == {d: Decimal(repr(v)).quantize(Decimal("0.000001"), ROUND_HALF_UP)
                                        for d, v in reference.items()}


def _tolerance(n_used):
    """Five standard errors of a DRG's mean (CV of the log-normal with σ = 0.5 is 0.533), plus 0.5 %."""
    return 5 * 0.533 / np.sqrt(n_used) + 0.005


@pytest.mark.parametrize("method", ["none", "iqr", "sd", "percentile"])
def test_recovers_known_weights(method):
    table, truth = synthetic_history(120_000, n_drgs=45, seed=11)
    s = RelativeWeightCalibrator(method, min_cases=1, max_los=None).fit(table).group_stats_
    error = np.abs(s["rw"].astype(float).to_numpy() / truth["rw"].to_numpy() - 1)
    assert (error <= _tolerance(s["n_used"].to_numpy())).all(), error.max()


@pytest.mark.parametrize("method", ["iqr", "sd", "percentile"])
def test_trimming_removes_contamination(method):
    # 0.5 % of the cases cost 400,000 元 whatever their DRG: trimmed, the truth is recovered; untrimmed it is not.
    table, truth = synthetic_history(120_000, n_drgs=45, seed=11, contamination=0.005)
    s = RelativeWeightCalibrator(method, min_cases=1, max_los=None).fit(table).group_stats_
    error = np.abs(s["rw"].astype(float).to_numpy() / truth["rw"].to_numpy() - 1)
    assert (error <= _tolerance(s["n_used"].to_numpy())).all(), error.max()
    plain = RelativeWeightCalibrator("none", min_cases=1, max_los=None).fit(table).group_stats_
    assert (np.abs(plain["rw"].astype(float).to_numpy() / truth["rw"].to_numpy() - 1)).max() > 0.5


def test_exclusions_are_counted_and_missing_drgs_listed():
    data = cases([
        ("AA11", 100, 3), ("AA11", 300, 3),
        ("AA13", 4, 3),                 # under 5 元
        ("AB11", 500, 61),              # over 60 days
        ("AB11", float("nan"), 2),      # no cost
        ("AC11", 800, 2, 2024, "qy"),   # not grouped
    ])
    model = RelativeWeightCalibrator("none", min_cases=1, all_drgs={"AA11": "甲", "AD11": "丁"}).fit(data)
    assert model.exclusions_ == {"not_grouped": 1, "cost_missing": 1, "cost_low": 1, "cost_high": 0,
                                 "los_missing": 0, "los_out": 1, "year_missing": 0, "year_unlisted": 0}
    assert list(model.weights_.index) == ["AA11"]
    missing = model.missing_drgs_.set_index("drg")
    # AA13 and AB11 were grouped but have no valid case; AD11 is in the scheme only; none gets a weight of 0
    assert missing["n_grouped"].to_dict() == {"AA13": 1, "AB11": 2, "AD11": 0}
    assert missing.loc["AD11", "drg_name"] == "丁"
    out = model.transform(data)
    assert out["rw"].tolist()[:2] == [Decimal("1.000000")] * 2 and out["rw"].iloc[2:].isna().all()


def test_estimator_contract():
    model = RelativeWeightCalibrator("sd", min_cases=3)
    assert model.get_params()["trim"] == "sd" and clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        model.transform(cases([("AA11", 100, 1)]))
    assert model.fit(cases([("AA11", 100, 1)])) is model
    with pytest.raises(InvalidParameterError):
        RelativeWeightCalibrator("median").fit(cases([("AA11", 100, 1)]))
    with pytest.raises(InvalidParameterError):
        RelativeWeightCalibrator(min_cases=0).fit(cases([("AA11", 100, 1)]))


def test_transform_keeps_arrow_and_nulls_without_weight():
    model = RelativeWeightCalibrator("none", min_cases=1).fit(cases([("AA11", 100, 1), ("AB11", 300, 1)]))
    table = pa.Table.from_pandas(cases([("AB11", 1, 1), ("ZZ11", 5, 1), ("AA11", 9, 1, 2024, "qy")]))
    out = model.transform(table)
    assert out.schema.field("rw").type == pa.decimal128(18, 6)
    assert out.column("rw").to_pylist() == [Decimal("1.500000"), None, None]  # 300/200; unknown DRG; not ok


def test_errors_say_what_to_fix():
    data = cases([("AA11", 100, 1, 2022), ("AA11", 100, 1, 2023)])
    with pytest.raises(CalibrationError, match="3 year weights given but the history has 2 years"):
        RelativeWeightCalibrator(year_weights=[2, 3, 5]).fit(data)
    with pytest.raises(CalibrationError, match="needs an inflation index"):
        RelativeWeightCalibrator(base_year=2023).fit(data)
    with pytest.raises(CalibrationError, match="base year 2025 is not in the inflation index"):
        RelativeWeightCalibrator(inflation={2022: 100, 2023: 101}, base_year=2025).fit(data)
    with pytest.raises(CalibrationError, match="lack the column"):
        RelativeWeightCalibrator().fit(data.drop(columns="los_days"))
    with pytest.raises(CalibrationError, match="2 pack versions"):
        RelativeWeightCalibrator().fit(data.assign(pack_version=["a@1", "b@2"]))
    with pytest.raises(CalibrationError, match="no valid case"):
        RelativeWeightCalibrator().fit(cases([("AA11", 1, 1)]))


def test_text_costs_and_unlisted_years():
    # costs read from a CSV arrive as text: numbers are used, other text counts as missing
    data = cases([("AA11", "100.50", "2", 2022), ("AA11", "abc", "2", 2022), ("AA11", "300", "2", 2021)])
    model = RelativeWeightCalibrator("none", min_cases=1, year_weights={2022: 1}).fit(data)
    assert model.exclusions_["cost_missing"] == 1 and model.exclusions_["year_unlisted"] == 1
    assert stats(model).loc["AA11", "mean_cost"] == Decimal("100.50")


def test_round_half_up_is_exact():
    from fractions import Fraction

    assert round_half_up(Fraction(1, 8), 2) == Decimal("0.13")  # 0.125 → 0.13
    assert round_half_up(Fraction(2, 3), 6) == Decimal("0.666667")
    assert str(round_half_up(Fraction(1), 6)) == "1.000000"


def test_split_advice_finds_the_split():
    # in ADRG AA1, MCC cases cost 10× the others: the tree splits on cc_level
    rng = np.random.default_rng(0)
    n = 600
    mcc = rng.random(n) < 0.3
    data = cases([("AA11", float(c), 5) for c in np.where(mcc, 10000, 1000) * rng.uniform(0.9, 1.1, n)])
    data["mcc_dx"] = np.where(mcc, "J96.000", "")
    data["age_years"] = rng.integers(1, 90, n)
    model = RelativeWeightCalibrator("none", min_cases=1, split_advice=True).fit(data)
    advice = model.split_advice_.iloc[0]
    assert advice["adrg"] == "AA1" and advice["feature"] == "cc_level" and 0 < advice["threshold"] < 2  # levels 0 and 2 only
    assert advice["reduction"] > 0.9 and advice["n_right"] == mcc.sum()
    assert RelativeWeightCalibrator().fit(data).split_advice_ is None
