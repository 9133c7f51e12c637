"""Helpers of the service tests: an app on DuckDB or PostgreSQL, keys for every role, example data.

PostgreSQL: ``DRG_TEST_DATABASE_URL`` (``.ci/run`` starts a server and sets it), default
``postgresql://drg_test:drg_test@127.0.0.1:5432/drg_test``; when no server answers, the
PostgreSQL variants skip with the reason shown.  Each app gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from grouper import Grouper
from icd_tables.sample import sample_records
from weights import WeightMeta, WeightTable

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "payment" / "policies" / "example.toml"
PG_URL = os.environ.get("DRG_TEST_DATABASE_URL", "postgresql://drg_test:drg_test@127.0.0.1:5432/drg_test")
BACKENDS = ("duckdb", "postgresql")


def postgres_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None."""
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure to connect means: skip, saying why
        return f"PostgreSQL not reachable at {PG_URL.split('@')[-1]} ({type(exc).__name__}: {str(exc)[:120]})"
    return None


def rw_of(k: int) -> Decimal:
    """Test RW of the k-th DRG of the pack: 0.5 + 0.25 k (hand-set, not a calibration)."""
    return Decimal("0.5") + Decimal("0.25") * k


def write_test_weights(path: Path) -> Path:
    codes = [c for c in Grouper().pack.compiled.drg_codes.to_pylist() if c and c != "0000"]
    frame = pd.DataFrame({"drg": codes, "rw": [rw_of(k) for k in range(len(codes))]})
    WeightTable(WeightMeta("test-weights", region="示例市", year=2024), frame).write(path)
    return path


def month_records(hospital: str, n: int, seed: int, month: str = "2024-03") -> pd.DataFrame:
    """``n`` generated records of ``hospital`` discharged in ``month`` (ids ``<hospital>-<seed>-<i>``)."""
    frame = sample_records(Grouper().pack.compiled, n, seed=seed)
    frame["hospital_id"] = hospital
    frame["case_id"] = [f"{hospital}-{seed}-{i:04d}" for i in range(n)]
    days = (pd.Series(range(n)) % 28 + 1).map(lambda d: f"{month}-{d:02d}")
    frame["discharge_date"] = days
    frame["admit_date"] = days
    frame["los_days"] = 1
    frame["dept"] = ["内科" if i % 2 else "外科" for i in range(n)]
    return frame


def records_json(frame: pd.DataFrame) -> list[dict]:
    out = []
    for row in frame.to_dict("records"):
        out.append({k: (None if (v is None or (isinstance(v, float) and v != v) or v is pd.NA) else
                        (int(v) if hasattr(v, "item") and not isinstance(v, float) else v)) for k, v in row.items()})
    return [{k: v for k, v in r.items() if v is not None} for r in out]


class Client:
    """A TestClient with one credential per role (``as_(role)``)."""

    def __init__(self, client, keys: dict[str, str], service):
        self.client, self.keys, self.service = client, keys, service

    def as_(self, who: str | None) -> dict:
        return {"Authorization": f"Bearer {self.keys[who]}"} if who else {}

    def get(self, url, who, **kw):
        return self.client.get(url, headers=self.as_(who), **kw)

    def post(self, url, who, **kw):
        return self.client.post(url, headers=self.as_(who), **kw)


def make_client(tmp_path: Path, backend: str, **settings):
    from fastapi.testclient import TestClient

    from api.service.app import create_app
    from api.service.auth import create_key
    from api.service.settings import Settings

    schema = "public"
    if backend == "postgresql":
        reason = postgres_reason()
        if reason:
            pytest.skip(reason)
        url, schema = PG_URL, f"t_{secrets.token_hex(5)}"
    else:
        url = f"duckdb:///{tmp_path / 'service.duckdb'}"
    defaults = dict(database_url=url, database_schema=schema, weights=write_test_weights(tmp_path / "weights.parquet"),
                    policy=POLICY, job_dir=tmp_path / "jobs", rate_limit_per_s=0)
    app = create_app(Settings(**{**defaults, **settings}))
    client = TestClient(app, raise_server_exceptions=False)
    client.__enter__()
    service = app.state.service
    keys = {}
    for who, role, hospital in (("payer", "payer", None), ("auditor", "auditor", None), ("hospital", "hospital", "H001"),
                                ("coder", "coder", "H001"), ("other", "hospital", "H002")):
        keys[who] = create_key(service.db, role, hospital)[1]
    return Client(client, keys, service), schema


def close_client(c: Client, backend: str, schema: str) -> None:
    c.client.__exit__(None, None, None)
    if backend == "postgresql":
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


