"""The quota (定额) method of issue 19, by hand: quotas from a three-year history with and without
``self_pay_cost``, month runs, the year end with the quoted corridor, and the same cases as a shadow-run
baseline beside DRG and fee for service.  Amounts in 元; every figure below was worked out by hand
(floor to the fen throughout).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import naive_settlement as naive
from calibration.quota import quota_table
from foundation.files import write_table
from icd_tables.intake.headers import match_header
from payment import PaymentInputError, PolicyError, run_settlement
from payment.inputs import read_quota_table
from payment_helpers import case, cases_frame, hospitals, month_runs, naive_hospitals, naive_weights, policy, weights
from scaleout.settlement import _UNDISTRIBUTED
from test_payment_properties import HOSPITALS, WEIGHTS as PROPERTY_WEIGHTS, scenario

D = Decimal
LEVELS = [("H1", 1), ("H2", 2), ("H3", 3)]
A01 = [("A01", "1.0", "10000.00")]
QUOTED_BANDS = [  # the quoted 第七條 bands (issue 18), boundaries in the lower band, reward 50% of the saving
    {"upto": "0.9", "include_upto": True, "pay": "cost_plus_reward", "reward_share": "0.5"},
    {"upto": "1.1", "include_upto": True, "pay": "standard"},
    {"upto": "1.2", "include_upto": True, "pay": "excess", "fund_share": "0.5"},
    {"pay": "capped"},
]

# History 2020–2023 (total cost, self-pay 范围外费用):
# H1: 2020 99,999.00 (outside the three years before 2024: not used); 2021 4,000.00 (400.00), 5,000.00 (0);
#     2022 6,000.00 (600.00); 2023 5,000.01 (0.01)
# H2: 2021 8,000.00 (800.00); 2022 9,000.00 (0); 2023 10,000.00 (1,000.00)
# H3: 2021 12,000.00 (1,200.00); 2023 15,000.00 (1,500.00), 13,000.02 (0)
HISTORY = [("H1", 2020, "99999.00", "0"), ("H1", 2021, "4000.00", "400.00"), ("H1", 2021, "5000.00", "0"),
           ("H1", 2022, "6000.00", "600.00"), ("H1", 2023, "5000.01", "0.01"),
           ("H2", 2021, "8000.00", "800.00"), ("H2", 2022, "9000.00", "0"), ("H2", 2023, "10000.00", "1000.00"),
           ("H3", 2021, "12000.00", "1200.00"), ("H3", 2023, "15000.00", "1500.00"), ("H3", 2023, "13000.02", "0")]
# Per hospital, 2021–2023, quota = ⌊Σ cost ÷ discharges⌋ to the fen:
#   total:   H1 20,000.01 ÷ 4 = 5,000.0025 → 5,000.00; H2 27,000.00 ÷ 3 = 9,000.00;
#            H3 40,000.02 ÷ 3 = 13,333.34
#   covered: H1 20,000.01 − 1,000.01 = 19,000.00 ÷ 4 = 4,750.00; H2 27,000 − 1,800 = 25,200.00 ÷ 3 = 8,400.00;
#            H3 40,000.02 − 2,700.00 = 37,300.02 ÷ 3 = 12,433.34
TOTAL_QUOTAS = {"H1": "5000.00", "H2": "9000.00", "H3": "13333.34"}
COVERED_QUOTAS = {"H1": "4750.00", "H2": "8400.00", "H3": "12433.34"}


def history(with_self_pay: bool):
    rows = [{"hospital_id": h, "discharge_date": f"{y}-06-30", "total_cost": cost, "status": "ok",
             **({"self_pay_cost": self_pay} if with_self_pay else {})} for h, y, cost, self_pay in HISTORY]
    return rows


@pytest.mark.parametrize("with_self_pay, expected", [(True, COVERED_QUOTAS), (False, TOTAL_QUOTAS)])
def test_quotas_per_hospital_from_three_years(with_self_pay, expected):
    table = quota_table(history(with_self_pay), by="hospital", n_years=3, year=2024).to_pylist()
    assert {r["hospital_id"]: str(r["quota"]) for r in table} == expected
    assert [r["n_discharges"] for r in table] == [4, 3, 3] and {r["years"] for r in table} == {"2021-2023"}
    # the switch off: total cost even with the column
    off = quota_table(history(True), by="hospital", year=2024, covered_cost=False).to_pylist()
    assert {r["hospital_id"]: str(r["quota"]) for r in off} == TOTAL_QUOTAS


def test_quotas_per_level_from_the_previous_year():
    # 2023 only, levels H1 → 1, H2 and H3 → 2 (to pool two hospitals):
    # level 1: H1 5,000.01 − 0.01 = 5,000.00 ÷ 1; level 2: (10,000 − 1,000) + (15,000 − 1,500) + 13,000.02
    # = 35,500.02 ÷ 3 = 11,833.34
    table = quota_table(history(True), by="level", year=2024, levels={"H1": 1, "H2": 2, "H3": 2}).to_pylist()
    assert [(r["level"], str(r["quota"]), r["n_discharges"]) for r in table] == [
        (1, "5000.00", 1), (2, "11833.34", 3)]
    with pytest.raises(Exception, match="H3 has no level"):
        quota_table(history(True), by="level", year=2024, levels={"H1": 1, "H2": 2})


def quota_file(tmp_path, with_self_pay: bool):
    path = tmp_path / "quotas.csv"
    write_table(quota_table(history(with_self_pay), by="hospital", year=2024), path)
    return path


def quota_policy(path, **changes):
    return policy(method="quota", quota={"table": str(path)}, monthly={"withhold": "0.10"},
                  corridor={"bands": QUOTED_BANDS}, **changes)


# 2024 discharges, all DRG A01 (RW 1, mean 10,000.00) but c5, which could not be grouped — the quota pays it
# all the same (定额 per discharge, whatever the group):
#          hospital  month  cost       patient   self-pay
CASES_2024 = [("c1", "H1", 1, "4000.00", "400.00", "0"), ("c2", "H1", 2, "3500.00", "350.00", "100.00"),
              ("c3", "H2", 1, "9000.00", "900.00", "500.00"), ("c4", "H2", 7, "10000.00", "1000.00", "0"),
              ("c5", "H3", 1, "13000.00", "0", "0"), ("c6", "H3", 3, "16000.00", "1600.00", "200.00")]


def cases_2024(with_self_pay: bool):
    out = []
    for cid, h, m, cost, patient, self_pay in CASES_2024:
        c = case(cid, h, "A01", cost, patient, m, status="ungroupable" if cid == "c5" else "ok")
        if with_self_pay:
            c["self_pay"] = int(D(self_pay) * 100)
        out.append(c)
    return out


def test_month_run_pays_ninety_percent_of_the_quota(tmp_path):
    pol = quota_policy(quota_file(tmp_path, True))
    h = hospitals(pol, LEVELS)
    run = run_settlement(cases_frame(cases_2024(True)), weights(A01), pol, h, "month", "2024-01")
    rows = {r["hospital_id"]: r for r in run.tables["hospitals"].to_pylist()}
    # provisional = quota − patient share; withheld = provisional − ⌊provisional × 0.9⌋:
    # H1 4,750.00 − 400.00 = 4,350.00 → paid 3,915.00, withheld 435.00
    # H2 8,400.00 − 900.00 = 7,500.00 → paid 6,750.00, withheld 750.00
    # H3 12,433.34 − 0 = 12,433.34 → paid ⌊1,243,334 fen × 0.9⌋ = ⌊1,119,000.6⌋ = 11,190.00, withheld 1,243.34
    assert {h: (r["provisional"], r["paid"], r["withheld"]) for h, r in rows.items()} == {
        "H1": (D("4350.00"), D("3915.00"), D("435.00")), "H2": (D("7500.00"), D("6750.00"), D("750.00")),
        "H3": (D("12433.34"), D("11190.00"), D("1243.34"))}
    lines = run.tables["case_lines"].to_pylist()
    assert [(r["case_id"], r["case_type"], r["standard"]) for r in lines] == [
        ("c1", "quota", D("4750.00")), ("c3", "quota", D("8400.00")), ("c5", "quota", D("12433.34"))]


def test_year_end_corridor_on_quota_times_discharges_covered_cost(tmp_path):
    pol = quota_policy(quota_file(tmp_path, True))
    h = hospitals(pol, LEVELS)
    run = run_settlement(cases_frame(cases_2024(True)), weights(A01), pol, h, "year", "2024")
    rows = {r["hospital_id"]: r for r in run.tables["hospitals"].to_pylist()}
    # H1: base 2 × 4,750.00 = 9,500.00; covered cost 4,000.00 + (3,500.00 − 100.00) = 7,400.00; 77.9% ≤ 90%:
    #     cost + 50% of the saving = 7,400 + 1,050 = 8,450.00 → corridor −1,050.00 (reward 1,050.00, reserve)
    #     fund 9,500 − 750 patient = 8,750.00; annual 8,750 − 1,050 = 7,700.00; months paid 3,915.00 + ⌊4,400 ×
    #     0.9⌋ = 3,960.00 → 7,875.00; balance 7,700 − 7,875 = −175.00 (the withhold 875.00 all released inside)
    # H2: base 16,800.00; covered (9,000 − 500) + 10,000 = 18,500.00; 110.1%: 110–120% band, excess from 110%:
    #     16,800 + 50% × (18,500 − 18,480) = 16,810.00 → corridor +10.00; fund 16,800 − 1,900 = 14,900.00;
    #     annual 14,910.00; months 6,750.00 + ⌊7,400 × 0.9⌋ = 6,660.00 → 13,410.00; balance 1,500.00
    # H3: base 2 × 12,433.34 = 24,866.68; covered 13,000 + 15,800 = 28,800.00; 115.8%: 24,866.68 + 50% ×
    #     (28,800.00 − 27,353.348) = 24,866.68 + ⌊723.326⌋ → corridor +723.32; fund 24,866.68 − 1,600 = 23,266.68;
    #     annual 23,990.00; months 11,190.00 + ⌊10,833.34 × 0.9⌋ = 9,750.00 → 20,940.00; balance 3,050.00
    expected = {"H1": ("9500.00", "7400.00", "-1050.00", "1050.00", "8750.00", "7700.00", "7875.00", "-175.00"),
                "H2": ("16800.00", "18500.00", "10.00", "0.00", "14900.00", "14910.00", "13410.00", "1500.00"),
                "H3": ("24866.68", "28800.00", "723.32", "0.00", "23266.68", "23990.00", "20940.00", "3050.00")}
    names = ("drg_standard", "drg_cost", "corridor", "corridor_reward", "drg_fund", "annual_due", "monthly_paid",
             "balance")
    assert {h: tuple(str(r[n]) for n in names) for h, r in rows.items()} == expected
    assert run.meta["policy"]["method"] == "quota" and "covered cost" in run.meta["rules"]["corridor_base"]
    again = run_settlement(cases_frame(cases_2024(True)), weights(A01), pol, h, "year", "2024")
    assert again.meta == run.meta and all(t.equals(again.tables[k], check_metadata=True) for k, t in run.tables.items())


def test_year_end_without_self_pay(tmp_path):
    pol = quota_policy(quota_file(tmp_path, False))
    run = run_settlement(cases_frame(cases_2024(False)), weights(A01), pol, hospitals(pol, LEVELS), "year", "2024")
    rows = {r["hospital_id"]: r for r in run.tables["hospitals"].to_pylist()}
    # H1: 2 × 5,000.00 = 10,000.00 vs 7,500.00 (75%): 7,500 + 50% × 2,500 = 8,750.00 → −1,250.00
    # H2: 18,000.00 vs 19,000.00 (105.6%): the quota → 0; H3: 2 × 13,333.34 = 26,666.68 vs 29,000.00 (108.7%) → 0
    assert {h: (str(r["drg_standard"]), str(r["drg_cost"]), str(r["corridor"])) for h, r in rows.items()} == {
        "H1": ("10000.00", "7500.00", "-1250.00"), "H2": ("18000.00", "19000.00", "0.00"),
        "H3": ("26666.68", "29000.00", "0.00")}


def test_shadow_run_shows_the_quota_baseline_beside_drg_and_fee_for_service(tmp_path):
    # a DRG point-method policy (budget 1,000,000.00, reserve 5%) with the quota table as the shadow baseline
    pol = policy(quota={"table": str(quota_file(tmp_path, True))})
    run = run_settlement(cases_frame(cases_2024(True)), weights(A01), pol, hospitals(pol, LEVELS), "shadow", "2024")
    rows = {r["hospital_id"]: r for r in run.tables["hospitals"].to_pylist()}
    # DRG track: c1–c4 and c6 (c5 is ungroupable: paid fee for service from the reserve, outside the comparison).
    # quota baseline = quota × DRG-track discharges; fee for service = their cost; quota gain = baseline − cost:
    # H1 2 × 4,750.00 = 9,500.00 vs 7,500.00 → 2,000.00; H2 2 × 8,400.00 = 16,800.00 vs 19,000.00 → −2,200.00;
    # H3 1 × 12,433.34 vs 16,000.00 → −3,566.66
    assert {h: (str(r["quota_standard"]), str(r["drg_cost"]), str(r["quota_gain"])) for h, r in rows.items()} == {
        "H1": ("9500.00", "7500.00", "2000.00"), "H2": ("16800.00", "19000.00", "-2200.00"),
        "H3": ("12433.34", "16000.00", "-3566.66")}
    # the DRG column spends the distributable budget exactly: 1,000,000.00 − 5% = 950,000.00
    fund = run.meta["funds"][0]
    assert fund["drg_fund_fen"] == fund["distributable_fen"] == 950_000_00
    assert sum(r["drg_standard"] - r["drg_patient_share"] for r in rows.values()) == D("950000.00")
    lines = run.tables["case_lines"].to_pylist()
    assert [r["quota_standard"] for r in lines] == [D("4750.00"), D("4750.00"), D("8400.00"), D("8400.00"), None,
                                                     D("12433.34")]
    # with [quota] covered_cost = true the quota is compared with the covered cost, as it was set from it:
    # H1 9,500.00 vs 4,000 + 3,400 = 7,400.00 → 2,100.00; H2 16,800.00 vs 8,500 + 10,000 = 18,500.00 → −1,700.00;
    # H3 12,433.34 vs 15,800.00 → −3,366.66 (the DRG figures do not change)
    covered = policy(quota={"table": str(tmp_path / "quotas.csv"), "covered_cost": True})
    again = run_settlement(cases_frame(cases_2024(True)), weights(A01), covered, hospitals(covered, LEVELS), "shadow",
                           "2024")
    rows_c = {r["hospital_id"]: r for r in again.tables["hospitals"].to_pylist()}
    assert {h: (str(r["quota_cost"]), str(r["quota_gain"])) for h, r in rows_c.items()} == {
        "H1": ("7400.00", "2100.00"), "H2": ("18500.00", "-1700.00"), "H3": ("15800.00", "-3366.66")}
    assert [r["drg_standard"] for r in rows_c.values()] == [r["drg_standard"] for r in rows.values()]


def test_quota_table_reader_and_policy_keys(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("医疗机构编码,医院等级,定额标准\nH1,,4750.00\n,2,8000.00\n", encoding="utf-8")
    assert read_quota_table(path) == ({"H1": 475000}, {2: 800000})
    # precedence: [quota] hospitals > the table's hospital row > [quota] levels > the table's level row
    pol = policy(method="quota", quota={"table": str(path), "hospitals": {"H2": "7000"}, "levels": {"3": "9000"}})
    h = hospitals(pol, [("H1", 1), ("H2", 2), ("H3", 3), ("H4", 2), ("H5", 1)])
    assert h.quota_fen == {"H1": 475000, "H2": 700000, "H3": 900000, "H4": 800000}
    with pytest.raises(PaymentInputError, match="H5 has no quota"):
        run_settlement(cases_frame([case("x", "H5", "A01", "100", "0")]), weights(A01), pol, h, "year", "2024")
    assert pol.covered_cost and not policy().covered_cost  # on by default for the quota method only
    for changes, key in (({"method": "quota"}, r"\[quota\] table: missing"),
                         ({"method": "quota", "quota": {"levels": {"1": "1"}, "covered_cost": "yes"}},
                          "covered_cost: must be true or false"),
                         ({"method": "quota", "quota": {"levels": {"1": "0"}}}, "levels: a quota"),
                         ({"method": "quota", "quota": {"levels": {"1": "1"}}, "point_value": {"mode": "fixed",
                           "value": "1"}, "coefficients": {"applies_to": "fund"}}, "applies_to"),
                         ({"quota": {"bogus": 1}}, r"\[quota\] bogus: unknown key"),
                         ({"method": "quota", "quota": {"levels": {"1": "1"}}, "cross_region": {"pool": "inside"}},
                          "cross_region: not with method")):
        with pytest.raises(PolicyError, match=key):
            policy(**changes)


def test_spark_refuses_the_quota_method_by_name():
    refused = [name for name, used in _UNDISTRIBUTED.items()
               if used(policy(method="quota", quota={"levels": {"1": "1", "2": "1", "3": "1"}}))]
    assert refused == ['method = "quota" / [quota] (定额)']
    assert not any(used(policy()) for used in _UNDISTRIBUTED.values())


def test_uncovered_cost_headers_read_as_self_pay():
    assert [match_header(h)[0] for h in ("范围外费用", "基本医保支付范围外费用")] == ["self_pay_cost"] * 2


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(), st.booleans(), st.lists(st.integers(0, 5_000_00), min_size=40, max_size=40))
def test_quota_year_matches_the_plain_python_calculator(data, covered, self_pays):
    cases, changes, scores, special, events = data
    for c, self_pay in zip(cases, self_pays):
        c["self_pay"] = self_pay
    changes = {**changes, "method": "quota", "corridor": {"bands": QUOTED_BANDS},
               "quota": {"levels": {"1": "4321.09", "2": "8000.00", "3": "12000.01"}, "hospitals": {"HA": "15000"},
                         "covered_cost": covered}}
    pol = policy(**changes)
    h = hospitals(pol, HOSPITALS)
    w = weights(PROPERTY_WEIGHTS)
    run = run_settlement(cases_frame(cases), w, pol, h, "year", "2024", scores=scores,
                         special={c: "" for c in special}, events={c: "e" for c in events})
    lines, accounts, _, _ = naive.settle_year(cases, pol, naive_hospitals(h), naive_weights(w), scores, special, events)
    table = run.tables["case_lines"]
    assert table.column("case_type").to_pylist() == [ln["kind"] for ln in lines]
    assert [int(x * 100) for x in table.column("fund_payment").to_pylist()] == [ln["fund_payment"] for ln in lines]
    for row in run.tables["hospitals"].to_pylist():
        expected = accounts[(row["hospital_id"], (row["region"], row["insurance_type"]))]
        for name in ("drg_fund", "drg_cost", "withheld", "released", "corridor", "corridor_reward", "annual_due",
                     "monthly_paid", "balance"):
            assert int(row[name] * 100) == expected[name], (row["hospital_id"], name)
    assert Fraction(sum(ln["standard"] for ln in lines if ln["kind"] == "quota")) == sum(
        row["drg_standard"] * 100 for row in run.tables["hospitals"].to_pylist())


def test_bundled_quota_corridor_policy_pays_quotas_by_level():
    from payment import load_policy, read_hospitals
    from payment.run import EXAMPLE_POLICY

    pol = load_policy(EXAMPLE_POLICY.with_name("quota-corridor.toml"))
    h = read_hospitals(pol.files["hospitals"], pol)
    levels = dict(zip(h.ids, h.level.tolist()))
    # quotas 10,000.00 × Ci: level 1 × 0.5 = 5,000.00, level 2 × 0.75 = 7,500.00, level 3 × 1.15 = 11,500.00
    assert pol.method == "quota" and pol.covered_cost
    assert {h.quota_fen[i] for i in h.ids if levels[i] == 3} == {1_150_000}
    assert {h.quota_fen[i] for i in h.ids if levels[i] == 1} <= {500_000}


QUOTA_POLICY_FILE = """\
version = "quota-cli-1"
region = "测试市"
method = "{method}"
average_cost = "10000.00"
hospitals = "hospitals.csv"

