"""This project's own pack format, ``drgpack/1``: plain TSV files in a folder.

A scheme of any version is written as data: the decision table in the
official expression language plus the code tables it refers to.

=====================  ===========================================================
file                   columns (tab-separated, header row, UTF-8)
=====================  ===========================================================
``manifest.json``      see :class:`icd_tables.manifest.Manifest`
``rules.tsv``          ``table code parent mdc sort rule name_zh result outcome``
``checks.tsv``         ``name rule message_zh message_en`` (record checks, 信息校验)
``sets.tsv``           ``set code`` (one row per member of a named code set)
``dx.tsv``             ``code name`` (grouper diagnosis codes, ICD-10 医保版)
``proc.tsv``           ``code name`` (grouper procedure codes, ICD-9-CM-3 医保版)
``dx_map.tsv``         ``input_code code`` (codes as they appear on records)
``proc_map.tsv``       ``input_code code``
``complications.tsv``  ``code level exclusion_id`` (level ``MCC`` or ``CC``)
``exclusions.tsv``     ``principal_dx exclusion_id`` (排除表 of each principal)
=====================  ===========================================================
"""

from __future__ import annotations

import csv
from pathlib import Path

from icd_tables.definition import RecordCheck, SchemeDefinition
from icd_tables.errors import PackFormatError
from icd_tables.rules import format_rule, parse_rule, read_rule_table, write_rule_table
from icd_tables.rules.parser import RuleSyntaxError

RULES = "rules.tsv"
TABLE_COLUMNS = {
    "checks.tsv": ("name", "rule", "message_zh", "message_en"),
    "sets.tsv": ("set", "code"),
    "dx.tsv": ("code", "name"),
    "proc.tsv": ("code", "name"),
    "dx_map.tsv": ("input_code", "code"),
    "proc_map.tsv": ("input_code", "code"),
    "complications.tsv": ("code", "level", "exclusion_id"),
    "exclusions.tsv": ("principal_dx", "exclusion_id"),
}


def _read(folder: Path, name: str) -> list[tuple[int, dict[str, str]]]:
    path = folder / name
    columns = TABLE_COLUMNS[name]
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None or tuple(header[: len(columns)]) != columns:
            raise PackFormatError(f"{path}: header must start with {' '.join(columns)}, found {header}")
        rows = []
        for line_no, values in enumerate(reader, start=2):
            if not values:
                continue
            if len(values) < len(columns):
                raise PackFormatError(f"{path}:{line_no}: expected {len(columns)} columns, found {len(values)}")
            rows.append((line_no, dict(zip(columns, values))))
    return rows


def _mapping(folder: Path, name: str, key: str, value: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for line_no, row in _read(folder, name):
        if row[key] in table:
            raise PackFormatError(f"{folder / name}:{line_no}: duplicate {key} {row[key]!r}")
        table[row[key]] = row[value]
    return table


def load_drgpack(folder: Path) -> SchemeDefinition:
    """Read a ``drgpack/1`` folder into a :class:`SchemeDefinition`.

    Raises
    ------
    PackFormatError
        Naming the file and line of the first malformed row.
    """
    folder = Path(folder)
    rows = read_rule_table(folder / RULES)
    checks = []
    for line_no, row in _read(folder, "checks.tsv"):
        try:
            rule = parse_rule(row["rule"])
        except RuleSyntaxError as exc:
            raise PackFormatError(f"{folder / 'checks.tsv'}:{line_no}: {exc}") from exc
        checks.append(RecordCheck(row["name"], rule, row["message_zh"], row["message_en"]))
    sets: dict[str, list[str]] = {}
    for _, row in _read(folder, "sets.tsv"):
        sets.setdefault(row["set"], []).append(row["code"])
    mcc: dict[str, str] = {}
    cc: dict[str, str] = {}
    for line_no, row in _read(folder, "complications.tsv"):
        target = {"MCC": mcc, "CC": cc}.get(row["level"])
        if target is None:
            raise PackFormatError(
                f"{folder / 'complications.tsv'}:{line_no}: level must be MCC or CC, found {row['level']!r}"
            )
        target[row["code"]] = row["exclusion_id"]
    return SchemeDefinition(
        dx_map=_mapping(folder, "dx_map.tsv", "input_code", "code"),
        proc_map=_mapping(folder, "proc_map.tsv", "input_code", "code"),
        dx_names=_mapping(folder, "dx.tsv", "code", "name"),
        proc_names=_mapping(folder, "proc.tsv", "code", "name"),
        drg_names={r.code: r.name_zh for r in rows if r.level == "drg"},
        mdc_names={r.code: r.name_zh for r in rows if r.level == "mdc"},
        mcc=mcc,
        cc=cc,
        cc_exclusion=_mapping(folder, "exclusions.tsv", "principal_dx", "exclusion_id"),
        sets={name: tuple(codes) for name, codes in sets.items()},
        rows=rows,
        checks=checks,
    )


def write_drgpack(defn: SchemeDefinition, folder: Path) -> None:
    """Write ``defn`` as the TSV files of a ``drgpack/1`` folder (no manifest).

    Names that ``rules.tsv`` cannot carry (``drg_names`` of DRGs without a
    row) are not written; everything the grouper reads is.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = {**defn.mdc_names, **defn.drg_names}
    rows = [
        r if r.level == "adrg" or not names.get(r.code) else type(r)(
            r.level, r.code, r.parent, r.sort, r.rule, names[r.code], r.result, r.outcome
        )
        for r in defn.rows
    ]
    write_rule_table(rows, folder / RULES)
    tables = {
        "checks.tsv": [(c.name, format_rule(c.rule), c.message_zh, c.message_en) for c in defn.checks],
        "sets.tsv": [(name, code) for name, codes in defn.sets.items() for code in codes],
        "dx.tsv": sorted(defn.dx_names.items()),
        "proc.tsv": sorted(defn.proc_names.items()),
        "dx_map.tsv": sorted(defn.dx_map.items()),
        "proc_map.tsv": sorted(defn.proc_map.items()),
        "complications.tsv": [(c, "MCC", e) for c, e in sorted(defn.mcc.items())]
        + [(c, "CC", e) for c, e in sorted(defn.cc.items())],
        "exclusions.tsv": sorted(defn.cc_exclusion.items()),
    }
    for name, body in tables.items():
        with open(folder / name, "w", encoding="utf-8", newline="") as f:
            f.write("\t".join(TABLE_COLUMNS[name]) + "\n")
            for values in body:
                if any("\t" in v or "\n" in v for v in values):
                    raise PackFormatError(f"{name}: a value holds a tab or newline: {values!r}")
                f.write("\t".join(values) + "\n")
