"""``drg validate`` (病案首页质控) and ``drg explain`` (one record's grouping, step by step)."""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from api.cli.commands import help_of
from api.cases import iter_cases, read_cases
from foundation.background import BackgroundWriter, prefetched
from foundation.files import InputError, ResultWriter, output_format, write_table
from foundation.xlsx import sheet_title, write_sheets
from api.cli.in_use import in_use_line
from api.cli.labels import add_xlsx_split, labels_zh
from api.cli.progress import Progress, compile_notice, writing
from api.cli.report import Report
from audit.findings import SEVERITIES, SEVERITY_ZH
from audit.rulebook import RuleBookError
from audit.summary import CASE_LIST_COLUMNS, CASE_LIST_SEVERITIES, SUMMARY_COLUMNS_ZH, department_lists, summarize
from foundation.arrow_columns import value_counts
from foundation.atomic import atomic_path
from foundation.decimals import fen_text
from audit.validate import Validation, Validator
from weights import WeightTable

SUMMARY_SUFFIX = "-summary"
REPORT_SUFFIX = "-report.html"
DEPARTMENTS_SUFFIX = "-departments.xlsx"
#: Departments and cases a department's list shows in the HTML report (the XLSX holds every one).
HTML_DEPARTMENTS, HTML_CASES = 20, 50
CASE_LIST_FIELDS = ["row_no", "case_id", "rule_id", "severity", "field", "value", "message_zh", "suggestion"]
#: What-if flags, ranked by money at stake in the report (the most shown).
MONEY_RULES, MONEY_SHOWN = ("WHATIF_UPCODING", "WHATIF_UNDERCODING"), 50


def _validator(args) -> Validator:
    weights = WeightTable.read(args.weights) if args.weights else None
    validator = Validator(args.pack, weights=weights, rules=args.rules)
    with compile_notice():
        validator.warm_up()
    return validator


def _records(args, validator: Validator) -> pa.Table:
    return read_cases([args.input], columns=args.columns, encoding=args.encoding, raw=True, code_pack=validator.pack)


class _Writers:
    """The per-row output files of one run, written batch by batch (each in a thread of its own while the next batch
    is validated), all removed if the run fails."""

    def __init__(self, paths: list[Path | None], split: bool = False):
        sheets = ("问题清单 findings", "分组说明 explanations", "替代方案 what-if")
        self.writers = [BackgroundWriter(ResultWriter(p, sheet=sheet, labels=labels_zh(), split=split,
                                                      progress=writing(p.name)))
                        if p else None for p, sheet in zip(paths, sheets)]

    def write(self, result: Validation) -> None:
        """The findings, explanations and alternatives of one batch: each only where it has a file (the
        explanations and alternatives are written when first read)."""
        for writer, part in zip(self.writers, ("findings", "explanations", "alternatives")):
            if writer is not None:
                writer.write(getattr(result, part))

    def close(self) -> None:
        for writer in self.writers:
            if writer is not None:
                writer.close()

    def abort(self) -> None:
        for writer in self.writers:
            if writer is not None:
                writer.abort()


