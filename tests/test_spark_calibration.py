"""Calibration on Spark (local[2]) equals ``RelativeWeightCalibrator.fit`` on one machine: the same weight table."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
import pytest

from calibration import CalibrationError, RelativeWeightCalibrator
from calibration.synthetic import synthetic_history
from reference_data import GOLDEN, TABLES, require_shared
from spark_fixtures import spark, spark_frame  # noqa: F401  (spark: the session fixture)

pytestmark = pytest.mark.spark

#: The columns calibration reads (the rest of a record only slows the transfer to Spark).
_COLUMNS = ("drg", "drg_name", "adrg", "status", "total_cost", "self_pay_cost", "los_days", "discharge_date", "year",
            "pack_version")


def _plain(table: pa.Table) -> pa.Table:
    table = table.select([c for c in _COLUMNS if c in table.column_names])
    columns = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    return pa.table(columns, names=table.column_names)


def _assert_same(spark, cases: pa.Table, partitions: int = 3, **params):
    from scaleout.calibration import calibrate_spark

    cases = _plain(cases)
    local = RelativeWeightCalibrator(**params).fit(cases)
    got = calibrate_spark(spark_frame(spark, cases, partitions), **params)
    # the weight table: RW and every statistic, as Arrow (decimal RW, mean and median costs) — exactly equal
    assert got.to_weight_table("t").to_arrow().equals(local.to_weight_table("t").to_arrow())
    assert got.weights_.tolist() == local.weights_.tolist() and got.weights_.index.equals(local.weights_.index)
    pd.testing.assert_frame_equal(got.group_stats_, local.group_stats_, check_exact=True)
    pd.testing.assert_frame_equal(got.cost_quartiles_, local.cost_quartiles_, check_exact=True)
    pd.testing.assert_frame_equal(got.missing_drgs_, local.missing_drgs_, check_exact=True)
    for name in ("riv_", "cv_share_"):
        mine, theirs = getattr(got, name), getattr(local, name)
        assert mine == theirs or (math.isnan(mine) and math.isnan(theirs)), name
    for name in ("mean_cost_", "exclusions_", "n_cases_", "n_valid_", "n_used_", "years_", "year_weights_",
                 "inflation_factors_", "pack_version_"):
        assert getattr(got, name) == getattr(local, name), name
    return local


@pytest.mark.golden
def test_golden_1_1_grouped_calibrates_as_on_one_machine(spark):
    from api.cases import read_cases

    cases = read_cases(require_shared(GOLDEN / "chs-drg-1.1.parquet"), pack=require_shared(TABLES / "chs-drg-1.1"))
    local = _assert_same(spark, cases, min_cases=20)
    assert local.group_stats_["small_group"].any()  # shrinkage toward the ADRG is exercised
    assert local.exclusions_["not_grouped"] and local.exclusions_["los_out"]  # so are excluded cases


def test_synthetic_history_with_year_weights_and_inflation(spark):
    cases = _plain(synthetic_history(6_000, n_drgs=30, contamination=0.01, seed=5)[0])
    # two DRGs small enough to be shrunk toward their ADRG
    cases = pa.concat_tables([cases, cases.slice(0, 40).set_column(
        cases.column_names.index("drg"), "drg", pa.array(["ZZ19"] * 20 + ["ZZ13"] * 20))])
    local = _assert_same(spark, cases, partitions=4, trim="iqr", year_weights=[2, 3, 5],
                         inflation={2022: "100", 2023: "102.5", 2024: "105.1"}, min_cases=30)
    stats = local.group_stats_
    assert stats["small_group"].any() and (stats["n_used"] < stats["n_cases"]).any()  # shrunk and trimmed
    assert local.inflation_factors_[0] != "1"


def test_percentile_trimming_without_years(spark):
    cases, _ = synthetic_history(3_000, n_drgs=12, contamination=0.02, seed=8)
    _assert_same(spark, cases, partitions=2, trim="percentile", tails=(5, 95))


def test_covered_cost_with_years_as_on_one_machine(spark):
    cases, _ = synthetic_history(3_000, n_drgs=12, contamination=0.02, seed=9)
    cost = cases.column("total_cost").to_pylist()
    # a self-pay of 0–30% of the cost (范围外费用), to the fen, some missing
    self_pay = [None if i % 7 == 0 else round(float(c) * (i % 4) / 10, 2) for i, c in enumerate(cost)]
    cases = cases.append_column("self_pay_cost", pa.array(self_pay, pa.float64()))
    local = _assert_same(spark, cases, partitions=3, covered_cost=True, year_weights=[1, 2, 3])
    assert local.mean_cost_ < RelativeWeightCalibrator(year_weights=[1, 2, 3]).fit(_plain(cases)).mean_cost_


def test_options_the_history_cannot_take_fail_on_the_driver_with_the_local_message(spark):
    from scaleout.calibration import calibrate_spark

    frame = spark_frame(spark, _plain(synthetic_history(300, n_drgs=6, seed=2)[0]), partitions=2)
    with pytest.raises(CalibrationError, match="2 year weights given but the history has 3 years"):
        calibrate_spark(frame, year_weights=[1, 2])
    with pytest.raises(CalibrationError, match="split advice"):
        calibrate_spark(frame, split_advice=True)


def test_drg_calibrate_engine_spark_writes_the_local_weight_table(spark, tmp_path):
    """``drg calibrate --engine spark`` writes the very file ``drg calibrate`` writes; local-only options exit 2."""
    import pyarrow.parquet as pq

    from api.cli import EXIT_OK, EXIT_USAGE, main

    source = tmp_path / "history.parquet"
    pq.write_table(_plain(synthetic_history(2_000, n_drgs=9, seed=4)[0]), source)
    options = ["--year-weights", "1,2,3", "--min-cases", "40", "--no-report", "--name", "w"]
    assert main(["calibrate", str(source), "-o", str(tmp_path / "local.parquet"), *options]) == EXIT_OK
    assert main(["calibrate", str(source), "-o", str(tmp_path / "spark.parquet"), *options,
                 "--engine", "spark", "--master", "local[2]"]) == EXIT_OK
    assert (tmp_path / "spark.parquet").read_bytes() == (tmp_path / "local.parquet").read_bytes()
    assert main(["calibrate", str(source), "-o", str(tmp_path / "x.parquet"), "--engine", "spark",
                 "--advice"]) == EXIT_USAGE
