"""Synthetic grouped histories with known per-DRG cost distributions (tests and benchmarks).

DRG g's cost is log-normal: ln(cost) ~ N(μ_g, σ²) with one σ for all DRGs, so its
mean is exp(μ_g + σ²/2) and the true relative weight is
RW_g = exp(μ_g) ÷ Σ_h p_h·exp(μ_h) (p_h: the DRG's share of cases).  Because every DRG
has the same shape, a trimming rule that scales with the costs (IQR, SD, percentiles)
keeps the same share of every DRG and the same ratio of means, so it recovers RW_g.
``contamination`` adds cases whose cost is ``outlier_cost`` 元 whatever their DRG (data
errors, a few extreme stays): they bias untrimmed means, cheap DRGs most.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def _drg_codes(n_drgs: int) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    codes = []
    for i in range(n_drgs):
        adrg = f"{letters[(i // 3) // 26 % 26]}{letters[(i // 3) % 26]}{(i // 3) // 676 + 1}"
        codes.append(f"{adrg}{(1, 3, 5)[i % 3]}")
    return codes


def synthetic_history(n: int, *, n_drgs: int = 60, sigma: float = 0.5, years=(2022, 2023, 2024),
                      contamination: float = 0.0, outlier_cost: float = 400_000.0, n_hospitals: int = 20,
                      seed: int = 0) -> tuple[pa.Table, pd.DataFrame]:
    """Grouped cases as ``drg group --keep-input`` writes them, and the truth per DRG.

    Parameters
    ----------
    n : int
        Cases.
    n_drgs : int
        DRGs, three to an ADRG (``AA11``, ``AA13``, ``AA15``, ``AB11`` …).
    sigma : float
        σ of ln(cost), the same for every DRG.
    years : sequence of int
        Discharge years, drawn uniformly.
    contamination : float
        Share of cases whose cost is replaced by ``outlier_cost``.
    seed : int

    Returns
    -------
    cases : pyarrow.Table
        ``case_id``, ``hospital_id``, ``dept``, ``adrg``, ``drg`` and ``drg_name``, ``status``
        (all ``ok``), ``pack_version``, ``age_years``, ``los_days``, ``discharge_method``,
        ``discharge_date``, ``total_cost``, ``drug_cost``, ``mcc_dx``, ``cc_dx``.
    truth : pandas.DataFrame
        ``drg``, ``mu``, ``share``, ``mean_cost`` (the distribution's mean) and ``rw``.
    """
    rng = np.random.default_rng(seed)
    codes = _drg_codes(n_drgs)
    mu = rng.uniform(7.5, 11.0, n_drgs)
    share = rng.dirichlet(np.full(n_drgs, 5.0))
    drg = rng.choice(n_drgs, n, p=share).astype(np.int32)
    cost = np.exp(mu[drg] + sigma * rng.standard_normal(n))
    outlier = rng.random(n) < contamination
    cost[outlier] = outlier_cost
    cost = np.round(cost, 2)
    los = np.clip(np.rint(np.exp(np.log(4 + mu[drg] - 7.5) + 0.4 * rng.standard_normal(n))), 1, 90).astype(np.int64)
    dates = pd.date_range(f"{min(years)}-01-01", f"{max(years)}-12-31", freq="D")
    dates = dates[np.isin(dates.year, list(years))]
    date_index = rng.integers(0, len(dates), n).astype(np.int32)
    hospitals = [f"H{h:03d}" for h in range(1, n_hospitals + 1)]
    depts = ["内科", "外科", "妇产科", "儿科", "骨科"]
    severity = rng.choice(3, n, p=[0.6, 0.3, 0.1])

    def dictionary(indices, values):
        return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), pa.array(values, pa.string()))

    zeros = np.zeros(n, np.int32)
    adrg_codes, adrg_of = np.unique([c[:3] for c in codes], return_inverse=True)
    adrg_codes = adrg_codes.tolist()
    table = pa.table({
        "case_id": pa.array(np.char.add("C", np.arange(n).astype(str))) if n <= 2_000_000
        else pa.array(np.arange(n)).cast(pa.string()),
        "hospital_id": dictionary(rng.integers(0, n_hospitals, n), hospitals),
        "dept": dictionary(rng.integers(0, len(depts), n), depts),
        "adrg": dictionary(adrg_of[drg], adrg_codes),
        "drg": dictionary(drg, codes),
        "drg_name": dictionary(drg, [f"病组{c}" for c in codes]),
        "status": dictionary(zeros, ["ok"]),
        "pack_version": dictionary(zeros, ["synthetic@0"]),
        "age_years": rng.integers(1, 95, n),
        "los_days": los,
        "discharge_method": np.where(rng.random(n) < 0.01, 5, 1),
        "discharge_date": dictionary(date_index, dates.strftime("%Y-%m-%d").tolist()),
        "total_cost": cost,
        "drug_cost": np.round(cost * rng.uniform(0.1, 0.5, n), 2),
        "mcc_dx": dictionary(np.where(severity == 2, 1, 0), ["", "J96.000"]),
        "cc_dx": dictionary(np.where(severity == 1, 1, 0), ["", "E87.100"]),
    })
    base = np.exp(mu)
    truth = pd.DataFrame({"drg": codes, "mu": mu, "share": share, "mean_cost": np.exp(mu + sigma**2 / 2),
                          "rw": base / np.sum(share * base)})
    return table, truth.sort_values("drg").reset_index(drop=True)


__all__ = ["synthetic_history"]
