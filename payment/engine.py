"""The settlement arithmetic: case types, points, point values, monthly pre-settlement, year-end clearing.

All of it is vectorised integer NumPy over the arrays of :class:`payment.inputs.Cases`; units and
the rounding rule are those of :mod:`payment.money` (floor to the unit; the year's budget
allocated over the cases by largest remainder).

Case types (病例类型) and tracks
---------------------------------
Checked in this order; the first that applies wins:

======  ================  ==============================================================
code    case type         rule
======  ================  ==============================================================
11      ``rejected``      a value the settlement cannot use (reason in ``note``): paid 0
13      ``interim``       中途结算 record (``[tracks.interim]``): days × per-diem rate, else ⌊cost × long-stay ratio⌋,
                          less what earlier interim settlements of the stay paid (run ledger)
6       ``event``         on the 突发事件 list: ⌊cost × event ratio⌋, outside budget and corridor
5       ``special``       on the 特病单议 list, within the hospital's cap: ⌊cost × special ratio⌋
12      ``single_disease`` 单病种 (``[tracks.single_disease]``): the fixed price of its diagnosis (+ procedure)
7 / 8   ``ungroupable``   ``qy`` / ``ungroupable``: ⌊cost × ratio⌋, or held when ``pay = "hold"``
3       ``per_diem``      a daily rate for its DRG × fund × level/hospital (床日): rate × los_days
4       ``long_stay``     los_days > ``[tracks.long_stay] days``: ⌊cost × ratio⌋
9 / 10  no weight         ``missing_weight``: ``fee_for_service`` ⌊cost × 1⌋, ``hold`` paid 0 (listed)
12      ``quota``         ``method = "quota"`` (定额法): any case of types 0–2 and 7–10 is a discharge paid
                          its hospital's quota (定额标准), whatever its DRG
1       ``high``          cost × 10⁴ > K × mean (高倍率): points = base + ⌊(cost/mean − K) × RW × 100⌋
2       ``low``           cost × 10⁴ < L × mean (低倍率): points = ⌊cost/mean × RW × 100⌋
0       ``normal``        points = ⌊RW × 100 × coefficient⌋
======  ================  ==============================================================

Types 0–2 are the DRG track, paid from the distributable budget at the point value; 3, 4, 5, 7, 9, 14
are paid from the adjustment reserve (调剂金) — per-diem cases and 单病种 ``inside`` from the DRG budget
instead (``[tracks.per_diem] paid_from = "budget"``, ``[tracks.single_disease] budget = "inside"``: their
fund payments are taken off the distributable budget before it is shared over the points); 6 and
单病种 ``outside`` outside the budget; 8, 10, 11 are not paid.  A final record of a stay settled in
interim nets what the interim settlements paid (``interim_netted``; the reserve takes it back).  Under the
quota method type 12 takes the DRG track's place (standard = quota, not rescaled to the budget; the
year-end corridor compares Σ quotas with Σ cost, covered cost = total − self_pay_cost with
``[quota] covered_cost``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from payment import _kernels, cross_region
# The case categories (:attr:`Classified.category`) are public names of this module; the kernel assigns them.
from payment._kernels import CAT_DRG, CAT_EVENT, CAT_RESERVE, CAT_UNPAID
from payment.scope import Scope
from payment.inputs import Cases, Hospitals, PaymentInputError, Period
from payment.ledger import Ledger, LedgerError
from payment.money import (POINT_UNITS, RATIO_UNITS, MoneyRangeError, allocate_largest_remainder,
                           mul_div_floor, ratio_decimal)
from payment.policy import SCHEDULES, Policy
from foundation.decimals import fen_text

CASE_TYPES = {
    0: ("normal", "正常病例"), 1: ("high", "高倍率病例"), 2: ("low", "低倍率病例"),
    3: ("per_diem", "床日付费"), 4: ("long_stay", "超长住院"), 5: ("special", "特病单议"),
    6: ("event", "突发事件除外"), 7: ("ungroupable", "无法入组/歧义按项目"), 8: ("ungroupable_held", "无法入组/歧义暂缓"),
    9: ("no_weight_ffs", "无权重按项目"), 10: ("held", "无权重暂缓支付"), 11: ("rejected", "数据错误不予结算"),
    12: ("quota", "定额结算"), 13: ("single_disease", "单病种"), 14: ("interim", "中途结算"),
}
DRG_TRACK = (0, 1, 2)
RESERVE_TRACKS = (3, 4, 5, 7, 9, 13, 14)
EVENT = 6
PER_DIEM, SINGLE_DISEASE, INTERIM = 3, 13, 14
QUOTA = 12
#: The case types a quota (定额) pays under ``method = "quota"``: every discharge, grouped or not.
QUOTA_PAID = (0, 1, 2, 7, 8, 9, 10)
#: Case types paid nothing (暂缓/不予支付): standard and fund payment 0, listed for the hospital to fix.
UNPAID = (8, 10, 11)


@dataclass
class Classified:
    """Case type, points (1/10,000) and category of every case; ``track_standard`` for the non-DRG tracks."""

    case_type: np.ndarray
    points: np.ndarray
    track_standard: np.ndarray
    category: np.ndarray  # CAT_DRG, CAT_RESERVE, CAT_EVENT or CAT_UNPAID
    special_over_cap: np.ndarray


def track_types(policy: Policy) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The non-DRG case types paid from the reserve, from the DRG budget (预算内) and outside the budget."""
    budget = ((PER_DIEM,) if policy.per_diem_from == "budget" else ()) + \
        ((SINGLE_DISEASE,) if policy.single_disease_budget == "inside" else ())
    outside = (EVENT,) + ((SINGLE_DISEASE,) if policy.single_disease_budget == "outside" else ())
    return tuple(t for t in RESERVE_TRACKS if t not in budget and t not in outside), budget, outside


