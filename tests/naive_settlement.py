"""A plain-Python settlement calculator: the slow twin of ``payment.engine`` for the tests.

Case by case, with :class:`fractions.Fraction` for every quotient, straight from the written rules
(issue 8 and the README): floor to the fen / to 1/10,000 point, the year's budget allocated by
largest remainder (ties to the earlier case).  It shares nothing with the engine but the parsed
:class:`payment.policy.Policy` (the policy reader has its own tests).

Cases are dicts: ``case_id``, ``hospital_id``, ``drg``, ``status``, ``cost`` (fen), ``patient`` (fen),
``los`` (days or None), ``month`` (1–12), ``insurance_type``, optional ``self_pay`` (fen) and ``insured_region``
(异地就医), ``dx`` and ``procs`` (a list) for 单病种.  Hospitals: id → (level, coefficient as
Fraction).  Weights: DRG → (RW as Fraction, mean cost in fen or None).
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor

U = 10_000  # points and ratios in 1/10,000


def _r(units: int) -> Fraction:
    return Fraction(units, U)


def price(rows, item: str, procs, names: set, level: int, hospital: str):
    """The most specific row's amount (procedure row, then hospital 4 + level 2 + fund 1; first listed), or None."""
    best = None
    for r in rows:
        if r.item != item or r.procedure and r.procedure not in procs or r.fund and r.fund not in names \
                or r.level and r.level != level or r.hospital and r.hospital != hospital:
            continue
        rank = (bool(r.procedure), 4 * bool(r.hospital) + 2 * bool(r.level) + bool(r.fund))
        if best is None or rank > best[0]:
            best = (rank, r.amount_fen)
    return None if best is None else best[1]


def fund_names(case, policy, regions) -> set:
    """The names a price row's ``fund`` may give the case's fund: budget name, region, insurance types."""
    key = fund_of(case, policy, regions)
    if key is None:
        return set()
    budget = next((b for b in policy.budgets if (b.region, b.insurance_type) == key), None)
    named = {budget.name or {"310": "职工", "390": "居民", "all": "全部险种"}.get(key[1], key[1])} if budget else set()
    return named | {key[0], key[1], case["insurance_type"]}


def daily_rate(case, policy, hospitals, regions=None):
    return price(policy.per_diem_rates, case["drg"], (), fund_names(case, policy, regions or {}),
                 hospitals[case["hospital_id"]][0], case["hospital_id"])


def single_price(case, policy, hospitals, regions=None):
    if not policy.single_disease or not case.get("dx"):
        return None
    return price(policy.single_disease, case["dx"], tuple(case.get("procs", ())),
                 fund_names(case, policy, regions or {}), hospitals[case["hospital_id"]][0], case["hospital_id"])


#: Under method = "quota" (定额法) these case types are discharges paid the hospital's quota.
QUOTA_PAID = ("normal", "high", "low", "ungroupable", "ungroupable_held", "no_weight_ffs", "held")


def case_type(case, policy, hospitals, weights, special_ok: set, events: set, regions=None) -> str:
    kind = _case_type(case, policy, hospitals, weights, special_ok, events, regions)
    return "quota" if policy.method == "quota" and kind in QUOTA_PAID else kind


def quota_of(hospital: str, level: int, policy) -> int:
    """定额标准 of a hospital: ``[quota] hospitals``, else ``[quota] levels`` (no quota table in these tests)."""
    return policy.quota_hospitals_fen.get(hospital, policy.quota_levels_fen.get(level, 0))


def corridor_cost(case, policy) -> int:
    """The cost the corridor compares: covered (total − self-pay, at most the total) under the quota method
    with covered_cost, else the total."""
    if policy.method == "quota" and policy.covered_cost:
        return case["cost"] - min(case.get("self_pay", 0), case["cost"])
    return case["cost"]


