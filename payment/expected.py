"""The expected payment (预计支付) of grouped cases: their settlement standard at a reference point value.

Before a period's budget is known, a case can still be priced:

* case type and points come from :func:`payment.engine.classify`, as in a settlement run; the
  non-DRG tracks (床日, 按项目 …) keep their own standard;
* the reference point value (参考点值), in order: the policy's forecast ``[monthly] provisional``
  value; for the rate method the weight table's base rate of the insurance type; else the neutral
  value ``average_cost ÷ 100`` 元 per point (a case of RW 1 is paid the average cost);
* standard = ⌊points × point value⌋ fen, expected fund payment = standard − patient share,
  rounded down to the fen like every settlement amount (:mod:`payment.money`); the unpaid case
  types (:data:`payment.engine.UNPAID`) are expected to be paid 0.

An expected payment is a forecast, not a settlement: every face shows it under :data:`FORECAST_LABEL`
with its point value (:attr:`ExpectedPayment.point_value`), and the fund payment and the patient
share apart (the standard includes the patient's share).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from foundation.text_values import year_month
from icd_tables.intake.values import canonical_records
from payment.engine import CASE_TYPES, DRG_TRACK, UNPAID, classify
from payment.inputs import Cases, Hospitals, PaymentInputError, Period, prepare_cases
from payment.money import POINT_UNITS, decimal_units, mul_div_floor, ratio_decimal
from payment.policy import Policy
from weights import WeightTable


#: How every face labels an expected payment (预计: a forecast before the period is settled).
FORECAST_LABEL = "预计（结算前按参考点值预测，以结算结果为准） forecast before settlement, at a reference point value"


@dataclass(frozen=True)
class ExpectedPayment:
    """Expected payment of each case.

    Attributes
    ----------
    standard_fen, fund_fen, patient_fen : numpy.ndarray of int64
        Standard, fund payment and patient share in fen; -1 where the case is not priced (reason in ``note``).
    case_type : list of str
        Case type (:data:`payment.engine.CASE_TYPES` name), "" where not priced.
    basis : str
        Which reference point value was used.
    note : list of str
    point_value : list of str
        The reference point value each case was priced at, in words (``"241.500000 元/点"``), "" where none.
    """

    standard_fen: np.ndarray
    fund_fen: np.ndarray
    case_type: list[str]
    basis: str
    note: list[str]
    patient_fen: np.ndarray
    point_value: list[str]


def reference_point_value(policy: Policy, weights: WeightTable) -> tuple[object, str]:
    """The reference point value and its basis (see the module docstring for the order).

    Returns
    -------
    value : (int, int), dict or None
        Fen per 1/10,000 point as ``(numerator, denominator)``; for the rate method a dict of base
        rates (元 per RW) by insurance type; None when there is no reference value.
    basis : str
    """
    if policy.method == "quota":  # each discharge is priced at its hospital's quota
        return None, "quota 定额标准 (no point value 无点值)"
    if policy.provisional is not None:
        return policy.provisional, "policy forecast 政策预测点值"
    if policy.method == "rate":
        rates = dict(weights.meta.base_rates)
        if rates:
            return rates, "base rate 基础费率"
    if policy.average_cost_fen:
        return (policy.average_cost_fen, 100 * POINT_UNITS), "neutral: average cost ÷ 100 中性点值（例均费用÷100）"
    return None, "none 无参考点值"


def reference_point_value_text(policy: Policy, weights: WeightTable) -> str:
    """The reference point value in words with its basis: ``"170.000000 元/点（neutral: …）"``; for the rate
    method's base rates one per insurance type; ``""`` when there is none."""
    value, basis = reference_point_value(policy, weights)
    if value is None:
        return ""
    if isinstance(value, dict):
        return "、".join(f"{k} {v} 元/RW" for k, v in sorted(value.items())) + f"（{basis}）"
    return f"{_value_text(value, policy)}（{basis}）"


