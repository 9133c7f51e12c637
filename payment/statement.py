"""What a hospital's settlement statement (结算单) says: its lines, the worked examples, the unpaid cases.

The command line prints these as HTML (``drg settle``); the content is the payment layer's, so every
face states a settlement the same way.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa

from payment.engine import CASE_TYPES, UNPAID
from payment.policy import Policy

#: Kind of run → its Chinese name.
KIND_ZH = {"year": "年度清算", "month": "按月预结", "shadow": "空转试运行"}
#: Statement lines of a hospital (column of the ``hospitals`` table), in the order printed.
STATEMENT_LINES = {
    "year": ("n_cases", "n_drg", "n_unpaid", "drg_points", "point_value", "drg_standard", "drg_patient_share",
             "drg_fund", "drg_cost", "cost_ratio", "other_tracks_fund", "budget_tracks_fund", "interim_netted",
             "event_fund", "corridor", "provisional",
             "withheld", "score", "release_share", "released", "released_before", "corridor_reward",
             "total_deduction", "volume_deduction", "bonus", "lifecycle_deducted_months", "lifecycle_deducted",
             "annual_due", "monthly_paid", "balance", "carried_out"),
    "month": ("n_cases", "n_drg", "n_unpaid", "drg_points", "point_value", "drg_standard", "drg_patient_share",
              "drg_fund", "other_tracks_fund", "budget_tracks_fund", "interim_netted", "event_fund", "provisional",
              "withheld", "lifecycle_deducted", "paid", "released",
              "carried_in", "transfer"),
}
#: Label of each statement line, Chinese and English.
STATEMENT_ZH = {
    "n_cases": "病例数 cases", "n_drg": "DRG病例数 DRG-track cases", "n_unpaid": "暂缓/不予支付病例 unpaid cases",
    "drg_points": "总点数 points", "point_value": "点值/费率 point value or base rate (元)",
    "drg_standard": "DRG支付标准合计 standard", "drg_patient_share": "个人负担 patient shares",
    "drg_fund": "DRG基金支付 DRG fund payment", "drg_cost": "DRG病例实际费用 actual cost",
    "cost_ratio": "费用/支付标准 cost ÷ standard", "other_tracks_fund": "其他付费方式基金支付 other tracks",
    "event_fund": "突发事件除外/预算外单病种 outside the budget", "corridor": "结余留用/超支分担 corridor",
    "budget_tracks_fund": "其中预算内床日/单病种 of which paid from the DRG budget",
    "interim_netted": "扣回中途结算已付 interim payments netted",
    "provisional": "月度预结金额 provisional amount", "withheld": "预留金 withheld",
    "score": "考核得分 assessment score", "release_share": "预留金返还比例 release share",
    "released": "返还预留金 released", "annual_due": "年度应付 annual amount due",
    "monthly_paid": "月度已拨付 paid monthly", "balance": "清算差额 balance due", "paid": "本月拨付 paid this month",
    "released_before": "其中月度已返还 of which released in month runs", "corridor_reward": "其中结余奖励 of which reward",
    "total_deduction": "总控额度扣减 deducted past the total", "volume_deduction": "最低服务人次扣减 deducted for volume",
    "bonus": "考核奖励 bonus (奖优罚劣)", "carried_out": "结转下年 carried into next year", "carried_in": "上年清算差额 last year's balance settled",
    "transfer": "本月合计拨付 transferred this month",
    "lifecycle_deducted": "违规扣款/更正追回 deducted in this run (payment.deductions)",
    "lifecycle_deducted_months": "各月已扣款 deducted in the month runs",
}
#: The quota method's labels of the DRG-track lines (定额法: no points, no point value; see :func:`statement_lines`).
QUOTA_ZH = {
    "n_drg": "定额结算人次 discharges paid by quota", "drg_standard": "定额标准合计 Σ quotas (定额 × 人次)",
    "drg_fund": "定额基金支付 quota fund payment", "cost_ratio": "费用/定额 cost ÷ quotas",
    "drg_cost": "定额病例费用 cost of those discharges",
}


def statement_lines(kind: str, policy: Policy) -> list[tuple[str, str]]:
    """The lines of a hospital's statement for a run kind and policy: (``hospitals`` column, label).

    Under the quota method the point lines are left out and the DRG-track lines named as quota lines
    (the cost is the covered cost, total − self-pay, with ``[quota] covered_cost``).
    """
    if policy.method != "quota":
        return [(k, STATEMENT_ZH[k]) for k in STATEMENT_LINES[kind]]
    labels = {**STATEMENT_ZH, **QUOTA_ZH}
    if policy.covered_cost:
        labels["drg_cost"] = "范围内费用 covered cost (总费用 − 自费)"
    return [(k, labels[k]) for k in STATEMENT_LINES[kind] if k not in ("drg_points", "point_value")]


#: Names of the unpaid case types (:data:`payment.engine.UNPAID`), as case lines write them.
UNPAID_NAMES = tuple(CASE_TYPES[code][0] for code in UNPAID)


def high_multiple(policy: Policy, line: dict) -> Decimal:
    """K (高倍率判定倍数) of a case line, as the policy sets it: by hospital level or by RW tier.

    Parameters
    ----------
    policy : Policy
    line : dict
        A case line (``hospital_level``, ``rw`` as :class:`decimal.Decimal`).

    Returns
    -------
    Decimal
        K, e.g. ``Decimal("3")``.
    """
    if policy.high_by == "hospital_level":
        return Decimal(policy.level_k_u[line["hospital_level"]]).scaleb(-4).normalize()
    rw = int(line["rw"].scaleb(6))
    return next(Decimal(k).scaleb(-4).normalize() for below, k in policy.rw_tiers if below is None or rw < below)


def worked_example(line: dict, policy: Policy) -> str:
    """A case's payment written out with its own numbers (exact decimals from the case line).

    Parameters
    ----------
    line : dict
        A row of the ``case_lines`` table (:func:`payment.tables.case_lines`) as a dict.
    policy : Policy

    Returns
    -------
    str
        One sentence in Chinese, e.g. ``"C1 ES35 (正常病例): RW 1.0 × 100 × 系数 1 = 100 点；…"``.
    """
    ct = line["case_type"]
    netted = f"；扣回中途结算已付 interim netted {line['interim_netted']} 元" if line.get("interim_netted") else ""
    base = f"{line['case_id']} {line['drg']} ({line['case_type_zh']}): "
    if ct in ("normal", "high", "low"):
        unit = "费率" if policy.method == "rate" else "点值"
        head = {"normal": f"RW {line['rw']} × 100 × 系数 {line['coefficient']}",
                "high": f"RW {line['rw']} × 100 × 系数 {line['coefficient']} + (费用 {line['total_cost']} ÷ 例均 "
                        f"{line['mean_cost']} − K {high_multiple(policy, line) if ct == 'high' else ''}) × RW "
                        f"{line['rw']} × 100",
                "low": f"费用 {line['total_cost']} ÷ 例均 {line['mean_cost']} × RW {line['rw']} × 100"}[ct]
        return (base + f"{head} = {line['points']} 点；× {unit} {line['point_value']} → 支付标准 {line['standard']} 元；"
                f"基金支付 = {line['standard']} − 个人负担 {line['patient_share']} = {line['fund_payment']} 元{netted}")
    return base + (f"支付标准 {line['standard']} 元；基金支付 {line['fund_payment']} 元{netted}。{line['formula']} "
                   f"{line['note']}")


def _case_type_codes(lines: pa.Table) -> tuple[np.ndarray, list[str]]:
    kinds = lines.column("case_type").combine_chunks()
    return kinds.indices.to_numpy(zero_copy_only=False), kinds.dictionary.to_pylist()


def case_type_counts(lines: pa.Table) -> list[tuple[str, int]]:
    """Cases per case type of a hospital's case lines, most frequent first.

    Returns
    -------
    list of (str, int)
        Chinese case type name and count; types without cases are left out.
    """
    codes, names = _case_type_codes(lines)
    names_zh = lines.column("case_type_zh").combine_chunks().dictionary.to_pylist()
    counts = np.bincount(codes, minlength=len(names))
    return [(names_zh[k], int(counts[k])) for k in np.argsort(-counts, kind="stable") if counts[k]]


def worked_examples(lines: pa.Table, policy: Policy) -> list[str]:
    """One :func:`worked_example` per case type present: its first case line, in case-line order."""
    codes, _ = _case_type_codes(lines)
    _, first = np.unique(codes, return_index=True)
    return [worked_example(line, policy) for line in lines.take(pa.array(np.sort(first))).to_pylist()]


def unpaid_lines(lines: pa.Table) -> pa.Table:
    """The case lines paid nothing (:data:`UNPAID_NAMES`: held, rejected …), for the hospital to fix and re-run."""
    codes, names = _case_type_codes(lines)
    unpaid = [k for k, name in enumerate(names) if name in UNPAID_NAMES]
    return lines.filter(pa.array(np.isin(codes, unpaid)))


__all__ = ["KIND_ZH", "QUOTA_ZH", "STATEMENT_LINES", "STATEMENT_ZH", "UNPAID_NAMES", "statement_lines", "case_type_counts", "high_multiple",
           "unpaid_lines", "worked_example", "worked_examples"]
