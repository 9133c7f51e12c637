"""分组与质控 (grouping and validation): one record, JSON batches, file uploads, background jobs."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query, UploadFile
from fastapi.responses import FileResponse

from api.service.auth import NOT_FOUND
from api.service.deps import PrincipalDep, ServiceDep
from api.service.schemas import RecordIn, BatchIn, BatchResponse, ErrorOut, GroupResponse, JobStatus
from api.service.single import group_one
from api.service.store import UploadError, audit, new_id
from api.service.uploads import (READ_ERRORS, UPLOAD_SUFFIXES, batches, count_records, csv_results, json_batch,
                                 process, public_message)

router = APIRouter(prefix="/v1", tags=["分组 grouping"])
WRITERS = ("hospital", "coder", "payer")
ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 422: {"model": ErrorOut}, 429: {"model": ErrorOut}}
#: Results returned inline for JSON batches up to this size.
INLINE_RESULTS = 1_000


@router.post("/group", response_model=GroupResponse, responses=ERRORS, summary="单份病案分组 group one record")
async def group_record(record: RecordIn, service: ServiceDep, principal: PrincipalDep,
                       validate: Annotated[bool, Query(description="同时质控：问题清单与分组解释 (findings, explanation)")] = False,
                       store: Annotated[bool, Query(description="保存为本院病例（同病案号替换旧版本并保留历史）")] = False,
                       payment: Annotated[bool, Query(description="计算预计支付（已加载权重与政策时）")] = True,
                       ) -> GroupResponse:
    """Group one front page (病案首页) and return the DRG, the reason, and — on request — validation
    findings and the explanation; the expected payment (预计支付) when weights and a policy are loaded.
    Nothing is stored unless ``store=true`` (hospital, coder and payer keys)."""
    if store:
        principal.require(*WRITERS)
    try:
        return group_one(service, principal, record.model_dump(exclude_none=True), validate=validate, store=store,
                         payment=payment)
    except UploadError as exc:
        raise HTTPException(422, str(exc)) from None


def _summary(run_id: str, summary: dict) -> BatchResponse:
    results = summary.get("results")
    return BatchResponse(run_id=run_id, state="done", n_records=summary["n_records"], stored=summary["stored"],
                         replaced=summary["replaced"],
                         repeated_in_upload=summary["repeated_in_upload"], by_status=summary["by_status"],
                         n_findings=summary["n_findings"],
                         results=results.to_pylist() if results is not None else None)


@router.post("/batches", response_model=BatchResponse, responses=ERRORS,
             summary="批量分组并保存（JSON）group and store a JSON batch")
def group_batch(body: BatchIn, service: ServiceDep, principal: PrincipalDep,
                validate: Annotated[bool, Query(description="同时质控并保存问题清单")] = False) -> BatchResponse:
    """Group (and validate) up to 100,000 records and store them as the hospital's cases; each
    (hospital, case_id) keeps one current version, earlier ones go to the history."""
    principal.require(*WRITERS)
    run_id = new_id("run")
    records = [r.model_dump(exclude_none=True) for r in body.records]
    try:
        summary = process(service, principal, json_batch(records, service.engine.grouper.pack), run_id, validate=validate,
                          keep_results=INLINE_RESULTS)
    except UploadError as exc:
        raise HTTPException(422, str(exc)) from None
    audit(service.db, principal, "upload", f"run:{run_id}")
    return _summary(run_id, summary)


@router.post("/batches/upload", response_model=BatchResponse, responses=ERRORS,
             summary="上传文件批量分组 upload a file (CSV, Parquet, Arrow, XLSX, JSONL)")
def upload_batch(service: ServiceDep, principal: PrincipalDep,
                 file: Annotated[UploadFile, File(description="病案文件 .parquet .csv .xlsx .jsonl .arrow")],
                 validate: Annotated[bool, Query(description="同时质控并保存问题清单")] = False,
                 background: Annotated[bool | None, Query(description="后台运行（默认：记录数超过阈值时）")] = None,
                 ) -> BatchResponse:
    """Upload a file of records.  Columns are recognised as ``drg group`` recognises them (Chinese
    headers, wide layouts).  Large files run as background jobs: poll ``/v1/jobs/{job_id}``, then
    download ``/v1/jobs/{job_id}/results``."""
    principal.require(*WRITERS)
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise HTTPException(422, f"文件类型 {suffix or '(无)'} 不支持 (unsupported file type); "
                                 f"use one of {', '.join(UPLOAD_SUFFIXES)}")
    settings = service.settings
    settings.job_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=settings.job_dir, suffix=suffix, delete=False) as tmp:
        while chunk := file.file.read(1 << 20):
            tmp.write(chunk)
    path = Path(tmp.name)
    try:
        total = count_records(path)
    except READ_ERRORS as exc:
        path.unlink(missing_ok=True)
        raise HTTPException(422, f"无法读取上传文件 (cannot read the upload): "
                                 f"{public_message(exc, path, file.filename)}") from None
    large = (total > settings.background_threshold if total is not None  # Parquet and Arrow state their rows
             else path.stat().st_size > settings.background_bytes)        # text and XLSX: judged by size
    if background or (background is None and large):
        job_id, run_id = service.jobs.submit(principal, path, validate)
        audit(service.db, principal, "upload", f"job:{job_id}")
        return BatchResponse(run_id=run_id, job_id=job_id, state="queued", n_records=total or 0)
    run_id = new_id("run")
    try:
        parts = batches(path, service.engine.grouper.pack)
        summary = process(service, principal, parts, run_id, validate=validate)
    except (UploadError, *READ_ERRORS) as exc:
        raise HTTPException(422, public_message(exc, path, file.filename)) from None
    finally:
        path.unlink(missing_ok=True)
    audit(service.db, principal, "upload", f"run:{run_id}")
    return _summary(run_id, summary)


def _job(service, principal, job_id: str) -> dict:
    with service.db.connect() as conn:
        job = conn.one("SELECT * FROM jobs WHERE job_id = ?", (job_id,))
    if job is None:
        raise HTTPException(404, NOT_FOUND)
    principal.check_hospital(job["hospital_id"])
    return job


@router.get("/jobs/{job_id}", response_model=JobStatus, responses={404: {"model": ErrorOut}, **ERRORS},
            summary="后台任务进度 job progress")
def job_status(job_id: str, service: ServiceDep, principal: PrincipalDep) -> JobStatus:
    job = _job(service, principal, job_id)
    total, done = job["total"], job["done"] or 0
    return JobStatus(job_id=job_id, run_id=job["run_id"], state=job["state"], total=total, done=done,
                     progress=1.0 if job["state"] == "done" else (done / total if total else 0.0),
                     message=job["message"],
                     results_url=f"/v1/jobs/{job_id}/results" if job["state"] == "done" else None)


@router.get("/jobs/{job_id}/results", responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}, **ERRORS},
            response_class=FileResponse, summary="下载分组结果 download a job's results")
def job_results(job_id: str, service: ServiceDep, principal: PrincipalDep,
                format: Annotated[str, Query(pattern="^(parquet|csv)$", description="parquet 或 csv")] = "parquet"):
    job = _job(service, principal, job_id)
    if job["state"] != "done" or not job["result_path"]:
        raise HTTPException(409, f"任务尚未完成 (job is {job['state']}); poll /v1/jobs/{job_id}")
    path = Path(job["result_path"])
    if format == "csv":
        path = csv_results(path)
    audit(service.db, principal, "download", f"job:{job_id}")
    return FileResponse(path, filename=f"{job_id}-results.{format}",
                        media_type="text/csv" if format == "csv" else "application/vnd.apache.parquet")
