"""Authorization matrix: role × route × own/other hospital → 200/403/404, on DuckDB and PostgreSQL.

"own" is H001 (the hospital and coder keys' hospital), "other" is H002.  A scoped key asking for
H002's objects must get 404 (indistinguishable from absent); a route its role may not use, 403.
"""

from __future__ import annotations

import pytest

from service_helpers import month_records, records_json

ROLES = ("hospital", "coder", "payer", "auditor")
HOSPITAL_OF = {"own": "H001", "other": "H002"}


def _case(c, hospital):
    return f"{hospital}-{1 if hospital == 'H001' else 2}-0003"


def _routes(c, target):
    h = HOSPITAL_OF[target]
    return {
        "cases": lambda who: c.get(f"/v1/hospitals/{h}/cases?period=2024-03", who),
        "case": lambda who: c.get(f"/v1/hospitals/{h}/cases/{_case(c, h)}", who),
        "summary": lambda who: c.get(f"/v1/hospitals/{h}/summary?period=2024-03", who),
        "statement": lambda who: c.get(f"/v1/settlements/{c.run_id}/statements/{h}", who),
        "lines": lambda who: c.get(f"/v1/settlements/{c.run_id}/lines?hospital_id={h}", who),
        "ledger": lambda who: c.get(f"/v1/settlements/ledger?hospital_id={h}", who),
        "upload": lambda who: c.post("/v1/batches", who, json={"records": records_json(
            month_records(h, 2, 7).assign(case_id=[f"MX-{who}-{h}-a", f"MX-{who}-{h}-b"]))}),
        "store_one": lambda who: c.post("/v1/group?store=true", who, json=records_json(
            month_records(h, 1, 8).assign(case_id=[f"MX1-{who}-{h}"]))[0]),
    }


# expected status per route and role, for (own, other)
EXPECTED = {
    "cases": {"hospital": (200, 404), "coder": (200, 404), "payer": (200, 200), "auditor": (200, 200)},
    "case": {"hospital": (200, 404), "coder": (200, 404), "payer": (200, 200), "auditor": (200, 200)},
    "summary": {"hospital": (200, 404), "coder": (200, 404), "payer": (200, 200), "auditor": (200, 200)},
    "statement": {"hospital": (200, 404), "coder": (403, 403), "payer": (200, 200), "auditor": (200, 200)},
    "lines": {"hospital": (200, 404), "coder": (403, 403), "payer": (200, 200), "auditor": (200, 200)},
    "ledger": {"hospital": (200, 404), "coder": (403, 403), "payer": (200, 200), "auditor": (200, 200)},
    # uploading another hospital's records is refused as bad input (422), naming the row
    "upload": {"hospital": (200, 422), "coder": (200, 422), "payer": (200, 200), "auditor": (403, 403)},
    "store_one": {"hospital": (200, 422), "coder": (200, 422), "payer": (200, 200), "auditor": (403, 403)},
}
MATRIX = [(route, role, target, EXPECTED[route][role][0 if target == "own" else 1])
          for route in EXPECTED for role in ROLES for target in ("own", "other")]


@pytest.mark.parametrize("route, role, target, expected", MATRIX, ids=[f"{r}-{o}-{t}" for r, o, t, _ in MATRIX])
def test_matrix(loaded, route, role, target, expected):
    response = _routes(loaded, target)[route](role)
    assert response.status_code == expected, response.text
    if expected == 404:
        assert response.json() == {"detail": "未找到 (not found)"}
    if expected == 403:
        assert response.json() == {"detail": f"无权限：角色 {role} 不能使用此功能 (forbidden: role {role} may not use this route)"}


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
