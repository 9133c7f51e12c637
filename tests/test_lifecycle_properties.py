"""Never paid twice, never lost (issue 21): random sequences of uploads, returns, corrections, decisions and
month/year runs through the case life cycle; each accepted case settled once per period, each deduction applied
once, the history complete and the money conserved to the fen."""

from __future__ import annotations

from datetime import date

import hypothesis.strategies as st
import hypothesis
from hypothesis import HealthCheck, given, settings

from payment import parse_policy
from payment.cycle import settle_cycle
from payment.ledger import Ledger
from payment.lifecycle import CaseBook
from payment.reconcile import reconcile
from payment_helpers import hospitals, weights
import lifecycle_quarter as Q

import pyarrow as pa

POLICY = parse_policy(Q.POLICY, "property-policy")
HOSPITALS = hospitals(POLICY, Q.HOSPITALS[:3])
WEIGHTS = weights(Q.WEIGHTS)
FUND = {"A01": 800_000, "B03": 1_000_000, "B01": 1_800_000}  # fund payments at 100 元/点, patient share 2,000.00

event = st.tuples(st.sampled_from(["new", "new", "late", "review", "review", "review", "return", "correct", "correct", "flag"]),
                  st.integers(0, 2), st.integers(0, 99), st.sampled_from(list(FUND)), st.booleans())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(event, max_size=14), min_size=3, max_size=3))
def test_random_cycles(months):
    book = CaseBook(POLICY.lifecycle)
    ledger, applied, flags, records, runs = Ledger(), {}, {}, [], {}
    severities = {}
    for m, events in enumerate(months, start=1):
        for k, (what, h, i, drg, flag) in enumerate(events):
            on = date(2024, m + 1, 1 + k)
            keys = sorted(book.cases)
            if what in ("new", "late"):
                hid, cid = f"H{h + 1}", f"c{len(keys)}"
                month = f"2024-{m:02d}" if what == "new" else f"2024-{max(m - 1, 1):02d}"
                state = book.submit(hid, cid, month, on)
                severities[(hid, cid)] = ("fatal",) if flag else ()
            elif not keys:
                continue
            else:
                hid, cid = keys[i % len(keys)]
                state = book.cases[(hid, cid)]
                if what == "correct" and state.submission in ("accepted", "returned"):
                    state = book.submit(hid, cid, state.month, on)
                    severities[(hid, cid)] = ()
                elif what == "review" and state.submission in ("submitted", "resubmitted"):
                    book.review(hid, cid, on, severities[(hid, cid)])
                    continue
                elif what == "return" and state.submission in ("submitted", "resubmitted"):
                    book.return_case(hid, cid, on, "退回")
                    continue
                elif what == "flag" and state.latest_payment() is not None:
                    fid = f"F:{hid}:{cid}"
                    flags.setdefault(fid, {"flag_id": fid, "hospital_id": hid, "case_id": cid,
                                           "rule_id": "SPLIT_READMISSION", "evidence": {}, "status": "upheld"})
                    continue
                else:
                    continue
            records.append({"hospital_id": hid, "case_id": cid, "version": state.version, "drg": drg, "status": "ok",
                            "total_cost": Q.COST[drg], "patient_paid": "2000.00", "los_days": 5,
                            "discharge_date": state.month + "-10", "insurance_type": "310"})
        for (hid, cid), state in sorted(book.cases.items()):  # the payer reviews what is waiting before the run
            if state.submission in ("submitted", "resubmitted"):
                book.review(hid, cid, date(2024, m + 1, 19), severities[(hid, cid)])
        period = f"2024-{m:02d}"
        done = settle_cycle(book, pa.Table.from_pylist(records) if records else pa.table({"hospital_id": [], "case_id": []}),
                            "month", period, date(2024, m + 1, 20), WEIGHTS, POLICY, HOSPITALS, ledger, applied,
                            flags.values())
        ledger, applied, runs[period] = done.ledger, done.applied, done.run
    if not any(s.accepted_version for s in book.cases.values()):
        return
    m = 4
    while any(s.payment == "unpaid" for s in book.cases.values()):  # late acceptances: the months after
        period = f"2024-{m:02d}"
        done = settle_cycle(book, pa.Table.from_pylist(records), "month", period, date(2024, m + 1, 20), WEIGHTS,
                            POLICY, HOSPITALS, ledger, applied, flags.values())
        ledger, applied, runs[period], m = done.ledger, done.applied, done.run, m + 1
    hypothesis.event(f"applied {len(applied) > 0}, corrections {any(len(s.paid) > 1 for s in book.cases.values())}")
    done = settle_cycle(book, pa.Table.from_pylist(records), "year", "2024", date(2024, 4, 30), WEIGHTS, POLICY,
                        HOSPITALS, ledger, applied, flags.values())
    ledger, applied, runs["2024"] = done.ledger, done.applied, done.run

    # each (case, version) settled by at most one month run, and once in it; the year clears each current case once
    settled = {}
    for period, run in runs.items():
        if run is None:
            continue
        keys = list(zip(run.tables["case_lines"].column("hospital_id").to_pylist(),
                        run.tables["case_lines"].column("case_id").to_pylist()))
        assert len(keys) == len(set(keys))
        if period != "2024":
            for k in keys:
                settled.setdefault(k, []).append(period)
    for k, periods in settled.items():
        month_payments = [[p.run for p in v if p.run != "2024"] for v in book.cases[k].paid.values()]
        assert all(len(v) <= 1 for v in month_payments)  # each version in one month run at most
        assert sorted(periods) == sorted(r for v in month_payments for r in v)
    accepted = {k for k, s in book.cases.items() if s.accepted_version}
    year_keys = set(zip(runs["2024"].tables["case_lines"].column("hospital_id").to_pylist(),
                        runs["2024"].tables["case_lines"].column("case_id").to_pylist()))
    assert year_keys == {k for k in accepted if book.cases[k].period.startswith("2024")}

    # each deduction applied once; the ledger's deducted column holds exactly the applied lines
    assert sum(e["deducted"] for e in ledger.entries) == sum(a.amount_fen for a in applied.values())
    assert all(a.run for a in applied.values())

    # the history is complete: replaying it gives every current state
    replay = {}
    for e in book.history:
        replay.setdefault((e["hospital_id"], e["case_id"]), {})[e["dimension"]] = e["to"]
    assert {k: (v["submission"], v.get("payment", "")) for k, v in replay.items()} == \
        {k: (s.submission, s.payment) for k, s in book.cases.items()}

    # money: everything owed over the runs = the year's fund payments of the current versions − sticky deductions
    rows, _ = reconcile(book, ledger, applied, flags.values())
    year_fund = sum(FUND[r["drg"]] for r in records
                    if (r["hospital_id"], r["case_id"]) in year_keys
                    and r["version"] == book.cases[(r["hospital_id"], r["case_id"])].accepted_version)
    sticky = sum(a.amount_fen for a in applied.values() if a.sticky)
    assert sum(r["due"] for r in rows) == year_fund - sticky
