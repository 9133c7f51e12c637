"""异地就医 (issue 22): inbound cases grouped here, benefits by the insured region, cleared between funds.

Every expected figure below is worked out by hand from the rules in ``payment/cross_region.py`` and the README
(amounts in 元); the arithmetic is in the comments.
"""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import naive_settlement as naive
from payment import PolicyError, run_settlement
from payment.ledger import Ledger
from payment_helpers import case, cases_frame, hospitals, naive_hospitals, naive_weights, policy, weights

D = Decimal

# A01 RW 1.0 (mean 10,000.00) → 100 points; B01 RW 2.0 (mean 20,000.00) → 200 points; both hospitals level 2
# with coefficient 1.0.
WEIGHTS = [("A01", "1.0", "10000.00"), ("B01", "2.0", "20000.00")]
HOSPITALS = [("HA", 2), ("HB", 2)]
# Each insured region's own benefits (参保地政策), all 310: 320100 起付线 1,000, 80%, 未备案 −10%;
# 330100 起付线 500, 90%, 未备案 −20%.  The local table (起付线 800, 85%) must not be used for them.
REGION_A = {"unreferred_ratio_cut": "0.10",
            "rules": [{"insurance_type": "310", "deductible": "1000", "ratio": "0.80", "annual_cap": "300000"}]}
REGION_B = {"unreferred_ratio_cut": "0.20",
            "rules": [{"insurance_type": "310", "deductible": "500", "ratio": "0.90", "annual_cap": "200000"}]}


def region_policy(**cross):
    # Budget 5,079,000.00, no reserve: a month shares 5,079,000 ÷ 12 = 423,250.00.
    return policy(
        region="本市", budget=[{"insurance_type": "310", "amount": "5079000.00"}], reserve={"share": "0"},
        benefits={"unreferred_ratio_cut": "0.05", "rules": [
            {"insurance_type": "310", "deductible": "800", "ratio": "0.85", "annual_cap": "400000"}]},
        cross_region={"local": ["110100"], "benefits": {"320100": REGION_A, "330100": REGION_B}, **cross})


def month_cases():
    """10 local cases and 30 inbound ones (15 insured in 320100, 15 in 330100), all discharged in March 2024."""
    rows = []
    for i in range(10):  # local: cost 9,000.00, patient_paid 1,000.00; insured here (empty, 本市 or 110100)
        rows.append((case(f"L{i}", "HA" if i < 5 else "HB", "A01", "9000", "1000", month=3),
                     ["", "本市", "110100"][i % 3], "0", "0"))
    for i in range(15):  # 320100 at HA: A01, cost 9,000.00, no self-pay; L5..: 5 of them without a filed referral
        rows.append((case(f"A{i}", "HA", "A01", "9000", "0", month=3), "320100", "0", "是" if i >= 10 else "0"))
    for i in range(15):  # 330100 at HB: B01, cost 22,000.00 with 1,000.00 self-pay; 5 without referral
        rows.append((case(f"B{i}", "HB", "B01", "22000", "0", month=3), "330100", "1000", "1" if i >= 10 else ""))
    frame = cases_frame([r[0] for r in rows])
    inbound = [r[1] not in ("", "本市", "110100") for r in rows]
    frame["patient_paid"] = [None if x else p for x, p in zip(inbound, frame["patient_paid"])]
    frame["insured_region"] = [r[1] for r in rows]
    frame["self_pay_cost"] = [r[2] for r in rows]
    frame["out_of_area_unreferred"] = [r[3] for r in rows]
    return frame


def settle_month(pol, frame=None, ledger=None):
    return run_settlement(month_cases() if frame is None else frame, weights(WEIGHTS), pol,
                          hospitals(pol, HOSPITALS), "month", "2024-03", ledger=ledger)


def by_id(run):
    return {r["case_id"]: r for r in run.tables["case_lines"].to_pylist()}


def clearing(run):
    return {(r["insured_region"], r["month"]): r for r in run.tables["clearing"].to_pylist()}


