"""医院视图 (hospital views): cases by period, DRG, status and department; one case with its history;
the month's summary (CMI, indices, payment vs cost per DRG, validation findings)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.service.auth import NOT_FOUND
from api.service.db import where_clause
from api.service.deps import PrincipalDep, ServiceDep
from api.service.schemas import CaseDetail, CasePage, ErrorOut, HospitalRank, RecordIn, Summary, as_utc
from api.service.single import explain as explain_record
from api.service.store import audit, data_error_sql
from calibration.indices import performance_indices
from payment.expected import FORECAST_LABEL, reference_point_value_text
from payment.inputs import DATA_ERROR, REJECT_REASONS

router = APIRouter(prefix="/v1/hospitals", tags=["医院 hospitals"])
ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}, 422: {"model": ErrorOut},
          429: {"model": ErrorOut}}
Period = Annotated[str | None, Query(pattern=r"^\d{4}(-\d{2})?$", description="期间 2024 或 2024-03（按结算期间依据日期）")]
LIST_COLUMNS = ("hospital_id", "case_id", "version", "run_id", "month", "drg", "drg_name", "status", "status_zh",
                "dept", "total_cost", "rw", "reason_detail", "expected_fund", "uploaded_at")
#: Columns read for the indices (calibration.indices.performance_indices).
INDEX_INPUT = ("hospital_id", "dept", "discharge_date", "drg", "status", "total_cost", "los_days",
               "discharge_method", "drug_cost", "consumables_cost", "self_pay_cost")


def period_filter(period: str | None, column: str = "month") -> tuple[str, tuple]:
    """SQL condition and parameters selecting a month or a year of ``column`` (YYYY-MM text)."""
    if period is None:
        return "TRUE", ()
    if len(period) == 4:
        return f"{column} LIKE ?", (f"{period}-%",)
    return f"{column} = ?", (period,)


def _text(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return value


def _row(row: dict) -> dict:
    return {k: _text(v) for k, v in row.items()}


def _visible(principal, hospital_id: str) -> None:
    principal.check_hospital(hospital_id)


@router.get("/{hospital_id}/cases", response_model=CasePage, responses=ERRORS, summary="病例列表 cases")
def list_cases(hospital_id: str, service: ServiceDep, principal: PrincipalDep, period: Period = None,
               drg: Annotated[str | None, Query(max_length=20, description="DRG组")] = None,
               status: Annotated[str | None, Query(pattern="^(ok|qy|ungroupable|invalid)$", description="分组状态")] = None,
               dept: Annotated[str | None, Query(max_length=100, description="科室")] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
               ) -> CasePage:
    """A hospital's current cases (latest version of each), newest upload first."""
    _visible(principal, hospital_id)
    where, params = period_filter(period)
    chosen, values = where_clause(("hospital_id = ?", hospital_id), ("drg = ?", drg), ("status = ?", status),
                                  ("dept = ?", dept))
    sql_where, values = f"{where} AND {chosen}", [*params, *values]
    with service.db.connect() as conn:
        total = conn.one(f"SELECT COUNT(*) AS n FROM cases WHERE {sql_where}", tuple(values))["n"]
        rows = conn.rows(f"SELECT {', '.join(LIST_COLUMNS)} FROM cases WHERE {sql_where} "
                         "ORDER BY uploaded_at DESC, case_id LIMIT ? OFFSET ?", (*values, limit, offset))
    audit(service.db, principal, "read", f"cases:{hospital_id}?period={period or ''}")
    return CasePage(total=total, offset=offset, limit=limit, cases=[_row(r) for r in rows])


@router.get("/{hospital_id}/cases/{case_id:path}", response_model=CaseDetail, responses=ERRORS,
            summary="病例详情与历史版本 one case, its findings and history")
def get_case(hospital_id: str, case_id: str, service: ServiceDep, principal: PrincipalDep,
             explain: Annotated[bool, Query(description="同时给出分组解释与替代编码方案（重新质控当前版本） "
                                                       "(explanation and what-if alternatives)")] = False
             ) -> CaseDetail:
    """The current version of a case with its findings and earlier versions; with ``explain`` also the
    grouping path, the MCC/CC behind the DRG and the what-if alternatives (the current version validated anew)."""
    _visible(principal, hospital_id)
    with service.db.connect() as conn:
        case = conn.one("SELECT * FROM cases WHERE hospital_id = ? AND case_id = ?", (hospital_id, case_id))
        if case is None:
            raise HTTPException(404, NOT_FOUND)
        findings = conn.rows("SELECT rule_id, severity, field, value, message_zh, message_en, suggestion FROM findings "
                             "WHERE hospital_id = ? AND case_id = ? AND version = ? ORDER BY row_no, severity, rule_id",
                             (hospital_id, case_id, case["version"]))
        versions = conn.rows("SELECT version, run_id, drg, status, total_cost, uploaded_at, uploaded_by, superseded_at "
                             "FROM case_history WHERE hospital_id = ? AND case_id = ? ORDER BY version DESC",
                             (hospital_id, case_id))
    audit(service.db, principal, "read", f"case:{hospital_id}/{case_id}")
    explanation = alternatives = None
    if explain:
        record = {k: _text(case[k]) for k in RecordIn.model_fields if case.get(k) is not None}
        _, explanation, alternatives = explain_record(service, record)
    return CaseDetail(case=_row(case), findings=[{k: v or "" for k, v in f.items()} for f in findings],
                      versions=[_row(v) for v in versions], explanation=explanation, alternatives=alternatives)


