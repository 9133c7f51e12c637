"""病例全流程 (a case's life from upload to payment): the payer reviews and returns cases, runs the month and
year settlements of the case book, records payouts; hospitals read their cases' states and history, deductions,
deadlines and reconciliation.  Every upload is a submission (:func:`api.service.lifecycle_store.submit_upload`).

Who may do what: payer (医保经办) everything; auditor reads everything; hospital (医院) reads its own; coder
(编码员) reads its own cases' states, history and upload and review deadlines (no money, no payment deadlines).  Another hospital's case or figures answer 404.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from api.service.auth import NOT_FOUND
from api.service.db import where_clause
from api.service.deps import PrincipalDep, ServiceDep
from api.service.lifecycle_store import (decided_flags, load_adjustments, load_book, lock_book, returned_cases,
                                         save_adjustments, save_book, today)
from api.service.routers.settlements import SETTLE_INPUT, _ledger_table, _store_run, _stored_ledger
from api.service.schemas import ErrorOut
from api.service.store import audit, new_id
from payment import MoneyRangeError, PaymentInputError, PolicyError, read_scores
from payment.cycle import settle_cycle
from payment.deductions import DeductionError
from payment.ledger import LedgerError
from payment.lifecycle import PAYMENT, SUBMISSION, LifecycleError, month_index
from payment.reconcile import as_yuan, reconcile

def _single_values(request: Request) -> None:
    """A query parameter given twice is refused (422), not silently read as its last value."""
    keys = [k for k, _ in request.query_params.multi_items()]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise HTTPException(422, f"查询参数 {repeated[0][:50]} 重复 (query parameter given more than once)")


router = APIRouter(prefix="/v1/lifecycle", tags=["病例全流程 lifecycle"], dependencies=[Depends(_single_values)])
ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut},
          422: {"model": ErrorOut}, 429: {"model": ErrorOut}}
#: Who reads money (deductions, deadlines of payment, reconciliation); coders do not.
MONEY_READERS = ("hospital", "payer", "auditor")
CASE_READERS = MONEY_READERS + ("coder",)
#: A hospital id holds no control character (a code, not text).
HospitalQuery = Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$",
                                            description="医疗机构（医院账号为本院）")]


class CaseStateOut(BaseModel):
    hospital_id: str
    case_id: str
    version: int
    month: str = Field(description="病案所属月份 (the record's month)")
    submission: str = Field(description="申报状态: " + ", ".join(f"{k} {v}" for k, v in SUBMISSION.items()))
    submission_zh: str
    payment: str = Field(description="支付状态: " + ", ".join(f"{k} {v}" for k, v in PAYMENT.items()))
    payment_zh: str
    period: str = Field(description="结算期间, fixed at acceptance")
    late: bool


class ReviewIn(BaseModel):
    """初审: review the waiting submissions (of one hospital, or the listed cases)."""

    hospital_id: str | None = Field(None, max_length=100)
    case_ids: list[Annotated[str, Field(max_length=300)]] | None = Field(None, max_length=100_000)


class ReturnIn(BaseModel):
    """退回修改: return a waiting case to the hospital with the reason."""

    hospital_id: str = Field(max_length=100)
    case_id: str = Field(max_length=300)
    reason: str = Field(min_length=1, max_length=4000)


class CycleRunIn(BaseModel):
    """结算 of the case book: a month (the cases accepted into it) or a year (every current case of it)."""

    kind: Literal["month", "year"]
    period: str = Field(pattern=r"^\d{4}(-\d{2})?$")
    scores: dict[str, str] | None = Field(None, max_length=100_000)


class AdjustmentOut(BaseModel):
    adjustment_id: str
    kind: str
    kind_zh: str
    hospital_id: str
    case_id: str
    region: str
    insurance_type: str
    amount: Decimal
    sticky: bool
    basis: str
    flag_id: str
    rule_id: str
    appeal_status: str
    reason: str
    outcome: str
    run: str


class CycleRunOut(BaseModel):
    kind: str
    period: str
    run_id: str | None = Field(description="the settlement run (statements, lines); null when the month had no "
                                           "accepted case and closed without one")
    n_cases: int
    applied: list[AdjustmentOut]


class DisburseIn(BaseModel):
    """拨付: the payer paid a run's amount out to these hospitals (today)."""

    run: str = Field(pattern=r"^\d{4}(-\d{2})?$")
    hospital_ids: list[Annotated[str, Field(max_length=100)]] = Field(min_length=1, max_length=10_000)


