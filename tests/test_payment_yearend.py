"""Hand-computed year-end scenarios of issue 18: corridor bands that say how they pay, half-yearly release
through the run ledger, per-hospital totals and minimum volumes, carry-forward over two years, and both
readings of the hospital coefficient.  Amounts in 元; every figure below was worked out by hand.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from payment import PaymentInputError, PolicyError, load_policy, run_settlement
from payment.engine import corridor_parts
from payment.ledger import Ledger, LedgerError, read_ledger, write_ledger
from payment.run import EXAMPLE_POLICY
from payment_helpers import case, cases_frame, hospitals, policy, weights

D = Decimal
QUOTA_POLICY = EXAMPLE_POLICY.with_name("quota-corridor.toml")
# A01: RW 1.0, mean cost 10,000.00 (no case below is high or low cost: 0.4 × mean ≤ cost ≤ 2.5 × mean)
WEIGHTS = [("A01", "1.0", "10000.00")]

# The quoted rules (第七條): below 90% the actual cost plus a reward (50% of the saving as the example value);
# 90–110% the standard; 110–120% the fund pays 50% of the excess; above 120% the hospital bears it; every
# boundary (exactly 90%, 110%, 120%) in the lower band (以下/以内 含本数).
QUOTED_BANDS = [
    {"upto": "0.9", "include_upto": True, "pay": "cost_plus_reward", "reward_share": "0.5"},
    {"upto": "1.1", "include_upto": True, "pay": "standard"},
    {"upto": "1.2", "include_upto": True, "pay": "excess", "fund_share": "0.5"},
    {"pay": "capped"},
]
COSTS = ["8000", "8999", "9000", "10500", "11000", "11500", "12000", "13000"]
# standard 10,000.00 (from the DRG fund, i.e. the distributable budget); settled = standard + adjustment; the
# adjustment comes from the reserve (调剂金): a positive one paid out of it, a negative one kept in it; the
# reward is part of the adjustment and also from the reserve (reward_from = "reserve", the default).
#  8,000: 8,000 (cost) + 50% × 2,000 saving = 9,000.00     → adjustment −1,000.00, of which reward 1,000.00
#  8,999: 8,999 + 50% × 1,001 = 8,999 + 500.50 = 9,499.50   → −500.50, reward 500.50
#  9,000: exactly 90%, in the lower band: 9,000 + 500 = 9,500.00 → −500.00, reward 500.00
# 10,500: 90–110%: the standard 10,000.00                   → 0
# 11,000: exactly 110%, in the lower band: 10,000.00        → 0
# excess from the band's lower edge (110% = 11,000):
# 11,500: 10,000 + 50% × (11,500 − 11,000) = 10,250.00      → +250.00 from the reserve
# 12,000: exactly 120%, in the 110–120% band: 10,000 + 50% × 1,000 = 10,500.00 → +500.00
# 13,000: above 120%: what the 110–120% band pays at 120% = 10,500.00; the 1,000 above borne by the hospital
EDGE = ["9000.00", "9499.50", "9500.00", "10000.00", "10000.00", "10250.00", "10500.00", "10500.00"]
# excess from the standard: 11,000 (at 110%, lower band) = 10,000.00; 11,500: 10,000 + 50% × 1,500 = 10,750.00;
# 12,000: 10,000 + 50% × 2,000 = 11,000.00; 13,000: the 110–120% band at 120% = 11,000.00
FROM_STANDARD = EDGE[:4] + ["10000.00", "10750.00", "11000.00", "11000.00"]
REWARD = ["1000.00", "500.50", "500.00", "0.00", "0.00", "0.00", "0.00", "0.00"]


def corridor_policy(excess_from="band_edge", **changes):
    return policy(corridor={"bands": QUOTED_BANDS, "excess_from": excess_from},
                  point_value={"mode": "fixed", "value": "100"}, **changes)


@pytest.mark.parametrize("excess_from, settled", [("band_edge", EDGE), ("standard", FROM_STANDARD)])
def test_corridor_bands_pay_as_the_quoted_rules(excess_from, settled):
    pol = corridor_policy(excess_from)
    for cost, total, reward in zip(COSTS, settled, REWARD):
        adjustment, of_which_reward = corridor_parts(pol, 10_000_00, int(D(cost) * 100))
        assert (10_000_00 + adjustment, of_which_reward) == (int(D(total) * 100), int(D(reward) * 100)), cost


def test_bundled_quota_corridor_policy_states_the_quoted_rules():
    pol = load_policy(QUOTA_POLICY)
    assert pol.withhold_u == 1000 and pol.release_schedule == "half" and pol.excess_from == "band_edge"
    assert [corridor_parts(pol, 10_000_00, int(D(c) * 100))[0] + 10_000_00 for c in COSTS] == [
        int(D(t) * 100) for t in EDGE]


def test_corridor_on_the_year_statement():
    # eight hospitals, one A01 case each at 100 元/点 fixed: 100 points → standard 10,000.00, no patient share
    pol = corridor_policy()
    h = hospitals(pol, [(f"H{i}", 2) for i in range(8)])
    cases = [case(f"c{i}", f"H{i}", "A01", cost, "0") for i, cost in enumerate(COSTS)]
    run = run_settlement(cases_frame(cases), weights(WEIGHTS), pol, h, "year", "2024")
    rows = run.tables["hospitals"].to_pylist()
    assert [r["drg_standard"] + r["corridor"] for r in rows] == [D(t) for t in EDGE]
    assert [r["corridor_reward"] for r in rows] == [D(r) for r in REWARD]
    lines = {r["line"]: r["amount"] for r in run.tables["reconciliation"].to_pylist()}
    # Σ adjustments = −1,000 − 500.50 − 500 + 0 + 0 + 250 + 500 + 500 = −750.50: the reserve gains 750.50;
    # rewards 2,000.50 are paid from it (included in the corridor line)
    assert lines["corridor"] == D("-750.50") and lines["corridor_reward"] == D("2000.50")
    assert run.meta["rules"]["corridor"] == "bands_pay" and run.meta["rules"]["point_value"] == "fixed"


def test_reward_outside_the_budget_leaves_the_reserve():
    pol = corridor_policy(reserve={"share": "0.1"})
    pol_out = policy(corridor={"bands": QUOTED_BANDS, "reward_from": "outside"},
                     point_value={"mode": "fixed", "value": "100"}, reserve={"share": "0.1"})
    h = hospitals(pol, [("H0", 2)])
    frame = cases_frame([case("c0", "H0", "A01", "8000", "0")])
    inside = {r["line"]: r["amount"] for r in run_settlement(frame, weights(WEIGHTS), pol, h, "year", "2024")
              .tables["reconciliation"].to_pylist()}
    outside = {r["line"]: r["amount"] for r in run_settlement(frame, weights(WEIGHTS), pol_out, h, "year", "2024")
               .tables["reconciliation"].to_pylist()}
    # reserve 10% of 1,000,000.00 = 100,000.00. Inside: adjustment −1,000.00 (cost 8,000 + reward 1,000 −
    # standard 10,000) → the reserve gains 1,000.00 → 101,000.00. Outside: the claw-back of the saving
    # (−2,000.00) stays with the reserve and the 1,000.00 reward is paid outside the budget → 102,000.00.
    assert inside["reserve_balance"] == D("101000.00") and outside["reserve_balance"] == D("102000.00")
    assert outside["corridor"] == D("-2000.00") and outside["corridor_reward"] == D("1000.00")


# ---- half-yearly release through the ledger --------------------------------------------------------------

def release_policy(**changes):
    # monthly at 100 元/点 forecast, 10% withheld, released per half year by score band
    return policy(budget=[{"insurance_type": "all", "amount": "120000.00"}], reserve={"share": "0"},
                  monthly={"provisional": "100", "withhold": "0.1"},
                  assessment={"schedule": "half", "release": [
                      {"min_score": 90, "share": "1"}, {"min_score": 60, "share": "0.7"},
                      {"min_score": 0, "share": "0"}]}, **changes)


def year_cases(year=2024, months=range(1, 13), cost="9000", patient="1000", hospital="HA"):
    frame = cases_frame([case(f"{hospital}-{year}-{m}", hospital, "A01", cost, patient, m) for m in months])
    return frame.assign(discharge_date=[d.replace("2024", str(year)) for d in frame["discharge_date"]])


def settle_months(pol, h, frame, ledger, year=2024, months=range(1, 13), scores=None):
    for m in months:
        run = run_settlement(frame, weights(WEIGHTS), pol, h, "month", f"{year}-{m:02d}",
                             scores=(scores or {}).get(m), ledger=ledger)
        ledger = run.ledger
    return ledger, run


def test_half_yearly_release_reads_the_ledger():
    # HA: one A01 case a month, cost 9,000.00, patient 1,000.00; 100 points × 100 元 = 10,000.00 standard,
    # fund 9,000.00 provisional, 900.00 withheld, 8,100.00 paid each month.
    pol = release_policy()
    h = hospitals(pol, [("HA", 2)])
    frame = year_cases()
    scores = {6: {"HA": 95_00}, 12: {"HA": 70_00}}
    ledger, _ = settle_months(pol, h, frame, Ledger(), months=range(1, 6))
    june = run_settlement(frame, weights(WEIGHTS), pol, h, "month", "2024-06", scores=scores[6], ledger=ledger)
    # June: score 95 → share 1: 100% of Jan–Jun's withhold 6 × 900.00 = 5,400.00; transfer 8,100 + 5,400
    release = june.tables["releases"].to_pylist()
    assert [(r["release_period"], r["withheld"], r["released"]) for r in release] == [
        ("2024-01..2024-06", D("5400.00"), D("5400.00"))]
    row = june.tables["hospitals"].to_pylist()[0]
    assert (row["paid"], row["released"], row["transfer"]) == (D("8100.00"), D("5400.00"), D("13500.00"))
    ledger = june.ledger
    # re-running June changes nothing: the same ledger, byte for byte
    again = run_settlement(frame, weights(WEIGHTS), pol, h, "month", "2024-06", scores=scores[6], ledger=ledger)
    assert again.ledger.to_csv() == ledger.to_csv()
    ledger, december = settle_months(pol, h, frame, ledger, months=range(7, 13), scores=scores)
    # December: score 70 → share 0.7 of Jul–Dec's 5,400.00 = 3,780.00
    assert [(r["release_period"], r["released"]) for r in december.tables["releases"].to_pylist()] == [
        ("2024-07..2024-12", D("3780.00"))]
    year = run_settlement(frame, weights(WEIGHTS), pol, h, "year", "2024", ledger=ledger)
    row = year.tables["hospitals"].to_pylist()[0]
    # year: point value (120,000 + 12 × 1,000) ÷ 1,200 points = 110 元 → fund 10,000.00 a case = 120,000.00.
    # Withheld 10,800.00, released 5,400 + 3,780 = 9,180.00 in the month runs, nothing more now; kept 1,620.00.
    # Annual due 120,000 − 1,620 = 118,380.00; paid 12 × 8,100 + 9,180 = 106,380.00; balance 12,000.00.
    assert (row["withheld"], row["released"], row["released_before"]) == (D("10800.00"), D("9180.00"),
                                                                         D("9180.00"))
    assert (row["annual_due"], row["monthly_paid"], row["balance"]) == (D("118380.00"), D("106380.00"),
                                                                        D("12000.00"))
    year_entry = [e for e in year.ledger.entries if e["run"] == "2024"]
    assert [(e["released"], e["paid"]) for e in year_entry] == [(0, 12_000_00)]
    # a month re-run that contradicts the ledger stops, naming the entry
    changed = frame.assign(total_cost=["9500.00"] * 12, patient_paid=["1500.00"] * 12)
    with pytest.raises(LedgerError, match=r"entry run 2024-03 hospital HA fund 测试市/all"):
        run_settlement(changed, weights(WEIGHTS), pol, h, "month", "2024-03", ledger=ledger)


def test_release_schedule_needs_the_ledger_and_the_months_in_order():
    pol = release_policy()
    h = hospitals(pol, [("HA", 2)])
    frame = year_cases()
    with pytest.raises(PaymentInputError, match=r"schedule = \"half\".*ledger"):
        run_settlement(frame, weights(WEIGHTS), pol, h, "year", "2024")
    ledger, _ = settle_months(pol, h, frame, Ledger(), months=range(1, 3))
    with pytest.raises(LedgerError, match="no month run 2024-03"):
        settle_months(pol, h, frame, ledger, months=range(4, 7))


def test_ledger_file_round_trip(tmp_path):
    pol = release_policy()
    h = hospitals(pol, [("HA", 2)])
    ledger, _ = settle_months(pol, h, year_cases(), Ledger(), months=range(1, 3))
    write_ledger(ledger, tmp_path / "ledger.csv")
    back = read_ledger(tmp_path / "ledger.csv")
    assert back.entries == ledger.entries
    assert (tmp_path / "ledger.csv").read_text(encoding="utf-8").splitlines()[1].startswith(
        "2024-01,HA,测试市,all,9000.00,900.00,0.00,8100.00,")


# ---- per-hospital totals and minimum volumes --------------------------------------------------------------

def test_hospital_total_and_minimum_volume():
    # 100 元/点 fixed; A01 case: standard 10,000.00, patient 1,000.00, fund 9,000.00; cost 9,500 (no corridor).
    # HA: 6 cases 310 + 4 cases 390 → DRG fund 54,000.00 + 36,000.00 = 90,000.00 > total 80,000.00 by 10,000.00.
    # HB: 10 cases 310 (90,000.00), minimum volume 12 → 2 missing × 2,000.00 = 4,000.00 deducted.
    def run(over):
        pol = policy(budget=[{"insurance_type": "310", "amount": "500000"}, {"insurance_type": "390",
                                                                             "amount": "500000"}],
                     point_value={"mode": "fixed", "value": "100"},
                     totals={"hospitals": {"HA": "80000"}, **over},
                     min_volume={"hospitals": {"HB": 12}, "deduction": "2000"})
        h = hospitals(pol, [("HA", 2), ("HB", 2)])
        cases = [case(f"a{i}", "HA", "A01", "9500", "1000", insurance="310" if i < 6 else "390") for i in range(10)]
        cases += [case(f"b{i}", "HB", "A01", "9500", "1000") for i in range(10)]
        return run_settlement(cases_frame(cases), weights(WEIGHTS), pol, h, "year", "2024")

    capped = run({"over": "cap"})
    rows = {(r["hospital_id"], r["insurance_type"]): r for r in capped.tables["hospitals"].to_pylist()}
    # cap: the whole 10,000.00 deducted, split over HA's funds as their fund payments 54,000 : 36,000
    assert rows[("HA", "310")]["total_deduction"] == D("6000.00")
    assert rows[("HA", "390")]["total_deduction"] == D("4000.00")
    assert rows[("HB", "310")]["volume_deduction"] == D("4000.00")
    # HA 310: due 54,000 (withhold 5,400 all released at default score 100) − 6,000 = 48,000.00
    assert rows[("HA", "310")]["annual_due"] == D("48000.00")
    assert rows[("HB", "310")]["annual_due"] == D("86000.00")
    lines = {(r["insurance_type"], r["line"]): r["amount"] for r in capped.tables["reconciliation"].to_pylist()}
    # 310: HA's 6,000.00 + HB's 4,000.00 = 10,000.00 kept in the fund; 390: HA's 4,000.00
    assert lines[("310", "deducted")] == D("10000.00") and lines[("390", "deducted")] == D("4000.00")
    # share: the fund pays 50% of the excess → 5,000.00 deducted: 3,000.00 and 2,000.00
    shared = run({"over": "share", "fund_share": "0.5"})
    rows = {(r["hospital_id"], r["insurance_type"]): r for r in shared.tables["hospitals"].to_pylist()}
    assert (rows[("HA", "310")]["total_deduction"], rows[("HA", "390")]["total_deduction"]) == (
        D("3000.00"), D("2000.00"))


# ---- carry-forward over two years --------------------------------------------------------------------------

def test_carry_forward_over_two_years():
    pol = policy(budget=[{"insurance_type": "all", "amount": "24000"}], reserve={"share": "0"},
                 monthly={"provisional": "100", "withhold": "0.1"},
                 corridor={"carry_balance": True, "carry_from_month": 1, "carry_months": 2})
    h = hospitals(pol, [("HA", 2)])
    w = weights(WEIGHTS)
    # 2024: cases in Jan and Feb (cost 9,000, patient 1,000): monthly 10,000 standard, 9,000 provisional, 900
    # withheld, 8,100 paid. Year: (24,000 + 2,000) ÷ 200 points = 130 元 → fund 12,000.00 a case = 24,000.00;
    # withhold 1,800 released (score 100) → annual 24,000.00 − paid 16,200.00 = balance 7,800.00, carried.
    y1 = year_cases(2024, (1, 2))
    ledger, _ = settle_months(pol, h, y1, Ledger(), 2024, (1, 2))
    year1 = run_settlement(y1, w, pol, h, "year", "2024", ledger=ledger)
    row = year1.tables["hospitals"].to_pylist()[0]
    assert (row["balance"], row["carried_out"]) == (D("7800.00"), D("7800.00"))
    ledger = year1.ledger
    # 2025: cases in Jan, Feb, Mar; the 7,800.00 settled in Jan and Feb: 3,900.00 each on top of 8,100.00
    y2 = year_cases(2025, (1, 2, 3))
    jan = run_settlement(y2, w, pol, h, "month", "2025-01", ledger=ledger)
    assert [(r["paid"], r["carried_in"], r["transfer"]) for r in jan.tables["hospitals"].to_pylist()] == [
        (D("8100.00"), D("3900.00"), D("12000.00"))]
    ledger, feb = settle_months(pol, h, y2, jan.ledger, 2025, (2, 3))
    carried = [e["carried_in"] for e in ledger.entries if e["run"].startswith("2025-")]
    assert carried == [3_900_00, 3_900_00, 0]  # nothing carried twice: Σ = 7,800.00
    # 2025 year: (24,000 + 3,000) ÷ 300 = 90 元 → fund 8,000.00 a case = 24,000.00; paid 3 × 8,100 = 24,300.00
    # (the carried 7,800.00 belongs to 2024) → balance −300.00, carried: deducted in 2026-01 and 2026-02
    year2 = run_settlement(y2, w, pol, h, "year", "2025", ledger=ledger)
    assert year2.tables["hospitals"].to_pylist()[0]["carried_out"] == D("-300.00")
    y3 = year_cases(2026, (1,))
    # a carry month before the year it carries from is cleared stops (nothing carried from an unknown balance)
    with pytest.raises(LedgerError, match="year 2025 has month runs but no year-end clearing"):
        run_settlement(y3, w, pol, h, "month", "2026-01", ledger=ledger)
    jan3 = run_settlement(y3, w, pol, h, "month", "2026-01", ledger=year2.ledger)
    assert [(r["carried_in"], r["transfer"]) for r in jan3.tables["hospitals"].to_pylist()] == [
        (D("-150.00"), D("7950.00"))]
    with pytest.raises(LedgerError, match="year 2024 is cleared"):
        run_settlement(year_cases(2024, (3,)), w, pol, h, "month", "2024-03", ledger=year2.ledger)


# ---- the two readings of the hospital coefficient ----------------------------------------------------------

@pytest.mark.parametrize("point_value", [{"mode": "fixed", "value": "180"}, {}])
def test_coefficient_on_the_standard_or_on_the_fund_amount(point_value):
    # Ci = 0.5 (level 1) and 1.15 (level 3); one A01 case each (RW 1.0, mean 18,000.00), patient 2,500.00.
    # On the standard: points 50 and 115 at 180 元 (fixed, or rescaled: budget 24,700 + patient 5,000 over 165
    # points = 180 元) → standards 9,000.00 and 20,700.00 (2.30×), fund 6,500.00 and 18,200.00 (2.80×).
    # On the fund amount (fixed 180 元 only): 100 points → 18,000.00 − 2,500.00 = 15,500.00 × Ci → fund
    # 7,750.00 and 17,825.00 (2.30×), standards 10,250.00 and 20,325.00.
    w = weights([("A01", "1.0", "18000.00")])
    cases = [case("c1", "H1", "A01", "18000", "2500"), case("c3", "H3", "A01", "18000", "2500")]
    base = dict(budget=[{"insurance_type": "all", "amount": "24700"}], reserve={"share": "0"},
                coefficients={"levels": {"1": "0.5", "2": "0.75", "3": "1.15"}})
    if point_value:
        base["point_value"] = point_value
    readings = {"standard": (("9000.00", "20700.00"), ("6500.00", "18200.00"))}
    if point_value:
        readings["fund"] = (("10250.00", "20325.00"), ("7750.00", "17825.00"))
    for applies_to, (standards, funds) in readings.items():
        pol = policy(**{**base, "coefficients": {**base["coefficients"], "applies_to": applies_to}})
        run = run_settlement(cases_frame(cases), w, pol, hospitals(pol, [("H1", 1), ("H3", 3)]), "year", "2024")
        lines = run.tables["case_lines"].to_pylist()
        assert [x["standard"] for x in lines] == [D(v) for v in standards], applies_to
        assert [x["fund_payment"] for x in lines] == [D(v) for v in funds], applies_to
        assert run.meta["rules"]["coefficient_applies_to"] == applies_to


def test_new_keys_are_validated_by_name():
    with pytest.raises(PolicyError, match=r"\[corridor\] bands #2 include_upto: missing"):
        policy(corridor={"bands": [QUOTED_BANDS[0], {"upto": "1.1", "pay": "standard"}, {"pay": "capped"}]})
    with pytest.raises(PolicyError, match=r"\[corridor\] bands #1 pay: missing"):
        policy(corridor={"bands": [{"upto": "0.9", "fund_share": "0"}, {"pay": "standard"}]})
    with pytest.raises(PolicyError, match=r"bands #1 reward_share: give reward_share"):
        policy(corridor={"bands": [{"upto": "0.9", "include_upto": True, "pay": "cost_plus_reward"},
                                   {"pay": "standard"}]})
    with pytest.raises(PolicyError, match=r"bands #1 pay: \"capped\""):
        policy(corridor={"bands": [{"upto": "0.9", "include_upto": True, "pay": "capped"}, {"pay": "standard"}]})
    with pytest.raises(PolicyError, match=r"\[coefficients\] applies_to: \"fund\""):
        policy(coefficients={"applies_to": "fund"})
    with pytest.raises(PolicyError, match=r"\[assessment\] schedule: 'weekly' is not one of"):
        policy(assessment={"schedule": "weekly"})
    with pytest.raises(PolicyError, match=r"\[corridor\] carry_months: 13 must be a whole number from 1 to 12"):
        policy(corridor={"carry_months": 13})
    with pytest.raises(PolicyError, match=r"\[totals\] fund_share: only with over = \"share\""):
        policy(totals={"fund_share": "0.5"})
    with pytest.raises(PolicyError, match=r"\[min_volume\] hospitals HB: '12' must be a whole number"):
        policy(min_volume={"hospitals": {"HB": "12"}})
    with pytest.raises(PolicyError, match=r"\[point_value\] value: missing"):
        policy(point_value={"mode": "fixed"})


def test_totals_and_minimum_volumes_from_the_hospital_table():
    # the same figures as above from the hospital table's 总控额度 and 最低服务人次 columns; the policy's
    # [totals] hospitals overrides the table (HB: 95,000.00 → its 90,000.00 is within the total, nothing deducted)
    import pandas as pd

    from payment import read_hospitals

    pol = policy(point_value={"mode": "fixed", "value": "100"}, totals={"hospitals": {"HB": "95000"}},
                 min_volume={"deduction": "2000"})
    table = pd.DataFrame({"医疗机构编码": ["HA", "HB"], "医院等级": ["2", "2"], "总控额度": ["80000", "1"],
                          "最低服务人次": ["", "12"]})
    h = read_hospitals(table, pol)
    assert (h.totals_fen, h.min_cases) == ({"HA": 80_000_00, "HB": 95_000_00}, {"HB": 12})
    cases = [case(f"a{i}", "HA", "A01", "9500", "1000") for i in range(10)]
    cases += [case(f"b{i}", "HB", "A01", "9500", "1000") for i in range(10)]
    run = run_settlement(cases_frame(cases), weights(WEIGHTS), pol, h, "year", "2024")
    rows = {r["hospital_id"]: r for r in run.tables["hospitals"].to_pylist()}
    # HA: 90,000.00 − total 80,000.00 = 10,000.00 deducted; HB: within 95,000.00, 2 missing cases × 2,000.00
    assert (rows["HA"]["total_deduction"], rows["HA"]["volume_deduction"]) == (D("10000.00"), D("0.00"))
    assert (rows["HB"]["total_deduction"], rows["HB"]["volume_deduction"]) == (D("0.00"), D("4000.00"))
