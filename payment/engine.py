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
6       ``event``         on the 突发事件 list: ⌊cost × event ratio⌋, outside budget and corridor
5       ``special``       on the 特病单议 list, within the hospital's cap: ⌊cost × special ratio⌋
7 / 8   ``ungroupable``   ``qy`` / ``ungroupable``: ⌊cost × ratio⌋, or held when ``pay = "hold"``
3       ``per_diem``      DRG in ``[tracks.per_diem] rates``: daily rate × los_days (床日)
4       ``long_stay``     los_days > ``[tracks.long_stay] days``: ⌊cost × ratio⌋
9 / 10  no weight         ``missing_weight``: ``fee_for_service`` ⌊cost × 1⌋, ``hold`` paid 0 (listed)
1       ``high``          cost × 10⁴ > K × mean (高倍率): points = base + ⌊(cost/mean − K) × RW × 100⌋
2       ``low``           cost × 10⁴ < L × mean (低倍率): points = ⌊cost/mean × RW × 100⌋
0       ``normal``        points = ⌊RW × 100 × coefficient⌋
======  ================  ==============================================================

Types 0–2 are the DRG track, paid from the distributable budget at the point value; 3, 4, 5, 7, 9
are paid from the adjustment reserve (调剂金); 6 outside the budget; 8, 10, 11 are not paid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from payment.inputs import Cases, Hospitals, PaymentInputError, Period
from payment.money import POINT_UNITS, RATIO_UNITS, allocate_largest_remainder, mul_div_floor
from payment.policy import Policy

CASE_TYPES = {
    0: ("normal", "正常病例"), 1: ("high", "高倍率病例"), 2: ("low", "低倍率病例"),
    3: ("per_diem", "床日付费"), 4: ("long_stay", "超长住院"), 5: ("special", "特病单议"),
    6: ("event", "突发事件除外"), 7: ("ungroupable", "无法入组/歧义按项目"), 8: ("ungroupable_held", "无法入组/歧义暂缓"),
    9: ("no_weight_ffs", "无权重按项目"), 10: ("held", "无权重暂缓支付"), 11: ("rejected", "数据错误不予结算"),
}
DRG_TRACK = (0, 1, 2)
RESERVE_TRACKS = (3, 4, 5, 7, 9)
EVENT = 6
UNPAID = (8, 10, 11)


@dataclass
class Classified:
    """Case type, K, coefficient and points (1/10,000) of every case; ``standard`` set for the non-DRG tracks."""

    case_type: np.ndarray
    coef_u: np.ndarray
    k_u: np.ndarray
    points: np.ndarray
    track_standard: np.ndarray
    special_over_cap: np.ndarray


def _multiple_k(cases: Cases, policy: Policy, hospitals: Hospitals) -> np.ndarray:
    if policy.high_by == "hospital_level":
        by_level = np.zeros(4, np.int64)
        for level, k in policy.level_k_u.items():
            by_level[level] = k
        return by_level[hospitals.level[np.maximum(cases.hosp, 0)]]
    bounds = np.array([b for b, _ in policy.rw_tiers[:-1]], np.int64)
    ks = np.array([k for _, k in policy.rw_tiers], np.int64)
    return ks[np.searchsorted(bounds, cases.rw_u, side="right")]