def _case_type(case, policy, hospitals, weights, special_ok: set, events: set, regions=None) -> str:
    if case["case_id"] in events:
        return "event"
    if case["case_id"] in special_ok:
        return "special"
    if single_price(case, policy, hospitals, regions) is not None:
        return "single_disease"
    if case["status"] in ("qy", "ungroupable"):
        return "ungroupable" if policy.ungroupable_pay == "fee_for_service" else "ungroupable_held"
    if daily_rate(case, policy, hospitals, regions) is not None:
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
    coef = hospitals[case["hospital_id"]][1] if policy.coefficient_applies_to == "standard" else 1
    base = floor(rw * 100 * coef * U)
    mean = mean_cost(case, policy, weights)
    if kind == "high":
        k = multiple_k(rw, hospitals[case["hospital_id"]][0], policy)
        return base + floor((Fraction(case["cost"], mean) - k) * rw * 100 * U)
    if kind == "low":
        return floor(Fraction(case["cost"], mean) * rw * 100 * U)
    return base


def track_standard(case, kind: str, policy, hospitals=None, regions=None) -> int:
    ratio = {"long_stay": policy.long_stay_ratio_u, "special": policy.special_ratio_u, "event": policy.event_ratio_u,
             "ungroupable": policy.ungroupable_ratio_u, "no_weight_ffs": U}.get(kind)
    if kind == "per_diem":
        return daily_rate(case, policy, hospitals, regions) * case["los"]
    if kind == "single_disease":
        return single_price(case, policy, hospitals, regions)
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
        share = counts[h] * _r(policy.special_max_share_u)
        cap = max(ceil(share) if policy.special_rounding == "up" else floor(share), policy.special_min_count)
        if used.get(h, 0) < cap:
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


def inbound(case, policy, hospitals_region) -> bool:
    """异地就医: insured elsewhere than the hospital's region, the policy's region and its local codes."""
    insured = (case.get("insured_region") or "").strip()
    region = hospitals_region.get(case["hospital_id"], policy.region)
    return (policy.cross_region is not None and insured not in ("", region, policy.region)
            and insured not in policy.cross_region.local)


def clearing_fund(case, policy, hospitals_region) -> bool:
    """An inbound case outside the local pool: paid from the clearing fund (insured region, insurance type)."""
    return inbound(case, policy, hospitals_region) and policy.cross_region.pool == "outside"


def fund_of(case, policy, hospitals_region) -> tuple[str, str]:
    if clearing_fund(case, policy, hospitals_region):
        return (case["insured_region"].strip(), case["insurance_type"])
    region = hospitals_region.get(case["hospital_id"], policy.region)
    return policy.fund_key(region, case["insurance_type"])


def patient_share(case, policy, level: int, hospitals_region=None) -> int | None:
    """The benefit calculator for one case (no annual cap across cases): the insured region's table for an
    inbound case, else ``[benefits]``; None when no rule applies."""
    rules, cut = policy.benefits, policy.unreferred_cut_u
    if inbound(case, policy, hospitals_region or {}):
        rules, cut = policy.cross_region.benefits.get(case["insured_region"].strip(), ((), 0))
    rule = next((r for r in rules if r.insurance_type == case["insurance_type"] and r.level == level), None) or \
        next((r for r in rules if r.insurance_type == "all" and r.level == level), None)
    if rule is None:
        return None
    ratio = max(rule.ratio_u - (cut if case.get("unreferred") else 0), 0)
    eligible = case["cost"] - min(case.get("self_pay", 0), case["cost"]) - rule.deductible_fen
    fund = min(floor(Fraction(eligible * ratio, U)) if eligible > 0 else 0, rule.annual_cap_fen)
    return case["cost"] - fund


