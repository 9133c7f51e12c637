"""Cases, runs, findings and the audit log in the database.

Uploads are idempotent per (hospital, case_id): storing a case again makes the new record the
current version (``cases``) and moves the one it replaces to ``case_history``, with its version
number, so that a corrected record can be resubmitted and its history followed.  Within one
upload a case listed twice is stored twice, the later row (by row number) becoming current.
Everything moves in columns: one Arrow table per upload, a staging table, and set-based SQL.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.service.auth import Principal
from api.service.db import CASE_COLUMNS, FINDING_COLUMNS, Connection, Database, utcnow
from api.service.engine import Engine
from foundation.arrow_columns import as_text, plain_array
from foundation.text_values import MONEY_TYPE
from icd_tables.intake.bounds import load_bounds
from icd_tables.intake.reader import IntakeBatch
from icd_tables.intake.values import without_unreadable
from payment.engine import CASE_TYPES
from foundation.decimals import units_or_null
from weights import lookup_units

CASE_TYPE_ZH = {name: zh for name, zh in CASE_TYPES.values()}
TEXT_FIELDS = ("patient_id", "insured_region", "out_of_area_unreferred", "principal_dx", "admit_date",
               "discharge_date", "settlement_date", "insurance_type", "dept")
INT_FIELDS = ("age_years", "age_days", "birth_weight_g", "admission_weight_g", "los_days", "discharge_method", "icu_hours")
MONEY_FIELDS = ("total_cost", "drug_cost", "consumables_cost", "self_pay_cost", "patient_paid")
RESULT_TEXT = ("mdc", "adrg", "drg", "drg_name", "status", "status_zh", "reason_code", "reason_detail", "mcc_dx",
               "cc_dx", "warnings", "pack_version")


def data_error_sql(alias: str = "") -> str:
    """SQL that is true for a stored case holding a value outside its plausible range (``bounds.toml``).

    Such a case is listed (counted, its warning kept) but in no sum, mean or payment of a summary.
    """
    prefix = f"{alias}." if alias else ""
    tests = [f"{prefix}{b.field} < {b.min} OR {prefix}{b.field} > {b.max}" for b in load_bounds()
             if b.field in CASE_COLUMNS]
    return f"COALESCE(({' OR '.join(tests)}), FALSE)"


class UploadError(ValueError):
    """An upload that cannot be stored as given (422); the message names the row."""


def new_id(prefix: str) -> str:
    return f"{prefix}-{utcnow():%Y%m%d%H%M%S}-{secrets.token_hex(4)}"


def _text(records: pa.Table, name: str) -> pa.Array:
    """A canonical column as stored text (dates ``YYYY-MM-DD``); null where absent."""
    if name not in records.column_names:
        return pa.nulls(records.num_rows, pa.string())
    return as_text(plain_array(records.column(name)))


def _severity_counts(findings: pa.Table | None, n: int, first_row_no: int) -> dict[str, pa.Array]:
    out = {}
    for severity in ("fatal", "error", "warning", "info"):
        if findings is None:
            out[f"n_{severity}"] = pa.nulls(n, pa.int64())
            continue
        rows = findings.filter(pc.equal(findings.column("severity"), severity)).column("row_no").to_numpy()
        out[f"n_{severity}"] = pa.array(np.bincount(rows - first_row_no, minlength=n).astype(np.int64))
    return out


@dataclass
class Prepared:
    """An upload ready to store: the case rows (``CASE_COLUMNS`` less ``version``) and its findings."""

    cases: pa.Table
    findings: pa.Table | None
    results: pa.Table


def prepare(engine: Engine, read: IntakeBatch, principal: Principal, run_id: str, *, validate: bool) -> Prepared:
    """Group (and validate, and price) a batch the intake read and lay it out as stored rows.

    Scoped callers may only upload their own hospital's records: an empty ``hospital_id`` becomes
    theirs, another hospital's is refused naming the row.  Payer uploads need a hospital per row.
    """
    records, first_row_no = read.records, read.first_row_no
    n = records.num_rows
    hospital = _text(records, "hospital_id")
    hospital = pc.utf8_trim_whitespace(hospital)
    empty = pc.fill_null(pc.equal(hospital, ""), True)
    if principal.scoped:
        other = pc.and_(pc.invert(empty), pc.not_equal(hospital, principal.hospital_id))
        bad = np.flatnonzero(pc.fill_null(other, False).to_numpy(zero_copy_only=False))
        if len(bad):
            raise UploadError(f"第 {bad[0] + first_row_no} 行的医疗机构编码 {hospital[bad[0]].as_py()} 不是本院 "
                              f"{principal.hospital_id} (row {bad[0] + first_row_no}: hospital_id "
                              f"{hospital[bad[0]].as_py()} is not yours); upload only your own cases")
        hospital = pc.if_else(empty, principal.hospital_id, hospital)
    else:
        bad = np.flatnonzero(empty.to_numpy(zero_copy_only=False))
        if len(bad):
            raise UploadError(f"第 {bad[0] + first_row_no} 行缺少医疗机构编码 (row {bad[0] + first_row_no}: "
                              "hospital_id is empty); a payer upload names the hospital of every case")
    case_id = _text(records, "case_id")
    missing_id = np.flatnonzero(pc.fill_null(pc.equal(pc.utf8_trim_whitespace(case_id), ""), True)
                                .to_numpy(zero_copy_only=False))
    if len(missing_id):
        raise UploadError(f"第 {missing_id[0] + first_row_no} 行病案号为空 (row {missing_id[0] + first_row_no}: "
                          "case_id is empty); every stored case needs its case_id")
    records = records.set_column(records.column_names.index("hospital_id"), "hospital_id", hospital) \
        if "hospital_id" in records.column_names else records.append_column("hospital_id", hospital)
    findings = None
    if validate:  # the validation's grouping is the grouper's (audit.validate): the records are grouped once
        validation = engine.validator.validate(records, first_row_no=first_row_no)
        findings, results = validation.findings, validation.results
    else:
        results = engine.grouper.group_arrow(without_unreadable(records), first_row_no=first_row_no)
    results = results.append_column("warnings", read.warnings)
    get = lambda c: records.column(c) if c in records.column_names else None  # noqa: E731
    columns: dict[str, pa.Array] = {
        "hospital_id": hospital, "case_id": case_id, "run_id": pa.repeat(pa.scalar(run_id), n),
        "row_no": results.column("row_no").cast(pa.int64()),
    }
    date_column = engine.policy.period_by if engine.policy else "discharge_date"
    dated = _text(records, date_column)
    if engine.policy is not None and engine.policy.interim_months is not None:
        dated = pc.coalesce(dated, _text(records, "settlement_date"))  # 中途结算: dated by its settlement
    columns["month"] = pc.utf8_slice_codeunits(dated, 0, 7)
    for name in TEXT_FIELDS + ("sex", "secondary_dx", "procedures"):
        columns[name] = _text(records, name)
    for name in INT_FIELDS:
        columns[name] = get(name).cast(pa.int64()) if get(name) is not None else pa.nulls(n, pa.int64())
    for name in MONEY_FIELDS:
        columns[name] = get(name).cast(MONEY_TYPE) if get(name) is not None else pa.nulls(n, MONEY_TYPE)
    for name in RESULT_TEXT:
        columns[name] = plain_array(results.column(name)).cast(pa.string())
    ok = pc.equal(results.column("status"), "ok").to_numpy(zero_copy_only=False)
    if engine.weights is not None:
        units = np.where(ok, lookup_units(columns["drg"].to_numpy(zero_copy_only=False), engine.weights), -1)
        columns["rw"] = units_or_null(units, 6)
    else:
        columns["rw"] = pa.nulls(n, pa.decimal128(18, 6))
    priced = engine.price(pa.table(columns)) if engine.can_price else None
    if priced is not None:
        columns["case_type"] = pa.array([t or None for t in priced.case_type], pa.string())
        columns["expected_standard"] = units_or_null(priced.standard_fen, 2)
        columns["expected_fund"] = units_or_null(priced.fund_fen, 2)
    else:
        columns["case_type"] = pa.nulls(n, pa.string())
        columns["expected_standard"] = pa.nulls(n, pa.decimal128(18, 2))
        columns["expected_fund"] = pa.nulls(n, pa.decimal128(18, 2))
    columns.update(_severity_counts(findings, n, first_row_no))
    now = utcnow()
    columns["uploaded_at"] = pa.repeat(pa.scalar(now, pa.timestamp("us")), n)
    columns["uploaded_by"] = pa.repeat(pa.scalar(principal.key_id), n)
    table = pa.table({name: columns[name] for name in CASE_COLUMNS if name != "version"})
    _refuse_nul(table, first_row_no)
    if findings is not None:
        index = pa.array(findings.column("row_no").to_numpy() - first_row_no)
        findings = pa.table({"hospital_id": hospital.take(index), "case_id": case_id.take(index),
                             "row_no": findings.column("row_no").cast(pa.int64()),
                             **{name: plain_array(findings.column(name)).cast(pa.string())
                                for name in FINDING_COLUMNS if name not in ("hospital_id", "case_id", "version",
                                                                            "row_no")}})
    return Prepared(table, findings, results)


def _refuse_nul(table: pa.Table, first_row_no: int) -> None:
    """A NUL character cannot be stored (PostgreSQL text refuses it): the first row holding one is refused."""
    for name in table.column_names:
        column = table.column(name)
        if not pa.types.is_string(column.type) or not any(
                chunk.buffers()[2] is not None and not np.frombuffer(chunk.buffers()[2], np.uint8).all()
                for chunk in column.chunks):  # no zero byte in the values: nothing to look for row by row
            continue
        hit = np.flatnonzero(pc.fill_null(pc.match_substring(column, "\x00"), False).to_numpy(zero_copy_only=False))
        if len(hit):
            row = hit[0] + first_row_no
            raise UploadError(f"第 {row} 行 {name} 含 NUL 字符 (row {row}: {name} holds a NUL character)")


#: Temporary table of an upload batch's distinct (hospital_id, case_id) keys, each with its position ``k``.
UPLOAD_KEYS = "upload_keys"
KEY_COLUMNS = {"hospital_id": "TEXT", "case_id": "TEXT", "k": "BIGINT"}
HISTORY_COLUMNS = {**CASE_COLUMNS, "superseded_at": "TIMESTAMP"}
#: PostgreSQL's memory for the join of a batch's keys to ``cases`` (its default of 4 MB spills a million
#: keys to disk); set for the upload's transaction only.
JOIN_WORK_MEM = "256MB"


#: First key of the advisory locks that serialise the writers of one hospital's cases (PostgreSQL).
CASE_LOCK = 72012


def lock_hospitals(conn: Connection, hospitals: pa.ChunkedArray) -> None:
    """Serialise writers per hospital until the transaction ends (versions are read, then written).

    DuckDB already has one writer at a time; on PostgreSQL two uploads of the same case ids would
    both read version n and both write n + 1.  Locks are taken in sorted order; a payer upload whose
    later batches name other hospitals may still meet another upload in a deadlock, which PostgreSQL
    breaks by failing one of them: that one answers 409 (retry), nothing of it stored.
    """
    if conn.dialect != "postgresql":
        return
    for hospital in sorted(pc.unique(hospitals).to_pylist()):
        conn.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", (CASE_LOCK, hospital))


def _key_ids(hospital: pa.ChunkedArray, case_id: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, one integer per distinct (hospital_id, case_id) pair; and per pair, its first row."""
    codes = []
    for column in (hospital, case_id):
        encoded = pc.dictionary_encode(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
        codes.append((encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), len(encoded.dictionary)))
    (h, _), (c, n_cases) = codes
    _, first, ids = np.unique(h * max(n_cases, 1) + c, return_index=True, return_inverse=True)
    return ids.ravel(), first