def special_cap(policy: Policy, counts: np.ndarray) -> np.ndarray:
    """特病单议 cases a hospital may settle: ⌈ or ⌊max_share × its cases⌋ (``rounding``), at least ``min_count``."""
    scaled = counts * policy.special_max_share_u
    cap = -(-scaled // RATIO_UNITS) if policy.special_rounding == "up" else scaled // RATIO_UNITS
    return np.maximum(cap, policy.special_min_count)


def _special_within_cap(cases: Cases, policy: Policy, eligible: np.ndarray, n_hospitals: int) -> np.ndarray:
    """The listed cases each hospital may settle as 特病单议, by list order, within :func:`special_cap`."""
    listed = eligible & cases.special
    if not listed.any():
        return listed
    counts = np.bincount(cases.hosp[eligible], minlength=n_hospitals)
    allowed = special_cap(policy, counts)
    idx = np.flatnonzero(listed)
    order = idx[np.lexsort((cases.special_rank[idx], cases.hosp[idx]))]
    hosp = cases.hosp[order]
    starts = np.searchsorted(hosp, hosp, side="left")
    rank_in_hospital = np.arange(len(order)) - starts
    keep = np.zeros(cases.n, bool)
    keep[order[rank_in_hospital < allowed[hosp]]] = True
    return keep


def classify(cases: Cases, policy: Policy, hospitals: Hospitals) -> Classified:
    """Case type and points of every case (see the module docstring for the rules)."""
    rejected = cases.reject > 0
    special = _special_within_cap(cases, policy, ~rejected & ~cases.event & ~cases.interim, len(hospitals.ids))
    hosp_k = np.zeros(max(len(hospitals.ids), 1), np.int64)
    if policy.high_by == "hospital_level":
        hosp_k[: len(hospitals.ids)] = [policy.level_k_u[level] for level in hospitals.level]
    coef = np.zeros(max(len(hospitals.ids), 1), np.int64)
    # the coefficient on the fund amount (applies_to = "fund"): points without it, see _fund_coefficient
    coef[: len(hospitals.ids)] = hospitals.coef_u if policy.coefficient_applies_to == "standard" else RATIO_UNITS
    weighted = cases.drg_mean[cases.drg_rw > 0]
    paid_cost = cases.cost_fen[~rejected]  # a rejected case's cost is never computed with (it may be a data error)
    if weighted.size and paid_cost.size and (int(paid_cost.max()) * RATIO_UNITS * int(cases.drg_rw.max())
                                             // (RATIO_UNITS * int(weighted.min())) >= 2**52):
        raise MoneyRangeError(f"a cost of {fen_text(paid_cost.max())} 元 against a DRG mean cost of "
                              f"{fen_text(weighted.min())} 元 is outside the exact range; check the costs and the "
                              "mean costs")
    ct, points, standard, category = _kernels.classify_points(
        cases.status, cases.drg, cases.drg_rw, cases.drg_mean, cases.per_diem_rate, np.maximum(cases.hosp, 0), coef,
        hosp_k,
        np.array([b for b, _ in policy.rw_tiers[:-1]], np.int64), np.array([k for _, k in policy.rw_tiers], np.int64),
        cases.cost_fen, cases.los, cases.reject, special, cases.event, policy.low_u, policy.long_stay_days or 0,
        9 if policy.missing_weight == "fee_for_service" else 10,
        7 if policy.ungroupable_pay == "fee_for_service" else 8,
        policy.long_stay_ratio_u, policy.special_ratio_u, policy.event_ratio_u, policy.ungroupable_ratio_u,
        cases.single_price, cases.interim, policy.single_disease_budget == "outside")
    if policy.method == "quota":
        quota = np.isin(ct, QUOTA_PAID)
        ct, points = np.where(quota, QUOTA, ct), np.where(quota, 0, points)
        category = np.where(quota, CAT_DRG, category)
        standard = np.where(quota, hospital_quotas(hospitals, cases.hosp[quota])[np.maximum(cases.hosp, 0)], standard)
    if policy.missing_weight == "error" and (ct == 10).any():
        missing = sorted({cases.drg_codes[d] for d in np.unique(cases.drg[ct == 10])})
        raise PaymentInputError(f"{len(missing)} DRGs have no weight (无权重病组): {', '.join(missing[:20])}; "
                                "add them to the weight table or set missing_weight = \"hold\"")
    return Classified(ct, points, standard, category,
                      cases.special & ~special & ~rejected & ~cases.event & ~cases.interim)


def hospital_quotas(hospitals: Hospitals, used: np.ndarray) -> np.ndarray:
    """Each hospital's quota (定额标准) in fen, by hospital index; 0 where none.

    Parameters
    ----------
    hospitals : Hospitals
        With ``quota_fen`` (:func:`payment.inputs.read_hospitals` resolves the policy's ``[quota]``).
    used : numpy.ndarray of int64
        Hospital indices of the cases a quota pays: each must have a quota.

    Raises
    ------
    PaymentInputError
        A hospital with such cases and no quota.
    """
    out = np.array([hospitals.quota_fen.get(h, 0) for h in hospitals.ids] or [0], np.int64)
    missing = [hospitals.ids[h] for h in np.unique(used) if h >= 0 and out[h] == 0]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise PaymentInputError(f"hospital {missing[0]} has no quota (定额标准){more}: "
                                "give it in the quota table ([quota] table), [quota] hospitals or [quota] levels "
                                "/ 请设定该医院的定额标准")
    return out


def covered_cost(cases: Cases) -> np.ndarray:
    """Covered cost (医保范围内费用) of each case: total − self_pay_cost (at most the total), fen."""
    if cases.self_pay_fen is None:
        return cases.cost_fen
    return cases.cost_fen - np.minimum(cases.self_pay_fen, cases.cost_fen)


@dataclass(frozen=True)
class PointValue:
    """A point value as the exact ratio ``numerator / denominator`` fen per 1/10,000 point."""

    numerator: int
    denominator: int

    def yuan_per_point(self, places: int = 6) -> str:
        """元 per point (点值), rounded down to ``places`` decimals: N × 10⁴ ÷ (D × 100 fen per 元)."""
        return str(ratio_decimal(self.numerator * POINT_UNITS, self.denominator * 100, places))

    def yuan_per_rw(self, places: int = 6) -> str:
        """元 per RW (费率; a case of RW 1 has 100 points), rounded down to ``places`` decimals."""
        return str(ratio_decimal(self.numerator * POINT_UNITS * 100, self.denominator * 100, places))


@dataclass
class Settlement:
    """The result of a run: per-case arrays, per-account (hospital × fund) sums, per-fund lines."""

    kind: str
    period: Period
    policy: Policy
    hospitals: Hospitals
    cases: Cases
    classified: Classified
    standard: np.ndarray           # 支付标准 per case, fen
    fund_payment: np.ndarray       # 基金支付 per case, fen (standard − patient share; 0 when unpaid)
    point_values: dict[int, PointValue]            # fund → final (year, shadow) or month's value
    monthly_values: dict[tuple[int, int], PointValue] = field(default_factory=dict)  # (fund, yyyymm) → value
    monthly_standard: np.ndarray | None = None     # year runs: the provisional standard of each case
    budgets: dict[int, tuple[int, int, int]] = field(default_factory=dict)   # fund → budget, reserve, distributable
    accounts: dict[str, np.ndarray] = field(default_factory=dict)            # per (hospital, fund)
    months: dict[str, np.ndarray] = field(default_factory=dict)              # per (hospital, fund, month) for years
    scores: dict[str, int] = field(default_factory=dict)
    ledger: Ledger | None = None                   # the run ledger read (month and year runs)
    interim_netted: np.ndarray | None = None       # per case: interim payments of its stay netted at discharge
    releases: list[dict] = field(default_factory=list)  # withhold released in this run, per account
    quota_baseline: np.ndarray | None = None       # shadow runs with [quota]: each DRG-track case's quota, fen
    inbound_standard: np.ndarray | None = None     # [cross_region] difference = "hospital": the DRG standards


def fund_budgets(policy: Policy, funds) -> dict[int, tuple[int, int, int]]:
    """Budget, adjustment reserve (调剂金) and distributable budget of each fund, in fen.

    Parameters
    ----------
    policy : Policy
    funds : sequence of (region, insurance_type)
        The funds of the run, as :attr:`payment.Cases.funds`; each must have a budget in the policy.

    Returns
    -------
    dict
        Fund index → ``(budget, reserve, distributable)``; reserve = ⌊budget × reserve share⌋.  A clearing
        fund (异地就医 outside the local pool, :mod:`payment.cross_region`) has no budget: ``(0, 0, 0)``.
    """
    out = {}
    for f, key in enumerate(funds):
        budget = next((b.amount_fen for b in policy.budgets if (b.region, b.insurance_type) == tuple(key)), 0)
        reserve = budget * policy.reserve_u // RATIO_UNITS
        out[f] = (budget, reserve, budget - reserve)
    return out


def point_values(points: np.ndarray, patient: np.ndarray, numerators: dict[int, int],
                 scale: int) -> dict[int, PointValue]:
    """Point value of each group g with points: (numerator_g + scale × Σ patient shares) ÷ (scale × Σ points).

    Parameters
    ----------
    points, patient : numpy.ndarray of int64
        Σ DRG-track points (1/10,000) and Σ patient shares (fen) per group.
    numerators : dict
        Group → the budget it shares (fen): a fund's distributable budget, or its twelfth for a month.
    scale : int
        12 when a month shares a twelfth of the budget (exactly, as ``budget / 12``), else 1.

    Returns
    -------
    dict
        Group → :class:`PointValue`, for the groups with points.
    """
    return {g: PointValue(int(numerators[g]) + scale * int(patient[g]), scale * int(points[g]))
            for g in numerators if points[g] > 0}


def monthly_point_values(policy: Policy, budgets: dict[int, tuple[int, int, int]],
                         by_fund_month: np.ndarray, in_budget: np.ndarray | None = None) -> dict[int, PointValue]:
    """The provisional point value of each fund × month (group ``fund × 12 + month − 1``).

    The policy's forecast value (``[monthly] provisional``) when it sets one, else a twelfth of the
    distributable budget over the month's points.

    Parameters
    ----------
    policy : Policy
    budgets : dict
        From :func:`fund_budgets`.
    by_fund_month : numpy.ndarray of int64, shape (funds, 12, k ≥ 3)
        DRG-track count, Σ points and Σ patient shares of each fund × month (columns 0, 1, 2).
    in_budget : numpy.ndarray of int64, shape (funds, 12), optional
        Fund payments of the tracks paid from the DRG budget (预算内) per fund × month: the month shares
        a twelfth of the distributable budget less them (at least 0).

    Returns
    -------
    dict
        Group → :class:`PointValue`, for the months with DRG-track cases.
    """
    if policy.provisional is None:
        # a month whose in-budget tracks take its whole twelfth pays its DRG cases no provisional fund amount
        numerators = {f * 12 + m: max(budgets[f][2] - (0 if in_budget is None else 12 * int(in_budget[f, m])), 0)
                      for f in budgets for m in range(12)}
        return point_values(by_fund_month[..., 1].ravel(), by_fund_month[..., 2].ravel(), numerators, 12)
    return {g: PointValue(*policy.provisional) for g in range(by_fund_month.shape[0] * 12)
            if by_fund_month[..., 0].ravel()[g] > 0}


def budget_point_values(budgets: dict[int, tuple[int, int, int]], by_fund: np.ndarray, scale: int, funds,
                        period: Period, in_budget: np.ndarray | None = None) -> dict[int, PointValue]:
    """The point value of each fund that shares its distributable budget over the period's points.

    Parameters
    ----------
    budgets : dict
        From :func:`fund_budgets`.
    by_fund : numpy.ndarray of int64, shape (funds, k ≥ 3)
        DRG-track count, Σ points and Σ patient shares of each fund (columns 0, 1, 2).
    scale : int
        As for :func:`point_values`.
    funds : sequence of (region, insurance_type)
    period : Period
        For the message.
    in_budget : numpy.ndarray of int64, shape (funds,), optional
        Fund payments of the tracks paid from the DRG budget (预算内): shared budget = distributable − them
        (× ``scale``).

    Raises
    ------
    PaymentInputError
        A fund with a budget but no DRG-track points in the period, or whose in-budget tracks take more
        than its distributable budget.
    """
    taken = {f: 0 if in_budget is None else int(in_budget[f]) for f in budgets}
    pools = {f: b[2] - scale * taken[f] for f, b in budgets.items()}
    short = [f for f, v in pools.items() if v < 0]
    if short:
        raise PaymentInputError(f"fund {'/'.join(funds[short[0]])}: the tracks paid from the DRG budget (床日付费/单病种 "
                                f"预算内) take {fen_text(taken[short[0]])} 元, more than the distributable budget "
                                "/ 预算内项目支付超过可分配预算")
    values = point_values(by_fund[:, 1], by_fund[:, 2], pools, scale)
    empty = [funds[f] for f in budgets if f not in values]
    if empty:
        raise PaymentInputError(f"fund {'/'.join(empty[0])} has a budget but no DRG-track cases with points in "
                                f"{period}; nothing to share the budget over")
    return values


def floor_standards(points: np.ndarray, group: np.ndarray, mask: np.ndarray, values: dict[int, PointValue],
                    n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """⌊points × N/D⌋ and remainders of the masked cases, per group's point value (groups without one: 0).

    Parameters
    ----------
    points, group : numpy.ndarray of int64
        Each case's points (1/10,000) and the group (fund, or fund × month) whose value it takes.
    mask : numpy.ndarray of bool
        The cases to price (the DRG track); the others get 0.
    values : dict
        Group → :class:`PointValue`.
    n_groups : int

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The floored standards in fen and the remainders (numerators over each group's denominator),
        which :func:`payment.money.allocate_largest_remainder` completes to the budget.

    Raises
    ------
    MoneyRangeError
        Budget or points beyond exact int64 arithmetic.
    """
    num = np.zeros(max(n_groups, 1), np.int64)
    den = np.ones(max(n_groups, 1), np.int64)
    for g, v in values.items():
        num[g], den[g] = v.numerator, v.denominator
    if num.max(initial=0) >= 2**53 or den.max(initial=0) >= 2**51 or (points.max(initial=0) >= 2**53):
        raise MoneyRangeError("budget or points too large for exact arithmetic (budget < 9×10^13 元, "
                              "Σ points < 2×10^11)")
    return _kernels.standards(points, group, num, den, mask)


def _allocate(q, r, fund, mask, values: dict[int, PointValue], scale: int) -> np.ndarray:
    """Complete the floored standards of each fund by largest remainder to ⌊N / scale⌋ (the budget to the fen)."""
    for f, v in values.items():
        idx = np.flatnonzero(mask & (fund == f)) if len(values) > 1 else np.flatnonzero(mask)
        q[idx] = allocate_largest_remainder(q[idx], r[idx], v.numerator // scale)
    return q


def interim_paid_before(cases: Cases, ledger: Ledger | None) -> np.ndarray:
    """Per case: what interim settlements (中途结算) of its stay paid in runs before the case's month (ledger)."""
    out = np.zeros(cases.n, np.int64)
    stays = ledger.interim_by_stay() if ledger is not None else {}
    if not stays:
        return out
    known = pc.is_in(cases.stay, value_set=pa.array(sorted(stays), pa.string())).to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(known).tolist():
        when = (int(cases.yyyymm[i]) // 100, int(cases.yyyymm[i]) % 100)
        out[i] = sum(amount for order, amount in stays[cases.stay[i].as_py()] if order < when)
    return out


def _same_month_interim(cases: Cases, interim: np.ndarray, fund_payment: np.ndarray) -> np.ndarray:
    """Per case: the interim payments of its stay in this run dated in its own month (a stay settled in interim
    and discharged in the same month); the ledger holds only earlier months'."""
    out = np.zeros(cases.n, np.int64)
    paid = {}
    for i in np.flatnonzero(interim).tolist():
        key = (cases.stay[i].as_py(), int(cases.yyyymm[i]))
        paid[key] = paid.get(key, 0) + int(fund_payment[i])
    if paid:
        known = pc.is_in(cases.stay, value_set=pa.array(sorted({k for k, _ in paid}), pa.string()))
        for i in np.flatnonzero(known.to_numpy(zero_copy_only=False) & ~interim).tolist():
            out[i] = paid.get((cases.stay[i].as_py(), int(cases.yyyymm[i])), 0)
    return out


def _release_share(policy: Policy, score_u: int) -> int:
    """Share of the withhold released (1/10,000) for a score in 1/100 points."""
    if policy.release_bands is None:
        return score_u  # score / 100, in 1/10,000: the same integer
    return next(share for min_score, share in policy.release_bands if score_u >= min_score * 100)


def corridor_adjustment(policy: Policy, standard: int, cost: int) -> int:
    """Fund's corridor payment (+) or claw-back (−) for a hospital's DRG standard and actual cost, fen.

    Margin bands (only ``fund_share``): the bands split cost ÷ standard at their ``upto`` ratios; the fund
    pays ``fund_share`` of the part of the cost between the standard and the actual cost that falls in each
    band (of the surplus, when cost is below the standard, it takes that share back), rounded down to the
    fen.  Bands that say how they pay (``pay``): see :func:`corridor_parts`.
    """
    return corridor_parts(policy, standard, cost)[0]


def corridor_parts(policy: Policy, standard: int, cost: int) -> tuple[int, int]:
    """(adjustment, of which reward) in fen: settled total = standard + adjustment.

    With bands that say how they pay, the band is the one the ratio cost ÷ standard falls in (a ratio of
    exactly ``upto`` in this band when ``include_upto``, else in the next), and the settled total is:

    * ``standard``: the standard (按定额标准结算), adjustment 0;
    * ``cost``: the actual cost (按实际发生数结算);
    * ``cost_plus_reward``: the cost plus ⌊reward_share × (standard − cost)⌋ or the fixed ``reward``;
    * ``excess``: the standard plus ⌊fund_share × (cost − base)⌋, base the band's lower edge
      (``excess_from = "band_edge"``) or the standard (``"standard"``);
    * ``capped``: what the band below pays at this band's lower edge (above it the hospital bears the cost).

    Every amount is rounded down to the fen (a negative one too: toward minus infinity).
    """
    if policy.corridor is None or standard <= 0:
        return 0, 0
    bands = policy.corridor_pay
    if bands is None:
        return _margin(policy, standard, cost), 0
    cost4 = cost * RATIO_UNITS
    b = 0
    while bands[b].upto_u is not None and (cost4 > standard * bands[b].upto_u or
                                           cost4 == standard * bands[b].upto_u and not bands[b].include_upto):
        b += 1
    return _band_pays(policy, b, standard, cost4)


def _band_pays(policy: Policy, b: int, standard: int, cost4: int) -> tuple[int, int]:
    """Adjustment and reward of band ``b`` for a cost given in 1/10,000 fen (exact at a ratio edge)."""
    band = policy.corridor_pay[b]
    lower_u = policy.corridor_pay[b - 1].upto_u if b else 0
    over = cost4 - standard * RATIO_UNITS  # (cost − standard) in 1/10,000 fen
    if band.pay == "standard":
        return 0, 0
    if band.pay == "cost":
        return over // RATIO_UNITS, 0
    if band.pay == "cost_plus_reward":
        reward = band.reward_fen if band.reward_fen is not None else \
            max(0, -over) * band.reward_share_u // RATIO_UNITS**2
        return over // RATIO_UNITS + reward, reward
    if band.pay == "excess":
        base4 = standard * (RATIO_UNITS if policy.excess_from == "standard" else lower_u)
        return (cost4 - base4) * band.fund_share_u // RATIO_UNITS**2, 0
    return _band_pays(policy, b - 1, standard, standard * lower_u)  # capped


def _margin(policy: Policy, standard: int, cost: int) -> int:
    if cost == standard:
        return 0
    low, high = sorted((standard, cost))
    total, lower_edge = 0, 0
    for upto, share in policy.corridor:
        upper_edge = standard * upto // RATIO_UNITS if upto is not None else max(high, standard) + 1
        overlap = max(0, min(high, upper_edge) - max(low, lower_edge))
        total += share * overlap
        lower_edge = upper_edge
    return total // RATIO_UNITS if cost > standard else -((total + RATIO_UNITS - 1) // RATIO_UNITS)


def withhold(policy: Policy, provisional: np.ndarray) -> np.ndarray:
    """The withheld part (预留金) of positive provisional amounts; the paid part is rounded down.

    Parameters
    ----------
    policy : Policy
    provisional : numpy.ndarray of int64
        Provisional amounts in fen (per account, or per account × month).

    Returns
    -------
    numpy.ndarray of int64
        ``provisional − ⌊provisional × (1 − withhold share)⌋`` where positive, else 0.
    """
    paid = provisional * (RATIO_UNITS - policy.withhold_u) // RATIO_UNITS
    return np.where(provisional > 0, provisional - paid, 0)


def _fund_coefficient(standard: np.ndarray, cases: Cases, hospitals: Hospitals, mask: np.ndarray) -> np.ndarray:
    """``applies_to = "fund"``: fund amount = ⌊(standard − patient share) × coefficient⌋; standard = that + share."""
    if not hospitals.ids:
        return standard
    return _kernels.fund_coefficient(standard, cases.patient_fen, np.maximum(cases.hosp, 0), hospitals.coef_u, mask)


def _drg_standards(settlement: Settlement, cl: Classified, by_fund_month: np.ndarray, fixed: dict, clearing: dict,
                   drg_mask: np.ndarray, fund: np.ndarray, month: np.ndarray, in_budget: np.ndarray,
                   to_pool: dict[int, int] | None = None):
    """The point-method and rate-method standards of a run (and the year run's monthly ones); sets the values.

    ``fixed``: the scope's point values per fund; ``clearing``: the reference values of the 异地就医 clearing
    funds (:func:`payment.cross_region.reference_values`); ``in_budget``: fund payments of the tracks paid from
    the DRG budget per fund × month, taken off what the points share; ``to_pool``: see :func:`settle`.
    """
    kind, period, policy, cases = settlement.kind, settlement.period, settlement.policy, settlement.cases
    hospitals, budgets, n_funds = settlement.hospitals, settlement.budgets, max(len(settlement.cases.funds), 1)
    monthly = None
    if kind in ("year", "month"):
        values = monthly_point_values(policy, budgets, by_fund_month, in_budget)
        if fixed or clearing:
            values = {g: PointValue(*fixed[g // 12]) if g // 12 in fixed else
                      PointValue(*clearing[g // 12]) if g // 12 in clearing else v for g, v in values.items()}
        monthly, _ = floor_standards(cl.points, fund * 12 + month, drg_mask, values, n_funds * 12)
        if policy.coefficient_applies_to == "fund":
            monthly = _fund_coefficient(monthly, cases, hospitals, drg_mask)
        settlement.monthly_values = {(g // 12, period.year * 100 + g % 12 + 1): v for g, v in values.items()}
    if kind == "year" and to_pool:  # after the months' provisional values: the pool grows for the year only
        budgets = {f: (b, r, d + to_pool.get(f, 0)) for f, (b, r, d) in budgets.items()}
        settlement.budgets = budgets
    if kind == "month":
        standard = np.where(drg_mask, monthly, cl.track_standard)
        settlement.point_values = {g // 12: v for g, v in values.items()}
    elif fixed:  # the region's values: no budget is shared over this subset's points
        values = {f: PointValue(*fixed[f]) for f in range(n_funds) if by_fund_month[f, :, 1].sum() > 0}
        q, _ = floor_standards(cl.points, fund, drg_mask, values, n_funds)
        standard = np.where(drg_mask, q, cl.track_standard)
        settlement.point_values = values
    else:
        scale = 12 if period.month is not None else 1
        totals = by_fund_month.sum(axis=1)
        outside = {f: PointValue(*v) for f, v in clearing.items() if totals[f, 1] > 0}
        if policy.point_value_fixed is not None:
            values = {f: PointValue(*policy.point_value_fixed) for f in budgets if totals[f, 1] > 0} | outside
            q, _ = floor_standards(cl.points, fund, drg_mask, values, n_funds)
        else:
            pooled = {f: b for f, b in budgets.items() if f not in clearing}
            values = budget_point_values(pooled, totals, scale, cases.funds, period, in_budget.sum(axis=1))
            q, r = floor_standards(cl.points, fund, drg_mask, values | outside, n_funds)
            q = _allocate(q, r, fund, drg_mask & ~cross_region.clearing_mask(cases), values, scale)
            values = values | outside
        if policy.coefficient_applies_to == "fund":
            q = _fund_coefficient(q, cases, hospitals, drg_mask)
        standard = np.where(drg_mask, q, cl.track_standard)
        settlement.point_values = values
    return standard, monthly


def settle(cases: Cases, policy: Policy, hospitals: Hospitals, kind: str, period: Period,
           scores: dict[str, int] | None = None, ledger: Ledger | None = None,
           scope: Scope | None = None, to_pool: dict[int, int] | None = None) -> Settlement:
    """Settle the cases of a period.

    Parameters
    ----------
    cases : Cases
        From :func:`payment.inputs.prepare_cases` for ``period``.
    policy : Policy
    hospitals : Hospitals
    kind : {"year", "month", "shadow"}
        Year-end clearing (年度清算), monthly pre-settlement (按月预结) or shadow run (空转试运行).
    period : Period
        A year for ``year``; a month for ``month``; either for ``shadow``.
    scores : dict, optional
        Assessment score per hospital (1/100 points), for the withhold release of a year run, or of a
        month run that ends a release period (``[assessment] schedule``).
    ledger : Ledger, optional
        The run ledger: a month run releases withholds and settles carried balances from it; a year run
        reads what the months paid, withheld and released from it instead of recomputing the months.
    scope : Scope, optional
        For a run on part of the region's hospitals: the region's point values (month and shadow
        runs: each case's standard is ⌊points × value⌋, no budget is shared) or the subset's share of
        each budget (:mod:`payment.scope`).
    to_pool : dict, optional
        A year run: fund index → fen added to the fund's distributable budget (deductions of the year's
        month runs returned to the DRG pool, ``[lifecycle] deductions_to = "pool"``, :mod:`payment.deductions`).

    Returns
    -------
    Settlement

    Raises
    ------
    PaymentInputError
        A period of the wrong kind, a fund without DRG-track cases, a hospital without a score.
    """
    if kind == "year" and period.month is not None or kind == "month" and period.month is None:
        raise PaymentInputError(f"drg settle {kind} needs a {'year (2024)' if kind == 'year' else 'month (2024-03)'}"
                                f", not {period}")
    scope = scope or Scope()
    if kind == "year" and scope.point_values:
        raise PaymentInputError("a year run clears the whole budget: give --budget-share for part of the region, "
                                "not --point-value")
    if policy.interim_months is not None and kind != "shadow" and ledger is None:
        raise PaymentInputError("[tracks.interim] enabled: interim payments (中途结算) are netted at discharge from the "
                                "run ledger; give --ledger / 中途结算需要结算台账")
    cl = classify(cases, policy, hospitals)
    budgets = scope.budgets(fund_budgets(policy, cases.funds), policy)
    clearing = cross_region.reference_values(cases, policy)  # 异地就医 outside the pool: fixed reference values
    fixed = scope.fund_values([None if f in clearing else k for f, k in enumerate(cases.funds)], policy)
    if fixed:
        fixed.update(clearing)
    n_funds = max(len(cases.funds), 1)
    n_accounts = max(len(hospitals.ids), 1) * n_funds
    keep = cases.fund >= 0
    fund = np.maximum(cases.fund, 0)
    month = np.maximum(cases.yyyymm % 100 - 1, 0)
    slot = (np.maximum(cases.hosp, 0) * n_funds + fund) * 12 + month
    zeros = np.zeros(cases.n, np.int64)
    cost = covered_cost(cases) if policy.method == "quota" and policy.covered_cost else cases.cost_fen
    first = _kernels.category_sums(slot, cl.category, keep, n_accounts * 12, cl.points, cases.patient_fen,
                                   cost, zeros, zeros)
    # DRG-track points and patient shares per fund × month: (accounts × 12) → (hospitals, funds, 12)
    by_fund_month = first[:, CAT_DRG, :].reshape(-1, n_funds, 12, 6).sum(axis=0)
    drg_mask = (cl.category == CAT_DRG) & keep
    settlement = Settlement(kind, period, policy, hospitals, cases, cl, cl.track_standard, zeros, {},
                            budgets=budgets, scores=dict(scores or {}), ledger=ledger)
    _, budget_types, _ = track_types(policy)
    budget_fund = np.where(keep & np.isin(cl.case_type, budget_types), cl.track_standard - cases.patient_fen, 0)
    in_budget = group_sum(budget_fund, fund * 12 + month, n_funds * 12).reshape(n_funds, 12)
    monthly = None
    if policy.method == "quota":  # each case's standard is its quota: no point value, nothing rescaled
        if scope.point_values or scope.budget_share is not None:
            raise PaymentInputError("method = \"quota\" (定额法) has no point value or budget share to scope: settle "
                                    "the hospitals' cases without --point-value / --budget-share")
        standard = cl.track_standard
        monthly = standard if kind == "year" else None
    else:
        standard, monthly = _drg_standards(settlement, cl, by_fund_month, fixed, clearing, drg_mask, fund, month,
                                           in_budget, to_pool)
        if clearing and policy.cross_region.difference == "hospital":
            settlement.inbound_standard = standard
            standard = cross_region.paid_as_cleared(standard, cases, policy, cl.category)
    paid = keep & (cl.category != CAT_UNPAID)
    settlement.standard = np.where(paid, standard, 0)
    prior = interim_paid_before(cases, ledger) if kind != "shadow" else zeros
    interim = cl.case_type == INTERIM
    settlement.fund_payment = np.where(paid, standard - cases.patient_fen - np.where(interim, prior, 0), 0)
    settlement.interim_netted = np.where(paid & ~interim, prior + _same_month_interim(cases, interim,
                                                                                      settlement.fund_payment), 0)
    if monthly is not None:
        monthly = cross_region.paid_as_cleared(monthly, cases, policy, cl.category)
    second = _kernels.category_sums(slot, cl.category, keep, n_accounts * 12, settlement.standard,
                                    settlement.fund_payment, zeros if monthly is None else monthly,
                                    np.where(paid, budget_fund, 0), settlement.interim_netted)
    sums = account_sums(first, second, n_accounts)
    if kind == "shadow" and policy.method != "quota" and hospitals.quota_fen:
        # the quota (定额) baseline beside DRG and fee for service: what the quota would pay the same cases
        quotas = hospital_quotas(hospitals, cases.hosp[drg_mask])
        settlement.quota_baseline = np.where(drg_mask, quotas[np.maximum(cases.hosp, 0)], 0)
        sums["quota_standard"] = group_sum(settlement.quota_baseline, slot // 12, n_accounts)
        # the cost the quota is compared with: covered (total − self-pay) with [quota] covered_cost, as quotas are set
        compared = covered_cost(cases) if policy.covered_cost else cases.cost_fen
        sums["quota_cost"] = group_sum(np.where(drg_mask, compared, 0), slot // 12, n_accounts)
    if kind == "year":
        settlement.monthly_standard = monthly
        settlement.months = monthly_payments(policy, first, second)
        if ledger is not None:
            settlement.months.update(_ledger_months(settlement, n_funds))
        year_end(policy, hospitals, settlement.budgets, settlement.scores, settlement.months, sums, n_funds, ledger)
    elif kind == "month":
        provisional = sums["drg_fund"] + sums["reserve_fund"] - sums["interim_netted"]
        withheld = withhold(policy, provisional)
        sums.update(provisional=provisional, withheld=withheld, paid=provisional - withheld + sums["event_fund"])
        if ledger is not None or policy.release_schedule != "year":
            _month_release_and_carry(settlement, sums, n_funds)
    settlement.accounts = sums
    return settlement


def account_sums(first: np.ndarray, second: np.ndarray, n_accounts: int) -> dict[str, np.ndarray]:
    """Per account (hospital × fund) figures from the slot × category sums of the two passes.

    Parameters
    ----------
    first, second : numpy.ndarray of int64, shape (accounts × 12, 4, k)
        Per slot (account × month) and category: the first pass's count, points, patient shares and
        costs; the second's count, standards, fund payments, provisional standards, fund payments of the
        tracks paid from the DRG budget and interim payments netted.
    n_accounts : int

    Returns
    -------
    dict
        Name → int64 array per account, as :attr:`Settlement.accounts` holds them before the year end.
    """
    per_account = lambda table, cat, col: table[:, cat, col].reshape(n_accounts, 12).sum(axis=1)  # noqa: E731
    return {
        "n_cases": first[:, :, 0].sum(axis=1).reshape(n_accounts, 12).sum(axis=1),
        "n_drg": per_account(first, CAT_DRG, 0), "drg_points": per_account(first, CAT_DRG, 1),
        "drg_patient": per_account(first, CAT_DRG, 2), "drg_cost": per_account(first, CAT_DRG, 3),
        "drg_standard": per_account(second, CAT_DRG, 1), "drg_fund": per_account(second, CAT_DRG, 2),
        "reserve_fund": per_account(second, CAT_RESERVE, 2), "event_fund": per_account(second, CAT_EVENT, 2),
        "n_held": per_account(first, CAT_UNPAID, 0),
        "budget_fund": _column_sum(second, 4).reshape(n_accounts, 12).sum(axis=1),
        "interim_netted": _column_sum(second, 5).reshape(n_accounts, 12).sum(axis=1),
    }


def _column_sum(sums: np.ndarray, col: int) -> np.ndarray:
    """Per slot, over the categories; 0 where the sums have no such column (Spark's, without these tracks)."""
    return sums[:, :, col].sum(axis=1) if sums.shape[2] > col else np.zeros(sums.shape[0], np.int64)


def monthly_payments(policy: Policy, first: np.ndarray, second: np.ndarray) -> dict[str, np.ndarray]:
    """A year's monthly pre-settlement per account × month, replayed from the two passes' slot sums.

    Parameters
    ----------
    policy : Policy
    first, second : numpy.ndarray of int64
        As for :func:`account_sums`; ``second[..., 3]`` holds the provisional (monthly) standards.

    Returns
    -------
    dict
        ``provisional``, ``withheld``, ``event_fund``, ``paid`` and ``n_cases`` per slot, fen
        (:attr:`Settlement.months`).
    """
    provisional = second[:, CAT_DRG, 3] - first[:, CAT_DRG, 2] + second[:, CAT_RESERVE, 2] - _column_sum(second, 5)
    withheld = withhold(policy, provisional)
    events = second[:, CAT_EVENT, 2]
    return {"provisional": provisional, "withheld": withheld, "event_fund": events,
            "paid": provisional - withheld + events, "n_cases": first[:, :, 0].sum(axis=1)}


def account_keys(settlement: Settlement) -> list[tuple[str, str, str]]:
    """(hospital id, region, insurance type) of every account index."""
    funds = settlement.cases.funds or [("", "")]
    return [(h, *f) for h in (settlement.hospitals.ids or ("",)) for f in funds]


def _score_share(policy: Policy, scores: dict[str, int], hid: str) -> tuple[int, int]:
    s = scores.get(hid, policy.default_score * 100 if policy.default_score is not None else None)
    if s is None:
        raise PaymentInputError(f"hospital {hid} has no assessment score (考核得分) to release its withhold; "
                                "give a score file (--scores) or set [assessment] default_score")
    return s, _release_share(policy, s)


def _month_release_and_carry(settlement: Settlement, sums: dict, n_funds: int) -> None:
    """A month run: release the withhold of the schedule period it ends, settle last year's carried balance."""
    policy, ledger, period = settlement.policy, settlement.ledger, settlement.period
    keys = account_keys(settlement)
    index = {k: a for a, k in enumerate(keys)}
    released = np.zeros(len(keys), np.int64)
    carried = np.zeros(len(keys), np.int64)
    months = SCHEDULES[policy.release_schedule]
    if months < 12 and period.month % months == 0:
        first = period.month - months + 1
        withheld = {k: int(sums["withheld"][a]) for a, k in enumerate(keys) if sums["n_cases"][a]}
        if months > 1:
            if ledger is None:
                raise PaymentInputError(f"[assessment] schedule = \"{policy.release_schedule}\": the {period} run "
                                        f"releases the withhold of {period.year}-{first:02d}..{period}; it reads them "
                                        "from the run ledger: give --ledger / 需要结算台账")
            for m in range(first, period.month):
                if not ledger.has_run(f"{period.year}-{m:02d}"):
                    raise LedgerError(f"ledger {ledger.path or '(in memory)'}: no month run {period.year}-{m:02d} "
                                      f"recorded; the {period} run releases the withhold of {period.year}-"
                                      f"{first:02d}..{period}: settle the months in order / 请按月顺序结算")
            for e in ledger.month_entries(period.year, range(first, period.month)):
                k = (e["hospital_id"], e["region"], e["insurance_type"])
                withheld[k] = withheld.get(k, 0) + e["withheld"]
        for k in sorted(withheld):
            score, share = _score_share(policy, settlement.scores, k[0])
            amount = withheld[k] * share // RATIO_UNITS
            settlement.releases.append({"hospital_id": k[0], "region": k[1], "insurance_type": k[2],
                                        "release_period": f"{period.year}-{first:02d}..{period}",
                                        "withheld": withheld[k], "score": score, "release_share": share,
                                        "released": amount})
            if k in index:
                released[index[k]] = amount
    start = policy.carry_from_month
    if ledger is not None and policy.carry_balance and start <= period.month < start + policy.carry_months:
        last = period.year - 1
        if ledger.has_run(str(last)):
            k_th, n = period.month - start + 1, policy.carry_months
            for e in ledger.entries:
                if e["run"] == str(last) and e["carried_out"]:
                    b = e["carried_out"]
                    k = (e["hospital_id"], e["region"], e["insurance_type"])
                    if k not in index:
                        raise LedgerError(f"{ledger.describe(e)}: the hospital or fund is not in this run; its "
                                          "carried balance cannot be settled")
                    carried[index[k]] = b * k_th // n - b * (k_th - 1) // n
        elif ledger.runs_of_year(last):
            raise LedgerError(f"ledger {ledger.path or '(in memory)'}: year {last} has month runs but no year-end "
                              f"clearing; run drg settle year {last} before {period} (carried balance, "
                              "[corridor] carry_balance)")
    sums.update(released=released, carried_in=carried, transfer=sums["paid"] + released + carried)


def _ledger_months(settlement: Settlement, n_funds: int) -> dict[str, np.ndarray]:
    """A year run with a ledger: each account's months as recorded (paid, withheld, released), not recomputed."""
    ledger, period, cases = settlement.ledger, settlement.period, settlement.cases
    index = {k: a for a, k in enumerate(account_keys(settlement))}
    for m in sorted({int(v) % 100 for v in np.unique(cases.yyyymm) if v // 100 == period.year}):
        if not ledger.has_run(f"{period.year}-{m:02d}"):
            raise LedgerError(f"ledger {ledger.path or '(in memory)'}: no month run {period.year}-{m:02d} recorded, "
                              f"but the year has cases discharged then; the year run reads what was paid from the "
                              f"ledger: settle {period.year}-{m:02d} first / 请先结算该月")
    out = {k: np.zeros(len(index) * 12, np.int64) for k in ("provisional", "withheld", "event_fund", "paid",
                                                            "released")}
    for e in ledger.month_entries(period.year, range(1, 13)):
        a = index.get((e["hospital_id"], e["region"], e["insurance_type"]))
        if a is None:
            raise LedgerError(f"{ledger.describe(e)}: the hospital or fund has no cases in the year run; the year "
                              "cannot be cleared against this ledger")
        slot = a * 12 + int(e["run"][5:7]) - 1
        for k in out:
            out[k][slot] += e[k]
    return out


def _split(amount: int, weights: np.ndarray) -> np.ndarray:
    """``amount`` over accounts in proportion to ``weights`` (≥ 0), by largest remainder; all to the first if 0."""
    out = np.zeros(len(weights), np.int64)
    total = int(weights.sum())
    if amount == 0:
        return out
    if total == 0:
        out[0] = amount
        return out
    q, r = mul_div_floor(weights, amount, total)
    return allocate_largest_remainder(q, r, amount)


def _limits(policy: Policy, hospitals: Hospitals, sums: dict, corridor: np.ndarray, n_funds: int):
    """总控额度 and 最低服务人次 deductions per account (see the README, payment section)."""
    n = len(corridor)
    total_ded, volume_ded = np.zeros(n, np.int64), np.zeros(n, np.int64)
    totals, minimum = hospitals.totals_fen, hospitals.min_cases  # the table's, the policy's overriding them
    if not totals and not minimum:
        return total_ded, volume_ded
    due = sums["drg_fund"] + sums["reserve_fund"] + corridor
    paid_cases = sums["n_cases"] - sums["n_held"]
    for h, hid in enumerate(hospitals.ids):
        own = slice(h * n_funds, (h + 1) * n_funds)
        present = sums["n_cases"][own] > 0
        if not present.any():
            continue
        weights = np.where(present, np.maximum(due[own], 0), 0)
        if not weights.any():
            weights = present.astype(np.int64) * (np.arange(n_funds) == np.argmax(present))
        if hid in totals:
            excess = max(0, int(due[own].sum()) - totals[hid])
            kept = excess - excess * policy.totals_fund_share_u // RATIO_UNITS if policy.totals_over == "share" \
                else excess
            total_ded[own] = _split(kept, weights)
        if hid in minimum:
            missing = max(0, minimum[hid] - int(paid_cases[own].sum()))
            volume_ded[own] = _split(missing * policy.min_case_deduction_fen, weights)
    return total_ded, volume_ded


def year_end(policy: Policy, hospitals: Hospitals, budgets: dict[int, tuple[int, int, int]],
             scores: dict[str, int], months: dict[str, np.ndarray], sums: dict[str, np.ndarray],
             n_funds: int, ledger: Ledger | None = None) -> None:
    """Year-end clearing (年度清算) of each account: withhold release, corridor, annual amount and balance.

    Parameters
    ----------
    policy : Policy
    hospitals : Hospitals
    budgets : dict
        From :func:`fund_budgets`.
    scores : dict
        Assessment score per hospital (1/100 points); the policy's default where missing.
    months : dict
        From :func:`monthly_payments`.
    sums : dict
        From :func:`account_sums`; completed in place with the year-end figures.
    n_funds : int
    ledger : Ledger, optional
        The run ledger the months were read from (``months`` then holds what they ``released``): with a
        release schedule the year releases nothing more; with ``carry_balance`` the balance is carried.

    Raises
    ------
    PaymentInputError
        A hospital with withheld money and no score.
    """
    per_account = {k: v.reshape(-1, 12).sum(axis=1) for k, v in months.items() if k != "n_cases"}
    n_accounts = len(sums["n_cases"])
    released_before = per_account.get("released", np.zeros(n_accounts, np.int64))
    by_schedule = policy.release_schedule != "year"
    if by_schedule and ledger is None:
        raise PaymentInputError(f"[assessment] schedule = \"{policy.release_schedule}\": the withhold was released "
                                "in the month runs; the year run reads them from the run ledger: give --ledger / "
                                "需要结算台账")
    release_u = np.zeros(n_accounts, np.int64)
    corridor = np.zeros(n_accounts, np.int64)
    reward = np.zeros(n_accounts, np.int64)
    score = np.full(n_accounts, -1, np.int64)
    for a in np.flatnonzero(sums["n_cases"]):
        hid = hospitals.ids[a // n_funds]
        if not by_schedule and (per_account["withheld"][a] > 0 or policy.release_bands is not None):
            score[a], release_u[a] = _score_share(policy, scores, hid)
        if budgets[a % n_funds][0]:  # a clearing fund (异地就医 outside the pool, no budget) has no corridor
            corridor[a], reward[a] = corridor_parts(policy, int(sums["drg_standard"][a]), int(sums["drg_cost"][a]))
    withheld = per_account["withheld"]
    released = released_before + withheld * release_u // RATIO_UNITS
    total_ded, volume_ded = _limits(policy, hospitals, sums, corridor, n_funds)
    bonus_u = np.repeat(np.array([hospitals.bonus_u.get(h, 0) for h in hospitals.ids], np.int64), n_funds)
    bonus = sums["drg_fund"] * bonus_u[:n_accounts] // RATIO_UNITS  # 考核奖励 (last year's score), from the reserve
    annual = (sums["drg_fund"] + sums["reserve_fund"] + sums["event_fund"] + corridor - total_ded - volume_ded
              - (withheld - released) + bonus - sums["interim_netted"])
    balance = annual - per_account["paid"] - released_before
    carried = balance if ledger is not None and policy.carry_balance else np.zeros(n_accounts, np.int64)
    sums.update(
        provisional=per_account["provisional"], withheld=withheld, score=score, release_share=release_u,
        released=released, corridor=corridor, annual_due=annual, monthly_paid=per_account["paid"] + released_before,
        balance=balance, corridor_reward=reward, total_deduction=total_ded, volume_deduction=volume_ded,
        released_before=released_before, carried_out=carried, bonus=bonus,
    )
    if policy.point_value_fixed is not None or policy.method == "quota":
        return  # a fixed point value (or a quota) spends what it spends; the reconciliation shows the difference
    for f, (budget, _, distributable) in budgets.items():
        if not budget:
            continue  # a clearing fund: paid at its reference value, no budget to spend
        total = int(sums["drg_fund"][f::n_funds].sum() + sums["budget_fund"][f::n_funds].sum())
        if total != distributable:  # the allocation guarantees this; a failure here is a defect, not bad input
            raise AssertionError(f"fund {f}: Σ DRG-pool fund payments {total} ≠ distributable budget {distributable}")


def next_year(settlement: Settlement) -> list[dict]:
    """奖优罚劣: each hospital with cases, its score and what the score sets for next year (``[assessment.next_year]``).

    Rows: hospital_id, name, level, region, score (1/100 points), coefficient_adjustment and coefficient (this
    year's + the adjustment; 1/10,000) and bonus_share (1/10,000) — a hospital table for next year's run.

    Raises
    ------
    PaymentInputError
        A hospital without a score (and no ``default_score``), or whose coefficient would not stay positive.
    """
    s, h, policy = settlement, settlement.hospitals, settlement.policy
    n_funds = max(len(s.cases.funds), 1)
    with_cases = np.flatnonzero(s.accounts["n_cases"].reshape(-1, n_funds).sum(axis=1))
    rows = []
    for i in with_cases:
        hid = h.ids[i]
        score = s.scores.get(hid, policy.default_score * 100 if policy.default_score is not None else None)
        if score is None:
            raise PaymentInputError(f"hospital {hid} has no assessment score (考核得分) for [assessment.next_year]; "
                                    "give a score file (--scores) or set [assessment] default_score")
        _, adjustment, bonus = next(b for b in policy.next_year_bands if score >= b[0] * 100)
        coefficient = int(h.coef_u[i]) + adjustment
        if coefficient <= 0:
            raise PaymentInputError(f"[assessment.next_year] coefficient_adjustment: hospital {hid}'s coefficient "
                                    f"{h.coef_u[i] / RATIO_UNITS} + {adjustment / RATIO_UNITS} is not positive "
                                    "(医院系数须为正)")
        rows.append({"hospital_id": hid, "name": h.names[i], "level": int(h.level[i]), "region": h.regions[i],
                     "score": score, "coefficient_adjustment": adjustment, "coefficient": coefficient,
                     "bonus_share": bonus})
    return rows


def ledger_entries(settlement: Settlement) -> list[dict]:
    """The ledger entries of a month or year run, per account with cases (and per account released to)."""
    s, a = settlement, settlement.accounts
    keys = account_keys(s)
    entries = {}
    lifecycle = a.get("lifecycle_deducted", a["n_cases"] * 0)  # payment.deductions: 违规扣款/更正追回 of this run
    for i in np.flatnonzero(a["n_cases"]):
        hid, region, ins = keys[i]
        e = {"hospital_id": hid, "region": region, "insurance_type": ins}
        if s.kind == "month":
            e.update(provisional=a["provisional"][i], withheld=a["withheld"][i], event_fund=a["event_fund"][i],
                     paid=a["paid"][i], released=a.get("released", a["paid"] * 0)[i],
                     carried_in=a.get("carried_in", a["paid"] * 0)[i], deducted=lifecycle[i])
        else:
            e.update(released=a["released"][i] - a["released_before"][i],
                     deducted=a["total_deduction"][i] + a["volume_deduction"][i] + lifecycle[i],
                     carried_out=a["carried_out"][i], paid=a["balance"][i] - a["carried_out"][i])
        entries[keys[i]] = e
    for r in s.releases:
        k = (r["hospital_id"], r["region"], r["insurance_type"])
        e = entries.setdefault(k, {"hospital_id": k[0], "region": k[1], "insurance_type": k[2]})
        e.update(released=r["released"], release_period=r["release_period"])
    entries.update(_interim_entries(s, keys))
    return [{k: (int(v) if isinstance(v, (int, np.integer)) else v) for k, v in e.items()}
            for _, e in sorted(entries.items(), key=lambda item: tuple(item[0]) + ("",) * (4 - len(item[0])))]


def _interim_entries(s: Settlement, keys) -> dict:
    """One ledger entry per stay settled in interim (column ``interim``: what this run paid on it), recorded by
    the month run of the record's month — or by the year run when that month was not settled by itself."""
    c, out = s.cases, {}
    mine = np.flatnonzero((s.classified.case_type == INTERIM) & (c.fund >= 0))
    n_funds = max(len(c.funds), 1)
    for i in mine.tolist():
        if s.kind == "year" and s.ledger is not None and s.ledger.has_run(f"{c.yyyymm[i] // 100}-{c.yyyymm[i] % 100:02d}"):
            continue
        hid, region, ins = keys[int(c.hosp[i]) * n_funds + int(c.fund[i])]
        stay = c.stay[i].as_py()
        e = out.setdefault((hid, region, ins, stay), {"hospital_id": hid, "region": region, "insurance_type": ins,
                                                      "stay": stay, "interim": 0})
        e["interim"] += int(s.fund_payment[i])
    return out


def group_sum(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Exact int64 sums of ``values`` per group.

    ``np.bincount`` adds in float64, which is exact for integers while every partial sum stays below
    2**53 — guaranteed when Σ|values| does; otherwise the sums are taken with ``np.add.at`` in int64.
    """
    if np.abs(values).sum() < 2**53:
        return np.bincount(group, weights=values, minlength=n_groups).astype(np.int64)
    out = np.zeros(n_groups, np.int64)
    np.add.at(out, group, values)
    return out


def reconciliation(settlement: Settlement) -> list[dict]:
    """Fund lines (预算、调剂金、分配预算、各支付项目) per fund, every amount in fen, reconciled to the reserve."""
    s, c = settlement, settlement.cases
    n_funds = max(len(c.funds), 1)
    n_types = len(CASE_TYPES)
    reserve_types, budget_types, _ = track_types(s.policy)
    reserve_types = tuple(t for t in reserve_types if t != INTERIM or s.policy.interim_months is not None)
    by_type = group_sum(np.where(c.fund >= 0, s.fund_payment, 0), np.maximum(c.fund, 0) * n_types
                        + s.classified.case_type, n_funds * n_types).reshape(n_funds, n_types)
    rows = []
    clearing, borne = cross_region.fund_lines(s)
    for f, key in enumerate(c.funds):
        if f in clearing:  # 异地就医 outside the pool: paid at the reference value, recovered by clearing
            rows += [{"region": key[0], "insurance_type": key[1], "line": name, "line_zh": name_zh,
                      "amount_fen": amount} for name, name_zh, amount in clearing[f]]
            continue
        budget, reserve, distributable = s.budgets.get(f, (0, 0, 0))
        lines = [("budget", "统筹基金预算", budget), ("reserve", "调剂金", reserve),
                 ("distributable", "可分配预算", distributable),
                 ("drg_fund", "定额病例基金支付" if s.policy.method == "quota" else "DRG病例基金支付",
                  int(s.accounts["drg_fund"][f::n_funds].sum()))]
        pool = lines[-1][2]
        for code in budget_types:
            amount = int(by_type[f, code])
            pool += amount
            lines.append((f"budget:{CASE_TYPES[code][0]}", f"预算内支出: {CASE_TYPES[code][1]}", amount))
        if s.kind != "month":
            name = "定额" if s.policy.method == "quota" else "DRG"
            lines.append(("drg_minus_distributable", f"{name}基金支付−可分配预算" if not budget_types else
                          f"{name}基金支付+预算内项目−可分配预算", pool - distributable))
        reserve_used = 0
        for code in reserve_types:
            amount = int(by_type[f, code])
            reserve_used += amount
            lines.append((f"reserve:{CASE_TYPES[code][0]}", f"调剂金支出: {CASE_TYPES[code][1]}", amount))
        balance = reserve - reserve_used
        if s.policy.interim_months is not None:
            netted = int(s.accounts["interim_netted"][f::n_funds].sum())
            lines.append(("interim_netted", "调剂金收入: 中途结算冲回 (出院结算扣回已付)", netted))
            balance += netted
        if s.kind == "year":
            corridor = int(s.accounts["corridor"][f::n_funds].sum())
            kept = int((s.accounts["withheld"] - s.accounts["released"])[f::n_funds].sum())
            reward = int(s.accounts["corridor_reward"][f::n_funds].sum())
            outside = reward if s.policy.reward_from == "outside" else 0
            lines += [("corridor", "调剂金支出: 结余留用/超支分担", corridor - outside),
                      ("withhold_kept", "调剂金收入: 考核未返还预留金", kept)]
            balance += kept - corridor + outside
            if s.policy.corridor_pay is not None:
                lines.append(("corridor_reward", "结余奖励 (调剂金支出，已含在上行)" if not outside else
                              "结余奖励 (预算外)", reward))
            if s.hospitals.bonus_u:
                bonus = int(s.accounts["bonus"][f::n_funds].sum())
                lines.append(("bonus", "调剂金支出: 考核奖励 (奖优罚劣)", bonus))
                balance -= bonus
            if s.hospitals.totals_fen or s.hospitals.min_cases:
                deducted = int((s.accounts["total_deduction"] + s.accounts["volume_deduction"])[f::n_funds].sum())
                lines.append(("deducted", "调剂金收入: 总控额度/最低服务人次扣减", deducted))
                balance += deducted
        if f in borne:
            lines.append(("reserve:cross_region", "调剂金支出: 异地就医差额 (DRG基金支付−清算回收)", borne[f]))
            balance -= borne[f]
        lines.append(("reserve_balance", "调剂金结余 (负数为超支)", balance))
        lines.append(("event_fund", "突发事件除外 (预算外)", int(by_type[f, EVENT])))
        if s.policy.single_disease and s.policy.single_disease_budget == "outside":
            lines.append(("outside:single_disease", "单病种 (预算外)", int(by_type[f, SINGLE_DISEASE])))
        for name, name_zh, amount in lines:
            rows.append({"region": key[0], "insurance_type": key[1], "line": name, "line_zh": name_zh,
                         "amount_fen": amount})
    return rows


def point_value_text(settlement: Settlement, fund: int) -> str:
    """A fund's final point value as statements print it: 元 per RW for the rate method, else 元 per point."""
    value = settlement.point_values.get(fund)
    if value is None:
        return ""
    return value.yuan_per_rw() if settlement.policy.method == "rate" else value.yuan_per_point()


__all__ = ["CASE_TYPES", "CAT_DRG", "CAT_EVENT", "CAT_RESERVE", "CAT_UNPAID", "DRG_TRACK", "EVENT", "QUOTA",
           "QUOTA_PAID", "RESERVE_TRACKS", "UNPAID", "Classified", "PointValue", "Settlement", "account_keys",
           "account_sums", "budget_point_values", "classify", "corridor_adjustment", "corridor_parts", "covered_cost",
           "floor_standards", "fund_budgets", "group_sum", "hospital_quotas", "interim_paid_before", "ledger_entries",
           "monthly_payments", "monthly_point_values", "next_year", "point_value_text", "point_values",
           "reconciliation", "settle", "special_cap", "track_types", "withhold", "year_end"]
