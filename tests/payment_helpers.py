"""Small builders shared by the payment tests: policies, hospital tables, weight tables and cases in memory."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pandas as pd

from payment import parse_policy, read_hospitals, run_settlement
from payment.ledger import Ledger
from weights import WeightMeta, WeightTable

BASE_POLICY = {
    "version": "test-1",
    "region": "测试市",
    "average_cost": "10000.00",
    "budget": [{"insurance_type": "all", "amount": "1000000.00"}],
    "coefficients": {"levels": {"1": "0.8", "2": "1.0", "3": "1.2"}},
    "assessment": {"default_score": 100},
}


def policy(**changes):
    data = {**BASE_POLICY}
    for key, value in changes.items():
        data[key] = value
    return parse_policy(data, "test-policy")


def hospitals(pol, rows):
    """rows: (hospital_id, level[, coefficient])."""
    frame = pd.DataFrame({"hospital_id": [r[0] for r in rows], "level": [str(r[1]) for r in rows],
                          "coefficient": [r[2] if len(r) > 2 else "" for r in rows]})
    return read_hospitals(frame, pol)


def weights(rows):
    """rows: (drg, rw text, mean_cost text or None)."""
    frame = pd.DataFrame({"drg": [r[0] for r in rows], "rw": [Decimal(r[1]) for r in rows],
                          "mean_cost": [Decimal(r[2]) if r[2] is not None else None for r in rows]}).astype(object)
    return WeightTable(WeightMeta("test-weights"), frame)


def cases_frame(cases):
    """Naive-style case dicts (fen, month; ``self_pay`` fen when given) → the engine's input columns (yuan text,
    dates); ``dx`` and ``procs`` become principal_dx and procedures when a case has them."""
    frame = pd.DataFrame({
        "case_id": [c["case_id"] for c in cases],
        "hospital_id": [c["hospital_id"] for c in cases],
        "drg": [c["drg"] for c in cases],
        "status": [c["status"] for c in cases],
        "total_cost": [f"{Decimal(c['cost']) / 100:.2f}" for c in cases],
        "patient_paid": [f"{Decimal(c['patient']) / 100:.2f}" for c in cases],
        "los_days": [c["los"] for c in cases],
        "discharge_date": [f"2024-{c['month']:02d}-15" for c in cases],
        "insurance_type": [c["insurance_type"] for c in cases],
    })
    if any("dx" in c for c in cases):
        frame["principal_dx"] = [c.get("dx", "") for c in cases]
        frame["procedures"] = ["|".join(c.get("procs", ())) for c in cases]
    if any("self_pay" in c for c in cases):
        frame["self_pay_cost"] = [f"{Decimal(c.get('self_pay', 0)) / 100:.2f}" for c in cases]
    return frame


def naive_hospitals(h):
    return {hid: (int(level), Fraction(int(coef), 10_000)) for hid, level, coef in zip(h.ids, h.level, h.coef_u)}


def naive_weights(w):
    return {d: (Fraction(r), None if m is None else int(m * 100))
            for d, r, m in zip(w.frame["drg"], w.frame["rw"], w.frame["mean_cost"])}


def case(cid, hospital, drg, cost_yuan, patient_yuan, month=1, status="ok", los=5, insurance="310"):
    return {"case_id": cid, "hospital_id": hospital, "drg": drg, "status": status,
            "cost": int(Decimal(cost_yuan) * 100), "patient": int(Decimal(patient_yuan) * 100), "los": los,
            "month": month, "insurance_type": insurance}


def month_runs(frame, w, pol, h, period_scores: dict) -> Ledger:
    """The ledger after the twelve month runs of 2024 (each with that month's scores, if any)."""
    ledger = Ledger()
    for m in range(1, 13):
        ledger = run_settlement(frame, w, pol, h, "month", f"2024-{m:02d}", scores=period_scores.get(m),
                                ledger=ledger).ledger
    return ledger

