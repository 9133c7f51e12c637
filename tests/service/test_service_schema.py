"""schemathesis against the service's OpenAPI schema: no server errors, no response that breaks the schema.

Runs with a payer key (every route open to it) on DuckDB, after a small upload so that reads
find data.  Examples per operation are few to keep CI short; the checks are schemathesis's
``not_a_server_error``, ``status_code_conformance``, ``content_type_conformance`` and
``response_schema_conformance``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from api.service.app import create_app
from api.service.auth import create_key
from api.service.settings import Settings
from service_helpers import POLICY, month_records, records_json, write_test_weights

TMP = Path(tempfile.mkdtemp(prefix="drg-fuzz-"))
APP = create_app(Settings(database_url=f"duckdb:///{TMP / 'db.duckdb'}", weights=write_test_weights(TMP / "w.parquet"),
                          policy=POLICY, job_dir=TMP / "jobs", rate_limit_per_s=0))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def payer_headers():
    with TestClient(APP) as client:           # runs the lifespan: database, pack, weights, policy
        key = create_key(APP.state.service.db, "payer")[1]
        headers = {"Authorization": f"Bearer {key}"}
        r = client.post("/v1/batches", headers=headers, json={"records": records_json(month_records("H001", 20, 1))})
        assert r.status_code == 200
        yield headers
    shutil.rmtree(TMP, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_conformance(case, payer_headers):
    case.call_and_validate(headers=payer_headers, checks=[not_a_server_error, status_code_conformance,
                                                          content_type_conformance, response_schema_conformance])
