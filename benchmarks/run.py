"""Grouping benchmarks: prints a table of records/s and peak memory.

Usage: ``python benchmarks/run.py [--rows 10000000] [--batch 1000000] [--only cli]``

Workload: the golden CHS-DRG 1.1 records tiled to ``--rows`` rows (needs
``../shared``).  ``regional`` compares the largest regional packs
(zhejiang-2022, guangxi-2022) with 1.1 in one process: pack load (cached and
cold) and in-process grouping of ``--batch`` records, each pack on its own
golden records tiled, and the ratio of each regional speed to 1.1's.  Each measurement runs in its own process so that its peak
memory (max RSS) is its own.  Timings are best of 3; JIT compilation is
excluded from kernel and encoding figures.  ``cli`` times the ``drg group``
command itself (start-up, pack load, reading, mapping, normalisation, grouping,
warnings, writing) in a process of its own, once, after a small warm-up run.

Issue 24 (speed as the user feels it): ``--only issue24`` runs the measures of its table in one go —
``startup`` (``drg --help``), ``kernel`` (kernel records/s on one and on all threads; encoding on all
threads, codes taken as written), ``encoding`` (encoding with code formatting, as ``drg group`` does, and
the kernel, per thread, for 1.1, 1.1 with 35% of its records re-spelled, zhejiang-2022 and guangxi-2022,
and each regional speed as a ratio of 1.1's), ``cli`` and ``cli_validate`` (``drg group`` and ``drg
validate`` whole process on the same tiled file, best of ``--cli-repeat``, and their ratio), ``cli_big``
(``drg group`` on ``--big-rows`` records), ``service`` (one record through ``POST /v1/group``, plain and
``?validate=true``, p50/p99 in process) and ``upload_duckdb`` / ``upload_postgresql`` (1,000,000
generated records stored as one upload).  Without ``../shared`` the measures that need the golden
records are skipped and the table says so; the generated-record measures (start-up, service,
uploads) still run.  The table starts with the machine (CPU, cores) and the versions in use.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.workload import GOLDEN_11, SHARED, TABLES_11, golden_table, have_golden, tiled, write_tiled_parquet  # noqa: E402

#: The PostgreSQL of the upload measure (a schema of its own, dropped afterwards).
PG_URL = os.environ.get("DRG_TEST_DATABASE_URL", "postgresql://drg_test:drg_test@127.0.0.1:5432/drg_test")

#: The largest regional packs (by DRG count), measured beside 1.1.
REGIONAL_BENCH = ("zhejiang-2022", "guangxi-2022")
#: Records of a command's small warm-up run, which also gives its start-up time.
WARM_ROWS = 1000


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure_load(args) -> dict:
    from icd_tables.pack import Pack

    Pack.load(TABLES_11)  # make sure the compiled form is cached
    cold = _best(lambda: Pack.load(TABLES_11, rebuild=True), 1)
    warm = _best(lambda: Pack.load(TABLES_11), 5)
    return {"pack load (cached), s": warm, "pack compile (cold), s": cold}


def measure_kernel(args) -> dict:
    import numba

    from grouper import Grouper
    from grouper.encode import encode

    grouper = Grouper(TABLES_11)
    table = tiled(golden_table(), args.batch)
    enc = encode(table, grouper.pack.compiled)
    grouper.group_batch(enc.batch)  # JIT / cache load
    all_threads = numba.config.NUMBA_NUM_THREADS
    out = {f"encoding records/s ({all_threads} threads, codes taken as written)":
           args.batch / _best(lambda: encode(table, grouper.pack.compiled))}
    for threads in (1, all_threads):
        numba.set_num_threads(threads)
        seconds = _best(lambda: grouper.group_batch(enc.batch))
        out[f"kernel records/s ({threads} thread{'s' if threads > 1 else ''})"] = args.batch / seconds
    numba.set_num_threads(all_threads)
    seconds = _best(lambda: grouper.group_arrow(table))
    out["encode + kernel + results records/s (in memory)"] = args.batch / seconds
    return out


def measure_regional(args) -> dict:
    """Pack load and in-memory grouping of ``--batch`` records with 1.1 and the largest regional packs."""
    import numba

    from grouper import Grouper
    from grouper.encode import encode
    from icd_tables.pack import Pack

    out: dict[str, float] = {}
    speed = {}
    for name in ("chs-drg-1.1", *REGIONAL_BENCH):
        folder = SHARED / "drg-tables" / name
        out[f"{name}: pack compile (cold), s"] = _best(lambda: Pack.load(folder, rebuild=True), 1)
        out[f"{name}: pack load (cached), s"] = _best(lambda: Pack.load(folder), 5)
        grouper = Grouper(folder)
        table = tiled(golden_table(name), args.batch)
        grouper.group_arrow(table.slice(0, 1000))  # JIT / cache load
        enc = encode(table, grouper.pack.compiled)
        numba.set_num_threads(1)
        out[f"{name}: kernel records/s (1 thread)"] = args.batch / _best(
            lambda: grouper.group_batch(enc.batch))
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        speed[name] = args.batch / _best(lambda: grouper.group_arrow(table))
        out[f"{name}: encode + kernel + results records/s (in memory)"] = speed[name]
    for name in REGIONAL_BENCH:
        out[f"{name}: speed / chs-drg-1.1 (in memory)"] = speed[name] / speed["chs-drg-1.1"]
        out[f"{name}: kernel speed / chs-drg-1.1 (1 thread)"] = (
            out[f"{name}: kernel records/s (1 thread)"] / out["chs-drg-1.1: kernel records/s (1 thread)"])
    return out


def measure_encoding(args) -> dict:
    """Encoding (codes formatted as ``drg group`` does) and kernel records/s per thread on ``--batch`` records of
    1.1 (clean and 35% re-spelled), zhejiang-2022 and guangxi-2022, and the regional speeds as ratios of 1.1's
    (:func:`benchmarks.bench_grouping.measure_encoding`)."""
    from benchmarks.bench_grouping import measure_encoding as per_thread

    return per_thread(args.batch, ("chs-drg-1.1", *REGIONAL_BENCH))


def _tiled_file(args, rows: int | None = None) -> Path:
    """The golden 1.1 records tiled to ``rows`` records (default ``--rows``), in ``--workdir``."""
    return Path(args.workdir) / f"golden11-x{rows or args.rows}.parquet"


def measure_stream(args) -> dict:
    import pyarrow.parquet as pq

    from grouper import Grouper

    grouper = Grouper(TABLES_11)
    grouper.group_arrow(golden_table().slice(0, 100))  # JIT / cache load
    source = _tiled_file(args)
    target = Path(args.workdir) / "results.parquet"
    start = time.perf_counter()
    writer = None
    n = 0
    for batch in pq.ParquetFile(source).iter_batches(batch_size=args.stream_batch):
        results = grouper.group_arrow(batch)
        writer = writer or pq.ParquetWriter(target, results.schema)
        writer.write_table(results)
        n += results.num_rows
    writer.close()
    seconds = time.perf_counter() - start
    return {"end-to-end Parquet→Parquet records/s": n / seconds, "end-to-end rows": n, "end-to-end s": seconds}


def _cli_options(args) -> list[str]:
    return ["--pack", str(TABLES_11)] + (["--batch-size", str(args.cli_batch)] if args.cli_batch else [])


def _timed_group(args, rows: int) -> tuple[float, float, subprocess.CompletedProcess, Path]:
    """``drg group`` Parquet→Parquet on the tiled file of ``rows`` records as a user runs it, after one small
    warm-up run: best wall time, peak RSS, the last run, and the warm-up's input (checks a row per record)."""
    import pyarrow.parquet as pq

    target, options = Path(args.workdir) / "cli-results.parquet", _cli_options(args)
    warm = _warm_up("group", target, options)
    seconds, rss, done = _timed_run(_drg("group", str(_tiled_file(args, rows)), "-o", str(target), *options),
                                    args.cli_repeat)
    written = pq.ParquetFile(target).metadata.num_rows
    if written != rows:
        raise RuntimeError(f"drg group wrote {written:,} rows for {rows:,} input rows")
    return seconds, rss, done, warm


