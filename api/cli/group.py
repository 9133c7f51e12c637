"""``drg group`` and ``drg demo``: group a file of records, or generated ones."""

from __future__ import annotations

import argparse
import codecs
import collections
import sys
import time
from pathlib import Path

import pyarrow as pa

from api.cli import spark
from api.cli.commands import help_of
from api.cli.exits import EXIT_FAIL_ON, EXIT_OK, UsageError
from api.cli.options import positive
from api.cli.labels import RESULT_LABELS_ZH, add_xlsx_split
from api.cli.progress import Progress, compile_notice, writing
from api.grouping import BatchGrouper
from foundation import files
from foundation.arrow_columns import value_counts
from foundation.background import BackgroundWriter, prefetched
from foundation.files import OutputError, ResultWriter
from grouper import Grouper
from icd_tables.intake.reader import open_records
from icd_tables.pack import EXAMPLE_PACK, Pack
from icd_tables.sample import sample_records

#: Input columns the grouper reads (others are read only with --keep-input).
GROUPING_FIELDS = ("case_id", "sex", "age_years", "age_days", "birth_weight_g", "admission_weight_g",
                   "principal_dx", "secondary_dx", "procedures", "principal_procedure", "other_procedures")


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
        self.status.update(value_counts(results.column("status")))
        self.status_zh.update(value_counts(results.column("status_zh")))
        reasons = value_counts(results.column("reason_detail"))
        self.reasons.update({reason: n for reason, n in reasons.items() if reason})

    def print(self, out=None, warnings: dict | None = None, reformatted: int = 0) -> None:
        out = out or sys.stderr
        seconds = time.perf_counter() - self.started
        print(f"\n{self.rows:,} records in {seconds:.1f} s ({self.rows / max(seconds, 1e-9):,.0f} records/s)", file=out)
        print("状态 status:", file=out)
        for name, n in _most_common(self.status_zh):
            print(f"  {name:<24} {n:>10,}  {100 * n / max(self.rows, 1):5.1f}%", file=out)
        if self.reasons:
            print("主要原因 top reasons:", file=out)
            for reason, n in _most_common(self.reasons)[:5]:
                print(f"  {n:>8,}  {reason}", file=out)
        if reformatted:
            print(f"代码格式已规范 codes reformatted (spaces, full width, separators, case): {reformatted:,} records",
                  file=out)
        if warnings:
            print("提示 warnings (column 'warnings'):", file=out)
            for text, n in collections.Counter(warnings).most_common():
                print(f"  {n:>8,}  {text}", file=out)


def _most_common(counts: collections.Counter) -> list[tuple[str, int]]:
    """Most frequent first, equal counts in text order (the same lines however the batches were counted)."""
    return sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))


def cmd_group(args) -> int:
    if args.engine == "spark":
        return spark.group(args)
    if args.encoding:
        try:
            codecs.lookup(args.encoding)
        except LookupError:
            raise UsageError(f"unknown encoding {args.encoding!r} (try utf-8, gb18030)") from None
    files.output_format(args.output)
    if args.output.resolve() == args.input.resolve():
        raise UsageError("the output would overwrite the input; choose another -o")
    record_file = open_records(args.input, columns=args.columns, encoding=args.encoding)
    source, plan = record_file.source, record_file.plan
    for note in plan.notes:
        print(f"drg: note: {note}", file=sys.stderr)
    if args.verbose:
        print(f"drg: reading {args.input} ({source.describe()}); columns:\n{plan.describe()}", file=sys.stderr)
    if files.output_format(args.output) == "xlsx" and not args.xlsx_split:
        rows = source.count_rows()
        if rows is not None and rows > files.XLSX_MAX_ROWS - 1:
            raise OutputError(
                f"{args.input} has {rows:,} records; an XLSX sheet holds at most {files.XLSX_MAX_ROWS - 1:,}. "
                f"Write .parquet or .csv instead, or give --xlsx-split to spread them over sheets."
            )
    grouper = Grouper(Pack.load(args.pack))
    plan = plan.only(GROUPING_FIELDS)
    batcher = BatchGrouper(grouper, plan, normalize=not args.no_normalize, keep_input=args.keep_input,
                           input_as_text=source.format != "parquet", excel_serials=record_file.excel_serials,
                           rows=source.known_rows(), background=True)
    wanted = None if args.keep_input else [source.names[i] for i in plan.used_columns()]
    with compile_notice():
        grouper.warm_up()
    summary = Summary()
    progress = Progress(source.known_rows())
    writer = BackgroundWriter(ResultWriter(args.output, sheet="分组结果 results", labels=RESULT_LABELS_ZH,
                                            split=args.xlsx_split, progress=writing(args.output.name)))
    row_no = 1
    try:
        for raw in prefetched(source.batches(args.batch_size, wanted)):
            results = batcher(raw, row_no)
            writer.write(results)
            summary.add(results)
            row_no += raw.num_rows
            progress.update(summary.rows)
        if summary.rows == 0:
            empty = pa.table({name: pa.array([], pa.string()) for name in (wanted or source.names)})
            writer.write(batcher(empty, 1))
        writer.close()
    except BaseException:
        progress.finish()
        writer.abort()
        raise
    progress.finish()
    summary.print(warnings=batcher.warning_counts, reformatted=batcher.reformatted)
    print(f"结果 results: {args.output}  (pack {grouper.pack_version})", file=sys.stderr)
    failing = sum(summary.status[s] for s in args.fail_on or ())
    if failing:
        print(f"drg: {failing:,} records with status {', '.join(args.fail_on)} (--fail-on)", file=sys.stderr)
    return EXIT_FAIL_ON if failing else EXIT_OK


