"""Batch uploads: read any supported file, group (and validate) in batches, store, record the run.

Small batches are processed in the request; larger ones (more records than
``background_threshold``, or ``background=true``) become background jobs (后台任务) whose progress
is kept in ``jobs`` and whose results are written to ``job_dir/<job_id>/results.parquet``.
One upload is one transaction: stored completely or not at all.
"""

from __future__ import annotations

import collections
import logging
import os
import secrets
import shutil
import socket
import threading
import time
from datetime import timedelta
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.ipc as ipc

from icd_tables.intake.headers import ColumnMappingError
from foundation.arrow_columns import value_counts
from foundation.background import prefetched
from foundation.files import InputError, ResultWriter
from icd_tables.intake.reader import IntakeBatch, RecordIntake, open_records
from api.service.auth import Principal
from api.service.db import utcnow
from api.service.lifecycle_store import submit_upload
from api.service.store import UploadError, fingerprint, new_id, prepare, record_run, store
from grouper import RecordSchemaError
from grouper.encode import to_arrow

log = logging.getLogger("drg.service")
#: Records grouped and stored per step.
STEP = 250_000
#: Extensions accepted for uploads.
UPLOAD_SUFFIXES = (".parquet", ".csv", ".tsv", ".txt", ".xlsx", ".jsonl", ".json", ".arrow", ".feather", ".ipc")
READ_ERRORS = (InputError, RecordSchemaError, ColumnMappingError, pa.ArrowInvalid, UnicodeDecodeError)


def _read_arrow(path: Path) -> pa.Table:
    """An Arrow IPC file or stream, whole; a damaged or truncated one is an :class:`InputError`."""
    try:
        try:
            return ipc.open_file(path).read_all()
        except pa.ArrowInvalid:
            with ipc.open_stream(path) as stream:
                return stream.read_all()
    except (pa.ArrowException, OSError) as exc:  # a short read is a plain OSError
        raise InputError(f"{path}: 不是完整的 Arrow 文件 (not a whole Arrow IPC file or stream: {exc})") from None


def public_message(exc: BaseException, path: Path, name: str) -> str:
    """``exc``'s message as a client may see it: the server's file path replaced by the uploaded file's name."""
    return str(exc).replace(str(path), name or "upload").replace(str(path.parent), "")


def _read(tables: Iterator[pa.Table], intake: RecordIntake) -> Iterator[IntakeBatch]:
    """Each table through one intake (its state, such as case ids seen, spans the whole upload)."""
    row_no = 1
    for table in tables:
        yield intake(table, row_no)
        row_no += table.num_rows


def batches(path: Path, pack) -> Iterator[IntakeBatch]:
    """The upload's records in steps of :data:`STEP`, read by the one intake with ``pack``'s code spelling."""
    if path.suffix.lower() in (".arrow", ".feather", ".ipc"):
        table = _read_arrow(path)
        return _read((table.slice(offset, STEP) for offset in range(0, max(table.num_rows, 1), STEP)),
                     RecordIntake.for_table(table, pack))
    record_file = open_records(path)
    return _read(record_file.source.batches(STEP), record_file.intake(pack))


def count_records(path: Path) -> int | None:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if path.suffix.lower() in (".arrow", ".feather", ".ipc"):
        return _read_arrow(path).num_rows
    return None


