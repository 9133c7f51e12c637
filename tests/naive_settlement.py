"""A plain-Python settlement calculator: the slow twin of ``payment.engine`` for the tests.

Case by case, with :class:`fractions.Fraction` for every quotient, straight from the written rules
(issue 8 and the README): floor to the fen / to 1/10,000 point, the year's budget allocated by
largest remainder (ties to the earlier case).  It shares nothing with the engine but the parsed
:class:`payment.policy.Policy` (the policy reader has its own tests).

Cases are dicts: ``case_id``, ``hospital_id``, ``drg``, ``status``, ``cost`` (fen), ``patient`` (fen),
``los`` (days or None), ``month`` (1–12), ``insurance_type``.  Hospitals: id → (level, coefficient as
Fraction).  Weights: DRG → (RW as Fraction, mean cost in fen or None).
"""

from __future__ import annotations

from fractions import Fraction
from math import floor

U = 10_000  # points and ratios in 1/10,000


def _r(units: int) -> Fraction:
    return Fraction(units, U)


def case_type(case, policy, hospitals, weights, special_ok: set, events: set) -> str:
    if case["case_id"] in events:
        return "event"
    if case["case_id"] in special_ok:
        return "special"
    if case["status"] in ("qy", "ungroupable"):
        return "ungroupable" if policy.ungroupable_pay == "fee_for_service" else "ungroupable_held"
    if case["drg"] in policy.per_diem_fen:
        return "per_diem"
    if policy.long_stay_days and case["los"] is not None and case["los"] > policy.long_stay_days:
        return "long_stay"
    if case["drg"] not in weights:
        return "no_weight_ffs" if policy.missing_weight == "fee_for_service" else "held"
    rw, _ = weights[case["drg"]]
    mean = mean_cost(case, policy, weights)
    k = multiple_k(rw, hospitals[case["hospital_id"]][0], policy)
    if case["cost"] > k * mean:
        return "high"
    if case["cost"] < _r(policy.low_u) * mean:
        return "low"
    return "normal"


def mean_cost(case, policy, weights) -> int:
    rw, mean = weights[case["drg"]]
    return mean if mean is not None else max(floor(rw * policy.average_cost_fen), 1)


def multiple_k(rw: Fraction, level: int, policy) -> Fraction:
    if policy.high_by == "hospital_level":
        return _r(policy.level_k_u[level])
    for below, k in policy.rw_tiers:
        if below is None or rw < Fraction(below, 1_000_000):
            return _r(k)
    raise AssertionError("tiers end with an open tier")


def points(case, kind: str, policy, hospitals, weights) -> int:
    """Points in 1/10,000 point."""
    rw, _ = weights[case["drg"]]
    coef = hospitals[case["hospital_id"]][1]
    base = floor(rw * 100 * coef * U)
    mean = mean_cost(case, policy, weights)
    if kind == "high":
        k = multiple_k(rw, hospitals[case["hospital_id"]][0], policy)
        return base + floor((Fraction(case["cost"], mean) - k) * rw * 100 * U)
    if kind == "low":
        return floor(Fraction(case["cost"], mean) * rw * 100 * U)
    return base


def track_standard(case, kind: str, policy) -> int:
    ratio = {"long_stay": policy.long_stay_ratio_u, "special": policy.special_ratio_u, "event": policy.event_ratio_u,
             "ungroupable": policy.ungroupable_ratio_u, "no_weight_ffs": U}.get(kind)
    if kind == "per_diem":
        return policy.per_diem_fen[case["drg"]] * case["los"]
    if ratio is not None:
        return floor(case["cost"] * _r(ratio))
    return 0


def special_within_cap(cases, policy, special: list, events: set) -> set:
    counts: dict[str, int] = {}
    for c in cases:
        if c["case_id"] not in events:
            counts[c["hospital_id"]] = counts.get(c["hospital_id"], 0) + 1
    by_id = {c["case_id"]: c for c in cases}
    used: dict[str, int] = {}
    ok = set()
    for cid in special:
        c = by_id.get(cid)
        if c is None or cid in events:
            continue
        h = c["hospital_id"]
        if used.get(h, 0) < floor(counts[h] * _r(policy.special_max_share_u)):
            ok.add(cid)
            used[h] = used.get(h, 0) + 1
    return ok


def allocate(exact: list[Fraction], total: int) -> list[int]:
    """Floor of each exact share, then one more unit to the largest remainders (ties: earlier)."""
    floors = [floor(x) for x in exact]
    left = total - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def fund_of(case, policy, hospitals_region) -> tuple[str, str]:
    region = hospitals_region.get(case["hospital_id"], policy.region)
    return policy.fund_key(region, case["insurance_type"])


