"""The service's database: an embedded DuckDB file (default) or PostgreSQL, behind one small interface.

SQL is written once with ``?`` placeholders; :class:`Connection` adapts it to the backend.  Bulk
data moves in columns, never row by row: DuckDB inserts from a registered Arrow table, PostgreSQL
from ``COPY … FROM STDIN``, binary where the columns' types are given (:mod:`api.service.pgcopy`),
else fed by Arrow's CSV writer.  The schema is created and migrated at
start-up (:data:`MIGRATIONS`, versions recorded in ``schema_migrations``); on PostgreSQL an advisory
lock keeps several workers from migrating at once.
"""

from __future__ import annotations

import io
import re
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

MONEY = "DECIMAL(18, 2)"
RW = "DECIMAL(18, 6)"

#: Stored columns of a case (current version in ``cases``; earlier versions in ``case_history``).
CASE_COLUMNS: dict[str, str] = {
    "hospital_id": "TEXT NOT NULL", "case_id": "TEXT NOT NULL", "version": "BIGINT NOT NULL",
    "run_id": "TEXT NOT NULL", "row_no": "BIGINT", "month": "TEXT",
    "patient_id": "TEXT", "sex": "TEXT", "age_years": "BIGINT", "age_days": "BIGINT",
    "birth_weight_g": "BIGINT", "admission_weight_g": "BIGINT",
    "principal_dx": "TEXT", "secondary_dx": "TEXT", "procedures": "TEXT",
    "los_days": "BIGINT", "discharge_method": "BIGINT", "admit_date": "TEXT", "discharge_date": "TEXT",
    "settlement_date": "TEXT", "insurance_type": "TEXT", "dept": "TEXT",
    "total_cost": MONEY, "drug_cost": MONEY, "consumables_cost": MONEY, "self_pay_cost": MONEY,
    "patient_paid": MONEY,
    "mdc": "TEXT", "adrg": "TEXT", "drg": "TEXT", "drg_name": "TEXT", "status": "TEXT", "status_zh": "TEXT",
    "reason_code": "TEXT", "reason_detail": "TEXT", "mcc_dx": "TEXT", "cc_dx": "TEXT", "warnings": "TEXT",
    "pack_version": "TEXT", "rw": RW, "case_type": "TEXT", "expected_standard": MONEY, "expected_fund": MONEY,
    "n_fatal": "BIGINT", "n_error": "BIGINT", "n_warning": "BIGINT", "n_info": "BIGINT",
    "uploaded_at": "TIMESTAMP NOT NULL", "uploaded_by": "TEXT NOT NULL",
}
#: Case columns added after the first schema version, by the migration that adds them (the tables are altered).
ADDED_CASE_COLUMNS: dict[int, dict[str, str]] = {
    5: {"icu_hours": "BIGINT"},  # the regional packs' ICU hours
    8: {"insured_region": "TEXT", "out_of_area_unreferred": "TEXT"},  # 异地就医: 参保地, 未备案
}
for _added in ADDED_CASE_COLUMNS.values():
    CASE_COLUMNS.update(_added)
FINDING_COLUMNS: dict[str, str] = {
    "hospital_id": "TEXT NOT NULL", "case_id": "TEXT NOT NULL", "version": "BIGINT NOT NULL", "row_no": "BIGINT",
    "rule_id": "TEXT", "severity": "TEXT", "field": "TEXT", "value": "TEXT", "message_zh": "TEXT",
    "message_en": "TEXT", "suggestion": "TEXT",
}
LINE_COLUMNS: dict[str, str] = {
    "run_id": "TEXT NOT NULL", "hospital_id": "TEXT NOT NULL", "case_id": "TEXT", "row_no": "BIGINT",
    "insurance_type": "TEXT", "dept": "TEXT", "month": "TEXT", "drg": "TEXT", "status": "TEXT", "rw": RW,
    "case_type": "TEXT", "case_type_zh": "TEXT", "total_cost": MONEY, "points": "DECIMAL(18, 4)",
    "point_value": "DECIMAL(18, 6)", "standard": MONEY, "patient_share": MONEY, "fund_payment": MONEY,
    "note": "TEXT",
}


def _columns(spec: dict[str, str]) -> str:
    return ",\n  ".join(f"{name} {kind}" for name, kind in spec.items())