class HistoryRow(BaseModel):
    seq: int
    on_day: date
    version: int
    dimension: str
    from_state: str
    to_state: str
    from_zh: str = Field(description="the state in Chinese (状态中文)")
    to_zh: str
    period: str
    run: str
    note: str


class Decision(BaseModel):
    flag_id: str
    hospital_id: str
    case_id: str | None
    rule_id: str
    appeal_status: str
    reason: str
    outcome: str
    deduction: str = Field(description="applied 已扣款 / pending 待扣款 / none 不扣款")


class DeductionsOut(BaseModel):
    lines: list[AdjustmentOut]
    decisions: list[Decision]


class DeadlinesOut(BaseModel):
    as_of: date
    upload_day: int
    review_working_days: int
    payment_working_days: int | None = None
    calendar: str
    months: list[dict]
    late_uploads: list[dict]
    overdue_reviews: list[dict]
    overdue_payments: list[dict] = []


class ReconciliationOut(BaseModel):
    rows: list[dict]
    open_items: list[dict]


def _policy(service):
    if not service.engine.can_price:
        raise HTTPException(422, "服务未加载权重表、付费政策或医疗机构表 (the service was started without weights, "
                                 "a policy or a hospital table: drg serve --weights W --policy P)")
    return service.engine.policy


@contextmanager
def _payer_changes(service, principal, keys=None):
    """The payer changes the case book: locked, loaded (only ``keys``, (hospital, case) pairs, when given) and
    saved when the block ends without an error."""
    principal.require("payer")
    policy = _policy(service)
    with service.db.connect(write=True) as conn:
        lock_book(conn)
        book = load_book(conn, policy.lifecycle, keys)
        yield conn, book
        save_book(conn, book)


def _state_out(s) -> CaseStateOut:
    return CaseStateOut(hospital_id=s.hospital_id, case_id=s.case_id, version=s.version, month=s.month,
                        submission=s.submission, submission_zh=SUBMISSION[s.submission], payment=s.payment,
                        payment_zh=PAYMENT.get(s.payment, ""), period=s.period, late=s.late)


def _adjustment_out(a) -> AdjustmentOut:
    return AdjustmentOut(**a.row())


@router.post("/reviews", response_model=list[CaseStateOut], responses=ERRORS, summary="初审 review submissions (payer)")
def review(body: ReviewIn, service: ServiceDep, principal: PrincipalDep) -> list[CaseStateOut]:
    """Review the waiting submissions: a case whose stored findings include a severity the policy names
    (``[lifecycle] return_severities``) is returned (退回修改), the others are accepted and their settlement
    period fixed."""
    with _payer_changes(service, principal) as (conn, book):
        found = conn.rows("SELECT hospital_id, case_id, n_fatal, n_error, n_warning, n_info FROM cases")
        counts = {(r["hospital_id"], r["case_id"]): r for r in found}
        wanted = set(body.case_ids) if body.case_ids is not None else None
        done = []
        for key, s in sorted(book.cases.items()):
            if s.submission not in ("submitted", "resubmitted") or \
                    body.hospital_id is not None and key[0] != body.hospital_id or \
                    wanted is not None and key[1] not in wanted:
                continue
            row = counts.get(key, {})
            severities = [v for v in ("fatal", "error", "warning", "info") if (row.get(f"n_{v}") or 0) > 0]
            done.append(book.review(*key, today(), severities))
    audit(service.db, principal, "lifecycle-review", f"cases:{len(done)}")
    return [_state_out(s) for s in done]


