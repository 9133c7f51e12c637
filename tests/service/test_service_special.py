"""特病单议 lists uploaded by the payer (issue 19): who may upload, how a run uses one and records which, on
DuckDB and PostgreSQL."""

from __future__ import annotations

import hashlib
import json

from service_helpers import month_records, records_json


def upload(api, who, cases, version="2024-03 第1批"):
    return api.post("/v1/settlements/special-lists", who, json={"version": version, "cases": cases})


def test_only_the_payer_uploads_a_list_and_a_run_records_it(api):
    cases = [{"case_id": "H001-7-0002", "note": "罕见病 rare disease"}, {"case_id": "H001-7-0000"}]
    for who in ("hospital", "coder", "auditor", "other"):
        r = upload(api, who, cases)
        assert r.status_code == 403, (who, r.text)
    r = upload(api, "payer", cases)
    assert r.status_code == 201, r.text
    listed = r.json()
    # the digest of the list as stored: case ids and notes in order, compact JSON
    text = json.dumps([{"case_id": "H001-7-0002", "note": "罕见病 rare disease"}, {"case_id": "H001-7-0000", "note": ""}],
                      ensure_ascii=False, separators=(",", ":"))
    assert (listed["version"], listed["n_cases"], listed["sha256"]) == (
        "2024-03 第1批", 2, hashlib.sha256(text.encode()).hexdigest())
    assert upload(api, "payer", [{"case_id": "x"}, {"case_id": "x"}]).status_code == 422  # listed twice
    assert api.get("/v1/settlements/special-lists", "hospital").status_code == 403
    assert [x["list_id"] for x in api.get("/v1/settlements/special-lists", "auditor").json()] == [listed["list_id"]]

    # H001: 5 cases in March; max_share 0.05 (example policy) → ⌈5 × 0.05⌉ = ⌈0.25⌉ = 1 special case: the first
    # listed (H001-7-0002), paid its cost; the second is over the cap and paid as a DRG case
    r = api.post("/v1/batches", "payer", json={"records": records_json(month_records("H001", 5, seed=7))})
    assert r.status_code == 200, r.text
    r = api.post("/v1/settlements", "payer", json={"kind": "month", "period": "2024-03",
                                                    "special_list": listed["list_id"]})
    assert r.status_code == 201, r.text
    run = r.json()
    recorded = {"list_id": listed["list_id"], "version": "2024-03 第1批", "sha256": listed["sha256"], "cases": 2}
    assert run["detail"]["special_list"] == recorded
    lines = {x["case_id"]: x for x in api.get(f"/v1/settlements/{run['run_id']}/lines", "hospital").json()["lines"]}
    assert lines["H001-7-0002"]["case_type"] == "special"
    assert lines["H001-7-0002"]["standard"] == lines["H001-7-0002"]["total_cost"]  # ratio 1: its cost
    assert lines["H001-7-0000"]["case_type"] != "special"
    statement = api.get(f"/v1/settlements/{run['run_id']}/statements/H001", "hospital").json()
    assert statement["special_list"] == recorded

    missing = api.post("/v1/settlements", "payer", json={"kind": "month", "period": "2024-03",
                                                          "special_list": "special-nope"})
    assert missing.status_code == 422 and "special-nope" in missing.json()["detail"]