def test_patient_shares_follow_each_insured_region_and_the_pool_inside():
    run = settle_month(region_policy(pool="inside"))
    lines = by_id(run)
    # 320100: eligible 9,000 − 0 − 1,000 = 8,000; × 80% = 6,400 fund → patient 2,600.00;
    #         unreferred 70%: 5,600 → patient 3,400.00.
    # 330100: eligible 22,000 − 1,000 − 500 = 20,500; × 90% = 18,450 → patient 3,550.00;
    #         unreferred 70%: 14,350 → patient 7,650.00.
    assert [lines[f"A{i}"]["patient_share"] for i in (0, 10)] == [D("2600.00"), D("3400.00")]
    assert [lines[f"B{i}"]["patient_share"] for i in (0, 10)] == [D("3550.00"), D("7650.00")]
    assert lines["L0"]["patient_share"] == D("1000.00")  # patient_paid given
    # The local point value with the inbound cases inside the pool:
    # points 10 × 100 + 15 × 100 + 15 × 200 = 5,500; patient shares 10 × 1,000 + (10 × 2,600 + 5 × 3,400) +
    # (10 × 3,550 + 5 × 7,650) = 10,000 + 43,000 + 73,750 = 126,750;
    # value = (423,250 + 126,750) ÷ 5,500 = 100.000000 元/点.
    assert lines["L0"]["point_value"] == lines["A0"]["point_value"] == D("100.000000")
    # standards 100 × 100 = 10,000.00 and 200 × 100 = 20,000.00
    assert (lines["A0"]["standard"], lines["A0"]["fund_payment"]) == (D("10000.00"), D("7400.00"))
    assert (lines["B10"]["standard"], lines["B10"]["fund_payment"]) == (D("20000.00"), D("12350.00"))
    rows = clearing(run)
    # 320100: cost 15 × 9,000 = 135,000; standard 15 × 10,000 = 150,000; patient 43,000;
    #   at discharge 10 × 6,400 + 5 × 5,600 = 92,000 (= cost − patient); paid 150,000 − 43,000 = 107,000;
    #   difference 107,000 − 92,000 = 15,000 (borne by the local pool).
    a = rows[("320100", "2024-03")]
    assert (a["n_cases"], a["n_drg"], a["total_cost"], a["drg_standard"], a["patient_share"], a["fund_at_discharge"],
            a["fund_payment"], a["clearing_amount"], a["difference"]) == (
        15, 15, D("135000.00"), D("150000.00"), D("43000.00"), D("92000.00"), D("107000.00"), D("92000.00"),
        D("15000.00"))
    # 330100: cost 330,000; standard 300,000; patient 73,750; at discharge 10 × 18,450 + 5 × 14,350 = 256,250;
    #   paid 300,000 − 73,750 = 226,250; difference −30,000.
    b = rows[("330100", "2024-03")]
    assert (b["total_cost"], b["drg_standard"], b["patient_share"], b["fund_at_discharge"], b["fund_payment"],
            b["difference"]) == (D("330000.00"), D("300000.00"), D("73750.00"), D("256250.00"), D("226250.00"),
                                 D("-30000.00"))
    assert a["borne_by"].startswith("pool") and len(rows) == 2
    assert run.tables["clearing_cases"].num_rows == 30


