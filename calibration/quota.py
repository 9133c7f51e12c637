"""Quotas (定额标准, 元 per discharge) from history, for the quota payment method (``method = "quota"``).

Two rules of the source documents:

* ``by="hospital"`` — the first year: each hospital's own average over its previous ``years`` years
  (前三年出院患者平均费用), Σ cost ÷ Σ discharges of those years;
* ``by="level"`` — later years: each hospital level's average over the previous year (按不同级别医院上年度
  住院人员的平均费用), Σ cost ÷ Σ discharges of the level's hospitals.

Cost is the covered cost (扣除基本医疗保险支付范围外的费用) ``total_cost − self_pay_cost`` when
``covered_cost`` and the cases have ``self_pay_cost`` (a missing value counts as 0; a self-pay above the
total as the total), else ``total_cost``.  A discharge counts when it has a hospital, a year and a total
cost that is a number ≥ 0, whatever its grouping.  Amounts are exact integer fen; the quota is rounded
down to the fen: ⌊Σ fen ÷ n⌋.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from calibration._columns import as_table, categories, column_or_none, numbers, years
from calibration.history import CalibrationError
from foundation.decimals import decimal_array

#: Output columns of :func:`quota_table` → Chinese label.
QUOTA_COLUMNS = {"hospital_id": "医疗机构编码", "level": "医院等级", "years": "测算年份", "n_discharges": "出院人次",
                 "total_cost": "总费用", "self_pay_cost": "范围外费用", "covered_cost": "范围内费用",
                 "quota": "定额标准"}
BY = ("hospital", "level")


def _fen(column, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Money (元) → fen and validity (a number ≥ 0)."""
    if column is None:
        return np.zeros(n, np.int64), np.zeros(n, bool)
    values = numbers(column)
    ok = np.isfinite(values) & (values >= 0)
    return np.where(ok, np.rint(np.where(ok, values, 0) * 100), 0).astype(np.int64), ok


def quota_table(cases, *, by: str = "hospital", n_years: int = 3, year: int | None = None,
                covered_cost: bool = True, levels: dict[str, int] | None = None) -> pa.Table:
    """Quotas per hospital or per hospital level from historical discharges (see the module docstring).

    Parameters
    ----------
    cases : pyarrow.Table, pandas.DataFrame or list of dict
        Discharges with ``hospital_id``, ``total_cost``, ``year`` or ``discharge_date``; ``self_pay_cost``
        optional.  Grouping is not needed.
    by : {"hospital", "level"}
    n_years : int
        ``by="hospital"``: how many previous years (default 3); ``by="level"`` uses the previous year.
    year : int, optional
        The year the quotas are for; the history's years before it are used (default: the newest year of
        the history + 1).
    covered_cost : bool
        Use total − self_pay_cost when the cases have ``self_pay_cost``.
    levels : dict, optional
        Hospital id → level (1, 2, 3); required with ``by="level"``, written beside each hospital otherwise.

    Returns
    -------
    pyarrow.Table
        Columns of :data:`QUOTA_COLUMNS`, one row per hospital (sorted by id) or level; money
        ``decimal128(18, 2)`` 元.  ``payment`` reads it as the policy's ``[quota] table``.

    Raises
    ------
    CalibrationError
        A missing column, no discharge in the years used, a hospital without a level.
    """
    if by not in BY:
        raise CalibrationError(f"quota by {by!r}: expected hospital (按医院) or level (按医院等级)")
    if n_years < 1:
        raise CalibrationError(f"quota years {n_years}: give at least 1")
    table = as_table(cases)
    for name in ("hospital_id", "total_cost"):
        if name not in table.column_names:
            raise CalibrationError(f"the cases have no {name} column (缺少列); quotas need hospital_id (医疗机构编码), "
                                   "total_cost (总费用) and the year (year or discharge_date)")
    n = table.num_rows
    hosp, hospital_ids = categories(table.column("hospital_id"))
    total, total_ok = _fen(table.column("total_cost"), n)
    self_pay_column = column_or_none(table, "self_pay_cost") if covered_cost else None
    self_pay = np.minimum(_fen(self_pay_column, n)[0], total)
    year_of = years(table)
    ok = total_ok & (hosp >= 0) & (year_of > 0)
    present = sorted(set(np.unique(year_of[ok]).tolist()))
    if not present:
        raise CalibrationError("no discharge with a hospital, a year and a total cost (无有效出院记录)")
    target = year if year is not None else present[-1] + 1
    first = target - (n_years if by == "hospital" else 1)
    used = ok & (year_of >= first) & (year_of < target)
    if not used.any():
        raise CalibrationError(f"no discharges in {first}–{target - 1} for the {target} quotas (测算年份无数据); the "
                               f"history has {', '.join(map(str, present))}")
    levels = levels or {}
    if by == "level":
        missing = sorted({hospital_ids[h] for h in np.unique(hosp[used])} - set(levels))
        if missing:
            raise CalibrationError(f"hospital {missing[0]} has no level (医院等级) in the hospital table; quotas by "
                                   "level need every hospital's level")
        level_of = np.array([levels.get(h, 0) for h in hospital_ids], np.int64)
        group, keys = level_of[hosp[used]], sorted({int(v) for v in level_of[np.unique(hosp[used])]})
    else:
        group, keys = hosp[used], sorted(np.unique(hosp[used]).tolist())
    size = max(keys) + 1
    count = np.bincount(group, minlength=size)
    total_sum, self_sum = np.zeros(size, np.int64), np.zeros(size, np.int64)
    np.add.at(total_sum, group, total[used])  # exact int64 sums
    np.add.at(self_sum, group, self_pay[used])
    covered = total_sum - self_sum
    span = f"{first}" if first == target - 1 else f"{first}-{target - 1}"
    quota = np.array([covered[k] // count[k] for k in keys], np.int64)
    return pa.table({
        "hospital_id": pa.array([hospital_ids[k] for k in keys] if by == "hospital" else [None] * len(keys),
                                pa.string()),
        "level": pa.array([levels.get(hospital_ids[k]) for k in keys] if by == "hospital" else keys, pa.int64()),
        "years": pa.array([span] * len(keys), pa.string()),
        "n_discharges": pa.array(count[keys].astype(np.int64)),
        "total_cost": decimal_array(total_sum[keys], 2), "self_pay_cost": decimal_array(self_sum[keys], 2),
        "covered_cost": decimal_array(covered[keys], 2), "quota": decimal_array(quota, 2),
    })


__all__ = ["BY", "QUOTA_COLUMNS", "quota_table"]
