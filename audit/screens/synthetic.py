"""A synthetic month of grouped cases with planted violations (tests and benchmarks; deterministic per seed).

Clean cases: one stay per patient, except that a share of patients (``repeat_share``)
have a second stay in another ADRG (a near miss for the split screen); costs are
log-normal around the DRG's mean (σ 0.3), stays around its mean stay (σ 0.25), a tenth of
principal diagnoses are on the outpatient list, what-if alternatives lie within
0.85–1 × the coded RW.  Planted violations, each named in ``planted``:

=========================  ============================================================
rule                       planted
=========================  ============================================================
SPLIT_READMISSION          a second stay, same hospital and ADRG, 1–15 days after discharge
SPLIT_CHAIN                three such stays (the 2nd and 3rd are also SPLIT_READMISSION)
LOW_STANDARD_ADMISSION     a ``…5`` DRG, 1 day, 15 % of the mean cost, principal J06.900
UPCODING_WHATIF            a ``…1`` DRG whose best alternative is the ADRG's ``…5``
BED_BLOCKING               4 × the mean stay (≥ 20 days) at 10 % of the mean cost per day
DUPLICATE_OVERLAP          a patient's second stay, elsewhere, inside the first
DUPLICATE_CASE_ID          a clean case's id submitted again with another cost
UPCODING_HOSPITAL_SHARE    hospital ``HUP01``: 90 % MCC/CC cases in one ADRG (120 cases)
UPCODING_MONTH_JUMP        hospital ``HJMP01``: one ADRG from 30 % to 90 % MCC/CC (history)
DUMPING_HIGH_RW            hospital ``HDMP01``: RW ≥ 2 cases from 40 % to 5 % (history)
DUMPING_TRANSFERS_OUT      hospital ``HXFR01``: transfers out from 2 % to 25 % (history)
=========================  ============================================================

The last three need ``n_history`` > 0.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from weights import WeightTable
from weights.table import WeightMeta

OUTPATIENT_DX = ["J06.900", "K29.700", "I10.x00", "A09.900"]
INPATIENT_DX = ["I21.000", "J18.900", "K80.100", "S72.000", "C34.900", "N18.500", "I63.900", "E11.900"]
SEVERITY = (("1", 1.6, 1.3), ("3", 1.2, 1.1), ("5", 1.0, 1.0))
SPLIT_SHARE = (0.1, 0.25, 0.65)
MONTH = pd.Timestamp("2024-06-01")
RATES = {"310": "12000.00", "390": "9000.00"}


def _adrgs(n: int) -> list[str]:
    letters = "ABCDEFGHJKLMNPQSTUVWXYZ"  # no R (staged-treatment ADRGs are exempt from the split screen)
    return [f"{letters[i // 23 % 23]}{letters[i % 23]}{i // 529 + 1}" for i in range(n)]


def synthetic_weights(n_adrgs: int = 120, seed: int = 0) -> WeightTable:
    """The weight table of the synthetic DRGs (three per ADRG: ``…1``, ``…3``, ``…5``) with base rates."""
    rng = np.random.default_rng([seed, 1])
    base = np.round(rng.uniform(0.4, 1.8, n_adrgs), 4)
    los = rng.uniform(4, 10, n_adrgs)
    rows = []
    for a, code in enumerate(_adrgs(n_adrgs)):
        for suffix, rw_factor, los_factor in SEVERITY:
            rw = Decimal(str(round(base[a] * rw_factor, 4)))
            rows.append({"drg": code + suffix, "rw": rw, "drg_name": f"病组{code}{suffix}",
                         "mean_cost": (rw * 10000).quantize(Decimal("0.01")),
                         "mean_los": Decimal(str(round(los[a] * los_factor, 2)))})
    return WeightTable(WeightMeta(name="synthetic", region="模拟", year=2024, base_rates=dict(RATES)),
                       pd.DataFrame(rows))


def _clean(rng, n: int, weights: pd.DataFrame, hospitals: list[str], month: pd.Timestamp, prefix: str,
           patient_base: int, repeat_share: float) -> dict:
    n_adrg = len(weights) // 3
    adrg = rng.integers(0, n_adrg, n)
    severity = rng.choice(3, n, p=SPLIT_SHARE)
    patient = patient_base + np.arange(n)
    repeat = np.flatnonzero(rng.random(n) < repeat_share)
    repeat = repeat[repeat > 0]
    patient[repeat] = patient[repeat - 1]  # the same patient as the case before, in another ADRG
    adrg[repeat] = (adrg[repeat - 1] + 1 + rng.integers(0, n_adrg - 1, len(repeat))) % n_adrg
    drg = adrg * 3 + severity
    mean_cost = weights["mean_cost"].astype(float).to_numpy()[drg]
    mean_los = weights["mean_los"].astype(float).to_numpy()[drg]
    los = np.maximum(1, np.rint(mean_los * np.exp(0.25 * rng.standard_normal(n)))).astype(np.int64)
    cost = np.round(mean_cost * np.exp(0.3 * rng.standard_normal(n) - 0.045), 2)
    discharge = month.to_datetime64().astype("datetime64[D]").astype(np.int64) + rng.integers(0, month.days_in_month, n)
    # the repeated patient's stays do not overlap: the second starts after the first ends
    discharge[repeat] = discharge[repeat - 1] + los[repeat] + rng.integers(0, 20, len(repeat))
    rw = weights["rw"].astype(float).to_numpy()
    has_alt = rng.random(n) < 0.7
    alt_rw = np.where(has_alt, np.round(rw[drg] * rng.uniform(0.85, 1.0, n), 4), np.nan)
    dx_pool = OUTPATIENT_DX + INPATIENT_DX
    dx = np.where(rng.random(n) < 0.1, rng.integers(0, len(OUTPATIENT_DX), n),
                  len(OUTPATIENT_DX) + rng.integers(0, len(INPATIENT_DX), n))
    method = rng.choice([1, 2, 5], n, p=[0.97, 0.02, 0.01])
    return {"case_id": (prefix, np.arange(n)), "patient": patient, "hospital": rng.integers(0, len(hospitals), n),
            "drg": drg, "los": los, "cost": cost, "discharge": discharge, "dx": dx, "dx_pool": dx_pool,
            "method": method, "insurance": rng.integers(0, 2, n), "alt_rw": alt_rw}


def _table(parts: list[dict], weights: pd.DataFrame, hospitals: list[str]) -> pa.Table:
    """One Arrow table from column dicts (clean and planted)."""
    def cat(name):
        return np.concatenate([p[name] for p in parts])

    ids = pa.concat_arrays([
        pc.binary_join_element_wise(p["case_id"][0], pc.cast(pa.array(p["case_id"][1]), pa.string()), "")
        if isinstance(p["case_id"], tuple) else pa.array(p["case_id"], pa.string()) for p in parts])
    drg = cat("drg")
    codes = weights["drg"].tolist()
    discharge = cat("discharge")
    los = cat("los")
    admit = discharge - los
    day0 = int(min(admit.min(), discharge.min()))
    span = int(max(admit.max(), discharge.max())) - day0 + 1
    dates = pd.date_range(np.datetime64(day0, "D"), periods=span, freq="D").strftime("%Y-%m-%d").tolist()

    def dictionary(indices, values):
        return pa.DictionaryArray.from_arrays(pa.array(np.asarray(indices, np.int32)), pa.array(values, pa.string()))

    alt_rw = cat("alt_rw")
    alt_drg = np.where(np.isfinite(alt_rw), drg // 3 * 3 + 2, -1)
    patient = cat("patient")
    n = len(drg)
    dx_pool = parts[0]["dx_pool"]
    return pa.table({
        "case_id": ids,
        "patient_id": pc.binary_join_element_wise("Q", pc.cast(pa.array(patient), pa.string()), ""),
        "hospital_id": dictionary(cat("hospital"), hospitals),
        "mdc": dictionary(drg // 3 % 23, [f"MDC{c}" for c in "ABCDEFGHJKLMNPQSTUVWXYZ"]),
        "adrg": dictionary(drg // 3, [c[:3] for c in codes[::3]]),
        "drg": dictionary(drg, codes),
        "status": dictionary(np.zeros(n), ["ok"]),
        "admit_date": dictionary(admit - day0, dates),
        "discharge_date": dictionary(discharge - day0, dates),
        "los_days": pa.array(los),
        "total_cost": pa.array(cat("cost")),
        "principal_dx": dictionary(cat("dx"), dx_pool),
        "discharge_method": pa.array(cat("method")),
        "insurance_type": dictionary(cat("insurance"), ["310", "390"]),
        "best_drg": pa.DictionaryArray.from_arrays(pa.array(alt_drg.astype(np.int32), mask=alt_drg < 0),
                                                   pa.array(codes, pa.string())),
        "best_rw": pa.array(alt_rw, from_pandas=True),
        "best_alternative": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32), mask=alt_drg < 0),
                                                           pa.array(["主要诊断改为 E87.100 (principal diagnosis E87.100)"])),
    })


def _rows(**columns) -> dict:
    """A part of the table from lists (planted cases)."""
    out = {k: np.asarray(v) for k, v in columns.items() if k != "case_id"}
    out["case_id"] = list(columns["case_id"])
    out.setdefault("dx", np.full(len(out["drg"]), len(OUTPATIENT_DX)))
    n = len(out["drg"])
    for key, default in (("method", 1), ("insurance", 0), ("alt_rw", np.nan)):
        if key not in out:
            out[key] = np.full(n, default, dtype=float if key == "alt_rw" else np.int64)
    out["dx_pool"] = OUTPATIENT_DX + INPATIENT_DX
    return out


def synthetic_month(n_clean: int, *, n_history: int = 0, n_each: int = 20, n_hospitals: int = 50,
                    n_adrgs: int = 120, seed: int = 0, repeat_share: float = 0.05):
    """Grouped cases of June 2024 with planted violations, and the history of April–May.

    Parameters
    ----------
    n_clean : int
        Clean cases of the month.
    n_history : int
        Clean cases of the history (0: no history; the history plants are left out).
    n_each : int
        Planted cases per case rule.
    n_hospitals : int
        Clean hospitals ``H001`` …; the planted hospitals come after them.
    n_adrgs : int
    seed : int
    repeat_share : float
        Share of clean cases whose patient has another stay in another ADRG.

    Returns
    -------
    cases : pyarrow.Table
        ``case_id``, ``patient_id``, ``hospital_id``, ``mdc``, ``adrg``, ``drg``, ``status``, ``admit_date``,
        ``discharge_date``, ``los_days``, ``total_cost``, ``principal_dx``, ``discharge_method``,
        ``insurance_type``, ``best_drg``, ``best_rw``, ``best_alternative``.
    history : pyarrow.Table or None
    weights : WeightTable
    planted : pandas.DataFrame
        ``rule_id``, ``row_no`` (of ``cases``; 0 for a hospital plant), ``case_id``, ``hospital_id``,
        ``subject`` (the ADRG or ``all`` for a hospital plant, ``""`` for a case).
    """
    weights = synthetic_weights(n_adrgs, seed)
    w = weights.frame
    rw = w["rw"].astype(float).to_numpy()
    mean_cost = w["mean_cost"].astype(float).to_numpy()
    mean_los = w["mean_los"].astype(float).to_numpy()
    rng = np.random.default_rng(seed)
    hospitals = [f"H{h + 1:03d}" for h in range(n_hospitals)] + ["HUP01", "HJMP01", "HDMP01", "HXFR01"]
    up, jmp, dmp, xfr = range(n_hospitals, n_hospitals + 4)
    day = lambda text: int(np.datetime64(text, "D").astype(np.int64))  # noqa: E731
    clean = _clean(rng, n_clean, w, hospitals[:n_hospitals], MONTH, "C", 0, repeat_share)
    clean["hospital"] = clean["hospital"] % n_hospitals
    parts, plants = [clean], []
    next_patient = [10**9]

    def patients(k):
        start = next_patient[0]
        next_patient[0] += k
        return np.arange(start, start + k)

    def plant(rule_id, part, flagged):
        offset = sum(len(p["drg"]) for p in parts)
        parts.append(part)
        for i in flagged:
            plants.append({"rule_id": rule_id, "row_no": offset + i + 1, "case_id": part["case_id"][i],
                           "hospital_id": hospitals[int(part["hospital"][i])], "subject": ""})

    k = n_each
    adrg = rng.integers(0, n_adrgs, k)
    hosp = rng.integers(0, n_hospitals, k)
    first_end = day("2024-06-01") + rng.integers(0, 14, k)
    gap = rng.integers(1, 16, k)
    los = np.full(k, 4)
    pid = patients(k)
    plant("SPLIT_READMISSION", _rows(
        case_id=[f"P-SPLIT-{i:04d}-{s}" for i in range(k) for s in "AB"], patient=np.repeat(pid, 2),
        hospital=np.repeat(hosp, 2), drg=np.repeat(adrg * 3 + 2, 2), los=np.tile(los, 2)[:2 * k],
        cost=np.repeat(mean_cost[adrg * 3 + 2], 2),
        discharge=np.ravel(np.column_stack([first_end, first_end + gap + 4]))), range(1, 2 * k, 2))
    pid = patients(k)
    ends = day("2024-06-03") + np.arange(3) * 6  # stays of 3 days, readmitted 3 days after each discharge
    plant("SPLIT_CHAIN", _rows(
        case_id=[f"P-CHAIN-{i:04d}-{s}" for i in range(k) for s in "ABC"], patient=np.repeat(pid, 3),
        hospital=np.repeat(hosp, 3), drg=np.repeat(adrg * 3 + 2, 3), los=np.full(3 * k, 3),
        cost=np.repeat(mean_cost[adrg * 3 + 2], 3), discharge=np.tile(ends, k)), range(2, 3 * k, 3))
    plants += [{**p, "rule_id": "SPLIT_READMISSION"} for p in plants[-k:]]
    plants += [{"rule_id": "SPLIT_READMISSION", "row_no": p["row_no"] - 1, "case_id": p["case_id"][:-1] + "B",
                "hospital_id": p["hospital_id"], "subject": ""} for p in plants[-k:]]
    drg5 = adrg * 3 + 2
    plant("LOW_STANDARD_ADMISSION", _rows(
        case_id=[f"P-LOW-{i:04d}" for i in range(k)], patient=patients(k), hospital=hosp, drg=drg5,
        los=np.ones(k, np.int64), cost=np.round(0.15 * mean_cost[drg5], 2),
        discharge=day("2024-06-05") + rng.integers(0, 20, k), dx=np.zeros(k, np.int64)), range(k))
    drg1 = adrg * 3
    plant("UPCODING_WHATIF", _rows(
        case_id=[f"P-UPC-{i:04d}" for i in range(k)], patient=patients(k), hospital=hosp, drg=drg1,
        los=np.rint(mean_los[drg1]).astype(np.int64), cost=mean_cost[drg1],
        discharge=day("2024-06-05") + rng.integers(0, 20, k), alt_rw=rw[drg5]), range(k))
    long = np.maximum(20, np.ceil(4 * mean_los[drg5])).astype(np.int64)
    plant("BED_BLOCKING", _rows(
        case_id=[f"P-BED-{i:04d}" for i in range(k)], patient=patients(k), hospital=hosp, drg=drg5, los=long,
        cost=np.round(0.1 * mean_cost[drg5] / mean_los[drg5] * long, 2),
        discharge=day("2024-06-28") + rng.integers(0, 3, k)), range(k))
    pid = patients(k)
    plant("DUPLICATE_OVERLAP", _rows(
        case_id=[f"P-OVL-{i:04d}-{s}" for i in range(k) for s in "AB"], patient=np.repeat(pid, 2),
        hospital=np.ravel(np.column_stack([hosp, (hosp + 1) % n_hospitals])),
        drg=np.ravel(np.column_stack([drg5, (drg5 + 3) % (3 * n_adrgs)])), los=np.tile([10, 4], k),
        cost=np.repeat(mean_cost[drg5], 2),
        discharge=np.tile([day("2024-06-20"), day("2024-06-18")], k)), range(1, 2 * k, 2))
    pick = rng.choice(n_clean, k, replace=False)
    plant("DUPLICATE_CASE_ID", _rows(
        case_id=[f"C{j}" for j in pick], patient=clean["patient"][pick], hospital=clean["hospital"][pick],
        drg=clean["drg"][pick], los=clean["los"][pick], cost=np.round(clean["cost"][pick] * 1.1, 2),
        discharge=clean["discharge"][pick], dx=clean["dx"][pick], method=clean["method"][pick],
        insurance=clean["insurance"][pick]), range(k))

    def hospital_cases(name, h, n, month, split=None, adrg_index=None, high=None, transfers=None):
        part = _clean(rng, n, w, hospitals, month, name, next_patient[0], 0.0)
        next_patient[0] += n
        part["hospital"] = np.full(n, h)
        if split is not None:
            a = np.full(n, adrg_index)
            part["drg"] = a * 3 + np.where(rng.random(n) < split, rng.integers(0, 2, n), 2)
        if high is not None:
            hi, lo = np.flatnonzero(rw >= 2.0), np.flatnonzero(rw < 1.5)
            part["drg"] = np.where(rng.random(n) < high, rng.choice(hi, n), rng.choice(lo, n))
        if transfers is not None:
            part["method"] = np.where(rng.random(n) < transfers, 2, 1)
        part["cost"] = np.round(mean_cost[part["drg"]] * np.exp(0.3 * rng.standard_normal(n) - 0.045), 2)
        part["los"] = np.maximum(1, np.rint(mean_los[part["drg"]])).astype(np.int64)
        part["alt_rw"] = np.full(n, np.nan)
        return part

    parts.append(hospital_cases("HUP-", up, 120, MONTH, split=0.9, adrg_index=0))
    plants.append({"rule_id": "UPCODING_HOSPITAL_SHARE", "row_no": 0, "case_id": None, "hospital_id": "HUP01",
                   "subject": w["drg"].iloc[0][:3]})
    history = None
    if n_history:
        may = pd.Timestamp("2024-05-01")
        past = [_clean(rng, n_history, w, hospitals[:n_hospitals], may, "HC", 2 * 10**9, repeat_share)]
        past[0]["hospital"] = past[0]["hospital"] % n_hospitals
        past.append(hospital_cases("HJMP-H", jmp, 150, may, split=0.3, adrg_index=1))
        parts.append(hospital_cases("HJMP-", jmp, 150, MONTH, split=0.9, adrg_index=1))
        past.append(hospital_cases("HDMP-H", dmp, 600, may, high=0.4))
        parts.append(hospital_cases("HDMP-", dmp, 600, MONTH, high=0.05))
        past.append(hospital_cases("HXFR-H", xfr, 600, may, transfers=0.02))
        parts.append(hospital_cases("HXFR-", xfr, 600, MONTH, transfers=0.25))
        plants += [{"rule_id": "UPCODING_MONTH_JUMP", "row_no": 0, "case_id": None, "hospital_id": "HJMP01",
                    "subject": w["drg"].iloc[3][:3]},
                   {"rule_id": "DUMPING_HIGH_RW", "row_no": 0, "case_id": None, "hospital_id": "HDMP01",
                    "subject": "all"},
                   {"rule_id": "DUMPING_TRANSFERS_OUT", "row_no": 0, "case_id": None, "hospital_id": "HXFR01",
                    "subject": "all"}]
        history = _table(past, w, hospitals)
    planted = pd.DataFrame(plants, columns=["rule_id", "row_no", "case_id", "hospital_id", "subject"])
    return _table(parts, w, hospitals), history, weights, planted


__all__ = ["OUTPATIENT_DX", "synthetic_month", "synthetic_weights"]