def test_pool_outside_reference_value_and_the_reserve_bears_the_difference():
    run = settle_month(region_policy(pool="outside", reference_value="95", difference="reserve"))
    lines = by_id(run)
    # Local pool alone: 1,000 points, patient shares 10,000; value (423,250 + 10,000) ÷ 1,000 = 433.250000 元/点;
    # a local case: 100 × 433.25 = 43,325.00, fund 42,325.00.
    assert lines["L0"]["point_value"] == D("433.250000")
    assert (lines["L0"]["standard"], lines["L0"]["fund_payment"]) == (D("43325.00"), D("42325.00"))
    # Inbound at the reference value 95: A01 100 × 95 = 9,500.00; B01 200 × 95 = 19,000.00.
    assert lines["A0"]["point_value"] == D("95.000000")
    assert (lines["A0"]["standard"], lines["A0"]["fund_payment"]) == (D("9500.00"), D("6900.00"))  # − 2,600
    assert (lines["B10"]["standard"], lines["B10"]["fund_payment"]) == (D("19000.00"), D("11350.00"))  # − 7,650
    rows = clearing(run)
    # 320100: paid 10 × 6,900 + 5 × 6,100 = 99,500; recovered 92,000; difference 7,500.
    # 330100: paid 10 × 15,450 + 5 × 11,350 = 211,250; recovered 256,250; difference −45,000.
    assert (rows[("320100", "2024-03")]["fund_payment"], rows[("320100", "2024-03")]["difference"]) == (
        D("99500.00"), D("7500.00"))
    assert (rows[("330100", "2024-03")]["fund_payment"], rows[("330100", "2024-03")]["clearing_amount"],
            rows[("330100", "2024-03")]["difference"]) == (D("211250.00"), D("256250.00"), D("-45000.00"))
    recon = {(r["region"], r["line"]): r["amount"] for r in run.tables["reconciliation"].to_pylist()}
    # Σ local DRG fund = the month's share 423,250.00 (10 × 42,325); the reserve bears 7,500 − 45,000 = −37,500
    # (it gains 37,500.00), so its balance is 0 − (−37,500) = 37,500.00.
    assert recon[("本市", "drg_fund")] == D("423250.00")
    assert recon[("本市", "reserve:cross_region")] == D("-37500.00")
    assert recon[("本市", "reserve_balance")] == D("37500.00")
    assert recon[("320100", "clearing:recovered")] == D("92000.00")
    assert recon[("330100", "clearing:fund_payment")] == D("211250.00")
    hospitals_table = {(r["hospital_id"], r["region"]): r for r in run.tables["hospitals"].to_pylist()}
    assert hospitals_table[("HA", "320100")]["drg_fund"] == D("99500.00")  # its own account (clearing fund)


def test_who_bears_the_difference():
    hospital = by_id(settle_month(region_policy(pool="outside", reference_value="95", difference="hospital")))
    # the hospital is paid what clearing recovers: standard = cost 9,000.00, fund 9,000 − 2,600 = 6,400.00
    assert (hospital["A0"]["standard"], hospital["A0"]["fund_payment"]) == (D("9000.00"), D("6400.00"))
    run = settle_month(region_policy(pool="outside", reference_value="95", difference="hospital"))
    a = clearing(run)[("320100", "2024-03")]
    # the DRG standard is still shown (15 × 9,500 = 142,500); paid = recovered = 92,000; difference 0
    assert (a["drg_standard"], a["fund_payment"], a["clearing_amount"], a["difference"]) == (
        D("142500.00"), D("92000.00"), D("92000.00"), D("0.00"))
    insured = clearing(settle_month(region_policy(pool="outside", reference_value="95",
                                                  difference="insured_region")))
    # clearing recovers the DRG fund payment itself: 99,500.00, difference 0
    assert (insured[("320100", "2024-03")]["clearing_amount"], insured[("320100", "2024-03")]["difference"]) == (
        D("99500.00"), D("0.00"))


def test_clearing_reconciles_with_the_run_ledger():
    run = settle_month(region_policy(pool="outside", reference_value="95"), ledger=Ledger())
    rows = {r["insured_region"]: r for r in run.tables["clearing_ledger"].to_pylist()}
    # HA's clearing account 320100/310: provisional 99,500.00, withheld 10% (the default) = 9,950.00
    assert (rows["320100"]["fund_payment"], rows["320100"]["ledger_amount"], rows["320100"]["ledger_withheld"],
            rows["320100"]["difference"]) == (D("99500.00"), D("99500.00"), D("9950.00"), D("0.00"))
    entries = {(e["hospital_id"], e["region"]): e for e in run.ledger.entries}
    assert entries[("HB", "330100")]["provisional"] == 211_250_00


def test_a_local_only_month_is_identical_with_and_without_the_new_columns():
    pol = region_policy(pool="outside", reference_value="95")
    frame = month_cases()
    local = frame[frame["case_id"].str.startswith("L")].reset_index(drop=True)
    plain = local.drop(columns=["insured_region", "out_of_area_unreferred"])
    with_columns, without = settle_month(pol, local), settle_month(pol, plain)
    assert with_columns.tables.keys() == without.tables.keys() and "clearing" not in without.tables
    for name, table in with_columns.tables.items():
        assert _bytes(table) == _bytes(without.tables[name]), name
    assert with_columns.meta == without.meta


