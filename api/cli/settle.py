"""``drg settle month|year|shadow``: DRG payment against the fund budget, written as one run folder.

A run folder holds the tables (``case_lines``, ``hospitals``, ``drgs``, ``reconciliation``, and
``hospital_months`` for a year or ``departments`` for a shadow run) in the formats asked for,
``run.json`` (inputs, their checksums, the run version, point values, counts), a printable HTML
statement per hospital (``statements/<hospital>.html``; ``shadow.html`` for a shadow run) and,
with ``--previous``, ``diff`` against the previous run's case lines.  Everything is written into
a temporary folder beside the target and renamed at the end, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from api.cli.commands import help_of
from api.cases import read_cases
from foundation.atomic import remove_stale_partials
from foundation.files import XLSX_MAX_ROWS, InputError, ResultWriter, read_text_table
from api.cli.report import Report
from payment import (CASE_TYPES, KINDS, MoneyRangeError, PaymentInputError, Period, PolicyError, load_policy,
                     read_case_list, read_hospitals, read_scores, run_settlement)
from payment.ledger import LedgerError, read_ledger, write_ledger
from payment.statement import (KIND_ZH, case_type_counts, statement_lines, unpaid_lines,
                               worked_examples)
from payment.scope import Scope, parse_budget_share, parse_point_value
from payment.policy import CROSS_REGION_DIFFERENCE, CROSS_REGION_POOL
from payment.tables import LABELS_ZH, diff_case_lines
from api.cli.in_use import in_use_line
from api.cli.labels import labels_zh
from api.cli.progress import writing
from icd_tables.errors import PackError
from icd_tables.pack import Pack, available_packs
from icd_tables.regions import check_regions
from weights import read_weight_file
from foundation.decimals import fen_text

FORMATS = ("parquet", "csv", "xlsx")


class SettleUsageError(Exception):
    """An option of ``drg settle`` that cannot be used as given (exit 2)."""


#: Errors of the payment layer that mean bad input (exit 3).
INPUT_ERRORS = (PolicyError, PaymentInputError, MoneyRangeError, LedgerError)
USAGE_ERRORS = (SettleUsageError,)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _formats(text: str) -> list[str]:
    chosen = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in chosen if f not in FORMATS]
    if bad or not chosen:
        raise SettleUsageError(f"--formats {text!r}: choose from {', '.join(FORMATS)} (comma separated)")
    return chosen


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:,}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _statement(run, hospital: str, rows: list[dict], lines: pa.Table, months: list[dict] | None) -> Report:
    meta, policy = run.meta, run.settlement.policy
    kind = run.settlement.kind
    quota = policy.method == "quota"
    report = Report(f"{'定额' if quota else 'DRG'}付费{KIND_ZH[kind]}结算单",
                    f"{'Quota' if quota else 'DRG'} payment statement ({kind} {meta['period']})",
                    f"{hospital} {rows[0]['hospital_name']} · 期间 {meta['period']} · 分组方案 {meta['pack_version'] or '-'} · "
                    f"政策 {policy.version} · 权重 {meta['weights']['name']} · 运行版本 run {meta['run_version']}")
    total = lambda key: sum((r[key] for r in rows if r.get(key) is not None), Decimal(0))  # noqa: E731
    key = "balance" if kind == "year" else "paid"
    report.metrics({"病例数 cases": f"{sum(r['n_cases'] for r in rows):,}",
                    ("定额基金支付 quota fund (元)" if quota else "DRG基金支付 DRG fund (元)"): _cell(total("drg_fund")),
                    ("清算差额 balance due (元)" if kind == "year" else "本月拨付 paid (元)"): _cell(total(key))})
    report.heading("结算明细 Statement (按险种 by insurance type)")
    lines_shown = [(k, label) for k, label in statement_lines(kind, policy) if k in rows[0]]  # the rules used
    shown = [k for k, _ in lines_shown]
    frame = pd.DataFrame({"项目 item": [label for _, label in lines_shown]})
    for r in rows:
        frame[run.settlement.policy.fund_name(r["region"], r["insurance_type"])] = [
            _cell(r.get(k)) if k != "point_value" or r.get(k) is not None else NO_POINTS for k in shown]
    report.table(frame)
    rules = meta["rules"]
    report.paragraph(f"系数作用于 coefficient on: {rules['coefficient_applies_to']} · 点值 point value: "
                     f"{rules['point_value']} · 走廊 corridor: {rules['corridor']} ({rules['corridor_base']}) · "
                     f"预留金返还 release: {rules['release_schedule']}", note=True)
    if meta.get("special_list"):
        listed = meta["special_list"]
        report.paragraph(f"特病单议名单 special-case list: {listed['version']} · {listed['cases']} 例 cases · "
                         f"sha256 {listed['sha256']}", note=True)
    if months:
        report.heading("按月预结 Monthly pre-settlement")
        report.table(pd.DataFrame([{"月份 month": m["month"], "险种 insurance": m["insurance_type"],
                                    "病例数 cases": m["n_cases"], "点值 point value": _cell(m["point_value"]),
                                    "预结金额 provisional": _cell(m["provisional"]),
                                    "预留金 withheld": _cell(m["withheld"]), "拨付 paid": _cell(m["paid"])}
                                   for m in months]))
    report.heading("病例类型 Case types")
    report.table(pd.DataFrame(case_type_counts(lines), columns=["病例类型 case type", "病例数 cases"]))
    report.heading("计算示例 How cases were paid (one per case type)")
    for example in worked_examples(lines, policy):
        report.paragraph(example)
    unpaid = unpaid_lines(lines)
    if unpaid.num_rows:
        report.heading("暂缓或不予支付病例 Cases not paid (fix and re-run)")
        report.table(unpaid.slice(0, 100).select(["case_id", "drg", "case_type_zh", "total_cost", "note"]).to_pandas()
                     .astype(str).rename(columns=LABELS_ZH), max_rows=100)
        if unpaid.num_rows > 100:
            report.paragraph(f"… {unpaid.num_rows - 100:,} more (另有 {unpaid.num_rows - 100:,} 例) in case_lines",
                             note=True)
    report.paragraph(f"金额单位：元。{meta['rounding']}", note=True)
    return report


def _shadow_report(run) -> Report:
    meta = run.meta
    report = Report("DRG付费空转试运行报告", "DRG shadow run: DRG payment vs. actual cost",
                    f"期间 {meta['period']} · 分组方案 {meta['pack_version'] or '-'} · 政策 {run.settlement.policy.version} · "
                    f"权重 {meta['weights']['name']} · 运行版本 run {meta['run_version']}")
    hospitals = run.tables["hospitals"].to_pandas()
    drgs = run.tables["drgs"].to_pandas()
    standard, cost = hospitals["drg_standard"].sum(), hospitals["drg_cost"].sum()
    metrics = {"DRG病例数 DRG-track cases": f"{int(hospitals['n_drg'].sum()):,}",
               "支付标准合计 standard (元)": _cell(standard), "实际费用（按项目）fee for service (元)": _cell(cost),
               "盈亏 gain (元)": _cell(standard - cost)}
    baseline = ["quota_standard", "quota_cost", "quota_gain"] if "quota_standard" in hospitals else []
    if baseline:  # the quota (定额) method's payment of the same cases, beside DRG and fee for service
        metrics["定额基线 quota baseline (元)"] = _cell(hospitals["quota_standard"].sum())
    report.metrics(metrics)
    report.heading("医疗机构盈亏 Gain/loss by hospital")
    top = hospitals.sort_values(["gain", "hospital_id"]).head(40)
    report.bar_chart(top["hospital_id"] + " " + top["insurance_type"], [int(v) for v in top["gain"]],
                     title="盈亏（元）gain = standard − cost, 元 (most loss first)")
    report.table(hospitals[["hospital_id", "insurance_type", "n_drg", "drg_standard", "drg_cost", "gain",
                            "cost_ratio", "far_from_cost_share", *baseline]].astype(str).rename(columns=LABELS_ZH))
    report.heading("亏损病组 DRGs that lose money")
    losing = drgs[drgs["gain"] < 0].sort_values(["gain", "drg"]).head(30)
    report.table(losing[["drg", "rw", "n_cases", "standard", "total_cost", "gain", "far_from_cost"]].astype(str)
                 .rename(columns=LABELS_ZH))
    report.heading("科室盈亏 Gain/loss by department")
    depts = run.tables["departments"].to_pandas().sort_values(["gain", "dept"])
    report.table(depts[["dept", "n_cases", "standard", "total_cost", "gain", "cost_ratio"]].astype(str)
                 .rename(columns=LABELS_ZH))
    ratio = run.tables["case_lines"].column("payment_ratio").drop_null().cast(pa.float64()).to_numpy()
    report.histogram(np.minimum(ratio, 4.0), bins=[i / 4 for i in range(17)],
                     title="支付标准/费用 分布 standard ÷ cost per case (4 = 4 or more)", x_label="standard ÷ cost")
    policy = run.settlement.policy
    report.paragraph(f"金额单位：元。偏离费用: 支付标准低于费用×{Decimal(policy.far_below_u).scaleb(-4).normalize()} "
                     f"或高于费用×{Decimal(policy.far_above_u).scaleb(-4).normalize()}。{meta['rounding']}", note=True)
    return report


def _clearing_report(run) -> Report:
    """异地就医清算单: the clearing table for the clearing centre (清算中心), printable."""
    meta, policy = run.meta, run.settlement.policy
    cr = policy.cross_region
    report = Report("异地就医清算单", "Cross-region clearing statement (异地就医)",
                    f"就医地 {policy.region} · 期间 {meta['period']} · 政策 {policy.version} · 运行版本 run "
                    f"{meta['run_version']}")
    rows = run.tables["clearing"].to_pandas()
    period = rows[rows["month"] == meta["period"]] if (rows["month"] == meta["period"]).any() else rows
    report.metrics({"异地就医病例 inbound cases": f"{int(period['n_cases'].sum()):,}",
                    "医疗机构基金支付 paid (元)": _cell(period["fund_payment"].sum()),
                    "清算金额 to clear (元)": _cell(period["clearing_amount"].sum()),
                    "差额 difference (元)": _cell(period["difference"].sum())})
    labels = {**LABELS_ZH, **labels_zh()}
    report.table(rows.astype(str).rename(columns=labels))
    reference = f"，参考点值 {Decimal(cr.reference[0]).scaleb(-6).normalize()}" if cr.reference else ""
    report.paragraph(f"异地就医病例按就医地分组方案分组，个人负担按参保地待遇政策计算；{CROSS_REGION_POOL[cr.pool]}"
                     f"{reference}；差额（医疗机构基金支付 − 清算金额）由{CROSS_REGION_DIFFERENCE[cr.difference]}承担。"
                     f"出院结算基金应付 = 总费用 − 个人负担。金额单位：元。{meta['rounding']}", note=True)
    return report


def _write_table(table: pa.Table, folder: Path, name: str, formats: list[str]) -> list[str]:
    written = []
    for fmt in formats:
        writer = ResultWriter(folder / f"{name}.{fmt}", sheet=f"{SHEETS_ZH.get(name, name)} {name}",
                              labels=labels_zh(),
                              progress=writing(f"{name}.{fmt}"))
        writer.write(table)
        writer.close()
        written.append(f"{name}.{fmt}")
    return written


def _statements(run, folder: Path, which: str) -> int:
    if which == "none":
        return 0
    hospitals = run.tables["hospitals"].to_pylist()
    lines = run.tables["case_lines"]
    months = run.tables.get("hospital_months")
    month_rows = months.to_pylist() if months is not None else []
    wanted = None if which == "all" else set(which.split(","))
    known = {r["hospital_id"] for r in hospitals}
    if wanted and wanted - known:
        raise SettleUsageError(f"--statements: hospital {sorted(wanted - known)[0]} has no cases in "
                               f"{run.meta['period']}")
    column = lines.column("hospital_id").combine_chunks()  # dictionary: sort its integer codes, not the strings
    codes = column.indices.to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(column.dictionary) + 1))
    folder.mkdir()
    count = 0
    for code, hospital in sorted(enumerate(column.dictionary.to_pylist()), key=lambda item: item[1]):
        if hospital not in known or wanted is not None and hospital not in wanted:
            continue
        own = lines.take(pa.array(order[bounds[code]:bounds[code + 1]]))
        rows = [r for r in hospitals if r["hospital_id"] == hospital]
        own_months = [m for m in month_rows if m["hospital_id"] == hospital] or None
        _statement(run, hospital, rows, own, own_months).write(folder / f"{hospital}.html")
        count += 1
    return count


def _replace_folder(tmp: Path, target: Path, force: bool) -> None:
    if target.exists():
        if not force and any(target.iterdir()):
            raise SettleUsageError(f"{target} exists and is not empty; choose another -o or give --force")
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old)
    else:
        tmp.rename(target)


def _summary(run, seconds: float, out) -> None:
    meta = run.meta
    print(f"\n{KIND_ZH[run.settlement.kind]} {run.settlement.kind} {meta['period']}: "
          f"{meta['cases']['settled']:,} cases in {seconds:.1f} s (run {meta['run_version']})", file=out)
    print("  " + in_use_line(meta["pack_version"], meta["weights"]["name"], meta["policy"]["version"]), file=out)
    for name, n in meta["cases"]["by_case_type"].items():
        code = next(k for k, v in CASE_TYPES.items() if v[0] == name)
        print(f"  {CASE_TYPES[code][1]:<14} {name:<16} {n:>10,}", file=out)
    if meta["cases"]["outside_period"]:
        print(f"  (另有 {meta['cases']['outside_period']:,} cases outside {meta['period']}, not in this run)", file=out)
    unit = "元/RW 费率" if run.settlement.policy.method == "rate" else "元/点 点值"
    for f in meta["funds"]:
        check = ""
        if run.settlement.kind == "year":
            pool = f["drg_fund_fen"] + f["budget_tracks_fen"]
            ok = pool == f["distributable_fen"]
            inside = f" (+ {fen_text(f['budget_tracks_fen'])} 预算内床日/单病种)" if f["budget_tracks_fen"] else ""
            check = f"; Σ DRG fund {fen_text(f['drg_fund_fen'])}{inside} {'=' if ok else '≠'} distributable"
        value = f"{unit} {f['point_value']}" if f["point_value"] else NO_POINTS
        name = run.settlement.policy.fund_name(f['region'], f['insurance_type'])
        if not f["budget_fen"] and run.settlement.policy.cross_region is not None:  # a clearing fund: no budget
            print(f"  {name} ({f['insurance_type']}): 参考点值 reference {value}", file=out)
            continue
        if run.settlement.policy.method == "quota":  # no point value; what the quotas spend is not rescaled
            value, check = "定额法 quota method", f"; Σ quota fund {fen_text(f['drg_fund_fen'])} (not rescaled)"
        print(f"  {name} ({f['insurance_type']}): budget {fen_text(f['budget_fen'])}, distributable "
              f"{fen_text(f['distributable_fen'])}, {value}{check}", file=out)
    held = run.tables["drgs"].to_pandas()
    held = held[held["n_held"] > 0].sort_values(["n_held", "drg"], ascending=[False, True])
    if len(held):
        n_held = int(held["n_held"].sum())
        n_ok = pc.sum(pc.equal(run.tables["case_lines"].column("status"), "ok")).as_py() or 0
        share = f" = {100 * n_held / n_ok:.2f}% of the {n_ok:,} status-ok cases 占分组成功病例" if n_ok else ""
        print(f"  无权重病组 DRGs without a weight (held, paid 0): {len(held)}, {n_held:,} cases{share}; "
              f"most: {', '.join(f'{d} ({n})' for d, n in zip(held['drg'][:8], held['n_held'][:8]))}", file=out)


def _outbound(paths, policy, files: dict) -> pa.Table | None:
    """``--outbound``: last year's clearing tables (CSV/XLSX/Parquet) as one table; their checksums recorded."""
    if not paths:
        return None
    if policy.cross_region is None:
        raise SettleUsageError("--outbound needs [cross_region] in the policy (its local codes and outbound_growth) "
                               "/ 政策文件缺少 [cross_region]")
    tables = []
    for path in paths:
        try:
            tables.append(read_text_table(path))
        except InputError as exc:
            raise SettleUsageError(f"--outbound: {exc}") from None
        files[f"outbound:{Path(path).name}"] = _sha256(path)
    return pa.concat_tables(tables, promote_options="permissive")


