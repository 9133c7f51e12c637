"""智能审核 (payer audit screens): the payer screens a stored month; hospitals read their own flags and
appeal them (申诉); the payer decides (复议); payer and auditor read the review queue (待审队列).

A run screens the current cases of the month (``audit.screens.Screener``, with the loaded weight
table and its base rates), the stored cases of the :data:`HISTORY_MONTHS` months before as history.
Its flags are stored in screening order, with the cases it screened, so that the review queue is
rebuilt from the database exactly as ``review_queue`` gives it for the run.  A flag without an
``appeals`` row is ``open`` (待申诉), notified when the run was made.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from decimal import Decimal
from typing import Annotated

import numpy as np
import pyarrow as pa
from fastapi import APIRouter, HTTPException, Path, Query

from api.service.auth import NOT_FOUND
from api.service.db import utcnow, where_clause
from api.service.deps import PrincipalDep, ServiceDep
from api.service.schemas import (AppealIn, AppealOut, AuditRun, AuditRunIn, DecisionIn, ErrorOut, FlagOut, FlagPage,
                                 QueueEntry, ReviewQueue, as_utc)
from api.service.store import audit, fingerprint, new_id, record_run
from audit.appeals import STATUSES, Appeal, AppealError, open_appeal
from audit.screens import FLAG_SCHEMA, RateError, ScreenResult, Screener, review_queue
from foundation.arrow_columns import value_counts
from audit.screens.engine import case_risk, hospital_risk
from audit.screens.flags import SEVERITY_ZH
from audit.screens.config import load_screens
from audit.screens.queue import SELECTION_ZH

router = APIRouter(prefix="/v1", tags=["智能审核 audit"])
ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}, 422: {"model": ErrorOut},
          429: {"model": ErrorOut}}
STEP_ERRORS = {**ERRORS, 409: {"model": ErrorOut, "description": "申诉状态不允许此操作 (not allowed in the flag's state)"}}
#: Months before the screened one whose stored cases are the history (previous stays, baselines).
HISTORY_MONTHS = 12
#: Stored case columns the screens read.
SCREEN_INPUT = ("case_id", "hospital_id", "patient_id", "admit_date", "discharge_date", "los_days", "total_cost", "drg",
                "adrg", "mdc", "status", "principal_dx", "discharge_method", "insurance_type")
RunId = Annotated[str, Path(max_length=100, description="审核运行编号")]
FlagId = Annotated[str, Path(max_length=300, description="疑点编号 (flag_id)")]


def history_start(period: str) -> str:
    """The first month of the history window of ``period`` (YYYY-MM): :data:`HISTORY_MONTHS` months before."""
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + month - 1 - HISTORY_MONTHS
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@router.post("/audit-runs", response_model=AuditRun, status_code=201, responses=ERRORS,
             summary="发起智能审核 screen a stored month (payer)")
def start_run(body: AuditRunIn, service: ServiceDep, principal: PrincipalDep) -> AuditRun:
    """Screen the stored current cases of a month with the audit screens (分解住院, 低标准入院, 高套病组,
    挂床, 重复, 推诿) and store the flags; the 12 months before are the history."""
    principal.require("payer")
    columns = ", ".join(SCREEN_INPUT)
    with service.db.connect() as conn:
        cases = conn.arrow(f"SELECT {columns} FROM cases WHERE month = ? ORDER BY hospital_id, case_id",
                           (body.period,))
        history = conn.arrow(f"SELECT {columns} FROM cases WHERE month >= ? AND month < ? "
                             "ORDER BY month, hospital_id, case_id", (history_start(body.period), body.period))
    if not cases.num_rows:
        raise HTTPException(422, f"期间 {body.period} 没有病例 (no stored cases in {body.period})")
    cases = cases.append_column("row_no", pa.array(np.arange(1, cases.num_rows + 1, dtype=np.int64)))
    try:
        screener = Screener(weights=service.engine.weights)
    except RateError as exc:
        raise HTTPException(422, f"权重表的基础费率无法使用 (weight table base rate): {exc}") from None
    result = screener.screen(cases, history if history.num_rows else None)
    run_id = new_id("audit")
    flags = result.flags
    n = flags.num_rows
    stored = pa.table({"run_id": pa.repeat(pa.scalar(run_id), n), "seq": pa.array(np.arange(1, n + 1, dtype=np.int64)),
                       **{name: flags.column(name) for name in FLAG_SCHEMA.names},
                       "period": pa.repeat(pa.scalar(body.period), n)})
    screened = result.cases
    screened = pa.table({"run_id": pa.repeat(pa.scalar(run_id), screened.num_rows), **{
        name: screened.column(name) for name in ("row_no", "case_id", "hospital_id")}})
    detail = {"n_history": history.num_rows, "by_rule": result.counts(), "by_severity": _counts(flags, "severity"),
              "skipped": result.skipped, "rates": result.rates.source}
    with service.db.connect(write=True) as conn:
        record_run(conn, run_id, "audit", principal, service.engine, input_sha256=fingerprint(cases),
                   n_records=cases.num_rows, period=body.period, detail=detail)
        conn.insert_arrow("audit_flags", stored)
        conn.insert_arrow("audit_run_cases", screened)
        row = conn.one("SELECT * FROM runs WHERE run_id = ?", (run_id,))
    audit(service.db, principal, "audit-run", f"audit-run:{run_id}", 201)
    return _run_out(row, json.loads(row["detail"]), n)


def _counts(flags: pa.Table, column: str) -> dict[str, int]:
    return dict(value_counts(flags.column(column)))


def _run_out(row: dict, detail: dict, n_flags: int, n_cases: int | None = None) -> AuditRun:
    scoped = n_cases is not None
    return AuditRun(run_id=row["run_id"], period=row["period"], status=row["status"], pack_version=row["pack_version"],
                    weights_version=row["weights_version"], input_sha256=row["input_sha256"],
                    n_cases=n_cases if scoped else row["n_records"],
                    n_history=None if scoped else detail.get("n_history"), n_flags=n_flags,
                    by_rule=detail.get("by_rule", {}), by_severity=detail.get("by_severity", {}),
                    skipped=detail.get("skipped", {}), created_by=row["created_by"], created_at=row["created_at"])


def _visible_run(conn, principal, run_id: str) -> AuditRun:
    """A run as the caller may see it: 404 when absent, or when a scoped caller's hospital had no case in it."""
    row = conn.one("SELECT * FROM runs WHERE run_id = ? AND kind = 'audit'", (run_id,))
    if row is None:
        raise HTTPException(404, NOT_FOUND)
    detail = json.loads(row["detail"] or "{}")
    if not principal.scoped:
        n_flags = conn.one("SELECT COUNT(*) AS n FROM audit_flags WHERE run_id = ?", (run_id,))["n"]
        return _run_out(row, detail, n_flags)
    mine = (run_id, principal.hospital_id)
    n_cases = conn.one("SELECT COUNT(*) AS n FROM audit_run_cases WHERE run_id = ? AND hospital_id = ?", mine)["n"]
    if not n_cases:
        raise principal.denied()
    counts = {}
    for column in ("rule_id", "severity"):
        counts[column] = {r["k"]: r["n"] for r in conn.rows(
            f"SELECT {column} AS k, COUNT(*) AS n FROM audit_flags WHERE run_id = ? AND hospital_id = ? "
            f"GROUP BY {column} ORDER BY {column}", mine)}
    own = {**detail, "by_rule": counts["rule_id"], "by_severity": counts["severity"]}
    return _run_out(row, own, sum(counts["rule_id"].values()), n_cases)


