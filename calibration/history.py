"""Historical cases as arrays for calibration: which cases are valid, their year, inflated cost in fen.

Valid case (有效病例): status ``ok``; ``total_cost`` a number, at least
``min_cost`` 元 (default 5) and above 0; ``los_days`` present and within
[``min_los``, ``max_los``] (default 0–60 days); and, when year weights or an
inflation index are used, a year that they list.  Every other case is counted
under the first reason of :data:`EXCLUSIONS` it meets; none is dropped silently.

Cost in fen (分): ``c = round(total_cost × 100)`` (half to even; inputs carry at
most two decimals, so this is exact for them).  With ``covered_cost`` and a ``self_pay_cost`` column,
the covered cost (医保范围内费用) ``c − round(min(self_pay_cost, total_cost) × 100)`` instead (a missing
self-pay counts as 0); without the column the cost is the total, as before.  Inflation to the base year B
with a price index I (e.g. CPI by year): ``c' = round(c × I_B ÷ I_y)`` for a
case of year y.  All later sums are exact integer sums of c'.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pyarrow as pa

from calibration._columns import categories, column_or_none, numbers, years

#: Exclusion reasons: code → (key, 中文, English).  Code 0 is a valid case.
EXCLUSIONS = {
    1: ("not_grouped", "未正常入组", "status is not ok"),
    2: ("cost_missing", "总费用缺失、不是数字或不大于0", "total_cost missing, not a number or not above 0"),
    3: ("cost_low", "总费用低于下限", "total_cost below min_cost"),
    4: ("cost_high", "总费用超出可计算范围", "total_cost (inflated) of 10^10 元 or more"),
    5: ("los_missing", "住院天数缺失", "los_days missing or not a number"),
    6: ("los_out", "住院天数超出范围", "los_days outside [min_los, max_los]"),
    7: ("year_missing", "出院年份缺失", "no year (year column or discharge_date)"),
    8: ("year_unlisted", "年份不在年份权重或价格指数中", "year not in the year weights or the inflation index"),
}
#: Bits of the sort key (DRG | cost in fen | year): costs below 2^40 fen (about 1.1 × 10^10 元), 16 years.
FEN_BITS, YEAR_BITS = 40, 4
FEN_LIMIT = 1 << FEN_BITS
MAX_YEARS = 1 << YEAR_BITS


class CalibrationError(ValueError):
    """The history or a calibration option cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class History:
    """Arrays of the historical cases, one entry per case in input order.

    Attributes
    ----------
    drg : int32 codes into ``drg_codes`` (-1 for none)
    drg_codes : sorted DRG codes
    reason : int8 exclusion reason (0 valid, else a key of :data:`EXCLUSIONS`)
    fen : int64 inflated cost in fen (meaningful where valid)
    los : float64 length of stay
    year_index : int64 index into ``years`` (0 when years are not used)
    years : the years used, oldest first (empty when neither year weights nor inflation are given)
    year_weights : weight of each year in ``years`` (``[1]`` when none)
    factors : inflation factor I_B ÷ I_y of each year in ``years``
    """

    drg: np.ndarray
    drg_codes: list[str]
    reason: np.ndarray
    fen: np.ndarray
    los: np.ndarray
    year_index: np.ndarray
    years: list[int]
    year_weights: list[Fraction]
    factors: list[Fraction]


def require_columns(table: pa.Table, names) -> None:
    missing = [c for c in names if c not in table.column_names]
    if missing:
        raise CalibrationError(
            f"the cases lack the column(s) {', '.join(missing)} (缺少列); calibration needs grouped cases with "
            "drg, status, total_cost (总费用) and los_days (实际住院天数): group raw records with --pack, "
            "or with 'drg group --keep-input'"
        )


def _ratio(value, what: str) -> Fraction:
    try:
        number = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise CalibrationError(f"{what}: {value!r} is not a number") from None
    if number <= 0:
        raise CalibrationError(f"{what}: {value!r} must be above 0")
    return number


def year_plan(year, candidate, year_weights, inflation, base_year):
    """Years used, their weights and inflation factors, from the years of the otherwise valid cases."""
    present = sorted(set(np.unique(year[candidate & (year > 0)]).tolist()))
    if isinstance(year_weights, dict):
        weights = {int(y): _ratio(w, f"year weight of {y}") for y, w in year_weights.items()}
    elif year_weights is not None:
        given = [_ratio(w, "year weight") for w in year_weights]
        if len(given) != len(present):
            raise CalibrationError(
                f"{len(given)} year weights given but the history has {len(present)} years "
                f"({', '.join(map(str, present)) or 'none'}); give one weight per year, oldest first "
                f"(年份权重个数与历史年份数不一致)")
        weights = dict(zip(present, given))
    else:
        weights = None
    index = None
    if inflation is not None:
        index = {int(y): _ratio(v, f"inflation index of {y}") for y, v in inflation.items()}
        base = base_year if base_year is not None else max(present, default=None)
        if base is None:
            base = max(index)
        if base not in index:
            raise CalibrationError(f"base year {base} is not in the inflation index (基准年份不在价格指数中); "
                                   f"it lists {', '.join(map(str, sorted(index)))}")
    elif base_year is not None:
        raise CalibrationError("a base year needs an inflation index (--inflation FILE, 价格指数)")
    used = [y for y in present if (weights is None or y in weights) and (index is None or y in index)]
    if len(used) > MAX_YEARS:
        raise CalibrationError(f"the history spans {len(used)} years; at most {MAX_YEARS} can be weighted or inflated")
    year_weights_ = [weights[y] if weights else Fraction(1) for y in used]
    factors = [index[base] / index[y] if index else Fraction(1) for y in used]
    return used, year_weights_, factors


