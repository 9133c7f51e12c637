"""特病单议 lists uploaded by the payer (issue 19): who may upload, how a run uses one and records which, on
DuckDB and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

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


def test_an_interim_record_is_settled_and_netted_at_discharge_through_the_service(tmp_path):
    """中途结算 through the service (DuckDB): the July interim payment is recorded as a stay entry in the ledger and
    the August discharge nets it."""
    from service_helpers import POLICY, close_client, make_client

    text = POLICY.read_text(encoding="utf-8").replace(
        'hospitals = "example-hospitals.csv"', f'hospitals = "{(POLICY.parent / "example-hospitals.csv").as_posix()}"')
    policy = tmp_path / "interim.toml"
    policy.write_text(text + "\n[tracks.interim]\nenabled = true\n", encoding="utf-8")
    api, schema = make_client(tmp_path, "duckdb", policy=policy)
    try:
        drg = [month_records("H001", 2, seed=11, month=f"2024-{m:02d}").assign(
            case_id=lambda f, m=m: f.case_id + f"-{m}", insurance_type="310") for m in (7, 8)]
        stay = month_records("H001", 2, seed=12).assign(
            patient_id="P9", admit_date="2024-01-10", insurance_type="310", patient_paid=[6000.0, 7000.0],
            total_cost=[60000.0, 70000.0], los_days=[186, 223], case_id=["stay-interim", "stay-final"],
            settlement_date=["2024-07-15", "2024-08-20"], discharge_date=[None, "2024-08-20"])
        import pandas as pd

        r = api.post("/v1/batches", "payer", json={"records": records_json(pd.concat(drg + [stay], ignore_index=True))})
        assert r.status_code == 200, r.text
        runs = []
        for period in ("2024-07", "2024-08"):
            r = api.post("/v1/settlements", "payer", json={"kind": "month", "period": period})
            assert r.status_code == 201, r.text
            runs.append(r.json()["run_id"])
        july = {x["case_id"]: x for x in api.get(f"/v1/settlements/{runs[0]}/lines", "payer").json()["lines"]}
        august = {x["case_id"]: x for x in api.get(f"/v1/settlements/{runs[1]}/lines", "payer").json()["lines"]}
        # July: 60,000.00 × long-stay ratio 1 − 6,000.00 = 54,000.00; August: 70,000.00 − 7,000.00 = 63,000.00,
        # of which 54,000.00 netted
        assert (july["stay-interim"]["case_type"], july["stay-interim"]["fund_payment"]) == ("interim", "54000.00")
        assert (august["stay-final"]["case_type"], august["stay-final"]["fund_payment"]) == ("long_stay", "63000.00")
        stays = [e for e in api.get("/v1/settlements/ledger", "payer").json() if e["stay"]]
        assert [(e["run"], e["stay"], e["interim"]) for e in stays] == [("2024-07", "H001|P9|2024-01-10", "54000.00")]
        statement = api.get(f"/v1/settlements/{runs[1]}/statements/H001", "hospital").json()["lines"]
        assert sum(Decimal(x["interim_netted"]) for x in statement) == Decimal("54000.00")
    finally:
        close_client(api, "duckdb", schema)