@router.get("/audit-runs", response_model=list[AuditRun], responses=ERRORS, summary="审核记录 audit runs")
def list_runs(service: ServiceDep, principal: PrincipalDep,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[AuditRun]:
    """Runs, newest first; a hospital sees the runs that screened cases of its own, with its own counts."""
    with service.db.connect() as conn:
        if principal.scoped:
            rows = conn.rows("SELECT r.run_id FROM runs r WHERE r.kind = 'audit' AND EXISTS (SELECT 1 FROM "
                             "audit_run_cases c WHERE c.run_id = r.run_id AND c.hospital_id = ?) "
                             "ORDER BY r.created_at DESC, r.run_id DESC LIMIT ?", (principal.hospital_id, limit))
        else:
            rows = conn.rows("SELECT run_id FROM runs WHERE kind = 'audit' ORDER BY created_at DESC, run_id DESC "
                             "LIMIT ?", (limit,))
        runs = [_visible_run(conn, principal, r["run_id"]) for r in rows]
    audit(service.db, principal, "read", "audit-runs")
    return runs


@router.get("/audit-runs/{run_id}", response_model=AuditRun, responses=ERRORS, summary="审核运行 one run")
def get_run(run_id: RunId, service: ServiceDep, principal: PrincipalDep) -> AuditRun:
    with service.db.connect() as conn:
        run = _visible_run(conn, principal, run_id)
    audit(service.db, principal, "read", f"audit-run:{run_id}")
    return run


def _money(value) -> str | None:
    return str(value) if isinstance(value, Decimal) else value


def _flag_out(row: dict) -> FlagOut:
    status = row.pop("appeal_status") or "open"
    row.pop("seq", None)
    return FlagOut(**{**row, "money_at_stake": _money(row["money_at_stake"]), "evidence": json.loads(row["evidence"]),
                      "message_zh": row["message_zh"] or "", "message_en": row["message_en"] or ""},
                   severity_zh=SEVERITY_ZH.get(row["severity"], row["severity"]),
                   appeal_status=status, appeal_status_zh=STATUSES[status])


@router.get("/audit-runs/{run_id}/flags", response_model=FlagPage, responses=ERRORS, summary="审核疑点 flags of a run")
def list_flags(run_id: RunId, service: ServiceDep, principal: PrincipalDep,
               hospital_id: Annotated[str | None, Query(max_length=100, description="医疗机构（医院账号为本院）")] = None,
               rule_id: Annotated[str | None, Query(max_length=100, description="规则编号 如 SPLIT_READMISSION")] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> FlagPage:
    """The run's flags in screening order (case flags by row, then hospital flags), with their appeal status."""
    hospital_id = principal.hospital_scope(hospital_id)
    where, values = where_clause(("f.run_id = ?", run_id), ("f.hospital_id = ?", hospital_id),
                                 ("f.rule_id = ?", rule_id))
    with service.db.connect() as conn:
        _visible_run(conn, principal, run_id)
        total = conn.one(f"SELECT COUNT(*) AS n FROM audit_flags f WHERE {where}", tuple(values))["n"]
        rows = conn.rows(f"SELECT f.*, a.status AS appeal_status FROM audit_flags f LEFT JOIN appeals a ON "
                         f"a.run_id = f.run_id AND a.flag_id = f.flag_id WHERE {where} ORDER BY f.seq LIMIT ? OFFSET ?",
                         (*values, limit, offset))
    audit(service.db, principal, "read", f"audit-flags:{run_id}/{hospital_id or '*'}?rule={rule_id or ''}")
    return FlagPage(total=total, offset=offset, limit=limit, flags=[_flag_out(r) for r in rows])


def stored_result(conn, run_id: str) -> ScreenResult:
    """The run's screening result rebuilt from the database (flags in screening order, the screened cases)."""
    flags = pa.Table.from_pylist(conn.rows(f"SELECT {', '.join(FLAG_SCHEMA.names)} FROM audit_flags WHERE run_id = ? "
                                           "ORDER BY seq", (run_id,)), schema=FLAG_SCHEMA)
    cases = pa.Table.from_pylist(conn.rows("SELECT case_id, row_no, hospital_id FROM audit_run_cases WHERE run_id = ? "
                                           "ORDER BY row_no", (run_id,)),
                                 schema=pa.schema([("case_id", pa.string()), ("row_no", pa.int64()),
                                                   ("hospital_id", pa.string())]))
    return ScreenResult(flags, case_risk(flags), hospital_risk(flags, cases), cases)


@router.get("/audit-runs/{run_id}/queue", response_model=ReviewQueue, responses=ERRORS,
            summary="待审队列 review queue (payer, auditor)")
def get_queue(run_id: RunId, service: ServiceDep, principal: PrincipalDep,
              top: Annotated[int, Query(ge=0, le=100_000, description="按涉及金额×风险分取前 N 个病例")] = 200,
              sample: Annotated[int, Query(ge=0, le=100_000, description="另从其余病例随机抽查的病例数")] = 50,
              seed: Annotated[int, Query(ge=0, le=2**32 - 1, description="随机种子（同种子同队列）")] = 0,
              ) -> ReviewQueue:
    """The ``top`` flagged cases by money at stake × risk score, then ``sample`` cases drawn at random
    from all other screened cases (随机抽查), as ``drg audit --top --sample --seed`` gives them."""
    principal.require("payer", "auditor")
    with service.db.connect() as conn:
        _visible_run(conn, principal, run_id)
        result = stored_result(conn, run_id)
    queue = review_queue(result, top=top, sample=sample, seed=seed).to_pylist()
    audit(service.db, principal, "read", f"audit-queue:{run_id}?top={top}&sample={sample}&seed={seed}")
    titles = screen_titles()
    entries = [QueueEntry(**{**e, "money_at_stake": _money(e["money_at_stake"])},
                          selection_zh=SELECTION_ZH[e["selection"]],
                          rules_zh="；".join(titles.get(r, r) for r in e["rules"].split("; ") if r)) for e in queue]
    return ReviewQueue(run_id=run_id, top=top, sample=sample, seed=seed, entries=entries)


@lru_cache(maxsize=1)
def screen_titles() -> dict[str, str]:
    """The Chinese title of each bundled audit screen (分解住院, 低标准入院, …), by rule id."""
    return {rule.id: rule.title_zh for rule in load_screens()}


def _aware(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _flag_appeal(conn, principal, run_id: str, flag_id: str, lock: bool = False) -> Appeal:
    """The flag's appeal record (``open`` when none is stored); 404 for an unknown or another hospital's flag."""
    lock_sql = " FOR UPDATE" if lock and conn.dialect == "postgresql" else ""  # one step at a time per flag
    flag = conn.one(f"SELECT hospital_id FROM audit_flags WHERE run_id = ? AND flag_id = ?{lock_sql}",
                    (run_id, flag_id))
    if flag is None:
        raise HTTPException(404, NOT_FOUND)
    principal.check_hospital(flag["hospital_id"])
    row = conn.one("SELECT * FROM appeals WHERE run_id = ? AND flag_id = ?", (run_id, flag_id))
    if row is None:
        run = conn.one("SELECT created_at FROM runs WHERE run_id = ?", (run_id,))
        return open_appeal(flag_id, flag["hospital_id"], at=as_utc(run["created_at"]))
    return Appeal(flag_id=flag_id, hospital_id=row["hospital_id"], status=row["status"], reason=row["reason"],
                  outcome=row["outcome"], opened_at=_aware(row["opened_at"]), appealed_at=_aware(row["appealed_at"]),
                  decided_at=_aware(row["decided_at"]), decided_by=row["decided_by"])


def _appeal_out(run_id: str, appeal: Appeal) -> AppealOut:
    return AppealOut(run_id=run_id, **appeal.to_dict(), allowed=list(appeal.allowed()))


def _check_step(appeal: Appeal, target: str) -> None:
    """409 naming the flag, its state and the steps allowed, when ``target`` cannot be reached from it."""
    if target in appeal.allowed():
        return
    allowed = "、".join(f"{s} {STATUSES[s]}" for s in appeal.allowed()) or "无（已结案）"
    allowed_en = ", ".join(appeal.allowed()) or "none (final)"
    raise HTTPException(409, f"疑点 {appeal.flag_id} 当前为 {appeal.status} {appeal.status_zh}，不能改为 {target} "
                             f"{STATUSES[target]}；可改为：{allowed} (flag {appeal.flag_id} is {appeal.status}: it "
                             f"cannot become {target}; allowed: {allowed_en})")


def _save(conn, run_id: str, appeal: Appeal) -> None:
    values = (appeal.status, appeal.reason, appeal.outcome, appeal.opened_at, appeal.appealed_at, appeal.decided_at,
              appeal.decided_by, utcnow())
    values = tuple(v.replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo else v for v in values)
    if conn.one("SELECT 1 AS x FROM appeals WHERE run_id = ? AND flag_id = ?", (run_id, appeal.flag_id)):
        conn.execute("UPDATE appeals SET status = ?, reason = ?, outcome = ?, opened_at = ?, appealed_at = ?, "
                     "decided_at = ?, decided_by = ?, updated_at = ? WHERE run_id = ? AND flag_id = ?",
                     (*values, run_id, appeal.flag_id))
    else:
        conn.execute("INSERT INTO appeals (status, reason, outcome, opened_at, appealed_at, decided_at, decided_by, "
                     "updated_at, run_id, flag_id, hospital_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (*values, run_id, appeal.flag_id, appeal.hospital_id))


def _step(service, principal, run_id: str, flag_id: str, target: str, change, action: str) -> AppealOut:
    with service.db.connect(write=True) as conn:
        appeal = _flag_appeal(conn, principal, run_id, flag_id, lock=True)
        _check_step(appeal, target)
        try:
            appeal = change(appeal, as_utc(utcnow()))
        except AppealError as exc:
            raise HTTPException(422, f"申诉内容有误 (invalid appeal): {exc}") from None
        _save(conn, run_id, appeal)
    audit(service.db, principal, action, f"appeal:{run_id}/{flag_id}")
    return _appeal_out(run_id, appeal)


@router.post("/flags/{flag_id:path}/appeal", response_model=AppealOut, responses=STEP_ERRORS,
             summary="对疑点申诉 appeal a flag (hospital)")
def appeal_flag(flag_id: FlagId, body: AppealIn, service: ServiceDep, principal: PrincipalDep) -> AppealOut:
    """The hospital appeals one of its own flags with its reason: 待申诉 → 申诉中.  ``flag_id`` is
    percent-encoded in the path (``#`` as ``%23``)."""
    principal.require("hospital")
    return _step(service, principal, body.run_id, flag_id, "appealed",
                 lambda a, now: a.submit(hospital_id=principal.hospital_id, reason=body.reason, at=now), "appeal")


@router.post("/flags/{flag_id:path}/decision", response_model=AppealOut, responses=STEP_ERRORS,
             summary="复议结论 decide a flag (payer)")
def decide_flag(flag_id: FlagId, body: DecisionIn, service: ServiceDep, principal: PrincipalDep) -> AppealOut:
    """The payer decides an appealed (or still open) flag: 维持 upheld or 撤销 withdrawn; final."""
    principal.require("payer")
    return _step(service, principal, body.run_id, flag_id, body.status,
                 lambda a, now: a.decide(status=body.status, outcome=body.outcome, by=principal.key_id, at=now),
                 "decide")


@router.get("/flags/{flag_id:path}/appeal", response_model=AppealOut, responses=ERRORS,
            summary="申诉记录 a flag's appeal")
def get_appeal(flag_id: FlagId, service: ServiceDep, principal: PrincipalDep,
               run_id: Annotated[str, Query(min_length=1, max_length=100, description="审核运行编号")]) -> AppealOut:
    """The flag's appeal state (待申诉 when nothing has happened yet), visible like the flag."""
    with service.db.connect() as conn:
        appeal = _flag_appeal(conn, principal, run_id, flag_id)
    audit(service.db, principal, "read", f"appeal:{run_id}/{flag_id}")
    return _appeal_out(run_id, appeal)


__all__ = ["HISTORY_MONTHS", "history_start", "router", "stored_result"]
