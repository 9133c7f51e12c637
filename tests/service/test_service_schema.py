"""schemathesis against the service's OpenAPI schema: no server errors, no response that breaks the schema.

Runs with a payer key (every route open to it) on DuckDB, after a small upload so that reads
find data.  Examples per operation are few to keep CI short; the checks are schemathesis's
``not_a_server_error``, ``status_code_conformance``, ``content_type_conformance`` and
``response_schema_conformance``.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from service_helpers import close_client, make_client, month_records, records_json


@pytest.fixture(scope="module")
def service_client(tmp_path_factory):
    c, schema = make_client(tmp_path_factory.mktemp("fuzz"), "duckdb")
    assert c.post("/v1/batches", "payer", json={"records": records_json(month_records("H001", 20, 1))}).status_code == 200
    yield c
    close_client(c, "duckdb", schema)


@pytest.fixture(scope="module")
def api_schema(service_client):
    return schemathesis.openapi.from_asgi("/openapi.json", service_client.client.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_conformance(case, service_client):
    case.call_and_validate(headers=service_client.as_("payer"),
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])