def clearing_lines(lines, policy, hospitals_region=None) -> dict:
    """Per (insured region, insurance type, month): cases, DRG standard, patient share, fund at discharge,
    fund payment, clearing amount and difference of the inbound cases (paid ones; held ones only counted)."""
    out: dict = {}
    for ln in lines:
        c = ln["case"]
        if not inbound(c, policy, hospitals_region or {}):
            continue
        row = out.setdefault((c["insured_region"].strip(), c["insurance_type"], c["month"]), {
            "n_cases": 0, "n_unpaid": 0, "drg_standard": 0, "patient_share": 0, "fund_at_discharge": 0,
            "fund_payment": 0, "clearing_amount": 0, "difference": 0})
        row["n_cases"] += 1
        if ln["kind"] in ("held", "ungroupable_held", "rejected"):
            row["n_unpaid"] += 1
            continue
        at_discharge = c["cost"] - c["patient"]
        cleared = ln["fund_payment"] if policy.cross_region.difference == "insured_region" else at_discharge
        row["drg_standard"] += ln.get("drg_standard", ln["standard"]) if ln["drg_track"] else 0
        row["patient_share"] += c["patient"]
        row["fund_at_discharge"] += at_discharge
        row["fund_payment"] += ln["fund_payment"]
        row["clearing_amount"] += cleared
        row["difference"] += ln["fund_payment"] - cleared
    return out


def corridor(policy, standard: int, cost: int) -> int:
    return corridor_parts(policy, standard, cost)[0]


def corridor_parts(policy, standard: int, cost: int) -> tuple[int, int]:
    """(adjustment, reward): margin bands, or the band the ratio cost ÷ standard falls in pays its way."""
    if policy.corridor is None or standard <= 0:
        return 0, 0
    if policy.corridor_pay is None:
        if cost == standard:
            return 0, 0
        lo, hi = min(standard, cost), max(standard, cost)
        edges = [0] + [floor(standard * _r(u)) for u, _ in policy.corridor[:-1]] + [None]
        total = Fraction(0)
        for b, (_, share) in enumerate(policy.corridor):
            a, z = edges[b], edges[b + 1]
            top = hi if z is None else min(hi, z)
            total += _r(share) * max(0, top - max(lo, a))
        return (floor(total) if cost > standard else floor(-total)), 0
    bands = policy.corridor_pay
    ratio = Fraction(cost, standard)
    b = next(i for i, band in enumerate(bands) if band.upto_u is None or ratio < _r(band.upto_u)
             or ratio == _r(band.upto_u) and band.include_upto)
    return _band(policy, b, standard, Fraction(cost))


def _band(policy, b: int, standard: int, cost: Fraction) -> tuple[int, int]:
    band = policy.corridor_pay[b]
    lower = _r(policy.corridor_pay[b - 1].upto_u) if b else Fraction(0)
    if band.pay == "standard":
        return 0, 0
    if band.pay == "cost":
        return floor(cost - standard), 0
    if band.pay == "cost_plus_reward":
        reward = band.reward_fen if band.reward_fen is not None else floor(max(0, standard - cost)
                                                                           * _r(band.reward_share_u))
        return floor(cost - standard) + reward, reward
    if band.pay == "excess":
        base = standard if policy.excess_from == "standard" else standard * lower
        return floor(_r(band.fund_share_u) * (cost - base)), 0
    return _band(policy, b - 1, standard, standard * lower)


def with_coefficient(policy, standard: int, patient: int, coef: Fraction) -> int:
    """``applies_to = "fund"``: the fund amount ⌊(standard − patient) × Ci⌋ plus the patient share."""
    if policy.coefficient_applies_to == "standard":
        return standard
    return patient + floor((standard - patient) * coef)


def split(amount: int, weights: list[int]) -> list[int]:
    if amount == 0:
        return [0] * len(weights)
    if sum(weights) == 0:
        return [amount] + [0] * (len(weights) - 1)
    return allocate([Fraction(amount * w, sum(weights)) for w in weights], amount)


