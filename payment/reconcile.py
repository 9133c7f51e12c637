"""Reconciliation per hospital × month (对账): what was declared, what the fund recorded, what was paid.

One row per hospital and run (``2024-03`` month runs, ``2024`` the year run), from the case book
(:mod:`payment.lifecycle`), the run ledger (:mod:`payment.ledger`) and the applied adjustment lines
(:mod:`payment.deductions`):

================  =================================================================================
column            meaning
================  =================================================================================
submitted         cases declared for the month (the record's own month; each case once)
late              of them uploaded after the deadline (逾期申报)
returned          of them returned for correction at least once (退回修改)
accepted          of them accepted (已受理), whatever their settlement period
refused           of them refused (不予受理)
settled           cases paid in this run (month run: provisional; year run: cleared)
deducted_cases    deduction lines applied in this run (违规扣款)
provisional       ledger: 月度预结金额 (Σ funds)
withheld          ledger: 预留金
deducted          ledger: 违规扣款/更正追回 (and 总控/最低人次 in a year run)
released          ledger: 预留金返还
due               ledger: paid + carried_in (+ released in a month run; a year's balance holds it) — what
                  this run owes the hospital (应拨付)
paid_out          ``due`` once the payer recorded the payout (拨付), else 0
open_amount       due − paid_out
================  =================================================================================

Open items (未结事项) list what keeps a month from being closed: submissions waiting for review,
returned cases not sent again, accepted cases not yet settled, appeals not decided, upheld flags not
yet deducted, runs not paid out.
"""

from __future__ import annotations


from foundation.decimals import yuan
from payment.deductions import Adjustment
from payment.ledger import Ledger, run_order
from payment.lifecycle import CaseBook

COUNTS = ("submitted", "late", "returned", "accepted", "refused", "settled", "deducted_cases")
AMOUNTS = ("provisional", "withheld", "deducted", "released", "due", "paid_out", "open_amount")
COLUMNS = ("hospital_id", "run") + COUNTS + AMOUNTS
LABELS_ZH = {"hospital_id": "医疗机构编码", "run": "结算期间", "submitted": "申报病例数", "late": "逾期申报",
             "returned": "退回修改", "accepted": "已受理", "refused": "不予受理", "settled": "已结算",
             "deducted_cases": "扣款笔数", "provisional": "预结金额", "withheld": "预留金", "deducted": "扣款",
             "released": "预留金返还", "due": "应拨付", "paid_out": "已拨付", "open_amount": "未拨付"}


def reconcile(book: CaseBook, ledger: Ledger, applied: dict[str, Adjustment], flags=(),
              returned=None) -> tuple[list[dict], list[dict]]:
    """The reconciliation rows (amounts in fen) and the open items.

    Parameters
    ----------
    book : CaseBook
    ledger : Ledger
    applied : dict
        Adjustment id → applied line.
    flags : iterable of dict
        Audit flags with their appeal ``status`` (``open``/``appealed``/``upheld``/``withdrawn``), for the
        open items.
    returned : set of (hospital_id, case_id), optional
        The cases ever returned for correction; default: those the book's history returns (a book loaded
        from a store holds only the history not yet saved, so the store passes them).
    """
    rows: dict[tuple[str, str], dict] = {}

    def row(h: str, run: str) -> dict:
        return rows.setdefault((h, run), {"hospital_id": h, "run": run, **{k: 0 for k in COUNTS + AMOUNTS}})

    if returned is None:
        returned = {(e["hospital_id"], e["case_id"]) for e in book.history if e["to"] == "returned"}
    for s in book.cases.values():
        r = row(s.hospital_id, s.month)
        r["submitted"] += 1
        r["late"] += s.late
        r["returned"] += s.key in returned
        r["accepted"] += bool(s.accepted_version)
        r["refused"] += s.submission == "refused"
        for payments in s.paid.values():
            for p in payments:
                row(s.hospital_id, p.run)["settled"] += 1
    for line in applied.values():
        if line.kind == "deduction" and line.amount_fen:
            row(line.hospital_id, line.run)["deducted_cases"] += 1
    for e in ledger.entries:
        r = row(e["hospital_id"], e["run"])
        for k in ("provisional", "withheld", "deducted", "released"):
            r[k] += e[k]
        # a month run pays its withhold release on top; a year run's balance already holds it
        r["due"] += e["paid"] + e["carried_in"] + (e["released"] if len(e["run"]) > 4 else 0)
    for (h, run), r in rows.items():
        r["paid_out"] = r["due"] if (run, h) in book.disbursed else 0
        r["open_amount"] = r["due"] - r["paid_out"]
    items = _open_items(book, ledger, applied, flags)
    return sorted(rows.values(), key=lambda r: (r["hospital_id"], run_order(r["run"]))), items


def _open_items(book: CaseBook, ledger: Ledger, applied: dict[str, Adjustment], flags) -> list[dict]:
    items = []
    for s in sorted(book.cases.values(), key=lambda s: s.key):
        what = {"submitted": "待审核 waiting for review", "resubmitted": "待审核 waiting for review",
                "returned": "退回待重新申报 returned, not sent again"}.get(s.submission)
        if what is None and s.accepted_version and s.payment == "unpaid":
            what = f"已受理待结算 accepted, to be settled in {s.period}"
        if what:
            items.append({"hospital_id": s.hospital_id, "item": "case", "id": s.case_id, "what": what})
    for f in flags:
        status = f.get("status", "open")
        if status in ("open", "appealed"):
            items.append({"hospital_id": f["hospital_id"], "item": "flag", "id": f["flag_id"],
                          "what": "待申诉 open" if status == "open" else "申诉中 appeal not decided"})
        elif status == "upheld" and f["rule_id"] in book.rules.deductions and \
                f"deduction:{f['flag_id']}" not in applied:
            items.append({"hospital_id": f["hospital_id"], "item": "flag", "id": f["flag_id"],
                          "what": "维持待扣款 upheld, deduction not yet applied"})
    for run, h in sorted({(e["run"], e["hospital_id"]) for e in ledger.entries}, key=lambda k: (k[1], k[0])):
        if (run, h) not in book.disbursed:
            items.append({"hospital_id": h, "item": "run", "id": run, "what": "未拨付 not paid out"})
    return sorted(items, key=lambda i: (i["hospital_id"], i["item"], i["id"]))


def as_yuan(rows: list[dict]) -> list[dict]:
    """Rows with the amounts in 元 (exact ``Decimal``), as tables and the service show them."""
    return [{k: yuan(v) if k in AMOUNTS else v for k, v in r.items()} for r in rows]


__all__ = ["AMOUNTS", "COLUMNS", "COUNTS", "LABELS_ZH", "as_yuan", "reconcile"]