def _stored_versions(conn: Connection, keys: pa.Table, now: datetime) -> np.ndarray:
    """Per distinct key (the rows of ``keys``): the version in ``cases``, 0 when none.

    The keys stay in :data:`UPLOAD_KEYS` for the statements that follow.  On PostgreSQL the one join of
    the keys to ``cases`` also moves the stored versions to ``case_history`` (deleted from ``cases``, their
    successors are appended with the upload's new cases); DuckDB reads the keys' versions only and
    :func:`_replace_in_place` moves them.
    """
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {UPLOAD_KEYS} (hospital_id TEXT, case_id TEXT, k BIGINT)")
    conn.execute(f"TRUNCATE {UPLOAD_KEYS}")  # one upload stores several batches in one transaction
    conn.insert_arrow(UPLOAD_KEYS, keys.append_column("k", pa.array(np.arange(keys.num_rows))), KEY_COLUMNS)
    match = "c.hospital_id = u.hospital_id AND c.case_id = u.case_id"
    if conn.dialect == "postgresql":
        conn.execute(f"ANALYZE {UPLOAD_KEYS}")  # a temporary table has no statistics until analysed
        conn.execute(f"SET LOCAL work_mem = '{JOIN_WORK_MEM}'")
        names = ", ".join(CASE_COLUMNS)
        query = (f"WITH moved AS (DELETE FROM cases c USING {UPLOAD_KEYS} u WHERE {match} RETURNING c.*, u.k), "
                 f"kept AS (INSERT INTO case_history ({names}, superseded_at) SELECT {names}, "
                 f"TIMESTAMP '{now.isoformat(sep=' ')}' FROM moved) SELECT k, version FROM moved")
    else:
        query = f"SELECT u.k, c.version FROM {UPLOAD_KEYS} u JOIN cases c ON {match}"
    at, version = conn.integers(query, 2)
    versions = np.zeros(keys.num_rows, dtype=np.int64)
    versions[at] = version
    return versions


