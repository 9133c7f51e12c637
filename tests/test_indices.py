"""Performance indices (CMI, 费用/时间消耗指数, 低风险组死亡率, 入组率, shares) on hand-computed examples."""

from __future__ import annotations

import math
from decimal import Decimal

import pandas as pd
import pytest

from calibration.indices import performance_indices
from weights import WeightMeta, WeightTable

WEIGHTS = WeightTable(WeightMeta("test"), pd.DataFrame({"drg": ["AA11", "AB11", "AC11"],
                                                        "rw": [Decimal("1"), Decimal("2"), Decimal("0.5")]}))
# hospital, dept, date, drg, status, cost, los, discharge_method, drug_cost
CASES = [
    ("H1", "内科", "2024-01-05", "AA11", "ok", 1000, 10, 1, 500),
    ("H1", "内科", "2024-01-09", "AB11", "ok", 3000, 5, 1, None),
    ("H1", "内科", "2024-02-01", "AA11", "ok", 2000, 20, 5, None),
    ("H1", "外科", "2024-01-20", "AD11", "ok", 100, 2, 1, None),  # no weight
    ("H1", "外科", "2024-01-21", "", "qy", 500, 3, 1, None),      # not grouped
    ("H2", "内科", "2024-01-03", "AA11", "ok", 1000, 10, 1, 100),
    ("H2", "内科", "2024-01-04", "AB11", "ok", 1000, 5, 1, 200),
    ("H2", "内科", "2024-01-05", "AC11", "ok", 50, 1, 1, 10),
    ("H2", "内科", "2024-01-06", "AC11", "ok", 4, 1, 1, 1),       # excluded: under 5 元
]


def frame(rows=CASES):
    return pd.DataFrame(rows, columns=["hospital_id", "dept", "discharge_date", "drg", "status", "total_cost",
                                       "los_days", "discharge_method", "drug_cost"]).assign(
        case_id=[f"C{i}" for i in range(len(rows))])


def rows_of(result, level):
    table = result.table.to_pandas()
    table = table[table["level"] == level]
    keys = [c for c in ("hospital_id", "dept", "month") if (table[c] != "").any()]
    return table.set_index(keys) if keys else table


def test_hospital_level_by_hand():
    result = performance_indices(frame(), WEIGHTS)
    h = rows_of(result, "hospital")
    h1, h2 = h.loc["H1"], h.loc["H2"]
    # H1: 5 cases, 4 ok, none excluded → 入组率 4/5; DRGs AA11, AB11, AD11; weights 1 + 2 + 1 → CMI 4/3
    assert (h1["n_cases"], h1["n_grouped"], h1["n_excluded"], h1["n_drgs"]) == (5, 4, 0, 3)
    assert h1["grouping_rate"] == 0.8
    assert h1["total_weight"] == Decimal("4.000000") and h1["n_weighted"] == 3
    assert h1["cmi"] == round(4 / 3, 6)
    # regional means (ok, not excluded): AA11 (1000 + 2000 + 1000)/3, AB11 (3000 + 1000)/2 = 2000, AD11 100
    # H1 cost index: (1000/1333.3 + 3000/2000 + 2000/1333.3 + 100/100) / 4 = (0.75 + 1.5 + 1.5 + 1) / 4
    assert h1["cost_index"] == 1.1875
    # LOS means AA11 40/3, AB11 5, AD11 2: (10·3/40 + 5/5 + 20·3/40 + 2/2) / 4 = (0.75 + 1 + 1.5 + 1) / 4
    assert h1["time_index"] == 1.0625
    # H2: the 4 元 case is excluded: 入组率 3/3; weights 1 + 2 + 0.5 + 0.5 over 4 weighted cases → CMI 1
    assert (h2["n_cases"], h2["n_excluded"], h2["grouping_rate"], h2["cmi"]) == (4, 1, 1.0, 1.0)
    # cost index (1000/1333.3 + 1000/2000 + 50/50) / 3 = (0.75 + 0.5 + 1) / 3; time (0.75 + 1 + 1) / 3
    assert h2["cost_index"] == 0.75 and h2["time_index"] == round(2.75 / 3, 6)
    # 药占比: H1 only the one case with both values (500 of 1000); H2 (100 + 200 + 10 + 1) / 2054
    assert h1["drug_share"] == 0.5 and h2["drug_share"] == round(311 / 2054, 6)
    assert h2["total_cost"] == Decimal("2054.00") and h2["mean_cost"] == Decimal("513.50")
    region = rows_of(result, "region").iloc[0]
    assert region["cost_index"] == 1.0 and region["n_cases"] == 9  # the region is its own reference


