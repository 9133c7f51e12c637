"""Hand-computed settlement scenarios: every case type, both methods, withhold and release, every corridor band.

All figures below were worked out by hand from the rules in the README (payment section); amounts in 元.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from payment import PaymentInputError, PolicyError, run_settlement
from payment.engine import corridor_adjustment
from payment_helpers import case, cases_frame, hospitals, policy, weights

D = Decimal

# Weights: A01 RW 1.0 (mean 10,000.00), B01 RW 2.0 without a mean (→ RW × average_cost = 20,000.00),
# P01 per diem; Z99 has no weight.
WEIGHTS = [("A01", "1.0", "10000.00"), ("B01", "2.0", None), ("P01", "0.8", "8000.00")]
# HA level 3 → 1.2; HB level 2 → 1.0; HC level 1 → 0.8; HD level 2 with its own coefficient 1.1.
HOSPITALS = [("HA", 3), ("HB", 2), ("HC", 1), ("HD", 2, "1.1")]
SCORES = {"HA": 95_00, "HB": 70_00, "HC": 50_00, "HD": 90_00}


def scenario_policy(method="point", provisional="90"):
    return policy(
        method=method,
        # budget 500,000.00; reserve 3.12% = 15,600.00; distributable 484,400.00
        budget=[{"insurance_type": "all", "amount": "500000.00"}],
        reserve={"share": "0.0312"},
        tracks={"per_diem": {"rates": {"P01": "300.00"}}, "long_stay": {"days": 60, "ratio": "1"},
                "special": {"ratio": "1", "max_share": "0.2"}, "event": {"ratio": "1"},
                "ungroupable": {"pay": "fee_for_service", "ratio": "0.8"}},
        monthly={"provisional": provisional, "withhold": "0.1"},
        assessment={"release": [{"min_score": 90, "share": "1"}, {"min_score": 60, "share": "0.5"},
                                {"min_score": 0, "share": "0"}]},
        corridor={"bands": [{"upto": "0.9", "fund_share": "0.2"}, {"upto": "1.1", "fund_share": "0"},
                            {"upto": "1.2", "fund_share": "0.5"}, {"fund_share": "0"}]},
    )


def scenario_cases():
    out = []
    for i in range(10):  # five in January, five in February
        month = 1 + i // 5
        out.append(case(f"HA-n{i}", "HA", "A01", "9000", "1000", month))    # normal: 1.0×100×1.2 = 120 points
        out.append(case(f"HB-n{i}", "HB", "B01", "21000", "2000", month))   # normal: 2.0×100×1.0 = 200 points
        out.append(case(f"HC-n{i}", "HC", "A01", "9500", "500", month))     # normal: 1.0×100×0.8 = 80 points
        out.append(case(f"HD-n{i}", "HD", "A01", "13500", "1000", month))   # normal: 1.0×100×1.1 = 110 points
    out += [
        # high: RW 1.0 → K 2.5; 30,000 > 2.5 × 10,000; points 120 + (30,000/10,000 − 2.5) × 1.0 × 100 = 170
        case("HA-high", "HA", "A01", "30000", "3000", 1),
        # low: 6,000 < 0.4 × 20,000; points 6,000/20,000 × 2.0 × 100 = 60
        case("HB-low", "HB", "B01", "6000", "600", 1),
        case("HA-perdiem", "HA", "P01", "2500", "500", 1, los=10),          # 300.00 × 10 days = 3,000.00
        case("HA-long", "HA", "A01", "50000", "5000", 2, los=61),           # > 60 days: 50,000.00 × 1
        case("HB-ungroupable", "HB", "0000", "10000", "1000", 1, status="ungroupable"),  # 10,000 × 0.8
        case("HB-special", "HB", "B01", "100000", "10000", 2),              # 特病单议: 100,000.00 × 1
        case("HC-noweight", "HC", "Z99", "7000", "700", 1),                 # no weight: held, paid 0
        case("HC-event", "HC", "A01", "20000", "2000", 2),                  # 突发事件: 20,000.00 × 1
        case("HD-invalid", "HD", "0000", "5000", "0", 1, status="invalid"),  # rejected
    ]
    return out


def run_scenario(method="point", provisional="90"):
    pol = scenario_policy(method, provisional)
    return run_settlement(cases_frame(scenario_cases()), weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "year",
                          "2024", scores=SCORES, special={"HB-special": ""}, events={"HC-event": "flood 洪水"})


def lines_by_id(run):
    return {r["case_id"]: r for r in run.tables["case_lines"].to_pylist()}


def test_point_method_case_lines():
    # Σ points = HA 10×120 + 170 = 1,370; HB 10×200 + 60 = 2,060; HC 10×80 = 800; HD 10×110 = 1,100 → 5,330
    # Σ patient shares of DRG-track cases = 13,000 + 20,600 + 5,000 + 10,000 = 48,600.00
    # point value = (484,400.00 + 48,600.00) ÷ 5,330 = 100.000000 元/点
    run = run_scenario()
    lines = lines_by_id(run)
    expected = {  # case: (type, points, standard, fund payment)
        "HA-n0": ("normal", "120", "12000.00", "11000.00"),
        "HB-n0": ("normal", "200", "20000.00", "18000.00"),
        "HC-n0": ("normal", "80", "8000.00", "7500.00"),
        "HD-n0": ("normal", "110", "11000.00", "10000.00"),
        "HA-high": ("high", "170", "17000.00", "14000.00"),
        "HB-low": ("low", "60", "6000.00", "5400.00"),
        "HA-perdiem": ("per_diem", "0", "3000.00", "2500.00"),
        "HA-long": ("long_stay", "0", "50000.00", "45000.00"),
        "HB-ungroupable": ("ungroupable", "0", "8000.00", "7000.00"),
        "HB-special": ("special", "0", "100000.00", "90000.00"),
        "HC-noweight": ("held", "0", "0.00", "0.00"),
        "HC-event": ("event", "0", "20000.00", "18000.00"),
        "HD-invalid": ("rejected", "0", "0.00", "0.00"),
    }
    for cid, (kind, points, standard, fund) in expected.items():
        line = lines[cid]
        assert (line["case_type"], line["points"], line["standard"], line["fund_payment"]) == (
            kind, D(points), D(standard), D(fund)), cid
    assert lines["HA-n0"]["point_value"] == D("100.000000")
    assert lines["HA-n0"]["provisional_standard"] == D("10800.00")  # 120 points × 90 元 (forecast)
    assert "洪水" in lines["HC-event"]["note"] and "invalid" in lines["HD-invalid"]["note"]
    assert lines["HC-noweight"]["rw"] is None and len(lines) == 49  # every case (40 + 9) has its line


def test_point_method_year_end_statement():
    run = run_scenario()
    rows = {r["hospital_id"]: r for r in run.tables["hospitals"].to_pylist()}
    expected = {
        # HA: monthly at 90 元/点: Jan 5×(10,800−1,000) + (15,300−3,000) + per diem 2,500 = 63,800.00, withheld 10% =
        #     6,380.00; Feb 5×9,800 + long stay 45,000 = 94,000.00, withheld 9,400.00 → withheld 15,780.00,
        #     paid 142,020.00. DRG fund 10×11,000 + 14,000 = 124,000.00; other tracks 2,500 + 45,000 = 47,500.00.
        #     Corridor: standard 137,000, cost 120,000 (ratio 0.876 < 0.9): surplus in the band below
        #     0.9 × 137,000 = 123,300 is 3,300 × 20% = 660.00 taken back. Score 95 → all released.
        #     Annual 124,000 + 47,500 − 660 = 170,840.00; balance 170,840 − 142,020 = 28,820.00.
        "HA": {"drg_fund": "124000.00", "other_tracks_fund": "47500.00", "provisional": "157800.00",
               "withheld": "15780.00", "released": "15780.00", "corridor": "-660.00", "annual_due": "170840.00",
               "monthly_paid": "142020.00", "balance": "28820.00"},
        # HB: Jan 5×(18,000−2,000) + (5,400−600) + ungroupable 7,000 = 91,800.00 (withheld 9,180.00); Feb 5×16,000
        #     + special 90,000 = 170,000.00 (withheld 17,000.00) → withheld 26,180.00, paid 235,620.00.
        #     DRG fund 10×18,000 + 5,400 = 185,400.00; corridor: cost 216,000 ÷ standard 206,000 = 1.049 → band
        #     0.9–1.1, fund share 0 → 0.00. Score 70 → half released: 13,090.00; 13,090.00 kept.
        #     Annual 185,400 + 97,000 − 13,090 = 269,310.00; balance 269,310 − 235,620 = 33,690.00.
        "HB": {"drg_fund": "185400.00", "other_tracks_fund": "97000.00", "provisional": "261800.00",
               "withheld": "26180.00", "released": "13090.00", "corridor": "0.00", "annual_due": "269310.00",
               "monthly_paid": "235620.00", "balance": "33690.00"},
        # HC: each month 5×(7,200−500) = 33,500.00, withheld 3,350.00; the event case 18,000.00 paid in full in
        #     February → paid 30,150 + 30,150 + 18,000 = 78,300.00. Corridor: cost 95,000 ÷ 80,000 = 1.1875:
        #     excess between 1.1 × 80,000 = 88,000 and 95,000 is 7,000 × 50% = 3,500.00. Score 50 → nothing
        #     released. Annual 75,000 + 18,000 + 3,500 − 6,700 = 89,800.00; balance 89,800 − 78,300 = 11,500.00.
        "HC": {"drg_fund": "75000.00", "event_fund": "18000.00", "provisional": "67000.00", "withheld": "6700.00",
               "released": "0.00", "corridor": "3500.00", "annual_due": "89800.00", "monthly_paid": "78300.00",
               "balance": "11500.00"},
        # HD: each month 5×(9,900−1,000) = 44,500.00, withheld 4,450.00 → paid 80,100.00. Corridor: cost 135,000
        #     ÷ 110,000 = 1.227: 1.1–1.2 band 121,000…132,000 = 11,000 × 50% = 5,500.00; above 1.2 the hospital
        #     bears it. Score 90 → all released. Annual 100,000 + 5,500 = 105,500.00; balance 25,400.00.
        "HD": {"drg_fund": "100000.00", "provisional": "89000.00", "withheld": "8900.00", "released": "8900.00",
               "corridor": "5500.00", "annual_due": "105500.00", "monthly_paid": "80100.00", "balance": "25400.00"},
    }
    for hospital, values in expected.items():
        for name, amount in values.items():
            assert rows[hospital][name] == D(amount), (hospital, name)
    assert rows["HB"]["n_unpaid"] == 0 and rows["HC"]["n_unpaid"] == 1 and rows["HD"]["n_unpaid"] == 1


def test_reconciliation_lines():
    run = run_scenario()
    lines = {r["line"]: r["amount"] for r in run.tables["reconciliation"].to_pylist()}
    # reserve 15,600.00 − tracks (2,500 + 45,000 + 90,000 + 7,000 = 144,500.00) − corridor
    # (−660 + 0 + 3,500 + 5,500 = 8,340.00) + withhold kept (13,090 + 6,700 = 19,790.00) = −117,450.00 (超支)
    assert lines["distributable"] == D("484400.00") and lines["drg_fund"] == D("484400.00")
    assert lines["drg_minus_distributable"] == 0
    assert lines["reserve:per_diem"] == D("2500.00") and lines["reserve:special"] == D("90000.00")
    assert lines["corridor"] == D("8340.00") and lines["withhold_kept"] == D("19790.00")
    assert lines["reserve_balance"] == D("-117450.00")
    assert lines["event_fund"] == D("18000.00")


def test_rate_method_pays_the_same_at_the_equivalent_base_rate():
    # base rate = (484,400 + 48,600) ÷ Σ RW × coefficient (53.30) = 10,000.00 元; standard = RW × rate × coefficient
    # (HA normal: 1.0 × 10,000 × 1.2 = 12,000.00), the same money as 100 元/点; forecast rate 9,000 元 ≙ 90 元/点.
    point, rate = run_scenario(), run_scenario("rate", provisional="9000")
    assert lines_by_id(rate)["HA-n0"]["point_value"] == D("10000.000000")
    for name in ("standard", "fund_payment", "provisional_standard"):
        assert point.tables["case_lines"].column(name).equals(rate.tables["case_lines"].column(name))
    assert point.tables["hospitals"].column("balance").equals(rate.tables["hospitals"].column("balance"))
    assert rate.meta["policy"]["method"] == "rate"


def test_budget_is_allocated_to_the_fen_by_largest_remainder():
    # 3 cases of 100 points share 100.00 元: 33.333… each; floors 33.33 × 3 = 99.99; the 0.01 left goes to
    # the earliest case (all remainders equal).
    pol = policy(budget=[{"insurance_type": "all", "amount": "100.00"}], reserve={"share": "0"})
    cases = [case(f"c{i}", "HB", "A01", "9000", "0") for i in range(3)]
    run = run_settlement(cases_frame(cases), weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "year", "2024")
    assert run.tables["case_lines"].column("standard").to_pylist() == [D("33.34"), D("33.33"), D("33.33")]


def test_monthly_point_value_from_the_budget():
    # budget 120,000.00, no reserve: a month's share 10,000.00; January's DRG cases: 2 × 100 points, patient
    # shares 2 × 1,000.00 → point value (10,000 + 2,000) ÷ 200 = 60.00 元/点; standard 6,000.00, fund 5,000.00
    # each; provisional 10,000.00, withheld 10% = 1,000.00, paid 9,000.00.
    pol = policy(budget=[{"insurance_type": "all", "amount": "120000.00"}], reserve={"share": "0"},
                 monthly={"withhold": "0.1"})
    cases = [case("a", "HB", "A01", "9000", "1000"), case("b", "HB", "A01", "9000", "1000"),
             case("feb", "HB", "A01", "9000", "1000", month=2)]
    run = run_settlement(cases_frame(cases), weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "month", "2024-01")
    assert run.tables["case_lines"].column("case_id").to_pylist() == ["a", "b"]
    assert run.tables["case_lines"].column("fund_payment").to_pylist() == [D("5000.00"), D("5000.00")]
    row = run.tables["hospitals"].to_pylist()[0]
    assert (row["point_value"], row["provisional"], row["withheld"], row["paid"]) == (
        D("60.000000"), D("10000.00"), D("1000.00"), D("9000.00"))
    assert run.meta["cases"]["outside_period"] == 1


def test_special_cases_over_the_cap_are_paid_as_drg():
    # HB has 5 cases, max_share 0.2 → ⌊5 × 0.2⌋ = 1 special case: the first listed (s2); s1 and s3 are paid as
    # DRG cases with a note.
    pol = policy(tracks={"special": {"max_share": "0.2"}})
    cases = [case(f"s{i}", "HB", "A01", "9000", "0") for i in range(5)]
    run = run_settlement(cases_frame(cases), weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "year", "2024",
                         special={"s2": "", "s1": "", "s3": ""})
    lines = lines_by_id(run)
    assert [lines[f"s{i}"]["case_type"] for i in range(5)] == ["normal", "normal", "special", "normal", "normal"]
    assert "over the cap" in lines["s1"]["note"] and lines["s0"]["note"] == ""


def test_missing_weight_modes():
    cases = [case("a", "HB", "A01", "9000", "0"), case("z", "HB", "Z99", "7000", "700")]
    ffs = policy(missing_weight="fee_for_service")
    run = run_settlement(cases_frame(cases), weights(WEIGHTS), ffs, hospitals(ffs, HOSPITALS), "year", "2024")
    z = lines_by_id(run)["z"]
    assert (z["case_type"], z["standard"], z["fund_payment"]) == ("no_weight_ffs", D("7000.00"), D("6300.00"))
    strict = policy(missing_weight="error")
    with pytest.raises(PaymentInputError, match="Z99"):
        run_settlement(cases_frame(cases), weights(WEIGHTS), strict, hospitals(strict, HOSPITALS), "year", "2024")


@pytest.mark.parametrize("standard, cost, expected", [
    (100_000_00, 80_000_00, -2_000_00),   # ratio 0.8: surplus below 0.9 × 100,000 = 10,000 × 20% taken back
    (100_000_00, 105_000_00, 0),          # ratio 1.05: paid as computed
    (100_000_00, 115_000_00, 2_500_00),   # ratio 1.15: 5,000 above 110,000 × 50%
    (100_000_00, 150_000_00, 5_000_00),   # ratio 1.5: 10,000 in the 1.1–1.2 band × 50%; the rest borne
    (0, 150_000_00, 0),                   # no DRG standard: no corridor
])
def test_corridor_bands(standard, cost, expected):
    assert corridor_adjustment(scenario_policy(), standard, cost) == expected


def test_patient_share_from_the_benefit_calculator():
    # 310 at a level-3 hospital: 起付线 800, 85%: cost 10,000 − self-pay 1,000 − 800 = 8,200 × 0.85 = 6,970.00
    # fund → patient 3,030.00. Out of area without referral: 75% → 6,150.00 → patient 3,850.00. Patient P2 has two
    # cases and a cap of 10,000.00: 6,970.00 then only 3,030.00 → patient shares 3,030.00 and 6,970.00.
    pol = policy(benefits={"unreferred_ratio_cut": "0.10", "rules": [
        {"insurance_type": "310", "level": 3, "deductible": "800", "ratio": "0.85", "annual_cap": "10000"}]})
    frame = cases_frame([case(c, "HA", "A01", "10000", "0", month=m) for c, m in
                         (("p1", 1), ("p1-unreferred", 1), ("p2-first", 1), ("p2-second", 2))])
    frame = frame.drop(columns=["patient_paid"]).assign(
        self_pay_cost="1000", patient_id=["P1", "P3", "P2", "P2"], out_of_area_unreferred=["0", "是", "", "0"])
    run = run_settlement(frame, weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "year", "2024")
    assert run.tables["case_lines"].column("patient_share").to_pylist() == [
        D("3030.00"), D("3850.00"), D("3030.00"), D("6970.00")]
    assert set(run.tables["case_lines"].column("patient_share_source").to_pylist()) == {"benefit_calculator"}


def test_bad_policy_values_name_the_key():
    with pytest.raises(PolicyError, match=r"\[\[budget\]\] #1 amount: -5.00 must be positive"):
        policy(budget=[{"insurance_type": "all", "amount": "-5.00"}])
    with pytest.raises(PolicyError, match=r"\[coefficients\] levels 4: unknown hospital level"):
        policy(coefficients={"levels": {"4": "1.0"}})
    with pytest.raises(PolicyError, match=r"\[reserve\] share: 1.5 must be between 0 and 1"):
        policy(reserve={"share": "1.5"})
    with pytest.raises(PolicyError, match=r"\[monthly\] withold: unknown key"):
        policy(monthly={"withold": "0.1"})
    with pytest.raises(PolicyError, match=r"\[low_cost\] l: 0.40001 has more than 4 decimals"):
        policy(low_cost={"l": "0.40001"})


def test_bad_inputs_name_the_item():
    pol = policy()
    with pytest.raises(PaymentInputError, match=r"row 3: hospital HX: unknown hospital level '4'"):
        hospitals(pol, [("HA", 3), ("HX", 4)])
    cases = cases_frame([case("a", "HB", "A01", "9000", "0")])
    with pytest.raises(PaymentInputError,
                       match=r"period 2023: no cases with a discharge_date in it \(periods found: 2024\)"):
        run_settlement(cases, weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "year", "2023")
    with pytest.raises(PaymentInputError, match="hospital HQ is not in the hospital table"):
        run_settlement(cases_frame([case("a", "HQ", "A01", "9000", "0")]), weights(WEIGHTS), pol,
                       hospitals(pol, HOSPITALS), "year", "2024")
    bad = cases.assign(total_cost=["-1"])
    run = run_settlement(pd_concat(bad, cases), weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "year", "2024")
    first = run.tables["case_lines"].to_pylist()[0]
    assert first["case_type"] == "rejected" and "total_cost" in first["note"]  # kept with its reason, not dropped


def pd_concat(*frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)
