"""The golden CHS-DRG 1.1 records with the Harbin 2024 weights: a realistic year, month and shadow run."""

from __future__ import annotations

import pytest

from reference_data import GOLDEN, SHARED, TABLES, require_shared
from payment import load_policy, read_hospitals, run_settlement
from payment.run import EXAMPLE_POLICY
from weights import WeightMeta, read_published

pytestmark = pytest.mark.golden


@pytest.fixture(scope="module")
def golden():
    from api.cases import read_cases

    records = require_shared(GOLDEN / "chs-drg-1.1.parquet")
    harbin = require_shared(SHARED / "weights" / "harbin-2024.csv")
    cases = read_cases(records, pack=require_shared(TABLES / "chs-drg-1.1"))
    policy = load_policy(EXAMPLE_POLICY)
    return cases, read_published(harbin, WeightMeta("harbin-2024", "哈尔滨", 2024)), policy, \
        read_hospitals(policy.files["hospitals"], policy)


def test_year_settles_every_case_and_the_budget_to_the_fen(golden):
    cases, weights, policy, hospitals = golden
    run = run_settlement(cases, weights, policy, hospitals, "year", "2024")
    lines = run.tables["case_lines"]
    in_2024 = sum(1 for d in cases.column("discharge_date").to_pylist() if d and d.year == 2024)
    assert lines.num_rows == in_2024 and run.meta["cases"]["outside_period"] == cases.num_rows - in_2024
    for fund in run.meta["funds"]:
        assert fund["drg_fund_fen"] == fund["distributable_fen"]
    # DRGs without a Harbin weight are held (listed, paid 0), never paid as zero-weight DRG cases
    held = {d for d, t in zip(lines.column("drg").to_pylist(), lines.column("case_type").to_pylist()) if t == "held"}
    grouped = {d for d, s in zip(lines.column("drg").to_pylist(), lines.column("status").to_pylist()) if s == "ok"}
    assert held == grouped - set(weights.drgs) and held
    assert all(f == 0 for f, t in zip(lines.column("fund_payment").to_pylist(),
                                      lines.column("case_type").to_pylist()) if t == "held")


def test_month_and_shadow_runs(golden):
    cases, weights, policy, hospitals = golden
    month = run_settlement(cases, weights, policy, hospitals, "month", "2024-06")
    assert set(month.tables["case_lines"].column("month").to_pylist()) == {"2024-06"}
    shadow = run_settlement(cases, weights, policy, hospitals, "shadow", "2024")
    drgs = shadow.tables["drgs"].to_pandas()
    assert (drgs["gain"] < 0).any() and (drgs["gain"] > 0).any()
