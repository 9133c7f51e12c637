"""Property tests: the engine against the plain-Python settlement calculator, and the invariants of issue 8."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import naive_settlement as naive
from payment import run_settlement
from payment.money import allocate_largest_remainder, mul_div_floor
from payment_helpers import cases_frame, hospitals, month_runs, naive_hospitals, naive_weights, policy, weights

HOSPITALS = [("HA", 3), ("HB", 2), ("HC", 1, "0.9")]
WEIGHTS = [("A01", "1.0", "10000.00"), ("B01", "2.345678", None), ("C01", "0.5", "5000.00"),
           ("D01", "5.5", "60000.00"), ("P01", "1.0", "8000.00")]
DRGS = ["A01", "B01", "C01", "D01", "P01", "Z99"]  # Z99: no weight


@st.composite
def scenario(draw):
    n = draw(st.integers(3, 40))
    cases = []
    for i in range(n):
        drg = draw(st.sampled_from(DRGS))
        cost = draw(st.one_of(st.integers(0, 300_000_00), st.integers(100_00, 20_000_00)))
        cases.append({
            "case_id": f"C{i:03d}", "hospital_id": draw(st.sampled_from(["HA", "HB", "HC"])), "drg": drg,
            "status": draw(st.sampled_from(["ok"] * 8 + ["ungroupable", "qy"])), "cost": cost,
            "patient": draw(st.integers(0, cost)), "los": draw(st.integers(1, 90)),
            "month": draw(st.integers(1, 12)), "insurance_type": draw(st.sampled_from(["310", "390"])),
            "dx": draw(st.sampled_from(["K35.800", "O80.000", "J18.900", "J18.900", "J18.900"])),
            "procs": draw(st.sampled_from([(), ("47.0900",), ("73.5900", "47.0900")])),
        })
    # every fund has points
    cases[0].update(drg="A01", status="ok", cost=10_000_00, patient=1_000_00, insurance_type="310", los=5,
                    dx="J18.900")
    cases[1].update(drg="C01", status="ok", cost=5_000_00, patient=0, insurance_type="390", los=5, dx="J18.900")
    per_diem_from = draw(st.sampled_from(["reserve", "budget"]))
    single_budget = draw(st.sampled_from(["outside", "inside"]))
    # tracks paid from the budget (at most 40 × 90 days × 1,000.00 = 3,600,000.00) must fit in its distributable part
    least = 5 * 10**8 if per_diem_from == "budget" or single_budget == "inside" else 1
    changes = {
        "method": draw(st.sampled_from(["point", "rate"])),
        "budget": [{"insurance_type": "310", "amount": f"{draw(st.integers(least, 10**9)) / 100:.2f}"},
                   {"insurance_type": "390", "amount": f"{draw(st.integers(least, 10**9)) / 100:.2f}"}],
        "reserve": {"share": draw(st.sampled_from(["0", "0.05", "0.1234"]))},
        "missing_weight": draw(st.sampled_from(["hold", "fee_for_service"])),
        "monthly": {"withhold": draw(st.sampled_from(["0", "0.1", "0.0333"]))},
        "tracks": {"long_stay": {"days": 60, "ratio": "0.9"},
                   "per_diem": {"rates": {"P01": "321.45"}, "paid_from": per_diem_from,
                                "table": [{"drg": "P01", "fund": "390", "level": 3, "rate": "400.00"},
                                          {"drg": "P01", "fund": "职工", "hospital_id": "HC", "rate": "250.50"},
                                          {"drg": "D01", "level": "2", "rate": "1000.00"}]},
                   "single_disease": {"budget": single_budget, "prices": [
                       {"diagnosis": "K35.800", "price": "6000.00"},
                       {"diagnosis": "K35.800", "procedure": "47.0900", "level": 3, "price": "9000.00"},
                       {"diagnosis": "O80.000", "fund": "居民", "price": "3000.00"}]},
                   "special": {"max_share": "0.2", "rounding": draw(st.sampled_from(["up", "down"])),
                               "min_count": draw(st.integers(0, 2))},
                   "ungroupable": {"pay": draw(st.sampled_from(["fee_for_service", "hold"]))}},
        "corridor": {"bands": [{"upto": "0.9", "fund_share": "0.3"}, {"upto": "1.1", "fund_share": "0"},
                               {"upto": "1.2", "fund_share": "0.5"}, {"fund_share": "0.1"}]},
        "assessment": {"release": [{"min_score": 90, "share": "1"}, {"min_score": 0, "share": "0.5"}]},
    }
    if draw(st.booleans()):
        changes["high_cost"] = {"by": "hospital_level", "levels": {"1": "3", "2": "2.5", "3": "2"}}
    scores = {h: draw(st.integers(0, 100_00)) for h in ("HA", "HB", "HC")}
    special = draw(st.lists(st.sampled_from([c["case_id"] for c in cases[2:]] or ["none"]), unique=True, max_size=4))
    events = draw(st.lists(st.sampled_from([c["case_id"] for c in cases[2:]] or ["none"]), unique=True, max_size=2))
    return cases, changes, scores, special, events


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_year_matches_the_plain_python_calculator(data):
    cases, changes, scores, special, events = data
    pol = policy(**changes)
    h = hospitals(pol, HOSPITALS)
    w = weights(WEIGHTS)
    run = run_settlement(cases_frame(cases), w, pol, h, "year", "2024", scores=scores,
                         special={c: "" for c in special}, events={c: "e" for c in events})
    lines, accounts, values, _ = naive.settle_year(cases, pol, naive_hospitals(h), naive_weights(w), scores,
                                                   special, events)
    table = run.tables["case_lines"]
    assert table.column("case_type").to_pylist() == [ln["kind"] for ln in lines]
    assert [int(x * 10_000) for x in table.column("points").to_pylist()] == [ln["points"] for ln in lines]
    assert [int(x * 100) for x in table.column("standard").to_pylist()] == [
        0 if ln["kind"] in ("held", "ungroupable_held") else ln["standard"] for ln in lines]
    assert [int(x * 100) for x in table.column("fund_payment").to_pylist()] == [ln["fund_payment"] for ln in lines]
    s = run.settlement
    for f, key in enumerate(s.cases.funds):
        assert Fraction(s.point_values[f].numerator, s.point_values[f].denominator) == values[key]
    statement = run.tables["hospitals"].to_pylist()
    for row in statement:
        expected = accounts[(row["hospital_id"], (row["region"], row["insurance_type"]))]
        for name in ("drg_fund", "withheld", "released", "corridor", "annual_due", "monthly_paid", "balance"):
            assert int(row[name] * 100) == expected[name], name
    # Σ year-end DRG-pool fund payments (DRG cases + tracks paid from the budget) = distributable, to the fen
    budget_fund = {key: sum(a["budget_fund"] for (_, k), a in accounts.items() if k == key) for key in values}
    for fund in run.meta["funds"]:
        key = (fund["region"], fund["insurance_type"])
        assert fund["budget_tracks_fen"] == budget_fund[key]
        assert fund["drg_fund_fen"] + fund["budget_tracks_fen"] == fund["distributable_fen"]


@settings(max_examples=40, deadline=None)
@given(scenario())
def test_monthly_payments_never_exceed_the_unwithheld_provisional_value(data):
    cases, changes, scores, special, events = data
    pol = policy(**changes)
    h = hospitals(pol, HOSPITALS)
    run = run_settlement(cases_frame(cases), weights(WEIGHTS), pol, h, "month", f"2024-{cases[0]['month']:02d}",
                         scores=scores)
    w = Fraction(pol.withhold_u, 10_000)
    for row in run.tables["hospitals"].to_pylist():
        provisional, paid, event = (Fraction(row[k]) for k in ("provisional", "paid", "event_fund"))
        assert paid - event <= (1 - w) * provisional or provisional <= 0
        assert row["withheld"] >= 0 and row["provisional"] == row["drg_fund"] + row["other_tracks_fund"]


@settings(max_examples=25, deadline=None)
@given(scenario())
def test_reruns_give_identical_tables(data):
    cases, changes, scores, special, events = data
    pol = policy(**changes)
    h = hospitals(pol, HOSPITALS)
    first = run_settlement(cases_frame(cases), weights(WEIGHTS), pol, h, "year", "2024", scores=scores)
    again = run_settlement(cases_frame(cases), weights(WEIGHTS), pol, h, "year", "2024", scores=scores)
    assert first.meta == again.meta
    for name, table in first.tables.items():
        assert table.equals(again.tables[name], check_metadata=True)


@given(st.lists(st.integers(0, 2**53 - 1), min_size=1, max_size=30), st.integers(0, 2**40),
       st.integers(1, 2**51 - 1))
def test_mul_div_floor_is_exact(a, b, d):
    a = [x for x in a if x * b // d < 2**51] or [0]
    q, r = mul_div_floor(np.array(a), b, d)
    assert q.tolist() == [x * b // d for x in a]
    assert r.tolist() == [x * b % d for x in a]


@given(st.lists(st.integers(0, 10**12), min_size=1, max_size=50), st.integers(1, 10**12))
def test_largest_remainder_allocation_matches_fractions(weights_, total):
    if sum(weights_) == 0:
        weights_[0] = 1
    denominator = sum(weights_)
    q, r = mul_div_floor(np.array(weights_), total, denominator) if total * max(weights_) // denominator < 2**51 \
        else (None, None)
    if q is None:
        return
    out = allocate_largest_remainder(q, r, total)
    assert out.tolist() == naive.allocate([Fraction(x * total, denominator) for x in weights_], total)
    assert int(out.sum()) == total


# ---- the year-end rules of issue 18 -----------------------------------------------------------------------

@st.composite
def corridor_bands(draw):
    """Bands that say how they pay: rising bounds, any pay per band (capped never first), boundaries either way."""
    n = draw(st.integers(1, 4))
    bounds = sorted(draw(st.lists(st.integers(5000, 15000), min_size=n - 1, max_size=n - 1, unique=True)))
    bands = []
    for k in range(n):
        pay = draw(st.sampled_from(["standard", "cost", "cost_plus_reward", "excess"] + (["capped"] if k else [])))
        band = {"pay": pay}
        if k < n - 1:
            band.update(upto=f"{bounds[k] / 10_000:.4f}", include_upto=draw(st.booleans()))
        if pay == "cost_plus_reward":
            band.update({"reward_share": draw(st.sampled_from(["0.5", "0.3333"]))} if draw(st.booleans())
                        else {"reward": draw(st.sampled_from(["0", "123.45"]))})
        if pay == "excess":
            band["fund_share"] = draw(st.sampled_from(["0.5", "0.25", "1"]))
        bands.append(band)
    return bands


@st.composite
def year_end_changes(draw):
    changes = {"corridor": {"bands": draw(corridor_bands()),
                            "excess_from": draw(st.sampled_from(["band_edge", "standard"])),
                            "reward_from": draw(st.sampled_from(["reserve", "outside"]))},
               "totals": {"hospitals": {"HA": f"{draw(st.integers(0, 2_000_000_00)) / 100:.2f}"},
                          **draw(st.sampled_from([{"over": "cap"}, {"over": "share", "fund_share": "0.4"}]))},
               "min_volume": {"hospitals": {"HB": draw(st.integers(0, 30)), "HC": 5},
                              "deduction": draw(st.sampled_from(["0", "1500.00"]))}}
    changes["bonus_share"] = {"HA": draw(st.sampled_from(["0", "0.02", "0.3333"])), "HC": "0.01"}
    if draw(st.booleans()):
        changes["point_value"] = {"mode": "fixed", "value": draw(st.sampled_from(["85.5", "123.456789"]))}
        changes["coefficients"] = {"levels": {"1": "0.5", "2": "0.75", "3": "1.15"},
                                   "applies_to": draw(st.sampled_from(["standard", "fund"]))}
    return changes


def _compare_year(run, accounts, names):
    for row in run.tables["hospitals"].to_pylist():
        expected = accounts[(row["hospital_id"], (row["region"], row["insurance_type"]))]
        for name in names:
            assert int(row[name] * 100) == expected[name], (row["hospital_id"], name)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(), year_end_changes())
def test_year_end_rules_match_the_plain_python_calculator(data, extra):
    cases, changes, scores, special, events = data
    bonus = extra.pop("bonus_share")  # the hospital table's bonus_share (last year's 奖优罚劣)
    pol = policy(**{**changes, **extra, "corridor": extra["corridor"]})
    h = replace(hospitals(pol, HOSPITALS), bonus_u={k: int(Decimal(v) * 10_000) for k, v in bonus.items()})
    w = weights(WEIGHTS)
    run = run_settlement(cases_frame(cases), w, pol, h, "year", "2024", scores=scores,
                         special={c: "" for c in special}, events={c: "e" for c in events})
    lines, accounts, _, _ = naive.settle_year(cases, pol, naive_hospitals(h), naive_weights(w), scores, special, events,
                                              bonus={k: Fraction(Decimal(v)) for k, v in bonus.items()})
    table = run.tables["case_lines"]
    assert [int(x * 100) for x in table.column("fund_payment").to_pylist()] == [ln["fund_payment"] for ln in lines]
    _compare_year(run, accounts, ("drg_fund", "corridor", "corridor_reward", "total_deduction", "volume_deduction",
                                  "released", "annual_due", "monthly_paid", "balance", "bonus"))
    if pol.point_value_fixed is None:  # the budget is spent exactly wherever it is rescaled
        for fund in run.meta["funds"]:
            assert fund["drg_fund_fen"] + fund["budget_tracks_fen"] == fund["distributable_fen"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(), st.sampled_from(["month", "quarter", "half", "year"]),
       st.dictionaries(st.integers(1, 12),
                       st.dictionaries(st.sampled_from(["HA", "HB", "HC"]), st.integers(0, 100_00))))
def test_months_through_the_ledger_then_the_year(data, schedule, period_scores):
    """Every month settled and recorded, then the year read from the ledger: the naive year with the same scores;
    re-recording any month changes nothing."""
    cases, changes, scores, _, _ = data
    cases = cases + [dict(cases[0], case_id=f"M{m}", month=m) for m in range(1, 13)]  # every month has a run
    changes = {**changes, "assessment": {**changes["assessment"], "schedule": schedule, "default_score": 80}}
    pol = policy(**changes)
    h = hospitals(pol, HOSPITALS)
    w = weights(WEIGHTS)
    frame = cases_frame(cases)
    ledger = month_runs(frame, w, pol, h, period_scores)
    again = run_settlement(frame, w, pol, h, "month", "2024-03", scores=period_scores.get(3), ledger=ledger).ledger
    assert again.to_csv() == ledger.to_csv()
    year_scores = scores if schedule == "year" else None
    run = run_settlement(frame, w, pol, h, "year", "2024", scores=year_scores, ledger=ledger)
    _, accounts, _, _ = naive.settle_year(cases, pol, naive_hospitals(h), naive_weights(w), year_scores,
                                          period_scores=period_scores)
    _compare_year(run, accounts, ("withheld", "released", "released_before", "annual_due", "monthly_paid",
                                  "balance"))
    # nothing released twice: what the months released plus what the year released is what the year shows
    entries = run.ledger.entries
    for row in run.tables["hospitals"].to_pylist():
        own = [e for e in entries if e["hospital_id"] == row["hospital_id"] and e["insurance_type"] ==
               row["insurance_type"]]
        assert sum(e["released"] for e in own) == int(row["released"] * 100)
