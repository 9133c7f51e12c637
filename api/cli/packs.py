"""``drg packs``: list, import and describe definition packs."""

from __future__ import annotations

from pathlib import Path

import sys

from api.cli.exits import EXIT_OK, UsageError
from icd_tables.errors import PackError, PackNotFoundError
from foundation.atomic import write_text_atomic
from icd_tables.pack import (
    PACK_ENV,
    Pack,
    available_packs,
    configured_pack,
    default_pack_file,
    import_pack,
    read_manifest,
)
from icd_tables.regions import region_label

LIST_COLUMNS = ("name", "region 统筹区", "year", "schema", "DRGs", "digest", "source")


def cmd_packs_list(args) -> int:
    packs = available_packs()
    if not packs:
        print("no packs found")
        return EXIT_OK
    rows = []
    for name, folder in packs.items():
        try:
            pack = Pack.load(folder)
        except PackError as exc:
            print(f"{name}  UNUSABLE 不可用: {exc}")
            continue
        m = pack.manifest
        rows.append((name, region_label(m.region), m.version, m.format, str(len(pack.compiled.drg_codes) - 1),
                     m.digest[:12], m.source))
    widths = [max(len(r[k]) for r in [LIST_COLUMNS, *rows]) for k in range(len(LIST_COLUMNS) - 1)]
    for row in [LIST_COLUMNS, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return EXIT_OK


def cmd_packs_import(args) -> int:
    """Import every pack among the sources; what is not a pack (a README, a licence, a rule folder) is skipped."""
    if args.name and len(args.source) > 1:
        raise UsageError("drg packs import: --name needs exactly one source 只能为一个方案指定名称")
    imported = 0
    for source in args.source:
        if not source.is_dir():
            print(f"skipped {source}: not a folder, not a pack 不是分组方案，已跳过", file=sys.stderr)
            continue
        try:
            read_manifest(source)
        except PackNotFoundError:
            print(f"skipped {source}: no manifest.json or CHS-DRG rules.json, not a pack 不是分组方案，已跳过",
                  file=sys.stderr)
            continue
        target = import_pack(source, args.name, region=args.region, force=args.force)
        pack = Pack.load(target)
        print(f"imported {pack.version} ({region_label(pack.manifest.region)}) into {target}")
        imported += 1
    print(f"{imported} pack(s) imported 已导入 {imported} 个分组方案", file=sys.stderr)
    return EXIT_OK


def cmd_packs_show(args) -> int:
    pack = Pack.load(args.pack)
    m, c = pack.manifest, pack.compiled
    print(f"{m.name} ({pack.version})\n  scheme {m.scheme} {m.version}, region {region_label(m.region)}\n"
          f"  source {m.source}")
    if m.description:
        print(f"  {m.description}")
    print(f"  {len(c.mdc_codes)} MDC, {len(c.adrg_codes)} ADRG, {len(c.drg_codes) - 1} DRG, "
          f"{len(c.dx_inputs):,} diagnosis and {len(c.proc_inputs):,} procedure input codes")
    for rel, sha in m.files.items():
        print(f"  {sha[:16]}  {rel}")
    return EXIT_OK



def cmd_packs_default(args) -> int:
    if args.pack is None:
        configured = configured_pack()
        print(f"default pack: {configured[0]} (from {configured[1]})" if configured else
              "no default pack; set one with 'drg packs default NAME'")
        return EXIT_OK
    pack = Pack.load(args.pack)  # refuse a name that does not load
    path = write_text_atomic(default_pack_file(), f"{args.pack}\n")
    print(f"default pack: {args.pack} ({pack.version}), written to {path}")
    if configured_pack() and configured_pack()[1] == f"${PACK_ENV}":
        print(f"note: ${PACK_ENV} is set and wins over this default")
    return EXIT_OK


def add_parser(sub) -> None:
    packs = sub.add_parser("packs", help="definition packs 分组方案")
    packs_sub = packs.add_subparsers(dest="packs_command", required=True)
    packs_sub.add_parser("list", help="list bundled and imported packs: name, region, year, schema, DRGs, "
                                      "digest, source").set_defaults(func=cmd_packs_list)
    imp = packs_sub.add_parser("import", help="import packs or CHS-DRG table folders (national or regional)",
                               epilog="example: drg packs import ../shared/drg-tables/*  (non-packs are skipped)")
    imp.add_argument("source", type=Path, nargs="+")
    imp.add_argument("--name", help="name to register the pack under (one source only)")
    imp.add_argument("--region", help="pooling region to record (default: the pack's own)")
    imp.add_argument("--force", action="store_true", help="replace an existing pack of that name")
    imp.set_defaults(func=cmd_packs_import)
    default = packs_sub.add_parser("default", help="set (or show) the pack used when --pack is not given",
                                   epilog="example: drg packs default chs-drg-1.1")
    default.add_argument("pack", nargs="?", help="pack name or folder; omitted: show the current default")
    default.set_defaults(func=cmd_packs_default)
    show = packs_sub.add_parser("show", help="describe a pack")
    show.add_argument("pack")
    show.set_defaults(func=cmd_packs_show)


__all__ = ["add_parser"]