def _bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def test_a_region_without_a_benefit_table_needs_patient_paid():
    pol = policy(region="本市", cross_region={"benefits": {"320100": REGION_A}}, benefits={"rules": [
        {"insurance_type": "310", "deductible": "800", "ratio": "0.85", "annual_cap": "400000"}]})
    frame = cases_frame([case("x", "HA", "A01", "9000", "0"), case("y", "HA", "A01", "9000", "0")])
    frame["patient_paid"] = [None, None]
    frame["insured_region"] = ["440100", "320100"]
    run = run_settlement(frame, weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "year", "2024")
    lines = by_id(run)
    assert lines["x"]["case_type"] == "rejected" and "patient_paid" in lines["x"]["note"]
    assert lines["y"]["patient_share"] == D("2600.00")  # 320100's table: 9,000 − ⌊8,000 × 0.8⌋


@pytest.mark.parametrize("cross, message", [
    ({"pool": "outside"}, r"\[cross_region\] reference_value: missing"),
    ({"pool": "inside", "reference_value": "95"}, r"reference_value: only with pool = \"outside\""),
    ({"pool": "inside", "difference": "hospital"}, r"difference: 'hospital': with pool = \"inside\".*本地统筹基金"),
    ({"pool": "outside", "reference_value": "95", "difference": "nobody"}, r"difference: 'nobody' is not one of"),
    ({"pool": "elsewhere"}, r"\[cross_region\] pool: 'elsewhere' is not one of inside, outside"),
    ({"benefits": {"320100": {"rules": [{"ratio": "1.5", "annual_cap": "1"}]}}},
     r"\[\[cross_region.benefits.320100.rules\]\] #1 ratio: 1.5 must be between 0 and 1"),
    ({"benefits": {"320100": "missing-file.toml"}}, r"\[cross_region.benefits\] 320100: cannot read .*参保地待遇"),
    ({"local": "110100"}, r"\[cross_region\] local: must be a list"),
    ({"outboundgrowth": "0.1"}, r"\[cross_region\] outboundgrowth: unknown key"),
])
def test_policy_keys_are_validated_by_name(cross, message):
    with pytest.raises(PolicyError, match=message):
        policy(cross_region=cross)


def test_a_benefit_file_per_region(tmp_path):
    (tmp_path / "320100.toml").write_text(
        '[benefits]\nunreferred_ratio_cut = "0.10"\n[[benefits.rules]]\ninsurance_type = "310"\n'
        'deductible = "1000"\nratio = "0.80"\nannual_cap = "300000"\n', encoding="utf-8")
    (tmp_path / "policy.toml").write_text(
        'version = "t"\nregion = "本市"\naverage_cost = "10000"\n[[budget]]\ninsurance_type = "310"\n'
        'amount = "1000000"\n[cross_region]\nbenefits = { "320100" = "320100.toml" }\n', encoding="utf-8")
    from payment import load_policy

    pol = load_policy(tmp_path / "policy.toml")
    assert pol.cross_region.benefits == policy(region="本市", cross_region={"benefits": {"320100": REGION_A}}
                                               ).cross_region.benefits
    assert set(pol.cross_region.files_sha256) == {"benefits:320100"}


def test_outbound_forecast_in_the_shadow_run():
    pol = region_policy(pool="inside", outbound_growth="0.05")
    # last year's clearing tables of two treating regions: 本市's own insured (110100 and 本市) and another
    # region's (ignored); a year row (2023) is a total and is not counted twice.
    last_year = pa.table({"insured_region": ["110100", "本市", "110100", "999999"],
                          "insurance_type": ["310", "310", "310", "310"],
                          "month": ["2023-01", "2023-07", "2023", "2023-02"],
                          "n_cases": ["4", "6", "10", "9"],
                          "clearing_amount": ["120000.00", "80000.01", "200000.01", "5.00"]})
    frame = month_cases()
    run = run_settlement(frame, weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "shadow", "2024-03",
                         outbound=last_year)
    row = run.tables["outbound"].to_pylist()[0]
    # Σ = 120,000.00 + 80,000.01 = 200,000.01 (10 cases); forecast 200,000.01 + ⌊200,000.01 × 5%⌋
    # = 20,000,001 fen + ⌊1,000,000.05⌋ = 21,000,001 fen = 210,000.01; share of 5,079,000: ⌊0.041347…⌋ = 0.0413
    assert (row["last_year_cases"], row["last_year_amount"], row["forecast"], row["budget_share"]) == (
        10, D("200000.01"), D("210000.01"), D("0.0413"))
    recon = {(r["region"], r["line"]): r["amount"] for r in run.tables["reconciliation"].to_pylist()}
    assert recon[("本市", "outbound_forecast")] == D("210000.01")