def cmd_validate(args) -> int:
    for path in (args.output, args.explain, args.whatif):
        if path is not None:
            output_format(path)
    validator = _validator(args)
    stem = args.output.with_suffix("")
    summary_path = args.summary or stem.with_name(stem.name + SUMMARY_SUFFIX + ".csv")
    report_path = args.report or stem.with_name(stem.name + REPORT_SUFFIX)
    departments_path = args.department_lists or stem.with_name(stem.name + DEPARTMENTS_SUFFIX)
    batches = prefetched(iter_cases([args.input], columns=args.columns, encoding=args.encoding, raw=True,
                                    batch_size=args.batch_size, code_pack=validator.pack))
    progress = Progress(None)
    writers = _Writers([args.output, args.explain, args.whatif], split=args.xlsx_split)
    kept_findings, kept_cases, kept_money, kept_records, statuses = [], [], [], [], collections.Counter()
    try:
        for first_row_no, records in batches:
            result = validator.validate(records, first_row_no=first_row_no)
            writers.write(result)
            kept_findings.append(result.findings.select(["row_no", "rule_id", "severity"]))
            act = pc.is_in(result.findings.column("severity"), pa.array(CASE_LIST_SEVERITIES))
            kept_cases.append(result.findings.select(CASE_LIST_FIELDS).filter(act))
            kept_money.append(_money_at_stake(result, first_row_no))
            kept_records.append(_slim(records))
            statuses.update(value_counts(result.results.column("status")))
            progress.update(first_row_no - 1 + records.num_rows)
        if not kept_records:
            raise InputError(f"{args.input}: no records")
        writers.close()
    except BaseException:
        progress.finish()
        writers.abort()
        raise
    progress.finish()
    findings = pa.concat_tables(kept_findings)
    records = pa.concat_tables(kept_records, promote_options="permissive")
    summary = summarize(findings, records)
    write_table(pa.Table.from_pandas(summary, preserve_index=False), summary_path, sheet="质控汇总 summary",
                labels=labels_zh())
    counts = _counts(findings)
    titles = {r.id: r.title_zh for r in validator.rules}
    lists = department_lists(pa.concat_tables(kept_cases), records, titles)
    write_department_lists(lists, departments_path)
    report = _report(counts, summary, statuses, records.num_rows, findings.num_rows, validator, args.input)
    _money_section(report, pd.concat(kept_money, ignore_index=True))
    _department_sections(report, lists, departments_path)
    report.write(report_path)
    _print_summary(counts, records.num_rows, findings, sys.stderr)
    print(in_use_line(validator.pack.version, validator.weights.meta.name if validator.weights is not None else None),
          file=sys.stderr)
    print(f"问题清单 findings: {args.output}\n汇总 summary: {summary_path}\n报告 report: {report_path}\n"
          f"科室病例清单 department lists: {departments_path}"
          f"{chr(10) + '分组说明 explanations: ' + str(args.explain) if args.explain else ''}"
          f"{chr(10) + '替代方案 what-if: ' + str(args.whatif) if args.whatif else ''}", file=sys.stderr)
    return 0


def _slim(records: pa.Table) -> pa.Table:
    """The columns the summary groups by (text), for every record."""
    n = records.num_rows
    return pa.table({name: (pc.cast(records.column(name), pa.string()) if name in records.column_names
                            else pa.nulls(n, pa.string())) for name in ("hospital_id", "dept")})


def _counts(findings: pa.Table) -> pd.DataFrame:
    f = findings.select(["rule_id", "severity"]).to_pandas()
    counts = f.groupby(["rule_id", "severity"], observed=True).size().rename("findings").reset_index()
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    counts["_rank"] = counts["severity"].map(rank)
    return counts.sort_values(["_rank", "findings", "rule_id"], ascending=[True, False, True]).drop(columns="_rank")


def _print_summary(counts: pd.DataFrame, n: int, findings: pa.Table, out) -> None:
    flagged = len(pc.unique(findings.column("row_no")))
    print(f"\n{n:,} records, {findings.num_rows:,} findings on {flagged:,} records", file=out)
    for sev in SEVERITIES:
        k = int(counts.loc[counts.severity == sev, "findings"].sum())
        print(f"  {SEVERITY_ZH[sev]} {sev:<8} {k:>10,}", file=out)
    print("最常见的问题 top rules:", file=out)
    for row in counts.head(10).itertuples():
        print(f"  {row.findings:>8,}  {row.rule_id} ({row.severity})", file=out)