def measure_cli(args) -> dict:
    """``drg group`` Parquet→Parquet on the tiled file as a user runs it: wall time and peak RSS of that process,
    and its start-up (the same command on the warm-up's records)."""
    import re

    rows = args.rows
    seconds, rss, done, warm = _timed_group(args, rows)
    target = Path(args.workdir) / "cli-results.parquet"
    started, _, _ = _timed_run(_drg("group", str(warm), "-o", str(target), *_cli_options(args)), args.cli_repeat)
    reported = re.search(r"([\d,]+) records in [\d.]+ s \(([\d,]+) records/s\)", done.stderr)
    return {
        "drg group Parquet→Parquet records/s (whole process)": rows / seconds,
        "drg group records/s (its own summary: after start-up and pack load)":
            float(reported.group(2).replace(",", "")) if reported else float("nan"),
        "drg group s": seconds,
        f"drg group {WARM_ROWS:,} records s (start-up: imports, pack, kernels loaded)": started,
        "drg group records/s after start-up (whole process less the above)": rows / max(seconds - started, 1e-9),
        "drg group peak RSS, MiB": rss,
    }


def measure_cli_big(args) -> dict:
    """``drg group`` as :func:`measure_cli`, on ``--big-rows`` records (10M by default): records/s and peak RSS of
    the whole process."""
    seconds, rss, _, _ = _timed_group(args, args.big_rows)
    label = f"drg group {args.big_rows:,}"
    return {f"{label} records/s (whole process)": args.big_rows / seconds, f"{label} s": seconds,
            f"{label} peak RSS, MiB": rss}


