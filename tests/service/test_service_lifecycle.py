"""Issue 21 through the service: the synthetic quarter (tests/lifecycle_quarter.py) played on the service's routes
on DuckDB and PostgreSQL gives identical tables, the same states and history as the payment library's case book,
and every new route keeps to the authorization matrix (another hospital: 404; coders see no money).
"""

from __future__ import annotations

import functools
import json
import sys
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from api.service.auth import create_key
from api.service.db import utcnow
from audit.validate import Validator
from grouper import Grouper
from service_helpers import BACKENDS, POLICY, close_client, make_client, month_records, postgres_reason, records_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import lifecycle_quarter as Q  # noqa: E402
from test_lifecycle_quarter import Quarter  # noqa: E402

HOSPITAL = {f"H{i}": f"H00{i}" for i in range(1, 6)}
MONEY_ROUTES = ("/v1/lifecycle/deductions", "/v1/lifecycle/reconciliation")


@functools.cache
def _clean_pool() -> list[dict]:
    """Generated records that group (status ok) without a fatal finding: each upload takes one."""
    frame = month_records("H001", 200, seed=5, month="2024-01")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    grouper = Grouper()
    status = grouper.group_arrow(table).column("status").to_pylist()
    findings = Validator(grouper).validate(table).findings
    fatal = set(findings.filter(pc.equal(findings.column("severity"), "fatal")).column("row_no").to_pylist())
    records = records_json(frame)
    return [records[i] for i, s in enumerate(status) if s == "ok" and i + 1 not in fatal]


def _record(h: str, c: str, discharge: str, severities, n: int) -> dict:
    pool = _clean_pool()
    record = {**pool[n % len(pool)], "hospital_id": HOSPITAL[h], "case_id": c, "discharge_date": discharge,
              "admit_date": discharge, "insurance_type": "310"}  # one fund, as in the quarter
    if "fatal" in severities:  # 主要诊断缺失: a fatal finding, returned on review
        record["principal_dx"] = ""
    return record


class Player:
    """Plays the quarter's steps on the service, each on its day."""

    def __init__(self, c, monkeypatch):
        self.c, self.monkeypatch, self.flag_run, self.run_ids = c, monkeypatch, {}, {}
        service = c.service
        for h in ("H3", "H4", "H5"):
            c.keys[h] = create_key(service.db, "hospital", HOSPITAL[h])[1]
        c.keys["H1"], c.keys["H2"] = c.keys["hospital"], c.keys["other"]

    def day(self, on: date) -> None:
        for name in ("api.service.lifecycle_store.today", "api.service.routers.lifecycle.today"):
            self.monkeypatch.setattr(name, lambda on=on: on)

    def ok(self, r, code=200):
        assert r.status_code == code, r.text
        return r.json()

    def step(self, n: int, on: date, action: str, args: tuple) -> None:
        c = self.c
        self.day(on)
        if action == "upload":
            h, cid, drg, discharge, severities = args
            self.ok(c.post("/v1/batches?validate=true", "payer",
                           json={"records": [_record(h, cid, discharge, severities, n)]}))
        elif action == "review":
            self.ok(c.post("/v1/lifecycle/reviews", "payer", json={"hospital_id": HOSPITAL[args[0]],
                                                                   "case_ids": [args[1]]}))
        elif action == "return":
            self.ok(c.post("/v1/lifecycle/returns", "payer", json={"hospital_id": HOSPITAL[args[0]],
                                                                   "case_id": args[1], "reason": args[2]}))
        elif action == "run":
            kind, period = args
            body = {"kind": kind, "period": period}
            if kind == "year":
                body["scores"] = {v: "100" for v in HOSPITAL.values()}
            self.run_ids[period] = self.ok(c.post("/v1/lifecycle/runs", "payer", json=body), 201)["run_id"]
        elif action == "flag":
            fid, h, cid, rule, evidence = args
            run_id = f"audit-quarter-{n}"
            with c.service.db.connect(write=True) as conn:  # as a screening run of the month would store it
                conn.execute("INSERT INTO runs (run_id, kind, period, status, created_by, created_at) VALUES "
                             "(?, 'audit', ?, 'done', 'test', ?)", (run_id, on.isoformat()[:7], utcnow()))
                conn.execute("INSERT INTO audit_flags (run_id, seq, flag_id, case_id, row_no, hospital_id, rule_id, "
                             "severity, message_zh, message_en, evidence, score, period) VALUES "
                             "(?, 1, ?, ?, 1, ?, ?, 'error', '', '', ?, 1.0, ?)",
                             (run_id, fid, cid, HOSPITAL[h], rule, json.dumps(evidence), on.isoformat()[:7]))
            self.flag_run[fid] = (run_id, h)
        elif action == "appeal":
            run_id, h = self.flag_run[args[0]]
            self.ok(c.post(f"/v1/flags/{args[0]}/appeal", h, json={"run_id": run_id, "reason": "病历有据 documented"}))
        elif action == "decide":
            run_id, _ = self.flag_run[args[0]]
            self.ok(c.post(f"/v1/flags/{args[0]}/decision", "payer",
                           json={"run_id": run_id, "status": args[1], "outcome": f"复议结论 {args[1]}"}))
        elif action == "disburse":
            self.ok(c.post("/v1/lifecycle/disbursements", "payer",
                           json={"run": args[0], "hospital_ids": [HOSPITAL[h] for h in args[1]]}))

    def tables(self) -> dict:
        """Every table the quarter produced, as the payer reads them (run ids left out: they are random)."""
        c = self.c
        cases = self.ok(c.get("/v1/lifecycle/cases", "payer"))
        history = {f"{s['hospital_id']}/{s['case_id']}": self.ok(c.get(
            f"/v1/lifecycle/cases/{s['hospital_id']}/{s['case_id']}/history", "payer")) for s in cases}
        deductions = self.ok(c.get("/v1/lifecycle/deductions", "payer"))
        ledger = [{k: v for k, v in e.items() if k != "run_id"} for e in self.ok(c.get("/v1/settlements/ledger",
                                                                                    "payer"))]
        statements = {}
        for period, run_id in self.run_ids.items():
            for h in HOSPITAL.values():
                r = c.get(f"/v1/settlements/{run_id}/statements/{h}", "payer")
                if r.status_code == 200:
                    body = r.json()
                    statements[f"{period}/{h}"] = {"deductions": [{k: v for k, v in d.items() if k != "run_id"}
                                                                  for d in body["deductions"]],
                                                   "reconciliation": body["reconciliation"]}
        return {"cases": cases, "history": history, "deductions": deductions, "ledger": ledger, "statements": statements,
                "deadlines": self.ok(c.get(f"/v1/lifecycle/deadlines?as_of={Q.AS_OF}", "payer")),
                "reconciliation": self.ok(c.get("/v1/lifecycle/reconciliation", "payer"))}


