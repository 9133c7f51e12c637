"""A Spark session with the settings the integration relies on (Arrow on, small shuffles in local mode)."""

from __future__ import annotations

import shutil
import os


class SparkUnavailableError(RuntimeError):
    """PySpark or a Java runtime is missing; the message says what to install."""


def check_spark() -> None:
    """Raise :class:`SparkUnavailableError` when PySpark or Java cannot be found."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailableError("PySpark is not installed 未安装 PySpark: pip install 'drg-engine[spark]'") from None
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise SparkUnavailableError("no Java runtime found 未找到 Java 运行环境: install one "
                                    "(Debian: apt-get install default-jre-headless) or set JAVA_HOME")


def spark_session(master: str | None = None, app_name: str = "drg-engine", *, shuffle_partitions: int | None = None):
    """Get or create a Spark session for the engine.

    Parameters
    ----------
    master : str, optional
        ``local[2]``, ``spark://host:7077``, ``yarn`` …; default: whatever ``spark-submit`` set,
        else ``local[*]``.
    app_name : str
    shuffle_partitions : int, optional
        ``spark.sql.shuffle.partitions``; small values suit local mode (the aggregates are small).

    Returns
    -------
    pyspark.sql.SparkSession
    """
    check_spark()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    elif not os.environ.get("SPARK_HOME") and "spark.master" not in os.environ.get("PYSPARK_SUBMIT_ARGS", ""):
        builder = builder.master("local[*]")
    builder = (builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.ui.showConsoleProgress", "false"))
    if shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    return builder.getOrCreate()
