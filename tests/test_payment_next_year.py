"""奖优罚劣 (issue 18, scope 3): a year's assessment score sets next year's coefficient adjustment and bonus
share (``[assessment.next_year]``); the year run writes them as ``next_year``, a table next year's run reads as
its hospital table.  Every figure below was worked out by hand, in 元.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pyarrow.csv as pacsv
import pytest

from payment import PaymentInputError, PolicyError, read_hospitals, run_settlement
from payment_helpers import case, cases_frame, hospitals, policy, weights

D = Decimal
# A01: RW 1.0, mean cost 10,000.00; at a fixed 100 元/点 a coefficient-1.0 case is 100 points = 10,000.00
WEIGHTS = [("A01", "1.0", "10000.00")]
NEXT_YEAR = {"bands": [
    {"min_score": 90, "coefficient_adjustment": "0.05", "bonus_share": "0.02"},   # 奖优: +0.05, bonus 2%
    {"min_score": 60, "coefficient_adjustment": "0"},
    {"min_score": 0, "coefficient_adjustment": "-0.1"},                           # 罚劣: −0.1
]}


def next_year_policy(**changes):
    return policy(point_value={"mode": "fixed", "value": "100"}, reserve={"share": "0.1"},
                  assessment={"default_score": 100, "next_year": NEXT_YEAR}, **changes)


def one_case_each(year, ids=("HA", "HB", "HC")):
    # one A01 case per hospital: cost 9,500.00, patient 1,000.00 (within 0.4–2.5 × the mean: no high/low cost)
    frame = cases_frame([case(f"{h}-{year}", h, "A01", "9500", "1000") for h in ids])
    return frame.assign(discharge_date=[d.replace("2024", str(year)) for d in frame["discharge_date"]])


def test_the_score_sets_next_years_coefficient_and_bonus(tmp_path):
    pol = next_year_policy()
    h = hospitals(pol, [("HA", 2), ("HB", 2), ("HC", 2)])        # level 2: coefficient 1.0
    w = weights(WEIGHTS)
    year1 = run_settlement(one_case_each(2024), w, pol, h, "year", "2024",
                           scores={"HA": 95_00, "HB": 75_00, "HC": 50_00})
    table = year1.tables["next_year"]
    # HA 95 ≥ 90: 1.0 + 0.05 = 1.05, bonus 2%; HB 75 (60–90): 1.0, none; HC 50 (< 60): 1.0 − 0.1 = 0.9
    assert table.select(["hospital_id", "score", "coefficient_adjustment", "coefficient", "bonus_share"]) \
        .to_pylist() == [
        {"hospital_id": "HA", "score": D("95.00"), "coefficient_adjustment": D("0.0500"),
         "coefficient": D("1.0500"), "bonus_share": D("0.0200")},
        {"hospital_id": "HB", "score": D("75.00"), "coefficient_adjustment": D("0.0000"),
         "coefficient": D("1.0000"), "bonus_share": D("0.0000")},
        {"hospital_id": "HC", "score": D("50.00"), "coefficient_adjustment": D("-0.1000"),
         "coefficient": D("0.9000"), "bonus_share": D("0.0000")}]
    assert "bonus" not in year1.tables["hospitals"].column_names  # this year's table had no bonus_share

    # next year: the table written as CSV (as drg settle writes next_year.csv) is the hospital table
    path = tmp_path / "next_year.csv"
    pacsv.write_csv(table, path)
    pol2 = policy(point_value={"mode": "fixed", "value": "100"}, reserve={"share": "0.1"})
    h2 = read_hospitals(path, pol2)
    assert h2.coef_u.tolist() == [10_500, 10_000, 9_000] and h2.bonus_u == {"HA": 200, "HB": 0, "HC": 0}
    year2 = run_settlement(one_case_each(2025), w, pol2, h2, "year", "2025")
    lines = year2.tables["case_lines"].to_pylist()
    # points 100 × coefficient: 105 / 100 / 90 → standards 10,500 / 10,000 / 9,000; fund = standard − 1,000
    assert [x["standard"] for x in lines] == [D("10500.00"), D("10000.00"), D("9000.00")]
    assert [x["fund_payment"] for x in lines] == [D("9500.00"), D("9000.00"), D("8000.00")]
    rows = year2.tables["hospitals"].to_pylist()
    # HA's bonus ⌊9,500.00 × 0.02⌋ = 190.00 from the reserve; annual due = fund 9,500 + bonus 190 (every
    # withhold released at the default score 100) = 9,690.00
    assert [r["bonus"] for r in rows] == [D("190.00"), D("0.00"), D("0.00")]
    assert [r["annual_due"] for r in rows] == [D("9690.00"), D("9000.00"), D("8000.00")]
    recon = {r["line"]: r["amount"] for r in year2.tables["reconciliation"].to_pylist()}
    # reserve 10% × 1,000,000.00 = 100,000.00, less the bonus 190.00
    assert recon["bonus"] == D("190.00") and recon["reserve_balance"] == D("99810.00")


def test_next_year_needs_a_score_and_a_positive_coefficient():
    pol = policy(point_value={"mode": "fixed", "value": "100"}, assessment={"next_year": NEXT_YEAR})
    h = hospitals(pol, [("HA", 1)])                                 # level 1: 0.8
    with pytest.raises(PaymentInputError, match="hospital HA has no assessment score"):
        run_settlement(one_case_each(2024, ("HA",)), weights(WEIGHTS), pol, h, "year", "2024")
    harsh = policy(point_value={"mode": "fixed", "value": "100"}, assessment={"default_score": 100, "next_year": {
        "bands": [{"min_score": 0, "coefficient_adjustment": "-0.8"}]}})
    with pytest.raises(PaymentInputError, match=r"\[assessment.next_year\] coefficient_adjustment: hospital HA"):
        run_settlement(one_case_each(2024, ("HA",)), weights(WEIGHTS), harsh, hospitals(harsh, [("HA", 1)]),
                       "year", "2024")


@pytest.mark.parametrize("bands, message", [
    ("x", r"\[assessment.next_year\] bands: must be a list"),
    ([{"min_score": 50, "bonus_share": "0.1"}], r"\[assessment.next_year\] bands: the lowest band must start"),
    ([{"min_score": 0}], r"\[assessment.next_year\] bands #1 coefficient_adjustment: give"),
    ([{"min_score": 0, "bonus_share": "1.5"}], r"\[assessment.next_year\] bands #1 bonus_share: 1.5 must be"),
    ([{"min_score": 0, "coefficient_adjustment": "0.1", "share": "1"}], r"bands #1 share: unknown key"),
    ([{"min_score": 0, "bonus_share": "0"}, {"min_score": 0, "bonus_share": "0.1"}], r"same min_score"),
])
def test_next_year_key_is_validated_by_name(bands, message):
    with pytest.raises(PolicyError, match=message):
        policy(assessment={"next_year": {"bands": bands}})
    with pytest.raises(PolicyError, match=r"\[assessment.next_year\] band: unknown key"):
        policy(assessment={"next_year": {"band": []}})


def test_bonus_share_column_is_checked():
    pol = policy()
    frame = pd.DataFrame({"hospital_id": ["HA"], "level": ["2"], "bonus_share": ["1.2"]})
    with pytest.raises(PaymentInputError, match="row 2: hospital HA: bonus_share 1.2 must be at most 1"):
        read_hospitals(frame, pol)


POLICY_TOML = '''version = "test-next-year"
region = "测试市"
average_cost = "10000.00"
[[budget]]
insurance_type = "all"
amount = "1000000.00"
[reserve]
share = "0.1"
[coefficients]
levels = { 1 = "0.8", 2 = "1.0", 3 = "1.2" }
[point_value]
mode = "fixed"
value = "100"
[assessment]
default_score = 100
[assessment.next_year]
bands = [
  { min_score = 90, coefficient_adjustment = "0.05", bonus_share = "0.02" },
  { min_score = 60, coefficient_adjustment = "0" },
  { min_score = 0, coefficient_adjustment = "-0.1" },
]
'''


def test_drg_settle_writes_next_year_and_reads_it_as_the_hospital_table(tmp_path):
    from api.cli.main import main

    (tmp_path / "policy.toml").write_text(POLICY_TOML, encoding="utf-8")
    weights(WEIGHTS).write(tmp_path / "weights.parquet")
    pd.DataFrame({"hospital_id": ["HA", "HB", "HC"], "level": ["2", "2", "2"]}).to_csv(tmp_path / "h.csv", index=False)
    pd.DataFrame({"hospital_id": ["HA", "HB", "HC"], "score": ["95", "75", "50"]}).to_csv(tmp_path / "s.csv",
                                                                                          index=False)
    for year, hospitals_file, extra in ((2024, "h.csv", ["--scores", str(tmp_path / "s.csv")]),
                                        (2025, "run-2024/next_year.csv", [])):
        one_case_each(year).to_parquet(tmp_path / f"cases-{year}.parquet")
        assert main(["settle", "year", str(tmp_path / f"cases-{year}.parquet"), "--weights",
                     str(tmp_path / "weights.parquet"), "--policy", str(tmp_path / "policy.toml"), "--period",
                     str(year), "--hospitals", str(tmp_path / hospitals_file), "-o", str(tmp_path / f"run-{year}"),
                     "--statements", "none", *extra]) == 0
    assert (tmp_path / "run-2024" / "next_year.parquet").exists()
    statement = pd.read_csv(tmp_path / "run-2025" / "hospitals.csv", dtype=str, encoding="utf-8-sig")
    # as above: HA coefficient 1.05 → fund 9,500.00, bonus ⌊9,500.00 × 0.02⌋ = 190.00; HC 0.9 → fund 8,000.00
    assert statement[["hospital_id", "drg_fund", "bonus"]].values.tolist() == [
        ["HA", "9500.00", "190.00"], ["HB", "9000.00", "0.00"], ["HC", "8000.00", "0.00"]]