def _special_within_cap(cases: Cases, policy: Policy, eligible: np.ndarray, n_hospitals: int) -> np.ndarray:
    """The listed cases each hospital may settle as 特病单议: at most ⌊max_share × its cases⌋, by list order."""
    listed = eligible & cases.special
    if not listed.any():
        return listed
    counts = np.bincount(cases.hosp[eligible], minlength=n_hospitals)
    allowed = counts * policy.special_max_share_u // RATIO_UNITS
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
    n = cases.n
    ct = np.zeros(n, np.int64)
    coef = hospitals.coef_u[np.maximum(cases.hosp, 0)] if len(hospitals.ids) else np.zeros(n, np.int64)
    k = _multiple_k(cases, policy, hospitals)
    cost, mean, rw = cases.cost_fen, cases.mean_fen, cases.rw_u
    ok = cases.status == 0
    rejected = cases.reject > 0
    weighted = rw > 0
    high = ok & weighted & (cost * RATIO_UNITS > k * mean)
    low = ok & weighted & ~high & (cost * RATIO_UNITS < policy.low_u * mean)
    ct[high], ct[low] = 1, 2
    ct[ok & ~weighted] = 9 if policy.missing_weight == "fee_for_service" else 10
    if policy.missing_weight == "error" and (ok & ~weighted & ~rejected).any():
        missing = sorted({cases.drg_codes[d] for d in np.unique(cases.drg[ok & ~weighted & ~rejected])})
        raise PaymentInputError(f"{len(missing)} DRGs have no weight (无权重病组): {', '.join(missing[:20])}; "
                                "add them to the weight table or set missing_weight = \"hold\"")
    per_diem = np.array([code in policy.per_diem_fen for code in cases.drg_codes], bool)[cases.drg]
    long_stay = (cases.los > policy.long_stay_days) if policy.long_stay_days else np.zeros(n, bool)
    ct[ok & long_stay & ~per_diem] = 4
    ct[ok & per_diem] = 3
    ct[~ok] = 7 if policy.ungroupable_pay == "fee_for_service" else 8
    special = _special_within_cap(cases, policy, ~rejected & ~cases.event, len(hospitals.ids))
    ct[special] = 5
    ct[cases.event] = EVENT
    ct[rejected] = 11

    points = np.zeros(n, np.int64)
    drg_track = ct <= 2
    points[drg_track] = rw[drg_track] * coef[drg_track] // RATIO_UNITS
    if high.any():
        i = np.flatnonzero(ct == 1)
        extra, _ = mul_div_floor(cost[i] * RATIO_UNITS - k[i] * mean[i], rw[i], RATIO_UNITS * mean[i])
        points[i] += extra
    if low.any():
        i = np.flatnonzero(ct == 2)
        points[i], _ = mul_div_floor(cost[i], rw[i], mean[i])

    standard = np.zeros(n, np.int64)
    rates = np.array([policy.per_diem_fen.get(code, 0) for code in cases.drg_codes], np.int64)[cases.drg]
    standard[ct == 3] = rates[ct == 3] * cases.los[ct == 3]
    for code, ratio in ((4, policy.long_stay_ratio_u), (5, policy.special_ratio_u), (6, policy.event_ratio_u),
                        (7, policy.ungroupable_ratio_u), (9, RATIO_UNITS)):
        sel = ct == code
        standard[sel] = cost[sel] * ratio // RATIO_UNITS
    return Classified(ct, coef, k, points, standard, cases.special & ~special & ~rejected & ~cases.event)


@dataclass(frozen=True)
class PointValue:
    """A point value as the exact ratio ``numerator / denominator`` fen per 1/10,000 point."""

    numerator: int
    denominator: int

    def yuan_per_point(self, places: int = 6) -> str:
        from payment.money import ratio_decimal

        return str(ratio_decimal(self.numerator * POINT_UNITS, self.denominator * 100, places))

    def yuan_per_rw(self, places: int = 6) -> str:
        from payment.money import ratio_decimal

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


def _fund_budgets(policy: Policy, cases: Cases) -> dict[int, tuple[int, int, int]]:
    out = {}
    for f, key in enumerate(cases.funds):
        budget = next(b.amount_fen for b in policy.budgets if (b.region, b.insurance_type) == key)
        reserve = budget * policy.reserve_u // RATIO_UNITS
        out[f] = (budget, reserve, budget - reserve)
    return out