def measure_validate(args) -> dict:
    """``Validator.validate`` (findings, explanation, what-if regrouping) on ``--batch`` records, in memory."""
    from audit.validate import Validator
    from weights import read_published
    from weights.table import WeightMeta

    weights = read_published(SHARED / "weights" / "harbin-2024.csv", WeightMeta(name="harbin-2024"))
    validator = Validator(TABLES_11, weights=weights)
    validator.validate(golden_table().slice(0, 1000))  # JIT / cache load
    table = tiled(golden_table(), args.batch)
    start = time.perf_counter()
    result = validator.validate(table)
    seconds = time.perf_counter() - start
    return {"validate+explain+what-if records/s": args.batch / seconds, "validate s": seconds,
            "validate findings": result.findings.num_rows, "what-if alternatives": result.alternatives.num_rows}


def measure_audit(args) -> dict:
    """The record rules of the validation (``audit.record_rules``) alone on ``--batch`` records."""
    from audit.record_rules import record_findings
    from audit.rulebook import RuleBook
    from icd_tables.pack import Pack

    pack, book = Pack.load(TABLES_11), RuleBook.load()
    record_findings(golden_table().slice(0, 1000), pack, book)  # warm: pack tables, splitter JIT
    table = tiled(golden_table(), args.batch)
    seconds = _best(lambda: record_findings(table, pack, book))
    return {"record rules (质控) records/s": args.batch / seconds, "record rules s": seconds}


def measure_reference(args) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import pandas as pd
    from reference_chs1x import ReferenceGrouper

    records = pd.read_parquet(GOLDEN_11).to_dict("records")
    ref = ReferenceGrouper(TABLES_11)
    seconds = _best(lambda: [ref.group(r) for r in records], 1)
    return {"reference grouper records/s": len(records) / seconds}


def measure_calibrate(args) -> dict:
    """Calibration of ``--rows`` synthetic grouped cases held in memory (calibration/synthetic.py), best of 3."""
    import resource

    from calibration import RelativeWeightCalibrator
    from calibration.synthetic import synthetic_history

    table, _ = synthetic_history(args.rows, n_drgs=650, seed=1, contamination=0.002)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    plain = _best(lambda: RelativeWeightCalibrator("iqr").fit(table))
    weighted = _best(lambda: RelativeWeightCalibrator("iqr", year_weights=[2, 3, 5],
                                                      inflation={2022: 100, 2023: 102, 2024: 105}).fit(table))
    return {"calibrate (iqr) s": plain, "calibrate records/s": args.rows / plain,
            "calibrate (iqr, year weights, inflation) s": weighted,
            "calibrate: peak RSS with the cases in memory before fitting, MiB": before}


