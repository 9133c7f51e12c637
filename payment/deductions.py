"""Deductions for confirmed violations (审核扣款) and recoveries of superseded payments (更正追回), applied once.

An upheld audit flag (``upheld`` 维持) of a screen named in ``[lifecycle.deductions]`` becomes a
deduction line in the next run (month or year) that holds the hospital's account (hospital × fund of
the case's payment).  Its amount, in fen, rounded down:

======================  ==============================================================================
basis                   amount
======================  ==============================================================================
``settled_difference``  ``SPLIT_READMISSION``: the flagged (second) stay's fund payment;
                        ``UPCODING_WHATIF``: standard − ⌊standard × RW(what-if) ÷ RW(coded)⌋, the settled
                        difference to the what-if DRG (points are proportional to RW)
``share``               ⌊fund payment × share⌋
``amount``              the amount, at most the fund payment
======================  ==============================================================================

The fund payment is the latest one of the case's paid version (the month's, or the year's after the
year run).  A withdrawn flag (``withdrawn`` 撤销) deducts nothing; it is listed with its decision.

A corrected record accepted after payment supersedes the paid version (:mod:`payment.lifecycle`): its
fund payment comes back as a recovery line in the next month run of the same year (the year run then
clears the year against what was paid), or in the next run after that year was cleared.

Money: a line reduces the hospital's payment in its run (ledger ``paid``; ``deducted`` holds it) and goes
to the reserve (调剂金).  Deductions and recoveries of a cleared year *stick*: the year run of the year they
were applied in subtracts them from the annual amount due, so the clearing does not pay them back.  Each
line has an id (``deduction:<flag_id>``, ``recovery:<hospital>:<case>:v<version>``) and is applied once:
a line already applied is never offered again, and applying it twice is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
import pyarrow as pa

from foundation.decimals import yuan
from payment.engine import Settlement, account_keys
from payment.lifecycle import CaseBook, DeductionRule, Payment
from payment.money import RATIO_UNITS

KINDS = {"deduction": "违规扣款", "recovery": "更正追回"}


class DeductionError(ValueError):
    """An adjustment line applied twice, or a flag that cannot be deducted; the message names it."""


@dataclass(frozen=True)
class Adjustment:
    """One deduction or recovery line (amounts in fen; positive = taken from the hospital)."""

    adjustment_id: str
    kind: str
    hospital_id: str
    case_id: str
    region: str
    insurance_type: str
    amount_fen: int
    sticky: bool
    basis: str
    flag_id: str = ""
    rule_id: str = ""
    appeal_status: str = ""
    reason: str = ""
    outcome: str = ""
    run: str = ""

    def row(self) -> dict:
        """As tables and the service show it (amount in 元, exact)."""
        return {"adjustment_id": self.adjustment_id, "kind": self.kind, "kind_zh": KINDS[self.kind],
                "hospital_id": self.hospital_id, "case_id": self.case_id, "region": self.region,
                "insurance_type": self.insurance_type, "amount": yuan(self.amount_fen),
                "sticky": self.sticky, "basis": self.basis, "flag_id": self.flag_id, "rule_id": self.rule_id,
                "appeal_status": self.appeal_status, "reason": self.reason, "outcome": self.outcome, "run": self.run}


def _rw_units(text) -> int:
    return int(Decimal(str(text)).scaleb(6))


def deduction_amount(rule: DeductionRule, rule_id: str, paid: Payment, evidence: dict) -> tuple[int, str]:
    """The amount (fen) of an upheld flag's deduction and how it was measured (words with the figures)."""
    fund = max(paid.fund, 0)
    if rule.basis == "share":
        amount = fund * rule.share_u // RATIO_UNITS
        return amount, f"基金支付 {yuan(fund)} × {Decimal(rule.share_u).scaleb(-4)}"
    if rule.basis == "amount":
        return min(rule.amount_fen, fund), f"定额扣款 {yuan(rule.amount_fen)} 元 (至多基金支付)"
    if rule_id == "SPLIT_READMISSION":
        return fund, "分解住院: 第二次住院的基金支付 (the second stay's fund payment)"
    coded, best = _rw_units(evidence["coded_rw"]), _rw_units(evidence["best_rw"])
    whatif = paid.standard * best // coded
    return min(paid.standard - whatif, fund), (f"高套: 支付标准 {yuan(paid.standard)} − ⌊标准 × "
                                               f"{evidence['best_rw']} ÷ {evidence['coded_rw']}⌋ "
                                               f"({evidence.get('best_drg', '')})")