def process(service, principal: Principal, parts: Iterator[IntakeBatch], run_id: str, *, validate: bool,
            results_path: Path | None = None, on_progress=None, keep_results: int = 0) -> dict:
    """Group, validate and store the batches of one upload in one transaction; record its run."""
    engine, db = service.engine, service.db
    counts = {"stored": 0, "replaced": 0, "repeated_in_upload": 0}
    by_status: collections.Counter[str] = collections.Counter()
    n_findings, row_no, kept = 0, 1, []
    writer = ResultWriter(results_path) if results_path else None
    import hashlib

    digest = hashlib.sha256()
    ready = ((read, fingerprint(read.records), prepare(engine, read, principal, run_id, validate=validate))
             for read in parts if read.records.num_rows)
    try:
        with db.connect(write=True) as conn:
            # the next batch read, grouped and laid out meanwhile: storing is the longer step (PostgreSQL 1M new
            # cases: 1 s of the one, 7 s of the other)
            for read, read_fingerprint, prepared in prefetched(ready):
                records = read.records
                digest.update(read_fingerprint.encode())
                for key, value in store(conn, prepared).items():
                    counts[key] += value
                submit_upload(conn, engine.policy if engine.can_price else None, prepared.cases)  # 申报 (lifecycle)
                by_status.update(value_counts(prepared.results.column("status")))
                n_findings += prepared.findings.num_rows if prepared.findings is not None else 0
                if writer is not None:
                    writer.write(prepared.results)
                if keep_results:
                    kept.append(prepared.results.slice(0, keep_results))
                row_no += records.num_rows
                if on_progress:
                    on_progress(row_no - 1)
            if row_no == 1:
                raise UploadError("上传内容没有病案 (the upload holds no records)")
            hospital = principal.hospital_id if principal.scoped else None
            record_run(conn, run_id, "validate" if validate else "group", principal, engine,
                       input_sha256=digest.hexdigest(), n_records=row_no - 1, hospital_id=hospital,
                       detail={"by_status": dict(by_status), **counts, "n_findings": n_findings})
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    results = pa.concat_tables(kept).slice(0, keep_results) if kept else None
    return {"n_records": row_no - 1, "by_status": dict(by_status), "n_findings": n_findings, **counts,
            "results": results}


def json_batch(records: list[dict], pack) -> Iterator[IntakeBatch]:
    """Records sent as JSON, read by the one intake."""
    table = to_arrow(records)
    return _read(iter([table]), RecordIntake.for_table(table, pack))


def csv_results(parquet: Path) -> Path:
    """The CSV beside a job's Parquet results, written once on first demand.

    Each request that finds it missing writes its own copy under a name of its own and renames it
    into place (atomic): parallel first downloads each serve a whole file, never a shared partial one.
    """
    target = parquet.with_suffix(".csv")
    if target.exists():
        return target
    import pyarrow.parquet as pq

    own = parquet.with_name(f"results-{secrets.token_hex(6)}.csv")
    writer = ResultWriter(own)
    try:
        for batch in pq.ParquetFile(parquet).iter_batches(STEP):
            writer.write(pa.Table.from_batches([batch]))
        writer.close()
        os.replace(own, target)
    except BaseException:
        writer.abort()
        own.unlink(missing_ok=True)
        raise
    return target


