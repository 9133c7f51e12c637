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


def settle_period(workload, kind: str, period: str):
    cases, weights, policy, hospitals = workload
    prepared = prepare_cases(cases, weights, policy, hospitals, Period.parse(period))
    return settle(prepared, policy, hospitals, kind, Period.parse(period))


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