[[budget]]
insurance_type = "all"
amount = "1000000.00"

[quota]
table = "quotas.csv"

[monthly]
withhold = "0.10"

[assessment]
default_score = 100

[corridor]
bands = [ {{ upto = "0.9", include_upto = true, pay = "cost_plus_reward", reward_share = "0.5" }},
          {{ upto = "1.1", include_upto = true, pay = "standard" }},
          {{ upto = "1.2", include_upto = true, pay = "excess", fund_share = "0.5" }}, {{ pay = "capped" }} ]
"""


def test_command_line_quota_table_then_month_year_and_shadow_runs(tmp_path, capsys):
    from api.cli import main
    from reference_data import write_csv

    # the history as a hospital would export it: Chinese headers, 基本医保支付范围外费用 read as self_pay_cost
    write_csv(tmp_path / "history.csv", ["病案号", "医疗机构编码", "出院日期", "总费用", "基本医保支付范围外费用"],
              [[f"h{i}", h, f"{y}-06-30", cost, self_pay] for i, (h, y, cost, self_pay) in enumerate(HISTORY)])
    assert main(["calibrate", str(tmp_path / "history.csv"), "--quota", "hospital", "--year", "2024",
                 "-o", str(tmp_path / "quotas.csv")]) == 0
    assert read_quota_table(tmp_path / "quotas.csv") == (
        {h: int(D(q) * 100) for h, q in COVERED_QUOTAS.items()}, {})
    write_csv(tmp_path / "hospitals.csv", ["hospital_id", "level"], [[h, str(level)] for h, level in LEVELS])
    frame = cases_frame(cases_2024(True)).assign(dept="内科")
    frame.to_csv(tmp_path / "cases.csv", index=False)
    weights(A01).write(tmp_path / "weights.parquet")
    for method in ("quota", "point"):
        (tmp_path / f"{method}.toml").write_text(QUOTA_POLICY_FILE.format(method=method), encoding="utf-8")

    def settle(kind, period, method, out):
        return main(["settle", kind, str(tmp_path / "cases.csv"), "--weights", str(tmp_path / "weights.parquet"),
                     "--policy", str(tmp_path / f"{method}.toml"), "--period", period, "-o", str(tmp_path / out)])

    assert settle("month", "2024-01", "quota", "m1") == 0
    assert settle("year", "2024", "quota", "y1") == 0 and settle("year", "2024", "quota", "y2") == 0
    for name in ("case_lines.parquet", "hospitals.csv", "reconciliation.csv", "run.json"):
        assert (tmp_path / "y1" / name).read_bytes() == (tmp_path / "y2" / name).read_bytes(), name
    statement = (tmp_path / "y1" / "statements" / "H3.html").read_text(encoding="utf-8")
    # H3's year-end as in test_year_end_corridor_on_quota_times_discharges_covered_cost
    assert "定额付费年度清算结算单" in statement and "24,866.68" in statement and "723.32" in statement
    assert "定额标准合计" in statement and "总点数" not in statement
    assert settle("shadow", "2024", "point", "s1") == 0
    shadow = (tmp_path / "s1" / "shadow.html").read_text(encoding="utf-8")
    # Σ quota baseline 9,500.00 + 16,800.00 + 12,433.34 = 38,733.34 beside the DRG standards and the costs
    assert "定额基线 quota baseline" in shadow and "38,733.34" in shadow and "<td>12433.34</td>" in shadow
    assert "Σ quota fund" in capsys.readouterr().err


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(), st.sampled_from(["month", "quarter", "half", "year"]),
       st.dictionaries(st.integers(1, 12), st.dictionaries(st.sampled_from(["HA", "HB", "HC"]), st.integers(0, 100_00))),
       st.lists(st.integers(0, 5_000_00), min_size=52, max_size=52))
def test_quota_months_through_the_ledger_then_the_year(data, schedule, period_scores, self_pays):
    """Quota month runs recorded in the ledger, then the year read from it: the plain-Python year."""

    cases, changes, scores, _, _ = data
    cases = cases + [dict(cases[0], case_id=f"M{m}", month=m) for m in range(1, 13)]
    for c, self_pay in zip(cases, self_pays):
        c["self_pay"] = self_pay
    changes = {**changes, "method": "quota", "corridor": {"bands": QUOTED_BANDS},
               "quota": {"levels": {"1": "4321.09", "2": "8000.00", "3": "12000.01"}},
               "assessment": {**changes["assessment"], "schedule": schedule, "default_score": 80}}
    pol = policy(**changes)
    h = hospitals(pol, HOSPITALS)
    w = weights(PROPERTY_WEIGHTS)
    frame = cases_frame(cases)
    ledger = month_runs(frame, w, pol, h, period_scores)
    year_scores = scores if schedule == "year" else None
    run = run_settlement(frame, w, pol, h, "year", "2024", scores=year_scores, ledger=ledger)
    _, accounts, _, _ = naive.settle_year(cases, pol, naive_hospitals(h), naive_weights(w), year_scores,
                                          period_scores=period_scores)
    for row in run.tables["hospitals"].to_pylist():
        expected = accounts[(row["hospital_id"], (row["region"], row["insurance_type"]))]
        for name in ("withheld", "released", "corridor", "annual_due", "monthly_paid", "balance"):
            assert int(row[name] * 100) == expected[name], (row["hospital_id"], name)


def test_weights_on_covered_cost():
    from calibration import RelativeWeightCalibrator

    rows = [("A", "1000.00", "200.00"), ("A", "3000.00", "0"), ("B", "2000.00", "0"), ("B", "2000.00", "1000.00")]
    cases = [{"drg": d, "status": "ok", "total_cost": cost, "self_pay_cost": self_pay, "los_days": 5}
             for d, cost, self_pay in rows]
    without = [{k: v for k, v in c.items() if k != "self_pay_cost"} for c in cases]

    def fit(data, covered):
        model = RelativeWeightCalibrator("none", min_cases=1, covered_cost=covered).fit(data)
        return {d: str(rw) for d, rw in model.weights_.items()}, str(model.mean_cost_)

    # total cost: A (1,000 + 3,000) ÷ 2 = 2,000, B 2,000, all 2,000 → RW 1 and 1 (the default: covered_cost off)
    assert fit(cases, False) == ({"A": "1.000000", "B": "1.000000"}, "2000.00")
    # covered: A (800 + 3,000) ÷ 2 = 1,900; B (2,000 + 1,000) ÷ 2 = 1,500; all 6,800 ÷ 4 = 1,700;
    # RW A = 1,900 ÷ 1,700 = 1.1176470… → 1.117647; B = 1,500 ÷ 1,700 = 0.8823529… → 0.882353
    assert fit(cases, True) == ({"A": "1.117647", "B": "0.882353"}, "1700.00")
    # without the column the switch changes nothing
    assert fit(without, True) == fit(without, False) == fit(cases, False)


def test_expected_payment_of_a_quota_case(tmp_path):
    import pyarrow as pa

    from payment.expected import expected_payment

    pol = quota_policy(quota_file(tmp_path, True))
    frame = pa.Table.from_pandas(cases_frame(cases_2024(True)[:1]), preserve_index=False)
    result = expected_payment(frame, weights(A01), pol, hospitals(pol, LEVELS))
    # c1 at H1: the quota 4,750.00; the fund 4,750.00 − 400.00 = 4,350.00
    assert (result.case_type, result.standard_fen.tolist(), result.fund_fen.tolist()) == (["quota"], [475000],
                                                                                           [435000])
    assert result.basis.startswith("quota")
