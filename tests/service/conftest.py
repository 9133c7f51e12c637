"""Fixtures of the service tests (helpers in service_helpers.py)."""

from __future__ import annotations

import pytest

from service_helpers import BACKENDS, close_client, make_client, month_records, records_json


@pytest.fixture(params=BACKENDS)
def api(request, tmp_path):
    """A fresh service per test, on each backend."""
    c, schema = make_client(tmp_path, request.param)
    c.backend = request.param
    yield c
    close_client(c, request.param, schema)


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(request, tmp_path_factory):
    """One service per module and backend, with H001 and H002 March 2024 cases uploaded and a month run."""
    tmp = tmp_path_factory.mktemp(f"svc-{request.param}")
    c, schema = make_client(tmp, request.param)
    c.backend = request.param
    for hospital, seed in (("H001", 1), ("H002", 2)):
        r = c.post("/v1/batches?validate=true", "payer", json={"records": records_json(month_records(hospital, 60, seed))})
        assert r.status_code == 200, r.text
    r = c.post("/v1/settlements", "payer", json={"kind": "month", "period": "2024-03"})
    assert r.status_code == 201, r.text
    c.run_id = r.json()["run_id"]
    yield c
    close_client(c, request.param, schema)