def corridor(policy, standard: int, cost: int) -> int:
    if policy.corridor is None or standard <= 0 or cost == standard:
        return 0
    lo, hi = min(standard, cost), max(standard, cost)
    edges = [0] + [floor(standard * _r(u)) for u, _ in policy.corridor[:-1]] + [None]
    total = Fraction(0)
    for b, (_, share) in enumerate(policy.corridor):
        a, z = edges[b], edges[b + 1]
        top = hi if z is None else min(hi, z)
        total += _r(share) * max(0, top - max(lo, a))
    return floor(total) if cost > standard else floor(-total)


def settle_year(cases, policy, hospitals, weights, scores=None, special=(), events=(), regions=None):
    """Year-end clearing of one year's cases → per-case results and per (hospital, fund) accounts."""
    regions = regions or {}
    events = set(events)
    special_ok = special_within_cap(cases, policy, list(special), events)
    lines = []
    for c in cases:
        kind = case_type(c, policy, hospitals, weights, special_ok, events)
        drg_track = kind in ("normal", "high", "low")
        lines.append({"case": c, "kind": kind, "fund": fund_of(c, policy, regions),
                      "points": points(c, kind, policy, hospitals, weights) if drg_track else 0,
                      "standard": 0 if drg_track else track_standard(c, kind, policy), "drg_track": drg_track})
    budgets = {(b.region, b.insurance_type): b.amount_fen for b in policy.budgets}
    values, monthly_values = {}, {}
    for fund in sorted({ln["fund"] for ln in lines}):
        budget = budgets[fund]
        distributable = budget - floor(budget * _r(policy.reserve_u))
        drg = [ln for ln in lines if ln["fund"] == fund and ln["drg_track"]]
        value = Fraction(distributable + sum(ln["case"]["patient"] for ln in drg), sum(ln["points"] for ln in drg))
        values[fund] = value
        for ln, s in zip(drg, allocate([ln["points"] * value for ln in drg], distributable +
                                       sum(ln["case"]["patient"] for ln in drg))):
            ln["standard"] = s
        for month in range(1, 13):
            in_month = [ln for ln in drg if ln["case"]["month"] == month]
            if not in_month or sum(ln["points"] for ln in in_month) == 0:
                for ln in in_month:
                    ln["monthly_standard"] = 0
                continue
            if policy.provisional is None:
                value_m = Fraction(distributable, 12 * sum(ln["points"] for ln in in_month)) + Fraction(
                    sum(ln["case"]["patient"] for ln in in_month), sum(ln["points"] for ln in in_month))
            else:
                value_m = Fraction(*policy.provisional)
            monthly_values[(fund, month)] = value_m
            for ln in in_month:
                ln["monthly_standard"] = floor(ln["points"] * value_m)
    unpaid = ("held", "ungroupable_held", "rejected")
    accounts: dict = {}
    for ln in lines:
        c = ln["case"]
        ln["fund_payment"] = 0 if ln["kind"] in unpaid else ln["standard"] - c["patient"]
        a = accounts.setdefault((c["hospital_id"], ln["fund"]), {
            "drg_fund": 0, "drg_standard": 0, "drg_cost": 0, "reserve_fund": 0, "event_fund": 0,
            "months": {m: [0, 0] for m in range(1, 13)}})
        if ln["drg_track"]:
            a["drg_fund"] += ln["fund_payment"]
            a["drg_standard"] += ln["standard"]
            a["drg_cost"] += c["cost"]
            a["months"][c["month"]][0] += ln["monthly_standard"] - c["patient"]
        elif ln["kind"] == "event":
            a["event_fund"] += ln["fund_payment"]
            a["months"][c["month"]][1] += ln["fund_payment"]
        elif ln["kind"] not in unpaid:
            a["reserve_fund"] += ln["fund_payment"]
            a["months"][c["month"]][0] += ln["fund_payment"]
    for (hospital, _), a in accounts.items():
        withheld = paid = 0
        for provisional, event in a["months"].values():
            part = floor(provisional * (1 - _r(policy.withhold_u))) if provisional > 0 else provisional
            withheld += provisional - part
            paid += part + event
        score = (scores or {}).get(hospital)
        if score is None and policy.default_score is not None:
            score = policy.default_score * 100
        if policy.release_bands is None:
            share = Fraction(score or 0, U)
        else:
            share = next(_r(s) for m, s in policy.release_bands if (score or 0) >= m * 100)
        released = floor(withheld * share)
        a["withheld"], a["released"], a["monthly_paid"] = withheld, released, paid
        a["corridor"] = corridor(policy, a["drg_standard"], a["drg_cost"])
        a["annual_due"] = (a["drg_fund"] + a["reserve_fund"] + a["event_fund"] + a["corridor"]
                           - (withheld - released))
        a["balance"] = a["annual_due"] - paid
    return lines, accounts, values, monthly_values
