"""The case book (:class:`payment.lifecycle.CaseBook`) and the applied deduction lines in the service's database.

A request loads the part of the book it needs (the cases it touches, or all of them for a run or a
reconciliation), changes it in memory with :mod:`payment.lifecycle`, and writes back what changed in the
same transaction: the changed cases' states and payments, the new history rows, and the small tables
(runs, payouts, recoveries).  PostgreSQL writers take an advisory lock so that two requests never change
the book at once; DuckDB serialises writers itself.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from api.service.db import LIFECYCLE_TABLES, Connection
from foundation.decimals import yuan
from payment.deductions import Adjustment
from payment.ledger import ledger_from_rows, run_order
from payment.reconcile import as_yuan, reconcile
from payment.lifecycle import LATE_NOTE, REFUSED_NOTE, CaseBook, CaseState, LifecycleRules, Payment

#: PostgreSQL advisory lock key of the case book (the ledger's is 72012).
BOOK_LOCK = 72013
MONEY = pa.decimal128(18, 2)


def today() -> date:
    """The service's day (UTC); tests replace it to play a quarter on chosen days."""
    return datetime.now(timezone.utc).date()


def _fen(value) -> int:
    return int(Decimal(value).scaleb(2))


def _stage_keys(conn: Connection, keys) -> None:
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS lifecycle_keys (hospital_id TEXT, case_id TEXT)")
    conn.execute("DELETE FROM lifecycle_keys")
    keys = sorted(set(keys))
    conn.insert_arrow("lifecycle_keys", pa.table({"hospital_id": pa.array([k[0] for k in keys], pa.string()),
                                                  "case_id": pa.array([k[1] for k in keys], pa.string())}))


def _of_keys(table: str) -> str:
    return (f"SELECT t.* FROM {table} t WHERE EXISTS (SELECT 1 FROM lifecycle_keys k WHERE "
            "k.hospital_id = t.hospital_id AND k.case_id = t.case_id)")


def lock_book(conn: Connection, shared: bool = False) -> None:
    """Uploads take the book's lock shared (each changes only its own hospitals' cases, already serialised per
    hospital by the store); the payer's reviews, returns, runs and payouts take it alone."""
    if conn.dialect == "postgresql":
        conn.execute(f"SELECT pg_advisory_xact_lock{'_shared' if shared else ''}(?)", (BOOK_LOCK,))


def _seqs(conn: Connection, n: int) -> list[int]:
    """``n`` new history numbers, rising (from a sequence: concurrent uploads never take the same one)."""
    if not n:
        return []
    source = "generate_series(1, ?)" if conn.dialect == "postgresql" else "range(?)"
    return sorted(r["s"] for r in conn.rows(f"SELECT nextval('case_events_seq') AS s FROM {source}", (n,)))


def load_book(conn: Connection, rules: LifecycleRules, keys=None) -> CaseBook:
    """The case book: every case, or only ``keys`` ((hospital, case) pairs), with the runs, payouts, recoveries."""
    book = CaseBook(rules)
    if keys is not None:
        _stage_keys(conn, keys)
    states = conn.rows(_of_keys("case_states") if keys is not None else "SELECT * FROM case_states")
    payments = conn.rows(_of_keys("case_payments") if keys is not None else "SELECT * FROM case_payments")
    for r in states:
        book.cases[(r["hospital_id"], r["case_id"])] = CaseState(
            r["hospital_id"], r["case_id"], r["month"], int(r["version"]), int(r["accepted_version"]), r["submission"],
            r["payment"], r["period"], r["submitted_on"], r["first_submitted_on"], bool(r["late"]),
            bool(r["correction"]))
    for r in sorted(payments, key=lambda r: (r["version"], run_order(r["run"]))):
        book.cases[(r["hospital_id"], r["case_id"])].paid.setdefault(int(r["version"]), []).append(
            Payment(r["run"], r["region"], r["insurance_type"], _fen(r["standard"]), _fen(r["fund"])))
    for r in conn.rows("SELECT * FROM lifecycle_runs"):
        if r["kind"] == "month":
            book.closed[r["run"]] = r["on_day"]
        else:
            book.cleared[int(r["run"])] = r["on_day"]
    book.disbursed = {(r["run"], r["hospital_id"]): r["on_day"] for r in conn.rows("SELECT * FROM disbursements")}
    book.recoveries = [{"hospital_id": r["hospital_id"], "case_id": r["case_id"], "version": int(r["version"]),
                        "payment": Payment(r["run"], r["region"], r["insurance_type"], _fen(r["standard"]),
                                           _fen(r["fund"])), "sticky": bool(r["sticky"]), "accepted_on": r["accepted_on"]}
                       for r in sorted(conn.rows("SELECT * FROM recoveries"),
                                       key=lambda r: (r["hospital_id"], r["case_id"], r["version"]))]
    return book