def _migration_1(dialect: str) -> list[str]:
    added = {name for columns in ADDED_CASE_COLUMNS.values() for name in columns}
    first = {k: v for k, v in CASE_COLUMNS.items() if k not in added}
    history = {**first, "superseded_at": "TIMESTAMP NOT NULL"}
    unique = "UNIQUE " if dialect == "postgresql" else ""
    statements = [
        "CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL, "
        "hospital_id TEXT, label TEXT, created_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP)",
        "CREATE TABLE service_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, hospital_id TEXT, period TEXT, "
        "pack_version TEXT, weights_version TEXT, policy_version TEXT, input_sha256 TEXT, n_records BIGINT, "
        "status TEXT NOT NULL, detail TEXT, created_by TEXT NOT NULL, created_at TIMESTAMP NOT NULL, "
        "finished_at TIMESTAMP)",
        f"CREATE TABLE cases (\n  {_columns(first)}\n)",
        f"CREATE {unique}INDEX cases_key ON cases (hospital_id, case_id)",
        f"CREATE TABLE case_history (\n  {_columns(history)}\n)",
        "CREATE INDEX case_history_key ON case_history (hospital_id, case_id)",
        f"CREATE TABLE findings (\n  {_columns(FINDING_COLUMNS)}\n)",
        "CREATE INDEX findings_key ON findings (hospital_id, case_id)",
        "CREATE TABLE jobs (job_id TEXT PRIMARY KEY, run_id TEXT, hospital_id TEXT, state TEXT NOT NULL, "
        "total BIGINT, done BIGINT, message TEXT, result_path TEXT, created_by TEXT NOT NULL, "
        "created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)",
        "CREATE TABLE settlement_statements (run_id TEXT NOT NULL, hospital_id TEXT NOT NULL, body TEXT NOT NULL, "
        "PRIMARY KEY (run_id, hospital_id))",
        f"CREATE TABLE settlement_lines (\n  {_columns(LINE_COLUMNS)}\n)",
        "CREATE INDEX settlement_lines_key ON settlement_lines (run_id, hospital_id)",
        "CREATE SEQUENCE audit_seq",
        "CREATE TABLE audit_log (id BIGINT PRIMARY KEY DEFAULT nextval('audit_seq'), logged_at TIMESTAMP NOT NULL, "
        "key_id TEXT, role TEXT, hospital_id TEXT, action TEXT NOT NULL, object TEXT, status INTEGER)",
    ]
    if dialect == "postgresql":  # append-only, enforced by the database
        statements += [
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'audit_log is append-only'; END $$",
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        ]
    return statements


#: One row per flag of a screening run (``audit.screens.flags.FLAG_SCHEMA`` plus the run, its order and period).
AUDIT_FLAG_COLUMNS: dict[str, str] = {
    "run_id": "TEXT NOT NULL", "seq": "BIGINT NOT NULL", "flag_id": "TEXT NOT NULL", "case_id": "TEXT",
    "row_no": "BIGINT", "hospital_id": "TEXT NOT NULL", "rule_id": "TEXT NOT NULL", "severity": "TEXT NOT NULL",
    "message_zh": "TEXT", "message_en": "TEXT", "evidence": "TEXT", "money_at_stake": MONEY,
    "score": "DOUBLE PRECISION", "period": "TEXT NOT NULL",
}
#: The state of an appealed or decided flag (``audit.appeals.Appeal``); a flag without a row is ``open``.
APPEAL_COLUMNS: dict[str, str] = {
    "run_id": "TEXT NOT NULL", "flag_id": "TEXT NOT NULL", "hospital_id": "TEXT NOT NULL", "status": "TEXT NOT NULL",
    "reason": "TEXT NOT NULL", "outcome": "TEXT NOT NULL", "opened_at": "TIMESTAMP", "appealed_at": "TIMESTAMP",
    "decided_at": "TIMESTAMP", "decided_by": "TEXT NOT NULL", "updated_at": "TIMESTAMP NOT NULL",
}


