"""Which weight does each grouped case get, and which DRGs have none.

A DRG without a weight is never a silent zero: lookups return ``-1`` units
and :func:`weight_report` lists every such DRG with its case count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from foundation.remembered import per_object
from weights.table import WeightTable

#: RW is stored with 6 decimals; as integers it is counted in these units.
RW_UNITS = 1_000_000


def rw_units(table: WeightTable) -> dict[str, int]:
    """DRG → RW in integer millionths (exact: the format keeps 6 decimals)."""
    return {drg: int(rw * RW_UNITS) for drg, rw in table.rw().items()}


def lookup_units(drgs, table: WeightTable) -> np.ndarray:
    """RW of each case in millionths, ``-1`` where its DRG has no weight.

    Parameters
    ----------
    drgs : array-like of str
        DRG code of each case.
    table : WeightTable
    """
    codes, distinct = pd.factorize(np.asarray(drgs, dtype=object))  # a missing DRG is code -1
    units = per_object("rw units", (table,), lambda: rw_units(table))  # a service prices one case at a time
    per_code = np.array([units.get(c, -1) for c in distinct] + [-1], dtype=np.int64)
    return per_code[codes]


@dataclass(frozen=True)
class WeightReport:
    """Coverage of grouped cases by a weight table.

    Attributes
    ----------
    missing : pandas.DataFrame
        ``drg``, ``drg_name``, ``n_cases``: grouped DRGs without a weight, most cases first.
    unused : list of str
        DRGs of the table that no case was grouped into (e.g. regional splits).
    n_cases, n_weighted : int
        Grouped (``ok``) cases, and those whose DRG has a weight.
    """

    missing: pd.DataFrame
    unused: list[str]
    n_cases: int
    n_weighted: int

    def summary(self) -> str:
        share = 100 * self.n_weighted / max(self.n_cases, 1)
        lines = [
            f"{self.n_weighted:,} of {self.n_cases:,} grouped cases have a weight ({share:.1f}%)",
            f"{len(self.missing)} DRGs without a weight (无权重病组), {len(self.unused)} weights unused",
        ]
        lines += [f"  {r.drg:<6} {r.n_cases:>8,}  {r.drg_name}" for r in self.missing.head(20).itertuples()]
        return "\n".join(lines)


def weight_report(results: pd.DataFrame, table: WeightTable) -> WeightReport:
    """Report which grouped cases' DRGs lack a weight in ``table``.

    Parameters
    ----------
    results : pandas.DataFrame
        Grouping results with ``drg`` and ``status`` (and ``drg_name``) columns;
        only ``ok`` cases are counted.
    table : WeightTable
    """
    grouped = results[results["status"].astype(str) == "ok"]
    drgs = grouped["drg"].astype(str)
    names = grouped["drg_name"].astype(str) if "drg_name" in grouped else pd.Series("", index=grouped.index)
    counts = pd.DataFrame({"drg": drgs, "drg_name": names}).groupby(["drg", "drg_name"]).size()
    counts = counts.rename("n_cases").reset_index()
    weighted = set(table.drgs)
    missing = counts[~counts["drg"].isin(weighted)].sort_values(["n_cases", "drg"], ascending=[False, True])
    return WeightReport(
        missing=missing.reset_index(drop=True),
        unused=sorted(weighted - set(counts["drg"])),
        n_cases=int(len(grouped)),
        n_weighted=int(counts.loc[counts["drg"].isin(weighted), "n_cases"].sum()),
    )


def attach_weights(results: pd.DataFrame, table: WeightTable) -> pd.DataFrame:
    """A copy of ``results`` with ``rw`` (Decimal, None without a weight) and ``weight_table``."""
    rws = table.rw()
    out = results.copy()
    out["rw"] = [rws.get(d) if s == "ok" else None for d, s in zip(results["drg"].astype(str),
                                                                     results["status"].astype(str))]
    out["weight_table"] = table.meta.name
    return out


__all__ = ["RW_UNITS", "WeightReport", "attach_weights", "lookup_units", "rw_units", "weight_report"]
