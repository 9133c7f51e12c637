"""pytest-benchmark cases for the settlement (targets in the issue notes, never asserted).

The workload is synthetic and needs no reference data: grouped cases over 500 hospitals and 600 DRGs
(5% of them without a weight), costs around the DRG means, discharges across 2024.  Each case also
checks the result (Σ DRG fund payments = distributable budget), so a fast wrong settlement cannot pass.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from payment import Period, load_policy, prepare_cases, read_hospitals, settle
from payment.engine import ledger_entries
from payment.ledger import Ledger
from payment.policy import CorridorBand
from payment.run import EXAMPLE_POLICY
from weights import WeightMeta, WeightTable

ROWS = 200_000
HOSPITALS = 500
DRGS = 600


def payment_workload(rows: int, seed: int = 0):
    """(cases table, weight table, policy, hospitals) of a province-year of ``rows`` cases."""
    rng = np.random.default_rng(seed)
    codes = [f"D{i:03d}" for i in range(DRGS)]
    rw = np.round(rng.lognormal(0.0, 0.7, DRGS).clip(0.2, 30), 4)
    weighted = rng.random(DRGS) > 0.05
    weights = WeightTable(WeightMeta("bench-weights"), pd.DataFrame({
        "drg": [c for c, w in zip(codes, weighted) if w],
        "rw": [Decimal(f"{r:.4f}") for r, w in zip(rw, weighted) if w],
        "mean_cost": [Decimal(f"{r * 17000:.2f}") for r, w in zip(rw, weighted) if w]}).astype(object))
    drg = rng.integers(0, DRGS, rows)
    cost = np.round(rw[drg] * 17000 * rng.lognormal(0, 0.5, rows), 2)
    hospital_ids = [f"H{i:04d}" for i in range(1, HOSPITALS + 1)]
    dates = pa.array([f"2024-{m:02d}-15" for m in range(1, 13)])
    status = pa.DictionaryArray.from_arrays(pa.array(rng.choice(3, rows, p=[0.97, 0.02, 0.01]).astype(np.int32)),
                                            pa.array(["ok", "ungroupable", "invalid"]))
    cases = pa.table({
        "case_id": pc.binary_join_element_wise("B", pa.array(np.arange(rows).astype(str)), ""),
        "hospital_id": pa.array(hospital_ids).take(pa.array(rng.integers(0, HOSPITALS, rows))),
        "drg": pa.DictionaryArray.from_arrays(pa.array(drg.astype(np.int32)), pa.array(codes)),
        "status": status,
        "total_cost": pa.array(cost),
        "patient_paid": pa.array(np.round(cost * 0.25, 2)),
        "los_days": pa.array(rng.integers(1, 40, rows)),
        "discharge_date": dates.take(pa.array(rng.integers(0, 12, rows))),
        "insurance_type": pa.array(["310", "390"]).take(pa.array(rng.integers(0, 2, rows))),
        "dept": pa.array([f"科室{i:02d}" for i in range(20)]).take(pa.array(rng.integers(0, 20, rows))),
    })
    policy = load_policy(EXAMPLE_POLICY)
    scale = Decimal(rows) / 6696  # the example budgets are for the 6,696 golden cases of 2024
    policy = dataclasses.replace(policy, budgets=tuple(
        dataclasses.replace(b, amount_fen=int(b.amount_fen * scale)) for b in policy.budgets))
    hospitals = read_hospitals(pd.DataFrame({"hospital_id": hospital_ids,
                                             "level": [str(1 + i % 3) for i in range(HOSPITALS)]}), policy)
    return cases, weights, policy, hospitals


def settle_period(workload, kind: str, period: str, ledger: Ledger | None = None):
    cases, weights, policy, hospitals = workload
    prepared = prepare_cases(cases, weights, policy, hospitals, Period.parse(period))
    return settle(prepared, policy, hospitals, kind, Period.parse(period), ledger=ledger)


def with_year_end_rules(workload, fixed: bool = True):
    """The workload with every combinable rule of issue 18 on: corridor bands that say how they pay (the quoted
    rules, excess from the standard), a total for every hospital and a minimum volume for every seventh,
    half-yearly release, the balance carried into June of next year; and the coefficient on the fund amount
    at a fixed point value (``fixed``) or, the other combination, on the standard rescaled to the budget."""
    cases, weights, policy, hospitals = workload
    bands = (CorridorBand(9000, "cost_plus_reward", True, 0, 5000, None), CorridorBand(11000, "standard", True, 0,
                                                                                       None, None),
             CorridorBand(12000, "excess", True, 5000, None, None), CorridorBand(None, "capped", False, 0, None, None))
    per_hospital = sum(b.amount_fen for b in policy.budgets) // len(hospitals.ids)
    rules = dataclasses.replace(
        policy, corridor=tuple((b.upto_u, b.fund_share_u) for b in bands), corridor_pay=bands,
        excess_from="standard", coefficient_applies_to="fund" if fixed else "standard",
        point_value_fixed=(241_000_000, 10**8) if fixed else None, provisional=(241_000_000, 10**8) if fixed else None,
        release_schedule="half", carry_balance=True, carry_from_month=6,
        totals_over="share", totals_fund_share_u=5000, min_case_deduction_fen=1)
    limits = dataclasses.replace(hospitals, totals_fen={h: per_hospital for h in hospitals.ids},
                                 min_cases={h: 1_000_000 for h in hospitals.ids[::7]})
    return cases, weights, rules, limits


def months_ledger(workload, upto: int) -> Ledger:
    """Last year cleared (a carried balance per account) and the month runs 1 … ``upto`` recorded."""
    _, _, policy, hospitals = workload
    ledger = Ledger(tuple({"run": "2023", "hospital_id": h, "region": policy.region, "insurance_type": t,
                           "provisional": 0, "withheld": 0, "event_fund": 0, "paid": 0, "released": 0,
                           "carried_in": 0, "deducted": 0, "carried_out": 12345 * (i + 1), "release_period": ""}
                          for i, h in enumerate(hospitals.ids) for t in ("310", "390")))
    for m in range(1, upto + 1):
        ledger = record(settle_period(workload, "month", f"2024-{m:02d}", ledger))
    return ledger


def record(settlement) -> Ledger:
    return settlement.ledger.record(str(settlement.period), ledger_entries(settlement))


@pytest.fixture(scope="module")
def workload():
    return payment_workload(ROWS)


def test_settle_year(benchmark, workload):
    settlement = benchmark(settle_period, workload, "year", "2024")
    n_funds = len(settlement.cases.funds)
    for f, (_, _, distributable) in settlement.budgets.items():
        assert int(settlement.accounts["drg_fund"][f::n_funds].sum()) == distributable


def test_settle_month(benchmark, workload):
    settlement = benchmark(settle_period, workload, "month", "2024-03")
    assert (settlement.accounts["paid"] <= settlement.accounts["provisional"] + settlement.accounts["event_fund"]).all()


@pytest.fixture(scope="module")
def rules_workload(workload):
    rules = with_year_end_rules(workload)
    return rules, months_ledger(rules, 12)


def test_settle_year_with_year_end_rules(benchmark, rules_workload):
    rules, ledger = rules_workload
    settlement = benchmark(lambda: settle_period(rules, "year", "2024", ledger))
    assert settlement.accounts["total_deduction"].any() and (settlement.accounts["released_before"] > 0).all() == \
        (settlement.accounts["withheld"] > 0).all()


def test_settle_release_month_with_year_end_rules(benchmark, rules_workload):
    rules, ledger = rules_workload
    june = Ledger(tuple(e for e in ledger.entries if e["run"] < "2024-06"))
    settlement = benchmark(lambda: settle_period(rules, "month", "2024-06", june))
    assert settlement.releases and settlement.accounts["carried_in"].any()
