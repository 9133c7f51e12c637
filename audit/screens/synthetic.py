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
    drg = adrg * 3 + severity
    mean_cost = weights["mean_cost"].astype(float).to_numpy()[drg]
    mean_los = weights["mean_los"].astype(float).to_numpy()[drg]
    los = np.maximum(1, np.rint(mean_los * np.exp(0.25 * rng.standard_normal(n)))).astype(np.int64)
    cost = np.round(mean_cost * np.exp(0.3 * rng.standard_normal(n) - 0.045), 2)
    days_in_month = month.days_in_month
    discharge = month.to_datetime64().astype("datetime64[D]").astype(np.int64) + rng.integers(0, days_in_month, n)
    patient = patient_base + np.arange(n)
    repeat = np.flatnonzero(rng.random(n) < repeat_share)
    repeat = repeat[repeat > 0]
    patient[repeat] = patient[repeat - 1]  # the same patient as the case before: another ADRG, see below
    adrg[repeat] = (adrg[repeat - 1] + 1 + rng.integers(0, n_adrg - 1, len(repeat))) % n_adrg
    drg[repeat] = adrg[repeat] * 3 + severity[repeat]
    # the repeated patient's stays do not overlap: the second starts after the first ends
    first_end = discharge[repeat - 1]
    discharge[repeat] = first_end + los[repeat] + rng.integers(0, 20, len(repeat))
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
        "best_drg": dictionary(np.maximum(alt_drg, 0), codes).take(pa.array(np.arange(n))).cast(pa.string())
        if False else pa.array(np.where(alt_drg >= 0, np.array(codes, dtype=object)[np.maximum(alt_drg, 0)], None)),
        "best_rw": pa.array(alt_rw, from_pandas=True),
        "best_alternative": pa.array(np.where(np.isfinite(alt_rw), "主要诊断改为 X (principal diagnosis X)", None)),
    })
