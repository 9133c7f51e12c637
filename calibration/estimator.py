"""The relative-weight estimator (相对权重测算), in the scikit-learn estimator style.

Steps of :meth:`RelativeWeightCalibrator.fit` (c'ᵢ: case i's inflated cost in
fen, wᵢ: its year's weight; see :mod:`calibration.history` and :mod:`calibration.trim`):

1. valid cases (有效病例) — :func:`calibration.history.prepare`;
2. outlier trimming within each DRG on the pooled c' — :mod:`calibration.trim`;
3. weighted mean cost of DRG g over its kept cases K_g:  m_g = Σ_{K_g} wᵢc'ᵢ ÷ Σ_{K_g} wᵢ,
   and of all kept cases K:  m = Σ_K wᵢc'ᵢ ÷ Σ_K wᵢ;  RW_g = m_g ÷ m (exact rationals);
4. small DRGs (n_g kept cases < ``min_cases``) shrink toward their ADRG A (credibility blend,
   as scikit-learn's ``TargetEncoder`` shrinks toward the mean):
   RW_g = (n_g·RW_g,raw + k·RW_A) ÷ (n_g + k), RW_A = m_A ÷ m over the kept cases of all of A's
   DRGs, k = ``smoothing`` (default ``min_cases``); flagged ``small_group``;
5. RW rounded half up to 6 decimals (:class:`decimal.Decimal`), mean costs to the fen.

Descriptive statistics are on the kept cases, unweighted: median cost, CV = SD (ddof = 1) ÷
mean (null below 2 cases; ``unstable`` when CV ≥ 1), mean LOS; overall
RIV = 1 − Σ_g Σ_{K_g} (c'ᵢ − c̄_g)² ÷ Σ_K (c'ᵢ − c̄)² and the share of DRGs (with a CV) whose CV < 1.

Steps 1–2 end in per-DRG sums (:func:`drg_sums`, each DRG's from its own cases), steps 3–5 start from
them (:meth:`RelativeWeightCalibrator.fit_from_sums`), so :mod:`scaleout.calibration` runs the first on
Spark, one DRG at a time, and the same finish.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from fractions import Fraction
from numbers import Integral, Real

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from calibration import trim
from calibration._columns import as_table, categories, column_or_none
from calibration.history import (
    EXCLUSIONS, FEN_BITS, FEN_LIMIT, YEAR_BITS, CalibrationError, History, most_common_values, prepare,
)
from weights import RW_UNITS, WeightMeta, WeightTable
from foundation.decimals import units_or_null

_DRG_SHIFT = FEN_BITS + YEAR_BITS
_YEAR_MASK = (1 << YEAR_BITS) - 1
_FEN_MASK = FEN_LIMIT - 1
#: Columns of the weight table written by :meth:`RelativeWeightCalibrator.to_weight_table`, sorted by ``drg``.
TABLE_COLUMNS = {
    "drg": "DRG编码", "drg_name": "DRG名称", "adrg": "ADRG编码", "rw": "相对权重", "rw_raw": "未收缩权重",
    "n_cases": "有效病例数（剔除前）", "n_used": "入选病例数（剔除后）", "mean_cost": "例均费用（元）",
    "median_cost": "费用中位数（元）", "cv": "变异系数", "mean_los": "平均住院日",
    "small_group": "小样本病组", "unstable": "变异系数≥1",
}


def round_half_up(value: Fraction, places: int) -> Decimal:
    """A non-negative rational rounded half up to ``places`` decimals, exactly."""
    scaled = value * 10**places
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest >= scaled.denominator:
        whole += 1
    return Decimal(whole).scaleb(-places)


_QUANTILES = (("min", 0.0), ("q1", 0.25), ("median", 0.5), ("q3", 0.75), ("max", 1.0))


@dataclass
class DrgSums:
    """Per-DRG results of trimming (steps 1–2), indexed by DRG code; what :meth:`RelativeWeightCalibrator.fit`
    needs of the cases.  Integer sums are exact; the float ones are sums over the DRG's own cases in cost order,
    so a DRG's entries depend on its cases alone (computed on one machine or one DRG at a time, they agree).

    Attributes
    ----------
    count, used, low_fen, high_fen : int64 — valid and kept cases, the kept cost range in fen (inclusive)
    year_sums, year_counts : int64 [years, DRGs] — Σ c' and cases kept, per year
    centre, dev_sum, dev_sq : float64 — mean c' of the valid cases; Σ d and Σ d² of the kept (d = c' − centre)
    median, los_sum : float64 — median c' and Σ LOS of the kept cases
    quartiles : dict of float64 — ``all_min`` … ``kept_max``: quantiles of c' (fen) before and after trimming
    """

    count: np.ndarray
    used: np.ndarray
    low_fen: np.ndarray
    high_fen: np.ndarray
    year_sums: np.ndarray
    year_counts: np.ndarray
    centre: np.ndarray
    dev_sum: np.ndarray
    dev_sq: np.ndarray
    median: np.ndarray
    los_sum: np.ndarray
    quartiles: dict

    def columns(self) -> dict[str, np.ndarray]:
        """Flat columns (``year_sum_0`` …, ``all_min`` …), one entry per DRG."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("year_sums", "year_counts",
                                                                                     "quartiles")}
        out.update({f"year_sum_{k}": v for k, v in enumerate(self.year_sums)})
        out.update({f"year_count_{k}": v for k, v in enumerate(self.year_counts)})
        out.update(self.quartiles)
        return out

    def assign(self, index: np.ndarray, columns: dict) -> None:
        """Set the entries of the DRGs ``index`` from :meth:`columns`-shaped values."""
        for name, values in columns.items():
            if name.startswith(("year_sum_", "year_count_")):
                target = self.year_sums if name.startswith("year_sum_") else self.year_counts
                target[int(name.rsplit("_", 1)[1]), index] = values
            elif name in self.quartiles:
                self.quartiles[name][index] = values
            else:
                getattr(self, name)[index] = values


