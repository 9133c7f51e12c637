"""Faults and abuse (issue 16): concurrent writers, malformed bodies, odd identifiers, jobs that die, limits.

Every test runs on DuckDB and PostgreSQL.  The invariants asserted are the issue's: no 500 for any
input, versions strictly increasing per case with no duplicate (case_id, version), downloads whole,
another hospital's objects invisible and the attempt logged.
"""

from __future__ import annotations

import io
import json
import threading
from decimal import Decimal
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from service_helpers import month_records, records_json


def _versions(api, hospital: str) -> tuple[dict, list]:
    with api.service.db.connect() as conn:
        current = {r["case_id"]: r["version"] for r in conn.rows(
            "SELECT case_id, version FROM cases WHERE hospital_id = ?", (hospital,))}
        history = conn.rows("SELECT case_id, version FROM case_history WHERE hospital_id = ? ORDER BY case_id, version",
                            (hospital,))
    return current, history


def test_concurrent_uploads_of_the_same_cases_keep_versions_strict(api):
    """8 clients × 3 uploads of the same 300 case ids: each answers 200 or 409; history has no duplicate
    version, every current version exceeds every historical one, and stored + history = accepted uploads."""
    records = records_json(month_records("H001", 300, 5))
    statuses: list[int] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        for _ in range(3):
            code = api.post("/v1/batches", "hospital", json={"records": records}).status_code
            with lock:
                statuses.append(code)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(client, range(8)))
    assert set(statuses) <= {200, 409}, statuses
    accepted = statuses.count(200)
    assert accepted >= 1
    current, history = _versions(api, "H001")
    assert len(current) == 300 and set(current.values()) == {accepted}
    pairs = [(r["case_id"], r["version"]) for r in history]
    assert len(pairs) == len(set(pairs)) == 300 * (accepted - 1)
    for case_id, version in pairs:
        assert version < current[case_id]


@pytest.mark.parametrize("body", [
    b'{"api_key": NaN}', b'{"api_key": Infinity}', b'{"api_key": -Infinity}', b'{"api_key": "\\ud800"}',
    b'{"api_key": "\\udc00x"}', b'{"api_key": "drg_\\u0000"}', b'{"api_key": "a"', b'\xff\xfe',
    b'[' * 100_000 + b']' * 100_000, b'{"a":' * 50_000 + b'1' + b'}' * 50_000,
])
@pytest.mark.parametrize("route", ["/v1/auth/token", "/v1/group", "/v1/batches", "/v1/settlements",
                                   "/v1/audit-runs", "/v1/flags/x/appeal", "/v1/flags/x/decision"])
def test_malformed_json_never_reaches_a_500(api, route, body):
    """NaN, Infinity, lone surrogates, NUL, truncation, invalid UTF-8 and 100,000-deep nesting: 400 or 422,
    before authentication, and the connection stays usable."""
    for who in (None, "payer"):
        r = api.client.post(route, content=body, headers={**api.as_(who), "Content-Type": "application/json"})
        assert r.status_code in (400, 422), (route, body[:40], r.status_code, r.text)
        assert "detail" in r.json()


