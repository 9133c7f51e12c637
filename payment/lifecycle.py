"""A case's life from upload to payment (病例全流程): two state dimensions per (hospital, case_id), with history.

Submission (申报) and payment (支付) move separately; every step is one history row (when, which
dimension, from → to, the period, a note), so the history is complete and the current state is its
last row.  Audit flags keep their own open → appealed → upheld/withdrawn life (:mod:`audit.appeals`);
an upheld flag becomes a deduction here (:mod:`payment.deductions`).

=================  ============  ==========================================================================
submission         中文           reached by
=================  ============  ==========================================================================
``submitted``      已申报          :meth:`CaseBook.submit` (a first upload, or a correction of an accepted case)
``returned``       退回修改        :meth:`CaseBook.review` finding a severity the policy names
                                  (``[lifecycle] return_severities``), or :meth:`CaseBook.return_case`
``resubmitted``    重新申报        :meth:`CaseBook.submit` of a returned case
``accepted``       已受理          :meth:`CaseBook.review` without such findings: the settlement period is fixed
``refused``        不予受理        :meth:`CaseBook.submit` too late (``late = "refuse"`` or past
                                  ``refuse_after_working_days``): final
=================  ============  ==========================================================================

=================  ============  ==========================================================================
payment            中文           reached by
=================  ============  ==========================================================================
``unpaid``         未结算          acceptance
``provisional``    月度预结        the month run of the case's period
``final``          年度清算        the year run of the period's year
``deducted``       已扣款          a deduction of an upheld flag applied in a run
``superseded``     已更正替代      a corrected version accepted after payment; the difference is settled in the
                                  next run (:meth:`CaseBook.adjustments_for`)
=================  ============  ==========================================================================

The settlement period is fixed at acceptance: the record's own month (``period_by`` month) when it was
uploaded by the deadline and that month is still open, otherwise the next open month after it.  A month
run settles only unpaid cases of its month, so nested month and year runs never pay a case twice; the year
run clears the current version of every case whose period lies in the year.  Dates are given by the
caller, never read from the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa

from foundation.workdays import CalendarError, WorkCalendar, read_calendar

SUBMISSION = {"submitted": "已申报", "returned": "退回修改", "resubmitted": "重新申报", "accepted": "已受理",
              "refused": "不予受理"}
PAYMENT = {"unpaid": "未结算", "provisional": "月度预结", "final": "年度清算", "deducted": "已扣款",
           "superseded": "已更正替代"}
SEVERITIES = ("fatal", "error", "warning", "info")
LATE = ("next_month", "refuse")
#: How a screen's deduction is measured (``[lifecycle.deductions.RULE] basis``).
DEDUCTION_BASES = ("settled_difference", "amount", "share")
#: Screens whose settled difference the payment knows: the second stay's fund payment, the difference to the
#: what-if DRG.
SETTLED_DIFFERENCE = ("SPLIT_READMISSION", "UPCODING_WHATIF")
BUNDLED_CALENDARS = Path(__file__).resolve().parent / "policies" / "calendars"


LATE_NOTE = "逾期申报 late upload"
REFUSED_NOTE = "逾期不予受理 refused: uploaded past the limit"


class LifecycleError(ValueError):
    """A step a case's state does not allow; the message names the case, its state and the allowed steps."""


@dataclass(frozen=True)
class DeductionRule:
    """How an upheld flag of one screen is deducted: the settled difference, an amount, or a share of the fund."""

    basis: str
    amount_fen: int = 0
    share_u: int = 0


