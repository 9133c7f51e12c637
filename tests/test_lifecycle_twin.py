"""Deductions against the plain-Python twin: month runs and the year run through the run ledger with random
deduction and recovery lines give, account by account, the year statement that tests/naive_settlement.py computes
from the cases and the lines applied (issue 21)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import naive_settlement as naive
from payment import run_settlement
from payment.deductions import Adjustment
from payment.ledger import Ledger
from payment_helpers import cases_frame, hospitals, naive_hospitals, naive_weights, policy, weights
from test_payment_properties import HOSPITALS, WEIGHTS, scenario

FUNDS = [("HA", "310"), ("HA", "390"), ("HB", "310"), ("HB", "390"), ("HC", "310"), ("HC", "390")]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(), st.lists(st.tuples(st.sampled_from(FUNDS), st.integers(0, 13), st.integers(0, 5_000_00),
                                      st.booleans()), max_size=8), st.sampled_from(["reserve", "pool"]))
def test_deductions_match_the_twin(data, lines, deductions_to):
    cases, changes, scores, _, _ = data
    pol = policy(**changes, lifecycle={"deductions_to": deductions_to})
    h = hospitals(pol, HOSPITALS)
    w = weights(WEIGHTS)
    frame = cases_frame(cases)
    ledger, applied = Ledger(), {}
    # month 13 stands for the year run; a recovery (not sticky) is offered in the month runs only
    offered = [Adjustment(f"line:{k}", "deduction" if sticky or m == 13 else "recovery", hid, f"c{k}", "测试市", ins,
                          amount, sticky or m == 13, "test") for k, ((hid, ins), m, amount, sticky) in enumerate(lines)]
    for m in sorted({c["month"] for c in cases}):
        run = run_settlement(frame, w, pol, h, "month", f"2024-{m:02d}", ledger=ledger,
                             adjustments=[a for a, (_, mm, _, _) in zip(offered, lines) if mm == m], applied=applied)
        ledger = run.ledger
        applied.update({a.adjustment_id: a for a in run.adjustments})
    year = run_settlement(frame, w, pol, h, "year", "2024", scores=scores, ledger=ledger,
                          adjustments=[a for a, (_, mm, _, _) in zip(offered, lines) if mm == 13], applied=applied)
    taken: dict = {}
    for a in list(applied.values()) + year.adjustments:
        t = taken.setdefault((a.hospital_id, ("测试市", a.insurance_type)), {"months": {}, "year": 0, "sticky_months": 0})
        if a.run == "2024":
            t["year"] += a.amount_fen
        else:
            month = int(a.run[5:])
            t["months"][month] = t["months"].get(month, 0) + a.amount_fen
            t["sticky_months"] += a.amount_fen if a.sticky else 0
    pool = {}
    if deductions_to == "pool":  # the month runs' deductions (not recoveries) back to the year's pool
        for a in applied.values():
            if a.kind == "deduction":
                pool[("测试市", a.insurance_type)] = pool.get(("测试市", a.insurance_type), 0) + a.amount_fen
    _, accounts, _, _ = naive.settle_year(cases, pol, naive_hospitals(h), naive_weights(w), scores, deductions=taken,
                                          pool=pool)
    for row in year.tables["hospitals"].to_pylist():
        expected = accounts[(row["hospital_id"], (row["region"], row["insurance_type"]))]
        for name in ("drg_fund", "annual_due", "monthly_paid", "balance"):
            assert int(row[name] * 100) == expected[name], name
    # every line offered to a run with the account is applied once; the ledger holds them all
    assert sum(e["deducted"] for e in year.ledger.entries) == sum(a.amount_fen for a in applied.values()) + sum(
        a.amount_fen for a in year.adjustments)