def _table(name: str, rows: list[dict]) -> pa.Table:
    columns = LIFECYCLE_TABLES[name][0]
    types = {"DATE": pa.date32(), "BIGINT": pa.int64(), "BOOLEAN": pa.bool_()}
    return pa.table({c: pa.array([r[c] for r in rows], MONEY if kind.startswith("DECIMAL") else
                                 types.get(kind.split()[0], pa.string())) for c, kind in columns.items()})


def save_book(conn: Connection, book: CaseBook, whole: bool = True) -> None:
    """Write back what changed since :func:`load_book` (in the caller's transaction).

    ``whole=False`` (uploads: submissions only) leaves the runs, payouts and recoveries as they are.
    """
    keys = sorted(book.dirty)
    if keys:
        _stage_keys(conn, keys)
        for name in ("case_states", "case_payments"):
            conn.execute(f"DELETE FROM {name} WHERE EXISTS (SELECT 1 FROM lifecycle_keys k WHERE "
                         f"k.hospital_id = {name}.hospital_id AND k.case_id = {name}.case_id)")
        states = [book.cases[k] for k in keys]
        conn.insert_arrow("case_states", _table("case_states", [
            {"hospital_id": s.hospital_id, "case_id": s.case_id, "month": s.month, "version": s.version,
             "accepted_version": s.accepted_version, "submission": s.submission, "payment": s.payment,
             "period": s.period, "submitted_on": s.submitted_on, "first_submitted_on": s.first_submitted_on,
             "late": s.late, "correction": s.correction} for s in states]))
        conn.insert_arrow("case_payments", _table("case_payments", [
            {"hospital_id": s.hospital_id, "case_id": s.case_id, "version": v, "run": p.run, "region": p.region,
             "insurance_type": p.insurance_type, "standard": yuan(p.standard), "fund": yuan(p.fund)}
            for s in states for v, payments in sorted(s.paid.items()) for p in payments]))
    conn.insert_arrow("case_events", _table("case_events", [
        {"seq": seq, "on_day": e["on"], "hospital_id": e["hospital_id"], "case_id": e["case_id"],
         "version": e["version"], "dimension": e["dimension"], "from_state": e["from"], "to_state": e["to"],
         "period": e["period"], "run": e["run"], "note": e["note"]}
        for seq, e in zip(_seqs(conn, len(book.history)), book.history)]))
    book.history, book.dirty = [], set()
    if not whole:
        return
    for name in ("lifecycle_runs", "disbursements", "recoveries"):
        conn.execute(f"DELETE FROM {name}")
    conn.insert_arrow("lifecycle_runs", _table("lifecycle_runs", [
        {"run": m, "kind": "month", "on_day": d} for m, d in sorted(book.closed.items())] + [
        {"run": str(y), "kind": "year", "on_day": d} for y, d in sorted(book.cleared.items())]))
    conn.insert_arrow("disbursements", _table("disbursements", [
        {"run": r, "hospital_id": h, "on_day": d} for (r, h), d in sorted(book.disbursed.items())]))
    conn.insert_arrow("recoveries", _table("recoveries", [
        {"hospital_id": r["hospital_id"], "case_id": r["case_id"], "version": r["version"], "run": r["payment"].run,
         "region": r["payment"].region, "insurance_type": r["payment"].insurance_type,
         "standard": yuan(r["payment"].standard), "fund": yuan(r["payment"].fund), "sticky": r["sticky"],
         "accepted_on": r["accepted_on"]} for r in book.recoveries]))


def load_adjustments(conn: Connection, where: str = "TRUE", params=()) -> dict[str, Adjustment]:
    """The applied deduction and recovery lines (id → line)."""
    out = {}
    for r in conn.rows(f"SELECT * FROM adjustments WHERE {where} ORDER BY adjustment_id", params):
        out[r["adjustment_id"]] = Adjustment(
            r["adjustment_id"], r["kind"], r["hospital_id"], r["case_id"], r["region"], r["insurance_type"],
            _fen(r["amount"]), bool(r["sticky"]), r["basis"], r["flag_id"], r["rule_id"], r["appeal_status"],
            r["reason"], r["outcome"], r["run"])
    return out


