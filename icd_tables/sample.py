"""Synthetic discharge records drawn from a pack's own code lists (demo and benchmarks).

No real patient is behind any record: codes come from the pack's sets and
complication tables, ages, sexes and weights from simple distributions, and a
small share of records carries the faults real exports have (an unknown code,
a missing sex, a newborn without weight) so a demo shows every status.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from icd_tables.compiled import CompiledPack


def _codes(table) -> np.ndarray:
    return np.array(table.to_pylist(), dtype=object)


def sample_records(pack: CompiledPack, n: int, *, seed: int = 0, fault_rate: float = 0.03) -> pd.DataFrame:
    """Draw ``n`` records in the canonical schema.

    Parameters
    ----------
    pack : CompiledPack
        The pack whose input codes are drawn.
    n : int
        Number of records.
    seed : int
        Seed of the random generator; the same seed gives the same records.
    fault_rate : float
        Share of records given a deliberate fault.

    Returns
    -------
    pandas.DataFrame
    """
    rng = np.random.default_rng(seed)
    dx_inputs = _codes(pack.dx_inputs)
    proc_inputs = _codes(pack.proc_inputs)
    in_a_set = np.diff(pack.dx_member_start)[pack.dx_input_target] > 0
    principal_pool = dx_inputs[in_a_set] if in_a_set.any() else dx_inputs
    complication = (pack.mcc_excl >= 0) | (pack.cc_excl >= 0)
    secondary_pool = dx_inputs[complication[pack.dx_input_target]]
    if not len(secondary_pool):
        secondary_pool = dx_inputs

    principal = rng.choice(principal_pool, n)
    n_secondary = rng.poisson(1.5, n)
    n_procs = rng.binomial(3, 0.3, n)
    secondary = ["|".join(rng.choice(secondary_pool, k)) for k in n_secondary]
    procedures = ["|".join(rng.choice(proc_inputs, k)) for k in n_procs]

    newborn = rng.random(n) < 0.05
    age_years = np.where(newborn, 0, rng.integers(1, 95, n))
    age_days = pd.array(np.where(newborn, rng.integers(0, 60, n), -1), dtype="Int64")
    age_days[~newborn] = pd.NA
    birth_weight = pd.array(np.where(newborn, rng.integers(600, 4500, n), -1), dtype="Int64")
    birth_weight[~newborn] = pd.NA
    sex = rng.integers(1, 3, n)
    los = rng.integers(1, 30, n)
    admit = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    frame = pd.DataFrame({
        "case_id": [f"S{seed:02d}{i:08d}" for i in range(n)],
        "hospital_id": [f"H{h:03d}" for h in rng.integers(1, 11, n)],
        "sex": sex,
        "age_years": age_years,
        "age_days": age_days,
        "birth_weight_g": birth_weight,
        "principal_dx": principal,
        "secondary_dx": secondary,
        "procedures": procedures,
        "los_days": los,
        "discharge_method": rng.choice([1, 1, 1, 1, 2, 4, 5], n),
        "admit_date": admit.strftime("%Y-%m-%d"),
        "discharge_date": (admit + pd.to_timedelta(los, unit="D")).strftime("%Y-%m-%d"),
        "insurance_type": rng.choice(["310", "390"], n),
        "total_cost": np.round(rng.lognormal(9.0, 0.6, n), 2),
    })
    faulty = np.flatnonzero(rng.random(n) < fault_rate)
    kinds = rng.integers(0, 3, len(faulty))
    frame.loc[faulty[kinds == 0], "principal_dx"] = "R75"  # a bare category: not a 医保版 code
    frame.loc[faulty[kinds == 1], "sex"] = 9
    frame.loc[faulty[kinds == 2], ["age_years", "age_days", "birth_weight_g"]] = [0, 3, pd.NA]
    return frame