def play(tmp_path, backend: str, monkeypatch) -> tuple[Player, dict]:
    c, schema = make_client(tmp_path / backend, backend, policy=POLICY)
    try:
        p = Player(c, monkeypatch)
        for n, step in enumerate(Q.STEPS):
            p.step(n, *step)
        return p, p.tables()
    finally:
        close_client(c, backend, schema)


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """The quarter on each backend that answers (PostgreSQL skipped, with the reason, when none does)."""
    mp = pytest.MonkeyPatch()
    out = {}
    try:
        for backend in BACKENDS:
            if backend == "postgresql" and postgres_reason():
                continue
            out[backend] = play(tmp_path_factory.mktemp(backend), backend, mp)[1]
    finally:
        mp.undo()
    return out


def test_states_equal_the_case_book(played):
    """The service's states and history equal the library's case book on the same steps."""
    q = Quarter()
    for step in Q.STEPS:
        q.step(*step)
    want = {(HOSPITAL[s["hospital_id"]], s["case_id"]): (s["submission"], s["payment"], s["period"], s["late"])
            for s in q.book.states()}
    steps = sorted((HOSPITAL[e["hospital_id"]], e["case_id"], e["seq"], e["dimension"], e["from"], e["to"], e["run"])
                   for e in q.book.history)
    steps = [s[:2] + s[3:] for s in steps]  # each case's steps in order (cases settled in a run: any order)
    for backend, tables in played.items():
        got = {(s["hospital_id"], s["case_id"]): (s["submission"], s["payment"], s["period"], s["late"])
               for s in tables["cases"]}
        assert got == want, backend
        rows = sorted((*key.split("/"), r["seq"], r["dimension"], r["from_state"], r["to_state"], r["run"])
                      for key, h in tables["history"].items() for r in h)
        assert [r[:2] + r[3:] for r in rows] == steps, backend
        deduction_ids = sorted(line["adjustment_id"] for line in tables["deductions"]["lines"])
        assert deduction_ids == ["deduction:SPLIT:H5:c2", "deduction:UPCODING:H1:c3", "recovery:H004:c1:v1"]
        decisions = {d["flag_id"]: (d["appeal_status"], d["deduction"]) for d in tables["deductions"]["decisions"]}
        assert decisions == {"SPLIT:H5:c2": ("upheld", "applied"), "UPCODING:H1:c3": ("upheld", "applied"),
                             "UPCODING:H5:c3": ("withdrawn", "none")}


def test_duckdb_and_postgresql_identical(played):
    if len(played) < 2:
        pytest.skip(postgres_reason() or "one backend only")
    assert played["duckdb"] == played["postgresql"]


def test_reconciliation_sums_to_the_ledger(played):
    for tables in played.values():
        rows = tables["reconciliation"]["rows"]
        ledger = tables["ledger"]
        from decimal import Decimal as D
        due = sum(D(r["due"]) for r in rows)
        # due = Σ paid + carried_in (+ released of month runs) over the ledger
        assert due == sum(D(e["paid"]) + D(e["carried_in"]) + (D(e["released"]) if len(e["run"]) > 4 else 0)
                          for e in ledger)
        assert sum(D(r["deducted"]) for r in rows) == sum(D(e["deducted"]) for e in ledger) == sum(
            D(line["amount"]) for line in tables["deductions"]["lines"])