@router.post("/returns", response_model=CaseStateOut, responses=ERRORS, summary="退回修改 return a case (payer)")
def return_case(body: ReturnIn, service: ServiceDep, principal: PrincipalDep) -> CaseStateOut:
    with _payer_changes(service, principal, [(body.hospital_id, body.case_id)]) as (_, book):
        if (body.hospital_id, body.case_id) not in book.cases:
            raise HTTPException(404, NOT_FOUND)
        try:
            state = book.return_case(body.hospital_id, body.case_id, today(), body.reason)
        except LifecycleError as exc:
            raise HTTPException(409, str(exc)) from None
    audit(service.db, principal, "lifecycle-return", f"case:{body.hospital_id}/{body.case_id}")
    return _state_out(state)


@router.post("/runs", response_model=CycleRunOut, status_code=201, responses=ERRORS,
             summary="按病例流程结算 settle a month or year of the case book (payer)")
def start_run(body: CycleRunIn, service: ServiceDep, principal: PrincipalDep) -> CycleRunOut:
    """Settle the cases accepted into a month (or every current case of a year), apply the upheld flags'
    deductions and the recoveries of superseded payments once, record the ledger, statements and lines."""
    principal.require("payer")
    policy, engine = _policy(service), service.engine
    if (body.kind == "month") != (len(body.period) == 7):
        raise HTTPException(422, f"{body.kind} 结算期间应为 {'月份 2024-03' if body.kind == 'month' else '年份 2024'} "
                                 f"(period {body.period!r} does not fit a {body.kind} run)")
    columns = ", ".join(SETTLE_INPUT + ("version",))
    run_id = new_id("settle")
    with service.db.connect(write=True) as conn:
        if conn.dialect == "postgresql":
            conn.execute("SELECT pg_advisory_xact_lock(72012)")
        lock_book(conn)
        book = load_book(conn, policy.lifecycle)
        records = conn.arrow(f"SELECT {columns} FROM cases UNION ALL SELECT {columns} FROM case_history "
                             "ORDER BY hospital_id, case_id, version")
        applied = load_adjustments(conn)
        try:
            scores = read_scores(pd.DataFrame({"hospital_id": list(body.scores), "score": list(body.scores.values())}),
                                 engine.hospitals) if body.scores else None
            done = settle_cycle(book, records, body.kind, body.period, today(), engine.weights, policy,
                                engine.hospitals, _stored_ledger(conn), applied, decided_flags(conn), scores)
        except (LedgerError, DeductionError) as exc:
            raise HTTPException(409, str(exc)) from None
        except (PaymentInputError, PolicyError, MoneyRangeError) as exc:
            raise HTTPException(422, str(exc)) from None
        lines = [a for k, a in done.applied.items() if k not in applied]
        if done.run is not None:
            conn.insert_arrow("ledger", _ledger_table(run_id, done.ledger.rows(body.period)))
            _store_run(conn, run_id, done.run, body, principal, engine, done.run.settlement.cases.n)
            save_adjustments(conn, lines, run_id)
        save_book(conn, book)
    audit(service.db, principal, "lifecycle-run", f"run:{body.period}", 201)
    return CycleRunOut(kind=body.kind, period=body.period, run_id=run_id if done.run is not None else None,
                       n_cases=done.run.settlement.cases.n if done.run is not None else 0,
                       applied=[_adjustment_out(a) for a in lines])


@router.post("/disbursements", response_model=DisburseIn, responses=ERRORS, summary="拨付 record payouts (payer)")
def disburse(body: DisburseIn, service: ServiceDep, principal: PrincipalDep) -> DisburseIn:
    with _payer_changes(service, principal, []) as (conn, book):
        owed = {r["hospital_id"] for r in conn.rows("SELECT DISTINCT hospital_id FROM ledger WHERE run = ?",
                                                    (body.run,))}
        missing = sorted(set(body.hospital_ids) - owed)
        if missing:
            raise HTTPException(422, f"结算期间 {body.run} 没有医疗机构 {missing[0]} 的台账记录 (no ledger entry of "
                                     f"hospital {missing[0]} in run {body.run})")
        for h in body.hospital_ids:
            book.disburse(body.run, h, today())
    audit(service.db, principal, "lifecycle-disburse", f"run:{body.run}")
    return body