# --- the engine against the plain-Python twin (tests/naive_settlement.py) -------------------------------------

PROPERTY_HOSPITALS = [("HA", 3), ("HB", 2), ("HC", 1, "0.9")]
PROPERTY_WEIGHTS = [("A01", "1.0", "10000.00"), ("B01", "2.345678", None), ("C01", "0.5", "5000.00"),
                    ("P01", "1.0", "8000.00")]
ANY = [{"insurance_type": "all", "deductible": "600", "ratio": "0.75", "annual_cap": "50000"}]


@st.composite
def cross_scenario(draw):
    n = draw(st.integers(3, 30))
    cases = []
    for i in range(n):
        cost = draw(st.integers(0, 200_000_00))
        cases.append({
            "case_id": f"C{i:03d}", "hospital_id": draw(st.sampled_from(["HA", "HB", "HC"])),
            "drg": draw(st.sampled_from(["A01", "B01", "C01", "P01", "Z99"])),
            "status": draw(st.sampled_from(["ok"] * 8 + ["ungroupable"])), "cost": cost,
            "patient": draw(st.one_of(st.none(), st.integers(0, cost))), "los": draw(st.integers(1, 90)),
            "month": draw(st.integers(1, 12)), "insurance_type": draw(st.sampled_from(["310", "390"])),
            "insured_region": draw(st.sampled_from(["", "本市", "110100", "320100", "330100"])),
            "self_pay": draw(st.integers(0, cost)), "unreferred": draw(st.booleans()),
        })
    for k, ins in ((0, "310"), (1, "390")):  # every budget fund has points
        cases[k].update(drg="A01", status="ok", cost=10_000_00, patient=1_000_00, insurance_type=ins,
                        insured_region="", los=5)
    pool = draw(st.sampled_from(["inside", "outside"]))
    cross = {"local": ["110100"], "pool": pool,
             "benefits": {"320100": {"unreferred_ratio_cut": "0.1", "rules": REGION_A["rules"] + ANY},
                          "330100": {"rules": [dict(r, insurance_type="all") for r in REGION_B["rules"]]}}}
    if pool == "outside":
        cross["reference_value"] = draw(st.sampled_from(["95", "123.456789", "0.5"]))
        cross["difference"] = draw(st.sampled_from(["reserve", "hospital", "insured_region"]))
    changes = {
        "region": "本市", "method": draw(st.sampled_from(["point", "rate"])),
        "budget": [{"insurance_type": "310", "amount": f"{draw(st.integers(1, 10**9)) / 100:.2f}"},
                   {"insurance_type": "390", "amount": f"{draw(st.integers(1, 10**9)) / 100:.2f}"}],
        "reserve": {"share": draw(st.sampled_from(["0", "0.05"]))},
        "monthly": {"withhold": draw(st.sampled_from(["0", "0.1"]))},
        "tracks": {"long_stay": {"days": 60, "ratio": "0.9"}, "per_diem": {"rates": {"P01": "321.45"}}},
        "corridor": {"bands": [{"upto": "0.9", "fund_share": "0.3"}, {"upto": "1.1", "fund_share": "0"},
                               {"fund_share": "0.5"}]},
        "benefits": {"unreferred_ratio_cut": "0.05", "rules": ANY}, "cross_region": cross,
    }
    return cases, changes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cross_scenario())