def hospital_indices(conn, engine, where: str, params: tuple) -> dict[str, dict]:
    """The performance indices of every hospital over the cases ``where`` selects (all hospitals of the
    period are the reference), by hospital; none without a weight table.  Data-error cases are left out."""
    if engine.weights is None:
        return {}
    region = conn.arrow(f"SELECT {', '.join(INDEX_INPUT)} FROM cases WHERE {where} AND NOT {data_error_sql()} "
                        "ORDER BY hospital_id, case_id", params)
    if not region.num_rows:
        return {}
    rows = performance_indices(region, engine.weights, levels=("hospital",)).table.to_pylist()
    return {r["hospital_id"]: r for r in rows}


def rule_title(service, rule_id: str) -> str:
    """The rule's Chinese title (the rule book's ``title_zh``), or its id for a rule the book lacks."""
    try:
        return service.engine.validator.rules.rule(rule_id).title_zh
    except KeyError:
        return rule_id


def _number(value) -> float | None:
    return None if value is None or value != value else float(value)


@router.get("", response_model=list[HospitalRank], responses=ERRORS,
            summary="医院排名：CMI、费用消耗指数、疑点 hospitals ranked (payer, auditor)")
def rank_hospitals(service: ServiceDep, principal: PrincipalDep,
                   period: Annotated[str, Query(pattern=r"^\d{4}(-\d{2})?$", description="期间 2024 或 2024-03")]
                   ) -> list[HospitalRank]:
    """Every hospital with cases in the period: case count, CMI, cost and time indices (against all hospitals
    of the period) and the flags of the period's latest audit run; by CMI, highest first."""
    principal.require("payer", "auditor")
    where, params = period_filter(period)
    with service.db.connect() as conn:
        counts = conn.rows(f"SELECT hospital_id, COUNT(*) AS n FROM cases WHERE {where} GROUP BY hospital_id", params)
        indices = hospital_indices(conn, service.engine, where, params) if counts else {}
        run = conn.one("SELECT run_id FROM runs WHERE kind = 'audit' AND period LIKE ? AND status = 'done' "
                       "ORDER BY created_at DESC, run_id DESC LIMIT 1", (f"{period}%",))
        flags = {r["hospital_id"]: r["n"] for r in conn.rows(
            "SELECT hospital_id, COUNT(*) AS n FROM audit_flags WHERE run_id = ? GROUP BY hospital_id",
            (run["run_id"],))} if run else {}
    out = []
    for row in counts:
        h, mine = row["hospital_id"], indices.get(row["hospital_id"], {})
        out.append(HospitalRank(hospital_id=h, n_cases=row["n"], cmi=_number(mine.get("cmi")),
                                cost_index=_number(mine.get("cost_index")), time_index=_number(mine.get("time_index")),
                                grouping_rate=_number(mine.get("grouping_rate")),
                                n_flags=flags.get(h, 0) if run else None, audit_run=run["run_id"] if run else None))
    audit(service.db, principal, "read", f"hospitals?period={period}")
    return sorted(out, key=lambda r: (r.cmi is None, -(r.cmi or 0), r.hospital_id))


def _latest_run(conn, hospital_id: str, period: str | None) -> str | None:
    if period is None:
        return None
    row = conn.one("SELECT r.run_id FROM runs r JOIN settlement_statements s ON s.run_id = r.run_id "
                   "WHERE r.kind LIKE 'settle-%' AND r.period = ? AND s.hospital_id = ? AND r.status = 'done' "
                   "ORDER BY r.created_at DESC, r.run_id DESC LIMIT 1", (period, hospital_id))
    return row["run_id"] if row else None


@router.get("/{hospital_id}/summary", response_model=Summary, responses=ERRORS,
            summary="医院汇总：CMI、指标、支付与费用 hospital summary")