@router.get("/cases", response_model=list[CaseStateOut], responses=ERRORS, summary="病例状态 case states")
def list_cases(service: ServiceDep, principal: PrincipalDep, hospital_id: HospitalQuery = None,
               submission: Annotated[str | None, Query(max_length=20, description="e.g. returned 退回修改")] = None,
               payment: Annotated[str | None, Query(max_length=20)] = None,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
               offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> list[CaseStateOut]:
    """Current states by hospital and case; a hospital (or its coders) sees its own, e.g. its returned cases."""
    principal.require(*CASE_READERS)
    hospital_id = principal.hospital_scope(hospital_id)
    where, params = where_clause(("hospital_id = ?", hospital_id), ("submission = ?", submission),
                                 ("payment = ?", payment))
    with service.db.connect() as conn:
        rows = conn.rows(f"SELECT * FROM case_states WHERE {where} "
                         "ORDER BY hospital_id, case_id LIMIT ? OFFSET ?", (*params, limit, offset))
    audit(service.db, principal, "read", f"lifecycle-cases:{hospital_id or '*'}")
    return [CaseStateOut(hospital_id=r["hospital_id"], case_id=r["case_id"], version=r["version"], month=r["month"],
                         submission=r["submission"], submission_zh=SUBMISSION[r["submission"]], payment=r["payment"],
                         payment_zh=PAYMENT.get(r["payment"], ""), period=r["period"], late=bool(r["late"]))
            for r in rows]


@router.get("/cases/{hospital_id}/{case_id:path}/history", response_model=list[HistoryRow], responses=ERRORS,
            summary="病例流程记录 a case's history")
def case_history(hospital_id: Annotated[str, Path(max_length=100)], case_id: Annotated[str, Path(max_length=300)],
                 service: ServiceDep, principal: PrincipalDep) -> list[HistoryRow]:
    principal.require(*CASE_READERS)
    principal.check_hospital(hospital_id)
    with service.db.connect() as conn:
        rows = conn.rows("SELECT * FROM case_events WHERE hospital_id = ? AND case_id = ? ORDER BY seq",
                         (hospital_id, case_id))
    if not rows:
        raise HTTPException(404, NOT_FOUND)
    audit(service.db, principal, "read", f"lifecycle-history:{hospital_id}/{case_id}")
    names = {"submission": SUBMISSION, "payment": PAYMENT}
    return [HistoryRow(**{k: r[k] for k in HistoryRow.model_fields if k in r},
                       from_zh=names.get(r["dimension"], {}).get(r["from_state"], ""),
                       to_zh=names.get(r["dimension"], {}).get(r["to_state"], "")) for r in rows]


@router.get("/deductions", response_model=DeductionsOut, responses=ERRORS, summary="扣款 deductions and recoveries")
def deductions(service: ServiceDep, principal: PrincipalDep, hospital_id: HospitalQuery = None,
               run: Annotated[str | None, Query(pattern=r"^\d{4}(-\d{2})?$")] = None) -> DeductionsOut:
    """The deduction and recovery lines applied (of a run), each beside its flag, appeal and decision; and every
    decided flag with whether it is deducted."""
    principal.require(*MONEY_READERS)
    hospital_id = principal.hospital_scope(hospital_id)
    _policy(service)
    where, params = where_clause(("hospital_id = ?", hospital_id), ("run = ?", run))
    with service.db.connect() as conn:
        lines = load_adjustments(conn, where, params)
        every = load_adjustments(conn, "hospital_id = ?", (hospital_id,)) if hospital_id else load_adjustments(conn)
        flags = decided_flags(conn, hospital_id)
    rules = service.engine.policy.lifecycle.deductions
    decisions = [Decision(flag_id=f["flag_id"], hospital_id=f["hospital_id"], case_id=f["case_id"],
                          rule_id=f["rule_id"], appeal_status=f["status"], reason=f["reason"], outcome=f["outcome"],
                          deduction="applied" if f"deduction:{f['flag_id']}" in every else
                          "pending" if f["status"] == "upheld" and f["rule_id"] in rules and f["case_id"] else "none")
                 for f in flags if f["status"] in ("upheld", "withdrawn")]
    audit(service.db, principal, "read", f"lifecycle-deductions:{hospital_id or '*'}")
    return DeductionsOut(lines=[_adjustment_out(a) for a in lines.values()], decisions=decisions)


@router.get("/deadlines", response_model=DeadlinesOut, responses=ERRORS, summary="申报、审核、拨付时限 deadlines")
def deadlines(service: ServiceDep, principal: PrincipalDep, hospital_id: HospitalQuery = None,
              as_of: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$",
                                                 description="as of this day, YYYY-MM-DD (default today)")] = None
              ) -> DeadlinesOut:
    """The deadlines of the months with cases, and the late uploads, overdue reviews and overdue payments.
    Coders read it without the payment window, payment days and overdue payments
    (:data:`api.service.visibility.PAYMENT_FIELDS`)."""
    principal.require(*CASE_READERS)
    hospital_id = principal.hospital_scope(hospital_id)
    rules = _policy(service).lifecycle
    try:
        as_of = date.fromisoformat(as_of) if as_of else today()
    except ValueError:
        raise HTTPException(422, f"as_of 应为日期 YYYY-MM-DD (not a date: {as_of[:10]!r})") from None
    with service.db.connect() as conn:
        book = load_book(conn, rules)
        owed = {(r["run"], r["hospital_id"]) for r in conn.rows("SELECT DISTINCT run, hospital_id FROM ledger")}
    mine = lambda rows: [r for r in rows if hospital_id is None or r["hospital_id"] == hospital_id]  # noqa: E731
    months = sorted({s.month for s in book.cases.values() if hospital_id is None or s.hospital_id == hospital_id},
                    key=month_index)
    audit(service.db, principal, "read", f"lifecycle-deadlines:{hospital_id or '*'}")
    return DeadlinesOut(
        as_of=as_of, upload_day=rules.upload_day, review_working_days=rules.review_working_days,
        payment_working_days=rules.payment_working_days, calendar=rules.calendar.name,
        months=[{"month": m, "upload_deadline": rules.upload_deadline(m),
                 "review_due": rules.review_due(rules.upload_deadline(m)), "payment_due": rules.payment_due(m),
                 "closed": m in book.closed} for m in months],
        late_uploads=mine(book.late_uploads()), overdue_reviews=mine(book.overdue_reviews(as_of)),
        overdue_payments=mine(book.overdue_payments(as_of, owed)))


