"""One run of the case life cycle: the cases the book says, the pending deductions and recoveries, the
settlement against the ledger, and everything recorded once (used by tests, the CLI and the service)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from payment.deductions import Adjustment, pending
from payment.inputs import Hospitals
from payment.ledger import Ledger
from payment.lifecycle import CaseBook
from payment.policy import Policy
from payment.run import Run, run_settlement
from weights import WeightTable


@dataclass
class CycleRun:
    """A run of the cycle: the settlement :class:`~payment.run.Run`, its ledger and the lines it applied."""

    run: Run | None  # None: a month with no accepted case closed without a settlement
    ledger: Ledger
    applied: dict[str, Adjustment]


def settle_cycle(book: CaseBook, records: pa.Table, kind: str, period: str, on: date, weights: WeightTable,
                 policy: Policy, hospitals: Hospitals, ledger: Ledger, applied: dict[str, Adjustment],
                 flags=(), scores: dict[str, int] | None = None) -> CycleRun:
    """Settle ``period`` (``month`` or ``year``) from the case book and record it in the book and the ledger.

    Parameters
    ----------
    book : CaseBook
        Updated in place: payment states, closed month or cleared year.
    records : pyarrow.Table
        Every stored version of the records (``version`` column) or the current ones.
    on : date
        The day of the run.
    ledger : Ledger
    applied : dict
        Adjustment id → applied line, before this run.
    flags : iterable of dict
        Decided audit flags (see :func:`payment.deductions.pending`).

    Returns
    -------
    CycleRun
        With the ledger and the applied lines after this run (the inputs are not changed).

    Raises
    ------
    payment.ledger.LedgerError, payment.PaymentInputError
        As :func:`payment.run.run_settlement`; nothing is recorded then.
    """
    cases = book.run_cases(records, kind, period, policy.period_by)
    if kind == "month" and not cases.num_rows:  # nothing accepted for the month: it closes, nothing is paid
        book.closed.setdefault(period, on)
        return CycleRun(None, ledger, dict(applied))
    lines = pending(book, flags, applied, kind, period)
    run = run_settlement(cases, weights, policy, hospitals, kind, period, scores=scores, ledger=ledger,
                         adjustments=lines, applied=applied)
    book.record_run(kind, period, on, run.settlement, run.adjustments)
    return CycleRun(run, run.ledger, {**applied, **{a.adjustment_id: a for a in run.adjustments}})


__all__ = ["CycleRun", "settle_cycle"]