def _per_case_point_value(prepared: Cases, point_value) -> np.ndarray:
    """``(numerator, denominator)`` fen per 1/10,000 point of each case."""
    out = np.zeros((prepared.n, 2), np.int64)
    if isinstance(point_value, dict):  # base rate in 元 per RW: fen per point unit = rate × 100 ÷ (100 × 10^4)
        for k, code in enumerate(prepared.insurance_codes):
            rate = point_value.get(code)
            if rate is not None:
                out[prepared.insurance == k] = (decimal_units(rate, 2, "base rate"), 100 * POINT_UNITS)
        out[out[:, 1] == 0] = (0, 1)
    else:
        out[:] = point_value
    return out


def expected_payment(cases: pa.Table, weights: WeightTable, policy: Policy, hospitals: Hospitals) -> ExpectedPayment:
    """Expected payment of grouped cases, each settled alone in the month of its ``policy.period_by`` date.

    Parameters
    ----------
    cases : pyarrow.Table
        Grouped cases (``drg``, ``status`` and the columns :func:`payment.prepare_cases` reads).
    weights : WeightTable
    policy : Policy
    hospitals : Hospitals

    Returns
    -------
    ExpectedPayment
        One entry per case, in input order; a case without a date, or whose month the payment
        layer refuses, is not priced and its note says why.
    """
    n = cases.num_rows
    standard = np.full(n, -1, np.int64)
    fund = np.full(n, -1, np.int64)
    patient = np.full(n, -1, np.int64)
    value_text = [""] * n
    case_type = [""] * n
    note = [""] * n
    cases = canonical_records(cases)
    dates = cases.column(policy.period_by) if policy.period_by in cases.column_names else pa.nulls(n, pa.date32())
    month = year_month(dates)
    for i in np.flatnonzero(month == 0):
        note[i] = f"{policy.period_by} 缺失，无法预计支付 (no {policy.period_by}: not priced)"
    point_value, basis = reference_point_value(policy, weights)
    for m in np.unique(month[month > 0]):
        rows = np.flatnonzero(month == m)
        try:
            period = Period(int(m) // 100, int(m) % 100)
            prepared = prepare_cases(cases.take(pa.array(rows)), weights, policy, hospitals, period)
        except PaymentInputError as exc:
            for i in rows:
                note[i] = f"未能预计支付 (not priced): {exc}"
            continue
        cl = classify(prepared, policy, hospitals)
        picked = rows[prepared.row_no - 1]
        s = cl.track_standard.copy()
        drg = np.isin(cl.case_type, DRG_TRACK)
        if drg.any():
            if point_value is None:
                s[drg] = -1
            else:
                values = _per_case_point_value(prepared, point_value)
                s[drg], _ = mul_div_floor(cl.points[drg], values[drg, 0], values[drg, 1])
        unpaid = np.isin(cl.case_type, UNPAID)
        s[unpaid] = 0
        standard[picked] = s
        fund[picked] = np.where(s >= 0, np.where(unpaid, 0, s - prepared.patient_fen), -1)
        patient[picked] = np.where(s >= 0, np.where(unpaid, 0, prepared.patient_fen), -1)
        values = _per_case_point_value(prepared, point_value) if point_value is not None else None
        for k, i in enumerate(picked):
            case_type[i] = CASE_TYPES[int(cl.case_type[k])][0]
            if values is not None and drg[k] and values[k, 1] > 0:
                value_text[i] = _value_text(values[k], policy)
    return ExpectedPayment(standard, fund, case_type, basis, note, patient, value_text)


def _value_text(value: np.ndarray, policy: Policy) -> str:
    """``(N, D)`` fen per 1/10,000 point in 元 per point (元 per RW for the rate method), 6 decimals, floored."""
    numerator, denominator = int(value[0]), int(value[1])
    if policy.method == "rate":
        return f"{ratio_decimal(numerator * POINT_UNITS * 100, denominator * 100, 6)} 元/RW"
    return f"{ratio_decimal(numerator * POINT_UNITS, denominator * 100, 6)} 元/点"


__all__ = ["FORECAST_LABEL", "ExpectedPayment", "expected_payment", "reference_point_value",
           "reference_point_value_text"]