def _clearing_summary(run, out) -> None:
    """One line per insured region of the clearing table (the year's rows, or the month's)."""
    table = run.tables.get("clearing")
    if table is None or not table.num_rows:
        return
    period = run.meta["period"]
    for r in table.to_pylist():
        if r["month"] != period:
            continue
        print(f"  异地就医 {r['insured_region']} ({r['insurance_type']}): {r['n_cases']:,} cases, paid "
              f"{fen_text(int(r['fund_payment'] * 100))}, cleared {fen_text(int(r['clearing_amount'] * 100))}, "
              f"difference {fen_text(int(r['difference'] * 100))} ({r['borne_by']})", file=out)


def _grouping_pack(args, cases: pa.Table) -> Pack | None:
    """The pack the cases were grouped with: ``--pack``, or the one their ``pack_version`` names, if installed."""
    if args.pack:
        return Pack.load(args.pack)
    if "pack_version" not in cases.column_names:
        return None
    names = {str(v).split("@")[0] for v in pc.unique(cases.column("pack_version")).to_pylist() if v}
    packs = available_packs()
    if len(names) != 1 or next(iter(names)) not in packs:
        return None
    try:
        return Pack.load(packs[next(iter(names))])
    except PackError:
        return None


def _region_warnings(args, cases: pa.Table, weights, policy) -> list[str]:
    """Refuse weights or a policy of another region than the grouping pack's (unless --force)."""
    pack = _grouping_pack(args, cases)
    if pack is None:
        return []
    m = pack.manifest
    others = [(f"weight table {weights.meta.name}", weights.meta.region, weights.meta.year),
              (f"policy {policy.name or args.policy}", policy.region, None)]
    try:
        return check_regions(m.name, m.region, m.version, others, force=args.force)
    except ValueError as exc:
        raise SettleUsageError(str(exc)) from exc