def pending(book: CaseBook, flags, applied: dict[str, Adjustment], kind: str, period: str) -> list[Adjustment]:
    """The lines a run may apply: upheld flags not yet deducted, superseded payments not yet recovered.

    Parameters
    ----------
    book : CaseBook
    flags : iterable of dict
        Decided flags: ``flag_id``, ``hospital_id``, ``case_id``, ``rule_id``, ``evidence`` (dict or JSON
        text), ``status`` (appeal status), ``reason``, ``outcome``.
    applied : dict
        Adjustment id → the line as applied (by earlier runs).
    kind, period : str
        The run about to be made.

    Returns
    -------
    list of Adjustment
        With ``run`` empty; a case not paid yet has no line until it is.
    """
    rules = book.rules.deductions
    out = []
    for f in flags:
        rule = rules.get(f["rule_id"])
        aid = f"deduction:{f['flag_id']}"
        if f.get("status") != "upheld" or rule is None or aid in applied or not f.get("case_id"):
            continue
        state = book.cases.get((f["hospital_id"], f["case_id"]))
        paid = state.latest_payment() if state is not None else None
        if paid is None:
            continue
        evidence = f.get("evidence") or {}
        amount, basis = deduction_amount(rule, f["rule_id"], paid,
                                         json.loads(evidence) if isinstance(evidence, str) else evidence)
        out.append(Adjustment(aid, "deduction", f["hospital_id"], f["case_id"], paid.region, paid.insurance_type,
                              amount, True, basis, f["flag_id"], f["rule_id"], "upheld", f.get("reason") or "",
                              f.get("outcome") or ""))
    for r in book.recoveries:
        aid = f"recovery:{r['hospital_id']}:{r['case_id']}:v{r['version']}"
        if aid in applied:
            continue
        p: Payment = r["payment"]
        cleared_here = kind == "year" and not r["sticky"] and period == p.run[:4]
        amount = 0 if cleared_here else p.fund
        basis = (f"更正追回 v{r['version']} 的基金支付 ({p.run})" if not cleared_here else
                 f"更正 v{r['version']}: 由 {period} 年度清算按新版本结算 (cleared by the year run)")
        out.append(Adjustment(aid, "recovery", r["hospital_id"], r["case_id"], p.region, p.insurance_type, amount,
                              r["sticky"], basis))
    return out


def apply_adjustments(settlement: Settlement, lines, applied: dict[str, Adjustment], run: str) -> list[Adjustment]:
    """Apply the lines whose account is in the run: lower its payment, record what it deducted (in place).

    Month runs: ``paid`` (and ``transfer``) lower by the lines, ``lifecycle_deducted`` = Σ lines.  Year runs:
    the annual amount due and the balance lower by the sticky lines of the year's month runs (from
    ``applied``) and by this run's lines; ``lifecycle_deducted`` = Σ this run's lines.

    Returns
    -------
    list of Adjustment
        The lines applied, ``run`` set; lines of a hospital or fund without cases in the run wait.

    Raises
    ------
    DeductionError
        A line already applied (its id in ``applied``).
    """
    a = settlement.accounts
    index = {k: i for i, k in enumerate(account_keys(settlement)) if a["n_cases"][i]}
    here = np.zeros(len(a["n_cases"]), np.int64)
    done = []
    for line in lines:
        if line.adjustment_id in applied or any(d.adjustment_id == line.adjustment_id for d in done):
            raise DeductionError(f"{line.adjustment_id}: applied already in run "
                                 f"{applied[line.adjustment_id].run if line.adjustment_id in applied else run} "
                                 "(每笔扣款只执行一次)")
        i = index.get((line.hospital_id, line.region, line.insurance_type))
        if i is None:
            continue
        here[i] += line.amount_fen
        done.append(replace(line, run=run))
    a["lifecycle_deducted"] = here
    if settlement.kind == "month":
        a["paid"] = a["paid"] - here
        if "transfer" in a:
            a["transfer"] = a["transfer"] - here
    elif settlement.kind == "year":
        year = str(settlement.period.year)
        before = np.zeros_like(here)
        for line in applied.values():
            i = index.get((line.hospital_id, line.region, line.insurance_type))
            if line.run.startswith(year + "-") and line.amount_fen and settlement.ledger is None:
                raise DeductionError(f"{line.adjustment_id} was applied in the month run {line.run}: the year run "
                                     "reads what the months paid from the run ledger; give it (--ledger) / 需要结算台账")
            if line.sticky and line.run.startswith(year + "-") and i is not None:
                before[i] += line.amount_fen
        a["lifecycle_deducted_months"] = before
        a["annual_due"] = a["annual_due"] - before - here
        a["balance"] = a["balance"] - before - here
        if settlement.policy.carry_balance and settlement.ledger is not None:
            a["carried_out"] = a["balance"].copy()
    return done


