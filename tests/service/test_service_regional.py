"""The service with a regional pack whose rules read ICU hours (foshan-2022): a record's ``icu_hours`` is
taken, stored and grouped as ``drg group`` groups it (the golden expectation)."""

from __future__ import annotations

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from reference_data import GOLDEN, TABLES, require_shared
from service_helpers import BACKENDS, close_client, make_client


@pytest.fixture(params=BACKENDS)
def foshan(request, tmp_path):
    require_shared(GOLDEN)
    c, schema = make_client(tmp_path, request.param, pack=str(TABLES / "foshan-2022"))
    yield c
    close_client(c, request.param, schema)


def test_icu_hours_reach_the_regional_rules(foshan):
    golden = pq.read_table(GOLDEN / "foshan-2022.parquet")
    with_icu = golden.filter(pc.greater(golden["icu_hours"], 0)).slice(0, 40).to_pylist()
    mismatches = []
    for row in with_icu:
        record = {k: v for k, v in row.items() if not k.startswith("expected_") and v is not None}
        record["hospital_id"] = "H001"
        r = foshan.post("/v1/group?store=true", "hospital", json=record)
        assert r.status_code == 200, r.text
        result = r.json()["result"]
        if (result["drg"], result["status"]) != (row["expected_drg"], row["expected_status"]):
            mismatches.append((row["case_id"], row["icu_hours"], result["drg"], row["expected_drg"]))
    assert not mismatches
    stored = foshan.get(f"/v1/hospitals/H001/cases/{with_icu[0]['case_id']}", "hospital")
    assert stored.status_code == 200 and stored.json()["case"]["icu_hours"] == with_icu[0]["icu_hours"], stored.text