def measure_indices(args) -> dict:
    """``performance_indices`` (5 levels, top cases) on ``--rows`` synthetic grouped cases in memory, best of 3."""
    from calibration import RelativeWeightCalibrator
    from calibration.indices import performance_indices
    from calibration.synthetic import synthetic_history

    table, _ = synthetic_history(args.rows, n_drgs=650, seed=1)
    weights = RelativeWeightCalibrator().fit(table).to_weight_table("bench")
    seconds = _best(lambda: performance_indices(table, weights))
    return {"indices records/s": args.rows / seconds, "indices s": seconds}


def _settle_measure(args, kind: str, period: str) -> dict:
    """Settlement of ``--rows`` synthetic grouped cases (500 hospitals) held in memory: prepare + settle, then
    the output tables and their Parquet file; JIT warm-up on a small run first."""
    import pyarrow.parquet as pq

    from benchmarks.test_bench_payment import payment_workload, settle_period
    from payment.tables import case_lines, group_table, hospital_table

    settle_period(payment_workload(1000), kind, period)  # JIT / cache load
    workload = payment_workload(args.rows)
    start = time.perf_counter()
    settlement = settle_period(workload, kind, period)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    lines = case_lines(settlement)
    hospital_table(settlement)
    group_table(settlement, "drg")
    tables = time.perf_counter() - start
    start = time.perf_counter()
    pq.write_table(lines, Path(args.workdir) / f"settle-{kind}.parquet")
    write = time.perf_counter() - start
    return {f"settle {kind}: prepare + settle, s": seconds, f"settle {kind}: cases/s": args.rows / seconds,
            f"settle {kind}: output tables, s": tables, f"settle {kind}: case lines to Parquet, s": write}


def measure_settle_rules(args) -> dict:
    """Today's year and June runs and the same with every combinable year-end rule on (issue 18: corridor bands,
    totals, minimum volumes, coefficient on the fund, fixed point value, half-yearly release and carry-forward
    through the ledger), on the same ``--rows`` workload in one process: prepare + settle (+ ledger entries)."""
    from benchmarks.test_bench_payment import (months_ledger, payment_workload, record, settle_period,
                                               with_year_end_rules)
    from payment.ledger import Ledger

    small = payment_workload(1000)
    settle_period(small, "year", "2024")
    settle_period(with_year_end_rules(small), "year", "2024", months_ledger(with_year_end_rules(small), 12))
    workload = payment_workload(args.rows)
    out, runs = {}, {}
    for fixed, name in ((True, "fund coefficient, fixed value"), (False, "budget rescaled")):
        rules = with_year_end_rules(workload, fixed)
        start = time.perf_counter()
        ledger = months_ledger(rules, 12)
        out[f"rules ({name}): 12 month runs recorded in the ledger, s"] = time.perf_counter() - start
        june = Ledger(tuple(e for e in ledger.entries if e["run"] < "2024-06"))
        runs[name] = (rules, {"year": ledger, "month": june})
    times: dict[str, list[float]] = {}
    for _ in range(3):  # interleaved, so that a busy machine slows each variant alike; best of 3 each
        for kind, period in (("year", "2024"), ("month", "2024-06")):
            start = time.perf_counter()
            settle_period(workload, kind, period)
            times.setdefault(f"settle {kind} {period} today, s", []).append(time.perf_counter() - start)
            for name, (rules, ledgers) in runs.items():
                start = time.perf_counter()
                record(settle_period(rules, kind, period, ledgers[kind]))
                times.setdefault(f"settle {kind} {period} with the rules ({name}), s", []).append(
                    time.perf_counter() - start)
    for key, values in times.items():
        out[key] = min(values)
    for kind, period in (("year", "2024"), ("month", "2024-06")):
        for name in runs:
            out[f"settle {kind} {period} rules ({name}) ÷ today"] = (
                out[f"settle {kind} {period} with the rules ({name}), s"] / out[f"settle {kind} {period} today, s"])
    return out


def measure_settle_year(args) -> dict:
    return _settle_measure(args, "year", "2024")


def measure_settle_month(args) -> dict:
    return _settle_measure(args, "month", "2024-03")


