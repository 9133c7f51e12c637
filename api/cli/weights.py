"""``drg weights import`` and ``drg weights show``."""

from __future__ import annotations

from pathlib import Path

from weights import WeightMeta, WeightTable, parse_rates, read_published


def cmd_import(args) -> int:
    meta = WeightMeta(
        name=args.name or args.source.stem,
        region=args.region or "",
        year=args.year,
        pack_version=args.pack_version or "",
        base_rates=parse_rates(args.rates),
    )
    table = read_published(args.source, meta)
    table.write(args.output)
    print(f"imported {len(table.frame)} DRG weights from {args.source} into {args.output}")
    return 0


def cmd_show(args) -> int:
    table = WeightTable.read(args.table)
    m = table.meta
    print(f"{m.name}  region {m.region or '-'}  year {m.year or '-'}  pack {m.pack_version or '-'}")
    print(f"  source {m.source}  sha256 {m.source_sha256[:16]}…")
    for insurance, rate in m.base_rates.items():
        print(f"  基础费率 base rate {insurance}: {rate} 元")
    rws = table.frame["rw"]
    print(f"  {len(table.frame)} DRGs, RW {min(rws)} … {max(rws)}")
    columns = [c for c in ("drg", "drg_name", "rw", "mean_cost", "mean_los") if c in table.frame]
    print(table.frame[columns].head(args.rows).to_string(index=False))
    return 0


def add_parser(sub) -> None:
    """Register ``drg weights ...`` on the main parser's subcommands."""
    weights = sub.add_parser("weights", help="relative-weight tables 相对权重表")
    weights_sub = weights.add_subparsers(dest="weights_command", required=True)
    imp = weights_sub.add_parser("import", help="import a published CSV/XLSX weight table")
    imp.add_argument("source", type=Path)
    imp.add_argument("-o", "--output", type=Path, required=True, help="weight table to write (.parquet)")
    imp.add_argument("--name")
    imp.add_argument("--year", type=int)
    imp.add_argument("--region")
    imp.add_argument("--pack-version", help="pack the weights were published for, e.g. chs-drg-1.1")
    imp.add_argument("--rates", help="base rates per insurance type, e.g. 310=12252.70,390=9649.24")
    imp.set_defaults(func=cmd_import)
    show = weights_sub.add_parser("show", help="describe a weight table")
    show.add_argument("table", type=Path)
    show.add_argument("--rows", type=int, default=10)
    show.set_defaults(func=cmd_show)


__all__ = ["add_parser"]