def _migration_2(dialect: str) -> list[str]:
    """Audit screening runs: their flags, the cases each run screened (the queue's random sample), appeals."""
    return [
        f"CREATE TABLE audit_flags (\n  {_columns(AUDIT_FLAG_COLUMNS)},\n  PRIMARY KEY (run_id, flag_id)\n)",
        "CREATE INDEX audit_flags_hospital ON audit_flags (run_id, hospital_id)",
        "CREATE TABLE audit_run_cases (run_id TEXT NOT NULL, row_no BIGINT NOT NULL, case_id TEXT NOT NULL, "
        "hospital_id TEXT NOT NULL, PRIMARY KEY (run_id, row_no))",
        f"CREATE TABLE appeals (\n  {_columns(APPEAL_COLUMNS)},\n  PRIMARY KEY (run_id, flag_id)\n)",
    ]


def _migration_3(dialect: str) -> list[str]:
    """Job ownership: the process that runs a job and its last heartbeat."""
    return ["ALTER TABLE jobs ADD COLUMN owner TEXT", "ALTER TABLE jobs ADD COLUMN heartbeat_at TIMESTAMP"]


#: The run ledger (``payment.ledger.COLUMNS``, amounts in 元): one row per ledger run (``2024-03`` or ``2024``) ×
#: hospital × fund, with the service run that recorded it.
LEDGER_COLUMNS: dict[str, str] = {
    "run_id": "TEXT NOT NULL", "run": "TEXT NOT NULL", "hospital_id": "TEXT NOT NULL", "region": "TEXT NOT NULL",
    "insurance_type": "TEXT NOT NULL", "provisional": MONEY, "withheld": MONEY, "event_fund": MONEY, "paid": MONEY,
    "released": MONEY, "carried_in": MONEY, "deducted": MONEY, "carried_out": MONEY, "release_period": "TEXT",
    "stay": "TEXT NOT NULL", "interim": MONEY,
}
#: Ledger columns added by migration 6 (中途结算: the stay settled in interim and what was paid on it).
ADDED_LEDGER_COLUMNS = {"stay": "''", "interim": "0"}


def _migration_4(dialect: str) -> list[str]:
    """The run ledger (结算台账) that month, release and year runs read and write."""
    first = {k: v for k, v in LEDGER_COLUMNS.items() if k not in ADDED_LEDGER_COLUMNS}
    return [f"CREATE TABLE ledger (\n  {_columns(first)},\n"
            "  PRIMARY KEY (run, hospital_id, region, insurance_type)\n)",
            "CREATE INDEX ledger_hospital ON ledger (hospital_id)"]


#: Schema versions, oldest first: each a function of the dialect giving its statements.
def _added_case_columns(version: int) -> list[str]:
    return [f"ALTER TABLE {table} ADD COLUMN {name} {kind}" for table in ("cases", "case_history")
            for name, kind in ADDED_CASE_COLUMNS[version].items()]


def _migration_5(dialect: str) -> list[str]:
    """ICU hours (重症监护时长) of a case, which regional packs read."""
    return _added_case_columns(5)