def _replace_in_place(conn: Connection, replacing: pa.Table, now: datetime) -> None:
    """DuckDB: copy the stored versions of the keys to ``case_history`` and write ``replacing`` over them.

    Updated, not deleted and inserted: a deleted row leaves DuckDB's key index one row at a time when
    the transaction commits (about a minute for a million rows), an updated row of the same key stays.
    """
    names = ", ".join(CASE_COLUMNS)
    match = "c.hospital_id = u.hospital_id AND c.case_id = u.case_id"
    conn.execute(f"INSERT INTO case_history ({names}, superseded_at) SELECT {names}, ? FROM cases c "
                 f"WHERE EXISTS (SELECT 1 FROM {UPLOAD_KEYS} u WHERE {match})", (now,))
    values = ", ".join(f"{name} = u.{name}" for name in CASE_COLUMNS if name not in KEY_COLUMNS)
    with conn.view(replacing) as view:
        conn.execute(f"UPDATE cases c SET {values} FROM {view} u WHERE {match}")


def store(conn: Connection, prepared: Prepared) -> dict:
    """Insert an upload's cases (replacing current versions, keeping history) and findings; counts.

    Versions come from the keys of ``cases`` (:func:`_stored_versions`): a case's rows in this upload, by
    row number, get the stored version + 1, + 2 …; the last becomes current, earlier ones go straight to
    ``case_history``, as does the current version they replace (its findings are removed).
    """
    now = utcnow()
    cases = prepared.cases
    lock_hospitals(conn, cases.column("hospital_id"))
    key, first = _key_ids(cases.column("hospital_id"), cases.column("case_id"))
    keys = cases.select(["hospital_id", "case_id"]).take(pa.array(first))
    stored = _stored_versions(conn, keys, now)
    row_no = cases.column("row_no").to_numpy()
    order = np.lexsort((row_no, key))
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    rank = np.empty(len(key), dtype=np.int64)  # 1 for a case's first row in the upload, 2 for its second …
    rank[order] = np.arange(len(key)) - np.repeat(starts, np.diff(np.r_[starts, len(key)]))
    rank += 1
    count = np.bincount(key, minlength=len(first))
    version = stored[key] + rank
    current = rank == count[key]
    replaced = int((stored > 0).sum())
    rows = cases.add_column(list(CASE_COLUMNS).index("version"), "version", pa.array(version))
    appended = current
    if replaced:
        if conn.dialect == "duckdb":
            in_place = current & (stored[key] > 0)
            _replace_in_place(conn, rows.filter(pa.array(in_place)), now)
            appended = current & ~in_place
        conn.execute(f"DELETE FROM findings WHERE EXISTS (SELECT 1 FROM {UPLOAD_KEYS} u "
                     "WHERE u.hospital_id = findings.hospital_id AND u.case_id = findings.case_id)")
    conn.insert_arrow("cases", rows if appended.all() else rows.filter(pa.array(appended)), CASE_COLUMNS)
    repeated = int((~current).sum())
    if repeated:
        earlier = rows.filter(pa.array(~current))
        conn.insert_arrow("case_history", earlier.append_column(
            "superseded_at", pa.repeat(pa.scalar(now, pa.timestamp("us")), repeated)), HISTORY_COLUMNS)
    findings = prepared.findings
    if findings is not None and findings.num_rows:
        at = np.searchsorted(row_no, findings.column("row_no").to_numpy()) if len(row_no) else np.zeros(0, np.int64)
        if np.any(row_no[np.minimum(at, len(row_no) - 1)] != findings.column("row_no").to_numpy()):
            raise ValueError("a finding's row_no is not a row of the upload batch")
        keep = current[at]
        findings = findings.add_column(list(FINDING_COLUMNS).index("version"), "version", pa.array(version[at]))
        conn.insert_arrow("findings", findings if keep.all() else findings.filter(pa.array(keep)), FINDING_COLUMNS)
    return {"stored": cases.num_rows - repeated, "replaced": replaced, "repeated_in_upload": repeated}


