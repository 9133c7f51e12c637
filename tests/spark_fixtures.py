"""The Spark session of the Spark tests: one ``local[2]`` session per test run, skipped visibly without Spark."""

from __future__ import annotations

import os
import warnings

import pyarrow as pa
import pytest


@pytest.fixture(scope="session")
def spark():
    from scaleout.session import SparkUnavailableError, spark_session

    try:
        session = spark_session("local[2]", "drg-engine-tests", shuffle_partitions=4)
    except SparkUnavailableError as exc:
        if os.environ.get("DRG_REQUIRE_SPARK"):  # CI: the Spark tests must run
            pytest.fail(f"DRG_REQUIRE_SPARK is set but {exc}")
        pytest.skip(f"Spark tests need PySpark and Java: {exc}")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def spark_frame(spark, table: pa.Table, partitions: int = 3):
    """An Arrow table as a Spark DataFrame split into ``partitions`` (so that several workers share it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # PySpark's note on pandas versions
        return spark.createDataFrame(table).repartition(partitions)


def collect_arrow(frame) -> pa.Table:
    """A Spark DataFrame as an Arrow table, rows in ``row_no`` order."""
    table = frame.toArrow() if hasattr(frame, "toArrow") else pa.Table.from_pandas(frame.toPandas())
    return table.sort_by("row_no")