def test_year_with_inbound_cases_matches_the_plain_python_calculator(data):
    cases, changes = data
    pol = policy(**changes)
    h = hospitals(pol, PROPERTY_HOSPITALS)
    w = weights(PROPERTY_WEIGHTS)
    computed = [c["patient"] is None for c in cases]
    for c in cases:
        if c["patient"] is None:
            c["patient"] = naive.patient_share(c, pol, dict(zip(h.ids, h.level))[c["hospital_id"]])
    frame = cases_frame(cases)
    frame["patient_paid"] = [None if x else p for x, p in zip(computed, frame["patient_paid"])]
    frame["insured_region"] = [c["insured_region"] for c in cases]
    frame["self_pay_cost"] = [f"{c['self_pay'] / 100:.2f}" for c in cases]
    frame["out_of_area_unreferred"] = ["是" if c["unreferred"] else "0" for c in cases]
    run = run_settlement(frame, w, pol, h, "year", "2024", scores={"HA": 100_00, "HB": 80_00, "HC": 0})
    lines, accounts, _, _ = naive.settle_year(cases, pol, naive_hospitals(h), naive_weights(w),
                                              {"HA": 100_00, "HB": 80_00, "HC": 0})
    table = run.tables["case_lines"]
    assert [int(x * 100) for x in table.column("patient_share").to_pylist()] == [c["patient"] for c in cases]
    assert table.column("case_type").to_pylist() == [ln["kind"] for ln in lines]
    assert [int(x * 100) for x in table.column("standard").to_pylist()] == [
        0 if ln["kind"] in ("held", "ungroupable_held") else ln["standard"] for ln in lines]
    assert [int(x * 100) for x in table.column("fund_payment").to_pylist()] == [ln["fund_payment"] for ln in lines]
    expected = naive.clearing_lines(lines, pol)
    got = {(r["insured_region"], r["insurance_type"], int(r["month"][5:])): r
           for r in (run.tables["clearing"].to_pylist() if "clearing" in run.tables else []) if len(r["month"]) > 4}
    assert set(got) == set(expected)
    for key, row in expected.items():
        assert {k: (int(got[key][k] * 100) if isinstance(got[key][k], Decimal) else got[key][k])
                for k in row} == row, key
    s = run.settlement
    keys = [(hid, region, ins) for hid in s.hospitals.ids for region, ins in s.cases.funds]
    for i in np.flatnonzero(s.accounts["n_cases"]):
        hid, region, ins = keys[i]
        a = accounts[(hid, (region, ins))]
        assert (s.accounts["annual_due"][i], s.accounts["balance"][i], s.accounts["corridor"][i]) == (
            a["annual_due"], a["balance"], a["corridor"]), keys[i]


# --- drg settle -------------------------------------------------------------------------------------------------

CLI_POLICY = """\
version = "cross-1"
region = "本市"
average_cost = "10000.00"
hospitals = "hospitals.csv"

[[budget]]
insurance_type = "310"
amount = "5079000.00"

[reserve]
share = "0"

[coefficients]
levels = { 1 = "0.8", 2 = "1.0", 3 = "1.2" }

[cross_region]
local = ["110100"]
pool = "outside"
reference_value = "95"
difference = "reserve"
outbound_growth = "0.05"

[cross_region.benefits.320100]
unreferred_ratio_cut = "0.10"
rules = [ { insurance_type = "310", deductible = "1000", ratio = "0.80", annual_cap = "300000" } ]

[cross_region.benefits.330100]
unreferred_ratio_cut = "0.20"
rules = [ { insurance_type = "310", deductible = "500", ratio = "0.90", annual_cap = "200000" } ]
"""


@pytest.fixture
def cli_inputs(tmp_path):
    from reference_data import write_csv

    write_csv(tmp_path / "hospitals.csv", ["hospital_id", "level", "name"], [["HA", "2", "甲医院"], ["HB", "2", "乙医院"]])
    (tmp_path / "policy.toml").write_text(CLI_POLICY, encoding="utf-8")
    weights(WEIGHTS).write(tmp_path / "weights.parquet")
    frame = month_cases().rename(columns={"insured_region": "参保地区划", "out_of_area_unreferred": "异地就医未备案",
                                          "self_pay_cost": "自费金额"})
    frame.to_csv(tmp_path / "cases.csv", index=False)
    local = frame[frame["case_id"].str.startswith("L")]
    local.to_csv(tmp_path / "local.csv", index=False)
    local.drop(columns=["参保地区划", "异地就医未备案"]).to_csv(tmp_path / "local-plain.csv", index=False)
    return tmp_path


