"""The run ledger (结算台账) in the service's database, on DuckDB and PostgreSQL.

The half-yearly release scenario of issue 18 settled month by month through the service gives, entry for
entry, the ledger that ``drg settle … --ledger`` writes for the same cases; the release amounts are checked by
hand against the recorded withholds; a re-run with the same figures changes nothing and one that contradicts
the ledger answers 409 naming the entry.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from api.cli.main import main
from api.service.routers.settlements import SETTLE_INPUT
from payment.ledger import COLUMNS, read_ledger
from service_helpers import BACKENDS, POLICY, close_client, make_client, month_records, records_json

HOSPITALS = ("H001", "H002")
# 考核得分: first half 95 (band share 1) for both; second half H001 70 (band share 0.7), H002 95
SCORES = {6: {"H001": "95", "H002": "95"}, 12: {"H001": "70", "H002": "95"}}


def half_yearly_policy(tmp_path):
    """The example policy with the withhold released every half year (June and December runs)."""
    text = POLICY.read_text(encoding="utf-8")
    assert 'schedule = "year"' in text and 'hospitals = "example-hospitals.csv"' in text
    text = text.replace('schedule = "year"', 'schedule = "half"', 1).replace(
        'hospitals = "example-hospitals.csv"', f'hospitals = "{(POLICY.parent / "example-hospitals.csv").as_posix()}"')
    path = tmp_path / "half.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(params=BACKENDS)
def half(request, tmp_path):
    policy = half_yearly_policy(tmp_path)
    c, schema = make_client(tmp_path, request.param, policy=policy)
    c.policy, c.tmp = policy, tmp_path
    for hospital in HOSPITALS:
        frames = [month_records(hospital, 3, seed=100 * m + (hospital == "H002"), month=f"2024-{m:02d}")
                  for m in range(1, 13)]
        r = c.post("/v1/batches", "payer", json={"records": records_json(pd.concat(frames, ignore_index=True))})
        assert r.status_code == 200, r.text
    yield c
    close_client(c, request.param, schema)


def settle(c, kind, period, scores=None):
    return c.post("/v1/settlements", "payer", json={"kind": kind, "period": period,
                                                    **({"scores": scores} if scores else {})})


def ledger_rows(c, who="payer", query=""):
    r = c.get(f"/v1/settlements/ledger{query}", who)
    assert r.status_code == 200, r.text
    return r.json()


def cli_ledger(c, tmp_path):
    """The same runs through ``drg settle`` on the service's stored cases, with a ledger file."""
    with c.service.db.connect() as conn:
        cases = conn.arrow(f"SELECT {', '.join(SETTLE_INPUT)} FROM cases ORDER BY hospital_id, case_id")
    tmp_path.mkdir()
    cases_path = tmp_path / "cases.parquet"
    cases.to_pandas().astype({"total_cost": str, "self_pay_cost": str, "patient_paid": str}).to_parquet(cases_path)
    ledger = tmp_path / "ledger.csv"
    weights = str(c.tmp / "weights.parquet")  # the service's weight table (service_helpers.make_client)
    for kind, period in [("month", f"2024-{m:02d}") for m in range(1, 13)] + [("year", "2024")]:
        extra = []
        if kind == "month" and int(period[5:]) in SCORES:
            scores = tmp_path / f"scores-{period}.csv"
            pd.DataFrame({"hospital_id": list(SCORES[int(period[5:])]),
                          "score": list(SCORES[int(period[5:])].values())}).to_csv(scores, index=False)
            extra = ["--scores", str(scores)]
        code = main(["settle", kind, str(cases_path), "--weights", weights, "--policy", str(c.policy), "--period",
                     period, "-o", str(tmp_path / f"run-{period}"), "--ledger", str(ledger), "--formats", "csv",
                     "--statements", "none", "--force", *extra])  # --force: the test weights name no pack region
        assert code == 0, period
    return read_ledger(ledger)


def test_half_yearly_release_through_the_service_gives_the_cli_ledger(half, tmp_path):
    for m in range(1, 13):
        r = settle(half, "month", f"2024-{m:02d}", SCORES.get(m))
        assert r.status_code == 201, r.text
    before = ledger_rows(half)
    assert settle(half, "month", "2024-06", SCORES[6]).status_code == 201  # the same figures: nothing changes
    assert ledger_rows(half) == before
    r = settle(half, "year", "2024")
    assert r.status_code == 201, r.text
    year_run = r.json()["run_id"]
    rows = ledger_rows(half)
    service = [{k: e[k] for k in COLUMNS} for e in rows]
    cli = [{k: str(v) for k, v in e.items()} for e in cli_ledger(half, tmp_path / "cli").rows()]
    assert service == cli and len(service) > 26

    # by hand, per fund of H001: June releases 100% of Jan–Jun's withhold (score 95), December ⌊70%⌋ of
    # Jul–Dec's (score 70); the year run releases nothing more
    def fen(e, k):
        return int(Decimal(e[k]) * 100)

    for fund in {e["insurance_type"] for e in rows if e["hospital_id"] == "H001"}:
        mine = {e["run"]: e for e in rows if e["hospital_id"] == "H001" and e["insurance_type"] == fund}
        first = sum(fen(mine[f"2024-{m:02d}"], "withheld") for m in range(1, 7) if f"2024-{m:02d}" in mine)
        second = sum(fen(mine[f"2024-{m:02d}"], "withheld") for m in range(7, 13) if f"2024-{m:02d}" in mine)
        assert fen(mine["2024-06"], "released") == first and mine["2024-06"]["release_period"] == "2024-01..2024-06"
        assert fen(mine["2024-12"], "released") == second * 7 // 10
        assert mine["2024"]["released"] == "0.00" and mine["2024"]["run_id"] == year_run
    assert any(fen(e, "released") for e in rows if e["run"] == "2024-12" and e["hospital_id"] == "H001")

    # a hospital reads its own entries only; the year filter
    own = ledger_rows(half, "hospital")
    assert own and {e["hospital_id"] for e in own} == {"H001"}
    assert ledger_rows(half, "auditor", "?year=2023") == []


def test_a_run_that_contradicts_the_ledger_answers_409(half):
    for m in (1, 2, 3):
        assert settle(half, "month", f"2024-{m:02d}").status_code == 201
    before = ledger_rows(half)
    # a March case corrected after March was paid: its re-run would pay other figures
    changed = month_records("H001", 3, seed=300, month="2024-03").assign(total_cost=99999.0)
    assert half.post("/v1/batches", "payer", json={"records": records_json(changed)}).status_code == 200
    r = settle(half, "month", "2024-03")
    assert r.status_code == 409, r.text
    assert "entry run 2024-03 hospital H001" in r.json()["detail"] and "/work" not in r.json()["detail"]
    assert ledger_rows(half) == before  # nothing recorded by the refused run
    bad = settle(half, "month", "2024-04", {"H999": "95"})  # a score of a hospital not in the table
    assert bad.status_code == 422 and "H999" in bad.json()["detail"] and ledger_rows(half) == before