def drg_sums(drg: np.ndarray, fen: np.ndarray, year_index: np.ndarray, los: np.ndarray, n_groups: int,
             n_years: int, *, method: str, iqr_factor: float, sd_factor: float,
             tails: tuple[float, float]) -> tuple[DrgSums, np.ndarray]:
    """Trim each DRG's valid cases (any order) and sum them: the :class:`DrgSums`, and which cases are kept."""
    drg = drg.astype(np.int64)
    keys = (drg << _DRG_SHIFT) | (fen << YEAR_BITS) | year_index
    keys.sort()
    count = np.bincount(drg, minlength=n_groups).astype(np.int64)
    start = np.cumsum(count) - count
    cost = (keys >> YEAR_BITS) & _FEN_MASK
    low, high = trim.bounds(method, cost, start, count, iqr_factor=iqr_factor, sd_factor=sd_factor, tails=tails)
    low_fen = np.clip(np.ceil(np.nan_to_num(low, nan=0.0, neginf=0.0)), 0, FEN_LIMIT).astype(np.int64)
    high_fen = np.clip(np.floor(np.nan_to_num(high, nan=-1.0, posinf=FEN_LIMIT)), -1, FEN_LIMIT - 1).astype(np.int64)
    base = np.arange(n_groups, dtype=np.int64) << _DRG_SHIFT
    left = np.maximum(np.searchsorted(keys, base | (low_fen << YEAR_BITS)), start)
    right = np.maximum(np.searchsorted(keys, base + ((high_fen + 1) << YEAR_BITS)), left)
    # bounds between two neighbouring values (percentiles of very small DRGs) would keep nothing: keep all
    empty = (right == left) & (count > 0)
    left, right = np.where(empty, start, left), np.where(empty, start + count, right)
    low_fen, high_fen = np.where(empty, 0, low_fen), np.where(empty, FEN_LIMIT - 1, high_fen)
    used = right - left
    # Three segments per DRG tile the sorted array: trimmed below, kept, trimmed above.
    seg_start = np.stack([start, left, right], axis=1).ravel()
    seg_len = np.stack([left - start, used, start + count - right], axis=1).ravel()

    def kept_sums(values):
        return trim.segment_sums(values, seg_start, seg_len)[1::3]

    year_of = keys & _YEAR_MASK
    if n_years > 1:
        year_sums = np.array([kept_sums(np.where(year_of == k, cost, 0)) for k in range(n_years)], dtype=np.int64)
        year_counts = np.array([kept_sums((year_of == k).astype(np.int64)) for k in range(n_years)], dtype=np.int64)
    else:
        year_sums, year_counts = kept_sums(cost)[None, :], used[None, :].copy()

    centre, _ = trim.group_mean_sd(cost, start, count)
    deviation = cost - np.repeat(np.nan_to_num(centre), count)
    kept = (fen >= low_fen[drg]) & (fen <= high_fen[drg])
    quartiles = {f"{label}_{name}": trim.group_quantiles(cost, s, n, p)
                 for label, (s, n) in {"all": (start, count), "kept": (left, used)}.items() for name, p in _QUANTILES}
    sums = DrgSums(count, used, low_fen, high_fen, year_sums, year_counts, centre, kept_sums(deviation),
                   kept_sums(deviation * deviation), trim.group_quantiles(cost, left, used, 0.5),
                   np.bincount(drg[kept], weights=los[kept], minlength=n_groups).astype(np.float64), quartiles)
    return sums, kept