def limits(policy, accounts: dict) -> None:
    """总控额度 and 最低服务人次 deductions of each hospital, split over its funds by their fund payments."""
    for a in accounts.values():
        a["total_deduction"] = a["volume_deduction"] = 0
    for hospital in sorted({h for h, _ in accounts}):
        keys = sorted(k for k in accounts if k[0] == hospital)
        due = [accounts[k]["drg_fund"] + accounts[k]["reserve_fund"] + accounts[k]["corridor"] for k in keys]
        weights = [max(d, 0) for d in due]
        if hospital in policy.totals_fen:
            excess = max(0, sum(due) - policy.totals_fen[hospital])
            kept = excess - floor(excess * _r(policy.totals_fund_share_u)) if policy.totals_over == "share" else excess
            for k, part in zip(keys, split(kept, weights)):
                accounts[k]["total_deduction"] = part
        if hospital in policy.min_cases:
            missing = max(0, policy.min_cases[hospital] - sum(accounts[k]["paid_cases"] for k in keys))
            for k, part in zip(keys, split(missing * policy.min_case_deduction_fen, weights)):
                accounts[k]["volume_deduction"] = part


def release_share(policy, score) -> Fraction:
    if policy.release_bands is None:
        return Fraction(score or 0, U)
    return next(_r(s) for m, s in policy.release_bands if (score or 0) >= m * 100)


