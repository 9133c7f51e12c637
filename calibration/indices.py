"""Hospital performance indices by case mix (医院绩效评价指标), per hospital, department and month.

For a unit u (a hospital, or a hospital's department, in a month or over all months)
with cases i ∈ u, and the region = all cases given:

================== ============================================================================
病例数 n_cases      all cases of u
入组率              ok cases that are not excluded ÷ cases that are not excluded; excluded
grouping_rate       (排除病例): ``total_cost`` < ``min_cost`` 元 or ``los_days`` > ``max_los`` days
组数 n_drgs         distinct DRGs of u's ``ok`` cases
总权重 total_weight Σ RW over u's ``ok`` cases whose DRG has a weight (n_weighted of them), exact
CMI                 total_weight ÷ n_weighted
费用消耗指数         Σ_g (ē_ug ÷ ē_g) × n_ug ÷ N_u, ē: mean cost, over ``ok``, not excluded cases with a
cost_index          cost; ē_g the region's mean of DRG g.  Equal to the mean over u's cases of cost ÷ ē_g
时间消耗指数         the same with ``los_days``
time_index
低风险组死亡率        deaths (``discharge_method`` 5) ÷ cases in low-risk DRGs; a DRG is low-risk when
low_risk_mortality  it has no death in the region, or ln(m_g) < mean − 1 SD (ddof = 1) of ln(m_g) over
                    the DRGs with deaths (m_g: the DRG's mortality over the region's ``ok`` cases)
药占比 / 耗材占比 /   Σ drug_cost (consumables_cost, self_pay_cost) ÷ Σ total_cost over u's cases with
自费占比             both values; present only when the input has that column
================== ============================================================================

A case holding a value no stay can have (outside ``icd_tables/intake/bounds.toml``) is a data
error: it counts among n_cases and in no sum, mean or ratio (not ``ok``; its cost and days unknown).

Money totals are exact (sums in integer fen, written as decimal(18, 2)); ratios are float64
rounded to 6 decimals.  Levels (``level``): ``region`` (全地区), ``hospital``,
``hospital_month``, ``hospital_dept``, ``hospital_dept_month``; ``dept`` and ``month`` are
``""`` where a level does not split by them.  Rows are sorted by level, hospital, dept, month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from icd_tables.intake.bounds import implausible_rows
from calibration._columns import as_table, categories, column_or_none, months, numbers
from calibration.history import CalibrationError, require_columns
from weights import RW_UNITS, WeightTable
from foundation.decimals import decimal_array, units_or_null
from weights.lookup import rw_units

#: Level → the keys it splits by.
LEVELS = {
    "region": (), "hospital": ("hospital",), "hospital_month": ("hospital", "month"),
    "hospital_dept": ("hospital", "dept"), "hospital_dept_month": ("hospital", "dept", "month"),
}
#: Output columns → 中文.
INDEX_COLUMNS = {
    "level": "层级", "hospital_id": "医疗机构编码", "dept": "科室", "month": "月份（出院）",
    "n_cases": "病例数", "n_excluded": "排除病例数", "n_grouped": "入组病例数", "grouping_rate": "入组率",
    "n_drgs": "组数", "n_weighted": "有权重病例数", "total_weight": "总权重", "cmi": "CMI（病例组合指数）",
    "cost_index": "费用消耗指数", "time_index": "时间消耗指数", "n_low_risk": "低风险组病例数",
    "low_risk_deaths": "低风险组死亡例数", "low_risk_mortality": "低风险组死亡率",
    "total_cost": "总费用（元）", "mean_cost": "例均费用（元）", "drug_share": "药占比",
    "consumables_share": "耗材占比", "self_pay_share": "自费占比",
}
SHARES = {"drug_share": "drug_cost", "consumables_share": "consumables_cost", "self_pay_share": "self_pay_cost"}
#: Top-case columns → 中文.
TOP_COLUMNS = {
    "hospital_id": "医疗机构编码", "rank": "排名", "case_id": "病案号", "dept": "科室", "drg": "DRG编码",
    "drg_name": "DRG名称", "total_cost": "总费用（元）", "drg_mean_cost": "病组例均费用（元）",
    "cost_ratio": "费用倍率",
}
_RATIOS = {"grouping_rate", "cmi", "cost_index", "time_index", "low_risk_mortality", *SHARES}
#: Exact float64 sums of integers stop at 2^53.
_EXACT = float(2**53)


@dataclass(frozen=True)
class IndexResult:
    """Indices per unit, the costliest cases per hospital and the low-risk DRGs.

    Attributes
    ----------
    table : pyarrow.Table
        One row per unit, columns of :data:`INDEX_COLUMNS` (share columns only where the input has them).
    top_cases : pyarrow.Table
        Per hospital the ``top_n`` ``ok`` cases with the highest cost ÷ their DRG's regional mean.
    low_risk_drgs : list of str
    """

    table: pa.Table
    top_cases: pa.Table
    low_risk_drgs: list[str]


class _Cases:
    """The arrays of the cases the indices read."""

    def __init__(self, table: pa.Table, weights: WeightTable, min_cost: float, max_los: float | None):
        require_columns(table, ("drg", "status", "total_cost", "los_days"))
        self.n = table.num_rows
        self.hospital, self.hospitals = self._keys(column_or_none(table, "hospital_id"))
        self.dept, self.depts = self._keys(column_or_none(table, "dept"))
        month, month_values = months(table)
        self.month, self.months = month + 1, [""] + month_values
        self.drg, self.drg_codes = categories(table.column("drg"))
        status, status_values = categories(table.column("status"))
        # a value no stay can have (icd_tables.intake.bounds) makes the case a data error: in no sum or mean
        self.data_error = implausible_rows(table)
        self.ok = (status == (status_values.index("ok") if "ok" in status_values else -2)) & (self.drg >= 0) \
            & ~self.data_error
        units = rw_units(weights)
        per_drg = np.array([units.get(c, -1) for c in self.drg_codes] + [-1], dtype=np.int64)
        self.rw = np.where(self.ok, per_drg[np.where(self.drg >= 0, self.drg, len(self.drg_codes))], -1)
        self.cost = np.where(self.data_error, np.nan, numbers(table.column("total_cost")))
        self.fen = np.rint(np.nan_to_num(self.cost, nan=-1.0) * 100)
        self.los = np.where(self.data_error, np.nan, numbers(table.column("los_days")))
        with np.errstate(invalid="ignore"):
            self.excluded = (self.cost < min_cost) | (self.los > (np.inf if max_los is None else max_los))
        method = column_or_none(table, "discharge_method")
        self.death = None if method is None else numbers(method) == 5
        self.has_method = None if method is None else np.isfinite(numbers(method))
        self.parts = {share: np.where(self.data_error, np.nan, numbers(table.column(col)))
                      for share, col in SHARES.items() if col in table.column_names}

    @staticmethod
    def _keys(column):
        if column is None:
            return None, [""]
        codes, values = categories(column)
        return codes + 1, [""] + values  # code 0: not given


def _unit_ids(keys: list[np.ndarray], sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Dense unit id of each case (ordered by the keys) and each unit's combined key."""
    combined = np.zeros(len(keys[0]) if keys else 0, dtype=np.int64)
    space = 1
    for key, size in zip(keys, sizes):
        combined = combined * size + key
        space *= size
    if space <= 1 << 24:
        present = np.flatnonzero(np.bincount(combined, minlength=space))
        remap = np.zeros(space, dtype=np.int64)
        remap[present] = np.arange(len(present))
        return remap[combined], present
    present, inverse = np.unique(combined, return_inverse=True)
    return inverse, present