def summary(hospital_id: str, service: ServiceDep, principal: PrincipalDep, period: Period = None) -> Summary:
    """A hospital's period: cases by status, CMI and the performance indices (against all hospitals of
    the period), payment vs cost per DRG (the latest settlement run of the period, else the expected
    payments), and validation findings.  A case holding a value no stay can have (``data_errors``) counts
    among the cases and in no sum, index or payment."""
    _visible(principal, hospital_id)
    engine = service.engine
    where, params = period_filter(period)
    with service.db.connect() as conn:
        statuses = conn.rows(f"SELECT status, COUNT(*) AS n FROM cases WHERE {where} AND hospital_id = ? "
                             "GROUP BY status ORDER BY status", (*params, hospital_id))
        error = data_error_sql()
        total = conn.one(f"SELECT COUNT(*) AS n, SUM(CASE WHEN {error} THEN NULL ELSE total_cost END) AS cost, "
                         f"SUM(CASE WHEN {error} THEN 1 ELSE 0 END) AS data_errors FROM cases WHERE {where} AND "
                         "hospital_id = ?", (*params, hospital_id))
        run_id = _latest_run(conn, hospital_id, period)
        if run_id:
            drgs = conn.rows("SELECT drg, COUNT(*) AS n_cases, SUM(total_cost) AS total_cost, SUM(standard) AS payment, "
                             "SUM(fund_payment) AS fund, MAX(rw) AS rw FROM settlement_lines WHERE run_id = ? AND "
                             "hospital_id = ? AND COALESCE(note, '') <> ? GROUP BY drg ORDER BY drg",
                             (run_id, hospital_id, REJECT_REASONS[DATA_ERROR]))
        else:
            drgs = conn.rows(f"SELECT drg, COUNT(*) AS n_cases, SUM(total_cost) AS total_cost, "
                             f"SUM(expected_standard) AS payment, SUM(expected_fund) AS fund, MAX(rw) AS rw FROM cases "
                             f"WHERE {where} AND hospital_id = ? AND NOT {error} GROUP BY drg ORDER BY drg",
                             (*params, hospital_id))
        severity = conn.rows(f"SELECT severity, COUNT(*) AS n FROM findings f JOIN cases c ON c.hospital_id = "
                             f"f.hospital_id AND c.case_id = f.case_id AND c.version = f.version WHERE {where} AND "
                             "c.hospital_id = ? GROUP BY severity ORDER BY severity", (*params, hospital_id))
        rules = conn.rows(f"SELECT rule_id, severity, COUNT(*) AS n FROM findings f JOIN cases c ON c.hospital_id = "
                          f"f.hospital_id AND c.case_id = f.case_id AND c.version = f.version WHERE {where} AND "
                          "c.hospital_id = ? GROUP BY rule_id, severity ORDER BY n DESC, rule_id LIMIT 10",
                          (*params, hospital_id))
        region = hospital_indices(conn, engine, where, params) if total["n"] else {}
    indices, cmi, weight = {}, None, None
    mine = region.get(hospital_id)
    if mine:
        indices = {k: _text(v) for k, v in mine.items() if k not in ("level", "dept", "month", "hospital_id")}
        cmi = mine["cmi"] if mine["cmi"] == mine["cmi"] else None
        weight = str(mine["total_weight"])
    names = service.fast.names
    lines = [{"drg": d["drg"] or "", "drg_name": names.get(d["drg"], ""), "n_cases": d["n_cases"],
              "rw": _text(d["rw"]), "total_cost": str(d["total_cost"] or Decimal("0.00")),
              "payment": _text(d["payment"])} for d in drgs]
    payments = [d["payment"] for d in drgs if d["payment"] is not None]
    funds = [d["fund"] for d in drgs if d["fund"] is not None]
    paid, fund = sum(payments, Decimal("0.00")), sum(funds, Decimal("0.00"))
    audit(service.db, principal, "read", f"summary:{hospital_id}?period={period or ''}")
    return Summary(hospital_id=hospital_id, period=period, n_cases=total["n"], data_errors=total["data_errors"] or 0,
                   by_status={r["status"]: r["n"] for r in statuses}, cmi=cmi, total_weight=weight,
                   indices=json.loads(json.dumps(indices, default=str)),
                   total_cost=str(total["cost"] or Decimal("0.00")),
                   payment=str(paid) if payments else None,
                   payment_source="settlement" if run_id else ("expected" if payments else "none"),
                   payment_label=("结算结果 settled" if run_id else FORECAST_LABEL) if payments else "",
                   fund_payment=str(fund) if funds else None,
                   patient_share=str(paid - fund) if payments and funds else None,
                   point_value=None if run_id or not payments else
                   reference_point_value_text(engine.policy, engine.weights) or None,
                   settlement_run=run_id, drgs=lines,
                   findings_by_severity={r["severity"]: r["n"] for r in severity},
                   top_rules=[{**r, "title_zh": rule_title(service, r["rule_id"])} for r in rules])