def save_adjustments(conn: Connection, lines, run_id: str) -> None:
    """Record lines applied by the service run ``run_id`` (a line applied twice breaks the primary key)."""
    conn.insert_arrow("adjustments", _table("adjustments", [
        {**{k: getattr(a, k) for k in Adjustment.__dataclass_fields__ if k != "amount_fen"},
         "amount": yuan(a.amount_fen), "run_id": run_id} for a in lines]))


def decided_flags(conn: Connection, hospital_id: str | None = None) -> list[dict]:
    """Every screened flag with its appeal state (open without an appeals row), newest run's row per flag id."""
    where, params = ("WHERE f.hospital_id = ?", (hospital_id,)) if hospital_id else ("", ())
    rows = conn.rows("SELECT f.run_id, f.flag_id, f.hospital_id, f.case_id, f.rule_id, f.evidence, "
                     "COALESCE(a.status, 'open') AS status, COALESCE(a.reason, '') AS reason, "
                     "COALESCE(a.outcome, '') AS outcome FROM audit_flags f LEFT JOIN appeals a "
                     f"ON a.run_id = f.run_id AND a.flag_id = f.flag_id {where} ORDER BY f.flag_id, f.run_id",
                     params)
    final = ("upheld", "withdrawn")
    by_id: dict[str, dict] = {}
    for r in rows:  # a flag raised by several screening runs: a decided row wins, else the last one
        if r["flag_id"] not in by_id or r["status"] in final or by_id[r["flag_id"]]["status"] not in final:
            by_id[r["flag_id"]] = r
    return [by_id[k] for k in sorted(by_id)]


def submit_upload(conn, policy, cases: pa.Table) -> None:
    """Each stored case of an upload is a submission (申报) of today, with its stored version.

    Cases seen before go through the case book; first uploads (most of an upload) are written in columns,
    with the book's own rule for lateness (:meth:`CaseBook.first_submission`).
    """
    if policy is None or not policy.lifecycle.enabled or not cases.num_rows:
        return
    lock_book(conn, shared=True)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS lifecycle_upload (hospital_id TEXT, case_id TEXT, month TEXT, "
                 "n BIGINT)")
    conn.execute("DELETE FROM lifecycle_upload")
    conn.insert_arrow("lifecycle_upload", pa.table({
        "hospital_id": cases.column("hospital_id"), "case_id": cases.column("case_id"),
        "month": cases.column("month"), "n": pa.array(range(cases.num_rows), pa.int64())}))
    last = ("SELECT hospital_id, case_id, month FROM (SELECT u.*, ROW_NUMBER() OVER (PARTITION BY hospital_id, "
            "case_id ORDER BY n DESC) AS r FROM lifecycle_upload u) x WHERE r = 1 AND LENGTH(month) = 7")
    on, book = today(), CaseBook(policy.lifecycle)
    seen = conn.rows(f"SELECT l.hospital_id, l.case_id, l.month, c.version FROM ({last}) l JOIN cases c ON "
                     "c.hospital_id = l.hospital_id AND c.case_id = l.case_id WHERE EXISTS (SELECT 1 FROM case_states "
                     "s WHERE s.hospital_id = l.hospital_id AND s.case_id = l.case_id) ORDER BY 1, 2")
    if seen:
        book = load_book(conn, policy.lifecycle, [(r["hospital_id"], r["case_id"]) for r in seen])
        for r in seen:
            book.submit(r["hospital_id"], r["case_id"], r["month"], on, int(r["version"]))
        save_book(conn, book, whole=False)
    new = conn.arrow(f"SELECT l.hospital_id, l.case_id, l.month, c.version FROM ({last}) l JOIN cases c ON "
                     "c.hospital_id = l.hospital_id AND c.case_id = l.case_id WHERE NOT EXISTS (SELECT 1 FROM "
                     "case_states s WHERE s.hospital_id = l.hospital_id AND s.case_id = l.case_id) ORDER BY 1, 2")
    if new.num_rows:
        _first_submissions(conn, book, new, on)