def _ratio(numerator, denominator) -> np.ndarray:
    """numerator ÷ denominator rounded to 6 decimals, NaN (written as null) where the denominator is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.round(np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan), 6)


def _exact_sums(unit, values, n_units, what: str) -> np.ndarray:
    sums = np.bincount(unit, weights=values, minlength=n_units)
    if len(sums) and np.abs(values).sum() >= _EXACT:
        raise CalibrationError(f"{what}: the sum is too large to add exactly ({np.abs(values).sum():.3g})")
    return sums.astype(np.int64)


def _low_risk(c: _Cases) -> np.ndarray:
    """Per DRG code: is it a low-risk DRG (see the module docstring)."""
    n_drgs = len(c.drg_codes)
    counted = c.ok & c.has_method
    cases = np.bincount(c.drg[counted], minlength=n_drgs)
    deaths = np.bincount(c.drg[counted & c.death], minlength=n_drgs)
    with_deaths = deaths > 0
    low = deaths == 0
    if with_deaths.sum() >= 2:
        log_m = np.log(deaths[with_deaths] / cases[with_deaths])
        low[with_deaths] = log_m < log_m.mean() - log_m.std(ddof=1)
    return low


def performance_indices(cases, weights: WeightTable, *, min_cost: float = 5.0, max_los: float | None = 60,
                        top_n: int = 20, levels=tuple(LEVELS)) -> IndexResult:
    """Case-mix indices per hospital, department and month (formulas in the module docstring).

    Parameters
    ----------
    cases : pyarrow.Table or pandas.DataFrame
        Grouped cases (``drg``, ``status``, ``total_cost``, ``los_days``; ``hospital_id``, ``dept``,
        ``discharge_date``, ``discharge_method``, ``drug_cost`` … where available).
    weights : WeightTable
    min_cost, max_los : float
        Exclusions for the grouping rate and the efficiency indices.
    top_n : int
        Costliest cases listed per hospital.
    levels : sequence of str
        Keys of :data:`LEVELS` to compute, in output order.

    Returns
    -------
    IndexResult
    """
    unknown = [level for level in levels if level not in LEVELS]
    if unknown:
        raise ValueError(f"unknown level(s) {', '.join(unknown)}; use {', '.join(LEVELS)}")
    table = as_table(cases)
    c = _Cases(table, weights, min_cost, max_los)
    n_drgs = len(c.drg_codes)
    base = c.ok & ~c.excluded
    priced = base & (c.fen > 0)
    timed = base & np.isfinite(c.los)
    region_cost = np.bincount(c.drg[priced], weights=c.fen[priced], minlength=n_drgs)
    region_cost /= np.maximum(np.bincount(c.drg[priced], minlength=n_drgs), 1)
    region_los = np.bincount(c.drg[timed], weights=c.los[timed], minlength=n_drgs)
    region_los /= np.maximum(np.bincount(c.drg[timed], minlength=n_drgs), 1)
    drg_index = np.maximum(c.drg, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cost_ratio = np.where(priced, c.fen / region_cost[drg_index], 0.0)
        los_ratio = np.where(timed & (region_los[drg_index] > 0), c.los / region_los[drg_index], 0.0)
    low_risk = None
    if c.death is not None:
        low_risk = _low_risk(c)
        in_low = c.ok & c.has_method & low_risk[drg_index] & (c.drg >= 0)
    keys = {"hospital": (c.hospital, len(c.hospitals)), "dept": (c.dept, len(c.depts)),
            "month": (c.month, len(c.months))}
    frames = []
    for level in levels:
        parts = [keys[k] for k in LEVELS[level] if keys[k][0] is not None]
        unit, present = _unit_ids([p[0] for p in parts], [p[1] for p in parts]) if parts else \
            (np.zeros(c.n, np.int64), np.zeros(1, np.int64))
        if c.n == 0:
            continue
        frames.append(_level_frame(level, c, unit, present, parts, keys, cost_ratio, los_ratio, priced, timed,
                                   in_low if low_risk is not None else None))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(INDEX_COLUMNS))
    low_risk_drgs = [] if low_risk is None else [code for code, low in zip(c.drg_codes, low_risk) if low]
    top = _top_cases(table, c, cost_ratio, priced, region_cost, top_n)
    return IndexResult(_to_arrow(frame), top, low_risk_drgs)


def _level_frame(level, c, unit, present, parts, keys, cost_ratio, los_ratio, priced, timed, in_low):
    n_units = len(present)
    count = lambda mask: np.bincount(unit[mask], minlength=n_units)  # noqa: E731
    labels = {"hospital_id": [""] * n_units, "dept": [""] * n_units, "month": [""] * n_units}
    rest = present.copy()
    for (codes, size), name in reversed(list(zip(parts, [k for k in LEVELS[level] if keys[k][0] is not None]))):
        values = {"hospital": c.hospitals, "dept": c.depts, "month": c.months}[name]
        labels[{"hospital": "hospital_id", "dept": "dept", "month": "month"}[name]] = [values[v] for v in rest % size]
        rest //= size
    n_cases = np.bincount(unit, minlength=n_units)
    not_excluded = count(~c.excluded)
    weighted = c.rw >= 0
    n_weighted = count(weighted)
    total_weight = _exact_sums(unit[weighted], c.rw[weighted].astype(np.float64), n_units, "total weight")
    width = max(len(c.drg_codes), 1)
    pairs = unit[c.ok] * width + c.drg[c.ok]
    if n_units * width <= 1 << 28:
        seen = np.zeros(n_units * width, dtype=bool)
        seen[pairs] = True
        distinct = np.flatnonzero(seen)
    else:
        distinct = np.unique(pairs)
    has_cost = c.fen > 0
    total_fen = _exact_sums(unit[has_cost], c.fen[has_cost], n_units, "total cost")
    row = {
        "level": [level] * n_units, **labels,
        "n_cases": n_cases, "n_excluded": n_cases - not_excluded, "n_grouped": count(c.ok),
        "grouping_rate": _ratio(count(c.ok & ~c.excluded), not_excluded),
        "n_drgs": np.bincount(distinct // width, minlength=n_units),
        "n_weighted": n_weighted, "total_weight": total_weight,
        "cmi": _ratio(total_weight / RW_UNITS, n_weighted),
        "cost_index": _ratio(np.bincount(unit, weights=cost_ratio, minlength=n_units), count(priced)),
        "time_index": _ratio(np.bincount(unit, weights=los_ratio, minlength=n_units), count(timed)),
    }
    if in_low is not None:
        row["n_low_risk"] = count(in_low)
        row["low_risk_deaths"] = count(in_low & c.death)
        row["low_risk_mortality"] = _ratio(row["low_risk_deaths"], row["n_low_risk"])
    n_priced_all = count(has_cost)
    row["total_cost"] = total_fen
    row["mean_cost"] = [(2 * f + n) // (2 * n) if n else -1 for f, n in zip(total_fen.tolist(), n_priced_all.tolist())]
    for share, values in c.parts.items():
        both = has_cost & np.isfinite(values)
        part = np.bincount(unit[both], weights=values[both], minlength=n_units)
        whole = np.bincount(unit[both], weights=c.fen[both] / 100, minlength=n_units)
        row[share] = _ratio(part, whole)
    return pd.DataFrame(row)


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    columns = {}
    for name in INDEX_COLUMNS:
        if name not in frame.columns:
            continue
        if name == "total_weight":
            columns[name] = decimal_array(frame[name].to_numpy(np.int64), 6)
        elif name in ("total_cost", "mean_cost"):
            units = frame[name].to_numpy(np.int64)
            columns[name] = units_or_null(units, 2)
        elif name in ("level", "hospital_id", "dept", "month"):
            columns[name] = pa.array(frame[name].tolist(), pa.string())
        elif name in _RATIOS:
            columns[name] = pa.array(frame[name].to_numpy(np.float64), pa.float64(), from_pandas=True)
        else:
            columns[name] = pa.array(frame[name].to_numpy(np.int64))
    return pa.table(columns)


def _top_cases(table: pa.Table, c: _Cases, cost_ratio, priced, region_cost, top_n: int) -> pa.Table:
    """Per hospital, the ``top_n`` priced ``ok`` cases with the highest cost ÷ DRG mean (ties: input order)."""
    hospital = c.hospital if c.hospital is not None else np.zeros(c.n, np.int32)
    rows = np.flatnonzero(priced)
    order = rows[np.argsort(hospital[rows], kind="stable")]
    bounds = np.searchsorted(hospital[order], np.arange(len(c.hospitals) + 1))
    chosen, ranks = [], []
    for h in range(len(c.hospitals)):
        members = order[bounds[h]:bounds[h + 1]]
        if not len(members) or top_n <= 0:
            continue
        # stable descending order of the ratio: ties keep input order
        best = members[np.argsort(-cost_ratio[members], kind="stable")[:top_n]]
        chosen.append(best)
        ranks.append(np.arange(1, len(best) + 1))
    picked = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    rank = np.concatenate(ranks) if ranks else np.zeros(0, np.int64)
    text = lambda name: (table.column(name).take(pa.array(picked)).cast(pa.string())  # noqa: E731
                         if name in table.column_names else pa.nulls(len(picked), pa.string()))
    drg = c.drg[picked]
    mean_fen = np.rint(region_cost[np.maximum(drg, 0)]).astype(np.int64)
    return pa.table({
        "hospital_id": pa.array([c.hospitals[h] for h in hospital[picked]], pa.string()),
        "rank": pa.array(rank, pa.int64()),
        "case_id": text("case_id"), "dept": text("dept"),
        "drg": pa.array([c.drg_codes[d] for d in drg], pa.string()), "drg_name": text("drg_name"),
        "total_cost": decimal_array(c.fen[picked].astype(np.int64), 2),
        "drg_mean_cost": decimal_array(mean_fen, 2),
        "cost_ratio": pa.array(np.round(cost_ratio[picked], 6), pa.float64()),
    })


__all__ = ["INDEX_COLUMNS", "LEVELS", "TOP_COLUMNS", "IndexResult", "performance_indices"]