def cli_settle(folder, kind, period, cases, out, *extra):
    from api.cli import main

    return main(["settle", kind, str(folder / cases), "--weights", str(folder / "weights.parquet"),
                 "--policy", str(folder / "policy.toml"), "--period", period, "-o", str(folder / out), *extra])


def test_drg_settle_writes_the_clearing_statement(cli_inputs, capsys):
    import openpyxl

    assert cli_settle(cli_inputs, "month", "2024-03", "cases.csv", "m", "--formats", "csv,xlsx", "--ledger",
                      str(cli_inputs / "ledger.csv")) == 0
    err = capsys.readouterr().err
    # the figures of test_pool_outside_reference_value_and_the_reserve_bears_the_difference, read through the
    # intake's Chinese headers (参保地区划, 异地就医未备案, 自费金额)
    assert "异地就医 320100 (310): 15 cases, paid 99,500.00, cleared 92,000.00, difference 7,500.00" in err
    text = (cli_inputs / "m" / "clearing.csv").read_text(encoding="utf-8-sig")
    assert ('"330100","310","2024-03",15,15,0,330000.00,285000.00,73750.00,256250.00,211250.00,256250.00,-45000.00,'
            '"外 outside","reserve 就医地调剂金"') in text  # standard 15 × 19,000 = 285,000
    sheet = openpyxl.load_workbook(cli_inputs / "m" / "clearing.xlsx", read_only=True).worksheets[0]
    header = next(sheet.iter_rows(values_only=True))
    assert "参保地" in header and "清算金额（参保地应付）" in header
    for name in ("clearing_cases.csv", "clearing_ledger.csv"):
        assert (cli_inputs / "m" / name).is_file()
    html = (cli_inputs / "m" / "statements" / "HA.html").read_text(encoding="utf-8")
    assert "320100 职工 异地就医清算" in html
    clearing_html = (cli_inputs / "m" / "clearing.html").read_text(encoding="utf-8")
    assert "异地就医清算单" in clearing_html and "参考点值 95" in clearing_html and "就医地调剂金" in clearing_html