def fingerprint(table: pa.Table) -> str:
    """SHA-256 over an upload's Arrow buffers (column names, types and values)."""
    digest = hashlib.sha256()
    digest.update(str(table.schema).encode())
    for column in table.columns:
        for chunk in column.chunks:
            for buf in chunk.buffers():
                if buf is not None:
                    digest.update(buf)
    return digest.hexdigest()


def record_run(conn: Connection, run_id: str, kind: str, principal: Principal, engine: Engine, *,
               input_sha256: str, n_records: int, status: str = "done", period: str | None = None,
               hospital_id: str | None = None, detail: dict | None = None) -> None:
    """One row in ``runs``: what was run, with which pack, weights and policy, on what input, by whom, when."""
    now = utcnow()
    conn.execute("INSERT INTO runs (run_id, kind, hospital_id, period, pack_version, weights_version, policy_version, "
                 "input_sha256, n_records, status, detail, created_by, created_at, finished_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (run_id, kind, hospital_id, period, engine.pack_version, engine.weights_version,
                  engine.policy_version, input_sha256, n_records, status,
                  json.dumps(detail or {}, ensure_ascii=False, sort_keys=True), principal.key_id, now,
                  now if status == "done" else None))


def audit(db: Database, principal: Principal | None, action: str, obj: str, status: int = 200) -> None:
    """Append one line to the audit log (never updated or deleted)."""
    with db.connect() as conn:
        conn.execute("INSERT INTO audit_log (logged_at, key_id, role, hospital_id, action, object, status) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (utcnow(), principal.key_id if principal else None, principal.role if principal else None,
                      principal.hospital_id if principal else None, action, obj, status))


__all__ = ["CASE_TYPE_ZH", "data_error_sql", "Prepared", "UploadError", "audit", "fingerprint", "new_id", "prepare", "record_run",
           "store"]
