"""Plausibility bounds (issue 16 finding 3): a value no stay can have is a warning, a rejected settlement line and
in no index, while grouping follows the scheme's rules as given."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from calibration.indices import performance_indices
from icd_tables.intake.bounds import implausible_rows, load_bounds
from icd_tables.intake.reader import RecordIntake
from icd_tables.intake.values import KINDS, canonical_records
from payment import run_settlement
from payment.inputs import DATA_ERROR, REJECT_REASONS
from payment_helpers import case, cases_frame, hospitals, policy, weights


def test_every_measured_field_has_bounds_with_a_chinese_message():
    bounded = {b.field: b for b in load_bounds()}
    measured = {name for name, kind in KINDS.items() if kind in ("int", "money")} - {"sex", "discharge_method"}
    assert set(bounded) == measured
    assert all(b.min <= b.max and any("\u4e00" <= ch <= "\u9fff" for ch in b.message) for b in bounded.values())


@pytest.mark.parametrize("field, value, bad", [("los_days", 36525, False), ("los_days", 36526, True),
                                               ("los_days", -1, True), ("age_years", 150, False),
                                               ("age_years", 151, True), ("total_cost", "1000000000.00", False),
                                               ("total_cost", "1000000000.01", True), ("birth_weight_g", 0, True),
                                               ("los_days", 4 * 10**18, True), ("patient_paid", "-0.01", True)])
def test_bounds_are_inclusive(field, value, bad):
    table = canonical_records(pa.table({field: [value, None]}))
    assert implausible_rows(table).tolist() == [bad, False]


def test_the_intake_warns_and_keeps_the_value():
    raw = pa.table({"case_id": ["A", "B"], "sex": ["1", "2"], "age_years": ["200", "40"], "principal_dx": ["I21.000"] * 2,
                    "los_days": ["3", "-2"]})
    batch = RecordIntake.for_table(raw)(raw)
    assert batch.records.column("age_years").to_pylist() == [200, 40]
    warnings = batch.warnings.to_pylist()
    assert "年龄超出合理范围" in warnings[0] and "age_years = 200" in warnings[0]
    assert "住院天数超出合理范围" in warnings[1] and "los_days = -2" in warnings[1]


def test_golden_records_are_all_plausible(golden_dir):
    """The bounds never touch a golden record, so no golden status or warning changes."""
    for path in sorted(golden_dir.glob("*.parquet")):
        assert not implausible_rows(canonical_records(pq.read_table(path))).any(), path.name


def test_settlement_rejects_a_data_error_and_pays_the_rest_as_before():
    pol = policy()
    good = [case(f"H1-{i}", "H1", "A01", "9000", "1000", 1) for i in range(5)]
    bad = case("H1-bad", "H1", "A01", "9000", "1000", 1, los=4 * 10**15)
    w = weights([("A01", "1.0", "10000")])
    with_bad = run_settlement(cases_frame(good + [bad]), w, pol, hospitals(pol, [("H1", 3)]), "month", "2024-01")
    without = run_settlement(cases_frame(good), w, pol, hospitals(pol, [("H1", 3)]), "month", "2024-01")
    lines = {r["case_id"]: r for r in with_bad.tables["case_lines"].to_pylist()}
    assert lines["H1-bad"]["case_type"] == "rejected" and lines["H1-bad"]["note"] == REJECT_REASONS[DATA_ERROR]
    assert lines["H1-bad"]["fund_payment"] in (0, None) or str(lines["H1-bad"]["fund_payment"]) == "0.00"
    others = {r["case_id"]: r["fund_payment"] for r in without.tables["case_lines"].to_pylist()}
    assert {k: lines[k]["fund_payment"] for k in others} == others


def test_indices_leave_a_data_error_out_of_every_mean():
    w = weights([("A01", "1.0", "200"), ("B01", "2.0", "400")])
    rows = {"hospital_id": ["H1"] * 4, "drg": ["A01", "A01", "B01", "A01"], "status": ["ok"] * 4,
            "total_cost": [100.0, 300.0, 500.0, 200.0], "los_days": [2, 4, 6, 3], "discharge_method": [1] * 4}
    clean = performance_indices(pa.table({k: v[:3] for k, v in rows.items()}), w, levels=("hospital",)).table
    rows["los_days"][3] = 4 * 10**15
    dirty = performance_indices(pa.table(rows), w, levels=("hospital",)).table
    for name in ("cmi", "cost_index", "time_index", "total_weight", "total_cost"):
        assert dirty.column(name).to_pylist() == clean.column(name).to_pylist(), name
    assert np.isfinite(dirty.column("time_index").to_numpy()).all()


def test_validation_lists_a_data_quality_finding():
    from audit.validate import Validator

    record = {"case_id": "A1", "sex": 1, "age_years": 60, "principal_dx": "I21.000", "los_days": 40000,
              "total_cost": 9000, "drug_cost": -3}
    findings = Validator().validate([record]).findings.to_pylist()
    found = {f["field"]: f for f in findings if f["rule_id"] == "VALUE_IMPLAUSIBLE"}
    assert set(found) == {"los_days", "drug_cost"}
    assert found["los_days"]["severity"] == "error" and "住院天数超出合理范围" in found["los_days"]["message_zh"]
    assert found["los_days"]["value"] == "40000" and "0 to 36525" in found["los_days"]["message_en"]
