"""Audit runs, flags, the review queue and appeals through the service, on DuckDB and PostgreSQL.

The stored data: 20 generated March 2024 cases per hospital (no ``patient_id``, so no patient
screen touches them) and planted stays of one pneumonia front page (groups ``ES33``, ADRG ES3,
not exempt from the split screen):

* H001 ``P-SPLIT``: discharged 03-05, admitted again 03-09 → SPLIT_READMISSION (gap 9 − 5 = 4 ≤ 15 days);
* H001 ``P-HIST``: February stay discharged 02-27 (history), admitted 03-04 → SPLIT_READMISSION
  across the month (2024-02 has 29 days: 2 + 4 = 6 days);
* H002 ``P-OVER``: a stay 03-10..03-20 and another from 03-15 → DUPLICATE_OVERLAP (5 days inside).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_FLOOR, Decimal
from urllib.parse import quote

import pandas as pd
import pytest

from grouper import Grouper
from service_helpers import BACKENDS, close_client, make_client, month_records, records_json, rw_of
from weights import WeightMeta, WeightTable

ROLES = ("hospital", "coder", "payer", "auditor")
RATES = {"310": "10000.00", "390": "8000.00"}
PNEUMONIA = dict(sex=1, age_years=67, principal_dx="J18.900", secondary_dx="J96.000|E87.600", discharge_method=1,
                 insurance_type="390", total_cost=9000.0)


def stay(hospital, case_id, patient, admit, discharge):
    los = (date.fromisoformat(discharge) - date.fromisoformat(admit)).days
    return dict(PNEUMONIA, hospital_id=hospital, case_id=case_id, patient_id=patient, admit_date=admit,
                discharge_date=discharge, los_days=los)


PLANTED = [stay("H001", "H001-SPLIT-1", "P-SPLIT", "2024-03-01", "2024-03-05"),
           stay("H001", "H001-SPLIT-2", "P-SPLIT", "2024-03-09", "2024-03-14"),
           stay("H001", "H001-HIST-2", "P-HIST", "2024-03-04", "2024-03-08"),
           stay("H002", "H002-OV-1", "P-OVER", "2024-03-10", "2024-03-20"),
           stay("H002", "H002-OV-2", "P-OVER", "2024-03-15", "2024-03-18")]
HISTORY = [stay("H001", "H001-HIST-1", "P-HIST", "2024-02-20", "2024-02-27")]


def weights_with_rates(path):
    codes = [c for c in Grouper().pack.compiled.drg_codes.to_pylist() if c and c != "0000"]
    frame = pd.DataFrame({"drg": codes, "rw": [rw_of(k) for k in range(len(codes))]})
    WeightTable(WeightMeta("test-weights", region="示例市", year=2024, base_rates=RATES), frame).write(path)
    return path, codes


@pytest.fixture(scope="module", params=BACKENDS)
def screened(request, tmp_path_factory):
    """One service per backend with the planted cases stored and one audit run of March 2024."""
    tmp = tmp_path_factory.mktemp(f"audit-{request.param}")
    path, codes = weights_with_rates(tmp / "rated.parquet")
    c, schema = make_client(tmp, request.param, weights=path)
    c.backend, c.codes = request.param, codes
    for hospital, seed in (("H001", 1), ("H002", 2)):
        records = records_json(month_records(hospital, 20, seed)) + [r for r in PLANTED if r["hospital_id"] == hospital]
        assert c.post("/v1/batches", "payer", json={"records": records}).status_code == 200
    assert c.post("/v1/batches", "payer", json={"records": HISTORY}).status_code == 200
    r = c.post("/v1/audit-runs", "payer", json={"period": "2024-03"})
    assert r.status_code == 201, r.text
    c.run = r.json()
    c.run_id = c.run["run_id"]
    # row numbers of the run: the month's current cases ordered by hospital, then case id
    c.ids = sorted([(r["hospital_id"], r["case_id"]) for r in PLANTED] +
                   [("H001", f"H001-1-{i:04d}") for i in range(20)] + [("H002", f"H002-2-{i:04d}") for i in range(20)])
    yield c
    close_client(c, request.param, schema)


def row_of(c, case_id):
    return 1 + [k for _, k in c.ids].index(case_id)


def flag_url(flag_id, what="appeal"):
    return f"/v1/flags/{quote(flag_id, safe='')}/{what}"


def split_flag(c, case_id):
    return f"SPLIT_READMISSION:{case_id}#{row_of(c, case_id)}"


def test_run_finds_planted_flags(screened):
    c = screened
    run = c.run
    assert run["period"] == "2024-03" and run["status"] == "done"
    assert run["n_cases"] == 45 and run["n_history"] == 1          # 20 + 3 + 20 + 2 current; one February stay
    flags = {f["flag_id"]: f for f in c.get(f"/v1/audit-runs/{c.run_id}/flags?limit=1000", "payer").json()["flags"]}
    split = flags[split_flag(c, "H001-SPLIT-2")]
    assert split["evidence"]["gap_days"] == 4 and split["evidence"]["previous_case"] == "H001-SPLIT-1"
    hist = flags[split_flag(c, "H001-HIST-2")]
    assert hist["evidence"]["gap_days"] == 6 and hist["evidence"]["previous_in_history"] is True
    overlap = flags[f"DUPLICATE_OVERLAP:H002-OV-2#{row_of(c, 'H002-OV-2')}"]
    assert overlap["hospital_id"] == "H002" and overlap["severity"] == "error" and overlap["severity_zh"] == "疑似违规"
    assert run["by_rule"]["SPLIT_READMISSION"] == 2 and run["by_rule"]["DUPLICATE_OVERLAP"] == 1
    # money at stake = the readmission's payment: RW of ES33 × the 390 rate 8000.00 元, floored to the fen
    rw = rw_of(c.codes.index("ES33"))
    assert split["money_at_stake"] == str((rw * Decimal("8000.00")).quantize(Decimal("0.01"), ROUND_FLOOR))
    assert split["appeal_status"] == "open" and split["appeal_status_zh"] == "待申诉"
    assert run["skipped"].get("UPCODING_WHATIF")                   # no what-if alternatives in stored cases
    listed = c.get("/v1/audit-runs", "auditor").json()
    assert c.run_id in {r["run_id"] for r in listed}


def test_runs_are_recorded_and_audited(screened):
    c = screened
    with c.service.db.connect() as conn:
        row = conn.one("SELECT kind, period, n_records FROM runs WHERE run_id = ?", (c.run_id,))
        logged = conn.rows("SELECT action, role FROM audit_log WHERE object = ?", (f"audit-run:{c.run_id}",))
    assert row == {"kind": "audit", "period": "2024-03", "n_records": 45}
    assert {"action": "audit-run", "role": "payer"} in logged


def test_filters_and_hospital_scope(screened):
    c = screened
    own = c.get(f"/v1/audit-runs/{c.run_id}/flags", "hospital").json()["flags"]
    assert own and {f["hospital_id"] for f in own} == {"H001"}
    rule = c.get(f"/v1/audit-runs/{c.run_id}/flags?rule_id=DUPLICATE_OVERLAP", "payer").json()
    assert rule["total"] == 1 and rule["flags"][0]["case_id"] == "H002-OV-2"
    mine = next(r for r in c.get("/v1/audit-runs", "other").json() if r["run_id"] == c.run_id)
    assert mine["n_cases"] == 22 and mine["n_history"] is None     # H002's own 20 + 2 cases only
    assert mine["by_rule"].get("SPLIT_READMISSION") is None and mine["by_rule"]["DUPLICATE_OVERLAP"] == 1


def test_start_run_errors(screened):
    c = screened
    empty = c.post("/v1/audit-runs", "payer", json={"period": "2023-01"})
    assert empty.status_code == 422 and empty.json() == {"detail": "期间 2023-01 没有病例 (no stored cases in 2023-01)"}
    assert c.post("/v1/audit-runs", "payer", json={"period": "2024-13"}).status_code == 422
    assert c.get("/v1/audit-runs/nope/flags", "payer").json() == {"detail": "未找到 (not found)"}


def test_queue(screened):
    c = screened
    url = f"/v1/audit-runs/{c.run_id}/queue?top=200&sample=5&seed=7"
    queue = c.get(url, "auditor").json()
    top = [e for e in queue["entries"] if e["selection"] == "top"]
    drawn = [e for e in queue["entries"] if e["selection"] == "random"]
    flagged = {f["case_id"] for f in c.get(f"/v1/audit-runs/{c.run_id}/flags?limit=1000", "payer").json()["flags"]
               if f["case_id"]}
    assert {e["case_id"] for e in top} == flagged                  # top 200 > flagged cases: all of them
    assert len(drawn) == 5 and not {e["case_id"] for e in drawn} & flagged
    assert [e["rank"] for e in queue["entries"]] == list(range(1, len(top) + 6))
    assert drawn[0]["selection_zh"] == "随机抽查" and top[0]["selection_zh"] == "高风险"
    assert c.get(url, "payer").json() == queue                      # same seed, same queue
    priorities = [e["priority"] for e in top]
    assert priorities == sorted(priorities, reverse=True)


def target_flags(c):
    """H001's split readmission flag ("own") and H002's overlap flag ("other")."""
    return {"own": split_flag(c, "H001-SPLIT-2"), "other": f"DUPLICATE_OVERLAP:H002-OV-2#{row_of(c, 'H002-OV-2')}"}


def fresh_flags(c):
    """A new run, all its flags open, and :func:`target_flags`."""
    return c.post("/v1/audit-runs", "payer", json={"period": "2024-03"}).json()["run_id"], target_flags(c)


def test_appeal_state_machine(screened):
    c = screened
    run_id, flags = fresh_flags(c)
    flag = flags["own"]
    opened = c.get(f"{flag_url(flag)}?run_id={run_id}", "coder").json()
    assert (opened["status"], opened["status_zh"], opened["allowed"]) == ("open", "待申诉",
                                                                          ["appealed", "upheld", "withdrawn"])
    appealed = c.post(flag_url(flag), "hospital", json={"run_id": run_id, "reason": "病情变化再次入院"})
    assert appealed.status_code == 200, appealed.text
    assert (appealed.json()["status"], appealed.json()["status_zh"]) == ("appealed", "申诉中")
    assert appealed.json()["reason"] == "病情变化再次入院" and appealed.json()["appealed_at"]
    again = c.post(flag_url(flag), "hospital", json={"run_id": run_id, "reason": "再次申诉"})
    assert again.status_code == 409 and again.json() == {"detail": (
        f"疑点 {flag} 当前为 appealed 申诉中，不能改为 appealed 申诉中；可改为：upheld 维持、withdrawn 撤销 "
        f"(flag {flag} is appealed: it cannot become appealed; allowed: upheld, withdrawn)")}
    decided = c.post(flag_url(flag, "decision"), "payer",
                     json={"run_id": run_id, "status": "withdrawn", "outcome": "理由成立，撤销"})
    assert decided.status_code == 200, decided.text
    payer_id = c.get("/v1/auth/me", "payer").json()["key_id"]
    body = decided.json()
    assert (body["status"], body["status_zh"], body["decided_by"], body["allowed"]) == ("withdrawn", "撤销", payer_id, [])
    final = c.post(flag_url(flag, "decision"), "payer", json={"run_id": run_id, "status": "upheld", "outcome": "改判"})
    assert final.status_code == 409 and final.json() == {"detail": (
        f"疑点 {flag} 当前为 withdrawn 撤销，不能改为 upheld 维持；可改为：无（已结案） "
        f"(flag {flag} is withdrawn: it cannot become upheld; allowed: none (final))")}
    assert c.get(f"{flag_url(flag)}?run_id={run_id}", "hospital").json() == body
    listed = c.get(f"/v1/audit-runs/{run_id}/flags?rule_id=SPLIT_READMISSION", "hospital").json()["flags"]
    assert {f["flag_id"]: f["appeal_status"] for f in listed}[flag] == "withdrawn"
    with c.service.db.connect() as conn:
        actions = [r["action"] for r in conn.rows("SELECT action FROM audit_log WHERE object = ? ORDER BY id",
                                                  (f"appeal:{run_id}/{flag}",))]
    assert actions == ["read", "appeal", "decide", "read"]          # the refused steps (409) change nothing


def test_decide_open_flag_and_bad_input(screened):
    c = screened
    run_id, flags = fresh_flags(c)
    upheld = c.post(flag_url(flags["other"], "decision"), "payer",
                    json={"run_id": run_id, "status": "upheld", "outcome": "逾期未申诉，维持"})
    assert upheld.status_code == 200 and upheld.json()["status"] == "upheld" and upheld.json()["reason"] == ""
    late = c.post(flag_url(flags["other"]), "other", json={"run_id": run_id, "reason": "补充申诉"})
    assert late.status_code == 409
    blank = c.post(flag_url(flags["own"]), "hospital", json={"run_id": run_id, "reason": "   "})
    assert blank.status_code == 422 and blank.json()["detail"].startswith("申诉内容有误 (invalid appeal): flag ")
    assert c.post(flag_url(flags["own"], "decision"), "payer",
                  json={"run_id": run_id, "status": "appealed", "outcome": "x"}).status_code == 422
    assert c.post(flag_url("SPLIT_READMISSION:nope#1"), "hospital",
                  json={"run_id": run_id, "reason": "x"}).json() == {"detail": "未找到 (not found)"}


# expected status per route and role, for (own H001, other H002)
EXPECTED = {
    "flags": {"hospital": (200, 404), "coder": (200, 404), "payer": (200, 200), "auditor": (200, 200)},
    "run": {"hospital": (200, 200), "coder": (200, 200), "payer": (200, 200), "auditor": (200, 200)},
    "queue": {"hospital": (403, 403), "coder": (403, 403), "payer": (200, 200), "auditor": (200, 200)},
    "get_appeal": {"hospital": (200, 404), "coder": (200, 404), "payer": (200, 200), "auditor": (200, 200)},
    "appeal": {"hospital": (200, 404), "coder": (403, 403), "payer": (403, 403), "auditor": (403, 403)},
    "decision": {"hospital": (403, 403), "coder": (403, 403), "payer": (200, 200), "auditor": (403, 403)},
    "start": {"hospital": (403, 403), "coder": (403, 403), "payer": (201, 201), "auditor": (403, 403)},
}
MATRIX = [(route, role, target, EXPECTED[route][role][0 if target == "own" else 1])
          for route in EXPECTED for role in ROLES for target in ("own", "other")]


def _call(c, route, who, target):
    h = {"own": "H001", "other": "H002"}[target]
    if route in ("appeal", "decision"):                # changes: on a fresh run, so every case starts open
        run_id, flags = fresh_flags(c)
        body = {"run_id": run_id, "reason": "理由"} if route == "appeal" else \
            {"run_id": run_id, "status": "upheld", "outcome": "维持"}
        return c.post(flag_url(flags[target], route), who, json=body)
    flag = target_flags(c)[target]
    return {
        "flags": lambda: c.get(f"/v1/audit-runs/{c.run_id}/flags?hospital_id={h}", who),
        "run": lambda: c.get(f"/v1/audit-runs/{c.run_id}", who),
        "queue": lambda: c.get(f"/v1/audit-runs/{c.run_id}/queue", who),
        "get_appeal": lambda: c.get(f"{flag_url(flag)}?run_id={c.run_id}", who),
        "start": lambda: c.post("/v1/audit-runs", who, json={"period": "2024-03"}),
    }[route]()


@pytest.mark.parametrize("route, role, target, expected", MATRIX, ids=[f"{r}-{o}-{t}" for r, o, t, _ in MATRIX])
def test_matrix(screened, route, role, target, expected):
    response = _call(screened, route, role, target)
    assert response.status_code == expected, response.text
    if expected == 404:
        assert response.json() == {"detail": "未找到 (not found)"}
    if expected == 403:
        assert response.json() == {"detail": f"无权限：角色 {role} 不能使用此功能 (forbidden: role {role} may not use this route)"}


def test_migration_2_upgrades_a_version_1_database(tmp_path, monkeypatch):
    from api.service import db as service_db

    database = service_db.Database(f"duckdb:///{tmp_path / 'old.duckdb'}")
    monkeypatch.setattr(service_db, "MIGRATIONS", service_db.MIGRATIONS[:1])
    assert database.migrate() == 1
    monkeypatch.undo()
    assert database.migrate() == len(service_db.MIGRATIONS)
    with database.connect() as conn:
        assert [r["version"] for r in conn.rows("SELECT version FROM schema_migrations ORDER BY version")] == \
            list(range(1, len(service_db.MIGRATIONS) + 1))
        assert conn.rows("SELECT * FROM appeals") == [] and conn.rows("SELECT * FROM audit_flags") == []
    database.close()
