"""Grouping routes: one record, JSON and file batches, idempotent re-uploads with history, jobs, limits."""

from __future__ import annotations

import io
import time
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from api.cli import build_parser  # noqa: F401  (the service is part of the installed command line)
from audit.validate import Validator
from grouper import Grouper
from service_helpers import month_records, records_json


def test_group_one_equals_drg_group(api):
    records = records_json(month_records("H001", 30, 3))
    expected = Grouper().group_arrow(month_records("H001", 30, 3)).to_pylist()
    for record, want in zip(records, expected):
        got = api.post("/v1/group", "hospital", json=record).json()["result"]
        want = {**want, "warnings": "", "row_no": 1}
        assert {k: got[k] for k in want} == want


def test_group_one_findings_and_explanation_are_the_validators(api):
    record = records_json(month_records("H001", 1, 1))[0]   # J96.000 principal repeated among secondaries
    body = api.post("/v1/group?validate=true", "coder", json=record).json()
    validation = Validator().validate([record])
    assert [f["rule_id"] for f in body["findings"]] == validation.findings.column("rule_id").to_pylist()
    assert body["explanation"]["mdc_trace"] == validation.explanations.column("mdc_trace")[0].as_py()
    assert body["stored"] is False


def test_expected_payment_by_hand(api):
    """A normal case: RW × 100 × coefficient points at the neutral point value average_cost ÷ 100.

    FM11 is the pack's 11th DRG code (k = 10 after 0000): RW = 0.5 + 0.25 × 10 = 3.0.  H001 is a
    level-3 hospital: coefficient 1.15.  Points = 3.0 × 100 × 1.15 = 345.  Neutral point value =
    17000.00 ÷ 100 = 170 元.  Standard = 345 × 170 = 58650.00 元.  The DRG's mean cost is
    3.0 × 17000 = 51000 元; RW 3 is in the policy's tier 3 ≤ RW < 5, K = 1.5, and L = 0.4, so
    0.4 × 51000 = 20400 < 40000 < 1.5 × 51000 = 76500: a normal case.  Patient paid 5000.00 →
    expected fund payment 58650.00 − 5000.00 = 53650.00.
    """
    record = {"case_id": "P1", "sex": 1, "age_years": 60, "principal_dx": "I21.000", "procedures": "36.0600",
              "secondary_dx": "J96.000", "discharge_date": "2024-03-05", "insurance_type": "310",
              "total_cost": 40000, "patient_paid": 5000, "los_days": 5}
    body = api.post("/v1/group", "hospital", json=record).json()
    assert body["result"]["drg"] == "FM11", body
    assert body["payment"]["case_type"] == "normal"
    assert body["payment"]["expected_standard"] == "58650.00"
    assert body["payment"]["expected_fund"] == "53650.00"
    assert body["payment"]["expected_patient_share"] == "5000.00"
    # labelled a forecast, with its point value: 170 元 per point
    assert body["payment"]["label"] == "预计（结算前按参考点值预测，以结算结果为准） forecast before settlement, at a reference point value"
    assert body["payment"]["point_value"] == "170.000000 元/点"
    assert body["result"]["rw"] == "3.000000"


def test_batch_store_replace_and_history(api):
    records = records_json(month_records("H001", 10, 4))
    first = api.post("/v1/batches", "hospital", json={"records": records}).json()
    assert (first["n_records"], first["stored"], first["replaced"]) == (10, 10, 0)
    fixed = dict(records[0], principal_dx="J18.900", secondary_dx="")
    second = api.post("/v1/batches", "coder", json={"records": [fixed]}).json()
    assert (second["stored"], second["replaced"]) == (1, 1)
    detail = api.get(f"/v1/hospitals/H001/cases/{records[0]['case_id']}", "hospital").json()
    assert detail["case"]["version"] == 2 and detail["case"]["principal_dx"] == "J18.900"
    assert [v["version"] for v in detail["versions"]] == [1]
    assert detail["versions"][0]["run_id"] == first["run_id"]
    listed = api.get("/v1/hospitals/H001/cases", "hospital").json()
    assert listed["total"] == 10       # one current row per case


def test_batch_repeated_case_in_one_upload_keeps_last(api):
    rec = records_json(month_records("H001", 1, 5))[0]
    twice = [dict(rec, total_cost=100), dict(rec, total_cost=200)]
    body = api.post("/v1/batches", "hospital", json={"records": twice}).json()
    assert (body["stored"], body["repeated_in_upload"]) == (1, 1)
    detail = api.get(f"/v1/hospitals/H001/cases/{rec['case_id']}", "hospital").json()
    assert detail["case"]["total_cost"] == "200.00" and detail["case"]["version"] == 2
    assert [v["total_cost"] for v in detail["versions"]] == ["100.00"]