@router.get("/reconciliation", response_model=ReconciliationOut, responses=ERRORS,
            summary="对账 reconciliation per hospital × month")
def reconciliation(service: ServiceDep, principal: PrincipalDep,
                   hospital_id: HospitalQuery = None) -> ReconciliationOut:
    """Per hospital and run: cases submitted / late / returned / accepted / refused / settled / deducted and the
    amounts provisional / withheld / deducted / released / due / paid out / open, with the open items."""
    principal.require(*MONEY_READERS)
    hospital_id = principal.hospital_scope(hospital_id)
    rules = _policy(service).lifecycle
    with service.db.connect() as conn:
        book = load_book(conn, rules)
        ledger = _stored_ledger(conn)
        applied = load_adjustments(conn)
        flags = decided_flags(conn)
        returned = returned_cases(conn)
    rows, items = reconcile(book, ledger, applied, flags, returned)
    mine = lambda rows: [r for r in rows if hospital_id is None or r["hospital_id"] == hospital_id]  # noqa: E731
    audit(service.db, principal, "read", f"lifecycle-reconciliation:{hospital_id or '*'}")
    return ReconciliationOut(rows=[{k: str(v) if isinstance(v, Decimal) else v for k, v in r.items()}
                                   for r in as_yuan(mine(rows))], open_items=mine(items))


__all__ = ["router"]
