"""Audit screens (issue 10): each screen with planted cases that must be flagged and near misses that must not."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

from audit.rulebook import RuleBookError
from audit.screens import RateError, Rates, ScreenInputError, Screener, load_screens, review_queue
from audit.screens.money import payment_fen
from weights import WeightTable
from weights.table import WeightMeta


def weights(rate="10000.00") -> WeightTable:
    rows = [("AB11", "1.6"), ("AB13", "1.2"), ("AB15", "1.0"), ("AC11", "2.5"), ("AC15", "1.234567"),
            ("RE11", "1.0"), ("CD15", "1.0")]
    frame = pd.DataFrame({"drg": [d for d, _ in rows], "rw": [Decimal(r) for _, r in rows],
                          "mean_cost": [Decimal("10000.00")] * len(rows), "mean_los": [Decimal("5.00")] * len(rows)})
    return WeightTable(WeightMeta(name="t", base_rates={"310": rate}), frame)


def case(case_id, **kw) -> dict:
    row = {"case_id": case_id, "patient_id": "P" + case_id, "hospital_id": "H1", "mdc": "MDCA", "adrg": "AB1",
           "drg": "AB15", "status": "ok", "admit_date": "2024-06-01", "discharge_date": "2024-06-05", "los_days": 4,
           "total_cost": 10000.0, "principal_dx": "I21.000", "discharge_method": 1, "insurance_type": "310"}
    row.update(kw)
    if "drg" in kw and "adrg" not in kw:
        row["adrg"] = kw["drg"][:3]
    return row


def flagged(result, rule_id) -> list[str]:
    """Case ids flagged by the rule (for a hospital flag, its flag_id)."""
    f = result.flags.to_pandas()
    f = f[f.rule_id == rule_id]
    return sorted(f.case_id.where(f.case_id.notna(), f.flag_id).tolist())


def screen(rows, history=None, config=None, **kw):
    return Screener(weights=weights(), config=config, **kw).screen(pd.DataFrame(rows),
                                                                   pd.DataFrame(history) if history else None)


def config(tmp_path, text):
    path = tmp_path / "screens.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ split admissions

def stay(case_id, patient, admit, discharge, **kw):
    return case(case_id, patient_id=patient, admit_date=admit, discharge_date=discharge, **kw)


def test_split_readmission_within_15_days_flagged_with_second_stays_payment():
    rows = [stay("A1", "P1", "2024-05-20", "2024-06-01"), stay("A2", "P1", "2024-06-16", "2024-06-18", drg="AC15",
                                                             adrg="AB1"),  # gap 15 days, same ADRG
            stay("B1", "P2", "2024-05-20", "2024-06-01"), stay("B2", "P2", "2024-06-17", "2024-06-18"),  # gap 16
            stay("C1", "P3", "2024-06-01", "2024-06-03"), stay("C2", "P3", "2024-06-05", "2024-06-08", drg="CD15"),
            stay("D1", "P4", "2024-06-01", "2024-06-03"), stay("D2", "P4", "2024-06-05", "2024-06-08", hospital_id="H2"),
            stay("E1", "P5", "2024-06-01", "2024-06-03", drg="RE11"), stay("E2", "P5", "2024-06-05", "2024-06-08",
                                                                         drg="RE11")]
    result = screen(rows, rate="12345.67")
    assert flagged(result, "SPLIT_READMISSION") == ["A2"]
    flag = result.flags.to_pandas().query("rule_id == 'SPLIT_READMISSION'").iloc[0]
    evidence = json.loads(flag.evidence)
    assert evidence["previous_case"] == "A1" and evidence["gap_days"] == 15 and evidence["key"] == "AB1"
    # AC15 RW 1.234567 × rate 12,345.67 元: 1,234,567 × 1,234,567 fen ÷ 10^6 = 1,524,155.677489 → floor 1,524,155 fen
    assert flag.money_at_stake == Decimal("15241.55")
    assert "15 天后再次入院" in flag.message_zh and "A1" in flag.message_en


def test_split_any_hospital_exempts_transfers(tmp_path):
    rows = [stay("D1", "P4", "2024-06-01", "2024-06-03"), stay("D2", "P4", "2024-06-05", "2024-06-08", hospital_id="H2"),
            stay("T1", "P6", "2024-06-01", "2024-06-03", discharge_method=2),
            stay("T2", "P6", "2024-06-05", "2024-06-08", hospital_id="H2")]
    any_hospital = config(tmp_path, "[rules.SPLIT_READMISSION]\nsame_hospital = false\n")
    assert flagged(screen(rows, config=any_hospital), "SPLIT_READMISSION") == ["D2"]
    assert flagged(screen(rows), "SPLIT_READMISSION") == []


def test_split_match_mdc_and_history(tmp_path):
    rows = [stay("C2", "P3", "2024-06-05", "2024-06-08", drg="CD15", mdc="MDCA")]
    history = [stay("C1", "P3", "2024-05-25", "2024-06-03")]
    assert flagged(screen(rows, history), "SPLIT_READMISSION") == []          # another ADRG
    by_mdc = config(tmp_path, '[rules.SPLIT_READMISSION]\nmatch = "mdc"\n')
    result = screen(rows, history, config=by_mdc)
    assert flagged(result, "SPLIT_READMISSION") == ["C2"]
    assert json.loads(result.flags.column("evidence")[0].as_py())["previous_in_history"] is True


def test_split_chain_of_three_flagged_on_last_stay():
    rows = [stay("K1", "P7", "2024-06-01", "2024-06-03"), stay("K2", "P7", "2024-06-05", "2024-06-07"),
            stay("K3", "P7", "2024-06-09", "2024-06-11"),
            stay("L1", "P8", "2024-06-01", "2024-06-03"), stay("L2", "P8", "2024-06-05", "2024-06-07")]
    result = screen(rows)
    assert flagged(result, "SPLIT_CHAIN") == ["K3"]
    assert flagged(result, "SPLIT_READMISSION") == ["K2", "K3", "L2"]
    chain = json.loads(result.flags.to_pandas().query("rule_id == 'SPLIT_CHAIN'").evidence.iloc[0])
    assert chain["cases"] == ["K1", "K2", "K3"] and chain["stays"] == 3
    assert result.flags.to_pandas().query("rule_id == 'SPLIT_CHAIN'").money_at_stake.isna().all()


# ------------------------------------------------------------------------------------------ low standard

def test_low_standard_admission_and_near_misses():
    # AB15 mean cost 10,000 元: the limit is 0.3 × 10,000 = 3,000 元
    low = dict(drg="AB15", los_days=2, total_cost=2999.0, principal_dx="J06.900")
    rows = [case("L", **low), case("N1", **{**low, "los_days": 3}), case("N2", **{**low, "total_cost": 3001.0}),
            case("N3", **{**low, "principal_dx": "I21.000"}), case("N4", **{**low, "drg": "AB11"})]
    result = screen(rows)
    assert flagged(result, "LOW_STANDARD_ADMISSION") == ["L"]
    flag = result.flags.to_pandas().query("rule_id == 'LOW_STANDARD_ADMISSION'").iloc[0]
    assert flag.money_at_stake == Decimal("10000.00")  # AB15 RW 1.0 × 10,000.00 元
    assert "J06.900" in flag.message_zh


def test_low_standard_without_outpatient_list(tmp_path):
    rows = [case("N3", drg="AB15", los_days=2, total_cost=2999.0)]
    relaxed = config(tmp_path, "[rules.LOW_STANDARD_ADMISSION]\nrequire_outpatient_dx = false\n")
    assert flagged(screen(rows, config=relaxed), "LOW_STANDARD_ADMISSION") == ["N3"]


# ------------------------------------------------------------------------------------------ upcoding

def test_upcoding_whatif_exact_ratio():
    # AB11 RW 1.6 within ADRG AB1: 1.6 ≥ 1.5 × 1.066666 = 1.599999 fires; 1.5 × 1.066667 = 1.6000005 does not;
    # the money at stake (1.6 − 1.066666) × 10,000 元 = 5,333.34 元 ≥ 2,000 元
    rows = [case("U", drg="AB11", best_rw=1.066666, best_drg="AB15", best_alternative="去掉MCC X"),
            case("N", drg="AB11", best_rw=1.066667, best_drg="AB15", best_alternative="去掉MCC X"),
            # another ADRG: 1.6 / 0.8 = 2.0 ≥ 2.0 but 8,000 元 < 30,000 元
            case("O", drg="AB11", best_rw=0.8, best_drg="CD15", best_alternative="主要诊断改为 X")]
    result = screen(rows)
    assert flagged(result, "UPCODING_WHATIF") == ["U"]
    flag = result.flags.to_pandas().query("rule_id == 'UPCODING_WHATIF'").iloc[0]
    # (1.600000 − 1.066666) × 10,000.00 元 = 533,334 millionths × 1,000,000 fen ÷ 10^6 = 533,334 fen
    assert flag.money_at_stake == Decimal("5333.34")
    assert flag.message_zh == "编码病组 AB11（RW 1.600000）是替代方案 AB15（RW 1.066666，去掉MCC X）的 1.50 倍，按费率多付约 5,333.34 元"


def share_rows(hospital, n, k, prefix, drg_split="AB11", drg_plain="AB15"):
    return [case(f"{prefix}{i}", hospital_id=hospital, drg=drg_split if i < k else drg_plain) for i in range(n)]


def test_upcoding_hospital_share_z_score_and_money():
    # H1 30/40 split vs the others 20/80: p = 50/120, se = √(p(1−p)(1/40 + 1/80)) = 0.0955, z = 0.5/0.0955 = 5.2
    rows = share_rows("H1", 40, 30, "a") + share_rows("H2", 40, 10, "b") + share_rows("H3", 40, 10, "c")
    result = screen(rows)
    f = result.flags.to_pandas().query("rule_id == 'UPCODING_HOSPITAL_SHARE'")
    assert f.hospital_id.tolist() == ["H1"] and f.flag_id.tolist() == ["UPCODING_HOSPITAL_SHARE:H1:AB1"]
    assert f.case_id.isna().all() and "z = 5.2" in f.message_zh.iloc[0]
    # 30 × (1.6 − 1.0) × 10,000 元 = 18,000,000 fen; × (30·80 − 20·40) ÷ (30·80) = 2/3 → 12,000,000 fen
    assert f.money_at_stake.iloc[0] == Decimal("120000.00")


def test_upcoding_month_jump_against_history():
    history = share_rows("H1", 40, 10, "h")
    assert flagged(screen(share_rows("H1", 40, 30, "a"), history), "UPCODING_MONTH_JUMP") == ["UPCODING_MONTH_JUMP:H1:AB1"]
    assert flagged(screen(share_rows("H1", 40, 12, "a"), history), "UPCODING_MONTH_JUMP") == []
    assert "UPCODING_MONTH_JUMP" in screen(share_rows("H1", 40, 30, "a")).skipped


# ------------------------------------------------------------------------------------------ bed-blocking

def test_bed_blocking_boundary():
    # mean stay 5 days, mean cost per day 10,000 ÷ 5 = 2,000 元; 15 days at 600 元 = 0.3 × 2,000
    rows = [case("B", los_days=15, total_cost=9000.0), case("N1", los_days=14, total_cost=8400.0),
            case("N2", los_days=15, total_cost=9015.0)]
    assert flagged(screen(rows), "BED_BLOCKING") == ["B"]


# ------------------------------------------------------------------------------------------ duplicates

def test_overlapping_stays_flag_the_later_one():
    rows = [stay("O1", "P9", "2024-06-01", "2024-06-10"), stay("O2", "P9", "2024-06-09", "2024-06-12", hospital_id="H2"),
            stay("S1", "PA", "2024-06-01", "2024-06-10"), stay("S2", "PA", "2024-06-10", "2024-06-12", hospital_id="H2")]
    result = screen(rows)
    assert flagged(result, "DUPLICATE_OVERLAP") == ["O2"]
    evidence = json.loads(result.flags.to_pandas().query("rule_id == 'DUPLICATE_OVERLAP'").evidence.iloc[0])
    assert evidence["other_case"] == "O1" and evidence["days"] == 1


def test_duplicate_case_id_with_different_content():
    rows = [case("X"), case("X", total_cost=12000.0), case("Y"), case("Z")]
    result = screen(rows, history=[case("Z")])
    f = result.flags.to_pandas().query("rule_id == 'DUPLICATE_CASE_ID'")
    assert f.row_no.tolist() == [2, 4]
    first = json.loads(f.evidence.iloc[0])
    assert first["changed_columns"] == ["total_cost"] and first["first_row"] == 1
    assert json.loads(f.evidence.iloc[1])["first_in_history"] is True and "内容相同" in f.message_zh.iloc[1]


# ------------------------------------------------------------------------------------------ dumping

def test_dumping_high_rw_and_transfers():
    history = [case(f"h{i}", drg="AC11" if i < 20 else "AB15", discharge_method=2 if i < 1 else 1) for i in range(50)]
    current = [case(f"c{i}", drg="AC11" if i < 2 else "AB15", discharge_method=2 if i < 15 else 1) for i in range(50)]
    result = screen(current, history)
    f = result.flags.to_pandas()
    assert sorted(f.loc[f.case_id.isna(), "rule_id"]) == ["DUMPING_HIGH_RW", "DUMPING_TRANSFERS_OUT"]
    steady = [case(f"c{i}", drg="AC11" if i < 18 else "AB15", discharge_method=2 if i < 2 else 1) for i in range(50)]
    assert not screen(steady, history).flags.num_rows


# ------------------------------------------------------------------------------------------ scores, queue, config

def test_case_and_hospital_risk():
    rows = [case("L", drg="AB15", los_days=2, total_cost=2999.0, principal_dx="J06.900"),
            case("L", drg="AB15", patient_id="PX"), case("Q", hospital_id="H2")]
    result = screen(rows)
    risk = result.case_risk.to_pandas()
    assert risk.row_no.tolist() == [1, 2]
    assert risk.score.tolist() == [1.5, 3.0]  # LOW_STANDARD_ADMISSION 1.5; DUPLICATE_CASE_ID 3.0
    hospitals = result.hospital_risk.to_pandas().set_index("hospital_id")
    assert hospitals.loc["H1", "score"] == 225.0  # 100 × (1.5 + 3.0) ÷ 2 cases
    assert hospitals.loc["H1", "money_at_stake"] == Decimal("20000.00") and hospitals.loc["H2", "n_flags"] == 0


def test_review_queue_top_then_seeded_sample():
    rows = [case(f"L{i}", patient_id=f"P{i}", drg="AB15", los_days=2, total_cost=2000.0 + i, principal_dx="J06.900")
            for i in range(5)] + [case(f"C{i}") for i in range(30)]
    rows[4]["drg"] = "AC15"  # higher payment: first in the queue
    result = screen(rows)
    queue = review_queue(result, top=3, sample=4, seed=7).to_pandas()
    assert queue.selection.tolist() == ["top"] * 3 + ["random"] * 4
    assert queue.case_id.iloc[0] == "L4" and queue["rank"].tolist() == list(range(1, 8))
    assert not set(queue.row_no[3:]) & set(queue.row_no[:3])
    again = review_queue(result, top=3, sample=4, seed=7).to_pandas()
    assert again.equals(queue)


def test_config_switches_and_errors(tmp_path):
    rows = [case("L", drg="AB15", los_days=2, total_cost=2999.0, principal_dx="J06.900")]
    off = config(tmp_path, "[rules.LOW_STANDARD_ADMISSION]\nenabled = false\n")
    assert flagged(screen(rows, config=off), "LOW_STANDARD_ADMISSION") == []
    with pytest.raises(RuleBookError, match="unknown key 'max_days'"):
        load_screens(config(tmp_path, "[rules.SPLIT_READMISSION]\nmax_days = 3\n"))
    with pytest.raises(RuleBookError, match="'match'"):
        load_screens(config(tmp_path, '[rules.SPLIT_READMISSION]\nmatch = "drg"\n'))
    with pytest.raises(RuleBookError, match="unknown rule"):
        load_screens(config(tmp_path, "[rules.NO_SUCH]\nenabled = false\n"))


def test_money_rules_and_rates():
    # ⌊1,234,567 × 1,234,567 ÷ 10^6⌋ = ⌊1,524,155.677489⌋; unknown RW or rate → -1
    assert payment_fen([1_234_567, -1, 1_000_000], [1_234_567, 100, -1]).tolist() == [1_524_155, -1, -1]
    rates = Rates.parse("310=12252.70,390=9649.24")
    assert rates.per_case([0, 1, -1], ["310", "390"]).tolist() == [1_225_270, 964_924, -1]
    assert Rates.parse("100").per_case([-1], []).tolist() == [10_000]
    for bad in ("abc", "1.234", "-5", "=5"):
        with pytest.raises(RateError):
            Rates.parse(bad)


def test_missing_grouping_columns_and_no_rate():
    with pytest.raises(ScreenInputError, match="no drg"):
        Screener().screen(pa.table({"case_id": ["1"], "status": ["ok"]}))
    result = Screener().screen([case("A")])
    assert "money_at_stake" in result.skipped and result.flags.num_rows == 0