def test_runs_are_recorded(api):
    body = api.post("/v1/batches?validate=true", "payer", json={"records": records_json(month_records("H002", 3, 6))}).json()
    with api.service.db.connect() as conn:
        run = conn.one("SELECT * FROM runs WHERE run_id = ?", (body["run_id"],))
    assert run["kind"] == "validate" and run["n_records"] == 3 and len(run["input_sha256"]) == 64
    assert run["pack_version"].startswith("example-mini@") and run["weights_version"].startswith("test-weights@")
    assert run["policy_version"].startswith("example-2024.1@") and run["created_by"]


def _parquet_bytes(frame) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "arrow"])
def test_file_uploads(api, fmt):
    frame = month_records("H001", 12, 9)
    if fmt == "csv":
        data = frame.rename(columns={"case_id": "病案号", "principal_dx": "主要诊断编码"}).to_csv(index=False).encode()
    elif fmt == "parquet":
        data = _parquet_bytes(frame)
    else:
        sink = io.BytesIO()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        data = sink.getvalue()
    r = api.post("/v1/batches/upload", "hospital", files={"file": (f"cases.{fmt}", data)})
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 12
    assert sum(r.json()["by_status"].values()) == 12


def test_background_job_progress_and_download(api):
    frame = month_records("H001", 40, 10)
    r = api.post("/v1/batches/upload?background=true", "hospital",
                 files={"file": ("big.parquet", _parquet_bytes(frame))}).json()
    assert r["state"] == "queued" and r["n_records"] == 40
    for _ in range(200):
        status = api.get(f"/v1/jobs/{r['job_id']}", "hospital").json()
        if status["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert status["state"] == "done", status
    assert status["progress"] == 1.0 and status["done"] == 40
    assert api.get(f"/v1/jobs/{r['job_id']}", "other").status_code == 404
    download = api.get(status["results_url"], "hospital")
    results = pq.read_table(io.BytesIO(download.content))
    assert results.num_rows == 40 and results.column("case_id").to_pylist() == frame["case_id"].tolist()
    csv = api.get(status["results_url"] + "?format=csv", "payer")
    assert csv.status_code == 200 and csv.text.count("\n") == 41


def test_bad_uploads_answer_422_without_traceback(api):
    r = api.post("/v1/batches/upload", "hospital", files={"file": ("x.parquet", b"not parquet")})
    assert r.status_code == 422 and "Traceback" not in r.text
    r = api.post("/v1/batches/upload", "hospital", files={"file": ("x.exe", b"MZ")})
    assert r.status_code == 422 and "unsupported file type" in r.json()["detail"]
    r = api.post("/v1/batches", "payer", json={"records": [{"case_id": "A", "sex": 1, "age_years": 3, "principal_dx": "J18.900"}]})
    assert r.json() == {"detail": "第 1 行缺少医疗机构编码 (row 1: hospital_id is empty); a payer upload names the hospital of every case"}


def test_internal_error_hides_details(api, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api.service.fast, "group", broken)
    r = api.post("/v1/group", "hospital", json={"case_id": "A", "sex": 1, "age_years": 3, "principal_dx": "J18.900"})
    assert r.status_code == 500
    assert "secret" not in r.text and r.json()["detail"].startswith("内部错误，请联系管理员 (internal error, reference ")


def test_body_limit_and_rate_limit(tmp_path):
    from service_helpers import close_client, make_client

    c, schema = make_client(tmp_path, "duckdb", max_upload_mb=1, rate_limit_per_s=1, rate_burst=3)
    try:
        big = c.post("/v1/batches/upload", "hospital", files={"file": ("a.csv", b"x" * (2 * 2**20))})
        assert big.status_code == 413
        codes = [c.get("/v1/auth/me", "coder").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
        limited = c.get("/v1/auth/me", "coder")
        assert limited.headers["Retry-After"] == "1"
    finally:
        close_client(c, "duckdb", schema)


def test_catalogue(api):
    packs = api.get("/v1/packs", "auditor").json()
    assert packs[0]["loaded"] and packs[0]["n_drgs"] == 19
    drgs = api.get(f"/v1/packs/{packs[0]['version']}/drgs", "hospital").json()
    fm11 = next(d for d in drgs if d["drg"] == "FM11")
    assert fm11 == {"drg": "FM11", "drg_name": "经皮冠状动脉支架植入，伴严重并发症", "adrg": "FM1", "rw": "3.000000"}
    assert api.get("/v1/packs/other-pack/drgs", "hospital").status_code == 404
    assert Decimal(fm11["rw"]) == Decimal("0.5") + Decimal("0.25") * 10


def test_summary_before_settlement_is_a_labelled_forecast(api):
    records = records_json(month_records("H001", 10, 4))
    assert api.post("/v1/batches", "hospital", json={"records": records}).status_code == 200
    body = api.get("/v1/hospitals/H001/summary", "payer").json()
    assert body["payment_source"] == "expected"
    assert body["payment_label"] == "预计（结算前按参考点值预测，以结算结果为准） forecast before settlement, at a reference point value"
    assert body["point_value"].startswith("170.000000 元/点（neutral")   # average cost 17,000 ÷ 100
    # the standard includes the patient's share: fund payment and patient share shown apart
    assert Decimal(body["fund_payment"]) + Decimal(body["patient_share"]) == Decimal(body["payment"])