class JobRunner:
    """Runs background uploads one at a time in a worker thread of this process.

    A job belongs to the process that accepted it (``owner``); while the process lives, a heartbeat
    thread renews ``heartbeat_at`` of its queued and running jobs every ``job_heartbeat_s``.  Any
    process sweeps (at start-up and with each heartbeat): a queued or running job whose heartbeat is
    older than ``job_stale_s`` lost its process and is marked failed; files in ``job_dir`` that no live
    job and no finished job's results need are removed once older than ``job_files_max_age_s``.
    """

    def __init__(self, service):
        self.service = service
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drg-job")
        self._stop = threading.Event()
        self._heart = threading.Thread(target=self._beat_loop, name="drg-job-heartbeat", daemon=True)
        self._heart.start()

    def _beat_loop(self) -> None:
        while not self._stop.wait(self.service.settings.job_heartbeat_s):
            try:
                self.beat()
                self.sweep()
            except Exception:  # the database may be away for a moment: the next beat tries again
                log.exception("job heartbeat")

    def beat(self) -> None:
        """Renew the heartbeat of this process's queued and running jobs."""
        with self.service.db.connect() as conn:
            conn.execute("UPDATE jobs SET heartbeat_at = ? WHERE owner = ? AND state IN ('queued', 'running')",
                         (utcnow(), self.owner))

    def sweep(self) -> None:
        """Fail the jobs whose process stopped; remove abandoned files (see the class docstring)."""
        settings = self.service.settings
        now = utcnow()
        with self.service.db.connect(write=True) as conn:
            conn.execute("UPDATE jobs SET state = 'failed', message = ?, updated_at = ? WHERE state IN "
                         "('queued', 'running') AND (heartbeat_at IS NULL OR heartbeat_at < ?)",
                         ("服务进程已停止，任务中断，请重新上传 (the process running the job stopped: upload again)",
                          now, now - timedelta(seconds=settings.job_stale_s)))
            jobs = conn.rows("SELECT job_id, state, result_path FROM jobs WHERE state IN ('queued', 'running', 'done')")
        live = {j["job_id"] for j in jobs if j["state"] != "done"}
        kept = {Path(j["result_path"]).name for j in jobs if j["state"] == "done" and j["result_path"]}
        done = {j["job_id"] for j in jobs if j["state"] == "done"}
        remove_abandoned(settings.job_dir, live, done, kept | {"results.csv"}, settings.job_files_max_age_s)

    def submit(self, principal: Principal, upload: Path, validate: bool) -> tuple[str, str]:
        job_id, run_id = new_id("job"), new_id("run")
        folder = self.service.settings.job_dir / job_id
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"upload{upload.suffix.lower()}"
        shutil.move(str(upload), target)
        total = count_records(target)
        now = utcnow()
        with self.service.db.connect(write=True) as conn:
            conn.execute("INSERT INTO jobs (job_id, run_id, hospital_id, state, total, done, message, result_path, "
                         "created_by, created_at, updated_at, owner, heartbeat_at) "
                         "VALUES (?, ?, ?, 'queued', ?, 0, NULL, NULL, ?, ?, ?, ?, ?)",
                         (job_id, run_id, principal.hospital_id, total, principal.key_id, now, now, self.owner, now))
        self.pool.submit(self._run, principal, target, job_id, run_id, validate)
        return job_id, run_id

    def _update(self, job_id: str, **values) -> None:
        names = ", ".join(f"{k} = ?" for k in values)
        with self.service.db.connect() as conn:
            conn.execute(f"UPDATE jobs SET {names}, updated_at = ? WHERE job_id = ?",
                         (*values.values(), utcnow(), job_id))

    def _run(self, principal, path: Path, job_id: str, run_id: str, validate: bool) -> None:
        self._update(job_id, state="running")
        results = path.parent / "results.parquet"
        try:
            parts = batches(path, self.service.engine.grouper.pack)
            summary = process(self.service, principal, parts, run_id, validate=validate, results_path=results,
                              on_progress=lambda done: self._update(job_id, done=done))
        except (UploadError, *READ_ERRORS) as exc:
            self._update(job_id, state="failed", message=public_message(exc, path, path.name))
        except Exception:  # a defect: logged with its traceback, the user sees a reference only
            log.exception("job %s failed", job_id)
            self._update(job_id, state="failed", message=f"内部错误 (internal error, job {job_id})")
        else:
            self._update(job_id, state="done", done=summary["n_records"], total=summary["n_records"],
                         result_path=str(results),
                         message=f"{summary['stored']:,} stored, {summary['replaced']:,} replaced")
        finally:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)
        self._stop.set()
        self._heart.join()


def remove_abandoned(root: Path, live: set[str], done: set[str], results: set[str], max_age_s: float) -> None:
    """Remove files under ``root`` older than ``max_age_s`` that no job needs.

    A live job's folder is left whole; in a finished job's folder only the files named in ``results``
    stay; anything else (a killed job's upload and partial results, an upload a killed request left)
    goes, and folders left empty with it.
    """
    if not root.is_dir():
        return
    cutoff = time.time() - max_age_s
    for entry in root.iterdir():
        if entry.name in live:
            continue
        files = [p for p in entry.rglob("*") if p.is_file()] if entry.is_dir() else [entry]
        for path in files:
            if not (entry.name in done and path.parent == entry and path.name in results):
                _unlink_if_older(path, cutoff)
        if entry.is_dir() and not any(entry.iterdir()):
            entry.rmdir()


def _unlink_if_older(path: Path, cutoff: float) -> None:
    try:
        if path.stat().st_mtime < cutoff:
            path.unlink()
    except FileNotFoundError:  # another process cleaned it first
        pass


__all__ = ["JobRunner", "remove_abandoned", "READ_ERRORS", "STEP", "UPLOAD_SUFFIXES", "batches", "count_records", "csv_results", "json_batch", "process",
           "public_message"]