#: A case's life (payment.lifecycle, payment.deductions): current states, history, payments per version, runs,
#: payouts, recoveries to make and the deduction/recovery lines applied (each once: the id is the key).
LIFECYCLE_TABLES: dict[str, tuple[dict[str, str], str]] = {
    "case_states": ({"hospital_id": "TEXT NOT NULL", "case_id": "TEXT NOT NULL", "month": "TEXT NOT NULL",
                     "version": "BIGINT NOT NULL", "accepted_version": "BIGINT NOT NULL", "submission": "TEXT NOT NULL",
                     "payment": "TEXT NOT NULL", "period": "TEXT NOT NULL", "submitted_on": "DATE",
                     "first_submitted_on": "DATE", "late": "BOOLEAN NOT NULL", "correction": "BOOLEAN NOT NULL"},
                    "hospital_id, case_id"),
    "case_events": ({"seq": "BIGINT NOT NULL", "on_day": "DATE NOT NULL", "hospital_id": "TEXT NOT NULL",
                     "case_id": "TEXT NOT NULL", "version": "BIGINT NOT NULL", "dimension": "TEXT NOT NULL",
                     "from_state": "TEXT NOT NULL", "to_state": "TEXT NOT NULL", "period": "TEXT NOT NULL",
                     "run": "TEXT NOT NULL", "note": "TEXT NOT NULL"}, "seq"),
    "case_payments": ({"hospital_id": "TEXT NOT NULL", "case_id": "TEXT NOT NULL", "version": "BIGINT NOT NULL",
                       "run": "TEXT NOT NULL", "region": "TEXT NOT NULL", "insurance_type": "TEXT NOT NULL",
                       "standard": MONEY, "fund": MONEY}, "hospital_id, case_id, version, run"),
    "lifecycle_runs": ({"run": "TEXT NOT NULL", "kind": "TEXT NOT NULL", "on_day": "DATE NOT NULL"}, "run"),
    "disbursements": ({"run": "TEXT NOT NULL", "hospital_id": "TEXT NOT NULL", "on_day": "DATE NOT NULL"},
                      "run, hospital_id"),
    "recoveries": ({"hospital_id": "TEXT NOT NULL", "case_id": "TEXT NOT NULL", "version": "BIGINT NOT NULL",
                    "run": "TEXT NOT NULL", "region": "TEXT NOT NULL", "insurance_type": "TEXT NOT NULL",
                    "standard": MONEY, "fund": MONEY, "sticky": "BOOLEAN NOT NULL", "accepted_on": "DATE NOT NULL"},
                   "hospital_id, case_id, version"),
    "adjustments": ({"adjustment_id": "TEXT NOT NULL", "kind": "TEXT NOT NULL", "hospital_id": "TEXT NOT NULL",
                     "case_id": "TEXT NOT NULL", "region": "TEXT NOT NULL", "insurance_type": "TEXT NOT NULL",
                     "amount": MONEY, "sticky": "BOOLEAN NOT NULL", "basis": "TEXT NOT NULL", "flag_id": "TEXT NOT NULL",
                     "rule_id": "TEXT NOT NULL", "appeal_status": "TEXT NOT NULL", "reason": "TEXT NOT NULL",
                     "outcome": "TEXT NOT NULL", "run": "TEXT NOT NULL", "run_id": "TEXT NOT NULL"}, "adjustment_id"),
}


#: 特病单议 approved lists uploaded by the payer: one row per list version, its cases as JSON.
SPECIAL_LIST_COLUMNS: dict[str, str] = {
    "list_id": "TEXT PRIMARY KEY", "version": "TEXT NOT NULL", "sha256": "TEXT NOT NULL", "n_cases": "BIGINT NOT NULL",
    "created_by": "TEXT NOT NULL", "created_at": "TIMESTAMP NOT NULL", "body": "TEXT NOT NULL",
}


def _migration_6(dialect: str) -> list[str]:
    """Interim settlement (stay entries in the ledger, keyed by the stay) and the payer's 特病单议 lists."""
    old = [k for k in LEDGER_COLUMNS if k not in ADDED_LEDGER_COLUMNS]
    return [f"CREATE TABLE ledger_v6 (\n  {_columns(LEDGER_COLUMNS)},\n"
            "  PRIMARY KEY (run, hospital_id, region, insurance_type, stay)\n)",
            f"INSERT INTO ledger_v6 ({', '.join(old + list(ADDED_LEDGER_COLUMNS))}) SELECT {', '.join(old)}, "
            f"{', '.join(ADDED_LEDGER_COLUMNS.values())} FROM ledger",
            "DROP INDEX ledger_hospital", "DROP TABLE ledger", "ALTER TABLE ledger_v6 RENAME TO ledger",
            "CREATE INDEX ledger_hospital ON ledger (hospital_id)",
            f"CREATE TABLE special_lists (\n  {_columns(SPECIAL_LIST_COLUMNS)}\n)"]


def _migration_7(dialect: str) -> list[str]:
    """A case's life from upload to payment (issue 21): states with history, deductions applied once."""
    out = ["CREATE SEQUENCE case_events_seq"] + [f"CREATE TABLE {name} (\n  {_columns(columns)},\n  PRIMARY KEY ({key})\n)"
                                                   for name, (columns, key) in LIFECYCLE_TABLES.items()]
    return out + ["CREATE INDEX case_events_key ON case_events (hospital_id, case_id)",
                  "CREATE INDEX adjustments_hospital ON adjustments (hospital_id)"]


def _migration_8(dialect: str) -> list[str]:
    """A case's insured region (参保地) and unfiled referral (异地就医未备案): cross-region settlement (issue 22)."""
    return _added_case_columns(8)


