"""``[lifecycle] deductions_to = "pool"``: the month runs' deductions go back to the DRG pool at the year run (issue 21),
a hand scenario to the fen against the default (to the reserve)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payment import PolicyError, run_settlement
from payment.deductions import Adjustment
from payment.ledger import Ledger
from payment_helpers import case, cases_frame, hospitals, policy, weights

D = Decimal
# budget 120,000.00, no reserve, no withhold, coefficients 1.0; two A01 cases (RW 1.0 = 100 points, cost = mean)
CASES = [case("a", "H1", "A01", "10000", "0", month=1), case("b", "H2", "A01", "10000", "0", month=1)]
LINE = Adjustment("deduction:F1", "deduction", "H2", "b", "测试市", "all", 100_000, True, "test")


def _year(to: str):
    pol = policy(budget=[{"insurance_type": "all", "amount": "120000.00"}], reserve={"share": "0"},
                 monthly={"withhold": "0"}, coefficients={"levels": {"1": "1", "2": "1", "3": "1"}},
                 lifecycle={"deductions_to": to})
    h, w = hospitals(pol, [("H1", 2), ("H2", 2)]), weights([("A01", "1.0", "10000.00")])
    frame = cases_frame(CASES)
    month = run_settlement(frame, w, pol, h, "month", "2024-01", ledger=Ledger(), adjustments=[LINE], applied={})
    applied = {a.adjustment_id: a for a in month.adjustments}
    year = run_settlement(frame, w, pol, h, "year", "2024", ledger=month.ledger, adjustments=[], applied=applied)
    return month, year


@pytest.mark.parametrize("to, standard, reserve_in, pooled", [
    # reserve: January shares 120,000 ÷ 12 = 10,000.00 over 200 points → 5,000.00 a case; H2 paid 5,000 − 1,000.
    # The year shares 120,000.00 → 60,000.00 a case; H2's annual due 60,000 − 1,000 = 59,000.00, the 1,000.00 in
    # the reserve.
    ("reserve", D("60000.00"), D("1000.00"), None),
    # pool: the year shares 120,000 + 1,000 = 121,000.00 → 60,500.00 a case; H2 60,500 − 1,000 = 59,500.00
    ("pool", D("60500.00"), D("0.00"), D("1000.00")),
])
def test_month_deductions_to_reserve_or_pool(to, standard, reserve_in, pooled):
    month, year = _year(to)
    paid = {r["hospital_id"]: r["paid"] for r in month.tables["hospitals"].to_pylist()}
    assert paid == {"H1": D("5000.00"), "H2": D("4000.00")}
    rows = {r["hospital_id"]: r for r in year.tables["hospitals"].to_pylist()}
    assert rows["H1"]["drg_fund"] == rows["H2"]["drg_fund"] == standard
    assert rows["H1"]["annual_due"] == standard and rows["H2"]["annual_due"] == standard - D("1000.00")
    # balance = annual due − paid in January: H1 standard − 5,000.00; H2 (standard − 1,000) − 4,000.00
    assert rows["H1"]["balance"] == rows["H2"]["balance"] == standard - D("5000.00")
    lines = {r["line"]: r["amount"] for r in year.tables["reconciliation"].to_pylist()}
    assert lines["lifecycle_deduction"] == reserve_in and lines["reserve_balance"] == reserve_in
    assert lines.get("lifecycle_to_pool") == pooled
    assert lines["drg_fund"] == 2 * standard  # Σ DRG fund = distributable (+ the pooled deductions)


def test_pool_needs_a_shared_budget():
    with pytest.raises(PolicyError, match=r"\[lifecycle\] deductions_to"):
        policy(point_value={"mode": "fixed", "value": "100"}, lifecycle={"deductions_to": "pool"})
