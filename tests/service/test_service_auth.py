"""Authorization matrix: role × route × own/other hospital → 200/403/404, on DuckDB and PostgreSQL.

"own" is H001 (the hospital and coder keys' hospital), "other" is H002.  A scoped key asking for
H002's objects must get 404 (indistinguishable from absent); a route its role may not use, 403.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from service_helpers import month_records, records_json

ROLES = ("hospital", "coder", "payer", "auditor")
HOSPITAL_OF = {"own": "H001", "other": "H002"}


def _case(c, hospital):
    return f"{hospital}-{1 if hospital == 'H001' else 2}-0003"


@pytest.fixture(scope="module")
def world(loaded):
    """``loaded`` with an audit run of March and one finished background job per hospital."""
    c = loaded
    for hospital in ("H001", "H002"):  # two overlapping stays of one patient: a flag for each hospital
        stays = [dict(sex=1, age_years=67, principal_dx="J18.900", discharge_method=1, insurance_type="390",
                      total_cost=9000.0, hospital_id=hospital, case_id=f"{hospital}-OV-{i}", patient_id=f"P-{hospital}",
                      admit_date=admit, discharge_date=discharge, los_days=los)
                 for i, (admit, discharge, los) in enumerate((("2024-03-10", "2024-03-20", 10),
                                                              ("2024-03-15", "2024-03-18", 3)))]
        assert c.post("/v1/batches", "payer", json={"records": stays}).status_code == 200
    r = c.post("/v1/audit-runs", "payer", json={"period": "2024-03"})
    assert r.status_code == 201, r.text
    c.audit_run = r.json()["run_id"]
    flags = c.get(f"/v1/audit-runs/{c.audit_run}/flags?limit=1000", "payer").json()["flags"]
    c.flags = {h: next(f["flag_id"] for f in flags if f["hospital_id"] == h) for h in ("H001", "H002")}
    c.jobs = {}
    for hospital, who in (("H001", "hospital"), ("H002", "other")):
        csv = month_records(hospital, 3, 9).assign(case_id=[f"JOB-{hospital}-{i}" for i in range(3)]).to_csv(index=False)
        job = c.post("/v1/batches/upload?background=true", who, files={"file": ("m.csv", csv.encode())}).json()
        for _ in range(400):
            if c.get(f"/v1/jobs/{job['job_id']}", who).json()["state"] in ("done", "failed"):
                break
            time.sleep(0.05)
        c.jobs[hospital] = job["job_id"]
    return c


def _routes(c, target):
    h = HOSPITAL_OF[target]
    flag = quote(c.flags[h], safe="")
    return {
        "cases": lambda who: c.get(f"/v1/hospitals/{h}/cases?period=2024-03", who),
        "case": lambda who: c.get(f"/v1/hospitals/{h}/cases/{_case(c, h)}", who),
        "case_explain": lambda who: c.get(f"/v1/hospitals/{h}/cases/{_case(c, h)}?explain=true", who),
        "summary": lambda who: c.get(f"/v1/hospitals/{h}/summary?period=2024-03", who),
        "summary_year": lambda who: c.get(f"/v1/hospitals/{h}/summary?period=2024", who),
        "ranking": lambda who: c.get("/v1/hospitals?period=2024-03", who),
        "group_one": lambda who: c.post("/v1/group?validate=true", who, json=records_json(month_records(h, 1, 8))[0]),
        "job": lambda who: c.get(f"/v1/jobs/{c.jobs[h]}", who),
        "job_results": lambda who: c.get(f"/v1/jobs/{c.jobs[h]}/results?format=csv", who),
        "runs": lambda who: c.get("/v1/settlements", who),
        "run": lambda who: c.get(f"/v1/settlements/{c.run_id}", who),
        "statement": lambda who: c.get(f"/v1/settlements/{c.run_id}/statements/{h}", who),
        "lines": lambda who: c.get(f"/v1/settlements/{c.run_id}/lines?hospital_id={h}", who),
        "ledger": lambda who: c.get(f"/v1/settlements/ledger?hospital_id={h}", who),
        "audit_runs": lambda who: c.get("/v1/audit-runs", who),
        "audit_run": lambda who: c.get(f"/v1/audit-runs/{c.audit_run}", who),
        "flags": lambda who: c.get(f"/v1/audit-runs/{c.audit_run}/flags?hospital_id={h}", who),
        "flag_appeal": lambda who: c.get(f"/v1/flags/{flag}/appeal?run_id={c.audit_run}", who),
        "queue": lambda who: c.get(f"/v1/audit-runs/{c.audit_run}/queue", who),
        "packs": lambda who: c.get("/v1/packs", who),
        "drgs": lambda who: c.get("/v1/packs/current/drgs", who),
        "me": lambda who: c.get("/v1/auth/me", who),
        "upload": lambda who: c.post("/v1/batches", who, json={"records": records_json(
            month_records(h, 2, 7).assign(case_id=[f"MX-{who}-{h}-a", f"MX-{who}-{h}-b"]))}),
        "store_one": lambda who: c.post("/v1/group?store=true", who, json=records_json(
            month_records(h, 1, 8).assign(case_id=[f"MX1-{who}-{h}"]))[0]),
        # 病例全流程 (issue 21)
        "lifecycle_cases": lambda who: c.get(f"/v1/lifecycle/cases?hospital_id={h}", who),
        "lifecycle_history": lambda who: c.get(f"/v1/lifecycle/cases/{h}/{quote(_case(c, h), safe='')}/history",
                                               who),
        "lifecycle_deductions": lambda who: c.get(f"/v1/lifecycle/deductions?hospital_id={h}", who),
        "lifecycle_deadlines": lambda who: c.get(f"/v1/lifecycle/deadlines?hospital_id={h}", who),
        "lifecycle_reconciliation": lambda who: c.get(f"/v1/lifecycle/reconciliation?hospital_id={h}", who),
    }


ALL = {role: (200, 200) for role in ROLES}
OWN = {"hospital": (200, 404), "coder": (200, 404), "payer": (200, 200), "auditor": (200, 200)}
# expected status per route and role, for (own, other)
EXPECTED = {
    "cases": OWN, "case": OWN, "case_explain": OWN, "summary": OWN, "summary_year": OWN,
    "ranking": {"hospital": (403, 403), "coder": (403, 403), "payer": (200, 200), "auditor": (200, 200)},
    # grouping a record of another hospital is refused as bad input (422)
    "group_one": {"hospital": (200, 422), "coder": (200, 422), "payer": (200, 200), "auditor": (200, 200)},
    # a job belongs to the key that uploaded it: H001's to the hospital key, H002's to the other hospital's
    "job": {"hospital": (200, 404), "coder": (200, 404), "payer": (200, 200), "auditor": (200, 200)},
    "job_results": {"hospital": (200, 404), "coder": (200, 404), "payer": (200, 200), "auditor": (200, 200)},
    # the month run holds statements of both hospitals: a hospital may read the run, a coder no money at all
    "runs": {"hospital": (200, 200), "coder": (403, 403), "payer": (200, 200), "auditor": (200, 200)},
    "run": {"hospital": (200, 200), "coder": (403, 403), "payer": (200, 200), "auditor": (200, 200)},
    "statement": {"hospital": (200, 404), "coder": (403, 403), "payer": (200, 200), "auditor": (200, 200)},
    "lines": {"hospital": (200, 404), "coder": (403, 403), "payer": (200, 200), "auditor": (200, 200)},
    "ledger": {"hospital": (200, 404), "coder": (403, 403), "payer": (200, 200), "auditor": (200, 200)},
    "audit_runs": ALL, "audit_run": ALL, "flags": OWN, "flag_appeal": OWN,
    "queue": {"hospital": (403, 403), "coder": (403, 403), "payer": (200, 200), "auditor": (200, 200)},
    "packs": ALL, "drgs": ALL, "me": ALL,
    # uploading another hospital's records is refused as bad input (422), naming the row
    "upload": {"hospital": (200, 422), "coder": (200, 422), "payer": (200, 200), "auditor": (403, 403)},
    "store_one": {"hospital": (200, 422), "coder": (200, 422), "payer": (200, 200), "auditor": (403, 403)},
    # a case's states, history and deadlines: as the cases (coders without the payment deadlines); deductions and
    # reconciliation are money (no coder)
    "lifecycle_cases": OWN, "lifecycle_history": OWN,
    "lifecycle_deductions": {"hospital": (200, 404), "coder": (403, 403), "payer": (200, 200), "auditor": (200, 200)},
    "lifecycle_deadlines": OWN,
    "lifecycle_reconciliation": {"hospital": (200, 404), "coder": (403, 403), "payer": (200, 200),
                                 "auditor": (200, 200)},
}
MATRIX = [(route, role, target, EXPECTED[route][role][0 if target == "own" else 1])
          for route in EXPECTED for role in ROLES for target in ("own", "other")]


@pytest.mark.parametrize("route, role, target, expected", MATRIX, ids=[f"{r}-{o}-{t}" for r, o, t, _ in MATRIX])
def test_matrix(world, route, role, target, expected):
    response = _routes(world, target)[route](role)
    assert response.status_code == expected, response.text
    if expected == 404:
        assert response.json() == {"detail": "未找到 (not found)"}
    if expected == 403:
        assert response.json() == {"detail": f"无权限：角色 {role} 不能使用此功能 (forbidden: role {role} may not use this route)"}


def _keys(value, path="") -> set[str]:
    """Every key of a JSON value, with its path (``drgs[].payment``)."""
    if isinstance(value, dict):
        return set().union(*({path + k} | _keys(v, f"{path}{k}.") for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(_keys(v, f"{path[:-1]}[]." if path else "[].") for v in value))
    return set()


# the payment fields each route shows a hospital (医保办) and must not show its coder, field by field
MONEY_SHOWN = {
    "cases": {"cases[].expected_fund"},
    "case": {"case.expected_fund", "case.expected_standard"},
    "case_explain": {"case.expected_fund", "case.expected_standard", "explanation.whatif_money"},
    "summary": {"payment", "payment_source", "payment_label", "fund_payment", "patient_share", "point_value",
                "settlement_run", "drgs[].payment"},
    "summary_year": {"payment", "payment_source", "payment_label", "fund_payment", "patient_share", "point_value",
                     "settlement_run", "drgs[].payment"},
    "group_one": {"payment", "payment.expected_standard", "payment.expected_fund", "payment.expected_patient_share",
                  "payment.point_value", "payment.point_value_basis", "explanation.whatif_money"},
    "flags": {"flags[].money_at_stake"},
    "lifecycle_deadlines": {"payment_working_days", "overdue_payments"},
}


@pytest.mark.parametrize("route", [r for r in EXPECTED if EXPECTED[r]["coder"][0] == 200 and r not in (
    "upload", "store_one")])
def test_coder_sees_no_payment_field(world, route):
    """One rule for every route a coder may read: no payment figure at any depth; the hospital key reads the
    same route with each of the payment fields named in MONEY_SHOWN."""
    from api.service.visibility import PAYMENT_FIELDS

    coder = _routes(world, "own")[route]("coder")
    assert coder.status_code == 200, coder.text
    if route == "job_results":  # a file of grouping results: no payment column
        header = coder.text.splitlines()[0].split(",")
        assert not set(header) & PAYMENT_FIELDS, header
        return
    coder_keys = _keys(coder.json())
    assert not {k for k in coder_keys if k.rsplit(".", 1)[-1] in PAYMENT_FIELDS}, route
    shown = MONEY_SHOWN.get(route, set())
    if shown:
        hospital_keys = _keys(_routes(world, "own")[route]("hospital").json())
        assert shown <= hospital_keys, shown - hospital_keys
        assert not shown & coder_keys
        # everything else the hospital sees, the coder sees too (grouping, findings, costs)
        assert {k for k in hospital_keys if not set(k.replace("[]", "").split(".")) & PAYMENT_FIELDS} <= coder_keys


def test_coder_sees_grouping_and_costs(world):
    grouped = world.get("/v1/hospitals/H001/cases?status=ok&limit=1", "coder").json()["cases"][0]["case_id"]
    case = world.get(f"/v1/hospitals/H001/cases/{grouped}?explain=true", "coder").json()
    for key in ("drg", "drg_name", "rw", "mcc_dx", "cc_dx", "total_cost", "drug_cost", "principal_dx"):
        assert key in case["case"], key
    assert case["explanation"]["mdc_reason"].startswith("MDC ") and isinstance(case["alternatives"], list)
    summary = world.get("/v1/hospitals/H001/summary?period=2024-03", "coder").json()
    assert summary["total_cost"] and summary["cmi"] is not None and "cost_index" in summary["indices"]


@pytest.mark.parametrize("role, expected", [("payer", 200), ("auditor", 200), ("hospital", 403), ("coder", 403)])
def test_audit_log_roles(loaded, role, expected):
    assert loaded.get("/v1/audit-log", role).status_code == expected


@pytest.mark.parametrize("role, expected", [("payer", 201), ("auditor", 403), ("hospital", 403), ("coder", 403)])
def test_start_settlement_roles(loaded, role, expected):
    r = loaded.post("/v1/settlements", role, json={"kind": "shadow", "period": "2024-03"})
    assert r.status_code == expected, r.text


def test_hospital_never_sees_other_hospital_anywhere(loaded):
    """Every listing a hospital key can read holds only its own hospital's rows."""
    for url in ("/v1/hospitals/H001/cases?limit=1000", f"/v1/settlements/{loaded.run_id}/lines?limit=1000"):
        body = loaded.get(url, "hospital").json()
        rows = body.get("cases") or body.get("lines")
        assert rows and {r["hospital_id"] for r in rows} == {"H001"}
    lines = loaded.get(f"/v1/settlements/{loaded.run_id}/lines", "other").json()["lines"]
    assert {r["hospital_id"] for r in lines} == {"H002"}
    ledger = loaded.get("/v1/settlements/ledger", "hospital").json()
    assert ledger and {e["hospital_id"] for e in ledger} == {"H001"}
    runs = loaded.get("/v1/settlements", "hospital").json()
    assert loaded.run_id in {r["run_id"] for r in runs}


