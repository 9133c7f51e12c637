"""Spark local mode against one process: grouping throughput on N generated records (default 10,000,000).

    python benchmarks/spark_vs_local.py                      # 10M records, local[*], bundled example pack
    python benchmarks/spark_vs_local.py -n 2000000 --pack ../shared/drg-tables/chs-drg-1.1 --master local[2]

The records are generated once (1,000,000 distinct records, repeated with new row numbers) into
Parquet files in ``--work``; both engines read those files and group every record.  The local
engine groups 250,000-record batches in one process (as ``drg group``); the Spark run uses
``group_spark`` and Spark's ``noop`` writer, so that only reading and grouping are timed.
Prints records/s of each and the cluster size for ``--cases-per-year`` (300 million) cases.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from grouper import Grouper
from icd_tables.pack import EXAMPLE_PACK, Pack
from icd_tables.sample import sample_records

CHUNK = 1_000_000


def make_files(folder: Path, n: int, pack: Pack) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    base = pa.Table.from_pandas(sample_records(pack.compiled, min(n, CHUNK), seed=0), preserve_index=False)
    paths = []
    for k, start in enumerate(range(0, n, CHUNK)):
        size = min(CHUNK, n - start)
        part = base.slice(0, size).append_column("row_no", pa.array(np.arange(start + 1, start + size + 1)))
        path = folder / f"part-{k:04d}.parquet"
        if not path.exists():
            pq.write_table(part, path, row_group_size=250_000)
        paths.append(path)
    return paths


def local_rate(paths: list[Path], pack: Pack) -> tuple[int, float]:
    grouper = Grouper(pack)
    grouper.group_arrow(pq.read_table(paths[0]).slice(0, 1000))  # JIT warm-up outside the timing, as Spark's cache
    started, rows = time.perf_counter(), 0
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(250_000):
            rows += grouper.group_arrow(pa.Table.from_batches([batch])).num_rows
    return rows, time.perf_counter() - started


def spark_rate(folder: Path, pack: Pack, master: str) -> tuple[int, float]:
    from scaleout import group_spark, spark_session

    spark = spark_session(master, "drg benchmark", shuffle_partitions=4)
    spark.sparkContext.setLogLevel("ERROR")
    group_spark(spark.read.parquet(str(folder)).limit(1000), pack).write.format("noop").mode("overwrite").save()
    started = time.perf_counter()
    frame = group_spark(spark.read.parquet(str(folder)), pack)
    frame.write.format("noop").mode("overwrite").save()
    seconds = time.perf_counter() - started
    return spark.read.parquet(str(folder)).count(), seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10_000_000)
    parser.add_argument("--pack", default=EXAMPLE_PACK)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--work", type=Path, default=Path("/tmp/drg-spark-bench"))
    parser.add_argument("--cases-per-year", type=int, default=300_000_000)
    parser.add_argument("--window-hours", type=float, default=1.0, help="time the year's cases must take")
    parser.add_argument("--cores-per-node", type=int, default=16)
    args = parser.parse_args(argv)
    pack = Pack.load(args.pack)
    folder = args.work / f"{pack.manifest.name}-{args.n}"
    paths = make_files(folder, args.n, pack)
    rows, local_s = local_rate(paths, pack)
    spark_rows, spark_s = spark_rate(folder, pack, args.master)
    local_rps, spark_rps = rows / local_s, spark_rows / spark_s
    import os

    cores = os.cpu_count() or 1
    per_core = spark_rps / (cores if args.master in ("local[*]",) else int(args.master[6:-1] or cores))
    need_cores = math.ceil(args.cases_per_year / (per_core * args.window_hours * 3600))
    print("| engine | records | seconds | records/s |\n|---|---:|---:|---:|")
    print(f"| one process | {rows:,} | {local_s:.1f} | {local_rps:,.0f} |")
    print(f"| Spark {args.master} | {spark_rows:,} | {spark_s:.1f} | {spark_rps:,.0f} |")
    print(f"\n{args.cases_per_year:,} cases in {args.window_hours:g} h need {args.cases_per_year / (args.window_hours * 3600):,.0f}"
          f" records/s; at {per_core:,.0f} records/s per Spark core that is {need_cores} cores "
          f"({math.ceil(need_cores / args.cores_per_node)} nodes of {args.cores_per_node} cores), before I/O.")


if __name__ == "__main__":
    main()
