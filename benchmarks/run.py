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
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.workload import GOLDEN_11, SHARED, TABLES_11, golden_table, have_golden, tiled, write_tiled_parquet  # noqa: E402

#: The largest regional packs (by DRG count), measured beside 1.1.
REGIONAL_BENCH = ("zhejiang-2022", "guangxi-2022")


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
    out = {"encoding records/s": args.batch / _best(lambda: encode(table, grouper.pack.compiled))}
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        seconds = _best(lambda: grouper.group_batch(enc.batch))
        out[f"kernel records/s ({threads} thread{'s' if threads > 1 else ''})"] = args.batch / seconds
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
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


def _tiled_file(args) -> Path:
    return Path(args.workdir) / f"golden11-x{args.rows}.parquet"


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


def measure_cli(args) -> dict:
    """``drg group`` Parquet→Parquet on the tiled file as a user runs it: wall time and peak RSS of that process."""
    import resource

    import pyarrow.parquet as pq

    source = _tiled_file(args)
    target = Path(args.workdir) / "cli-results.parquet"
    repo = Path(__file__).resolve().parents[1]
    drg = [sys.executable, "-m", "api.cli", "group"]
    options = ["--pack", str(TABLES_11)] + (["--batch-size", str(args.cli_batch)] if args.cli_batch else [])
    warm = Path(args.workdir) / "golden11-warm.parquet"  # a small run first: JIT cache and compiled pack
    pq.write_table(golden_table().slice(0, 1000), warm)
    subprocess.run(drg + [str(warm), "-o", str(target), *options], cwd=repo, capture_output=True, check=True)
    start = time.perf_counter()
    done = subprocess.run(drg + [str(source), "-o", str(target), *options], cwd=repo, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"drg group exited {done.returncode}: {done.stderr[-2000:]}")
    rows = pq.ParquetFile(target).metadata.num_rows
    if rows != args.rows:
        raise RuntimeError(f"drg group wrote {rows:,} rows for {args.rows:,} input rows")
    import re

    reported = re.search(r"([\d,]+) records in [\d.]+ s \(([\d,]+) records/s\)", done.stderr)
    return {
        "drg group Parquet→Parquet records/s (whole process)": rows / seconds,
        "drg group records/s (its own summary: after start-up and pack load)":
            float(reported.group(2).replace(",", "")) if reported else float("nan"),
        "drg group s": seconds,
        # the largest child so far: the timed run (the warm-up run is far smaller)
        "drg group peak RSS, MiB": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


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


MEASURES = {"load": measure_load, "kernel": measure_kernel, "regional": measure_regional, "stream": measure_stream, "cli": measure_cli,
            "validate": measure_validate, "audit": measure_audit,
            "reference": measure_reference, "calibrate": measure_calibrate, "indices": measure_indices,
            "settle_year": measure_settle_year, "settle_month": measure_settle_month,
            "settle_rules": measure_settle_rules,
            "screens": measure_screens}


def _child(name: str, args) -> dict:
    import resource

    result = MEASURES[name](args)
    result[f"{name}: peak RSS, MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=1_000_000, help="records for the in-memory measures")
    parser.add_argument("--stream-batch", type=int, default=250_000, help="batch size of the stream measure")
    parser.add_argument("--cli-batch", type=int, help="--batch-size for the cli measure (default: drg's own)")
    parser.add_argument("--workdir", default=tempfile.gettempdir())
    parser.add_argument("--only", choices=sorted(MEASURES), action="append")
    parser.add_argument("--child", choices=sorted(MEASURES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args)))
        return
    if not have_golden():
        sys.exit(f"benchmarks need the golden records: {GOLDEN_11} not found (set DRG_SHARED_DIR)")
    results: dict[str, float] = {}
    write_tiled_parquet(_tiled_file(args), args.rows)  # here, so no measure's peak memory includes it
    for name in args.only or list(MEASURES):
        cmd = [sys.executable, __file__, "--child", name, "--rows", str(args.rows),
               "--batch", str(args.batch), "--stream-batch", str(args.stream_batch), "--workdir", args.workdir]
        if args.cli_batch:
            cmd += ["--cli-batch", str(args.cli_batch)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results.update(json.loads(done.stdout.strip().splitlines()[-1]))
    if "reference grouper records/s" in results and "end-to-end Parquet→Parquet records/s" in results:
        results["speed-up end-to-end / reference"] = (
            results["end-to-end Parquet→Parquet records/s"] / results["reference grouper records/s"]
        )
    width = max(map(len, results))
    print(f"{'measure':<{width}}  value")
    for key, value in results.items():
        print(f"{key:<{width}}  {value:,.3f}" if value < 100 else f"{key:<{width}}  {value:,.0f}")


if __name__ == "__main__":
    main()