@dataclass(frozen=True)
class LifecycleRules:
    """``[lifecycle]`` of the policy: returns, lateness, deadlines, the working-day calendar, deductions."""

    return_severities: tuple[str, ...] = ()
    late: str = "next_month"
    refuse_after_working_days: int = 0
    upload_day: int = 5
    review_working_days: int = 10
    payment_working_days: int = 7
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    deductions: dict[str, DeductionRule] = field(default_factory=dict)
    enabled: bool = False  # the policy has a [lifecycle] table: the service records every upload as a submission
    deductions_to: str = "reserve"  # "pool": the month runs' deductions back to the DRG pool at the year run

    def upload_deadline(self, month: str) -> date:
        """Last day (included) to upload the records of ``month`` (YYYY-MM): ``upload_day`` of the next month."""
        index = int(month[:4]) * 12 + int(month[5:7])
        return date(index // 12, index % 12 + 1, self.upload_day)

    def review_due(self, submitted_on: date) -> date:
        """Last day of the payer's review of a submission (``review_working_days`` working days after it)."""
        return self.calendar.add(submitted_on, self.review_working_days)

    def payment_due(self, month: str) -> date:
        """Last day to pay a month: its upload deadline + review window + ``payment_working_days`` working days."""
        return self.calendar.add(self.review_due(self.upload_deadline(month)), self.payment_working_days)


def parse_lifecycle(table, folder: Path) -> LifecycleRules:
    """Validate ``[lifecycle]`` (a table reader of :mod:`payment.policy`, which names the key in errors)."""
    enabled = bool(table.data)
    severities = table.get("return_severities", [])
    if not isinstance(severities, list) or any(s not in SEVERITIES for s in severities):
        table.fail("return_severities", f"{severities!r}: a list of {', '.join(SEVERITIES)} (退回修改的问题级别)")
    late = table.choice("late", LATE, "next_month")
    deductions_to = table.choice("deductions_to", ("reserve", "pool"), "reserve")
    refuse_after = _whole(table, "refuse_after_working_days", 0, 0)
    if late == "refuse" and refuse_after:
        table.fail("refuse_after_working_days", "only with late = \"next_month\" (逾期多少工作日不予受理)")
    name = table.get("calendar")
    calendar = WorkCalendar()
    if name is not None:
        if not isinstance(name, str) or not name.strip():
            table.fail("calendar", f"{name!r}: a calendar file (工作日历), e.g. \"calendars/china-2024.toml\"")
        # beside the policy, else bundled (payment/policies/calendars/…, named with or without the folder)
        candidates = [folder / name, BUNDLED_CALENDARS.parent / name, BUNDLED_CALENDARS / name]
        path = next((c for c in candidates if c.is_file()), candidates[0])
        try:
            calendar = read_calendar(path)
        except CalendarError as exc:
            table.fail("calendar", str(exc))
    deadlines = table.table("deadlines")
    upload_day = _whole(deadlines, "upload_day", 5, 1, 28)
    review = _whole(deadlines, "review_working_days", 10, 0)
    payment = _whole(deadlines, "payment_working_days", 7, 0)
    deadlines.close()
    raw = table.get("deductions", {})
    if not isinstance(raw, dict):
        table.fail("deductions", "must be a table of screen = { basis = … } (违规扣款规则)")
    rules = {}
    for rule_id in raw:
        t = table.table("deductions").table(rule_id)
        basis = t.choice("basis", DEDUCTION_BASES, None)
        if basis == "settled_difference" and rule_id not in SETTLED_DIFFERENCE:
            t.fail("basis", f"\"settled_difference\" is known for {', '.join(SETTLED_DIFFERENCE)} only; give "
                   "basis = \"amount\" or \"share\" for this screen (该规则无法计算结算差额)")
        amount = t.units("amount", 2, low=0, required=True) if basis == "amount" else None
        share = t.units("share", 4, low=0, high=1, required=basis == "share") if basis == "share" else None
        for other in ("amount", "share"):
            if other != basis and other in t.data:
                t.fail(other, f"only with basis = \"{other}\"")
        t.close()
        rules[str(rule_id)] = DeductionRule(basis, amount or 0, share or 0)
    table.close()
    return LifecycleRules(tuple(severities), late, refuse_after, upload_day, review, payment, calendar, rules, enabled,
                          deductions_to)


def _whole(table, key: str, default: int, low: int, high: int | None = None) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or high is not None and value > high:
        table.fail(key, f"{value!r} must be a whole number {f'from {low} to {high}' if high else f'≥ {low}'}")
    return value


def month_index(month: str) -> int:
    """``YYYY-MM`` → months since year 0 (for ordering and arithmetic)."""
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def month_text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class Payment:
    """What one version of a case was paid in one run: the fund account and the settled figures (fen)."""

    run: str
    region: str
    insurance_type: str
    standard: int
    fund: int


@dataclass
class CaseState:
    """One (hospital, case_id): its current version, both states, the fixed period and each version's payments."""

    hospital_id: str
    case_id: str
    month: str                    # the record's own month (YYYY-MM, of the policy's period_by date)
    version: int = 1
    accepted_version: int = 0     # the version the runs settle (the last accepted one)
    submission: str = "submitted"
    payment: str = ""             # "" until accepted
    period: str = ""              # the settlement period (YYYY-MM), fixed at acceptance
    submitted_on: date | None = None
    first_submitted_on: date | None = None
    late: bool = False
    correction: bool = False      # a new version of a case that was paid
    paid: dict[int, list[Payment]] = field(default_factory=dict)  # version → payments (month, then year)

    @property
    def key(self) -> tuple[str, str]:
        return self.hospital_id, self.case_id

    def latest_payment(self, version: int | None = None) -> Payment | None:
        found = self.paid.get(self.accepted_version if version is None else version)
        return found[-1] if found else None


class CaseBook:
    """Every case's submission and payment state, its history, the closed months and cleared years.

    Parameters
    ----------
    rules : LifecycleRules
        The policy's ``[lifecycle]``.
    """

    def __init__(self, rules: LifecycleRules):
        self.rules = rules
        self.cases: dict[tuple[str, str], CaseState] = {}
        self.history: list[dict] = []
        self.closed: dict[str, date] = {}       # month run → the day it ran
        self.cleared: dict[int, date] = {}      # year run → the day it ran
        self.disbursed: dict[tuple[str, str], date] = {}   # (run, hospital) → day paid out (拨付)
        self.recoveries: list[dict] = []        # superseded payments to recover (payment.deductions)
        self.dirty: set[tuple[str, str]] = set()  # cases changed since loaded (what a store writes back)

    # ------------------------------------------------------------------ history
    def _log(self, state: CaseState, on: date, dimension: str, before: str, after: str, note: str = "",
             run: str = "") -> None:
        self.dirty.add(state.key)
        self.history.append({"seq": len(self.history) + 1, "on": on, "hospital_id": state.hospital_id,
                             "case_id": state.case_id, "version": state.version, "dimension": dimension,
                             "from": before, "to": after, "period": state.period, "run": run, "note": note})

    def _set(self, state: CaseState, on: date, dimension: str, after: str, note: str = "", run: str = "") -> None:
        before = getattr(state, dimension)
        setattr(state, dimension, after)
        self._log(state, on, dimension, before, after, note, run)

    def _get(self, hospital_id: str, case_id: str) -> CaseState:
        state = self.cases.get((hospital_id, case_id))
        if state is None:
            raise LifecycleError(f"case {case_id} of hospital {hospital_id} was never submitted (未申报)")
        return state

    @staticmethod
    def _refuse_step(state: CaseState, step: str, allowed: str) -> None:
        raise LifecycleError(f"case {state.case_id} of hospital {state.hospital_id}: cannot {step} in submission "
                             f"state {state.submission} {SUBMISSION[state.submission]}; allowed from {allowed}")

    # ------------------------------------------------------------------ submission
    def submit(self, hospital_id: str, case_id: str, month: str, on: date, version: int | None = None) -> CaseState:
        """A hospital uploads a record of ``month`` (a first upload, a resubmission, or a correction).

        A first upload past the deadline is ``late``: refused when the policy says so, else accepted into the
        next open month.  A returned case becomes ``resubmitted``; an accepted one becomes a new ``submitted``
        version (a correction: after payment the paid version is superseded on acceptance).

        A case waiting for review is replaced by the new version; a refused case stays refused (logged).
        ``version``: the stored version number (a store's own count), else the next one.
        """
        state = self.cases.get((hospital_id, case_id))
        if state is None:
            state = CaseState(hospital_id, case_id, month, version or 1, submitted_on=on, first_submitted_on=on)
            self.cases[state.key] = state
            state.late, refused = self.first_submission(month, on)
            self._log(state, on, "submission", "", "submitted", LATE_NOTE if state.late else "")
            if refused:
                self._set(state, on, "submission", "refused", REFUSED_NOTE)
            return state
        if state.submission == "refused":
            self._log(state, on, "submission", "refused", "refused", "再次上传，仍不予受理 uploaded again, still refused")
        elif state.submission in ("returned", "submitted", "resubmitted"):
            # sent again after a return, or replaced before the review: the new version waits for review
            state.version = version or state.version + 1
            state.submitted_on, state.month = on, month
            self._set(state, on, "submission", "resubmitted" if state.submission != "submitted" else "submitted",
                      "" if state.submission == "returned" else "审核前重新上传 replaced before review")
        else:  # accepted: a correction
            state.version = version or state.version + 1
            state.submitted_on, state.month, state.correction = on, month, True
            self._set(state, on, "submission", "submitted", "更正 correction")
        return state

    def first_submission(self, month: str, on: date) -> tuple[bool, bool]:
        """(late, refused) of a first upload of a record of ``month`` on ``on``."""
        late = on > self.rules.upload_deadline(month)
        if not late:
            return False, False
        if self.rules.late == "refuse":
            return True, True
        limit = self.rules.refuse_after_working_days
        return True, bool(limit) and self.rules.calendar.between(self.rules.upload_deadline(month), on) > limit

    def review(self, hospital_id: str, case_id: str, on: date, severities=(), note: str = "") -> CaseState:
        """The payer reviews a submission (初审): returned with findings of the policy's severities, else accepted."""
        state = self._get(hospital_id, case_id)
        if state.submission not in ("submitted", "resubmitted"):
            self._refuse_step(state, "review", "submitted 已申报 or resubmitted 重新申报")
        found = sorted(set(severities) & set(self.rules.return_severities), key=SEVERITIES.index)
        if found:
            self._set(state, on, "submission", "returned", note or f"质控问题 findings: {', '.join(found)}")
            return state
        return self._accept(state, on, note)

    def return_case(self, hospital_id: str, case_id: str, on: date, reason: str) -> CaseState:
        """The payer returns a case for correction (退回修改) before it is accepted."""
        state = self._get(hospital_id, case_id)
        if state.submission not in ("submitted", "resubmitted"):
            self._refuse_step(state, "return", "submitted 已申报 or resubmitted 重新申报")
        if not reason.strip():
            raise LifecycleError(f"case {case_id}: a return needs a reason (退回原因必填)")
        self._set(state, on, "submission", "returned", reason.strip())
        return state

    def _accept(self, state: CaseState, on: date, note: str) -> CaseState:
        paid_before = state.payment in ("provisional", "final", "deducted")
        if state.period and state.payment == "unpaid" and not self._closed(state.period):
            period = state.period  # fixed at the first acceptance, still open
        else:
            period = self.next_open(state.month, late=state.late or paid_before or bool(state.period))
        state.period = period
        if not paid_before:
            state.accepted_version = state.version
        self._set(state, on, "submission", "accepted", note)
        if paid_before:
            old_version, old = state.accepted_version, state.latest_payment()
            state.accepted_version = state.version
            year = int(old.run[:4])
            # the old payment comes back in the next month run of its year (the year run then clears the rest), or
            # stays recovered when its year is cleared; a new period in a later, uncleared year: the year run does it
            if year in self.cleared or int(period[:4]) == year:
                self.recoveries.append({"hospital_id": state.hospital_id, "case_id": state.case_id,
                                        "version": old_version, "payment": old, "sticky": year in self.cleared,
                                        "accepted_on": on})
            self._set(state, on, "payment", "superseded", f"更正替代 v{old_version}; 差额在下次结算中处理")
            state.payment = ""
        self._set(state, on, "payment", "unpaid", f"结算期间 {period}")
        return state

    def _closed(self, month: str) -> bool:
        return month in self.closed or int(month[:4]) in self.cleared

    def next_open(self, month: str, late: bool) -> str:
        """The settlement period of a record of ``month`` accepted now: its month when on time and open, else the
        first open month after it (and after every closed month)."""
        start = month_index(month) + (1 if late else 0)
        if late and self.closed:  # a late case goes after the months already run
            start = max(start, max(month_index(m) for m in self.closed) + 1)
        while self._closed(month_text(start)):
            start += 1
        return month_text(start)

    # ------------------------------------------------------------------ runs
    def for_run(self, kind: str, period: str) -> list[tuple[str, str, int]]:
        """(hospital, case, version) a run settles: unpaid cases of the month; every current case of the year."""
        if kind == "month":
            if self._closed(period):
                return []
            return sorted((s.hospital_id, s.case_id, s.accepted_version) for s in self.cases.values()
                          if s.accepted_version and s.payment == "unpaid" and s.period == period)
        return sorted((s.hospital_id, s.case_id, s.accepted_version) for s in self.cases.values()
                      if s.accepted_version and s.period[:4] == period)

    def run_cases(self, records: pa.Table, kind: str, period: str, period_by: str) -> pa.Table:
        """The records a run settles, each dated in its fixed period (``period_by`` set to the period's 1st).

        Parameters
        ----------
        records : pyarrow.Table
            The records (``hospital_id``, ``case_id``, and ``version`` when several versions are given).
        kind, period : str
            ``month`` / ``2024-03`` or ``year`` / ``2024``.
        period_by : str
            The policy's period column.
        """
        chosen = self.for_run(kind, period)
        wanted = {(h, c): v for h, c, v in chosen}
        hid, cid = records.column("hospital_id").to_pylist(), records.column("case_id").to_pylist()
        versions = records.column("version").to_pylist() if "version" in records.column_names else [None] * len(hid)
        rows = [i for i, (h, c, v) in enumerate(zip(hid, cid, versions))
                if (h, c) in wanted and v in (None, wanted[(h, c)])]
        picked = records.take(pa.array(rows, pa.int64()))
        dates = [date.fromisoformat(self.cases[(hid[i], cid[i])].period + "-01") for i in rows]
        column = pa.array(dates, pa.date32())
        if period_by in picked.column_names:
            return picked.set_column(picked.column_names.index(period_by), period_by, column)
        return picked.append_column(period_by, column)

    def record_run(self, kind: str, period: str, on: date, settlement, applied=()) -> None:
        """Mark what a run paid: month → provisional, year → final; applied deductions → deducted.

        Parameters
        ----------
        settlement : payment.engine.Settlement
            The run's settlement (its cases are those of :meth:`run_cases`).
        applied : sequence of payment.deductions.Adjustment
            The adjustment lines the run applied (with ``run`` set).
        """
        c = settlement.cases
        ids = c.case_id.to_pylist()
        hospitals = settlement.hospitals.ids
        for i, case_id in enumerate(ids):
            state = self.cases[(hospitals[c.hosp[i]], case_id)]
            f = int(c.fund[i])
            region, insurance = c.funds[f] if f >= 0 else ("", "")
            self.dirty.add(state.key)
            state.paid.setdefault(state.accepted_version, []).append(
                Payment(period, region, insurance, int(settlement.standard[i]), int(settlement.fund_payment[i])))
            if kind == "month" and state.payment == "unpaid":
                self._set(state, on, "payment", "provisional", "月度预结", period)
            elif kind == "year" and state.payment in ("unpaid", "provisional"):
                self._set(state, on, "payment", "final", "年度清算", period)
        for line in applied:
            if line.kind == "deduction" and line.amount_fen:
                state = self.cases.get((line.hospital_id, line.case_id))
                if state is not None and state.payment != "deducted":
                    self._set(state, on, "payment", "deducted", f"{line.rule_id} {line.flag_id} 扣款", line.run)
        if kind == "month":
            self.closed[period] = on
        else:
            self.cleared[int(period)] = on

    def disburse(self, run: str, hospital_id: str, on: date) -> None:
        """The payer paid out (拨付) a run's amount to a hospital on ``on``."""
        self.disbursed[(run, hospital_id)] = on

    # ------------------------------------------------------------------ deadlines
    def late_uploads(self) -> list[dict]:
        """Cases first uploaded after their month's deadline (逾期申报)."""
        return [{"hospital_id": s.hospital_id, "case_id": s.case_id, "month": s.month,
                 "deadline": self.rules.upload_deadline(s.month), "uploaded_on": s.first_submitted_on,
                 "submission": s.submission, "period": s.period}
                for s in sorted(self.cases.values(), key=lambda s: s.key) if s.late]

    def overdue_reviews(self, today: date) -> list[dict]:
        """Submissions not reviewed within the review window as of ``today`` (审核逾期)."""
        out = []
        for s in sorted(self.cases.values(), key=lambda s: s.key):
            due = self.rules.review_due(s.submitted_on)
            if s.submission in ("submitted", "resubmitted") and today > due:
                out.append({"hospital_id": s.hospital_id, "case_id": s.case_id, "submitted_on": s.submitted_on,
                            "due": due, "working_days_over": self.rules.calendar.between(due, today)})
        return out

    def overdue_payments(self, today: date, owed) -> list[dict]:
        """Month runs paid out (拨付) to a hospital after the payment deadline, or not yet and past it (支付逾期).

        Parameters
        ----------
        today : date
        owed : iterable of (month, hospital_id)
            The month runs that owe each hospital (the ledger's month entries).
        """
        out = []
        for month, h in sorted(set(owed)):
            if len(month) != 7:
                continue
            due = self.rules.payment_due(month)
            paid_on = self.disbursed.get((month, h))
            if (paid_on is None and today > due) or (paid_on is not None and paid_on > due):
                out.append({"run": month, "hospital_id": h, "due": due, "paid_on": paid_on,
                            "working_days_over": self.rules.calendar.between(due, paid_on or today)})
        return out

    def states(self) -> list[dict]:
        """Every case's current states, by hospital and case."""
        return [{"hospital_id": s.hospital_id, "case_id": s.case_id, "version": s.version, "month": s.month,
                 "submission": s.submission, "submission_zh": SUBMISSION[s.submission], "payment": s.payment,
                 "payment_zh": PAYMENT.get(s.payment, ""), "period": s.period, "late": s.late}
                for s in sorted(self.cases.values(), key=lambda s: s.key)]


__all__ = ["BUNDLED_CALENDARS", "DEDUCTION_BASES", "LATE", "LATE_NOTE", "PAYMENT", "REFUSED_NOTE", "SEVERITIES", "SETTLED_DIFFERENCE", "SUBMISSION",
           "CaseBook", "CaseState", "DeductionRule", "LifecycleError", "LifecycleRules", "Payment", "month_index",
           "month_text", "parse_lifecycle"]
