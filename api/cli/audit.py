"""``drg audit`` (医保智能审核): screen a month of cases, write the flags, the review queue and the audit report."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from api.cli.commands import help_of
from api.cases import iter_cases, read_cases
from foundation.atomic import atomic_path
from foundation.files import InputError, inert_formulas, output_format, write_table
from api.cli.in_use import in_use_line, pack_versions
from api.cli.options import non_negative
from api.cli.report import Report
from audit.rulebook import RuleBookError
from audit.screens import RateError, ScreenInputError, Screener, review_queue
from audit.screens.engine import ScreenResult
from audit.screens.flags import FLAG_LABELS_ZH, SEVERITY_ZH
from audit.screens.queue import SELECTION_ZH
from audit.validate import Validator
from weights import WeightTable
from foundation.decimals import fen_text, unscaled

#: Errors of this command that mean bad input (exit 3); bad options are usage errors (exit 2).
INPUT_ERRORS = (ScreenInputError, RuleBookError)
USAGE_ERRORS = (RateError,)
WHATIF_COLUMNS = ("best_drg", "best_rw", "best_alternative")


def _read(paths: list[Path], args, validator: Validator | None) -> pa.Table:
    """Cases as grouped tables; with a validator, grouped by it with the what-if columns added."""
    if validator is None:
        return read_cases(paths, pack=args.pack, columns=args.columns, encoding=args.encoding)
    parts = []
    for first_row_no, records in iter_cases(paths, columns=args.columns, encoding=args.encoding, raw=True,
                                            code_pack=validator.pack):
        result = validator.validate(records, first_row_no=first_row_no)
        table = result.results
        for name in WHATIF_COLUMNS:
            table = table.append_column(name, result.explanations.column(name))
        for name in records.column_names:
            if name not in table.column_names:
                table = table.append_column(name, records.column(name))
        parts.append(table)
    if not parts:
        raise InputError(f"{paths[0]}: no records")
    return pa.concat_tables(parts, promote_options="permissive").combine_chunks()


def _beside(output: Path, suffix: str) -> Path:
    stem = output.with_suffix("")
    return stem.with_name(stem.name + suffix)


def cmd_audit(args) -> int:
    for path in filter(None, (args.output, args.queue, args.hospitals)):
        output_format(path)
    started = time.perf_counter()
    weights = WeightTable.read(args.weights) if args.weights else None
    screener = Screener(weights=weights, config=args.config, rate=args.rate)
    validator = Validator(args.pack, weights=weights) if args.pack and weights is not None else None
    cases = _read(args.cases, args, validator)
    history = _read(args.history, args, validator) if args.history else None
    print(f"drg: screening {cases.num_rows:,} cases"
          f"{f' with {history.num_rows:,} history cases' if history is not None else ''}", file=sys.stderr)
    print(in_use_line(pack_versions(cases), weights.meta.name if weights is not None else None), file=sys.stderr)
    result = screener.screen(cases, history)
    queue = review_queue(result, top=args.top, sample=args.sample, seed=args.seed)
    queue_path = args.queue or _beside(args.output, "-queue.csv")
    hospitals_path = args.hospitals or _beside(args.output, "-hospitals.csv")
    write_table(result.flags, args.output)
    write_table(queue, queue_path)
    write_table(result.hospital_risk, hospitals_path)
    written = [("疑点清单 flags", args.output), ("待审队列 review queue", queue_path),
               ("医院风险 hospitals", hospitals_path)]
    if not args.no_report:
        html = args.report or _beside(args.output, "-report.html")
        xlsx = args.xlsx_report or _beside(args.output, "-report.xlsx")
        title = f"{args.cases[0].name}{' …' if len(args.cases) > 1 else ''}"
        audit_report(result, queue, screener, title).write(html)
        write_workbook(result, queue, screener, xlsx)
        written += [("报告 report", html), ("报告 workbook", xlsx)]
    _print_summary(result, cases.num_rows, time.perf_counter() - started, sys.stderr)
    for label, path in written:
        print(f"{label}: {path}", file=sys.stderr)
    return 0


def rule_counts(result: ScreenResult, screener: Screener) -> pd.DataFrame:
    """One row per screen in configuration order: title, severity, flags, flagged cases, money at stake (元 text)."""
    flags = result.flags
    rule_ids = np.array(flags.column("rule_id").to_pylist(), dtype=object)
    fen = np.maximum(unscaled(flags.column("money_at_stake")), 0)
    rows = []
    for rule in screener.book:
        mine = rule_ids == rule.id
        cases = flags.column("case_id").filter(pa.array(mine))
        rows.append({"规则 rule": rule.id, "名称": rule.title_zh, "严重程度 severity":
                     f"{SEVERITY_ZH[rule.severity]} {rule.severity}", "启用 enabled": "是" if rule.enabled else "否",
                     "疑点数 flags": int(mine.sum()), "病例数 cases": len(pc.unique(pc.drop_null(cases))),
                     "涉及金额 money (元)": fen_text(int(fen[mine].sum()), thousands=False),
                     "未运行原因 skipped": result.skipped.get(rule.id, "")})
    return pd.DataFrame(rows)


def _labelled(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    for column in ("money_at_stake",):
        if column in frame:
            frame[column] = [None if v is None or v != v else f"{v:,.2f}" for v in frame[column]]
    return frame


def audit_report(result: ScreenResult, queue: pa.Table, screener: Screener, source: str) -> Report:
    """The monthly audit report (月度智能审核报告): key figures, flags by rule and hospital, the review queue."""
    counts = rule_counts(result, screener)
    n = result.cases.num_rows
    flagged = result.case_risk.num_rows
    total_fen = int(np.maximum(unscaled(result.case_risk.column("money_at_stake")), 0).sum())
    report = Report("医保智能审核月度报告", "Monthly payer audit report",
                    f"{source} · 费率 rate {screener.rates.describe()}")
    report.metrics({"病例数 cases": n, "疑点数 flags": result.flags.num_rows, "疑点病例 flagged cases": flagged,
                    "疑点病例占比 flagged share": f"{100 * flagged / max(n, 1):.2f}%",
                    "涉及金额 money at stake (元)": fen_text(total_fen, thousands=False),
                    "医院数 hospitals": result.hospital_risk.num_rows})
    report.heading("规则命中 Flags by screen")
    shown = counts[counts["疑点数 flags"] > 0]
    if len(shown):
        report.bar_chart([f"{r} {t}" for r, t in zip(shown["规则 rule"], shown["名称"])],
                         shown["疑点数 flags"].tolist(), title="疑点数 flags")
    report.table(counts)
    hospitals = result.hospital_risk.to_pandas().head(20)
    report.heading("医院风险排名 Hospitals by risk score")
    if len(hospitals):
        report.bar_chart(hospitals["hospital_id"].tolist(), hospitals["score"].tolist(),
                         title="风险分（每百病例） risk score per 100 cases")
    report.table(_labelled(result.hospital_risk.slice(0, 50)).rename(columns={
        "hospital_id": "医院 hospital", "n_cases": "病例数", "flagged_cases": "疑点病例", "flagged_share": "占比",
        "n_flags": "疑点数", "hospital_flags": "医院级疑点", "money_at_stake": "涉及金额（元）", "score": "风险分",
        "top_rules": "主要规则"}))
    scores = result.case_risk.column("score").to_numpy()
    if len(scores):
        report.heading("病例风险分分布 Case risk scores")
        report.histogram(scores, bins=10, title="疑点病例数 flagged cases", x_label="风险分 risk score")
    report.heading("待审队列 Review queue")
    report.paragraph("前列为按“涉及金额 × 风险分”排序的高风险病例，其后为随机抽查病例（用于无偏估计违规率）。"
                     "The top cases by money at stake × risk score, then a random sample for an unbiased estimate.",
                     note=True)
    frame = _labelled(queue)
    frame["selection"] = [f"{SELECTION_ZH[s]} {s}" for s in frame["selection"]]
    report.table(frame.rename(columns={"rank": "序号", "selection": "类别", "case_id": "病案号", "row_no": "行号",
                                       "hospital_id": "医院", "score": "风险分", "money_at_stake": "涉及金额（元）",
                                       "priority": "优先级", "n_flags": "疑点数", "rules": "规则"}), max_rows=300)
    if result.skipped:
        report.heading("未运行的规则 Screens not run")
        report.table(pd.DataFrame({"规则 rule": list(result.skipped), "原因 reason": list(result.skipped.values())}))
    report.paragraph("每条疑点均附规则、证据与涉及金额，医院可对本院疑点申诉复议；疑点不等于违规，须经人工审核。"
                     "Every flag carries its rule, evidence and money at stake and can be appealed by the hospital; "
                     "a flag is not a finding until an auditor has reviewed it.", note=True)
    return report


def write_workbook(result: ScreenResult, queue: pa.Table, screener: Screener, path: Path) -> Path:
    """The report as an XLSX workbook: summary by screen (with a chart), hospitals, review queue, flags (≤ 100,000)."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference

    book = Workbook()
    sheets = [("规则汇总 screens", rule_counts(result, screener)),
              ("医院 hospitals", _labelled(result.hospital_risk)),
              ("待审队列 queue", _labelled(queue)),
              ("疑点 flags", _labelled(result.flags.slice(0, 100_000)).rename(columns=FLAG_LABELS_ZH))]
    book.remove(book.active)
    for title, frame in sheets:
        sheet = book.create_sheet(title)
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append([None if isinstance(v, float) and v != v else v for v in row])
        inert_formulas(sheet)
    summary = book["规则汇总 screens"]
    chart = BarChart()
    chart.type, chart.title = "bar", "疑点数 flags"
    chart.add_data(Reference(summary, min_col=5, min_row=1, max_row=summary.max_row), titles_from_data=True)
    chart.set_categories(Reference(summary, min_col=1, min_row=2, max_row=summary.max_row))
    chart.height, chart.width = 10, 18
    summary.add_chart(chart, "J2")
    book.properties.creator = "drg-engine"
    with atomic_path(path) as tmp:
        book.save(tmp)
    return Path(path)


