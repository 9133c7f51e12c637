"""The ``drg`` command line.

Exit codes: 0 every input row got an output row (whatever the statuses);
2 usage error; 3 unreadable input or pack; 4 ``--fail-on`` statuses present.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import pyarrow as pa

from api.files import InputError, ResultWriter, count_rows, read_batches
from grouper import Grouper, RecordSchemaError
from icd_tables.errors import PackError
from icd_tables.pack import DEFAULT_PACK, Pack, available_packs, import_pack
from icd_tables.sample import sample_records

EXIT_OK, EXIT_USAGE, EXIT_INPUT, EXIT_FAIL_ON = 0, 2, 3, 4


class Summary:
    """Counts per status and reason, and throughput, printed at the end of a run."""

    def __init__(self) -> None:
        self.rows = 0
        self.status = collections.Counter()
        self.status_zh = collections.Counter()
        self.reasons = collections.Counter()
        self.started = time.perf_counter()

    def add(self, results: pa.Table) -> None:
        self.rows += results.num_rows
        for column, counter in (("status", self.status), ("status_zh", self.status_zh)):
            counts = results.column(column).value_counts()
            counter.update({v["values"].as_py(): v["counts"].as_py() for v in counts})
        invalid = results.filter(pa.compute.not_equal(results.column("reason_detail"), ""))
        self.reasons.update(invalid.column("reason_detail").to_pylist())

    def print(self, out=sys.stderr) -> None:
        seconds = time.perf_counter() - self.started
        print(f"\n{self.rows:,} records in {seconds:.1f} s ({self.rows / max(seconds, 1e-9):,.0f} records/s)", file=out)
        print("状态 status:", file=out)
        for name, n in self.status_zh.most_common():
            print(f"  {name:<24} {n:>10,}  {100 * n / max(self.rows, 1):5.1f}%", file=out)
        if self.reasons:
            print("主要原因 top reasons:", file=out)
            for reason, n in self.reasons.most_common(5):
                print(f"  {n:>8,}  {reason}", file=out)


def _progress(done: int, total: int | None, started: float) -> None:
    if not sys.stderr.isatty():
        return
    rate = done / max(time.perf_counter() - started, 1e-9)
    share = f"{100 * done / total:5.1f}% " if total else ""
    print(f"\r  {share}{done:,} records  {rate:,.0f}/s", end="", file=sys.stderr, flush=True)


def cmd_group(args) -> int:
    grouper = Grouper(Pack.load(args.pack))
    total = count_rows(args.input)
    summary = Summary()
    writer = ResultWriter(args.output)
    row_no = 1
    try:
        for table in read_batches(args.input, args.batch_size):
            results = grouper.group_arrow(table, first_row_no=row_no)
            if args.keep_input:
                for name in table.column_names:
                    if name not in results.column_names:
                        results = results.append_column(name, table.column(name))
            writer.write(results)
            summary.add(results)
            row_no += table.num_rows
            _progress(summary.rows, total, summary.started)
        if summary.rows == 0:
            writer.write(grouper.group_arrow([]))
    except BaseException:
        writer.abort()
        raise
    writer.close()
    summary.print()
    print(f"结果 results: {args.output}  (pack {grouper.pack_version})", file=sys.stderr)
    failing = sum(summary.status[s] for s in args.fail_on or ())
    return EXIT_FAIL_ON if failing else EXIT_OK


def cmd_demo(args) -> int:
    pack = Pack.load(args.pack)
    grouper = Grouper(pack)
    records = sample_records(pack.compiled, args.n, seed=args.seed)
    summary = Summary()
    results = grouper.group_arrow(records)
    summary.add(results)
    frame = results.to_pandas()
    print(f"分组方案 pack: {pack.version} — {pack.manifest.description}")
    shown = frame.assign(principal_dx=records["principal_dx"], secondary_dx=records["secondary_dx"],
                         procedures=records["procedures"])
    print(shown[["case_id", "principal_dx", "secondary_dx", "procedures", "drg", "drg_name", "status_zh"]]
          .head(args.show).to_string(index=False))
    top = frame[frame.status == "ok"].groupby(["drg", "drg_name"]).size().sort_values(ascending=False)
    print("\n病例数最多的DRG top DRGs:")
    print(top.head(10).to_string())
    summary.print(sys.stdout)
    if args.output:
        writer = ResultWriter(args.output)
        writer.write(results)
        writer.close()
        print(f"结果 results: {args.output}")
    return EXIT_OK


def cmd_packs_list(args) -> int:
    packs = available_packs()
    if not packs:
        print("no packs found")
    for name, folder in packs.items():
        try:
            pack = Pack.load(folder)
            print(f"{name:<20} {pack.version:<28} {pack.manifest.scheme} {pack.manifest.version}  {folder}")
        except PackError as exc:
            print(f"{name:<20} UNUSABLE: {exc}")
    return EXIT_OK


def cmd_packs_import(args) -> int:
    target = import_pack(args.source, args.name, region=args.region, force=args.force)
    pack = Pack.load(target)
    print(f"imported {pack.version} into {target}")
    return EXIT_OK


def cmd_packs_show(args) -> int:
    pack = Pack.load(args.pack)
    m, c = pack.manifest, pack.compiled
    print(f"{m.name} ({pack.version})\n  scheme {m.scheme} {m.version}, region {m.region}\n  source {m.source}")
    if m.description:
        print(f"  {m.description}")
    print(f"  {len(c.mdc_codes)} MDC, {len(c.adrg_codes)} ADRG, {len(c.drg_codes) - 1} DRG, "
          f"{len(c.dx_inputs):,} diagnosis and {len(c.proc_inputs):,} procedure input codes")
    for rel, sha in m.files.items():
        print(f"  {sha[:16]}  {rel}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drg", description="CHS-DRG 分组与支付引擎 grouping and payment engine")
    sub = parser.add_subparsers(dest="command", required=True)

    group = sub.add_parser("group", help="group a file of records 分组")
    group.add_argument("input", type=Path, help="records: .parquet, .csv or .jsonl")
    group.add_argument("-o", "--output", type=Path, required=True, help="results: .parquet or .csv")
    group.add_argument("--pack", default=DEFAULT_PACK, help="pack name or folder (default: %(default)s)")
    group.add_argument("--batch-size", type=int, default=1_000_000, help="records per batch")
    group.add_argument("--keep-input", action="store_true", help="append the input columns to the results")
    group.add_argument("--fail-on", action="append", choices=["invalid", "ungroupable", "qy"],
                       help="exit 4 when records with this status exist")
    group.set_defaults(func=cmd_group)

    demo = sub.add_parser("demo", help="group generated records with the bundled example pack")
    demo.add_argument("--pack", default=DEFAULT_PACK)
    demo.add_argument("-n", type=int, default=10_000, help="number of records (default %(default)s)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--show", type=int, default=10, help="result rows to print")
    demo.add_argument("-o", "--output", type=Path)
    demo.set_defaults(func=cmd_demo)

    packs = sub.add_parser("packs", help="definition packs 分组方案")
    packs_sub = packs.add_subparsers(dest="packs_command", required=True)
    packs_sub.add_parser("list", help="list bundled and imported packs").set_defaults(func=cmd_packs_list)
    imp = packs_sub.add_parser("import", help="import a pack or a CHS-DRG 1.x table folder")
    imp.add_argument("source", type=Path)
    imp.add_argument("--name")
    imp.add_argument("--region")
    imp.add_argument("--force", action="store_true")
    imp.set_defaults(func=cmd_packs_import)
    show = packs_sub.add_parser("show", help="describe a pack")
    show.add_argument("pack")
    show.set_defaults(func=cmd_packs_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "batch_size", 1) < 1:
        print("drg: --batch-size must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except (InputError, PackError, RecordSchemaError) as exc:
        print(f"drg: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
