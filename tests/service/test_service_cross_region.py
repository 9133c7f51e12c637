"""异地就医 through the service (issue 22): the insured region and the unfiled referral are stored with the case
(migration 8) and a settlement reads them, so an inbound case is paid from its clearing fund as on the command
line; on DuckDB and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from service_helpers import BACKENDS, POLICY, close_client, make_client, month_records, records_json

CROSS_REGION = """
[cross_region]
pool = "outside"
reference_value = "95.00"
difference = "reserve"

[cross_region.benefits.320100]
rules = [ { insurance_type = "all", deductible = "0", ratio = "0.80", annual_cap = "300000.00" } ]
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_inbound_case_is_stored_with_its_insured_region_and_paid_from_its_clearing_fund(tmp_path, backend):
    text = POLICY.read_text(encoding="utf-8").replace(
        'hospitals = "example-hospitals.csv"', f'hospitals = "{(POLICY.parent / "example-hospitals.csv").as_posix()}"')
    policy = tmp_path / "cross.toml"
    policy.write_text(text + CROSS_REGION, encoding="utf-8")
    api, schema = make_client(tmp_path, backend, policy=policy)
    try:
        records = month_records("H001", 6, seed=21)
        records["insured_region"] = ["320100", "320100", None, None, "示例市", None]
        records["out_of_area_unreferred"] = ["1", None, None, None, None, None]
        r = api.post("/v1/batches", "payer", json={"records": records_json(records)})
        assert r.status_code == 200, r.text
        stored = api.get("/v1/hospitals/H001/cases/H001-21-0000", "hospital").json()["case"]
        assert (stored["insured_region"], stored["out_of_area_unreferred"]) == ("320100", "1")

        r = api.post("/v1/settlements", "payer", json={"kind": "month", "period": "2024-03"})
        assert r.status_code == 201, r.text
        lines = {x["case_id"]: x for x in api.get(f"/v1/settlements/{r.json()['run_id']}/lines", "hospital").json()["lines"]}
        inbound = [lines[f"H001-21-{i:04d}"] for i in (0, 1)]
        local = [lines[f"H001-21-{i:04d}"] for i in (2, 3, 4, 5)]  # 示例市 is the policy's own region: local
        paid = [x for x in inbound if x["fund_payment"] is not None and Decimal(x["fund_payment"]) > 0]
        assert paid, inbound
        # outside the pool: an inbound DRG case is priced at the reference value, 95 元 per point
        assert all(Decimal(x["point_value"]) == Decimal("95") for x in paid if x["point_value"] is not None)
        assert all(x["point_value"] is None or Decimal(x["point_value"]) != Decimal("95") for x in local)
    finally:
        close_client(api, backend, schema)