@pytest.fixture(params=BACKENDS)
def small(request, tmp_path, monkeypatch):
    """A month with one upload per hospital, reviewed and settled, for the authorization matrix."""
    c, schema = make_client(tmp_path, request.param, policy=POLICY)
    p = Player(c, monkeypatch)
    for n, (h, cid) in enumerate((("H1", "a"), ("H2", "b"))):
        p.step(n, date(2024, 2, 1), "upload", (h, cid, "A01", "2024-01-10", ()))
    p.step(9, date(2024, 2, 2), "return", ("H2", "b", "编码错误 wrong code"))
    p.step(10, date(2024, 2, 2), "review", ("H1", "a"))
    p.step(11, date(2024, 2, 20), "run", ("month", "2024-01"))
    yield c
    close_client(c, request.param, schema)


def test_authorization_matrix(small):
    c = small
    # hospitals: own figures; another hospital's: 404, exactly as if it did not exist
    for route in MONEY_ROUTES + ("/v1/lifecycle/cases", "/v1/lifecycle/deadlines"):
        assert c.get(route, "hospital").status_code == 200, route
        assert c.get(f"{route}?hospital_id=H002", "hospital").status_code == 404, route
        assert c.get(route, "auditor").status_code == 200, route
        assert c.get(route, None).status_code == 401, route
    own = c.get("/v1/lifecycle/cases", "hospital").json()
    assert [(s["hospital_id"], s["case_id"], s["submission"], s["payment"]) for s in own] == \
        [("H001", "a", "accepted", "provisional")]
    returned = c.get("/v1/lifecycle/cases?submission=returned", "other").json()
    assert [(s["hospital_id"], s["case_id"]) for s in returned] == [("H002", "b")]
    assert c.get("/v1/lifecycle/cases/H001/a/history", "hospital").status_code == 200
    assert c.get("/v1/lifecycle/cases/H001/a/history", "other").status_code == 404
    assert c.get("/v1/lifecycle/cases/H002/nothing/history", "other").status_code == 404
    # coders: their hospital's cases and history, no money
    assert c.get("/v1/lifecycle/cases", "coder").status_code == 200
    assert c.get("/v1/lifecycle/cases/H001/a/history", "coder").status_code == 200
    for route in MONEY_ROUTES:
        assert c.get(route, "coder").status_code == 403, route
    # the deadlines without the payment ones (拨付时限)
    deadlines = c.get("/v1/lifecycle/deadlines", "coder").json()
    assert deadlines["months"] and "upload_deadline" in deadlines["months"][0]
    assert not {"payment_working_days", "overdue_payments"} & set(deadlines)
    assert not any("payment_due" in m for m in deadlines["months"])
    reconciliation = c.get("/v1/lifecycle/reconciliation", "hospital").json()
    assert {r["hospital_id"] for r in reconciliation["rows"]} == {"H001"}
    assert {i["hospital_id"] for i in reconciliation["open_items"]} == {"H001"}
    # only the payer changes anything
    bodies = {"/v1/lifecycle/reviews": {}, "/v1/lifecycle/returns": {"hospital_id": "H001", "case_id": "a",
                                                                      "reason": "x"},
              "/v1/lifecycle/runs": {"kind": "month", "period": "2024-02"},
              "/v1/lifecycle/disbursements": {"run": "2024-01", "hospital_ids": ["H001"]}}
    for route, body in bodies.items():
        for who in ("hospital", "coder", "auditor"):
            assert c.post(route, who, json=body).status_code == 403, (route, who)
    # the payer: a return of an accepted case is refused naming its state; an unknown case 404
    r = c.post("/v1/lifecycle/returns", "payer", json={"hospital_id": "H001", "case_id": "a", "reason": "x"})
    assert r.status_code == 409 and "accepted" in r.json()["detail"]
    r = c.post("/v1/lifecycle/returns", "payer", json={"hospital_id": "H001", "case_id": "zz", "reason": "x"})
    assert r.status_code == 404
    # a month run again: nothing left to settle in it, it stays closed (no second payment)
    r = c.post("/v1/lifecycle/runs", "payer", json={"kind": "month", "period": "2024-01"})
    assert r.status_code == 201 and r.json()["run_id"] is None
    ledger = c.get("/v1/settlements/ledger", "payer").json()
    assert [(e["run"], e["hospital_id"]) for e in ledger] == [("2024-01", "H001")]


def test_statements_show_deductions_and_reconciliation(played):
    for tables in played.values():
        feb = tables["statements"]["2024-02/H005"]
        assert [(d["flag_id"], d["appeal_status"], d["reason"], d["outcome"], d["kind"]) for d in feb["deductions"]] == \
            [("SPLIT:H5:c2", "upheld", "病历有据 documented", "复议结论 upheld", "deduction")]
        (row,) = feb["reconciliation"]
        assert (row["hospital_id"], row["run"], row["deducted_cases"]) == ("H005", "2024-02", 1)
        assert row["deducted"] == feb["deductions"][0]["amount"]
        assert tables["statements"]["2024-03/H004"]["deductions"][0]["kind"] == "recovery"
        assert tables["statements"]["2024-01/H001"]["deductions"] == []