def measure_screens(args) -> dict:
    """Audit screens (``Screener.screen``) on ``--rows`` synthetic grouped cases with patient ids, in memory, best of 3."""
    import resource

    from audit.screens import Screener
    from audit.screens.synthetic import synthetic_month

    cases, _, weights, _ = synthetic_month(args.rows, seed=3)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    screener = Screener(weights=weights)
    seconds = _best(lambda: screener.screen(cases))
    return {"audit screens s": seconds, "audit screens records/s": cases.num_rows / seconds,
            "audit screens: peak RSS with the cases in memory before screening, MiB": before}


def measure_xlsx(args) -> dict:
    """``--batch`` validation findings (golden 1.1 with the Harbin 2024 weights, tiled) written to XLSX as
    ``drg validate -o findings.xlsx`` writes them (Chinese headers, frozen header, filter, widths), with a
    progress bar on stderr; then read back through ``foundation.files.read_text_table`` and compared."""
    import pyarrow as pa

    from api.cli.labels import labels_zh
    from audit.validate import Validator
    from foundation.files import read_text_table, write_table
    from weights import read_published
    from weights.table import WeightMeta

    weights = read_published(SHARED / "weights" / "harbin-2024.csv", WeightMeta(name="harbin-2024"))
    findings = Validator(TABLES_11, weights=weights).validate(golden_table()).findings
    findings = tiled(findings, args.batch) if findings.num_rows < args.batch else findings.slice(0, args.batch)
    findings = findings.set_column(1, "row_no", pa.array(range(1, findings.num_rows + 1), pa.int64()))
    path = Path(args.workdir) / "bench-findings.xlsx"
    updates = []

    def bar(done: int, total: int) -> None:
        updates.append(done)
        filled = 30 * done // max(total, 1)
        print(f"\r  [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,} rows", end="", file=sys.stderr, flush=True)

    start = time.perf_counter()
    write_table(findings, path, sheet="问题清单 findings", labels=labels_zh(), progress=bar)
    seconds = time.perf_counter() - start
    print(file=sys.stderr)
    start = time.perf_counter()
    back = read_text_table(path)
    read_seconds = time.perf_counter() - start
    same = back.column_names == findings.column_names and back.num_rows == findings.num_rows and all(
        back.column(name).to_pylist() == [None if v is None else str(v) for v in findings.column(name).to_pylist()]
        for name in ("case_id", "row_no", "rule_id", "message_zh"))
    return {"xlsx findings": findings.num_rows, "xlsx write s": seconds, "xlsx progress updates": len(updates),
            "xlsx MiB": path.stat().st_size / 2**20, "xlsx read back s": read_seconds, "xlsx reads back the same": same}


def _drg(*argv: str) -> list[str]:
    return [sys.executable, "-m", "api.cli", *argv]


def _user_env() -> dict[str, str]:
    """This environment as a user's install has it: Python keeps the compiled modules it writes.

    A sandbox's ``PYTHONDONTWRITEBYTECODE`` would make every run compile the project's modules
    again, a cost no installed ``drg`` pays.
    """
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _warm_up(command: str, target: Path, options: list[str]) -> Path:
    """A small run of ``drg command`` first (the JIT cache, the compiled pack and the modules' bytecode); its
    input file of :data:`WARM_ROWS` records."""
    import pyarrow.parquet as pq

    warm = target.with_name("golden11-warm.parquet")
    pq.write_table(golden_table().slice(0, WARM_ROWS), warm)
    subprocess.run(_drg(command, str(warm), "-o", str(target), *options), capture_output=True, check=True,
                   cwd=Path(__file__).resolve().parents[1], env=_user_env())
    return warm


def _timed_run(cmd: list[str], repeat: int) -> tuple[float, float, subprocess.CompletedProcess]:
    """Best wall time of ``repeat`` runs of ``cmd`` (each its own process) and the peak RSS (MiB) of any of them."""
    import resource

    repo = Path(__file__).resolve().parents[1]
    best, done = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=_user_env())
        best = min(best, time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[2:4])} exited {done.returncode}: {done.stderr[-2000:]}")
    return best, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, done


def measure_startup(args) -> dict:
    """``drg --help`` as a user starts it, best of 5 (needs nothing from ``../shared``)."""
    seconds, _, _ = _timed_run(_drg("--help"), 5)
    return {"drg --help s (whole process)": seconds}