def _first_submissions(conn, book: CaseBook, new: pa.Table, on: date) -> None:
    """First uploads in columns: state ``submitted`` (or ``refused``), one history row each (two when refused)."""
    n = new.num_rows
    months = new.column("month").cast(pa.string())
    distinct = pc.unique(months).to_pylist()
    verdict = [book.first_submission(m, on) for m in distinct]
    at = pc.index_in(months, pa.array(distinct, pa.string()))
    late = pc.take(pa.array([v[0] for v in verdict], pa.bool_()), at)
    refused = pc.take(pa.array([v[1] for v in verdict], pa.bool_()), at)
    hospital, case = new.column("hospital_id").cast(pa.string()), new.column("case_id").cast(pa.string())
    version = new.column("version").cast(pa.int64())
    days = pa.array([on] * n, pa.date32())
    blank = pa.array([""] * n, pa.string())
    conn.insert_arrow("case_states", pa.table({
        "hospital_id": hospital, "case_id": case, "month": months, "version": version,
        "accepted_version": pa.array([0] * n, pa.int64()),
        "submission": pc.if_else(refused, "refused", "submitted"), "payment": blank, "period": blank,
        "submitted_on": days, "first_submitted_on": days, "late": late, "correction": pa.array([False] * n)}))
    k = int(pc.sum(refused.cast(pa.int64())).as_py() or 0)
    seqs = _seqs(conn, n + k)
    events = pa.table({
        "seq": pa.array(seqs[:n], pa.int64()), "on_day": days, "hospital_id": hospital,
        "case_id": case, "version": version, "dimension": pa.array(["submission"] * n), "from_state": blank,
        "to_state": pa.array(["submitted"] * n), "period": blank, "run": blank,
        "note": pc.if_else(late, LATE_NOTE, "")})
    conn.insert_arrow("case_events", events)
    gone = events.filter(refused)
    if gone.num_rows:
        conn.insert_arrow("case_events", gone.set_column(0, "seq", pa.array(seqs[n:], pa.int64()))
                          .set_column(6, "from_state", pa.array(["submitted"] * k))
                          .set_column(7, "to_state", pa.array(["refused"] * k))
                          .set_column(10, "note", pa.array([REFUSED_NOTE] * k)))

def statement_lifecycle(conn: Connection, policy, run_id: str, hospital_id: str, period: str | None):
    """A statement's deduction lines (those its run applied to the hospital) and its reconciliation row."""
    lines = [{k: str(v) if isinstance(v, Decimal) else v for k, v in a.row().items()}
             for a in load_adjustments(conn, "run_id = ? AND hospital_id = ?", (run_id, hospital_id)).values()]
    if policy is None or not period or not conn.one("SELECT 1 AS x FROM case_states WHERE hospital_id = ? LIMIT 1",
                                                    (hospital_id,)):
        return lines, []
    keys = [(r["hospital_id"], r["case_id"]) for r in conn.rows(
        "SELECT hospital_id, case_id FROM case_states WHERE hospital_id = ?", (hospital_id,))]
    book = load_book(conn, policy.lifecycle, keys)
    ledger = ledger_from_rows(conn.rows("SELECT * FROM ledger WHERE hospital_id = ?", (hospital_id,)),
                              "table ledger 结算台账")
    rows, _ = reconcile(book, ledger, load_adjustments(conn, "hospital_id = ?", (hospital_id,)),
                        returned=returned_cases(conn, hospital_id))
    return lines, [{k: str(v) if isinstance(v, Decimal) else v for k, v in r.items()}
                   for r in as_yuan(rows) if r["hospital_id"] == hospital_id and r["run"] == period]


def returned_cases(conn, hospital_id: str | None = None) -> set[tuple[str, str]]:
    """The (hospital, case) pairs ever returned for correction (退回修改), from the stored history."""
    rows = conn.rows("SELECT DISTINCT hospital_id, case_id FROM case_events WHERE to_state = 'returned'"
                     + (" AND hospital_id = ?" if hospital_id is not None else ""),
                     (hospital_id,) if hospital_id is not None else ())
    return {(r["hospital_id"], r["case_id"]) for r in rows}


__all__ = ["BOOK_LOCK", "decided_flags", "returned_cases", "statement_lifecycle", "submit_upload", "load_adjustments", "load_book", "lock_book", "save_adjustments",
           "save_book", "today"]