def settle_year(cases, policy, hospitals, weights, scores=None, special=(), events=(), regions=None,
                period_scores=None, bonus=None, deductions=None, pool=None):
    """Year-end clearing of one year's cases → per-case results and per (hospital, fund) accounts.

    ``period_scores``: for a release schedule other than the year, the scores given to the month run that
    ends each period (month → hospital → score); the months were settled and recorded before the year.
    ``bonus``: hospital → bonus share (the hospital table's bonus_share, set by last year's score).
    ``deductions``: (hospital, fund) → {"months": {month: fen}, "year": fen, "sticky_months": fen} — deduction and
    recovery lines (payment.deductions) applied in the month runs (lowering what they paid) and in the year run;
    the annual amount due drops by the sticky ones of the months and by the year's.
    ``pool``: fund → fen of the months' deductions returned to the DRG pool (added to the year's distributable
    budget; the months' provisional values keep the budget they had).
    """
    regions = regions or {}
    events = set(events)
    special_ok = special_within_cap(cases, policy, list(special), events)
    lines = []
    in_budget = {"per_diem"} if policy.per_diem_from == "budget" else set()
    in_budget |= {"single_disease"} if policy.single_disease_budget == "inside" else set()
    outside = {"event"} | ({"single_disease"} if policy.single_disease_budget == "outside" else set())
    for c in cases:
        kind = case_type(c, policy, hospitals, weights, special_ok, events, regions)
        drg_track = kind in ("normal", "high", "low")
        quota = quota_of(c["hospital_id"], hospitals[c["hospital_id"]][0], policy) if kind == "quota" else 0
        lines.append({"case": c, "kind": kind, "fund": fund_of(c, policy, regions),
                      "points": points(c, kind, policy, hospitals, weights) if drg_track else 0,
                      "standard": quota if kind == "quota" else 0 if drg_track else track_standard(
                          c, kind, policy, hospitals, regions),
                      "drg_track": drg_track or kind == "quota", "monthly_standard": quota})
    budgets = {(b.region, b.insurance_type): b.amount_fen for b in policy.budgets}
    values, monthly_values = {}, {}
    for fund in sorted({ln["fund"] for ln in lines if ln["fund"] is not None}):
        cleared = fund not in budgets  # a clearing fund: the reference value, no budget
        budget = budgets.get(fund, 0)
        # the tracks paid from the DRG budget (预算内) are taken off what the points share
        distributable = budget - floor(budget * _r(policy.reserve_u)) - sum(
            ln["standard"] - ln["case"]["patient"] for ln in lines if ln["fund"] == fund and ln["kind"] in in_budget)
        distributable += (pool or {}).get(fund, 0)
        drg = [ln for ln in lines if ln["fund"] == fund and ln["drg_track"]]
        if policy.method == "quota":
            continue  # a quota is neither rescaled to the budget nor priced by points; monthly = the quota
        if cleared:
            value = Fraction(*policy.cross_region.reference)
            standards = [floor(ln["points"] * value) for ln in drg]
        elif policy.point_value_fixed is not None:
            value = Fraction(*policy.point_value_fixed)
            standards = [floor(ln["points"] * value) for ln in drg]
        else:
            value = Fraction(distributable + sum(ln["case"]["patient"] for ln in drg),
                             sum(ln["points"] for ln in drg))
            standards = allocate([ln["points"] * value for ln in drg], distributable +
                                 sum(ln["case"]["patient"] for ln in drg))
        values[fund] = value
        for ln, s in zip(drg, standards):
            ln["standard"] = with_coefficient(policy, s, ln["case"]["patient"], hospitals[ln["case"]["hospital_id"]][1])
        for month in range(1, 13):
            in_month = [ln for ln in drg if ln["case"]["month"] == month]
            # a month without points has no value to share the budget over; a forecast value prices it all the same
            if not in_month or policy.provisional is None and sum(ln["points"] for ln in in_month) == 0:
                for ln in in_month:
                    ln["monthly_standard"] = 0
                continue
            if cleared:
                value_m = Fraction(*policy.cross_region.reference)
            elif policy.provisional is None:
                whole = budget - floor(budget * _r(policy.reserve_u))
                taken = sum(ln["standard"] - ln["case"]["patient"] for ln in lines if ln["fund"] == fund
                            and ln["kind"] in in_budget and ln["case"]["month"] == month)
                value_m = Fraction(max(whole - 12 * taken, 0), 12 * sum(ln["points"] for ln in in_month)) + Fraction(
                    sum(ln["case"]["patient"] for ln in in_month), sum(ln["points"] for ln in in_month))
            else:
                value_m = Fraction(*policy.provisional)
            monthly_values[(fund, month)] = value_m
            for ln in in_month:
                ln["monthly_standard"] = with_coefficient(policy, floor(ln["points"] * value_m), ln["case"]["patient"],
                                                          hospitals[ln["case"]["hospital_id"]][1])
    unpaid = ("held", "ungroupable_held", "rejected")
    accounts: dict = {}
    for ln in lines:
        c = ln["case"]
        if clearing_fund(c, policy, regions) and policy.cross_region.difference == "hospital" and \
                ln["kind"] not in unpaid:
            # paid what clearing recovers: the standard becomes the cost (fund = cost − patient share)
            ln["drg_standard"] = ln["standard"]
            ln["standard"] = c["cost"]
            if ln["drg_track"]:
                ln["monthly_standard"] = c["cost"]
        ln["fund_payment"] = 0 if ln["kind"] in unpaid else ln["standard"] - c["patient"]
        a = accounts.setdefault((c["hospital_id"], ln["fund"]), {
            "drg_fund": 0, "drg_standard": 0, "drg_cost": 0, "reserve_fund": 0, "event_fund": 0, "paid_cases": 0,
            "budget_fund": 0, "months": {m: [0, 0] for m in range(1, 13)}})
        a["paid_cases"] += ln["kind"] not in unpaid
        if ln["drg_track"]:
            a["drg_fund"] += ln["fund_payment"]
            a["drg_standard"] += ln["standard"]
            a["drg_cost"] += corridor_cost(c, policy)
            a["months"][c["month"]][0] += ln["monthly_standard"] - c["patient"]
        elif ln["kind"] in outside:
            a["event_fund"] += ln["fund_payment"]
            a["months"][c["month"]][1] += ln["fund_payment"]
        elif ln["kind"] not in unpaid:
            a["reserve_fund"] += ln["fund_payment"]
            a["budget_fund"] += ln["fund_payment"] if ln["kind"] in in_budget else 0
            a["months"][c["month"]][0] += ln["fund_payment"]
    months_per_period = {"year": 12, "half": 6, "quarter": 3, "month": 1}[policy.release_schedule]
    for (hospital, fund), a in accounts.items():
        withheld = paid = released_before = 0
        period_withheld = 0
        taken = (deductions or {}).get((hospital, fund), {})
        for month, (provisional, event) in sorted(a["months"].items()):
            part = floor(provisional * (1 - _r(policy.withhold_u))) if provisional > 0 else provisional
            withheld += provisional - part
            period_withheld += provisional - part
            paid += part + event - taken.get("months", {}).get(month, 0)
            if months_per_period < 12 and month % months_per_period == 0:
                score = (period_scores or {}).get(month, {}).get(hospital)
                if score is None:
                    score = policy.default_score * 100
                released_before += floor(period_withheld * release_share(policy, score))
                period_withheld = 0
        released = released_before
        if months_per_period == 12:
            score = (scores or {}).get(hospital)
            if score is None and policy.default_score is not None:
                score = policy.default_score * 100
            released = floor(withheld * release_share(policy, score))
        a["withheld"], a["released"], a["monthly_paid"] = withheld, released, paid + released_before
        a["released_before"] = released_before
        cleared = fund not in budgets  # a clearing fund has no corridor
        a["corridor"], a["corridor_reward"] = (0, 0) if cleared else corridor_parts(policy, a["drg_standard"],
                                                                                    a["drg_cost"])
    limits(policy, accounts)
    for (hospital, fund), a in accounts.items():
        a["bonus"] = floor(a["drg_fund"] * (bonus or {}).get(hospital, 0))
        taken = (deductions or {}).get((hospital, fund), {})
        a["annual_due"] = (a["drg_fund"] + a["reserve_fund"] + a["event_fund"] + a["corridor"] - a["total_deduction"]
                           - a["volume_deduction"] - (a["withheld"] - a["released"]) + a["bonus"]
                           - taken.get("sticky_months", 0) - taken.get("year", 0))
        a["balance"] = a["annual_due"] - a["monthly_paid"]
    return lines, accounts, values, monthly_values


