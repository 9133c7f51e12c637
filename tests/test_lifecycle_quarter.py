"""Issue 21 acceptance: a synthetic quarter for five hospitals through the case life cycle, every state,
deduction and reconciliation figure against a hand calculation to the fen (the quarter: tests/lifecycle_quarter.py).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from payment import parse_policy
from payment.cycle import settle_cycle
from payment.deductions import DeductionError, apply_adjustments
from payment.ledger import Ledger
from payment.lifecycle import CaseBook, LifecycleError
from payment.policy import PolicyError
from payment.reconcile import reconcile
from payment_helpers import hospitals, weights
import lifecycle_quarter as Q

Y = Decimal


class Quarter:
    """The quarter played in memory: the book, the ledger, the applied lines, the flags and each run."""

    def __init__(self):
        self.policy = parse_policy(Q.POLICY, "quarter-policy")
        self.hospitals = hospitals(self.policy, Q.HOSPITALS)
        self.weights = weights(Q.WEIGHTS)
        self.book = CaseBook(self.policy.lifecycle)
        self.ledger, self.applied, self.flags, self.runs = Ledger(), {}, {}, {}
        self.records: list[dict] = []
        self.severities: dict = {}

    def table(self) -> pa.Table:
        return pa.Table.from_pylist(self.records)

    def step(self, on: date, action: str, args: tuple) -> None:
        b = self.book
        if action == "upload":
            h, c, drg, discharge, severities = args
            state = b.submit(h, c, discharge[:7], on)
            self.severities[(h, c)] = severities
            self.records.append({"hospital_id": h, "case_id": c, "version": state.version, "drg": drg, "status": "ok",
                                 "total_cost": Q.COST[drg], "patient_paid": "2000.00", "los_days": 5,
                                 "discharge_date": discharge, "insurance_type": "310"})
        elif action == "review":
            b.review(*args, on=on, severities=self.severities[args])
        elif action == "return":
            b.return_case(args[0], args[1], on, args[2])
        elif action == "flag":
            fid, h, c, rule, evidence = args
            self.flags[fid] = {"flag_id": fid, "hospital_id": h, "case_id": c, "rule_id": rule, "evidence": evidence,
                               "status": "open", "reason": "", "outcome": ""}
        elif action == "appeal":
            self.flags[args[0]].update(status="appealed", reason="病历有据 documented")
        elif action == "decide":
            self.flags[args[0]].update(status=args[1], outcome=f"复议结论 {args[1]}")
        elif action == "disburse":
            for h in args[1]:
                b.disburse(args[0], h, on)
        else:
            kind, period = args
            done = settle_cycle(b, self.table(), kind, period, on, self.weights, self.policy, self.hospitals,
                                self.ledger, self.applied, self.flags.values())
            self.ledger, self.applied, self.runs[period] = done.ledger, done.applied, done.run


@pytest.fixture(scope="module")
def quarter() -> Quarter:
    q = Quarter()
    for step in Q.STEPS:
        q.step(*step)
    return q


def _entries(q: Quarter, run: str) -> dict:
    return {e["hospital_id"]: e for e in q.ledger.entries if e["run"] == run}


def test_states_and_history(quarter):
    states = {(s["hospital_id"], s["case_id"]): (s["submission"], s["payment"], s["period"], s["version"])
              for s in quarter.book.states()}
    assert states == {
        ("H1", "c1"): ("accepted", "final", "2024-01", 1),
        ("H1", "c2"): ("accepted", "final", "2024-02", 1),
        ("H1", "c3"): ("accepted", "deducted", "2024-03", 1),   # upheld 高套, deducted in the year run
        ("H2", "c1"): ("accepted", "final", "2024-02", 1),      # late (02-08 > 02-05): next open month
        ("H2", "c2"): ("refused", "", "", 1),                   # 15 working days late > 10
        ("H2", "c3"): ("submitted", "", "", 1),                 # never reviewed
        ("H3", "c1"): ("accepted", "final", "2024-01", 2),      # returned, resubmitted, accepted on time
        ("H3", "c2"): ("accepted", "final", "2024-02", 2),      # returned by the payer, resubmitted
        ("H4", "c1"): ("accepted", "final", "2024-03", 2),      # corrected after payment: v2 in March
        ("H5", "c1"): ("accepted", "final", "2024-01", 1),
        ("H5", "c2"): ("accepted", "deducted", "2024-01", 1),   # upheld 分解住院, deducted in February
        ("H5", "c3"): ("accepted", "final", "2024-02", 1),      # appeal withdrawn: no deduction
    }
    steps = [(e["version"], e["dimension"], e["from"], e["to"], e["run"]) for e in quarter.book.history
             if e["case_id"] == "c1" and e["hospital_id"] == "H4"]
    assert steps == [(1, "submission", "", "submitted", ""), (1, "submission", "submitted", "accepted", ""),
                     (1, "payment", "", "unpaid", ""), (1, "payment", "unpaid", "provisional", "2024-01"),
                     (2, "submission", "accepted", "submitted", ""), (2, "submission", "submitted", "accepted", ""),
                     (2, "payment", "provisional", "superseded", ""), (2, "payment", "", "unpaid", ""),
                     (2, "payment", "unpaid", "provisional", "2024-03"), (2, "payment", "provisional", "final", "2024")]
    h3 = [(e["dimension"], e["to"]) for e in quarter.book.history if e["hospital_id"] == "H3" and e["case_id"] == "c2"]
    assert h3 == [("submission", "submitted"), ("submission", "returned"), ("submission", "resubmitted"),
                  ("submission", "accepted"), ("payment", "unpaid"), ("payment", "provisional"),
                  ("payment", "final")]
    # the history is complete: replaying it gives every current state
    replay = {}
    for e in quarter.book.history:
        replay.setdefault((e["hospital_id"], e["case_id"]), {})[e["dimension"]] = e["to"]
    assert {k: (v["submission"], v.get("payment", "")) for k, v in replay.items()} == \
        {k: v[:2] for k, v in states.items()}


def test_month_runs_pay_each_case_once(quarter):
    lines = {p: sorted(zip(r.tables["case_lines"].column("hospital_id").to_pylist(),
                           r.tables["case_lines"].column("case_id").to_pylist()))
             for p, r in quarter.runs.items()}
    assert lines["2024-01"] == [("H1", "c1"), ("H3", "c1"), ("H4", "c1"), ("H5", "c1"), ("H5", "c2")]
    assert lines["2024-02"] == [("H1", "c2"), ("H2", "c1"), ("H3", "c2"), ("H5", "c3")]
    assert lines["2024-03"] == [("H1", "c3"), ("H4", "c1")]
    # the year clears the current version of every accepted case once (H4 c1: v2 only)
    assert lines["2024"] == sorted(lines["2024-01"] + lines["2024-02"] + lines["2024-03"][:1])
    lines = quarter.runs["2024"].tables["case_lines"].to_pylist()
    # H4 c1 cleared as its corrected version: B03 12,000.00 − 2,000.00 = 10,000.00
    assert [r["fund_payment"] for r in lines if (r["hospital_id"], r["case_id"]) == ("H4", "c1")] == [Y("10000.00")]


def test_deductions(quarter):
    lines = {a.adjustment_id: (a.kind, a.hospital_id, a.amount_fen, a.run, a.sticky) for a in quarter.applied.values()}
    assert lines == {
        # 分解住院: the second stay H5 c2's fund payment 10,000.00 − 2,000.00 = 8,000.00, in the February run
        "deduction:SPLIT:H5:c2": ("deduction", "H5", 800_000, "2024-02", True),
        # 高套 (decided after the March run): standard 20,000.00 − ⌊20,000.00 × 1.2 ÷ 2.0⌋ = 20,000.00 − 12,000.00
        # = 8,000.00, in the year run
        "deduction:UPCODING:H1:c3": ("deduction", "H1", 800_000, "2024", True),
        # H4 c1 v1 paid 8,000.00 in January, corrected (B03) and accepted into March: recovered in the March run
        "recovery:H4:c1:v1": ("recovery", "H4", 800_000, "2024-03", False),
    }
    assert "deduction:UPCODING:H5:c3" not in quarter.applied   # withdrawn
    table = quarter.runs["2024-02"].tables["deductions"].to_pylist()
    assert [(r["flag_id"], r["appeal_status"], r["reason"], r["outcome"], r["amount"]) for r in table] == \
        [("SPLIT:H5:c2", "upheld", "病历有据 documented", "复议结论 upheld", Y("8000.00"))]
    # applied once: offering an applied line again is refused, and nothing is pending any more
    line = quarter.applied["deduction:SPLIT:H5:c2"]
    with pytest.raises(DeductionError, match="applied already"):
        apply_adjustments(quarter.runs["2024"].settlement, [line], quarter.applied, "2024")


def test_ledger_and_statements(quarter):
    jan, feb, mar, year = (_entries(quarter, r) for r in ("2024-01", "2024-02", "2024-03", "2024"))
    fig = lambda e: (e["provisional"], e["withheld"], e["deducted"], e["paid"])  # noqa: E731
    # January: H1/H3/H4 one A01 each: 8,000.00, withheld 800.00, paid 7,200.00; H5 two: 16,000.00/1,600.00/14,400.00
    assert {h: fig(e) for h, e in jan.items()} == {"H1": (800_000, 80_000, 0, 720_000), "H3": (800_000, 80_000, 0, 720_000),
                                                  "H4": (800_000, 80_000, 0, 720_000),
                                                  "H5": (1_600_000, 160_000, 0, 1_440_000)}
    # February: H5 B01 18,000.00 − 1,800.00 withheld − 8,000.00 deducted = 8,200.00; H3 B03 10,000.00 − 1,000.00
    assert {h: fig(e) for h, e in feb.items()} == {"H1": (800_000, 80_000, 0, 720_000), "H2": (800_000, 80_000, 0, 720_000),
                                                  "H3": (1_000_000, 100_000, 0, 900_000),
                                                  "H5": (1_800_000, 180_000, 800_000, 820_000)}
    # March: H1 B01 18,000.00 − 1,800.00 = 16,200.00; H4 B03 10,000.00 − 1,000.00 − 8,000.00 recovered = 1,000.00
    assert {h: fig(e) for h, e in mar.items()} == {"H1": (1_800_000, 180_000, 0, 1_620_000),
                                                  "H4": (1_000_000, 100_000, 800_000, 100_000)}
    # Year (withhold released 100%, so annual = Σ current fund payments − sticky deductions):
    # H1: 8,000 + 8,000 + 18,000 − 8,000 = 26,000.00; paid 7,200 + 7,200 + 16,200 = 30,600.00 → −4,600.00
    # H2: 8,000.00 − 7,200.00 = 800.00; H3: 8,000 + 10,000 − (7,200 + 9,000) = 1,800.00
    # H4: 10,000.00 (v2 only) − (7,200 + 1,000) = 1,800.00
    # H5: 8,000 + 8,000 + 18,000 − 8,000 (February) = 26,000.00; paid 14,400 + 8,200 = 22,600.00 → 3,400.00
    assert {h: (e["paid"], e["deducted"], e["released"]) for h, e in year.items()} == {
        "H1": (-460_000, 800_000, 340_000), "H2": (80_000, 0, 80_000), "H3": (180_000, 0, 180_000),
        "H4": (180_000, 0, 180_000), "H5": (340_000, 0, 340_000)}
    statement = {r["hospital_id"]: r for r in quarter.runs["2024"].tables["hospitals"].to_pylist()}
    assert statement["H5"]["lifecycle_deducted_months"] == Y("8000.00")
    assert statement["H1"]["lifecycle_deducted"] == Y("8000.00")
    assert statement["H1"]["annual_due"] == Y("26000.00") and statement["H1"]["balance"] == Y("-4600.00")


def test_reserve_and_totals(quarter):
    lines = {r["line"]: r["amount"] for r in quarter.runs["2024"].tables["reconciliation"].to_pylist()}
    # reserve 5% of 1,000,000.00 = 50,000.00; nothing paid from it; deductions 8,000.00 (Feb) + 8,000.00 (year)
    assert lines["reserve"] == Y("50000.00")
    assert lines["lifecycle_deduction"] == Y("16000.00") and lines["lifecycle_recovery"] == Y("0.00")
    assert lines["reserve_balance"] == Y("66000.00")
    # Σ DRG fund of the year: H1 34,000 + H2 8,000 + H3 18,000 + H4 10,000 + H5 34,000 = 104,000.00
    assert lines["drg_fund"] == Y("104000.00")
    # Σ everything paid to the hospitals over the four runs = Σ DRG fund − Σ deductions = 104,000 − 16,000
    rows, _ = reconcile(quarter.book, quarter.ledger, quarter.applied, quarter.flags.values())
    assert sum(r["due"] for r in rows) == 8_800_000
    # month dues: January 36,000.00, February 31,600.00, March 17,200.00; the year 3,200.00
    by_run = {}
    for r in rows:
        by_run[r["run"]] = by_run.get(r["run"], 0) + r["due"]
    assert by_run == {"2024-01": 3_600_000, "2024-02": 3_160_000, "2024-03": 1_720_000, "2024": 320_000}


def test_reconciliation_table(quarter):
    rows, items = reconcile(quarter.book, quarter.ledger, quarter.applied, quarter.flags.values())
    got = {(r["hospital_id"], r["run"]): tuple(r[k] for k in ("submitted", "late", "returned", "accepted", "refused",
                                                              "settled", "deducted_cases", "due", "paid_out"))
           for r in rows}
    assert got == {
        ("H1", "2024-01"): (1, 0, 0, 1, 0, 1, 0, 720_000, 720_000),
        ("H1", "2024-02"): (1, 0, 0, 1, 0, 1, 0, 720_000, 720_000),
        ("H1", "2024-03"): (1, 0, 0, 1, 0, 1, 0, 1_620_000, 0),
        ("H1", "2024"): (0, 0, 0, 0, 0, 3, 1, -460_000, 0),
        ("H2", "2024-01"): (2, 2, 0, 1, 1, 0, 0, 0, 0),
        ("H2", "2024-02"): (0, 0, 0, 0, 0, 1, 0, 720_000, 720_000),
        ("H2", "2024-03"): (1, 0, 0, 0, 0, 0, 0, 0, 0),
        ("H2", "2024"): (0, 0, 0, 0, 0, 1, 0, 80_000, 0),
        ("H3", "2024-01"): (1, 0, 1, 1, 0, 1, 0, 720_000, 720_000),
        ("H3", "2024-02"): (1, 0, 1, 1, 0, 1, 0, 900_000, 900_000),
        ("H3", "2024"): (0, 0, 0, 0, 0, 2, 0, 180_000, 0),
        ("H4", "2024-01"): (1, 0, 0, 1, 0, 1, 0, 720_000, 720_000),
        ("H4", "2024-03"): (0, 0, 0, 0, 0, 1, 0, 100_000, 0),
        ("H4", "2024"): (0, 0, 0, 0, 0, 1, 0, 180_000, 0),
        ("H5", "2024-01"): (2, 0, 0, 2, 0, 2, 0, 1_440_000, 1_440_000),
        ("H5", "2024-02"): (1, 0, 0, 1, 0, 1, 1, 820_000, 820_000),
        ("H5", "2024"): (0, 0, 0, 0, 0, 3, 0, 340_000, 0),
    }
    assert [(i["hospital_id"], i["item"], i["id"]) for i in items if i["item"] != "run"] == [("H2", "case", "c3")]
    assert ("H1", "run", "2024-03") in [(i["hospital_id"], i["item"], i["id"]) for i in items]


def test_deadlines(quarter):
    b = quarter.book
    # upload deadline of January: 2024-02-05; H2 c1 on 02-08 (late, accepted), c2 on 03-01 (refused)
    assert [(r["hospital_id"], r["case_id"], r["deadline"], r["uploaded_on"], r["submission"]) for r in b.late_uploads()] \
        == [("H2", "c1", date(2024, 2, 5), date(2024, 2, 8), "accepted"),
            ("H2", "c2", date(2024, 2, 5), date(2024, 3, 1), "refused")]
    # H2 c3 uploaded 2024-04-01 (Mon): review within 10 working days → 2, 3 (清明 4–6 off), 7 (Sunday worked),
    # 8–12, 15, 16 → due 2024-04-16; on 04-30 it is 11 working days over (17–19, 22–26, 28 Sunday worked, 29, 30)
    assert b.overdue_reviews(Q.AS_OF) == [{"hospital_id": "H2", "case_id": "c3", "submitted_on": date(2024, 4, 1),
                                           "due": date(2024, 4, 16), "working_days_over": 11}]
    # payment due: January → 02-05 + 10 wd (6–9, 18 Sunday worked, 19–23) = 02-23, + 7 wd = 03-05 (paid 02-28: on time)
    # February → 03-05 + 10 wd = 03-19, + 7 = 03-28: H5 paid 04-02, 3 working days late (29, 1, 2)
    # March → 04-05 + 10 wd = 04-18 (7 Sunday worked), + 7 = 04-28 (a Sunday worked, 调休): H1, H4 not paid by 04-30
    owed = {(e["run"], e["hospital_id"]) for e in quarter.ledger.entries}
    assert [(r["run"], r["hospital_id"], r["due"], r["paid_on"], r["working_days_over"])
            for r in b.overdue_payments(Q.AS_OF, owed)] == [
        ("2024-02", "H5", date(2024, 3, 28), date(2024, 4, 2), 3),
        ("2024-03", "H1", date(2024, 4, 28), None, 2), ("2024-03", "H4", date(2024, 4, 28), None, 2)]


def test_steps_refused():
    policy = parse_policy(Q.POLICY, "quarter-policy")
    book = CaseBook(policy.lifecycle)
    book.submit("H1", "x", "2024-01", date(2024, 2, 1))
    assert book.submit("H1", "x", "2024-01", date(2024, 2, 2)).version == 2  # replaced before the review
    book.review("H1", "x", date(2024, 2, 2))
    with pytest.raises(LifecycleError, match="cannot review"):
        book.review("H1", "x", date(2024, 2, 3))
    with pytest.raises(LifecycleError, match="never submitted"):
        book.return_case("H1", "y", date(2024, 2, 3), "x")


@pytest.mark.parametrize("change, message", [
    ({"late": "soon"}, r"\[lifecycle\] late: 'soon' is not one of next_month, refuse"),
    ({"return_severities": ["bad"]}, r"return_severities"),
    ({"deductions": {"SPLIT_CHAIN": {"basis": "settled_difference"}}}, r"settled_difference.*SPLIT_READMISSION"),
    ({"deductions": {"X": {"basis": "share"}}}, r"\[lifecycle.deductions.X\] share: missing"),
    ({"deductions": {"X": {"basis": "amount", "amount": "10", "share": "0.1"}}}, r"share: only with basis"),
    ({"deadlines": {"upload_day": 31}}, r"upload_day"),
    ({"calendar": "nowhere.toml"}, r"calendar"),
    ({"typo": 1}, r"typo: unknown key"),
])
def test_policy_keys_validated(change, message):
    data = {**Q.POLICY, "lifecycle": {**Q.POLICY["lifecycle"], **change}}
    with pytest.raises(PolicyError, match=message):
        parse_policy(data, "p")
