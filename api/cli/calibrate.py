"""``drg calibrate`` (相对权重测算) and ``drg indices`` (医院绩效指数)."""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc

from api.cli.commands import help_of
from api.cli import spark
from foundation import files
from api.cases import read_cases
from foundation.files import InputError, write_table
from api.cli.options import number
from api.cli.in_use import in_use_line, pack_versions
from api.cli.report import Report
from calibration import EXCLUSIONS, TABLE_COLUMNS, CalibrationError, RelativeWeightCalibrator
from calibration.indices import INDEX_COLUMNS, TOP_COLUMNS, performance_indices
from calibration.quota import quota_table
from icd_tables.pack import Pack
from weights import WeightTable

INPUT_ERRORS = (CalibrationError,)
USAGE_ERRORS = spark.USAGE_ERRORS

__all__ = ["CalibrationError", "INPUT_ERRORS", "USAGE_ERRORS", "add_parser"]

_YEAR_HEADERS = ("year", "年份", "年度")
_INDEX_HEADERS = ("index", "price_index", "价格指数", "指数", "cpi")


def parse_year_weights(text: str):
    """``2,3,5`` (oldest year first) → list; ``2022=2,2023=3`` → dict."""
    try:
        if "=" in text:
            return {int(y): float(w) for y, w in (part.split("=", 1) for part in text.split(","))}
        return [float(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"year weights {text!r}: give numbers oldest year first (2,3,5) or year=weight (2022=2,2023=3)") from None


_positive = number(float, 0, above=True)
_non_negative = number(float, 0)
_count = number(int, 1)
_days = number(int, 0)


def _tails(text: str) -> tuple[float, float]:
    try:
        low, high = (float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"tails {text!r}: give two percentages, e.g. 2.5,97.5") from None
    return low, high


def read_inflation(path: Path) -> dict[int, str]:
    """A price index per year from a CSV file with columns ``year``/``年份`` and ``index``/``价格指数``."""
    if not path.is_file():
        raise InputError(f"{path}: no such inflation file")
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = {name.strip().lower(): name for name in reader.fieldnames or ()}
        year_col = next((header[h] for h in _YEAR_HEADERS if h in header), None)
        index_col = next((header[h] for h in _INDEX_HEADERS if h in header), None)
        if year_col is None or index_col is None:
            raise InputError(f"{path}: the inflation file needs the columns year (年份) and index (价格指数); "
                             f"found {', '.join(reader.fieldnames or ()) or 'none'}")
        index = {}
        for row_no, row in enumerate(reader, start=2):
            try:
                year, value = int(row[year_col]), float(row[index_col])
            except (TypeError, ValueError):
                raise InputError(f"{path} row {row_no}: year {row[year_col]!r} and index {row[index_col]!r} "
                                 "must be numbers") from None
            if value <= 0 or year in index:
                raise InputError(f"{path} row {row_no}: index must be above 0 and each year listed once")
            index[year] = row[index_col].strip()
    if not index:
        raise InputError(f"{path}: no rows")
    return index


def _files(paths) -> list[Path]:
    """The files of ``paths``, a folder (a Parquet data set) as its data files in name order."""
    out = []
    for path in paths:
        if path.is_dir():
            out += sorted(f for f in path.rglob("*") if f.is_file() and not f.name.startswith(("_", ".")))
        else:
            out.append(path)
    return out


def _sha256(paths) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _report_path(args) -> Path | None:
    if args.no_report:
        return None
    return args.report or args.output.with_suffix(".html")


def _read(args):
    pack = Pack.load(args.pack) if args.pack else None
    started = time.perf_counter()
    cases = read_cases(args.inputs, pack=pack, columns=args.columns, encoding=args.encoding)
    print(f"read {cases.num_rows:,} cases from {len(args.inputs)} file(s) in {time.perf_counter() - started:.1f} s; "
          + in_use_line(pack_versions(cases), getattr(args, "weights", None) and str(args.weights)), file=sys.stderr)
    return cases, pack


def _quota(args) -> int:
    """``drg calibrate --quota``: the quota table (定额标准表) a ``method = "quota"`` policy points at."""
    from payment.inputs import PaymentInputError, read_hospital_levels  # the hospital table is payment's

    if args.engine == "spark":
        raise CalibrationError("--quota runs on one machine (定额测算在单机运行): leave out --engine spark")
    if args.quota == "level" and args.hospitals is None:
        raise CalibrationError("--quota level needs the hospital table (--hospitals FILE) for each hospital's level "
                               "(医院等级)")
    try:
        levels = read_hospital_levels(args.hospitals) if args.hospitals else None
    except PaymentInputError as exc:
        raise CalibrationError(str(exc)) from None
    cases = read_cases(args.inputs, columns=args.columns, encoding=args.encoding, raw=True,
                       required=("hospital_id", "total_cost"))
    covered = args.covered_cost is not False
    table = quota_table(cases, by=args.quota, n_years=args.quota_years, year=args.year, covered_cost=covered,
                        levels=levels)
    write_table(table, args.output)
    cost = ("范围内费用 covered cost (total − self_pay_cost)" if covered and "self_pay_cost" in cases.column_names
            else "总费用 total cost")
    print(f"{table.num_rows} quotas (定额标准) by {args.quota} from {int(pc.sum(table['n_discharges']).as_py()):,} "
          f"discharges of {table['years'][0]}, on {cost}: {args.output}", file=sys.stderr)
    return 0


def cmd_calibrate(args) -> int:
    if args.quota:
        return _quota(args)
    files.output_format(args.output)
    report_path = _report_path(args)
    inflation = read_inflation(args.inflation) if args.inflation else None
    params = dict(
        trim=args.trim, iqr_factor=args.iqr_factor, sd_factor=args.sd_factor, tails=args.tails,
        min_cases=args.min_cases, smoothing=args.smoothing, min_cost=args.min_cost, min_los=args.min_los,
        max_los=args.max_los, year_weights=args.year_weights, inflation=inflation, base_year=args.base_year,
        split_advice=args.advice, covered_cost=bool(args.covered_cost))
    if args.engine == "spark":
        started = time.perf_counter()
        model = spark.calibrate(args, params)
    else:
        cases, pack = _read(args)
        if pack is not None:
            codes, names = pack.compiled.drg_codes.to_pylist(), pack.compiled.drg_names.to_pylist()
            params["all_drgs"] = {c: n or "" for c, n in zip(codes, names) if c and c != "0000"}
        if args.covered_cost and "self_pay_cost" not in cases.column_names:
            print("--covered-cost: the cases have no self_pay_cost (自费/范围外费用) column; the total cost is used",
                  file=sys.stderr)
        started = time.perf_counter()
        model = RelativeWeightCalibrator(**params).fit(cases)
    seconds = time.perf_counter() - started
    table = model.to_weight_table(args.name or args.output.stem, region=args.region or "", year=args.year,
                                  source=", ".join(p.name for p in args.inputs),
                                  source_sha256=_sha256(_files(args.inputs)))
    if files.output_format(args.output) == "parquet":
        table.write(args.output)
    else:
        write_table(table.to_arrow(), args.output)
    _print_calibration(model, seconds)
    if report_path is not None:
        calibration_report(model, table.meta.name, " ".join(str(p) for p in args.inputs)).write(report_path)
        print(f"报告 report: {report_path}", file=sys.stderr)
    print(f"权重表 weights: {args.output}  ({len(table.frame)} DRGs, pack {model.pack_version_ or '-'})",
          file=sys.stderr)
    return 0


def _print_calibration(model: RelativeWeightCalibrator, seconds: float) -> None:
    out = sys.stderr
    stats = model.group_stats_
    print(f"{model.n_cases_:,} cases, {model.n_valid_:,} valid (有效), {model.n_used_:,} used after trimming "
          f"(剔除后), calibrated in {seconds:.2f} s", file=out)
    for key, zh, en in EXCLUSIONS.values():
        if model.exclusions_[key]:
            print(f"  excluded {model.exclusions_[key]:>10,}  {zh} ({en})", file=out)
    if model.years_:
        print("  years 年份: " + ", ".join(f"{y} (weight {w}, inflation ×{f})" for y, w, f in
                                          zip(model.years_, model.year_weights_, model.inflation_factors_)), file=out)
    print(f"{len(stats)} DRGs: {int(stats['small_group'].sum())} small groups (小样本, shrunk toward the ADRG), "
          f"{int(stats['unstable'].sum())} with CV ≥ 1 (不稳定), {len(model.missing_drgs_)} without data (无数据)",
          file=out)
    print(f"RIV 方差减少系数 {model.riv_:.4f}; share of DRGs with CV < 1: {model.cv_share_:.1%}; "
          f"mean cost 例均费用 {model.mean_cost_} 元", file=out)


def _zh(frame, names: dict):
    return frame.rename(columns={k: f"{v} {k}" for k, v in names.items()})


def calibration_report(model: RelativeWeightCalibrator, name: str, source: str) -> Report:
    """The calibration's HTML report: key figures, exclusions, distributions, RW ranking, CV histogram."""
    stats = model.group_stats_
    r = Report("DRG相对权重测算报告", "DRG relative-weight calibration", f"{name} — {source}")
    r.metrics({"病例数 cases": f"{model.n_cases_:,}", "有效病例 valid": f"{model.n_valid_:,}",
               "入选病例 used": f"{model.n_used_:,}", "病组数 DRGs": len(stats),
               "RIV 方差减少系数": round(model.riv_, 4), "CV<1 占比 share": f"{model.cv_share_:.1%}",
               "小样本病组 small": int(stats["small_group"].sum()), "无数据病组 no data": len(model.missing_drgs_),
               "例均费用 mean cost": f"{model.mean_cost_} 元"})
    r.paragraph(f"费用口径 cost: {'范围内费用 covered (total − self_pay_cost)' if model.covered_cost else '总费用 total'}; "
                f"剔除方法 trimming: {model.trim}; min_cases {model.min_cases}; "
                f"年份 years {', '.join(map(str, model.years_)) or '-'}; "
                f"年份权重 year weights {', '.join(model.year_weights_) or '-'}; "
                f"通胀系数 inflation {', '.join(model.inflation_factors_) or '-'}", note=True)
    r.heading("排除病例 Excluded cases")
    r.table(pd.DataFrame([(zh, en, model.exclusions_[key]) for key, zh, en in EXCLUSIONS.values()],
                         columns=["原因", "reason", "病例数 cases"]))
    busiest = stats.sort_values(["n_cases", "drg"], ascending=[False, True]).head(30)["drg"].tolist()
    q = model.cost_quartiles_.set_index("drg").loc[busiest]
    r.heading("费用分布 Cost distribution per DRG (剔除前后 before / after trimming)")
    r.box_plot(busiest, q[["all_min", "all_q1", "all_median", "all_q3", "all_max"]].to_numpy(),
               stats2=q[["kept_min", "kept_q1", "kept_median", "kept_q3", "kept_max"]].to_numpy(),
               legend=("剔除前 before", "剔除后 after"), log=True, x_label="费用（元，对数刻度） cost, log scale",
               title="病例数最多的30个病组 the 30 DRGs with most cases: min, Q1, median, Q3, max")
    ranked = stats.sort_values(["rw", "drg"], ascending=[False, True])
    r.heading("权重排名 RW ranking")
    r.bar_chart(ranked["drg"].head(40), [float(v) for v in ranked["rw"].head(40)], title="权重最高的40个病组 top 40 RW")
    r.heading("变异系数分布 CV histogram")
    r.histogram([float(v) for v in stats["cv"].dropna()], bins=[i / 10 for i in range(0, 31)],
                title="病组变异系数 CV of the DRGs (CV ≥ 1: 不稳定 unstable)", x_label="CV")
    for title, rows in (("小样本病组 Small groups (shrunk toward the ADRG)", stats[stats["small_group"]]),
                        ("不稳定病组 Unstable groups (CV ≥ 1)", stats[stats["unstable"]])):
        if len(rows):
            r.heading(title).table(_zh(rows, TABLE_COLUMNS))
    if len(model.missing_drgs_):
        r.heading("无数据病组 DRGs without data (no weight)")
        r.table(_zh(model.missing_drgs_, {"drg": "DRG编码", "drg_name": "DRG名称", "n_grouped": "入组病例数"}))
    if model.split_advice_ is not None and len(model.split_advice_):
        r.heading("细分建议 Split advice (regression tree, advice only)")
        r.table(model.split_advice_.head(30))
    r.heading("权重表 Weight table")
    r.table(_zh(stats, TABLE_COLUMNS))
    return r


def cmd_indices(args) -> int:
    files.output_format(args.output)
    report_path = _report_path(args)
    top_path = args.top_cases or args.output.with_name(f"{args.output.stem}.top{args.output.suffix}")
    files.output_format(top_path)
    weights = WeightTable.read(args.weights)
    cases, _ = _read(args)
    started = time.perf_counter()
    result = performance_indices(cases, weights, min_cost=args.min_cost, max_los=args.max_los, top_n=args.top_n)
    seconds = time.perf_counter() - started
    for path, table in ((args.output, result.table), (top_path, result.top_cases)):
        write_table(table, path)
    print(f"{cases.num_rows:,} cases: indices in {seconds:.2f} s ({cases.num_rows / max(seconds, 1e-9):,.0f} "
          f"records/s); {result.table.num_rows:,} rows; {len(result.low_risk_drgs)} low-risk DRGs (低风险组)",
          file=sys.stderr)
    if report_path is not None:
        indices_report(result, weights.meta.name, " ".join(str(p) for p in args.inputs)).write(report_path)
        print(f"报告 report: {report_path}", file=sys.stderr)
    print(f"指标 indices: {args.output}; 高费用病例 top cases: {top_path}", file=sys.stderr)
    return 0


def indices_report(result, weights_name: str, source: str) -> Report:
    """The indices' HTML report: regional figures, the hospital table and charts, the costliest cases."""
    frame = result.table.to_pandas()
    region = frame[frame["level"] == "region"]
    hospitals = frame[frame["level"] == "hospital"].sort_values(["cmi", "hospital_id"], ascending=[False, True])
    r = Report("医院DRG绩效指标", "Hospital case-mix performance indices", f"{source} — weights {weights_name}")
    if len(region):
        row = region.iloc[0]
        r.metrics({"病例数 cases": f"{int(row['n_cases']):,}", "CMI": row["cmi"], "组数 DRGs": int(row["n_drgs"]),
                   "入组率 grouping rate": row["grouping_rate"],
                   "低风险组死亡率": row.get("low_risk_mortality", float("nan")),
                   "低风险组数 low-risk DRGs": len(result.low_risk_drgs)})
    shown = [c for c in INDEX_COLUMNS if c in hospitals.columns and c not in ("level", "dept", "month")]
    r.heading("各医院 Hospitals")
    r.bar_chart(hospitals["hospital_id"].head(40), hospitals["cmi"].fillna(0).head(40), title="CMI")
    r.bar_chart(hospitals["hospital_id"].head(40), hospitals["cost_index"].fillna(0).head(40),
                values2=hospitals["time_index"].fillna(0).head(40), legend=("费用消耗指数 cost", "时间消耗指数 time"),
                title="费用与时间消耗指数 efficiency indices (1 = regional level)")
    r.table(_zh(hospitals[shown], INDEX_COLUMNS))
    r.heading("高费用病例 Costliest cases against their DRG mean")
    r.table(_zh(result.top_cases.to_pandas(), TOP_COLUMNS), max_rows=100)
    r.paragraph("各科室、各月份的指标见数据文件 (per department and month: see the data file).", note=True)
    return r


def _common(parser) -> None:
    parser.add_argument("--pack", help="group raw records with this pack first (name or folder); "
                                       "without it the files must hold grouped cases (drg group --keep-input)")
    parser.add_argument("--columns", type=Path, metavar="FILE", help="column mapping: input header → field")
    parser.add_argument("--encoding", help="text encoding of CSV/JSON inputs (default: detected)")
    parser.add_argument("--min-cost", type=_non_negative, default=5.0, help="exclude cases under this cost, 元 (default 5)")
    parser.add_argument("--max-los", type=_days, default=60, help="exclude stays over this many days (default 60)")
    parser.add_argument("--report", type=Path, help="HTML report (default: the output's name with .html)")
    parser.add_argument("--no-report", action="store_true", help="write no HTML report")


def add_parser(sub) -> None:
    """Register ``drg calibrate`` and ``drg indices`` on the main parser's subcommands."""
    cal = sub.add_parser("calibrate", help=help_of("calibrate"),
                         description="Relative weights per DRG from settled historical cases (README: Calibration).")
    cal.add_argument("inputs", type=Path, nargs="+", metavar="HISTORY", help="case files (.parquet .csv .xlsx .jsonl)")
    cal.add_argument("-o", "--output", type=Path, required=True,
                     help="weight table: .parquet (with metadata), or .csv/.xlsx (the same columns)")
    _common(cal)
    cal.add_argument("--trim", choices=["iqr", "sd", "percentile", "none"], default="iqr",
                     help="outlier trimming within each DRG (default %(default)s)")
    cal.add_argument("--iqr-factor", type=_positive, default=1.5, help="k of Q1 − k·IQR … Q3 + k·IQR (default 1.5)")
    cal.add_argument("--sd-factor", type=_positive, default=3.0, help="k of mean ± k·SD (default 3)")
    cal.add_argument("--tails", type=_tails, default=(2.5, 97.5), help="percentiles kept by --trim percentile")
    cal.add_argument("--min-cases", type=_count, default=5, help="smaller DRGs are shrunk toward the ADRG (default 5)")
    cal.add_argument("--smoothing", type=_non_negative, help="k of the shrinkage (default: --min-cases)")
    cal.add_argument("--min-los", type=_days, default=0, help="exclude stays under this many days (default 0)")
    cal.add_argument("--year-weights", type=parse_year_weights, metavar="W,W,W",
                     help="weights of the history years, oldest first (2,3,5) or 2022=2,2023=3,2024=5")
    cal.add_argument("--inflation", type=Path, metavar="FILE", help="CSV of year,index (年份,价格指数)")
    cal.add_argument("--base-year", type=_count, help="inflate costs to this year (default: the newest)")
    cal.add_argument("--advice", action="store_true", help="also propose ADRG splits (regression tree; slower)")
    cal.add_argument("--name", help="weight-table name (default: the output's file name)")
    cal.add_argument("--region", help="region 地区")
    cal.add_argument("--year", type=int, help="year the weights (or quotas) are for")
    cal.add_argument("--covered-cost", action=argparse.BooleanOptionalAction, default=None,
                     help="cost = total − self_pay_cost (医保范围内费用) when the cases have self_pay_cost; default: "
                          "off for weights (total cost), on for --quota")
    cal.add_argument("--quota", choices=["hospital", "level"],
                     help="write a quota table (定额标准表, 元 per discharge) instead of weights: each hospital's own "
                          "average of the --quota-years years before --year, or each level's of the year before")
    cal.add_argument("--quota-years", type=_count, default=3, help="--quota hospital: previous years used (default 3)")
    cal.add_argument("--hospitals", type=Path, metavar="FILE",
                     help="hospital table (hospital_id, level) for --quota level")
    cal.add_argument("--engine", choices=["local", "spark"], default="local",
                     help="local (one machine, default) or spark: grouped cases in Parquet files or folders")
    cal.add_argument("--master", help="Spark master with --engine spark (local[4], spark://host:7077, yarn)")
    cal.set_defaults(func=cmd_calibrate)

    idx = sub.add_parser("indices", help=help_of("indices"),
                         description="Case-mix indices per hospital, department and month (README: Indices).")
    idx.add_argument("inputs", type=Path, nargs="+", metavar="CASES", help="case files (.parquet .csv .xlsx .jsonl)")
    idx.add_argument("--weights", type=Path, required=True, help="weight table (.parquet, drg weights import/calibrate)")
    idx.add_argument("-o", "--output", type=Path, required=True, help="indices: .parquet, .csv or .xlsx")
    idx.add_argument("--top-cases", type=Path, help="costliest cases per hospital (default: OUTPUT.top.EXT)")
    idx.add_argument("--top-n", type=_days, default=20, help="costliest cases per hospital (default 20)")
    _common(idx)
    idx.set_defaults(func=cmd_indices)