def cmd_demo(args) -> int:
    pack = Pack.load(args.pack)
    grouper = Grouper(pack)
    records = sample_records(pack.compiled, args.n, seed=args.seed)
    with compile_notice():
        grouper.warm_up()
    summary = Summary()
    results = grouper.group_arrow(records)
    summary.add(results)
    frame = results.to_pandas()
    print(f"分组方案 pack: {pack.version} — {pack.manifest.description}")
    shown = frame.assign(principal_dx=records["principal_dx"], secondary_dx=records["secondary_dx"],
                         procedures=records["procedures"])
    print(shown[["case_id", "principal_dx", "secondary_dx", "procedures", "drg", "drg_name", "status_zh"]]
          .head(args.show).to_string(index=False))
    top = frame[frame.status == "ok"].groupby(["drg", "drg_name"], observed=True).size().sort_values(ascending=False)
    print("\n病例数最多的DRG top DRGs:")
    print(top.head(10).to_string())
    summary.print(sys.stdout)
    if args.output:
        writer = ResultWriter(args.output, sheet="分组结果 results", labels=RESULT_LABELS_ZH)
        writer.write(results)
        writer.close()
        print(f"结果 results: {args.output}")
    return EXIT_OK


GROUP_EPILOG = """\
inputs: .parquet, .csv/.tsv/.txt (UTF-8 with or without BOM, GB18030/GBK, UTF-16; detected),
.xlsx (first sheet, first row the header), .jsonl/.json.  Chinese headers of the 病案首页 and
医保结算清单 exports are recognised (病案号, 性别, 年龄, 主要诊断编码, 其他诊断编码1…N,
主要手术操作编码, 其他手术操作编码…); --columns maps others (TOML, JSON or CSV:
"input header" = "field").  Outputs: .parquet, .csv (UTF-8 with BOM), .xlsx (≤ 1,048,575 rows).

exit codes: 0 every input row got a result row (whatever the statuses); 1 unexpected failure;
2 usage error; 3 unreadable input or pack; 4 records with a --fail-on status.
"""



def add_parser(sub) -> None:
    group = sub.add_parser("group", help=help_of("group"), epilog=GROUP_EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    group.add_argument("input", type=Path, help="records: .parquet, .csv, .xlsx or .jsonl")
    group.add_argument("-o", "--output", type=Path, required=True, help="results: .parquet, .csv or .xlsx")
    group.add_argument("--pack", help="pack name or folder (default: the one set by 'drg packs default' or $DRG_PACK)")
    group.add_argument("--columns", type=Path, metavar="FILE",
                       help="column mapping: input header → field (TOML, JSON or CSV)")
    group.add_argument("--encoding", help="text encoding of a CSV/JSON input (default: detected)")
    group.add_argument("--no-normalize", action="store_true",
                       help="take codes exactly as written (no fixing of spaces, full width, separators, case)")
    group.add_argument("--batch-size", type=positive, default=250_000,
                       help="records per batch (default %(default)s; memory grows with it)")
    group.add_argument("--keep-input", action="store_true", help="append the input columns to the results")
    group.add_argument("--fail-on", action="append", choices=["invalid", "ungroupable", "qy"],
                       help="exit 4 when records with this status exist (repeatable)")
    group.add_argument("-v", "--verbose", action="store_true", help="show how the input was read and mapped")
    group.add_argument("--engine", choices=["local", "spark"], default="local",
                       help="local (one machine, default) or spark: Parquet in, a Parquet folder out")
    group.add_argument("--master", help="Spark master with --engine spark (local[4], spark://host:7077, yarn)")
    group.add_argument("--force", action="store_true", help="--engine spark: replace an existing output folder")
    add_xlsx_split(group)
    group.set_defaults(func=cmd_group)

    demo = sub.add_parser("demo", help=help_of("demo"))
    demo.add_argument("--pack", default=EXAMPLE_PACK, help="pack name or folder (default: %(default)s)")
    demo.add_argument("-n", type=positive, default=10_000, help="number of records (default %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed of the generated records (default %(default)s)")
    demo.add_argument("--show", type=int, default=10, help="result rows to print")
    demo.add_argument("-o", "--output", type=Path, help="also write the results here, e.g. demo.parquet")
    demo.set_defaults(func=cmd_demo)



USAGE_ERRORS = spark.USAGE_ERRORS

__all__ = ["GROUPING_FIELDS", "Summary", "USAGE_ERRORS", "add_parser"]