def _report(counts: pd.DataFrame, summary: pd.DataFrame, statuses: collections.Counter, n: int, n_findings: int,
            validator: Validator, source: Path) -> Report:
    titles = {r.id: r.title_zh for r in validator.rules}
    counts.insert(1, "title_zh", counts["rule_id"].map(titles))
    report = Report("病案首页质控报告", "Front-page coding validation report",
                    f"{source.name} · 分组方案 pack {validator.pack.version}")
    by_sev = {f"{SEVERITY_ZH[s]} {s}": int(counts.loc[counts.severity == s, "findings"].sum()) for s in SEVERITIES}
    report.metrics({"病例数 records": n, "问题数 findings": n_findings,
                    "每百份问题数 per 100 records": round(100 * n_findings / max(n, 1), 1), **by_sev})
    report.heading("问题分布 Findings by rule")
    top = counts.head(20)
    report.bar_chart([f"{r} {t}" for r, t in zip(top.rule_id, top.title_zh)], top.findings.tolist(), title="问题数 findings")
    report.table(counts.rename(columns={"rule_id": "规则 rule", "title_zh": "名称", "severity": "严重程度 severity",
                                        "findings": "问题数 findings"}))
    report.heading("科室汇总 By hospital and department")
    report.table(summary.rename(columns={name: f"{zh} {name}" for name, zh in SUMMARY_COLUMNS_ZH.items()}))
    report.heading("分组结果 Grouping status")
    shown = statuses.most_common()
    report.bar_chart([s for s, _ in shown], [k for _, k in shown], title="病例数 records")
    report.paragraph("致命问题的病例无法分组；错误须在上传前更正；警告与提示供编码员核对。"
                     "Fatal findings stop grouping; errors must be fixed before upload; warnings and notes are "
                     "for the coder to check.", note=True)
    return report


def _money_at_stake(result: Validation, first_row_no: int) -> pd.DataFrame:
    """The what-if flags of a batch with their money at stake (the explanation's ``whatif_money``)."""
    flags = result.findings.filter(pc.is_in(result.findings.column("rule_id"), pa.array(MONEY_RULES)))
    flags = flags.select(["row_no", "case_id", "rule_id", "message_zh"]).to_pandas()
    flags["money"] = result.whatif_money().take(pa.array(flags.row_no.to_numpy() - first_row_no)).to_pylist()
    return flags


def _money_section(report: Report, flags: pd.DataFrame) -> None:
    """The what-if flags with the most money at stake first (高套 and 漏编 risks to look at first)."""
    if flags.empty:
        return
    report.heading("高套与漏编风险（按涉及金额） What-if flags by money at stake")
    flags = flags.assign(_abs=flags.money.map(lambda m: abs(m) if m is not None else -1))
    top = flags.sort_values(["_abs", "row_no"], ascending=[False, True]).head(MONEY_SHOWN)
    report.table(pd.DataFrame({"病案号": top.case_id, "规则": top.rule_id,
                               "涉及金额（元）": [fen_text(int(m * 100)) if m is not None else "" for m in top.money],
                               "说明": top.message_zh}), max_rows=MONEY_SHOWN)


def _department_sections(report: Report, lists, workbook: Path) -> None:
    """The departments' case lists in the HTML report: the departments with the most flagged cases first."""
    report.heading("科室病例清单 Case lists by department")
    report.paragraph(f"每个科室的致命、错误和警告问题，可分发给各科室核对修改；完整清单（每科室一个工作表）见 {workbook.name}。"
                     f"Fatal, error and warning findings of each department, to send to it; every department's full "
                     f"list is a sheet of {workbook.name}.", note=True)
    for hospital, dept, cases in lists[:HTML_DEPARTMENTS]:
        n = pc.count_distinct(cases.column("病案号")).as_py()
        report.heading(f"{hospital or '（未填医疗机构）'} · {dept or '（未填科室）'}：{n:,} 份病案，{cases.num_rows:,} 个问题")
        report.table(cases.to_pandas(), max_rows=HTML_CASES)
    if len(lists) > HTML_DEPARTMENTS:
        report.paragraph(f"另有 {len(lists) - HTML_DEPARTMENTS:,} 个科室见 {workbook.name} "
                         f"({len(lists) - HTML_DEPARTMENTS:,} more departments in the workbook)", note=True)


