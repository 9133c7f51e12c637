"""Hand-computed scenarios of the settlement tracks (issue 19): per-diem rates by fund and level, interim
settlement of a long stay netted at discharge, 单病种 inside and outside the budget, the 特病单议 cap.

Every figure is worked out by hand in the comments (amounts in 元, to the fen).
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from payment import PaymentInputError, PolicyError, run_settlement
from payment.ledger import Ledger, LedgerError
from payment_helpers import case, cases_frame, hospitals, policy, weights

D = Decimal
WEIGHTS = [("A01", "1.0", "10000.00"), ("P01", "0.8", "8000.00")]
# HP level 3 (coefficient 1.2), HB level 2 (1.0)
HOSPITALS = [("HP", 3), ("HB", 2)]


def lines_by_id(run):
    return {r["case_id"]: r for r in run.tables["case_lines"].to_pylist()}


def reconciliation(run):
    return {(r["insurance_type"], r["line"]): r["amount"] for r in run.tables["reconciliation"].to_pylist()}


# --- 床日付费: rates by DRG × fund × level / hospital --------------------------------------------------------

def per_diem_policy(paid_from):
    # Two funds at one hospital: the city's employees (市职工, 310) and the provincial employees (省直, 320).
    # 市职工 budget 100,000.00, reserve 5% = 5,000.00, distributable 95,000.00;
    # 省直 budget 50,000.00, reserve 2,500.00, distributable 47,500.00.
    return policy(
        budget=[{"insurance_type": "310", "amount": "100000.00", "name": "市职工"},
                {"insurance_type": "320", "amount": "50000.00", "name": "省直"}],
        reserve={"share": "0.05"},
        tracks={"per_diem": {"rates": {"P01": "300.00"}, "paid_from": paid_from, "table": [
            {"drg": "P01", "fund": "市职工", "level": 3, "rate": "380.00"},       # level-3 hospitals, city fund
            {"drg": "P01", "fund": "省直", "hospital_id": "HP", "rate": "420.00"},  # negotiated for HP, 省直
        ]}})


def per_diem_cases():
    return [
        case("a-city", "HP", "A01", "9000", "1000", insurance="310"),   # 1.0 × 100 × 1.2 = 120 points
        case("a-prov", "HP", "A01", "9000", "0", insurance="320"),      # 120 points
        case("p-city", "HP", "P01", "12000", "1000", los=30, insurance="310"),
        case("p-prov", "HP", "P01", "12000", "1000", los=30, insurance="320"),
        case("p-hb", "HB", "P01", "4000", "0", los=10, insurance="310"),
    ]


def run_per_diem(paid_from):
    pol = per_diem_policy(paid_from)
    return run_settlement(cases_frame(per_diem_cases()), weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "year",
                          "2024")


def test_per_diem_rates_by_fund_at_one_hospital_from_the_reserve():
    run = run_per_diem("reserve")
    lines = lines_by_id(run)
    # p-city: 市职工 at a level-3 hospital → 380.00 × 30 days = 11,400.00; fund 11,400.00 − 1,000.00 = 10,400.00
    # p-prov: 省直 at HP → 420.00 × 30 = 12,600.00; fund 11,600.00
    # p-hb: 市职工 at level 2 → no specific row, the DRG's rate 300.00 × 10 = 3,000.00; fund 3,000.00
    assert [(lines[c]["case_type"], lines[c]["standard"], lines[c]["fund_payment"]) for c in
            ("p-city", "p-prov", "p-hb")] == [("per_diem", D("11400.00"), D("10400.00")),
                                             ("per_diem", D("12600.00"), D("11600.00")),
                                             ("per_diem", D("3000.00"), D("3000.00"))]
    # From the reserve: the DRG cases share the whole distributable budget.
    # 310: a-city alone, 120 points: standard 95,000.00 + 1,000.00 patient share = 96,000.00, fund 95,000.00
    # 320: a-prov alone: standard 47,500.00, fund 47,500.00
    assert (lines["a-city"]["fund_payment"], lines["a-prov"]["fund_payment"]) == (D("95000.00"), D("47500.00"))
    rec = reconciliation(run)
    # reserve 310: 5,000.00 − (10,400.00 + 3,000.00) = −8,400.00; 320: 2,500.00 − 11,600.00 = −9,100.00
    assert (rec[("310", "reserve:per_diem")], rec[("310", "reserve_balance")]) == (D("13400.00"), D("-8400.00"))
    assert (rec[("320", "reserve:per_diem")], rec[("320", "reserve_balance")]) == (D("11600.00"), D("-9100.00"))


def test_per_diem_paid_from_the_budget_reduces_what_the_points_share():
    run = run_per_diem("budget")
    lines = lines_by_id(run)
    assert lines["p-prov"]["fund_payment"] == D("11600.00")  # the same rate as from the reserve
    # 310: distributable 95,000.00 − per diem 10,400.00 − 3,000.00 = 81,600.00 for the points;
    #      point value (81,600.00 + 1,000.00) ÷ 120 = 688.333333 元/点, a-city standard 82,600.00, fund 81,600.00
    # 320: 47,500.00 − 11,600.00 = 35,900.00; a-prov standard = fund = 35,900.00 (value 299.166666 元/点)
    assert (lines["a-city"]["standard"], lines["a-city"]["fund_payment"]) == (D("82600.00"), D("81600.00"))
    assert lines["a-city"]["point_value"] == D("688.333333")
    assert (lines["a-prov"]["standard"], lines["a-prov"]["point_value"]) == (D("35900.00"), D("299.166666"))
    rec = reconciliation(run)
    assert rec[("310", "budget:per_diem")] == D("13400.00") and ("310", "reserve:per_diem") not in rec
    assert rec[("310", "reserve_balance")] == D("5000.00")  # the reserve pays nothing
    # Σ DRG-pool fund payments = distributable to the fen: 81,600.00 + 13,400.00 = 95,000.00; 35,900 + 11,600 = 47,500
    for fund in run.meta["funds"]:
        assert fund["drg_fund_fen"] + fund["budget_tracks_fen"] == fund["distributable_fen"]
    assert rec[("310", "drg_minus_distributable")] == 0


def test_per_diem_table_from_a_file(tmp_path):
    (tmp_path / "rates.csv").write_text("DRG组,基金,医院等级,医疗机构编码,床日费用标准\nP01,省直,,HP,420.00\n"
                                        "P01,市职工,三级,,380.00\n", encoding="utf-8")
    (tmp_path / "policy.toml").write_text(
        'version = "t"\nregion = "测试市"\naverage_cost = "10000.00"\n'
        '[[budget]]\ninsurance_type = "310"\namount = "100000.00"\nname = "市职工"\n'
        '[[budget]]\ninsurance_type = "320"\namount = "50000.00"\nname = "省直"\n'
        '[tracks.per_diem]\nrates = { "P01" = "300.00" }\nfile = "rates.csv"\n'
        '[assessment]\ndefault_score = 100\n', encoding="utf-8")
    from payment import load_policy

    pol = load_policy(tmp_path / "policy.toml")
    assert [(r.fund, r.level, r.hospital, r.amount_fen) for r in pol.per_diem_rates[1:]] == [
        ("省直", 0, "HP", 42000), ("市职工", 3, "", 38000)]
    run = run_settlement(cases_frame(per_diem_cases()), weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "year",
                         "2024")
    assert lines_by_id(run)["p-prov"]["standard"] == D("12600.00")
    assert list(run.meta["files_sha256"]) == ["[tracks.per_diem] file"]


@pytest.mark.parametrize("tracks, message", [
    ({"per_diem": {"table": [{"drg": "P01", "fund": "省直", "rate": "1"}]}}, r"names no \[\[budget\]\]"),
    ({"per_diem": {"paid_from": "pool"}}, "paid_from"),
    ({"per_diem": {"table": [{"drg": "P01", "rate": "1"}, {"drg": "P01", "rate": "2"}]}}, "row 2: the same"),
    ({"single_disease": {"prices": [{"diagnosis": "K35.800", "level": "四级", "price": "1"}]}}, "level"),
    ({"single_disease": {"budget": "both"}}, "budget"),
    ({"special": {"min_count": -1}}, "min_count"),
    ({"special": {"rounding": "nearest"}}, "rounding"),
    ({"interim": {"months": 0}}, "months"),
])
def test_track_keys_are_validated(tracks, message):
    with pytest.raises(PolicyError, match=message):
        policy(tracks=tracks)


# --- 中途结算: a 7-month stay settled at month 6 and at discharge ------------------------------------------

def interim_policy():
    # a forecast point value 90.00 元/点 for the months (no budget share to follow), withhold 10%
    return policy(tracks={"long_stay": {"days": 60, "ratio": "1"}, "interim": {"enabled": True, "months": 6}},
                  monthly={"provisional": "90", "withhold": "0.10"})


def stay_frame(rows):
    base = {"status": "ok", "insurance_type": "310", "hospital_id": "HB", "discharge_date": None,
            "settlement_date": None, "admit_date": None, "patient_id": None, "los_days": 5}
    return pd.DataFrame([{**base, **r} for r in rows])


# A DRG case each month: A01 at HB (level 2, 1.0) → 100 points × 90.00 = 9,000.00, fund 9,000.00 − 1,000.00
DRG_JULY = {"case_id": "drg-7", "drg": "A01", "total_cost": "9000.00", "patient_paid": "1000.00",
            "discharge_date": "2024-07-05"}
DRG_AUGUST = {**DRG_JULY, "case_id": "drg-8", "discharge_date": "2024-08-05"}
STAY = {"patient_id": "P1", "admit_date": "2024-01-10", "drg": "A01"}
# the interim record: settled 2024-07-10, 6 whole months after admission, no discharge date; 182 days so far,
# costs so far 60,000.00, patient share so far 6,000.00
INTERIM = {**STAY, "case_id": "stay-1", "settlement_date": "2024-07-10", "los_days": 182, "total_cost": "60000.00",
           "patient_paid": "6000.00"}
# the discharge: 2024-08-20, the whole stay: 223 days, 70,000.00, patient share 7,000.00
FINAL = {**STAY, "case_id": "stay-2", "discharge_date": "2024-08-20", "settlement_date": "2024-08-20",
         "los_days": 223, "total_cost": "70000.00", "patient_paid": "7000.00"}


def run_month(month, ledger, rows=None):
    pol = interim_policy()
    rows = rows or [DRG_JULY, INTERIM, DRG_AUGUST, FINAL]
    return run_settlement(stay_frame(rows), weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "month",
                          f"2024-{month:02d}", ledger=ledger)


def test_a_seven_month_stay_is_settled_at_month_six_and_nets_it_at_discharge():
    july = run_month(7, Ledger())
    j = lines_by_id(july)
    # July: the interim record is paid as the long-stay track so far: 60,000.00 × 1 = 60,000.00,
    # fund 60,000.00 − 6,000.00 − 0.00 paid before = 54,000.00, from the reserve (调剂金)
    assert (j["stay-1"]["case_type"], j["stay-1"]["standard"], j["stay-1"]["fund_payment"]) == (
        "interim", D("60000.00"), D("54000.00"))
    assert set(j) == {"drg-7", "stay-1"}  # dated by its settlement date; the August cases are not in July
    hb = july.tables["hospitals"].to_pylist()[0]
    # provisional 8,000.00 + 54,000.00 = 62,000.00; withheld 6,200.00; paid 55,800.00
    assert (hb["provisional"], hb["withheld"], hb["paid"]) == (D("62000.00"), D("6200.00"), D("55800.00"))
    stay_entries = [e for e in july.ledger.entries if e["stay"]]
    assert [(e["run"], e["stay"], e["interim"]) for e in stay_entries] == [("2024-07", "HB|P1|2024-01-10", 54000_00)]

    august = run_month(8, july.ledger)
    a = lines_by_id(august)
    # August: the whole stay is a long stay (223 > 60 days): 70,000.00 × 1 = 70,000.00, fund 63,000.00, of which
    # 54,000.00 was paid in July: netted (interim_netted), so August pays 9,000.00 on it
    assert (a["stay-2"]["case_type"], a["stay-2"]["fund_payment"], a["stay-2"]["interim_netted"]) == (
        "long_stay", D("63000.00"), D("54000.00"))
    hb = august.tables["hospitals"].to_pylist()[0]
    # provisional 8,000.00 + 63,000.00 − 54,000.00 = 17,000.00; withheld 1,700.00; paid 15,300.00
    assert (hb["provisional"], hb["withheld"], hb["paid"], hb["interim_netted"]) == (
        D("17000.00"), D("1700.00"), D("15300.00"), D("54000.00"))
    # never twice: July 54,000.00 + August 9,000.00 = 63,000.00 = the whole stay's fund payment
    rec = reconciliation(august)
    assert rec[("all", "interim_netted")] == D("54000.00")  # the reserve takes back what it advanced

    # re-running July against the ledger changes nothing; the same run twice gives the same bytes
    again = run_month(7, august.ledger)
    assert again.ledger is august.ledger
    for name, table in july.tables.items():
        assert table.equals(again.tables[name], check_metadata=True)


def test_interim_records_need_six_months_and_a_ledger():
    early = {**INTERIM, "case_id": "early", "settlement_date": "2024-07-09"}  # 5 whole months and 29 days
    run = run_month(7, Ledger(), [DRG_JULY, early])
    line = lines_by_id(run)["early"]
    assert (line["case_type"], line["fund_payment"]) == ("rejected", D("0.00"))
    assert "中途结算" in line["note"] and "interim" in line["note"]
    with pytest.raises(PaymentInputError, match="--ledger"):
        run_month(7, None)


def test_a_contradicting_interim_rerun_stops():
    july = run_month(7, Ledger())
    more = {**INTERIM, "total_cost": "61000.00"}
    with pytest.raises(LedgerError, match="2024-07 hospital HB .* was recorded and paid"):
        run_month(7, july.ledger, [DRG_JULY, more])


# --- 单病种: fixed prices inside and outside the budget -------------------------------------------------------

def single_policy(budget):
    # budget 100,000.00, reserve 5% 5,000.00, distributable 95,000.00
    return policy(budget=[{"insurance_type": "all", "amount": "100000.00"}], reserve={"share": "0.05"},
                  tracks={"single_disease": {"budget": budget, "prices": [
                      {"diagnosis": "K35.800", "level": 2, "price": "6000.00"},
                      {"diagnosis": "K35.800", "procedure": "47.0900", "level": 2, "price": "8000.00"}]}})


def run_single(budget):
    cases = [case("drg", "HB", "A01", "9000", "1000") | {"dx": "J18.900"},   # 100 points
             case("appendix", "HB", "A01", "7500", "1500") | {"dx": "K35.800", "procs": ("47.0900",)},
             case("no-proc", "HB", "A01", "5000", "500") | {"dx": "K35.800"},
             case("level-3", "HP", "A01", "9000", "1000") | {"dx": "K35.800"}]  # no level-3 price: DRG, 120 points
    pol = single_policy(budget)
    return run_settlement(cases_frame(cases), weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "year", "2024")


def test_single_disease_outside_the_budget_leaves_the_point_pool():
    run = run_single("outside")
    lines = lines_by_id(run)
    # appendix: K35.800 with 47.0900 at level 2 → 8,000.00, fund 6,500.00; no-proc: 6,000.00, fund 5,500.00
    assert [(lines[c]["case_type"], lines[c]["standard"], lines[c]["fund_payment"]) for c in ("appendix", "no-proc")] \
        == [("single_disease", D("8000.00"), D("6500.00")), ("single_disease", D("6000.00"), D("5500.00"))]
    # the point pool: drg 100 + level-3 120 = 220 points, patient shares 2,000.00;
    # value (95,000.00 + 2,000.00) ÷ 220 = 440.909090…; drg ⌊100 × 440.909090…⌋ = 44,090.90 (remainder 10/11),
    # level-3 ⌊120 × …⌋ = 52,909.09 (1/11): the one fen left goes to drg → 44,090.91 and 52,909.09 = 97,000.00
    assert (lines["drg"]["standard"], lines["level-3"]["standard"]) == (D("44090.91"), D("52909.09"))
    rec = reconciliation(run)
    assert rec[("all", "outside:single_disease")] == D("12000.00")  # 6,500.00 + 5,500.00, outside the budget
    assert rec[("all", "drg_fund")] == D("95000.00")


def test_single_disease_inside_the_budget_is_taken_off_the_distributable():
    run = run_single("inside")
    lines = lines_by_id(run)
    assert lines["appendix"]["fund_payment"] == D("6500.00")
    # pool 95,000.00 − 12,000.00 = 83,000.00; value (83,000.00 + 2,000.00) ÷ 220 = 386.363636…;
    # drg ⌊100 × 85,000 ÷ 220⌋ = 38,636.36 (remainder 4/11), level-3 ⌊120 × 85,000 ÷ 220⌋ = 46,363.63 (7/11):
    # the fen left goes to level-3 → 46,363.64; 38,636.36 + 46,363.64 = 85,000.00
    assert (lines["drg"]["standard"], lines["level-3"]["standard"]) == (D("38636.36"), D("46363.64"))
    rec = reconciliation(run)
    # DRG fund 85,000.00 − 2,000.00 = 83,000.00, + 12,000.00 单病种 = 95,000.00 = distributable
    assert (rec[("all", "drg_fund")], rec[("all", "budget:single_disease")]) == (D("83000.00"), D("12000.00"))
    assert rec[("all", "drg_minus_distributable")] == 0


# --- 特病单议: the cap rounds up and may have a minimum ----------------------------------------------------

def run_special(**special):
    pol = policy(tracks={"special": {"ratio": "1", "max_share": "0.05", **special}})
    cases = [case(f"s{i}", "HB", "A01", "9000", "1000") for i in range(4)] + \
        [case("approved", "HB", "A01", "150000", "5000")]
    return run_settlement(cases_frame(cases), weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "year", "2024",
                          special={"approved": "", "s0": ""})


def test_special_case_at_a_hospital_with_five_cases_is_paid():
    # 5 cases × 5% = 0.25 → ⌈0.25⌉ = 1 (⌊0.25⌋ = 0 refused it before): the first listed, approved, is paid
    # 150,000.00 × 1 = 150,000.00, fund 145,000.00 from the reserve; s0 (second listed) is over the cap: DRG
    lines = lines_by_id(run_special())
    assert (lines["approved"]["case_type"], lines["approved"]["fund_payment"]) == ("special", D("145000.00"))
    assert lines["s0"]["case_type"] == "normal" and "over the cap" in lines["s0"]["note"]
    down = lines_by_id(run_special(rounding="down"))
    assert down["approved"]["case_type"] == "high"  # ⌊0.25⌋ = 0: paid as a DRG case (150,000 > 2.5 × 10,000)
    at_least = lines_by_id(run_special(rounding="down", min_count=2))  # max(0, 2) = 2: both listed cases
    assert (at_least["approved"]["case_type"], at_least["s0"]["case_type"]) == ("special", "special")
    assert run_special().meta["rules"]["special_cap"] == {"rounding": "up", "min_count": 0}


# --- property: interim settlement month by month equals the plain-Python twin, and nothing is paid twice -------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import naive_settlement as naive  # noqa: E402


@st.composite
def long_stays(draw):
    """One stay admitted 2024-01-10: interim records in some months from July, the discharge after them."""
    months = sorted(draw(st.sets(st.integers(7, 11), min_size=1, max_size=3)))
    final = draw(st.integers(months[-1], 12))
    cost = patient = los = 0
    records = []
    for m in months + [final]:
        cost += draw(st.integers(0, 5_000_000))
        patient = min(cost, patient + draw(st.integers(0, 500_000)))
        los = max(los + 1, (m - 1) * 30)
        records.append({"month": m, "interim": len(records) < len(months), "cost": cost, "patient": patient,
                        "los": los})
    return records, draw(st.sampled_from(["A01", "P01"]))


@settings(max_examples=15, deadline=None)
@given(long_stays())
def test_interim_settlement_matches_its_twin(data):
    records, drg = data
    pol = policy(tracks={"long_stay": {"days": 60, "ratio": "0.9"}, "interim": {"enabled": True},
                         "per_diem": {"rates": {"P01": "321.45"}}},
                 monthly={"provisional": "90", "withhold": "0.10"})
    rows = []
    for k, r in enumerate(records):
        date = f"2024-{r['month']:02d}-{20 if not r['interim'] else 15:02d}"  # ≥ 6 whole months from 01-10
        rows.append({**STAY, "case_id": f"r{k}", "drg": drg, "los_days": r["los"],
                     "total_cost": f"{Decimal(r['cost']) / 100:.2f}", "patient_paid": f"{Decimal(r['patient']) / 100:.2f}",
                     "settlement_date": date, "discharge_date": None if r["interim"] else date})
    rows += [{**DRG_JULY, "case_id": f"drg-{m}", "discharge_date": f"2024-{m:02d}-01"} for m in range(7, 13)]
    ledger, got = Ledger(), {}
    for m in range(7, 13):
        run = run_settlement(stay_frame(rows), weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "month",
                             f"2024-{m:02d}", ledger=ledger)
        ledger = run.ledger
        for line in run.tables["case_lines"].to_pylist():
            if line["case_id"].startswith("r"):
                got[line["case_id"]] = (int(line["fund_payment"] * 100), int(line["interim_netted"] * 100))
    expected = naive.interim_stay(records, pol, 32145 if drg == "P01" else None)
    assert [got[f"r{k}"] for k in range(len(records))] == expected
    # never twice: the discharge nets exactly the interim payments the ledger recorded for the stay, so the
    # stay is paid its discharge record's fund payment over all its runs
    recorded = sum(e["interim"] for e in ledger.entries if e["stay"] == "HB|P1|2024-01-10")
    assert recorded == sum(got[f"r{k}"][0] for k in range(len(records) - 1)) == got[f"r{len(records) - 1}"][1]
