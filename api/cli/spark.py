"""``drg group --engine spark`` and ``drg calibrate --engine spark``: Parquet data sets on a Spark cluster
(or ``--master local[N]``)."""

from __future__ import annotations

import sys
import time

from scaleout.session import SparkUnavailableError


class SparkUsageError(ValueError):
    """An option the Spark engine does not take (exit 2)."""


#: Errors of this command that are usage errors (exit 2).
USAGE_ERRORS = (SparkUnavailableError, SparkUsageError)


def _check_options(local_only: dict, inputs) -> None:
    """Refuse the local engine's options and inputs other than Parquet."""
    for option, given in local_only.items():
        if given:
            raise SparkUsageError(f"{option} is not available with --engine spark (Spark 引擎不支持 {option}); "
                                  "give records in the schema's column names, or use the local engine")
    for path in inputs:
        if path.suffix.lower() not in (".parquet", ".pq", "") and not path.is_dir():
            raise SparkUsageError(f"--engine spark reads Parquet (a file or a folder of files), not {path.name}; "
                                  "convert it, or use the local engine")


def calibrate(args, params: dict):
    """Fit the relative weights of grouped cases in Parquet (``args.inputs``) on Spark; the fitted calibrator.

    The cases are those ``drg group --engine spark --keep-input`` writes (grouping first with ``--pack`` is a
    local-engine option).
    """
    _check_options({"--pack": args.pack, "--columns": args.columns, "--encoding": args.encoding,
                    "--advice": args.advice}, args.inputs)
    from scaleout import spark_session
    from scaleout.calibration import calibrate_spark

    spark = spark_session(args.master, "drg calibrate")
    return calibrate_spark(spark.read.parquet(*map(str, args.inputs)), **params)


def group(args) -> int:
    """Group ``args.input`` (Parquet file or folder) on Spark and write a Parquet folder ``args.output``.

    Every input row gives one result row (``row_no`` from the input's ``row_no`` column, else numbered in
    partition order); ``warnings`` (duplicate case ids) is not computed by this engine.
    """
    _check_options({"--columns": args.columns, "--encoding": args.encoding, "--fail-on": args.fail_on}, [args.input])
    from scaleout import group_spark, spark_session

    started = time.perf_counter()
    spark = spark_session(args.master, "drg group")
    records = spark.read.parquet(str(args.input))
    results = group_spark(records, args.pack, normalize=not args.no_normalize, keep_input=args.keep_input)
    results.write.mode("overwrite" if args.force else "errorifexists").parquet(str(args.output))
    written = spark.read.parquet(str(args.output))
    counts = dict(written.groupBy("status_zh").count().collect())
    total = sum(counts.values())
    seconds = time.perf_counter() - started
    print(f"\n{total:,} records in {seconds:.1f} s ({total / max(seconds, 1e-9):,.0f} records/s) on Spark "
          f"{spark.sparkContext.master}", file=sys.stderr)
    print("状态 status:", file=sys.stderr)
    for name, n in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"  {name:<24} {n:>10,}  {100 * n / max(total, 1):5.1f}%", file=sys.stderr)
    print(f"结果 results: {args.output} (Parquet folder 文件夹)", file=sys.stderr)
    return 0
