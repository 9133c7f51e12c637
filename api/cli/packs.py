"""``drg packs``: list, import and describe definition packs."""

from __future__ import annotations

from pathlib import Path

from api.cli.exits import EXIT_OK
from icd_tables.errors import PackError
from foundation.atomic import write_text_atomic
from icd_tables.pack import PACK_ENV, Pack, available_packs, configured_pack, default_pack_file, import_pack


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
    packs_sub.add_parser("list", help="list bundled and imported packs").set_defaults(func=cmd_packs_list)
    imp = packs_sub.add_parser("import", help="import a pack or a CHS-DRG 1.x table folder")
    imp.add_argument("source", type=Path)
    imp.add_argument("--name")
    imp.add_argument("--region")
    imp.add_argument("--force", action="store_true")
    imp.set_defaults(func=cmd_packs_import)
    default = packs_sub.add_parser("default", help="set (or show) the pack used when --pack is not given",
                                   epilog="example: drg packs default chs-drg-1.1")
    default.add_argument("pack", nargs="?", help="pack name or folder; omitted: show the current default")
    default.set_defaults(func=cmd_packs_default)
    show = packs_sub.add_parser("show", help="describe a pack")
    show.add_argument("pack")
    show.set_defaults(func=cmd_packs_show)


__all__ = ["add_parser"]