def write_department_lists(lists, path: Path) -> Path:
    """One sheet per department (目录 index first), Chinese headers, frozen header row and a filter."""
    used = {"目录 index".casefold()}
    names = [sheet_name(f"{hospital} {dept}".strip() or "未填科室", used) for hospital, dept, _ in lists]
    index = pa.table({"医疗机构编码": [h for h, _, _ in lists], "科室": [d for _, d, _ in lists],
                      "病案数": pa.array([pc.count_distinct(t.column("病案号")).as_py() for _, _, t in lists], pa.int64()),
                      "问题数": pa.array([t.num_rows for _, _, t in lists], pa.int64()), "工作表": names})
    sheets = [("目录 index", index)] + [(name, cases) for name, (_, _, cases) in zip(names, lists)]
    with atomic_path(path) as tmp:
        write_sheets(sheets, tmp, widths=dict(zip(CASE_LIST_COLUMNS.values(), (16, 8, 8, 24, 14, 18, 60, 40))))
    return path


def sheet_name(text: str, used: set[str]) -> str:
    """An Excel sheet name (≤ 31 characters, none of ``[]:*?/\\``) not yet in ``used`` (Excel ignores case: ``used``
    holds names casefolded); added to it."""
    base = sheet_title(text)
    name, k = base, 2
    while name.casefold() in used:
        suffix = f" ({k})"
        name, k = base[:31 - len(suffix)] + suffix, k + 1
    used.add(name.casefold())
    return name


def cmd_explain(args) -> int:
    validator = _validator(args)
    records = _records(args, validator)
    ids = pc.cast(records.column("case_id"), pa.string()).to_pylist()
    if args.case_id not in ids:
        print(f"drg: case_id {args.case_id!r} not found in {args.input} ({len(ids):,} records)", file=sys.stderr)
        return 3
    i = ids.index(args.case_id)
    record = records.slice(i, 1)
    result = validator.validate(record, first_row_no=i + 1)
    print(explain_text(result, validator))
    return 0


def explain_text(result: Validation, validator: Validator) -> str:
    """One record's explanation as terminal text (Chinese and English)."""
    rec = result.records.to_pylist()[0]
    res = result.results.to_pylist()[0]
    exp = result.explanations.to_pylist()[0]
    lines = [f"病案 case {res['case_id']} (row {res['row_no']}) · 分组方案 pack {res['pack_version']}",
             f"  主要诊断 principal dx  {rec.get('principal_dx')}",
             f"  其他诊断 secondary dx  {rec.get('secondary_dx') or '-'}",
             f"  手术操作 procedures    {rec.get('procedures') or '-'}",
             f"  性别/年龄 sex/age      {rec.get('sex')} / {rec.get('age_years')} 岁"
             f"{'' if rec.get('age_days') is None else ' / ' + str(rec.get('age_days')) + ' 天'}",
             "",
             f"结果 result: {res['drg']} {res['drg_name']} — {res['status_zh']} ({res['status']})"]
    if exp["mdc_reason"]:
        lines.append(f"  1 入MDC  {exp['mdc_reason']}")
        lines.append(f"  2 ADRG   {exp['adrg_reason']}")
        lines.append(f"  3 细分   {exp['split_reason']}")
    if exp["excluded_dx"]:
        lines.append(f"  被排除表排除的并发症 cancelled by the exclusion table: {exp['excluded_dx']}")
    if exp["mdc_trace"]:
        lines.append(f"  未入组原因 why not grouped: {exp['mdc_trace']}")
    lines += ["", "各MDC入组条件 MDC entry rules (✓ holds):"]
    cp = validator.pack.compiled
    trace = validator.grouper.trace(result.records)
    entered = validator.grouper.evaluate(trace.encoded.batch, cp.mdc_entry)[0]
    adrg_hold = validator.grouper.evaluate(trace.encoded.batch, cp.adrg_entry)[0]
    for m, (code, name) in enumerate(zip(cp.mdc_codes.to_pylist(), cp.mdc_names.to_pylist())):
        if not entered[m]:
            continue
        lines.append(f"  ✓ MDC {code} {name}")
        for r in range(cp.mdc_adrg_start[m], cp.mdc_adrg_start[m + 1]):
            mark = "✓" if adrg_hold[r] else "·"
            lines.append(f"      {mark} {cp.adrg_rule_ids[r].as_py():<6} {cp.adrg_rules[r].as_py() or '(无条件)'}"[:160])
    if not entered.any():
        lines.append("  （无）none")
    alt = result.alternatives.to_pandas()
    if len(alt):
        lines += ["", "替代方案 what-if:"]
        for row in alt.itertuples():
            rw = "-" if row.rw is None or (isinstance(row.rw, float) and np.isnan(row.rw)) else row.rw
            lines.append(f"  {row.alternative} → {row.drg} {row.drg_name} (RW {rw})")
            lines.append(f"      {row.reason}")
        if exp["coded_rw"] is not None:
            lines.append(f"  现编码 coded: {res['drg']} RW {exp['coded_rw']}")
    findings = result.findings.to_pylist()
    lines += ["", f"质控问题 findings ({len(findings)}):"]
    for f in findings:
        lines.append(f"  [{SEVERITY_ZH[f['severity']]}] {f['rule_id']}: {f['message_zh']}")
        lines.append(f"      {f['message_en']} — {f['suggestion']}")
    return "\n".join(lines)