MIGRATIONS = (_migration_1, _migration_2, _migration_3, _migration_4, _migration_5, _migration_6, _migration_7,
              _migration_8)


#: SQLSTATEs of a transaction that lost a race (serialisation failure, deadlock, unique key taken): retry it.
CONFLICT_STATES = ("40001", "40P01", "23505")


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a database error of a transaction that lost a race with another one."""
    return getattr(exc, "sqlstate", None) in CONFLICT_STATES


def where_clause(*conditions: tuple[str, object]) -> tuple[str, list]:
    """The ``WHERE`` text of the conditions whose value is given, and those values in order.

    Each condition is an SQL fragment with one ``?`` and its value; a ``None`` value leaves the
    condition out, and no condition left reads ``TRUE``:
    ``where_clause(("hospital_id = ?", "H001"), ("run = ?", None))`` → ``("hospital_id = ?", ["H001"])``.
    """
    kept = [(sql, value) for sql, value in conditions if value is not None]
    return " AND ".join(sql for sql, _ in kept) or "TRUE", [value for _, value in kept]


def utcnow() -> datetime:
    """Now in UTC, without a zone (the ``TIMESTAMP`` columns hold UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Connection:
    """One connection inside a transaction; SQL with ``?`` placeholders."""

    def __init__(self, raw, dialect: str):
        self.raw, self.dialect = raw, dialect

    def _sql(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s") if self.dialect == "postgresql" else sql

    def execute(self, sql: str, params=()) -> None:
        cursor = self.raw.execute(self._sql(sql), params)
        if self.dialect == "duckdb":
            cursor.fetchall()

    def rows(self, sql: str, params=()) -> list[dict]:
        cursor = self.raw.execute(self._sql(sql), params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def one(self, sql: str, params=()) -> dict | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def arrow(self, sql: str, params=()) -> pa.Table:
        """A query's result as an Arrow table (DECIMAL columns as exact decimals)."""
        if self.dialect == "duckdb":
            return self.raw.sql(sql, params=list(params) or None).to_arrow_table()
        cursor = self.raw.execute(self._sql(sql), params)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        columns = list(zip(*rows)) if rows else [() for _ in names]
        return pa.table({name: pa.array(list(values)) for name, values in zip(names, columns)}) if rows else \
            pa.table({name: pa.array([], pa.string()) for name in names})

    def integers(self, sql: str, n_columns: int) -> list[np.ndarray]:
        """The ``n_columns`` ``BIGINT NOT NULL`` columns of a query as int64 arrays, read in bulk (PostgreSQL:
        binary ``COPY … TO``, not a Python object per value)."""
        if self.dialect == "duckdb":
            columns = [np.asarray(c, dtype=np.int64) for c in self.raw.sql(sql).fetchnumpy().values()]
            if len(columns) != n_columns:
                raise ValueError(f"the query gives {len(columns)} columns, not {n_columns}")
            return columns
        from api.service.pgcopy import read_int8

        with self.raw.cursor().copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)") as copy:
            return read_int8(b"".join(copy), n_columns)

    @contextmanager
    def view(self, table: pa.Table) -> Iterator[str]:
        """DuckDB: ``table`` registered under a name of this thread for the block's statements."""
        name = f"incoming_{threading.get_ident()}"
        self.raw.register(name, table)
        try:
            yield name
        finally:
            self.raw.unregister(name)

    def insert_arrow(self, table_name: str, table: pa.Table, types: dict[str, str] | None = None) -> None:
        """Append an Arrow table whose column names are columns of ``table_name`` (columnar bulk insert).

        With ``types`` (column → SQL type, e.g. :data:`CASE_COLUMNS`), PostgreSQL takes the rows as binary
        ``COPY`` (:mod:`api.service.pgcopy`) instead of CSV.
        """
        if not table.num_rows:
            return
        names = ", ".join(table.column_names)
        if self.dialect == "duckdb":
            with self.view(table) as view:
                self.raw.execute(f"INSERT INTO {table_name} ({names}) SELECT {names} FROM {view}").fetchall()
            return
        if types is not None:
            from psycopg.copy import QueuedLibpqWriter

            from api.service.pgcopy import binary_copy

            cursor = self.raw.cursor()
            # a thread of psycopg's sends each piece, so the next one is laid out while the server takes it in
            with cursor.copy(f"COPY {table_name} ({names}) FROM STDIN (FORMAT binary)",
                             writer=QueuedLibpqWriter(cursor)) as copy:
                for part in binary_copy(table, types):
                    copy.write(part)
            return
        table = pa.table({n: _csv_ready(table.column(n)) for n in table.column_names})
        with self.raw.cursor().copy(f"COPY {table_name} ({names}) FROM STDIN WITH (FORMAT csv, NULL '')") as copy:
            for batch in table.to_batches(max_chunksize=100_000):
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False,
                                                                   quoting_style="needed"))
                copy.write(buffer.getvalue())