def cmd_settle(args) -> int:
    started = time.perf_counter()
    formats = _formats(args.formats)
    if args.kind == "year" and Period.parse(args.period).month is not None or \
            args.kind == "month" and Period.parse(args.period).month is None:
        wanted = "year, e.g. 2024" if args.kind == "year" else "month, e.g. 2024-03"
        raise SettleUsageError(f"drg settle {args.kind} --period: give a {wanted}")
    policy = load_policy(args.policy)
    hospitals_path = args.hospitals or policy.files.get("hospitals")
    if hospitals_path is None:
        raise SettleUsageError("no hospital table: give --hospitals FILE or set hospitals = \"...\" in the policy")
    hospitals = read_hospitals(hospitals_path, policy)
    files = {"hospitals": _sha256(hospitals_path)}
    extra = {}
    for name in ("scores", "special", "events"):
        path = getattr(args, name) or policy.files.get(name)
        if path is not None:
            extra[name] = path
            files[name] = _sha256(path) if Path(path).is_file() else ""
    scores = read_scores(extra["scores"], hospitals) if "scores" in extra else None
    special = read_case_list(extra["special"], "特病单议 special-case list") if "special" in extra else None
    events = read_case_list(extra["events"], "突发事件 event list") if "events" in extra else None
    weights = read_weight_file(args.weights)
    previous = None
    if args.previous is not None:
        lines = args.previous / "case_lines.parquet"
        if not lines.is_file():
            raise SettleUsageError(f"--previous {args.previous}: no case_lines.parquet there (a run folder written "
                                   "with --formats including parquet)")
        previous = (pq.read_table(lines), json.loads((args.previous / "run.json").read_text(encoding="utf-8")))
    cases = read_cases(args.cases, pack=args.pack, columns=args.columns, encoding=args.encoding)
    for warning in _region_warnings(args, cases, weights, policy):
        print(warning, file=sys.stderr)
    ledger = read_ledger(args.ledger) if getattr(args, "ledger", None) is not None else None
    outbound = _outbound(getattr(args, "outbound", None), policy, files)
    point_value = getattr(args, "point_value", None)
    scope = Scope(parse_point_value(point_value, policy) if point_value else {},
                  parse_budget_share(args.budget_share) if args.budget_share else None)
    special_list = {"version": Path(extra["special"]).name, "sha256": files["special"],
                    "cases": len(special)} if special is not None else None
    run = run_settlement(cases, weights, policy, hospitals, args.kind, args.period, scores=scores, special=special,
                         events=events, files_sha256=files, ledger=ledger, scope=scope, outbound=outbound,
                         special_list=special_list)
    for warning in run.meta["warnings"]:
        print(f"drg: {warning}", file=sys.stderr)
    if "xlsx" in formats and run.tables["case_lines"].num_rows > XLSX_MAX_ROWS - 1:
        raise SettleUsageError(f"{run.tables['case_lines'].num_rows:,} case lines do not fit an XLSX sheet; "
                               "use --formats parquet,csv")
    target = args.output
    target.parent.mkdir(parents=True, exist_ok=True)
    for left in remove_stale_partials(target, args.stale_after):
        print(f"removed {left.name}, left by a killed run", file=sys.stderr)
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        written = []
        for name, table in run.tables.items():
            written += _write_table(table, tmp, name, formats)
        meta = dict(run.meta)
        if previous is not None:
            diff = diff_case_lines(previous[0], run.tables["case_lines"])
            written += _write_table(diff, tmp, "diff", formats)
            changes = diff.column("change").to_pylist()
            meta["previous"] = {"run_version": previous[1].get("run_version"),
                                **{k: changes.count(k) for k in ("added", "removed", "changed")}}
        if "clearing" in run.tables:
            _clearing_report(run).write(tmp / "clearing.html")
            written.append("clearing.html")
        if run.settlement.kind == "shadow":
            _shadow_report(run).write(tmp / "shadow.html")
            written.append("shadow.html")
        else:
            n = _statements(run, tmp / "statements", args.statements)
            if n:
                written.append(f"statements/ ({n} hospitals)")
        meta["files"] = written
        (tmp / "run.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                                      encoding="utf-8")
        _replace_folder(tmp, target, args.force)
        if run.ledger is not None and run.ledger is not ledger:
            write_ledger(run.ledger, args.ledger)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _summary(run, time.perf_counter() - started, sys.stderr)
    _clearing_summary(run, sys.stderr)
    if "previous" in meta:
        p = meta["previous"]
        print(f"  against run {p['run_version']}: {p['changed']:,} changed, {p['added']:,} added, "
              f"{p['removed']:,} removed (diff.*)", file=sys.stderr)
    print(f"结果 results: {target}/ ({', '.join(written)})", file=sys.stderr)
    return 0


#: Chinese names of the run folder's tables (their XLSX sheets).
SHEETS_ZH = {"case_lines": "病例明细", "hospitals": "医院结算", "drgs": "病组汇总", "reconciliation": "预算平衡",
             "hospital_months": "医院月度", "departments": "科室汇总", "diff": "变化", "clearing": "异地就医清算",
             "clearing_cases": "异地就医清算明细", "clearing_ledger": "清算台账核对", "outbound": "异地就医支出预测"}
#: What a fund without DRG-track points shows instead of a point value.
NO_POINTS = "无DRG点数，无点值 (no DRG-track points in this period, so no point value)"

SETTLE_EPILOG = """\
examples:
  drg settle year cases.parquet --weights harbin-2024.parquet --policy policy.toml --period 2024 -o runs/2024
  drg settle month 病案首页.csv --pack chs-drg-1.1 --weights w.parquet --policy p.toml --period 2024-03 -o runs/2024-03
  drg settle shadow cases.parquet --weights w.parquet --policy p.toml --period 2024 -o runs/shadow-2024
  drg settle month h001.csv --weights w.parquet --policy p.toml --period 2024-03 -o runs/h001 --point-value runs/2024-03
  drg settle shadow h001.csv --weights w.parquet --policy p.toml --period 2024 -o runs/h001 --point-value 310=241.5,390=198.25
  drg settle shadow cases.parquet --weights w.parquet --policy p.toml --period 2025 -o runs/s --outbound 2024/clearing.csv

inputs: grouped cases (drg group --keep-input) or raw records with --pack; a weight table (.parquet from
'drg weights import', or a published .csv/.xlsx); the policy TOML (payment/policies/example.toml documents
every key); the hospital table (hospital_id, level, optional coefficient, name, region).
exit codes: 0 written; 2 usage error; 3 bad policy, input, hospital table or a period without cases.
"""


def add_parser(sub) -> None:
    """Register ``drg settle month|year|shadow`` on the main parser's subcommands."""
    settle = sub.add_parser("settle", help=help_of("settle"))
    kinds = settle.add_subparsers(dest="kind", required=True)
    helps = {"year": "year-end clearing 年度清算", "month": "monthly pre-settlement 按月预结",
             "shadow": "shadow run: DRG payment vs. actual cost 空转试运行"}
    for kind in KINDS:
        p = kinds.add_parser(kind, help=helps[kind], epilog=SETTLE_EPILOG,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("cases", type=Path, nargs="+", help="case files: .parquet, .csv, .xlsx, .jsonl")
        p.add_argument("--weights", type=Path, required=True, help="weight table (.parquet, or a published .csv)")
        p.add_argument("--policy", type=Path, required=True, help="policy file (.toml)")
        p.add_argument("--period", required=True, help="2024 (year, shadow) or 2024-03 (month, shadow)")
        p.add_argument("-o", "--output", type=Path, required=True, help="run folder to write")
        p.add_argument("--pack", help="group raw records with this pack (name or folder)")
        p.add_argument("--hospitals", type=Path, help="hospital table (overrides the policy's)")
        p.add_argument("--scores", type=Path, help="assessment scores 考核得分: hospital_id, score")
        p.add_argument("--special", type=Path, help="特病单议 approved cases: case_id")
        p.add_argument("--events", type=Path, help="突发事件 exclusions: case_id, event")
        p.add_argument("--previous", type=Path, metavar="RUN_DIR", help="write a diff against this earlier run")
        if kind != "shadow":
            p.add_argument("--ledger", type=Path, metavar="FILE",
                           help="run ledger 结算台账 (.csv, created if missing): read, and this run recorded in it")
        p.add_argument("--formats", default="parquet,csv", help="table formats: parquet,csv,xlsx (default %(default)s)")
        p.add_argument("--statements", default="all", help="HTML statements: all, none, or hospital ids H001,H002")
        p.add_argument("--columns", type=Path, metavar="FILE", help="column mapping of the case files")
        p.add_argument("--encoding", help="text encoding of CSV/JSON case files (default: detected)")
        p.add_argument("--force", action="store_true",
                       help="replace an existing run folder; accept weights or a policy of another region than the "
                            "pack's")
        if kind == "shadow":
            p.add_argument("--outbound", type=Path, nargs="+", metavar="FILE",
                           help="last year's clearing tables (clearing.csv of the regions where this region's insured "
                                "were treated): forecast the outbound spending 异地就医支出预测 ([cross_region])")
        if kind != "year":
            p.add_argument("--point-value", metavar="VALUE",
                           help="for a file with part of the region's hospitals: the region's point value, "
                                "e.g. 241.5 or 310=241.5,390=198.25 (元/点, 元/RW for the rate method), or a "
                                "region-wide run folder such as runs/2024-03 (its exact values)")
        p.add_argument("--budget-share", metavar="SHARE",
                       help="for part of the region with its own budget: its share of every fund's budget, "
                            "e.g. 0.05 or 5%%")
        p.add_argument("--stale-after", type=float, default=3600, metavar="SECONDS",
                       help="remove hidden partial folders a killed run left beside the output once older than "
                            "this (default %(default)s s)")
        p.set_defaults(func=cmd_settle)


__all__ = ["INPUT_ERRORS", "SettleUsageError", "USAGE_ERRORS", "add_parser"]