def _point_values(points, patient, group, n_groups, numerators, scale: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """Per group g: N_g = numerator_g + scale × Σ patient shares, D_g = scale × Σ points."""
    total_points = _sum(points, group, n_groups)
    total_patient = _sum(patient, group, n_groups)
    values = {}
    for g in range(n_groups):
        if total_points[g] > 0 and g in numerators:
            values[g] = PointValue(int(numerators[g]) + scale * int(total_patient[g]), scale * int(total_points[g]))
    return values, total_points, total_patient


def _sum(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Exact int64 sums of ``values`` per group.

    ``np.bincount`` adds in float64, which is exact for integers while every partial sum stays below
    2**53 — guaranteed when Σ|values| does; otherwise the sums are taken in int64 after a sort.
    """
    if np.abs(values).sum() < 2**53:
        return np.bincount(group, weights=values, minlength=n_groups).astype(np.int64)
    order = np.argsort(group, kind="stable")
    counts = np.bincount(group, minlength=n_groups)
    ends = np.cumsum(counts)
    sums = np.concatenate([[0], np.cumsum(values[order])])
    return sums[ends] - sums[ends - counts]


def _standards(points: np.ndarray, group: np.ndarray, values: dict[int, PointValue], allocate: int,
               what: str) -> np.ndarray:
    """⌊points × N/D⌋ per case; with ``allocate`` = scale > 0, completed by largest remainder so that
    Σ = ⌊N / scale⌋ in each group (N itself for a year: the distributable budget plus the patient shares)."""
    zero = np.flatnonzero(points == 0)
    missing = sorted(set(np.unique(np.delete(group, zero)).tolist()) - set(values))
    if missing:
        raise PaymentInputError(f"{what}: no points to share the budget over in group {missing[0]}")
    size = max(list(values) + [int(group.max(initial=0))]) + 1
    num = np.zeros(size, np.int64)
    den = np.ones(size, np.int64)
    for g, v in values.items():
        num[g], den[g] = v.numerator, v.denominator
    q, r = mul_div_floor(points, num[group], den[group])
    if not allocate:
        return q
    out = q.copy()
    for g, v in values.items():
        idx = np.flatnonzero(group == g)
        out[idx] = allocate_largest_remainder(q[idx], r[idx], v.numerator // allocate)
    return out


def _release_share(policy: Policy, score_u: int) -> int:
    """Share of the withhold released (1/10,000) for a score in 1/100 points."""
    if policy.release_bands is None:
        return score_u  # score / 100, in 1/10,000: the same integer
    return next(share for min_score, share in policy.release_bands if score_u >= min_score * 100)


def corridor_adjustment(policy: Policy, standard: int, cost: int) -> int:
    """Fund's corridor payment (+) or claw-back (−) for a hospital's DRG standard and actual cost, fen.

    The bands split cost ÷ standard at their ``upto`` ratios; the fund pays ``fund_share`` of the part of
    the cost between the standard and the actual cost that falls in each band (of the surplus, when cost
    is below the standard, it takes that share back), rounded down to the fen.
    """
    if policy.corridor is None or standard <= 0 or cost == standard:
        return 0
    low, high = sorted((standard, cost))
    total, lower_edge = 0, 0
    for upto, share in policy.corridor:
        upper_edge = standard * upto // RATIO_UNITS if upto is not None else max(high, standard) + 1
        overlap = max(0, min(high, upper_edge) - max(low, lower_edge))
        total += share * overlap
        lower_edge = upper_edge
    return total // RATIO_UNITS if cost > standard else -((total + RATIO_UNITS - 1) // RATIO_UNITS)


def _account_sums(settlement: Settlement, account: np.ndarray, n_accounts: int, paid_mask: np.ndarray) -> dict:
    c, ct = settlement.cases, settlement.classified.case_type
    drg = np.isin(ct, DRG_TRACK) & paid_mask
    res = np.isin(ct, RESERVE_TRACKS) & paid_mask
    ev = (ct == EVENT) & paid_mask
    out = {"n_cases": np.bincount(account[paid_mask], minlength=n_accounts).astype(np.int64)}
    for name, mask, values in (
        ("n_drg", drg, np.ones(c.n, np.int64)), ("drg_points", drg, settlement.classified.points),
        ("drg_standard", drg, settlement.standard), ("drg_patient", drg, c.patient_fen),
        ("drg_fund", drg, settlement.fund_payment), ("drg_cost", drg, c.cost_fen),
        ("reserve_fund", res, settlement.fund_payment), ("event_fund", ev, settlement.fund_payment),
        ("n_held", np.isin(ct, UNPAID) & paid_mask, np.ones(c.n, np.int64)),
    ):
        out[name] = _sum(np.where(mask, values, 0), account, n_accounts)
    return out


def _monthly(settlement: Settlement, keep: np.ndarray) -> tuple[np.ndarray, dict]:
    """Provisional standards of the DRG-track cases month by month (fund × month point values)."""
    c, cl, policy = settlement.cases, settlement.classified, settlement.policy
    drg = np.isin(cl.case_type, DRG_TRACK) & keep
    month = c.yyyymm % 100 - 1
    group = c.fund * 12 + month
    n_groups = len(c.funds) * 12
    values = {}
    if policy.provisional is None:
        numerators = {f * 12 + m: settlement.budgets[f][2] for f in range(len(c.funds)) for m in range(12)}
        values, _, _ = _point_values(np.where(drg, cl.points, 0), np.where(drg, c.patient_fen, 0),
                                     np.where(keep, group, 0), n_groups, numerators, 12)
    else:
        values = {g: PointValue(*policy.provisional) for g in np.unique(group[drg]).tolist()}
    standard = np.zeros(c.n, np.int64)
    if drg.any():
        standard[drg] = _standards(cl.points[drg], group[drg], values, 0, "monthly point value")
    year = settlement.period.year
    return standard, {(g // 12, year * 100 + g % 12 + 1): v for g, v in values.items()}


def _withhold(policy: Policy, provisional: np.ndarray) -> np.ndarray:
    """The withheld part of positive provisional amounts; the paid part is rounded down."""
    paid = provisional * (RATIO_UNITS - policy.withhold_u) // RATIO_UNITS
    return np.where(provisional > 0, provisional - paid, 0)


def settle(cases: Cases, policy: Policy, hospitals: Hospitals, kind: str, period: Period,
           scores: dict[str, int] | None = None) -> Settlement:
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
        Assessment score per hospital (1/100 points), for the withhold release of a year run.

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
    cl = classify(cases, policy, hospitals)
    budgets = _fund_budgets(policy, cases)
    ct = cl.case_type
    keep = cases.fund >= 0
    drg = np.isin(ct, DRG_TRACK) & keep
    months = 12 if period.month is None else 1
    scale = 12 // months
    numerators = {f: b[2] for f, b in budgets.items()}
    standard = cl.track_standard.copy()
    settlement = Settlement(kind, period, policy, hospitals, cases, cl, standard, np.zeros(cases.n, np.int64), {},
                            budgets=budgets, scores=dict(scores or {}))
    if kind == "month":
        monthly, labelled = _monthly(settlement, keep)
        standard[drg] = monthly[drg]
        settlement.point_values = {f: v for (f, _), v in labelled.items()}
    else:
        values, _, _ = _point_values(np.where(drg, cl.points, 0), np.where(drg, cases.patient_fen, 0),
                                     np.maximum(cases.fund, 0), len(cases.funds), numerators, scale)
        empty = [cases.funds[f] for f in numerators if f not in values]
        if empty:
            raise PaymentInputError(f"fund {'/'.join(empty[0])} has a budget but no DRG-track cases with points in "
                                    f"{period}; nothing to share the budget over")
        settlement.point_values = values
        if drg.any():
            standard[drg] = _standards(cl.points[drg], cases.fund[drg], values, scale, "point value")
    paid = keep & ~np.isin(ct, UNPAID)
    settlement.fund_payment = np.where(paid, standard - cases.patient_fen, 0)
    settlement.standard = np.where(paid, standard, 0)

    n_funds = max(len(cases.funds), 1)
    account = np.where(keep, cases.hosp * n_funds + np.maximum(cases.fund, 0), 0)
    n_accounts = len(hospitals.ids) * n_funds
    sums = _account_sums(settlement, account, n_accounts, keep)
    if kind == "year":
        monthly, labelled = _monthly(settlement, keep)
        settlement.monthly_standard = monthly
        settlement.monthly_values = labelled
        month_fund = np.where(drg, monthly - cases.patient_fen, 0) + np.where(np.isin(ct, RESERVE_TRACKS) & paid,
                                                                              settlement.fund_payment, 0)
        slot = account * 12 + cases.yyyymm % 100 - 1
        provisional = _sum(np.where(keep, month_fund, 0), slot, n_accounts * 12)
        events = _sum(np.where((ct == EVENT) & paid, settlement.fund_payment, 0), slot, n_accounts * 12)
        withheld = _withhold(policy, provisional)
        settlement.months = {"provisional": provisional, "withheld": withheld, "event_fund": events,
                             "paid": provisional - withheld + events,
                             "n_cases": np.bincount(slot[keep], minlength=n_accounts * 12)}
        _year_end(settlement, sums, n_funds)
    elif kind == "month":
        provisional = sums["drg_fund"] + sums["reserve_fund"]
        withheld = _withhold(policy, provisional)
        sums.update(provisional=provisional, withheld=withheld, paid=provisional - withheld + sums["event_fund"])
    settlement.accounts = sums
    return settlement


def _year_end(settlement: Settlement, sums: dict, n_funds: int) -> None:
    policy, hospitals = settlement.policy, settlement.hospitals
    per_account = {k: v.reshape(-1, 12).sum(axis=1) for k, v in settlement.months.items() if k != "n_cases"}
    n_accounts = len(sums["n_cases"])
    release_u = np.zeros(n_accounts, np.int64)
    corridor = np.zeros(n_accounts, np.int64)
    score = np.full(n_accounts, -1, np.int64)
    for a in range(n_accounts):
        if sums["n_cases"][a] == 0:
            continue
        hid = hospitals.ids[a // n_funds]
        if per_account["withheld"][a] > 0 or policy.release_bands is not None:
            s = settlement.scores.get(hid, policy.default_score * 100 if policy.default_score is not None else None)
            if s is None:
                raise PaymentInputError(f"hospital {hid} has no assessment score (考核得分) to release its withhold; "
                                        "give a score file (--scores) or set [assessment] default_score")
            score[a] = s
            release_u[a] = _release_share(policy, s)
        corridor[a] = corridor_adjustment(policy, int(sums["drg_standard"][a]), int(sums["drg_cost"][a]))
    withheld = per_account["withheld"]
    released = withheld * release_u // RATIO_UNITS
    annual = sums["drg_fund"] + sums["reserve_fund"] + sums["event_fund"] + corridor - (withheld - released)
    sums.update(
        provisional=per_account["provisional"], withheld=withheld, score=score, release_share=release_u,
        released=released, corridor=corridor, annual_due=annual, monthly_paid=per_account["paid"],
        balance=annual - per_account["paid"],
    )
    for f, (_, _, distributable) in settlement.budgets.items():
        total = int(sums["drg_fund"][f::n_funds].sum())
        if total != distributable:  # the allocation guarantees this; a failure here is a defect, not bad input
            raise AssertionError(f"fund {f}: Σ DRG fund payments {total} ≠ distributable budget {distributable}")


def reconciliation(settlement: Settlement) -> list[dict]:
    """Fund lines (预算、调剂金、分配预算、各支付项目) per fund, every amount in fen, reconciled to the reserve."""
    s, c = settlement, settlement.cases
    n_funds = max(len(c.funds), 1)
    ct = s.classified.case_type
    rows = []
    for f, key in enumerate(c.funds):
        budget, reserve, distributable = s.budgets.get(f, (0, 0, 0))
        in_fund = c.fund == f
        lines = [("budget", "统筹基金预算", budget), ("reserve", "调剂金", reserve),
                 ("distributable", "可分配预算", distributable),
                 ("drg_fund", "DRG病例基金支付", int(s.accounts["drg_fund"][f::n_funds].sum()))]
        if s.kind != "month":
            lines.append(("drg_minus_distributable", "DRG基金支付−可分配预算", lines[-1][2] - distributable))
        reserve_used = 0
        for code in RESERVE_TRACKS:
            amount = int(s.fund_payment[in_fund & (ct == code)].sum())
            reserve_used += amount
            lines.append((f"reserve:{CASE_TYPES[code][0]}", f"调剂金支出: {CASE_TYPES[code][1]}", amount))
        balance = reserve - reserve_used
        if s.kind == "year":
            corridor = int(s.accounts["corridor"][f::n_funds].sum())
            kept = int((s.accounts["withheld"] - s.accounts["released"])[f::n_funds].sum())
            lines += [("corridor", "调剂金支出: 结余留用/超支分担", corridor),
                      ("withhold_kept", "调剂金收入: 考核未返还预留金", kept)]
            balance += kept - corridor
        lines.append(("reserve_balance", "调剂金结余 (负数为超支)", balance))
        lines.append(("event_fund", "突发事件除外 (预算外)", int(s.fund_payment[in_fund & (ct == EVENT)].sum())))
        for name, name_zh, amount in lines:
            rows.append({"region": key[0], "insurance_type": key[1], "line": name, "line_zh": name_zh,
                         "amount_fen": amount})
    return rows


def point_value_text(settlement: Settlement, fund: int) -> str:
    value = settlement.point_values.get(fund)
    if value is None:
        return ""
    return value.yuan_per_rw() if settlement.policy.method == "rate" else value.yuan_per_point()


__all__ = ["CASE_TYPES", "Classified", "PointValue", "Settlement", "classify", "corridor_adjustment",
           "reconciliation", "settle"]