def prepare(table: pa.Table, *, min_cost: float, min_los: int, max_los: int | None,
            year_weights=None, inflation=None, base_year: int | None = None, plan=None,
            covered_cost: bool = False) -> History:
    """Read the history's arrays and decide which cases are valid (see the module docstring).

    ``plan``: the years used, their weights and factors, as :func:`year_plan` gives them for the whole
    history — for a part of it (a Spark partition); by default they come from ``table`` itself.
    """
    require_columns(table, ("drg", "status", "total_cost", "los_days"))
    drg, drg_codes = categories(table.column("drg"))
    status, status_codes = categories(table.column("status"))
    ok = status == (status_codes.index("ok") if "ok" in status_codes else -2)
    cost = numbers(table.column("total_cost"))
    los = numbers(table.column("los_days"))
    with np.errstate(invalid="ignore"):
        fen = np.rint(np.where(np.isfinite(cost), cost, 0.0) * 100)
        if covered_cost and "self_pay_cost" in table.column_names:
            self_pay = numbers(table.column("self_pay_cost"))
            fen = fen - np.minimum(np.rint(np.where(np.isfinite(self_pay) & (self_pay > 0), self_pay, 0.0) * 100),
                                   np.maximum(fen, 0))
            cost = np.where(np.isfinite(cost), fen / 100, cost)
        reason = np.select(
            [~ok | (drg < 0),
             ~(fen > 0),
             cost < min_cost,
             fen >= FEN_LIMIT,
             ~np.isfinite(los),
             (los < min_los) | (los > (np.inf if max_los is None else max_los))],
            [1, 2, 3, 4, 5, 6], 0).astype(np.int8)
    fen = np.where(reason == 0, fen, 0).astype(np.int64)
    n = table.num_rows
    if plan is None and year_weights is None and inflation is None and base_year is None:
        return History(drg, drg_codes, reason, fen, los, np.zeros(n, np.int64), [], [Fraction(1)], [Fraction(1)])
    year = years(table)
    candidate = reason == 0
    used, weights, factors = plan or year_plan(year, candidate, year_weights, inflation, base_year)
    reason[candidate & (year <= 0)] = 7
    position = np.searchsorted(np.array(used, dtype=np.int64), year)
    listed = (position < len(used)) & (np.array(used + [-1], dtype=np.int64)[np.minimum(position, len(used))] == year)
    reason[(reason == 0) & ~listed] = 8
    year_index = np.where(reason == 0, position, 0).astype(np.int64)
    if any(f != 1 for f in factors):
        per_year = np.array([float(f) for f in factors])
        fen = np.where(reason == 0, np.rint(fen * per_year[year_index]), 0).astype(np.int64)
        reason[(reason == 0) & (fen >= FEN_LIMIT)] = 4
        fen[reason != 0] = 0
    return History(drg, drg_codes, reason, fen, los, year_index, used, weights, factors)


def candidate_years(table: pa.Table, *, min_cost: float, min_los: int, max_los: int | None,
                    covered_cost: bool = False) -> np.ndarray:
    """The distinct years of the cases that are valid but for their year, as :func:`year_plan` reads them.

    For a part of the history (a Spark partition): the union over all parts gives the years of the plan.

    Returns
    -------
    numpy.ndarray of int64
        Sorted distinct years.
    """
    candidate = prepare(table, min_cost=min_cost, min_los=min_los, max_los=max_los,
                        covered_cost=covered_cost).reason == 0
    year = years(table)
    return np.unique(year[candidate & (year > 0)])


def plain_texts(column) -> pa.Array:
    """A text column as plain strings, null where missing or empty (the values :func:`most_common_values` counts)."""
    codes, values = categories(column)
    return pa.array(values + [None], pa.string()).take(pa.array(np.where(codes >= 0, codes, len(values))))


def most_common_values(codes: np.ndarray, n_codes: int, column, mask: np.ndarray) -> list[str]:
    """For each code, the most frequent non-empty value of ``column`` over the rows where ``mask`` holds.

    Ties go to the smaller value; "" when none (e.g. the DRG name of each DRG code).
    """
    if column is None:
        return [""] * n_codes
    values, names = categories(column)
    rows = mask & (codes >= 0) & (values >= 0)
    width = max(len(names), 1)
    pairs = codes[rows].astype(np.int64) * width + values[rows]
    if n_codes * width <= 1 << 24:
        counts = np.bincount(pairs, minlength=n_codes * width).reshape(n_codes, width)
    else:
        present, tally = np.unique(pairs, return_counts=True)
        counts = np.zeros((n_codes, width), dtype=np.int64)
        counts[present // width, present % width] = tally
    best = counts.argmax(axis=1)
    return [names[b] if counts[g, b] else "" for g, b in enumerate(best)]


__all__ = ["EXCLUSIONS", "CalibrationError", "History", "candidate_years", "column_or_none", "most_common_values",
           "plain_texts", "prepare", "require_columns", "year_plan"]
