"""Hospital views and settlement reads against independent computations on the same records."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa

from api.service.engine import Engine
from grouper import Grouper
from payment import load_policy, read_hospitals, run_settlement
from service_helpers import POLICY, month_records, rw_of

CODES = [c for c in Grouper().pack.compiled.drg_codes.to_pylist() if c and c != "0000"]
RW = {code: rw_of(k) for k, code in enumerate(CODES)}


def _grouped(hospital, seed):
    frame = month_records(hospital, 60, seed)
    results = Grouper().group(frame)
    return frame, results


def test_summary_counts_and_cmi(loaded):
    frame, results = _grouped("H001", 1)
    body = loaded.get("/v1/hospitals/H001/summary?period=2024-03", "hospital").json()
    assert body["n_cases"] == 60
    assert body["by_status"] == results["status"].astype(str).value_counts().to_dict()
    ok = results[results["status"].astype(str) == "ok"]
    total = sum((RW[d] for d in ok["drg"].astype(str)), Decimal(0))
    assert Decimal(body["total_weight"]) == total               # Σ RW over ok cases, exact
    assert body["cmi"] == round(float(total / len(ok)), 6)      # CMI = Σ RW ÷ N
    cost = sum((Decimal(str(round(c, 2))) for c in frame["total_cost"]), Decimal(0))
    assert Decimal(body["total_cost"]) == cost
    assert sum(d["n_cases"] for d in body["drgs"]) == 60
    assert body["payment_source"] == "settlement" and body["settlement_run"]
    assert sum(body["findings_by_severity"].values()) > 0


def test_cases_filters(loaded):
    _, results = _grouped("H001", 1)
    ok = loaded.get("/v1/hospitals/H001/cases?period=2024-03&status=ok&limit=1000", "coder").json()
    assert ok["total"] == int((results["status"].astype(str) == "ok").sum())
    assert {c["status"] for c in ok["cases"]} == {"ok"}
    drg = ok["cases"][0]["drg"]
    by_drg = loaded.get(f"/v1/hospitals/H001/cases?drg={drg}", "hospital").json()
    assert by_drg["total"] == int((results["drg"].astype(str) == drg).sum())
    dept = loaded.get("/v1/hospitals/H001/cases?dept=内科", "hospital").json()
    assert dept["total"] == 30
    assert loaded.get("/v1/hospitals/H001/cases?period=2023-01", "hospital").json()["total"] == 0
    page = loaded.get("/v1/hospitals/H001/cases?limit=7&offset=7", "hospital").json()
    assert len(page["cases"]) == 7 and page["offset"] == 7


def test_statement_equals_direct_settlement(loaded, tmp_path):
    """The stored statement is run_settlement's hospital table for the same current cases."""
    policy = load_policy(POLICY)
    engine = Engine("example-mini", loaded.service.settings.weights, POLICY)
    parts = []
    for hospital, seed in (("H001", 1), ("H002", 2)):
        frame, results = _grouped(hospital, seed)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        for name in ("drg", "status"):
            table = table.append_column(name, pa.array(results[name].astype(str)))
        parts.append(table)
    cases = pa.concat_tables(parts, promote_options="permissive")
    run = run_settlement(cases, engine.weights, policy, read_hospitals(policy.files["hospitals"], policy), "month",
                         "2024-03")
    expected = [r for r in run.tables["hospitals"].to_pylist() if r["hospital_id"] == "H001"]
    got = loaded.get(f"/v1/settlements/{loaded.run_id}/statements/H001", "hospital").json()
    assert got["kind"] == "month" and got["period"] == "2024-03"
    assert [(r["insurance_type"], r["drg_fund"], r["paid"]) for r in got["lines"]] == \
        [(r["insurance_type"], str(r["drg_fund"]), str(r["paid"])) for r in expected]
    lines = loaded.get(f"/v1/settlements/{loaded.run_id}/lines?limit=1000", "hospital").json()
    assert lines["total"] == 60
    fund = sum((Decimal(l["fund_payment"]) for l in lines["lines"] if l["case_type"] in ("normal", "high", "low")),
               Decimal(0))
    assert fund == sum((Decimal(r["drg_fund"]) for r in got["lines"]), Decimal(0))


def test_run_metadata(loaded):
    run = loaded.get(f"/v1/settlements/{loaded.run_id}", "auditor").json()
    assert run["kind"] == "settle-month" and run["n_records"] == 120
    assert run["policy_version"].startswith("example-2024.1@") and len(run["input_sha256"]) == 64
    assert run["detail"]["cases"]["settled"] == 120
    assert loaded.get("/v1/settlements/settle-nope", "payer").status_code == 404
