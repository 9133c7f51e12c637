"""Worked examples of every ``drg`` subcommand, shown under ``--help`` (README: Command line)."""

from __future__ import annotations

#: Subcommand path → example command lines (put before a subcommand's own epilog).
EXAMPLES = {
    "drg": ["drg group 病案首页.csv -o results.parquet --pack chs-drg-1.1",
            "drg validate 病案首页.xlsx -o findings.xlsx --weights harbin-2024.parquet",
            "drg settle month cases.parquet --weights w.parquet --policy policy.toml --period 2024-03 -o runs/2024-03"],
    "group": ["drg group 病案首页.csv -o results.parquet --pack chs-drg-1.1",
              "drg group records.xlsx -o results.csv --columns my-columns.toml --keep-input --fail-on invalid",
              "drg group big.parquet -o results/ --engine spark --master local[4] --force"],
    "packs default": ["drg packs default chs-drg-1.1", "drg packs default"],
    "demo": ["drg demo", "drg demo -n 100000 --seed 1 -o demo.parquet"],
    "packs": ["drg packs list", "drg packs import tables/chs-drg-1.1", "drg packs default chs-drg-1.1"],
    "packs list": ["drg packs list"],
    "packs import": ["drg packs import tables/chs-drg-1.1",
                     "drg packs import tables/beijing-2022 --name beijing-2022 --region 北京 --force"],
    "packs show": ["drg packs show chs-drg-1.1"],
    "weights": ["drg weights import harbin-2024.csv -o harbin-2024.parquet --year 2024 --region 哈尔滨"],
    "weights import": ["drg weights import harbin-2024.csv -o harbin-2024.parquet --name harbin-2024 --year 2024 "
                       "--region 哈尔滨 --pack-version chs-drg-1.1 --rates 310=12252.70,390=9649.24"],
    "weights show": ["drg weights show harbin-2024.parquet --rows 20"],
    "settle": ["drg settle month cases.parquet --weights w.parquet --policy policy.toml --period 2024-03 -o runs/2024-03"],
    "calibrate": ["drg calibrate history-2021.parquet history-2022.parquet history-2023.parquet -o weights-2024.parquet "
                  "--year-weights 1,2,3 --inflation cpi.csv",
                  "drg calibrate 病案首页.csv --pack chs-drg-1.1 -o w.xlsx --trim percentile --tails 5,95 --min-cases 10"],
    "indices": ["drg indices cases-2024.parquet --weights weights-2024.parquet -o indices.xlsx --top-n 50"],
    "validate": ["drg validate 病案首页.xlsx -o findings.xlsx",
                 "drg validate records.csv -o findings.parquet --weights harbin-2024.parquet --explain explain.parquet "
                 "--whatif whatif.csv --rules my-rules.toml --report report.html"],
    "explain": ["drg explain 病案首页.csv ZY2024000123 --pack chs-drg-1.1 --weights harbin-2024.parquet"],
    "audit": ["drg audit cases-2024-03.parquet -o flags.xlsx --weights harbin-2024.parquet --history cases-2024-0[12].parquet",
              "drg audit 病案首页.csv --pack chs-drg-1.1 --weights w.parquet -o flags.csv --rate 310=12252.70,390=9649.24"],
}


def epilog(path: str) -> str | None:
    """The ``examples:`` block of one subcommand (``"packs import"``), None when it has none."""
    lines = EXAMPLES.get(path)
    return "examples:\n" + "\n".join(f"  {line}" for line in lines) if lines else None


__all__ = ["EXAMPLES", "epilog"]