def test_drg_settle_local_month_is_byte_identical_with_and_without_the_new_columns(cli_inputs):
    assert cli_settle(cli_inputs, "month", "2024-03", "local.csv", "a") == 0
    assert cli_settle(cli_inputs, "month", "2024-03", "local-plain.csv", "b") == 0
    files = sorted(p.relative_to(cli_inputs / "a") for p in (cli_inputs / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(cli_inputs / "b") for p in (cli_inputs / "b").rglob("*") if p.is_file())
    assert not any("clearing" in str(p) for p in files)
    for path in files:
        assert (cli_inputs / "a" / path).read_bytes() == (cli_inputs / "b" / path).read_bytes(), path


def test_drg_settle_shadow_forecasts_the_outbound_reserve(cli_inputs, capsys):
    from reference_data import write_csv

    # another region's clearing statement, as the XLSX/CSV labels write it (Chinese headers)
    write_csv(cli_inputs / "last.csv", ["参保地", "险种类型", "结算月份", "病例数", "清算金额（参保地应付）"],
              [["110100", "310", "2023-05", "3", "1000.00"], ["320100", "310", "2023-05", "3", "9.99"]])
    assert cli_settle(cli_inputs, "shadow", "2024-03", "cases.csv", "s", "--outbound",
                      str(cli_inputs / "last.csv"), "--statements", "none") == 0
    text = (cli_inputs / "s" / "reconciliation.csv").read_text(encoding="utf-8-sig")
    assert '"本市","310","outbound_forecast",' in text and ",1050.00" in text  # 1,000.00 + ⌊1,000.00 × 5%⌋
    meta = json.loads((cli_inputs / "s" / "run.json").read_text(encoding="utf-8"))
    assert "outbound:last.csv" in meta["files_sha256"]


def test_the_documented_example_parses():
    """payment/policies/example.toml's [cross_region] block, uncommented, is a valid policy (pool outside)."""
    import re
    import tomllib

    from payment import parse_policy
    from payment.run import EXAMPLE_POLICY

    text = EXAMPLE_POLICY.read_text(encoding="utf-8")
    start, end = text.index("# [cross_region]"), text.index("[shadow]")
    keys = [re.sub(r"^# ", "", line) for line in text[start:end].splitlines()
            if re.match(r"^# (\[|[a-z_]+ = )", line)]
    block = "\n".join(keys).replace('pool = "inside"', 'pool = "outside"')
    cr = parse_policy(tomllib.loads(text[:start] + block + "\n" + text[end:]), "example").cross_region
    assert (cr.local, cr.pool, cr.reference, cr.difference) == (("230100",), "outside", (95_000000, 10**8), "reserve")
    assert cr.benefits["320100"][1] == 1000 and cr.benefits["320100"][0][0].ratio_u == 8000


def test_a_year_run_keeps_the_clearing_funds_out_of_the_budget():
    pol = region_policy(pool="outside", reference_value="95")
    run = run_settlement(month_cases(), weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "year", "2024")
    lines = by_id(run)
    # the year shares the whole distributable 5,079,000.00 over the 1,000 local points: (5,079,000 + 10,000) ÷
    # 1,000 = 5,089.000000 元/点, so Σ local DRG fund = 10 × (508,900 − 1,000) = 5,079,000.00 to the fen
    assert lines["L0"]["point_value"] == D("5089.000000") and lines["A0"]["standard"] == D("9500.00")
    funds = {(f["region"], f["insurance_type"]): f for f in run.meta["funds"]}
    assert funds[("本市", "310")]["drg_fund_fen"] == funds[("本市", "310")]["distributable_fen"] == 5_079_000_00
    assert funds[("320100", "310")]["budget_fen"] == 0 and funds[("320100", "310")]["drg_fund_fen"] == 99_500_00
    rows = clearing(run)
    # the year row repeats March, the only month: 320100 paid 99,500.00, recovered 92,000.00
    assert rows[("320100", "2024")] == rows[("320100", "2024-03")] | {"month": "2024"}


@pytest.mark.parametrize("header", ["参保地", "参保地区划", "insuplc_admdvs", "参保地医保区划", "insured_region"])
def test_the_intake_reads_the_insured_region_under_its_names(header):
    from icd_tables.intake.headers import plan_columns
    from icd_tables.intake.values import canonical_records

    plan = plan_columns(["病案号", header, "异地就医未备案"])
    assert plan.mapped == {"case_id": ["病案号"], "insured_region": [header],
                           "out_of_area_unreferred": ["异地就医未备案"]}
    table = canonical_records(plan.apply(pa.table({"病案号": ["1"], header: [330100], "异地就医未备案": ["是"]})))
    assert table.column("insured_region").to_pylist() == ["330100"]  # a code read as a number stays its text


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["本市", "110100", "320100"]), st.sampled_from(["310", "390"]),
                          st.sampled_from(["2023-01", "2023-12", "2023"]), st.integers(-10**9, 10**11)), max_size=12),
       st.sampled_from(["0", "0.05", "-0.1", "0.0333"]))
def test_outbound_forecast_matches_the_plain_python_calculator(rows, growth):
    pol = region_policy(outbound_growth=growth)
    last_year = pa.table({"insured_region": [r[0] for r in rows], "insurance_type": [r[1] for r in rows],
                          "month": [r[2] for r in rows], "clearing_amount": [f"{D(r[3]).scaleb(-2):.2f}" for r in rows]},
                         schema=pa.schema([(k, pa.string()) for k in ("insured_region", "insurance_type", "month",
                                                                      "clearing_amount")]))
    from payment.cross_region import outbound_rows

    got = {r["insurance_type"]: r["forecast"] for r in outbound_rows(pol, last_year)}
    assert got == naive.outbound_forecast(rows, pol)


def test_the_ledger_check_of_a_year_reads_the_month_runs():
    pol = region_policy(pool="outside", reference_value="95")
    month = settle_month(pol, ledger=Ledger())
    year = run_settlement(month_cases(), weights(WEIGHTS), pol, hospitals(pol, HOSPITALS), "year", "2024",
                          ledger=month.ledger)
    rows = {r["insured_region"]: r for r in year.tables["clearing_ledger"].to_pylist()}
    # March was recorded with the same reference value: 330100's 211,250.00 paid = the ledger's provisional
    assert (rows["330100"]["fund_payment"], rows["330100"]["ledger_amount"], rows["330100"]["difference"]) == (
        D("211250.00"), D("211250.00"), D("0.00"))
