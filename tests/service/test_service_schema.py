"""schemathesis against the service's OpenAPI schema, on DuckDB and PostgreSQL: no server error, ever.

Runs with a payer key (every route open to it), after a small upload so that reads find data, with
schemathesis's full default checks (server errors, status codes, content types, response schemas,
headers, Allow on 405, schema-violating requests refused) but one: ``positive_data_acceptance``
expects every schema-valid request to succeed, and some refusals are domain rules a JSON schema
cannot state (an upload's file type is its name's suffix; an empty upload holds no record; no text
may hold a NUL character), answered 4xx by design.  Examples per operation are few to keep CI short;
``DRG_FUZZ_EXAMPLES`` raises them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from api.service.app import create_app
from api.service.settings import Settings
from service_helpers import BACKENDS, close_client, make_client, month_records, records_json

EXAMPLES = int(os.environ.get("DRG_FUZZ_EXAMPLES", "12"))


@pytest.fixture(scope="module", params=BACKENDS)
def fuzzed(request, tmp_path_factory):
    c, schema = make_client(tmp_path_factory.mktemp(f"fuzz-{request.param}"), request.param)
    r = c.post("/v1/batches", "payer", json={"records": records_json(month_records("H001", 20, 1))})
    assert r.status_code == 200
    c.headers = c.as_("payer")
    yield c
    close_client(c, request.param, schema)


SCHEMA_ONLY = Settings(database_url="duckdb:///:memory:", job_dir=Path(tempfile.gettempdir()) / "drg-fuzz-schema")
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(SCHEMA_ONLY))  # calls go to `fuzzed`


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_conformance(case, fuzzed):
    case.call_and_validate(headers=fuzzed.headers, excluded_checks=[positive_data_acceptance], app=fuzzed.client.app)