def to_pool(policy, funds, applied: dict[str, Adjustment], year: int) -> dict[int, int]:
    """``deductions_to = "pool"``: fund index → the deductions of ``year``'s month runs, back to the DRG pool."""
    if policy.lifecycle.deductions_to != "pool":
        return {}
    index = {tuple(f): i for i, f in enumerate(funds)}
    out: dict[int, int] = {}
    for d in applied.values():
        f = index.get((d.region, d.insurance_type))
        if d.kind == "deduction" and d.run.startswith(f"{year}-") and f is not None:
            out[f] = out.get(f, 0) + d.amount_fen
    return out


def reserve_lines(settlement: Settlement, rows: list[dict], applied: dict[str, Adjustment],
                  done: list[Adjustment]) -> list[dict]:
    """The fund lines with the deductions and recoveries that went to the reserve (调剂金收入) and its balance.

    Month runs: this run's lines; year runs: the sticky lines of the year (its month runs' and its own), less
    the month runs' deductions returned to the DRG pool (line ``lifecycle_to_pool``).
    """
    year = str(settlement.period.year)
    counted = list(done) if settlement.kind == "month" else \
        [d for d in list(applied.values()) + done if d.sticky and d.run.startswith(year)]
    pooled = to_pool(settlement.policy, settlement.cases.funds, applied, settlement.period.year) \
        if settlement.kind == "year" else {}
    if pooled:
        counted = [d for d in counted if not (d.kind == "deduction" and d.run.startswith(year + "-"))]
    out = []
    for row in rows:
        fund = (row["region"], row["insurance_type"])
        if row["line"] == "reserve_balance" and pooled:
            f = settlement.cases.funds.index(fund) if fund in [tuple(x) for x in settlement.cases.funds] else -1
            out.append({**row, "line": "lifecycle_to_pool", "line_zh": "违规扣款回流DRG基金池 (已含在可分配预算)",
                        "amount_fen": pooled.get(f, 0)})
        if row["line"] == "reserve_balance":
            amounts = {k: sum(d.amount_fen for d in counted if d.kind == k and (d.region, d.insurance_type) == fund)
                       for k in KINDS}
            for k, amount in amounts.items():
                out.append({**row, "line": f"lifecycle_{k}", "line_zh": f"调剂金收入: {KINDS[k]}",
                            "amount_fen": amount})
            row = {**row, "amount_fen": row["amount_fen"] + sum(amounts.values())}
        out.append(row)
    return out


def adjustment_table(lines) -> pa.Table:
    """Deduction and recovery lines as a table (on the statement beside the flag, its appeal and the decision)."""
    rows = [line.row() for line in lines]
    names = list(Adjustment.__dataclass_fields__)[:1] + ["kind", "kind_zh"] + [
        n for n in Adjustment.__dataclass_fields__ if n not in ("adjustment_id", "kind", "amount_fen")] + ["amount"]
    return pa.table({n: pa.array([r[n] for r in rows], pa.decimal128(18, 2) if n == "amount" else
                                 pa.bool_() if n == "sticky" else pa.string()) for n in names})


__all__ = ["KINDS", "Adjustment", "DeductionError", "adjustment_table", "apply_adjustments", "deduction_amount",
           "pending", "reserve_lines", "to_pool"]
