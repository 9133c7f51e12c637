"""结算 (settlement runs): the payer starts month, year and shadow runs over the stored cases;
hospitals read their own statements and case lines."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Annotated

import pandas as pd
import pyarrow as pa
from fastapi import APIRouter, HTTPException, Query

from api.service.auth import NOT_FOUND
from api.service.db import CASE_COLUMNS, LINE_COLUMNS, utcnow, where_clause
from api.service.lifecycle_store import statement_lifecycle
from api.service.deps import PrincipalDep, ServiceDep
from api.service.routers.hospitals import period_filter
from api.service.schemas import (ErrorOut, LedgerEntry, LinePage, SettlementIn, SettlementRun, SpecialListIn,
                                 SpecialListOut, Statement)
from api.service.store import audit, new_id, record_run
from foundation.arrow_columns import plain_array
from icd_tables.intake.bounds import load_bounds
from payment import MoneyRangeError, PaymentInputError, PolicyError, read_scores, run_settlement
from payment.engine import ledger_entries
from payment.ledger import AMOUNT_COLUMNS, COLUMNS, KEY_COLUMNS, Ledger, LedgerError, ledger_from_rows

router = APIRouter(prefix="/v1/settlements", tags=["结算 settlements"])
ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut},
          422: {"model": ErrorOut}, 429: {"model": ErrorOut}}
#: How ledger messages name the service's ledger (never a server path).
LEDGER_SOURCE = "table ledger 结算台账"
#: Who may read statements and lines (coders work on coding, not money).
READERS = ("hospital", "payer", "auditor")
#: Stored columns a settlement reads.
SETTLE_INPUT = ("case_id", "hospital_id", "patient_id", "drg", "status", "total_cost", "self_pay_cost", "patient_paid",
                "los_days", "admit_date", "discharge_date", "settlement_date", "insurance_type", "dept", "pack_version",
                "insured_region", "out_of_area_unreferred")
# every bounded field too: a case holding a value no stay can have is a data error, not paid
SETTLE_INPUT += tuple(b.field for b in load_bounds() if b.field in CASE_COLUMNS and b.field not in SETTLE_INPUT)


def _json_value(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode()
    return value


def _run_out(row: dict) -> SettlementRun:
    return SettlementRun(**{k: row[k] for k in SettlementRun.model_fields if k != "detail"},
                         detail=json.loads(row["detail"] or "{}"))


@router.post("", response_model=SettlementRun, status_code=201, responses=ERRORS,
             summary="发起结算 start a settlement run (payer)")
def start_run(body: SettlementIn, service: ServiceDep, principal: PrincipalDep) -> SettlementRun:
    """Settle the stored current cases of a month (按月预结), a year (年度清算) or a shadow run (空转试运行)
    with the loaded weights, policy and hospital table; statements and case lines are stored."""
    principal.require("payer")
    engine = service.engine
    if not engine.can_price:
        raise HTTPException(422, "服务未加载权重表、付费政策或医疗机构表 (the service was started without weights, "
                                 "a policy or a hospital table: drg serve --weights W --policy P)")
    if body.kind != "shadow" and (body.kind == "month") != (len(body.period) == 7):
        raise HTTPException(422, f"{body.kind} 结算期间应为 {'月份 2024-03' if body.kind == 'month' else '年份 2024'} "
                                 f"(period {body.period!r} does not fit a {body.kind} run)")
    where, params = period_filter(body.period)
    with service.db.connect() as conn:
        cases = conn.arrow(f"SELECT {', '.join(SETTLE_INPUT)} FROM cases WHERE {where} ORDER BY hospital_id, case_id",
                           params)
    if not cases.num_rows:
        raise HTTPException(422, f"期间 {body.period} 没有病例 (no stored cases in {body.period})")
    run_id = new_id("settle")
    special, special_list = _special_list(service, body.special_list)
    with service.db.connect(write=True) as conn:
        # the ledger is read, the run settled against it and recorded in one transaction, one run at a time
        if conn.dialect == "postgresql":
            conn.execute("SELECT pg_advisory_xact_lock(72012)")
        ledger = _stored_ledger(conn) if body.kind != "shadow" else None
        try:
            scores = read_scores(pd.DataFrame({"hospital_id": list(body.scores), "score": list(body.scores.values())}),
                                 engine.hospitals) if body.scores else None
            run = run_settlement(cases, engine.weights, engine.policy, engine.hospitals, body.kind, body.period,
                                 scores=scores, ledger=_ledger_read_by(ledger, body, engine.policy), special=special,
                                 special_list=special_list)
        except LedgerError as exc:
            raise HTTPException(409, str(exc)) from None
        except (PaymentInputError, PolicyError, MoneyRangeError) as exc:
            raise HTTPException(422, str(exc)) from None
        if ledger is not None:
            try:
                recorded = run.ledger if run.ledger is not None else \
                    ledger.record(body.period, ledger_entries(run.settlement))
            except LedgerError as exc:
                raise HTTPException(409, str(exc)) from None
            if recorded is not ledger:
                conn.insert_arrow("ledger", _ledger_table(run_id, recorded.rows(body.period)))
        _store_run(conn, run_id, run, body, principal, engine, cases.num_rows)
        row = conn.one("SELECT * FROM runs WHERE run_id = ?", (run_id,))
    audit(service.db, principal, "settle", f"run:{run_id}", 201)
    return _run_out(row)


def _store_run(conn, run_id: str, run, body: SettlementIn, principal, engine, n_cases: int) -> None:
    """The run, its statements and case lines."""
    lines = run.tables["case_lines"]
    lines = pa.table({name: plain_array(lines.column(name)) if name in lines.column_names else
                      pa.nulls(lines.num_rows, pa.string()) for name in LINE_COLUMNS if name != "run_id"})
    lines = pa.table({"run_id": pa.repeat(pa.scalar(run_id), lines.num_rows),
                      **{n: c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c
                         for n, c in zip(lines.column_names, lines.columns)}})
    statements = {}
    for row in run.tables["hospitals"].to_pylist():
        statements.setdefault(row["hospital_id"], []).append({k: _json_value(v) for k, v in row.items()})
    meta = json.loads(json.dumps(run.meta, default=str))
    record_run(conn, run_id, f"settle-{body.kind}", principal, engine, input_sha256=meta["input_fingerprint"],
               n_records=n_cases, period=body.period,
               detail={"run_version": meta["run_version"], "cases": meta["cases"], "funds": meta["funds"],
                       **({"special_list": meta["special_list"]} if meta.get("special_list") else {})})
    for hospital, rows in sorted(statements.items()):
        conn.execute("INSERT INTO settlement_statements (run_id, hospital_id, body) VALUES (?, ?, ?)",
                     (run_id, hospital, json.dumps(rows, ensure_ascii=False)))
    conn.insert_arrow("settlement_lines", lines)


def _special_list(service, list_id: str | None) -> tuple[dict | None, dict | None]:
    """The uploaded 特病单议 list a run uses: case id → note, and what the run records of it."""
    if list_id is None:
        return None, None
    with service.db.connect() as conn:
        row = conn.one("SELECT * FROM special_lists WHERE list_id = ?", (list_id,))
    if row is None:
        raise HTTPException(422, f"特病单议名单 {list_id} 不存在 (no special-case list {list_id}; upload it with "
                                 "POST /v1/settlements/special-lists)")
    cases = json.loads(row["body"])
    return ({c["case_id"]: c["note"] for c in cases},
            {"list_id": list_id, "version": row["version"], "sha256": row["sha256"], "cases": len(cases)})


def _stored_ledger(conn, where: str = "TRUE", params=()) -> Ledger:
    """The run ledger held in the ``ledger`` table, read as the CLI reads its file."""
    return ledger_from_rows(conn.rows(f"SELECT * FROM ledger WHERE {where}", params), LEDGER_SOURCE)


def _ledger_read_by(ledger: Ledger | None, body: SettlementIn, policy) -> Ledger | None:
    """The ledger a run reads: month runs always; a year run when its months were settled here or the policy
    releases, carries or nets interim payments through the ledger (a year settled alone is still recorded, so
    never paid twice)."""
    if body.kind != "year" or ledger is None:
        return ledger
    months = [r for r in ledger.runs_of_year(int(body.period)) if len(r) > 4]
    through_ledger = policy.release_schedule != "year" or policy.carry_balance or policy.interim_months is not None
    return ledger if months or through_ledger else None


def _ledger_table(run_id: str, rows: list[dict]) -> pa.Table:
    money = pa.decimal128(18, 2)
    return pa.table({"run_id": pa.array([run_id] * len(rows), pa.string()),
                     **{k: pa.array([r[k] for r in rows], money if k in AMOUNT_COLUMNS else pa.string())
                        for k in COLUMNS}})


def _visible_run(conn, principal, run_id: str) -> dict:
    row = conn.one("SELECT * FROM runs WHERE run_id = ? AND kind LIKE 'settle-%'", (run_id,))
    if row is None:
        raise HTTPException(404, NOT_FOUND)
    if principal.scoped and conn.one("SELECT 1 AS x FROM settlement_statements WHERE run_id = ? AND hospital_id = ?",
                                     (run_id, principal.hospital_id)) is None:
        raise principal.denied()
    return row


@router.get("", response_model=list[SettlementRun], responses=ERRORS, summary="结算记录 settlement runs")
def list_runs(service: ServiceDep, principal: PrincipalDep,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[SettlementRun]:
    """Runs, newest first; a hospital sees the runs that hold a statement of its own."""
    principal.require(*READERS)
    with service.db.connect() as conn:
        if principal.scoped:
            rows = conn.rows("SELECT r.* FROM runs r JOIN settlement_statements s ON s.run_id = r.run_id WHERE "
                             "s.hospital_id = ? ORDER BY r.created_at DESC, r.run_id DESC LIMIT ?",
                             (principal.hospital_id, limit))
        else:
            rows = conn.rows("SELECT * FROM runs WHERE kind LIKE 'settle-%' ORDER BY created_at DESC, run_id DESC "
                             "LIMIT ?", (limit,))
    audit(service.db, principal, "read", "settlements")
    return [_run_out(r) for r in rows]


@router.get("/ledger", response_model=list[LedgerEntry], responses=ERRORS, summary="结算台账 the run ledger")
def get_ledger(service: ServiceDep, principal: PrincipalDep,
               hospital_id: Annotated[str | None, Query(max_length=100, description="医疗机构（医院账号为本院）")] = None,
               year: Annotated[int | None, Query(ge=1900, le=9999, description="年度 (month runs and year run)")] = None
               ) -> list[LedgerEntry]:
    """What each month, release and year run paid, withheld, released, deducted and carried, per hospital and
    fund, in run order; a hospital sees its own entries."""
    principal.require(*READERS)
    hospital_id = principal.hospital_scope(hospital_id)
    where, params = where_clause(("hospital_id = ?", hospital_id),
                                 ("run LIKE ?", None if year is None else f"{year:04d}%"))
    with service.db.connect() as conn:
        rows = conn.rows(f"SELECT * FROM ledger WHERE {where}", params)
    recorded_by = {tuple(r[k] for k in KEY_COLUMNS): r["run_id"] for r in rows}
    ledger = ledger_from_rows(rows, LEDGER_SOURCE)
    audit(service.db, principal, "read", f"ledger:{hospital_id or '*'}")
    return [LedgerEntry(run_id=recorded_by[tuple(r[k] for k in KEY_COLUMNS)],
                        **{k: str(v) for k, v in r.items()}) for r in ledger.rows()]


@router.post("/special-lists", response_model=SpecialListOut, status_code=201, responses=ERRORS,
             summary="上传特病单议名单 upload an approved special-case list (payer)")
def upload_special_list(body: SpecialListIn, service: ServiceDep, principal: PrincipalDep) -> SpecialListOut:
    """The payer's approved 特病单议 cases, in the order the cap takes them; a run names it (``special_list``)
    and records its version and SHA-256.  Hospitals and coders cannot upload."""
    principal.require("payer")
    ids = [c.case_id for c in body.cases]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise HTTPException(422, f"病案号 {duplicate} 重复 (case {duplicate} listed twice)")
    cases = [{"case_id": c.case_id, "note": c.note} for c in body.cases]
    text = json.dumps(cases, ensure_ascii=False, separators=(",", ":"))
    row = {"list_id": new_id("special"), "version": body.version, "sha256": hashlib.sha256(text.encode()).hexdigest(),
           "n_cases": len(cases), "created_by": principal.key_id, "created_at": utcnow(), "body": text}
    with service.db.connect(write=True) as conn:
        conn.execute(f"INSERT INTO special_lists ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                     tuple(row.values()))
    audit(service.db, principal, "upload", f"special_list:{row['list_id']}", 201)
    return SpecialListOut(**{k: v for k, v in row.items() if k != "body"})


@router.get("/special-lists", response_model=list[SpecialListOut], responses=ERRORS,
            summary="特病单议名单 the uploaded special-case lists (payer, auditor)")
def list_special_lists(service: ServiceDep, principal: PrincipalDep) -> list[SpecialListOut]:
    principal.require("payer", "auditor")
    with service.db.connect() as conn:
        rows = conn.rows("SELECT list_id, version, sha256, n_cases, created_by, created_at FROM special_lists "
                         "ORDER BY created_at DESC, list_id DESC")
    audit(service.db, principal, "read", "special_lists")
    return [SpecialListOut(**r) for r in rows]


@router.get("/{run_id}", response_model=SettlementRun, responses=ERRORS, summary="结算运行 one run")
def get_run(run_id: str, service: ServiceDep, principal: PrincipalDep) -> SettlementRun:
    principal.require(*READERS)
    with service.db.connect() as conn:
        row = _visible_run(conn, principal, run_id)
    audit(service.db, principal, "read", f"run:{run_id}")
    return _run_out(row)


@router.get("/{run_id}/statements/{hospital_id}", response_model=Statement, responses=ERRORS,
            summary="结算单 a hospital's statement")
def get_statement(run_id: str, hospital_id: str, service: ServiceDep, principal: PrincipalDep) -> Statement:
    principal.require(*READERS)
    principal.check_hospital(hospital_id)
    with service.db.connect() as conn:
        run = _visible_run(conn, principal, run_id)
        row = conn.one("SELECT body FROM settlement_statements WHERE run_id = ? AND hospital_id = ?",
                       (run_id, hospital_id))
        deductions, reconciliation = statement_lifecycle(conn, service.engine.policy, run_id, hospital_id,
                                                         run["period"])
    if row is None:
        raise HTTPException(404, NOT_FOUND)
    audit(service.db, principal, "read", f"statement:{run_id}/{hospital_id}")
    return Statement(run_id=run_id, hospital_id=hospital_id, kind=run["kind"].removeprefix("settle-"),
                     period=run["period"], lines=json.loads(row["body"]), deductions=deductions,
                     reconciliation=reconciliation,
                     special_list=json.loads(run["detail"] or "{}").get("special_list"))


@router.get("/{run_id}/lines", response_model=LinePage, responses=ERRORS, summary="病例结算明细 case lines")
def get_lines(run_id: str, service: ServiceDep, principal: PrincipalDep,
              hospital_id: Annotated[str | None, Query(max_length=100, description="医疗机构（医院账号为本院）")] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> LinePage:
    principal.require(*READERS)
    hospital_id = principal.hospital_scope(hospital_id)
    where, params = ("run_id = ? AND hospital_id = ?", (run_id, hospital_id)) if hospital_id else \
        ("run_id = ?", (run_id,))
    with service.db.connect() as conn:
        _visible_run(conn, principal, run_id)
        total = conn.one(f"SELECT COUNT(*) AS n FROM settlement_lines WHERE {where}", params)["n"]
        rows = conn.rows(f"SELECT * FROM settlement_lines WHERE {where} ORDER BY hospital_id, row_no LIMIT ? OFFSET ?",
                         (*params, limit, offset))
    audit(service.db, principal, "read", f"lines:{run_id}/{hospital_id or '*'}")
    return LinePage(total=total, offset=offset, limit=limit,
                    lines=[{k: _json_value(v) for k, v in r.items()} for r in rows])


__all__ = ["router"]