def interim_stay(records, policy, rate=None):
    """中途结算 of one stay: its records in month order (``interim`` True until the discharge record), each with
    cumulative ``cost``, ``patient`` and ``los``; ``rate`` the stay's daily rate (None: not per diem).

    Returns per record (fund payment, netted): an interim record is paid what the stay so far is due (days × rate,
    else ⌊cost × long-stay ratio⌋, less its patient share) less every earlier interim payment; the discharge
    record is paid by its own track (here per diem or long stay) and nets every interim payment.
    """
    out, paid = [], 0
    for r in records:
        if rate is not None:
            standard = rate * r["los"]
        elif not r["interim"] and not (policy.long_stay_days and r["los"] > policy.long_stay_days):
            raise ValueError("the twin settles per-diem or long stays only")
        else:
            standard = floor(r["cost"] * _r(policy.long_stay_ratio_u))
        due = standard - r["patient"]
        if r["interim"]:
            out.append((due - paid, 0))
            paid = due
        else:
            out.append((due, paid))
    return out


def outbound_forecast(rows, policy) -> dict:
    """外出就医预测 per insurance type: last year's clearing amounts (fen) of the local insured, month rows only,
    plus the growth rounded down: rows are (insured_region, insurance_type, month, amount in fen)."""
    local = {policy.region, *policy.cross_region.local}
    sums: dict = {}
    for region, ins, month, amount in rows:
        if region in local and "-" in month:
            sums[ins] = sums.get(ins, 0) + amount
    return {ins: s + floor(s * _r(policy.cross_region.outbound_growth_u)) for ins, s in sums.items()}