class RelativeWeightCalibrator(BaseEstimator):
    """Relative weights per DRG from settled historical cases (see the module docstring for the formulas).

    Parameters
    ----------
    trim : {"iqr", "sd", "percentile", "none"}
        Outlier trimming within each DRG.
    iqr_factor, sd_factor : float
        k of [Q1 − k·IQR, Q3 + k·IQR] and of mean ± k·SD.
    tails : (float, float)
        Percentiles kept by ``trim="percentile"``, in percent.
    min_cases : int
        DRGs with fewer kept cases are shrunk toward their ADRG and flagged ``small_group``.
    smoothing : float, optional
        k of the shrinkage; ``min_cases`` when not given.
    min_cost : float
        Cases costing less (元) are excluded (default 5).
    min_los, max_los : int
        Length-of-stay bounds in days (default 0 and 60; ``max_los=None``: no upper bound).
    year_weights : sequence or dict, optional
        Weights of the history years, oldest first (``[2, 3, 5]``) or ``{2022: 2, ...}``.
    inflation : dict, optional
        Price index per year; costs are inflated to ``base_year``.
    base_year : int, optional
        Year the costs are inflated to (default: the newest year of the history).
    all_drgs : dict or sequence, optional
        The scheme's DRGs (code → name); those without kept cases are listed in ``missing_drgs_``.
    split_advice : bool
        Also fit the regression-tree split advice (``split_advice_``); off by default (it costs time).
    advice_sample : int
        Kept cases sampled for the advice.
    random_state : int
        Seed of the advice's sample.
    covered_cost : bool
        Calibrate on the covered cost total − ``self_pay_cost`` (医保范围内费用) when the cases have that column;
        off by default (the total cost, as before; without the column the result is the same either way).

    Attributes
    ----------
    weights_ : pandas.Series
        DRG → RW (:class:`decimal.Decimal`), sorted by DRG.
    group_stats_ : pandas.DataFrame
        One row per calibrated DRG, columns of :data:`TABLE_COLUMNS`.
    cost_quartiles_ : pandas.DataFrame
        Min, quartiles and max (元, float, for plots) of each DRG before and after trimming.
    missing_drgs_ : pandas.DataFrame
        ``drg``, ``drg_name``, ``n_grouped``: DRGs of the scheme or the history without any kept case.
    exclusions_ : dict
        Exclusion reason → cases.
    riv_, cv_share_ : float
        Reduction in variance, share of DRGs with CV < 1.
    mean_cost_ : Decimal
        Weighted mean cost of all kept cases (元).
    n_cases_, n_valid_, n_used_ : int
    years_, year_weights_, inflation_factors_ : list
    pack_version_ : str
    split_advice_ : pandas.DataFrame or None
    """

    _parameter_constraints = {
        "trim": [StrOptions(set(trim.METHODS))],
        "iqr_factor": [Interval(Real, 0, None, closed="neither")],
        "sd_factor": [Interval(Real, 0, None, closed="neither")],
        "tails": [tuple, list],
        "min_cases": [Interval(Integral, 1, None, closed="left")],
        "smoothing": [None, Interval(Real, 0, None, closed="left")],
        "min_cost": [Interval(Real, 0, None, closed="left")],
        "min_los": [Interval(Integral, 0, None, closed="left")],
        "max_los": [None, Interval(Integral, 0, None, closed="left")],
        "year_weights": [None, dict, list, tuple],
        "inflation": [None, dict],
        "base_year": [None, Interval(Integral, 1, None, closed="left")],
        "all_drgs": [None, dict, list, tuple],
        "split_advice": ["boolean"],
        "advice_sample": [Interval(Integral, 1, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left")],
        "covered_cost": ["boolean"],
    }

    def __init__(self, trim="iqr", *, iqr_factor=1.5, sd_factor=3.0, tails=(2.5, 97.5), min_cases=5,
                 smoothing=None, min_cost=5.0, min_los=0, max_los=60, year_weights=None, inflation=None,
                 base_year=None, all_drgs=None, split_advice=False, advice_sample=200_000, random_state=0,
                 covered_cost=False):
        self.trim = trim
        self.iqr_factor = iqr_factor
        self.sd_factor = sd_factor
        self.tails = tails
        self.min_cases = min_cases
        self.smoothing = smoothing
        self.min_cost = min_cost
        self.min_los = min_los
        self.max_los = max_los
        self.year_weights = year_weights
        self.inflation = inflation
        self.base_year = base_year
        self.all_drgs = all_drgs
        self.split_advice = split_advice
        self.advice_sample = advice_sample
        self.random_state = random_state
        self.covered_cost = covered_cost

    def fit(self, cases, y=None):
        """Calibrate from grouped historical cases (Arrow table, DataFrame or list of dicts); returns self."""
        self.validate_params()
        table = as_table(cases)
        history = prepare(table, min_cost=self.min_cost, min_los=self.min_los, max_los=self.max_los,
                          year_weights=self.year_weights, inflation=self.inflation, base_year=self.base_year,
                          covered_cost=self.covered_cost)
        valid = history.reason == 0
        n_groups = len(history.drg_codes)
        sums, kept = drg_sums(history.drg[valid], history.fen[valid], history.year_index[valid], history.los[valid],
                              n_groups, len(history.year_weights), **self.trim_options())
        grouped = history.reason != 1
        names = most_common_values(history.drg, n_groups, column_or_none(table, "drg_name"), grouped)
        adrgs = most_common_values(history.drg, n_groups, column_or_none(table, "adrg"), valid)
        n_grouped = np.bincount(history.drg[grouped & (history.drg >= 0)], minlength=n_groups)
        reasons = np.bincount(history.reason, minlength=len(EXCLUSIONS) + 1)
        self.fit_from_sums(sums, history, names, adrgs, n_grouped, reasons, _pack_version(table))
        if self.split_advice:
            from calibration.advice import split_advice

            kept_original = valid.copy()
            kept_original[valid] = kept
            adrgs = [a or code[:3] for a, code in zip(adrgs, history.drg_codes)]
            self.split_advice_ = split_advice(table, history, kept_original, adrgs, sample=self.advice_sample,
                                              random_state=self.random_state)
        return self

    def validate_params(self) -> None:
        """Check the parameters against their constraints (as ``fit`` does first).

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError
            A parameter of the wrong type or out of range (a ``ValueError``).
        """
        self._validate_params()

    def trim_options(self) -> dict:
        """The keyword arguments of :func:`drg_sums` that this calibrator's trimming parameters give.

        Raises
        ------
        CalibrationError
            ``tails`` that are not two percentages with 0 ≤ low < high ≤ 100.
        """
        return {"method": self.trim, "iqr_factor": self.iqr_factor, "sd_factor": self.sd_factor,
                "tails": self._tails()}

    def fit_from_sums(self, sums: DrgSums, history: History, names: list[str], adrgs: list[str],
                      n_grouped: np.ndarray, reasons: np.ndarray, pack_version: str) -> None:
        """Steps 3–5 (see the module docstring) from the per-DRG sums of steps 1–2: sets the fitted attributes.

        Parameters
        ----------
        sums : DrgSums
            From :func:`drg_sums` over all DRGs (or assembled DRG by DRG, :meth:`DrgSums.assign`).
        history : History
            Gives the DRG codes and the years, weights and factors (not its case arrays).
        names, adrgs : list of str
            DRG name and ADRG of each DRG ("" when unknown: the ADRG is then the code's first 3 characters).
        n_grouped : numpy.ndarray
            Grouped cases per DRG.
        reasons : numpy.ndarray
            Cases per exclusion reason (index 0: valid).
        pack_version : str
            From :func:`common_pack_version`.

        Raises
        ------
        CalibrationError
            No valid case, or an RW that rounds to 0.
        """
        n_groups = len(history.drg_codes)
        count, used = sums.count, sums.used
        year_sums, year_counts = sums.year_sums, sums.year_counts
        cv, riv, cv_share = _spread(used, year_sums.sum(axis=0), sums.centre, sums.dev_sum, sums.dev_sq)
        adrgs = [a or code[:3] for a, code in zip(adrgs, history.drg_codes)]
        weights = history.year_weights
        numerator = [sum((w * int(s[g]) for w, s in zip(weights, year_sums)), Fraction(0)) for g in range(n_groups)]
        denominator = [sum((w * int(c[g]) for w, c in zip(weights, year_counts)), Fraction(0)) for g in range(n_groups)]
        calibrated = [g for g in range(n_groups) if used[g] > 0]
        if not calibrated:
            excluded = {EXCLUSIONS[k][0]: int(v) for k, v in enumerate(reasons) if k and v}
            raise CalibrationError(f"no valid case to calibrate from (没有有效病例); excluded: {excluded or 'no cases'}")
        overall = sum(numerator[g] for g in calibrated) / sum(denominator[g] for g in calibrated)
        by_adrg: dict[str, list[Fraction]] = {}
        for g in calibrated:
            pair = by_adrg.setdefault(adrgs[g], [Fraction(0), Fraction(0)])
            pair[0] += numerator[g]
            pair[1] += denominator[g]
        k = Fraction(str(self.smoothing if self.smoothing is not None else self.min_cases))
        rows = []
        for g in calibrated:
            n = int(used[g])
            raw = numerator[g] / denominator[g] / overall
            small = n < self.min_cases
            adrg_rw = by_adrg[adrgs[g]][0] / by_adrg[adrgs[g]][1] / overall
            rw = (n * raw + k * adrg_rw) / (n + k) if small else raw
            rows.append({
                "drg": history.drg_codes[g], "drg_name": names[g], "adrg": adrgs[g],
                "rw": round_half_up(rw, 6), "rw_raw": round_half_up(raw, 6),
                "n_cases": int(count[g]), "n_used": n,
                "mean_cost": round_half_up(numerator[g] / denominator[g] / 100, 2),
                "median_cost": round_half_up(Fraction(float(sums.median[g])) / 100, 2),
                "cv": None if np.isnan(cv[g]) else round(float(cv[g]), 6),
                "mean_los": round_half_up(Fraction(float(sums.los_sum[g])) / n, 2),
                "small_group": bool(small), "unstable": bool(cv[g] >= 1),
            })
        if any(r["rw"] <= 0 for r in rows):
            raise CalibrationError("a DRG's RW rounds to 0 at 6 decimals; check the costs of the history")
        stats = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
        quartiles = pd.DataFrame({"drg": [history.drg_codes[g] for g in calibrated]})
        for name, values in sums.quartiles.items():
            quartiles[name] = values[calibrated] / 100

        self.group_stats_ = stats
        self.riv_, self.cv_share_ = riv, cv_share
        self.cost_quartiles_ = quartiles
        self.weights_ = pd.Series(stats["rw"].tolist(), index=pd.Index(stats["drg"], name="drg"), name="rw",
                                  dtype=object)
        self.mean_cost_ = round_half_up(overall / 100, 2)
        self.exclusions_ = {EXCLUSIONS[k][0]: int(reasons[k]) for k in EXCLUSIONS}
        self.n_cases_, self.n_valid_, self.n_used_ = int(reasons.sum()), int(reasons[0]), int(used.sum())
        self.years_ = list(history.years)
        self.year_weights_ = [str(w) for w in history.year_weights] if history.years else []
        self.inflation_factors_ = [str(f) for f in history.factors] if history.years else []
        self.pack_version_ = pack_version
        self.missing_drgs_ = self._missing(history.drg_codes, n_grouped, names, set(stats["drg"]))
        self.split_advice_ = None

    def _tails(self) -> tuple[float, float]:
        try:
            low, high = (float(t) for t in self.tails)
        except (TypeError, ValueError):
            raise CalibrationError(f"tails must be two percentages, e.g. (2.5, 97.5), not {self.tails!r}") from None
        if not 0 <= low < high <= 100:
            raise CalibrationError(f"tails {self.tails!r}: need 0 ≤ low < high ≤ 100 (percent)")
        return low, high

    def _missing(self, drg_codes: list[str], grouped: np.ndarray, names: list[str],
                 calibrated: set[str]) -> pd.DataFrame:
        scheme = self.all_drgs if isinstance(self.all_drgs, dict) else dict.fromkeys(self.all_drgs or (), "")
        rows = {code: (names[g], int(grouped[g])) for g, code in enumerate(drg_codes)
                if grouped[g] and code not in calibrated}
        for code, name in scheme.items():
            if code not in calibrated and code not in rows:
                rows[code] = (name, 0)
        return pd.DataFrame([(c, rows[c][0] or scheme.get(c, ""), rows[c][1]) for c in sorted(rows)],
                            columns=["drg", "drg_name", "n_grouped"])

    def transform(self, cases):
        """The cases with an ``rw`` column (decimal(18, 6); null where not ``ok`` or the DRG has no weight)."""
        check_is_fitted(self, "weights_")
        table = as_table(cases)
        codes, values = categories(table.column("drg"))
        status, status_values = categories(table.column("status"))
        ok = status == (status_values.index("ok") if "ok" in status_values else -2)
        rws = self.weights_.to_dict()
        units = np.array([int(rws[v] * RW_UNITS) if v in rws else -1 for v in values] + [-1], dtype=np.int64)
        rw = np.where(ok, units[np.where(codes >= 0, codes, len(values))], -1)
        column = units_or_null(rw, 6)
        out = table.drop_columns(["rw"]) if "rw" in table.column_names else table
        out = out.append_column("rw", column)
        return out.to_pandas() if isinstance(cases, pd.DataFrame) else out

    def to_weight_table(self, name: str, *, region: str = "", year: int | None = None, source: str = "",
                        source_sha256: str = "") -> WeightTable:
        """The calibrated weights as a :class:`weights.WeightTable` (statistics columns included)."""
        check_is_fitted(self, "weights_")
        meta = WeightMeta(name=name, region=region, year=year, pack_version=self.pack_version_, source=source,
                          source_sha256=source_sha256)
        return WeightTable(meta, self.group_stats_.copy())


def _spread(used, kept_total, centre, dev_sum, dev_sq):
    """CV per DRG, RIV and the share of DRGs with CV < 1, from sums of the shifted costs dᵢ = c'ᵢ − centre_g.

    Within DRG g: Σ(c' − c̄_g)² = Σd² − (Σd)²/n_g.  Overall, with s_g = centre_g − c̄:
    Σ(c' − c̄)² = Σ_g (Σd² + 2·s_g·Σd + n_g·s_g²).
    """
    n = used.astype(np.float64)
    filled = used > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        within = np.where(filled, np.maximum(dev_sq - dev_sum * dev_sum / n, 0.0), 0.0)
        mean = np.where(filled, kept_total / n, np.nan)
        cv = np.where(used > 1, np.sqrt(within / (n - 1)) / mean, np.nan)
    grand = kept_total.sum() / max(n.sum(), 1)
    shift = np.nan_to_num(centre) - grand
    total = np.sum(np.where(filled, dev_sq + 2 * shift * dev_sum + n * shift * shift, 0.0))
    riv = float(1 - within.sum() / total) if total > 0 else float("nan")
    defined = ~np.isnan(cv)
    share = float((cv[defined] < 1).mean()) if defined.any() else float("nan")
    return cv, riv, share


def _pack_version(table: pa.Table) -> str:
    column = column_or_none(table, "pack_version")
    return common_pack_version(categories(column)[1]) if column is not None else ""


def common_pack_version(versions: list[str]) -> str:
    """The one pack version the cases were grouped with ("" when none is recorded).

    Parameters
    ----------
    versions : list of str
        The distinct non-empty ``pack_version`` values of the cases, sorted.

    Raises
    ------
    CalibrationError
        Cases grouped with more than one pack version.
    """
    if len(versions) > 1:
        raise CalibrationError(f"the cases were grouped with {len(versions)} pack versions ({', '.join(versions)}); "
                               "regroup them all with one pack (分组方案版本不一致)")
    return versions[0] if versions else ""


__all__ = ["TABLE_COLUMNS", "DrgSums", "RelativeWeightCalibrator", "common_pack_version", "drg_sums",
           "round_half_up"]