def _csv_ready(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


class Database:
    """Opens the database named by a URL and hands out connections inside transactions.

    Parameters
    ----------
    url : str
        ``duckdb:///path/file.duckdb`` (``duckdb:///:memory:`` for a throw-away one) or
        ``postgresql://user:password@host:port/db``.
    schema : str
        PostgreSQL schema (created if absent).
    """

    def __init__(self, url: str, schema: str = "public"):
        self.url = url
        if url.startswith("duckdb://"):
            import duckdb

            self.dialect = "duckdb"
            path = url.removeprefix("duckdb://").removeprefix("/") if url != "duckdb:///:memory:" else ":memory:"
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._duck = duckdb.connect(path)
            self._write_lock = threading.Lock()
            self._local = threading.local()
        elif url.startswith(("postgresql://", "postgres://")):
            from psycopg_pool import ConnectionPool

            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", schema):
                raise ValueError(f"database schema {schema!r}: use letters, digits and _ only")
            self.dialect = "postgresql"
            self.schema = schema
            self._pool = ConnectionPool(url, min_size=1, max_size=16, open=True,
                                        kwargs={"options": f"-c search_path={schema}"})
        else:
            raise ValueError(f"database URL {url!r}: use duckdb:///file.duckdb or postgresql://user@host/db")

    @contextmanager
    def connect(self, write: bool = False) -> Iterator[Connection]:
        """A connection in a transaction, committed when the block ends, rolled back on an error.

        ``write=True`` serialises writers on DuckDB (one writing transaction at a time, which
        avoids write-write conflicts inside the one process); PostgreSQL locks rows itself.
        """
        if self.dialect == "duckdb":
            nested = getattr(self._local, "busy", False)  # a connection inside another one: its own cursor
            cursor = getattr(self._local, "cursor", None)
            if nested:
                cursor = self._duck.cursor()
            elif cursor is None:
                cursor = self._local.cursor = self._duck.cursor()
            self._local.busy = True
            lock = self._write_lock if write else None
            if lock:
                lock.acquire()
            try:
                cursor.execute("BEGIN TRANSACTION").fetchall()
                try:
                    yield Connection(cursor, "duckdb")
                except BaseException:
                    cursor.execute("ROLLBACK").fetchall()
                    raise
                cursor.execute("COMMIT").fetchall()
            finally:
                if lock:
                    lock.release()
                self._local.busy = nested
                if nested:
                    cursor.close()
        else:
            with self._pool.connection() as raw:
                with raw.transaction():
                    yield Connection(raw, "postgresql")

    def migrate(self) -> int:
        """Create or update the schema; returns the schema version."""
        with self.connect(write=True) as db:
            if self.dialect == "postgresql":
                db.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                db.execute("SELECT pg_advisory_xact_lock(72011)")
            db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                       "applied_at TIMESTAMP NOT NULL)")
            done = {r["version"] for r in db.rows("SELECT version FROM schema_migrations")}
            for version, migration in enumerate(MIGRATIONS, start=1):
                if version in done:
                    continue
                for statement in migration(self.dialect):
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, utcnow()))
        return len(MIGRATIONS)

    def close(self) -> None:
        if self.dialect == "duckdb":
            self._duck.close()
        else:
            self._pool.close()


__all__ = ["APPEAL_COLUMNS", "AUDIT_FLAG_COLUMNS", "CASE_COLUMNS", "FINDING_COLUMNS", "LEDGER_COLUMNS", "LIFECYCLE_TABLES",
           "LINE_COLUMNS", "MIGRATIONS", "SPECIAL_LIST_COLUMNS",
           "Connection", "Database", "is_conflict", "utcnow"]