def test_unauthenticated_and_bad_credentials(loaded):
    assert loaded.client.get("/v1/hospitals/H001/cases").json() == {
        "detail": "未认证：请提供 API 密钥或登录令牌 (not authenticated: send an API key or a sign-in token)"}
    assert loaded.client.get("/v1/hospitals/H001/cases").status_code == 401
    bad = loaded.client.get("/v1/auth/me", headers={"Authorization": "Bearer drg_nope_nope"})
    assert bad.status_code == 401 and bad.json() == {"detail": "API 密钥或令牌无效 (invalid API key or token)"}
    forged = loaded.client.get("/v1/auth/me", headers={"Authorization": "Bearer eyJrIjoiYWJjIn0.forged.sig"})
    assert forged.status_code == 401


def test_x_api_key_header_and_token(loaded):
    key = loaded.keys["hospital"]
    assert loaded.client.get("/v1/auth/me", headers={"X-API-Key": key}).json()["hospital_id"] == "H001"
    token = loaded.client.post("/v1/auth/token", json={"api_key": key}).json()
    assert token["role"] == "hospital" and token["expires_in"] == 900
    me = loaded.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token['token']}"}).json()
    assert me == {"key_id": me["key_id"], "role": "hospital", "role_zh": "医院", "hospital_id": "H001"}
    other = loaded.client.get("/v1/hospitals/H002/summary", headers={"Authorization": f"Bearer {token['token']}"})
    assert other.status_code == 404
    assert loaded.client.post("/v1/auth/token", json={"api_key": "drg_x_y"}).status_code == 401