def _common(parser) -> None:
    parser.add_argument("--pack", help="pack name or folder (default: the one set by 'drg packs default' or $DRG_PACK)")
    parser.add_argument("--weights", type=Path, help="weight table (.parquet): what-if RW and under/upcoding rules")
    parser.add_argument("--rules", type=Path, help="rule book (TOML) merged onto the bundled one")
    parser.add_argument("--columns", type=Path, metavar="FILE", help="column mapping (as for drg group)")
    parser.add_argument("--encoding", help="text encoding of a CSV/JSON input (default: detected)")


def add_parser(sub) -> None:
    """Register ``drg validate`` and ``drg explain``."""
    validate = sub.add_parser("validate", help=help_of("validate"))
    validate.add_argument("input", type=Path, help="records: .parquet, .csv, .xlsx or .jsonl")
    validate.add_argument("-o", "--output", type=Path, required=True, help="findings: .parquet, .csv or .xlsx")
    validate.add_argument("--summary", type=Path, help=f"per hospital/department summary (default: OUTPUT{SUMMARY_SUFFIX}.csv)")
    validate.add_argument("--report", type=Path, help=f"HTML report (default: OUTPUT{REPORT_SUFFIX})")
    validate.add_argument("--department-lists", type=Path, metavar="FILE",
                          help=f"case lists by department, one sheet each (default: OUTPUT{DEPARTMENTS_SUFFIX})")
    validate.add_argument("--explain", type=Path, help="also write one explanation row per record here")
    validate.add_argument("--whatif", type=Path, help="also write the what-if alternatives here")
    validate.add_argument("--batch-size", type=int, default=250_000,
                          help="records validated at a time (default %(default)s; memory grows with it)")
    _common(validate)
    add_xlsx_split(validate)
    validate.set_defaults(func=cmd_validate)
    explain = sub.add_parser("explain", help=help_of("explain"))
    explain.add_argument("input", type=Path, help="records file")
    explain.add_argument("case_id", help="the record's case_id")
    _common(explain)
    explain.set_defaults(func=cmd_explain)


#: The rule book (--rules) cannot be read: unreadable input (exit 3).
INPUT_ERRORS = (RuleBookError,)

__all__ = ["INPUT_ERRORS", "add_parser", "explain_text"]