def test_json_inside_the_depth_bound_is_accepted(api):
    record = {**records_json(month_records("H001", 1, 1))[0], "note": [[[[{"a": [1, 2]}]]]]}
    assert api.post("/v1/group", "hospital", json=record).status_code == 200
    emoji = {**record, "dept": "\ud83d\ude00 内科"}  # a surrogate pair written as escapes is a valid character
    r = api.client.post("/v1/group", content=json.dumps(emoji).encode(),
                        headers={**api.as_("hospital"), "Content-Type": "application/json"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ["/v1/hospitals/H001%00/cases", "/v1/hospitals/H001/cases?dept=%00",
                                  "/v1/hospitals/H001/cases/a%00b", "/v1/audit-runs/x%00",
                                  "/v1/hospitals/H001/summary?period=2024-03%00", "/v1/jobs/%00"])
def test_nul_in_paths_and_queries_is_refused(api, path):
    r = api.get(path, "payer")
    assert r.status_code in (400, 404, 422), (path, r.status_code, r.text)


def test_nul_in_a_stored_field_is_refused_not_500(api):
    record = {**records_json(month_records("H001", 1, 1))[0], "dept": "内\u0000科"}
    for route in ("/v1/group?store=true", "/v1/group"):
        r = api.post(route, "hospital", json=record)
        assert r.status_code == 422, r.text
    r = api.post("/v1/batches", "hospital", json={"records": [record]})
    assert r.status_code == 422, r.text


def test_truncated_arrow_upload_is_422_without_server_paths(api):
    table = pa.Table.from_pandas(month_records("H001", 50, 1), preserve_index=False)
    for writer in (ipc.new_file, ipc.new_stream):
        sink = io.BytesIO()
        with writer(sink, table.schema) as w:
            w.write_table(table)
        data = sink.getvalue()
        for cut in (len(data) // 2, len(data) - 7, 10):
            r = api.post("/v1/batches/upload", "hospital", files={"file": ("cases.arrow", data[:cut])})
            assert r.status_code == 422, (cut, r.status_code, r.text)
            assert str(api.service.settings.job_dir) not in r.text and "/tmp" not in r.text, r.text


def test_streamed_body_over_the_limit_is_413(tmp_path, request):
    from service_helpers import close_client, make_client

    for backend in ("duckdb",):
        c, schema = make_client(tmp_path, backend, max_upload_mb=1)
        try:
            def chunks():
                for _ in range(3):
                    yield b"x" * (1 << 20)

            r = c.client.post("/v1/batches/upload", headers={**c.as_("hospital"),
                                                              "Content-Type": "multipart/form-data; boundary=zz"},
                              content=chunks())
            assert r.status_code == 413, r.text
            r = c.client.post("/v1/batches", headers={**c.as_("hospital"), "Content-Type": "application/json"},
                              content=chunks())
            assert r.status_code == 413, r.text
        finally:
            close_client(c, backend, schema)


def test_nul_in_an_uploaded_file_is_refused_naming_the_row(api):
    frame = month_records("H001", 5, 1)
    frame.loc[3, "dept"] = "内\x00科"
    sink = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    r = api.post("/v1/batches/upload", "hospital", files={"file": ("cases.arrow", sink.getvalue())})
    assert r.status_code == 422 and "row 4" in r.text, r.text
    assert _versions(api, "H001")[0] == {}


def test_a_client_that_stops_sending_its_body_gets_408():
    """Slow clients: the guard waits ``body_timeout_s`` for each part of the body, then answers 408."""
    import asyncio

    from api.service.guard import RequestGuard

    async def app(scope, receive, send):  # reads the whole body, as a route does
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def run(content_type: bytes) -> int:
        parts = [{"type": "http.request", "body": b"{", "more_body": True}]

        async def receive():
            if parts:
                return parts.pop()
            await asyncio.sleep(3600)

        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/v1/batches", "query_string": b"",
                 "headers": [(b"content-type", content_type)]}
        await RequestGuard(app, limit=1 << 20, body_timeout_s=0.05)(scope, receive, send)
        return sent[0]["status"]

    assert asyncio.run(run(b"application/json")) == 408
    assert asyncio.run(run(b"multipart/form-data; boundary=x")) == 408


def encode(identifier: str) -> str:
    """A path segment as a client writes it: every reserved character percent-encoded, dots too (else a
    client or proxy may read ``..`` as "the folder above")."""
    from urllib.parse import quote

    return quote(identifier, safe="").replace(".", "%2E")


ODD_IDS = ["a/b", "..", "../etc", "c#1", "d%20e", "with space", "中文/病案", "./x", "q?x=1", "%2F", "semi;colon"]


def test_case_ids_with_any_printable_character_work_in_every_route(api):
    """Finding 11: each odd id is stored, its case page opens, its flag is appealed and decided, percent-encoded."""
    def pneumonia(case_id, admit, discharge):
        return dict(case_id=case_id, patient_id=f"P-{case_id}", sex=1, age_years=67, principal_dx="J18.900",
                    secondary_dx="J96.000", discharge_method=1, insurance_type="390", total_cost=9000.0,
                    admit_date=admit, discharge_date=discharge, los_days=4)

    records = []
    for k, case_id in enumerate(ODD_IDS):  # each id is the second stay of a readmission: it is flagged
        records += [pneumonia(f"first-{k}", "2024-03-01", "2024-03-05"), pneumonia(case_id, "2024-03-09", "2024-03-13")]
        records[-2]["patient_id"] = records[-1]["patient_id"]
    assert api.post("/v1/batches", "hospital", json={"records": records}).status_code == 200
    for case_id in ODD_IDS:
        r = api.get(f"/v1/hospitals/H001/cases/{encode(case_id)}", "hospital")
        assert r.status_code == 200 and r.json()["case"]["case_id"] == case_id, (case_id, r.status_code, r.text)
    run = api.post("/v1/audit-runs", "payer", json={"period": "2024-03"}).json()
    flags = api.get(f"/v1/audit-runs/{run['run_id']}/flags?limit=1000", "hospital").json()["flags"]
    by_case = {f["case_id"]: f["flag_id"] for f in flags if f["rule_id"] == "SPLIT_READMISSION"}
    assert set(ODD_IDS) <= set(by_case)
    for case_id in ODD_IDS:
        url = f"/v1/flags/{encode(by_case[case_id])}"
        r = api.post(f"{url}/appeal", "hospital", json={"run_id": run["run_id"], "reason": "不同疾病"})
        assert r.status_code == 200 and r.json()["status"] == "appealed", (case_id, r.text)
        r = api.client.get(f"{url}/appeal", params={"run_id": run["run_id"]}, headers=api.as_("hospital"))
        assert r.status_code == 200 and r.json()["flag_id"] == by_case[case_id], (case_id, r.text)
        r = api.post(f"{url}/decision", "payer", json={"run_id": run["run_id"], "status": "withdrawn",
                                                        "outcome": "复核无误"})
        assert r.status_code == 200 and r.json()["status"] == "withdrawn", (case_id, r.text)


def _finished_job(api, n: int = 40) -> dict:
    import time

    sink = io.BytesIO()
    pa.parquet.write_table(pa.Table.from_pandas(month_records("H001", n, 10), preserve_index=False), sink)
    r = api.post("/v1/batches/upload?background=true", "hospital",
                 files={"file": ("big.parquet", sink.getvalue())}).json()
    for _ in range(400):
        status = api.get(f"/v1/jobs/{r['job_id']}", "hospital").json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError(status)


def test_concurrent_first_csv_downloads_are_whole(api):
    """Finding 6: six parallel first downloads of a job's CSV all answer 200 with the same whole file."""
    import pyarrow.parquet  # noqa: F401  (pa.parquet)

    status = _finished_job(api)
    assert status["state"] == "done", status
    barrier = threading.Barrier(6)

    def download(_):
        barrier.wait()
        return api.get(status["results_url"] + "?format=csv", "hospital")

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(download, range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert len({a.content for a in answers}) == 1 and answers[0].text.count("\n") == 41
    folder = api.service.settings.job_dir / status["job_id"]
    assert sorted(p.name for p in folder.iterdir()) == ["results.csv", "results.parquet"]


def _job_row(api, job_id: str, owner: str, heartbeat_age_s: float, state: str = "running") -> None:
    from datetime import timedelta

    from api.service.db import utcnow

    now = utcnow()
    with api.service.db.connect(write=True) as conn:
        conn.execute("INSERT INTO jobs (job_id, run_id, hospital_id, state, total, done, message, result_path, "
                     "created_by, created_at, updated_at, owner, heartbeat_at) VALUES (?, ?, 'H001', ?, 10, 0, NULL, "
                     "NULL, 'k', ?, ?, ?, ?)", (job_id, f"run-{job_id}", state, now - timedelta(hours=1), now,
                                                owner, now - timedelta(seconds=heartbeat_age_s)))


def _state(api, job_id: str) -> str:
    with api.service.db.connect() as conn:
        return conn.one("SELECT state FROM jobs WHERE job_id = ?", (job_id,))["state"]


def test_only_a_job_whose_heartbeat_stopped_is_failed_when_another_process_starts(api, tmp_path):
    """Finding 7: a second service process on the same database leaves a live job alone."""
    from service_helpers import PG_URL, close_client, make_client

    _job_row(api, "job-alive", "other-host:1:abc", heartbeat_age_s=1)
    _job_row(api, "job-dead", "other-host:2:def", heartbeat_age_s=3600)
    _job_row(api, "job-queued-dead", "other-host:2:def", heartbeat_age_s=3600, state="queued")
    if api.backend == "postgresql":
        second, schema = make_client(tmp_path / "second", "postgresql", database_url=PG_URL,
                                     database_schema=api.service.settings.database_schema)
        close_client(second, "duckdb", schema)  # the schema is the first app's: not dropped here
    else:
        api.service.jobs.sweep()  # one DuckDB file has one process: the start-up sweep itself
    assert _state(api, "job-alive") == "running"
    assert _state(api, "job-dead") == "failed" and _state(api, "job-queued-dead") == "failed"


def test_a_running_job_keeps_its_heartbeat(api):

    from api.service.db import utcnow

    jobs = api.service.jobs
    _job_row(api, "job-mine", jobs.owner, heartbeat_age_s=3600)
    jobs.beat()
    with api.service.db.connect() as conn:
        beat = conn.one("SELECT heartbeat_at FROM jobs WHERE job_id = 'job-mine'")["heartbeat_at"]
    assert (utcnow() - beat).total_seconds() < 60
    jobs.sweep()
    assert _state(api, "job-mine") == "running"


def test_abandoned_job_files_are_removed_after_their_age(api):
    """Finding 12: uploads and partial results a killed job left behind go at the next sweep once old enough;
    a finished job's results and a live job's files stay."""
    import os

    status = _finished_job(api)
    root = api.service.settings.job_dir
    _job_row(api, "job-dead", "gone:1:x", heartbeat_age_s=3600)
    _job_row(api, "job-live", api.service.jobs.owner, heartbeat_age_s=0)
    for name in ("job-dead/upload.csv", "job-dead/.results.parquet.partial", "job-live/upload.csv", "tmpab12.csv",
                 f"{status['job_id']}/.results.csv.partial", "job-unknown/upload.parquet"):
        (root / name).parent.mkdir(exist_ok=True)
        (root / name).write_bytes(b"x")
    fresh = root / "tmpfresh.csv"
    fresh.write_bytes(b"x")
    old = 2 * api.service.settings.job_files_max_age_s
    for path in root.rglob("*"):
        if path.name != "tmpfresh.csv":
            os.utime(path, (path.stat().st_atime - old, path.stat().st_mtime - old))
    api.service.jobs.sweep()
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert left == sorted([f"{status['job_id']}/results.parquet", "job-live/upload.csv", "tmpfresh.csv"])


def _log(api, action: str) -> list[dict]:
    with api.service.db.connect() as conn:
        return conn.rows("SELECT key_id, hospital_id, object, status FROM audit_log WHERE action = ? ORDER BY id",
                         (action,))


def test_failed_sign_ins_are_limited_and_logged_within_the_limit(api):
    """Finding 12: 50 failed sign-ins from one address write at most the allowance of audit lines; past it 429."""
    limit = int(api.service.settings.failed_sign_ins_per_min)
    codes = [api.client.post("/v1/auth/token", json={"api_key": f"drg_bad_{k}"}).status_code for k in range(50)]
    assert codes[:limit] == [401] * limit and set(codes[limit:]) == {429}
    assert len(_log(api, "sign-in-failed")) == limit
    r = api.client.post("/v1/auth/token", json={"api_key": api.keys["hospital"]})
    assert r.status_code == 429  # the address waits, whatever key it tries next


def test_denied_cross_hospital_attempts_are_logged(api):
    assert api.post("/v1/batches", "hospital", json={"records": records_json(month_records("H001", 3, 1))}) \
        .status_code == 200
    with api.service.db.connect() as conn:
        case_id = conn.one("SELECT case_id FROM cases WHERE hospital_id = 'H001' LIMIT 1")["case_id"]
    for url in ("/v1/hospitals/H001/cases", f"/v1/hospitals/H001/cases/{case_id}", "/v1/hospitals/H001/summary"):
        assert api.get(url, "other").status_code == 404
    assert api.get("/v1/audit-log", "hospital").status_code == 403
    denied = _log(api, "denied")
    assert [(d["hospital_id"], d["status"]) for d in denied] == [("H002", 404)] * 3 + [("H001", 403)]
    assert denied[1]["object"] == f"GET /v1/hospitals/H001/cases/{case_id}"


def test_validation_422_is_bilingual_like_every_other_error(api):
    r = api.post("/v1/batches", "hospital", json={"records": "not a list"})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["detail"].startswith("请求内容无效 (invalid request): body.records 应为列表 (")
    assert body["errors"][0]["loc"] == ["body", "records"] and body["errors"][0]["type"] == "list_type"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_large_text_uploads_become_background_jobs(api, fmt, tmp_path):
    """Finding 10: a CSV, JSON Lines or XLSX upload over ``background_bytes`` runs as a job, not in the request."""
    frame = month_records("H001", 30, 12)
    path = tmp_path / f"cases.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_excel(path, index=False)
    api.service.settings.background_bytes = path.stat().st_size - 1
    r = api.post("/v1/batches/upload", "hospital", files={"file": (path.name, path.read_bytes())})
    assert r.status_code == 200 and r.json()["state"] == "queued" and r.json()["job_id"], r.text
    api.service.settings.background_bytes = path.stat().st_size
    r = api.post("/v1/batches/upload", "hospital", files={"file": (path.name, path.read_bytes())})
    assert r.status_code == 200 and r.json()["state"] == "done" and r.json()["n_records"] == 30, r.text


# (field value, whether it is read as a number: beyond decimal(18, 2) an amount is unreadable, i.e. missing)
IMPLAUSIBLE = [({"los_days": 4_000_000_000_000_000_000}, True), ({"los_days": 4_000_000_000_000_000}, True),
               ({"age_years": -3}, True), ({"total_cost": 9_999_999_999_999_999}, False),
               ({"total_cost": "99999999999999.99"}, True), ({"drug_cost": -5}, True),
               ({"birth_weight_g": 90_000}, True), ({"total_cost": "0.000000000001"}, False)]


@pytest.mark.parametrize("bad, readable", IMPLAUSIBLE, ids=[f"{k}={v}" for (b, _) in IMPLAUSIBLE
                                                             for k, v in b.items()])
def test_a_stored_implausible_value_breaks_no_summary_of_any_hospital(api, bad, readable):
    """Finding 3: one hospital stores a value no stay can have; every aggregate of the month still answers, the
    case is a data error (listed, not paid, not averaged)."""
    for hospital, key in (("H001", "hospital"), ("H002", "other")):
        r = api.post("/v1/batches", key, json={"records": records_json(month_records(hospital, 20, 3))})
        assert r.status_code == 200, r.text
    before = api.get("/v1/hospitals/H001/summary?period=2024-03", "hospital").json()
    record = {**records_json(month_records("H002", 1, 9))[0], "case_id": "BAD-1", **bad}
    r = api.post("/v1/group?store=true", "other", json=record)
    assert r.status_code in (200, 422), r.text
    stored = r.status_code == 200
    clean = api.get("/v1/hospitals/H001/summary?period=2024-03", "hospital")
    assert clean.status_code == 200 and clean.json() == before, clean.text  # another hospital's row changes nothing
    for url, who in (("/v1/hospitals/H002/summary?period=2024-03", "other"),
                     ("/v1/hospitals/H002/summary?period=2024", "payer"), ("/v1/hospitals/H002/summary", "payer"),
                     ("/v1/hospitals/H002/cases?period=2024-03", "other")):
        r = api.get(url, who)
        assert r.status_code == 200, (url, r.text)
    summary = api.get("/v1/hospitals/H002/summary?period=2024-03", "other").json()
    assert summary["n_cases"] == 20 + stored
    if stored:
        assert summary["data_errors"] == int(readable)
        assert Decimal(summary["total_cost"]) < Decimal(10) ** 9  # the data error is in no sum
    r = api.post("/v1/audit-runs", "payer", json={"period": "2024-03"})
    assert r.status_code == 201, r.text
    r = api.post("/v1/settlements", "payer", json={"kind": "month", "period": "2024-03"})
    assert r.status_code == 201, r.text
    if stored and readable:
        lines = api.get(f"/v1/settlements/{r.json()['run_id']}/lines?hospital_id=H002&limit=1000", "payer").json()
        bad_line = [line for line in lines["lines"] if line["case_id"] == "BAD-1"]
        assert bad_line and bad_line[0]["case_type"] == "rejected" and "数据错误" in bad_line[0]["note"]
        assert bad_line[0]["fund_payment"] in ("0.00", None)
    assert api.get("/v1/hospitals/H002/summary?period=2024-03", "payer").status_code == 200


def test_review_queue_of_a_run_without_flags(api):
    """Finding 5 through the service: a one-record month has no flags; its queue is the random sample."""
    assert api.post("/v1/batches", "hospital", json={"records": records_json(month_records("H001", 1, 2))}) \
        .status_code == 200
    run = api.post("/v1/audit-runs", "payer", json={"period": "2024-03"})
    assert run.status_code == 201 and run.json()["n_flags"] == 0, run.text
    queue = api.get(f"/v1/audit-runs/{run.json()['run_id']}/queue?top=5&sample=3", "payer")
    assert queue.status_code == 200, queue.text
    assert [e["selection"] for e in queue.json()["entries"]] == ["random"]
