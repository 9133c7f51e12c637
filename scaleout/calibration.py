"""Relative-weight calibration on Spark: per-case and per-DRG work on the executors, the weights on the driver.

What runs where (``calibrate_spark``)
-------------------------------------
1. executors (``mapInArrow``), only with year weights or inflation: the distinct years of the otherwise
   valid cases; the driver turns them into the year plan with calibration's own :func:`year_plan`;
2. executors (``mapInArrow``): each partition's cases through calibration's own :func:`prepare` with
   that plan — exclusion reason, DRG, inflated cost in fen, year index, LOS;
3. Spark SQL: case counts per DRG × reason, DRG name and ADRG counts (integers, any order);
4. executors (``groupBy("drg").applyInPandas``): each DRG's valid cases, whole, through calibration's
   own :func:`drg_sums` — trimming bounds, kept cases, exact integer sums per year (``LongType``, as on
   one machine), the float sums over the DRG's cases in cost order;
5. driver: RW as exact rationals, shrinkage, CV, RIV — :meth:`RelativeWeightCalibrator.fit_from_sums`, the
   estimator's own code.

A DRG's entries depend on its own cases only, so the fitted calibrator equals
``RelativeWeightCalibrator(**params).fit(cases)`` on the same cases (LOS in whole days, as the schema has
them: their float sums are exact in any order).  The split advice is not offered here (it samples cases).
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow as pa

from calibration.estimator import RelativeWeightCalibrator, common_pack_version, drg_sums
from calibration.history import (EXCLUSIONS, CalibrationError, History, candidate_years, plain_texts, prepare,
                                 require_columns, year_plan)

#: Per-case columns of step 2.
CASE_SCHEMA = "drg string, reason long, fen long, year_index long, los double, drg_name string, adrg string"


def _batches(batches: Iterator[pa.RecordBatch]) -> pa.Table | None:
    batches = list(batches)
    table = pa.Table.from_batches(batches) if batches else None
    return table if table is not None and table.num_rows else None


def _candidate_years(batches, options: dict):
    """Step 1: one partition → the distinct years of its cases that are valid but for the year."""
    table = _batches(batches)
    if table is None:
        return
    yield pa.record_batch({"year": pa.array(candidate_years(table, **options), pa.int64())})


def _case_batches(batches, options: dict, plan):
    """Step 2: one partition → each case's reason, DRG, inflated fen, year index and LOS."""
    table = _batches(batches)
    if table is None:
        return
    history = prepare(table, **options, plan=plan)
    codes = pa.array(history.drg_codes + [None], pa.string())
    extra = {name: (plain_texts(table.column(name)) if name in table.column_names else pa.nulls(table.num_rows, pa.string()))
             for name in ("drg_name", "adrg")}
    yield from pa.table({
        "drg": codes.take(pa.array(np.where(history.drg >= 0, history.drg, len(history.drg_codes)))),
        "reason": pa.array(history.reason, pa.int64()), "fen": pa.array(history.fen, pa.int64()),
        "year_index": pa.array(history.year_index, pa.int64()), "los": pa.array(history.los, pa.float64()),
        **extra,
    }).to_batches()


def _drg_sums_udf(n_years: int, trim_options: dict):
    """Step 4: the ``applyInPandas`` function — one DRG's valid cases → one row of its :class:`DrgSums` columns."""

    def one_drg(frame: pd.DataFrame) -> pd.DataFrame:
        n = len(frame)
        sums, _ = drg_sums(np.zeros(n, np.int64), frame["fen"].to_numpy(np.int64),
                           frame["year_index"].to_numpy(np.int64), frame["los"].to_numpy(np.float64), 1, n_years,
                           **trim_options)
        return pd.DataFrame({"drg": [frame["drg"].iloc[0]], **{k: v for k, v in sums.columns().items()}})

    return one_drg


def _sums_schema(n_years: int) -> str:
    probe, _ = drg_sums(*(np.zeros(0, np.int64),) * 3, np.zeros(0), 0, n_years, method="none", iqr_factor=1.5,
                        sd_factor=3.0, tails=(2.5, 97.5))
    kinds = {np.dtype(np.int64): "long", np.dtype(np.float64): "double"}
    return ", ".join(["drg string", *(f"{k} {kinds[v.dtype]}" for k, v in probe.columns().items())])