def measure_cli_validate(args) -> dict:
    """``drg validate`` on the tiled file (the same one as ``cli``), whole process, best of ``--cli-repeat``."""
    source = _tiled_file(args)
    target, options = Path(args.workdir) / "cli-findings.parquet", _cli_options(args)
    warm = _warm_up("validate", target, options)
    started, _, _ = _timed_run(_drg("validate", str(warm), "-o", str(target), *options), args.cli_repeat)
    seconds, rss, _ = _timed_run(_drg("validate", str(source), "-o", str(target), *options), args.cli_repeat)
    return {"drg validate records/s (whole process)": args.rows / seconds, "drg validate s": seconds,
            f"drg validate {WARM_ROWS:,} records s (start-up)": started,
            "drg validate records/s after start-up": args.rows / max(seconds - started, 1e-9),
            "drg validate peak RSS, MiB": rss}


def _synthetic_records(n: int, path: Path) -> Path:
    """``n`` generated records of the bundled example pack (one hospital, unique case ids) as Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from icd_tables.pack import Pack
    from icd_tables.sample import sample_records

    if path.is_file() and pq.ParquetFile(path).metadata.num_rows == n:
        return path
    base = pa.Table.from_pandas(sample_records(Pack.load("example-mini").compiled, min(n, 100_000), seed=5),
                                preserve_index=False)
    table = pa.concat_tables([base] * -(-n // base.num_rows)).slice(0, n)
    table = table.set_column(table.column_names.index("case_id"), "case_id",
                             pa.array([f"B{i:08d}" for i in range(n)]))
    table = table.set_column(table.column_names.index("hospital_id"), "hospital_id", pa.repeat(pa.scalar("H001"), n))
    pq.write_table(table, path)
    return path


def _fast_record(service) -> dict:
    """A generated record of the example pack with a department, as hospitals send them, that groups (so that
    it takes the service's fast path)."""
    from icd_tables.sample import sample_records

    frame = sample_records(service.engine.grouper.pack.compiled, 200, seed=7, fault_rate=0)
    for row in frame.to_dict("records"):
        record = {k: (int(v) if hasattr(v, "item") and not isinstance(v, float) else v) for k, v in row.items()
                  if v is not None and v == v and v != "" and k != "hospital_id"}
        record["dept"] = "呼吸内科"
        if service.fast.group(record) is not None:
            return record
    raise RuntimeError("no generated record takes the fast path")


def _example_weights(path: Path) -> Path:
    """Hand-set relative weights (0.5 + 0.25 k for the k-th DRG) of the example pack, so that the service prices
    as a deployment with weights and a policy does (not a calibration)."""
    from decimal import Decimal

    import pandas as pd

    from icd_tables.pack import Pack
    from weights import WeightMeta, WeightTable

    codes = [c for c in Pack.load("example-mini").compiled.drg_codes.to_pylist() if c and c != "0000"]
    frame = pd.DataFrame({"drg": codes, "rw": [Decimal("0.5") + Decimal("0.25") * k for k in range(len(codes))]})
    WeightTable(WeightMeta("bench-weights", region="示例市", year=2024), frame).write(path)
    return path


def measure_service(args) -> dict:
    """One record through ``POST /v1/group`` in process (FastAPI's test client, DuckDB in memory, the example
    pack with weights and the example policy, so that each answer carries its expected payment as a
    deployment's does): plain and ``?validate=true``, 1,000 requests each after 50 of warm-up; p50 and p99 in
    ms."""
    import numpy as np
    from fastapi.testclient import TestClient

    from api.service.app import create_app
    from api.service.auth import Principal, create_key
    from api.service.settings import Settings
    from api.service.single import group_one
    from payment.run import EXAMPLE_POLICY

    app = create_app(Settings(database_url="duckdb:///:memory:", pack="example-mini", rate_limit_per_s=0,
                              weights=_example_weights(Path(args.workdir) / "bench-weights.parquet"),
                              policy=EXAMPLE_POLICY, job_dir=Path(args.workdir) / "bench-jobs"))
    out = {}

    def percentiles(label: str, call) -> None:
        times = []
        for _ in range(1050):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        times = np.array(times[50:]) * 1000
        out[f"{label} p50, ms"] = float(np.percentile(times, 50))
        out[f"{label} p99, ms"] = float(np.percentile(times, 99))

    def post(query: str) -> None:
        answer = client.post(f"/v1/group{query}", json=record, headers=headers)
        if answer.status_code != 200:
            raise RuntimeError(f"POST /v1/group{query}: {answer.status_code} {answer.text[:300]}")

    with TestClient(app) as client:
        service = app.state.service
        headers = {"Authorization": f"Bearer {create_key(service.db, 'hospital', 'H001')[1]}"}
        principal = Principal("bench", "hospital", "H001")
        record = _fast_record(service)
        for label, validate in (("group + payment", False), ("validated + payment", True)):
            percentiles(f"service single {label} (group_one, in process)",
                        lambda: group_one(service, principal, record, validate=validate, store=False))
            percentiles(f"service single {label} request (HTTP, test client)",
                        lambda: post("?validate=true" if validate else ""))
    return out


def _upload(args, url: str, schema: str, label: str) -> dict:
    """``--upload-rows`` generated records stored as one upload (``api.service.uploads.process``: intake,
    grouping, storing): new cases, then the same cases again (each replacing its current version)."""
    from types import SimpleNamespace

    from api.service.auth import Principal
    from api.service.db import Database
    from api.service.engine import Engine
    from api.service.uploads import batches, process

    path = _synthetic_records(args.upload_rows, Path(args.workdir) / f"upload-{args.upload_rows}.parquet")
    engine = Engine("example-mini")
    db = Database(url, schema)
    db.migrate()
    service, principal = SimpleNamespace(engine=engine, db=db), Principal("bench", "hospital", "H001")
    small = _synthetic_records(1000, Path(args.workdir) / "upload-1000.parquet")
    process(service, principal, batches(small, engine.grouper.pack), "warm", validate=False)  # JIT / cache load
    out = {}
    try:
        for kind in ("new cases", "replacing"):
            start = time.perf_counter()
            done = process(service, principal, batches(path, engine.grouper.pack), f"bench-{kind}", validate=False)
            out[f"upload {label} {args.upload_rows:,} ({kind}), s"] = time.perf_counter() - start
            out[f"upload {label} ({kind}) records/s"] = done["n_records"] / out[f"upload {label} "
                                                                                f"{args.upload_rows:,} ({kind}), s"]
    finally:
        if db.dialect == "postgresql":
            with db.connect() as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
        db.close()
    return out


def measure_upload_duckdb(args) -> dict:
    path = Path(args.workdir) / f"bench-upload-{os.getpid()}.duckdb"
    try:
        return _upload(args, f"duckdb:///{path}", "public", "DuckDB")
    finally:
        path.unlink(missing_ok=True)


def measure_upload_postgresql(args) -> dict:
    return _upload(args, PG_URL, f"bench_{os.getpid()}", "PostgreSQL")


def _postgres_version() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception:  # not reachable: the PostgreSQL rows are skipped and the table says why
        return None


def machine() -> dict[str, str]:
    """CPU, cores and the versions of what the figures depend on."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"CPU": cpu, "cores": str(os.cpu_count()), "python": platform.python_version(),
            "load average (1 min) at start": f"{os.getloadavg()[0]:.2f}"}
    for package in ("numba", "numpy", "pyarrow", "duckdb", "psycopg"):
        try:
            info[package] = version(package)
        except PackageNotFoundError:
            info[package] = "not installed"
    info["postgres"] = _postgres_version() or f"not reachable at {PG_URL.split('@')[-1]}"
    return info


MEASURES = {"startup": measure_startup, "load": measure_load, "kernel": measure_kernel, "encoding": measure_encoding,
            "regional": measure_regional,
            "stream": measure_stream, "cli": measure_cli, "cli_big": measure_cli_big,
            "cli_validate": measure_cli_validate,
            "service": measure_service, "upload_duckdb": measure_upload_duckdb,
            "upload_postgresql": measure_upload_postgresql,
            "validate": measure_validate, "audit": measure_audit,
            "reference": measure_reference, "calibrate": measure_calibrate, "indices": measure_indices,
            "settle_year": measure_settle_year, "settle_month": measure_settle_month,
            "settle_rules": measure_settle_rules,
            "screens": measure_screens, "xlsx": measure_xlsx}
#: The measures of issue 24's table (``--only issue24``).
ISSUE_24 = ("startup", "kernel", "encoding", "cli", "cli_big", "cli_validate", "service", "upload_duckdb",
            "upload_postgresql")
#: Measures that need nothing from ``../shared`` (generated records and the bundled example pack).
SYNTHETIC = {"startup", "calibrate", "indices", "settle_year", "settle_month", "settle_rules", "screens",
             "service", "upload_duckdb", "upload_postgresql"}


def _child(name: str, args) -> dict:
    import resource

    result = MEASURES[name](args)
    result[f"{name}: peak RSS, MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000, help="records of the cli_big measure")
    parser.add_argument("--batch", type=int, default=1_000_000, help="records for the in-memory measures")
    parser.add_argument("--stream-batch", type=int, default=250_000, help="batch size of the stream measure")
    parser.add_argument("--cli-batch", type=int, help="--batch-size for the cli measure (default: drg's own)")
    parser.add_argument("--cli-repeat", type=int, default=2, help="runs of each whole-process drg command (best)")
    parser.add_argument("--upload-rows", type=int, default=1_000_000, help="records of the upload measures")
    parser.add_argument("--workdir", default=tempfile.gettempdir())
    parser.add_argument("--only", choices=sorted(MEASURES) + ["issue24"], action="append",
                        help="measures to run (issue24: the measures of that issue's table); default all")
    parser.add_argument("--child", choices=sorted(MEASURES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args)))
        return
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    chosen = [m for name in (args.only or list(MEASURES)) for m in (ISSUE_24 if name == "issue24" else (name,))]
    chosen = list(dict.fromkeys(chosen))
    notes = []
    if not have_golden():
        skipped = [m for m in chosen if m not in SYNTHETIC]
        if skipped:
            notes.append(f"skipped (need the golden records at {GOLDEN_11}; set DRG_SHARED_DIR): {', '.join(skipped)}")
        chosen = [m for m in chosen if m in SYNTHETIC]
    info = machine()
    if "upload_postgresql" in chosen and info["postgres"].startswith("not reachable"):
        notes.append(f"skipped: upload_postgresql (PostgreSQL {info['postgres']}; set DRG_TEST_DATABASE_URL)")
        chosen.remove("upload_postgresql")
    results: dict[str, float] = {}
    if {"cli", "cli_validate", "stream"} & set(chosen):
        write_tiled_parquet(_tiled_file(args), args.rows)  # here, so no measure's peak memory includes it
    if "cli_big" in chosen:
        write_tiled_parquet(_tiled_file(args, args.big_rows), args.big_rows)
    for name in chosen:
        cmd = [sys.executable, __file__, "--child", name, "--rows", str(args.rows), "--batch", str(args.batch),
               "--stream-batch", str(args.stream_batch), "--workdir", args.workdir, "--cli-repeat",
               str(args.cli_repeat), "--upload-rows", str(args.upload_rows), "--big-rows", str(args.big_rows)]
        if args.cli_batch:
            cmd += ["--cli-batch", str(args.cli_batch)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            notes.append(f"failed: {name} ({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode})")
            continue
        results.update(json.loads(done.stdout.strip().splitlines()[-1]))
    if "reference grouper records/s" in results and "end-to-end Parquet→Parquet records/s" in results:
        results["speed-up end-to-end / reference"] = (
            results["end-to-end Parquet→Parquet records/s"] / results["reference grouper records/s"]
        )
    if "drg validate s" in results and "drg group s" in results:
        results["drg validate ÷ drg group (whole process, same file)"] = results["drg validate s"] / results["drg group s"]
    print_table(info, results, notes)


def print_table(info: dict[str, str], results: dict[str, float], notes: list[str]) -> None:
    """One table: the machine and versions first, then every figure, then what was skipped and why."""
    rows = [(key, value) for key, value in info.items()]
    rows += [(key, f"{value:,.3f}" if isinstance(value, float) and abs(value) < 100 else
              f"{value:,.0f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value))
             for key, value in results.items()]
    width = max(len(key) for key, _ in rows)
    print(f"{'measure':<{width}}  value")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for note in notes:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