def test_finer_levels_by_hand():
    result = performance_indices(frame(), WEIGHTS)
    cell = rows_of(result, "hospital_dept_month").loc[("H1", "内科", "2024-01")]
    # AA11 1000 and AB11 3000: weight 1 + 2 → CMI 1.5; cost index (0.75 + 1.5) / 2
    assert (cell["n_cases"], cell["cmi"], cell["cost_index"]) == (2, 1.5, 1.125)
    month = rows_of(result, "hospital_month").loc[("H1", "2024-02")]
    assert (month["n_cases"], month["cmi"], month["cost_index"]) == (1, 1.0, 1.5)
    levels = result.table.column("level").to_pylist()
    assert levels == sorted(levels, key=["region", "hospital", "hospital_month", "hospital_dept",
                                         "hospital_dept_month"].index)


def test_low_risk_mortality_by_hand():
    # DRG mortality: A 1/2, B 1/10, C 1/100, D 0/5.  ln m: −0.6931, −2.3026, −4.6052; mean −2.5336;
    # SD (ddof 1) = √(((1.8405)² + (0.2310)² + (−2.0716)²) / 2) = 1.9662; threshold −4.4998:
    # C is low-risk (−4.6052 < −4.4998), A and B are not; D (no death) is.  Low-risk: 105 cases, 1 death.
    rows = []
    for drg, n, deaths in (("AA11", 2, 1), ("AB11", 10, 1), ("AC11", 100, 1), ("AD11", 5, 0)):
        rows += [("H1", "内科", "2024-03-01", drg, "ok", 1000, 5, 5 if k < deaths else 1, None) for k in range(n)]
    result = performance_indices(frame(rows), WEIGHTS)
    assert result.low_risk_drgs == ["AC11", "AD11"]
    h1 = rows_of(result, "hospital").loc["H1"]
    assert (h1["n_low_risk"], h1["low_risk_deaths"]) == (105, 1)
    assert h1["low_risk_mortality"] == round(1 / 105, 6)
    log_m = [math.log(0.5), math.log(0.1), math.log(0.01)]
    mean = sum(log_m) / 3
    sd = math.sqrt(sum((v - mean) ** 2 for v in log_m) / 2)
    assert log_m[2] < mean - sd < log_m[1]


def test_top_cases_against_drg_mean():
    result = performance_indices(frame(), WEIGHTS, top_n=2)
    top = result.top_cases.to_pandas()
    h1 = top[top["hospital_id"] == "H1"]
    # H1 ratios: C1 3000/2000 = 1.5, C2 2000/1333.3 = 1.5 (tie: input order), C3 1.0, C0 0.75
    assert h1["case_id"].tolist() == ["C1", "C2"] and h1["rank"].tolist() == [1, 2]
    assert h1["cost_ratio"].tolist() == [1.5, 1.5]
    assert h1["drg_mean_cost"].tolist() == [Decimal("2000.00"), Decimal("1333.33")]


def test_without_optional_columns():
    data = frame().drop(columns=["discharge_method", "drug_cost", "dept"])
    table = performance_indices(data, WEIGHTS).table
    assert "low_risk_mortality" not in table.column_names and "drug_share" not in table.column_names
    assert set(table.column("dept").to_pylist()) == {""}
    with pytest.raises(ValueError, match="unknown level"):
        performance_indices(data, WEIGHTS, levels=("ward",))