def _most_common(rows, position: dict[str, int], n_groups: int) -> list[str]:
    """Per DRG, the most frequent value of (drg, value, count) rows; ties to the smaller value ("" when none),
    as :func:`calibration.history.most_common_values`."""
    best: dict[int, tuple[int, str]] = {}
    for drg, value, n in rows:
        g = position[drg]
        if g not in best or (-n, value) < (-best[g][0], best[g][1]):
            best[g] = (n, value)
    return [best[g][1] if g in best else "" for g in range(n_groups)]


def calibrate_spark(frame, **params) -> RelativeWeightCalibrator:
    """Fit a :class:`RelativeWeightCalibrator` on the grouped cases of a Spark DataFrame (see the module docstring).

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
        Grouped cases, the columns ``RelativeWeightCalibrator.fit`` reads (``drg``, ``status``, ``total_cost``,
        ``los_days``; ``drg_name``, ``adrg``, ``year`` or ``discharge_date``, ``pack_version`` when present).
    **params
        The calibrator's parameters; ``split_advice`` is not available on Spark.

    Returns
    -------
    RelativeWeightCalibrator
        Fitted: ``weights_``, ``group_stats_``, ``riv_``, ``to_weight_table()`` … as ``fit`` on one machine.
    """
    from pyspark.sql import functions as F

    estimator = RelativeWeightCalibrator(**params)
    estimator.validate_params()
    if estimator.split_advice:
        raise CalibrationError("split advice is not available on Spark (Spark 不支持拆分建议); fit it on one machine")
    trim_options = estimator.trim_options()
    require_columns(pa.table({c: pa.nulls(0) for c in frame.columns}), ("drg", "status", "total_cost", "los_days"))
    options = {"min_cost": estimator.min_cost, "min_los": estimator.min_los, "max_los": estimator.max_los,
               "covered_cost": estimator.covered_cost}
    plan = None
    if estimator.year_weights is not None or estimator.inflation is not None or estimator.base_year is not None:
        present = sorted(r[0] for r in frame.mapInArrow(lambda b: _candidate_years(b, options), "year long")
                         .distinct().collect())
        plan = year_plan(np.array(present, np.int64), np.ones(len(present), bool), estimator.year_weights,
                         estimator.inflation, estimator.base_year)
    cases = frame.mapInArrow(lambda b: _case_batches(b, options, plan), CASE_SCHEMA).cache()
    try:
        counts = cases.groupBy("drg", "reason").count().collect()
        drg_codes = sorted({r["drg"] for r in counts if r["drg"] is not None})
        position = {code: g for g, code in enumerate(drg_codes)}
        n_groups, n_years = len(drg_codes), len(plan[1]) if plan else 1
        reasons = np.zeros(len(EXCLUSIONS) + 1, np.int64)
        n_grouped = np.zeros(n_groups, np.int64)
        for r in counts:
            reasons[r["reason"]] += r["count"]
            if r["drg"] is not None and r["reason"] != 1:
                n_grouped[position[r["drg"]]] += r["count"]

        def value_counts(column, condition):
            return (cases.where(condition & F.col("drg").isNotNull() & F.col(column).isNotNull())
                    .groupBy("drg", column).count().collect())

        names = _most_common(value_counts("drg_name", F.col("reason") != 1), position, n_groups)
        adrgs = _most_common(value_counts("adrg", F.col("reason") == 0), position, n_groups)
        sums, _ = drg_sums(*(np.zeros(0, np.int64),) * 3, np.zeros(0), n_groups, n_years, **trim_options)
        per_drg = (cases.where(F.col("reason") == 0).select("drg", "fen", "year_index", "los").groupBy("drg")
                   .applyInPandas(_drg_sums_udf(n_years, trim_options), _sums_schema(n_years)).toPandas())
        if len(per_drg):
            index = per_drg["drg"].map(position).to_numpy(np.int64)
            sums.assign(index, {k: per_drg[k].to_numpy() for k in per_drg.columns if k != "drg"})
    finally:
        cases.unpersist()
    versions = []
    if "pack_version" in frame.columns:
        versions = [r[0] for r in frame.select(F.col("pack_version").cast("string")).distinct().collect() if r[0]]
    used, weights, factors = plan or ([], [Fraction(1)], [Fraction(1)])
    empty = np.zeros(0, np.int64)
    history = History(empty, drg_codes, empty, empty, np.zeros(0), empty, used, weights, factors)
    estimator.fit_from_sums(sums, history, names, adrgs, n_grouped, reasons, common_pack_version(sorted(versions)))
    return estimator


__all__ = ["calibrate_spark"]
