"""Import of the national CHS-DRG 1.x tables (``rules.json`` + ``.dat`` files).

The twelve typed rule kinds of ``rules.json`` are compiled into the general
rule IR, so the 1.x packs run through the same compiler and kernels as the
2.0/3.0 expression rules.  The semantics follow the tables README
(``drg-tables/README.md``) section by section; the section numbers are cited
where a translation is not obvious.
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

from icd_tables.definition import RecordCheck, SchemeDefinition
from icd_tables.errors import PackFormatError
from icd_tables.rules.ir import (
    CC,
    MCC,
    TRUE,
    And,
    Compare,
    Expr,
    Field,
    InSets,
    Not,
    Or,
    Outcome,
    Present,
    RuleRow,
)

RULES_SCHEMA = "chs-drg-rules/1"
OR_PROCEDURES = "OP_ALL"  # the 3.0 name of the operating-room procedure list (SS_VALID)

_DX = (Field.PRINCIPAL_DX,)
_ALL_DX = (Field.PRINCIPAL_DX, Field.SECONDARY_DX)
_PROC = (Field.PRINCIPAL_PROC,)
_ALL_PROC = (Field.PRINCIPAL_PROC, Field.OTHER_PROCS)

SPLIT_RULES: dict[str, Expr] = {
    "none": TRUE,
    "mcc": InSets((Field.SECONDARY_DX,), (MCC,)),
    "mcc_or_cc": InSets((Field.SECONDARY_DX,), (MCC, CC)),
}

#: §3.2 record checks, in order; all report 信息校验不通过.
RECORD_CHECKS = (
    RecordCheck(
        "sex",
        Or((Compare(Field.SEX, "=", 1), Compare(Field.SEX, "=", 2))),
        "性别必须为1（男）或2（女）",
        "sex must be 1 (male) or 2 (female)",
    ),
    RecordCheck("age_years", Present(Field.AGE_YEARS), "年龄缺失", "age in years is missing"),
    RecordCheck(
        "age_days",
        Or((Not(Compare(Field.AGE_YEARS, "=", 0)), Present(Field.AGE_DAYS))),
        "年龄为0岁时须填写年龄不足1周岁的天数",
        "age in days is required when age in years is 0",
    ),
    RecordCheck(
        "birth_weight_g",
        Or(
            (
                Not(And((Compare(Field.AGE_YEARS, "=", 0), Compare(Field.AGE_DAYS, "<=", 28)))),
                Present(Field.BIRTH_WEIGHT),
            )
        ),
        "出生28天内的新生儿须填写新生儿出生体重",
        "birth weight is required for newborns of up to 28 days",
    ),
)


def read_dat(path: Path) -> list[tuple[str, str]]:
    """Read a ``.dat`` table: key before the first space, the rest verbatim.

    Parameters
    ----------
    path : Path
        UTF-8 file, one row a line, final newline optional.

    Returns
    -------
    list of (key, value)
        In file order, duplicates kept.
    """
    rows = []
    text = path.read_text(encoding="utf-8")
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        key, sep, value = line.partition(" ")
        if not sep or not key or not value:
            raise PackFormatError(f"{path}:{line_no}: expected 'KEY VALUE', found {line!r}")
        rows.append((key, value))
    return rows


def _dat_dict(path: Path, *, unique: bool = True) -> dict[str, str]:
    table: dict[str, str] = {}
    for key, value in read_dat(path):
        if unique and key in table:
            raise PackFormatError(f"{path}: duplicate key {key!r}")
        table.setdefault(key, value)
    return table


def is_chs1x_dir(path: Path) -> bool:
    """True when ``path`` holds a CHS-DRG 1.x ``rules.json``."""
    rules = path / "rules.json"
    if not rules.is_file():
        return False
    try:
        return json.loads(rules.read_text(encoding="utf-8")).get("schema") == RULES_SCHEMA
    except (ValueError, UnicodeDecodeError):
        return False


def read_rules_json(path: Path) -> dict:
    """Parse ``rules.json`` and check its schema tag."""
    rules = json.loads((path / "rules.json").read_text(encoding="utf-8"))
    if rules.get("schema") != RULES_SCHEMA:
        raise PackFormatError(
            f"{path / 'rules.json'}: schema {rules.get('schema')!r} is not {RULES_SCHEMA!r}"
        )
    return rules


def source_files(rules: dict) -> list[str]:
    """Relative paths of every source file of a 1.x pack, ``rules.json`` first."""
    return ["rules.json", *sorted(rules["tables"].values())]


class _Sets:
    """Names the code lists of ``rules.json`` as the 3.0 scheme would."""

    def __init__(self) -> None:
        self.sets: dict[str, tuple[str, ...]] = {}

    def add(self, name: str, codes) -> str:
        codes = tuple(codes)
        if self.sets.get(name, codes) != codes:
            raise PackFormatError(f"code set {name!r} defined twice with different codes")
        self.sets[name] = codes
        return name


def _mdc_entry(mdc: dict, sets: _Sets) -> Expr:
    """§3.3: the MDC entry condition."""
    entry = mdc["entry"]
    letter = mdc["mdc"]
    parts: list[Expr] = []
    kind = entry["kind"]
    if kind == "principal_proc_is_or":
        parts.append(InSets(_PROC, (OR_PROCEDURES,)))
    elif kind in ("principal_dx", "any_dx"):
        fields = _DX if kind == "principal_dx" else _ALL_DX
        parts.append(InSets(fields, (sets.add(f"DI_{letter}00", mdc["principal_dx"]),)))
    else:
        raise PackFormatError(f"MDC {letter}: unknown entry kind {kind!r}")
    if entry["sex"] is not None:
        parts.append(Compare(Field.SEX, "=", int(entry["sex"])))
    if entry["age_years"] is not None:
        parts.append(Compare(Field.AGE_YEARS, "=", int(entry["age_years"])))
    if entry["min_trauma_sites"] is not None:
        parts.append(_trauma_sites(mdc, sets, int(entry["min_trauma_sites"])))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _trauma_sites(mdc: dict, sets: _Sets, minimum: int) -> Expr:
    """At least ``minimum`` distinct sites among all diagnoses.

    "At least k of the site sets are hit" is the disjunction, over every
    k-combination of sites, of the conjunction "each of these sites is hit".
    """
    site_sets = [
        sets.add(f"DI_{mdc['mdc']}{n:02d}", site["dx"])
        for n, site in enumerate(mdc["trauma_sites"], start=1)
    ]
    return Or(
        tuple(
            And(tuple(InSets(_ALL_DX, (name,)) for name in combo))
            for combo in combinations(site_sets, minimum)
        )
    )


def _adrg_kind(adrg: dict, sets: _Sets) -> Expr:
    """§3.4: the twelve rule kinds as IR."""
    rid = adrg["id"]
    rule = adrg["rule"]
    kind = rule["kind"]

    def dx() -> str:
        return sets.add(f"DI_{rid}", adrg["dx"])

    def proc() -> str:
        return sets.add(f"OP_{rid}", adrg["proc"])

    def both_lists() -> Expr:
        return And(
            (
                InSets(_ALL_PROC, (proc(),)),
                InSets(_ALL_PROC, (sets.add(f"OP2_{rid}", adrg["proc2"]),)),
            )
        )

    or_principal = InSets(_PROC, (OR_PROCEDURES,))
    if kind == "always":
        return TRUE
    if kind == "principal_dx":
        return InSets(_DX, (dx(),))
    if kind == "any_dx":
        return InSets(_ALL_DX, (dx(),))
    if kind == "principal_proc":
        return InSets(_PROC, (proc(),))
    if kind == "any_proc":
        return InSets(_ALL_PROC, (proc(),))
    if kind == "principal_dx_and_principal_proc":
        return And((InSets(_DX, (dx(),)), InSets(_PROC, (proc(),))))
    if kind == "any_proc_in_both_lists":
        return both_lists()
    if kind == "principal_dx_and_any_proc_in_both_lists":
        return And((InSets(_DX, (dx(),)), *both_lists().items))
    if kind == "principal_proc_is_or":
        return or_principal
    if kind == "any_dx_and_principal_proc_is_or":
        return And((InSets(_ALL_DX, (dx(),)), or_principal))
    if kind == "no_or_proc":
        return Not(InSets(_ALL_PROC, (OR_PROCEDURES,)))
    if kind == "proc_categories":
        return _proc_categories(adrg, sets, dx if rule["dx_required"] else None)
    raise PackFormatError(f"ADRG rule {rid}: unknown rule kind {kind!r}")


def _proc_categories(adrg: dict, sets: _Sets, dx) -> Expr:
    """Some group of categories is wholly among the categories of the procedures."""
    rid = adrg["id"]
    by_category: dict[str, list[str]] = {}
    for code, category in adrg["proc_categories"].items():
        by_category.setdefault(category, []).append(code)
    groups = []
    for group in adrg["rule"]["any_of"]:
        names = [sets.add(f"OPC{c}_{rid}", sorted(by_category.get(c, ()))) for c in group]
        items = tuple(InSets(_ALL_PROC, (name,)) for name in names)
        groups.append(items[0] if len(items) == 1 else And(items))
    categories: Expr = groups[0] if len(groups) == 1 else Or(tuple(groups))
    return categories if dx is None else And((InSets(_DX, (dx(),)), categories))


def _newborn(adrg: dict) -> list[Expr]:
    """§3.4: the newborn predicates that follow the rule kind (MDC P)."""
    parts: list[Expr] = []
    if adrg["age_days_max"] is not None:
        parts.append(Compare(Field.AGE_DAYS, "<=", int(adrg["age_days_max"])))
    weight = adrg["birth_weight_g"]
    if weight is not None:
        parts.append(Compare(Field.BIRTH_WEIGHT, "!=", 0))
        if weight["min"] is not None:
            parts.append(Compare(Field.BIRTH_WEIGHT, ">=", int(weight["min"])))
        if weight["max_exclusive"] is not None:
            parts.append(Compare(Field.BIRTH_WEIGHT, "<", int(weight["max_exclusive"])))
    return parts


def _conjoin(first: Expr, rest: list[Expr]) -> Expr:
    items = [] if first == TRUE else [*first.items] if isinstance(first, And) else [first]
    items += rest
    if not items:
        return TRUE
    return items[0] if len(items) == 1 else And(tuple(items))


def _rule_rows(rules: dict, sets: _Sets) -> list[RuleRow]:
    rows: list[RuleRow] = []
    for mdc_sort, mdc in enumerate(rules["mdcs"], start=1):
        letter = mdc["mdc"]
        rows.append(RuleRow("mdc", letter, "", mdc_sort, _mdc_entry(mdc, sets), mdc["name_zh"]))
        adrg_rows: list[tuple[RuleRow, list[RuleRow]]] = []
        for adrg in mdc["adrgs"]:
            if adrg.get("fallback_drg") is not None:
                raise PackFormatError(f"ADRG rule {adrg['id']}: fallback_drg is not supported")
            rule = _conjoin(_adrg_kind(adrg, sets), _newborn(adrg))
            drgs = [
                RuleRow("drg", d["drg"], adrg["id"], n, SPLIT_RULES[d["split"]], d["name_zh"])
                for n, d in enumerate(adrg["drgs"], start=1)
            ]
            row = RuleRow("adrg", adrg["id"], letter, 0, rule, adrg["name_zh"], adrg["adrg"])
            adrg_rows.append((row, drgs))
        qy = mdc["qy"]
        if qy["enabled"]:
            qy_row = RuleRow(
                "adrg", qy["drg"], letter, 0, InSets(_ALL_PROC, (OR_PROCEDURES,)),
                "歧义病案", outcome=Outcome.QY,
            )
            adrg_rows.insert(qy["before_index"], (qy_row, [RuleRow("drg", qy["drg"], qy["drg"], 1, TRUE)]))
        for sort, (row, drgs) in enumerate(adrg_rows, start=1):
            rows.append(RuleRow(row.level, row.code, row.parent, sort, row.rule, row.name_zh,
                                row.result, row.outcome))
            rows.extend(drgs)
    return rows


def load_chs1x(path: Path) -> SchemeDefinition:
    """Build a :class:`SchemeDefinition` from a CHS-DRG 1.x table folder.

    Parameters
    ----------
    path : Path
        Folder holding ``rules.json`` and the ``.dat`` tables it names.

    Raises
    ------
    PackFormatError
        When ``rules.json`` or a table is malformed.
    """
    path = Path(path)
    rules = read_rules_json(path)
    tables = {role: path / rel for role, rel in rules["tables"].items()}
    sets = _Sets()
    sets.add(OR_PROCEDURES, sorted(_dat_dict(tables["or_procedures"], unique=False)))
    rows = _rule_rows(rules, sets)
    return SchemeDefinition(
        dx_map=_dat_dict(tables["dx_map"]),
        proc_map=_dat_dict(tables["proc_map"]),
        dx_names=_dat_dict(tables["dx_names"]),
        proc_names=_dat_dict(tables["proc_names"]),
        drg_names=_dat_dict(tables["drg_names"]),
        mdc_names={m["mdc"]: m["name_zh"] for m in rules["mdcs"]},
        mcc=_dat_dict(tables["mcc"]),
        cc=_dat_dict(tables["cc"]),
        cc_exclusion=_dat_dict(tables["cc_exclusion"]),
        sets=sets.sets,
        rows=rows,
        checks=list(RECORD_CHECKS),
        ungroupable_drg=rules["ungroupable_drg"],
    )