def _print_summary(result: ScreenResult, n: int, seconds: float, out) -> None:
    fen = int(np.maximum(unscaled(result.case_risk.column("money_at_stake")), 0).sum())
    print(f"\n{n:,} cases in {seconds:.1f} s: {result.flags.num_rows:,} flags on {result.case_risk.num_rows:,} cases, "
          f"money at stake {fen_text(fen, thousands=False)} 元 (涉及金额)", file=out)
    for rule_id, count in sorted(result.counts().items(), key=lambda x: (-x[1], x[0])):
        print(f"  {count:>8,}  {rule_id}", file=out)
    for rule_id, why in result.skipped.items():
        print(f"  未运行 not run: {rule_id}: {why}", file=out)


def add_parser(sub) -> None:
    """Register ``drg audit``."""
    p = sub.add_parser("audit", help=help_of("audit"),
                       description="Screen grouped cases (or raw records with --pack): split admissions, low-standard "
                                   "admissions, upcoding, bed-blocking, duplicates, dumping.")
    p.add_argument("cases", type=Path, nargs="+", help="cases of the month: grouped (drg group --keep-input) or raw "
                                                       "with --pack")
    p.add_argument("-o", "--output", type=Path, required=True, help="flags: .parquet, .csv or .xlsx")
    p.add_argument("--history", type=Path, nargs="+", metavar="FILE",
                   help="earlier months: earlier stays and the hospitals' baseline (month jump, dumping)")
    p.add_argument("--pack", help="group raw records with this pack (with --weights also the what-if upcoding screen)")
    p.add_argument("--weights", type=Path, help="weight table (.parquet): RW, money at stake, DRG means")
    p.add_argument("--rate", help="base rate in 元 per RW: 12252.70 or 310=12252.70,390=9649.24 "
                                  "(default: the weight table's base rates)")
    p.add_argument("--config", type=Path, help="screens configuration (TOML) merged onto audit/screens.toml")
    p.add_argument("--queue", type=Path, help="review queue file (default: OUTPUT-queue.csv)")
    p.add_argument("--hospitals", type=Path, help="per-hospital risk (default: OUTPUT-hospitals.csv)")
    p.add_argument("--top", type=non_negative, default=200, help="cases by priority in the queue (default %(default)s)")
    p.add_argument("--sample", type=non_negative, default=50, help="random cases added to the queue (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random sample (default %(default)s)")
    p.add_argument("--report", type=Path, help="HTML report (default: OUTPUT-report.html)")
    p.add_argument("--xlsx-report", type=Path, help="XLSX report (default: OUTPUT-report.xlsx)")
    p.add_argument("--no-report", action="store_true", help="write neither report")
    p.add_argument("--columns", type=Path, metavar="FILE", help="column mapping (as for drg group)")
    p.add_argument("--encoding", help="text encoding of a CSV/JSON input (default: detected)")
    p.set_defaults(func=cmd_audit)


__all__ = ["INPUT_ERRORS", "USAGE_ERRORS", "add_parser", "audit_report", "write_workbook"]
