"""Service settings (服务配置): one pydantic-settings class, read from ``DRG_SERVICE_*`` environment variables.

``drg serve`` writes its options into these variables, so that every worker process of a
multi-worker server reads the same settings.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict



class Settings(BaseSettings):
    """What the service loads and where it keeps its data.

    Attributes
    ----------
    database_url : str
        ``duckdb:///path/file.duckdb`` (default: ``drg-service.duckdb`` in the working folder, one
        process) or ``postgresql://user:password@host:5432/db`` (several workers).
    database_schema : str
        PostgreSQL schema the tables live in (created when absent); ignored by DuckDB.
    pack : str
        Definition pack (name or folder) loaded at start-up; default the configured one
        (``drg packs default``, ``$DRG_PACK``).
    weights, policy, hospitals : Path, optional
        Weight table (.parquet or published .csv), payment policy (.toml) and hospital table;
        with weights and a policy the service computes expected payments and runs settlements.
    secret_key : str, optional
        Key that signs sign-in tokens; by default a random key kept in the database, shared by workers.
    token_ttl_s : int
        Lifetime of a sign-in token (seconds).
    max_upload_mb : int
        Largest request body accepted (413 above it).
    body_timeout_s : float
        A client that sends no part of its body for this long gets 408 (slow clients hold no worker).
    rate_limit_per_s, rate_burst : float
        Requests per second per credential and burst size (429 above them; 0 turns the limit off).
    failed_sign_ins_per_min : float
        Failed sign-ins accepted per client address and minute (each one an audit-log line); past
        that the address gets 429 and writes nothing until its allowance refills.
    background_threshold : int
        Batches with more records than this run as background jobs.
    background_bytes : int
        Uploads that do not state their record count (CSV, XLSX, JSON Lines) run as background jobs
        when larger than this many bytes (default 32 MiB, about 150,000 CSV records).
    job_dir : Path
        Where uploads of background jobs and their results are kept.
    job_heartbeat_s, job_stale_s : float
        A process renews the heartbeat of its jobs every ``job_heartbeat_s``; a queued or running job
        whose heartbeat is older than ``job_stale_s`` lost its process and is marked failed.
    job_files_max_age_s : float
        Files in ``job_dir`` that no live job and no finished job's results need (a killed job's
        upload and partial results) are removed once older than this.
    """

    model_config = SettingsConfigDict(env_prefix="DRG_SERVICE_", extra="ignore")

    database_url: str = "duckdb:///drg-service.duckdb"
    database_schema: str = "public"
    pack: str | None = None
    weights: Path | None = None
    policy: Path | None = None
    hospitals: Path | None = None
    secret_key: str | None = None
    token_ttl_s: int = Field(900, gt=0)
    max_upload_mb: int = Field(512, gt=0)
    body_timeout_s: float = Field(30.0, gt=0)
    rate_limit_per_s: float = Field(200.0, ge=0)
    rate_burst: float = Field(400.0, ge=0)
    failed_sign_ins_per_min: float = Field(10.0, gt=0)
    background_threshold: int = Field(200_000, ge=0)
    background_bytes: int = Field(32 * 2**20, ge=0)
    job_dir: Path = Path("drg-service-jobs")
    job_heartbeat_s: float = Field(10.0, gt=0)
    job_stale_s: float = Field(120.0, gt=0)
    job_files_max_age_s: float = Field(86_400.0, ge=0)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))


__all__ = ["Settings"]