def test_expired_token(loaded, monkeypatch):
    token = loaded.client.post("/v1/auth/token", json={"api_key": loaded.keys["coder"]}).json()["token"]
    monkeypatch.setattr(loaded.service.auth, "ttl", -1)
    r = loaded.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json() == {"detail": "登录已过期，请重新登录 (token expired: sign in again)"}


def test_revoked_key(loaded):
    from api.service.auth import create_key, revoke_key

    key_id, key = create_key(loaded.service.db, "hospital", "H001")
    assert revoke_key(loaded.service.db, key_id)
    assert loaded.client.get("/v1/auth/me", headers={"X-API-Key": key}).status_code == 401


def test_keys_stored_hashed(loaded):
    import hashlib

    with loaded.service.db.connect() as conn:
        hashes = {r["key_hash"] for r in conn.rows("SELECT key_hash FROM api_keys")}
    key = loaded.keys["payer"]
    assert key not in hashes and hashlib.sha256(key.encode()).hexdigest() in hashes


def test_audit_log_records_reads_and_is_append_only(loaded):
    loaded.get("/v1/hospitals/H001/summary?period=2024-03", "coder")
    entries = loaded.get("/v1/audit-log?limit=5", "auditor").json()
    assert any(e["object"] == "summary:H001?period=2024-03" and e["role"] == "coder" for e in entries)
    if loaded.backend == "postgresql":  # the database itself refuses changes
        import psycopg

        with pytest.raises(psycopg.errors.RaiseException):
            with loaded.service.db.connect() as conn:
                conn.execute("DELETE FROM audit_log")
