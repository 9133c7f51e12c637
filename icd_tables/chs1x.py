"""Import of CHS-DRG 1.x tables (``rules.json`` + ``.dat`` files), national and regional.

The twelve typed rule kinds of ``rules.json`` are compiled into the general
rule IR, so the 1.x packs run through the same compiler and kernels as the
2.0/3.0 expression rules.  The semantics follow the tables README
(``drg-tables/README.md``) section by section; the section numbers are cited
where a translation is not obvious.  Regional packs (schema
``chs-drg-rules/2``, section 7) add typed conditions
(:mod:`icd_tables.chs_conditions`) as rule kind, MDC entry and DRG split,
more ADRG lists, QY checks on the principal procedure, ADRGs that return
their own code, and regrouping; every one of them maps onto the IR here, so
a new region needs no code.  A schema-2 pack using anything else is refused
with a message naming the construct and the file.
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

from icd_tables.chs_conditions import ConditionReader, conjoin
from icd_tables.definition import REGROUP_EACH_SECONDARY_PROC, RecordCheck, SchemeDefinition
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
REGIONAL_SCHEMA = "chs-drg-rules/2"
SCHEMAS = (RULES_SCHEMA, REGIONAL_SCHEMA)
#: Keys a schema-2 object may carry (tables README, sections 2 and 7); others are refused.
_KNOWN_KEYS = {
    "pack": {"schema", "pack", "description", "tables", "sha256", "mdc_order", "ungroupable_drg",
             "rule_kinds_used", "split_kinds_used", "condition_ops_used", "record_fields_read", "qy_enabled",
             "regroup_on_ungroupable", "counts", "drg_not_in_drg_dat", "drg_dat_not_reachable",
             "unreachable_adrg_rules", "unreachable_drgs", "adrg_modules_not_called", "mdcs"},
    "MDC": {"mdc", "name_zh", "entry", "principal_dx", "qy", "adrgs", "trauma_sites", "note"},
    "entry": {"kind", "sex", "age_years", "min_trauma_sites", "cond"},
    "qy": {"before_index", "enabled", "kind", "drg"},
    "ADRG": {"id", "adrg", "name_zh", "rule", "age_days_max", "birth_weight_g", "dx", "dx2", "proc", "proc2",
             "proc3", "drgs", "fallback_drg", "redundant_tests_dropped", "proc_categories", "lists_not_read"},
    "rule": {"kind", "cond", "dx_required", "any_of"},
    "DRG": {"drg", "split", "name_zh", "cond"},
}
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
        if not sep or not key:  # an empty value occurs (guangxi-2022 DRG.dat "BQY ")
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


def _names(path: Path) -> dict[str, str]:
    """A names table; a key listed twice with different names is left out (its rules.json name is used).

    wlmq-2022 ``DRG.dat`` lists ``DR13`` twice, once with the name of another DRG.
    """
    names: dict[str, str] = {}
    clashing = set()
    for key, value in read_dat(path):
        if names.setdefault(key, value) != value:
            clashing.add(key)
    return {k: v for k, v in names.items() if k not in clashing}


def chs1x_rules(path: Path) -> dict | None:
    """``rules.json`` of ``path`` parsed, when it is a CHS-DRG one (national schema 1 or regional schema 2); else None."""
    rules = path / "rules.json"
    if not rules.is_file():
        return None
    try:
        parsed = json.loads(rules.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) and parsed.get("schema") in SCHEMAS else None


def read_rules_json(path: Path) -> dict:
    """Parse ``rules.json`` and check its schema tag."""
    rules = json.loads((path / "rules.json").read_text(encoding="utf-8"))
    if rules.get("schema") not in SCHEMAS:
        raise PackFormatError(
            f"{path / 'rules.json'}: schema {rules.get('schema')!r} is not one of {', '.join(SCHEMAS)}"
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


def _mdc_entry(mdc: dict, sets: _Sets, conditions: ConditionReader) -> Expr:
    """§3.3 and §7.3: the MDC entry condition."""
    entry = mdc["entry"]
    letter = mdc["mdc"]
    parts: list[Expr] = []
    kind = entry["kind"]
    principal = sets.add(f"DI_{letter}00", mdc["principal_dx"])
    if kind == "principal_proc_is_or":
        parts.append(InSets(_PROC, (OR_PROCEDURES,)))
    elif kind in ("principal_dx", "any_dx"):
        parts.append(InSets(_DX if kind == "principal_dx" else _ALL_DX, (principal,)))
    elif kind == "cond" and conditions is not None:
        lists = {"principal_dx": principal, "or_procedures": OR_PROCEDURES}
        parts.append(conditions.read(entry.get("cond"), lists, f"MDC {letter} entry"))
    else:
        raise _unknown(conditions, f"MDC {letter}", f"entry kind {kind!r}")
    if entry["sex"] is not None:
        parts.append(Compare(Field.SEX, "=", int(entry["sex"])))
    if entry["age_years"] is not None:
        parts.append(Compare(Field.AGE_YEARS, "=", int(entry["age_years"])))
    if entry["min_trauma_sites"] is not None:
        parts.append(_trauma_sites(mdc, sets, int(entry["min_trauma_sites"])))
    return conjoin(parts)


def _unknown(conditions: ConditionReader | None, where: str, what: str) -> PackFormatError:
    """The error for a construct the pack's schema does not have."""
    if conditions is not None:
        return conditions.error(where, what)
    return PackFormatError(f"{where}: unknown {what}")


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


def _adrg_lists(adrg: dict, sets: _Sets) -> dict[str, str]:
    """§7.2: the lists a condition of this ADRG may name → set names."""
    rid = adrg["id"]
    names = {"dx": f"DI_{rid}", "dx2": f"DI2_{rid}", "proc": f"OP_{rid}", "proc2": f"OP2_{rid}",
             "proc3": f"OP3_{rid}"}
    lists = {key: sets.add(name, adrg.get(key, ())) for key, name in names.items()}
    return {**lists, "or_procedures": OR_PROCEDURES}


def _adrg_kind(adrg: dict, sets: _Sets, conditions: ConditionReader | None) -> Expr:
    """§3.4: the twelve rule kinds as IR, and §7.3 ``cond``."""
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
    if kind == "cond" and conditions is not None:
        return conditions.read(rule.get("cond"), _adrg_lists(adrg, sets), f"ADRG {rid} rule")
    raise _unknown(conditions, f"ADRG rule {rid}", f"rule kind {kind!r}")


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


def _drg_rows(adrg: dict, sets: _Sets, conditions: ConditionReader | None) -> list[RuleRow]:
    """§3.5 and §7.3: the DRG rows in order; a non-null ``fallback_drg`` becomes a last, unconditional row."""
    rows = []
    for n, d in enumerate(adrg["drgs"], start=1):
        split = d["split"]
        if split in SPLIT_RULES:
            rule = SPLIT_RULES[split]
        elif split == "cond" and conditions is not None:
            rule = conditions.read(d.get("cond"), _adrg_lists(adrg, sets), f"DRG {d['drg']} split")
        else:
            raise _unknown(conditions, f"DRG {d['drg']}", f"split {split!r}")
        rows.append(RuleRow("drg", d["drg"], adrg["id"], n, rule, d["name_zh"]))
    fallback = adrg.get("fallback_drg")
    if fallback is not None:
        if conditions is None:
            raise PackFormatError(f"ADRG rule {adrg['id']}: fallback_drg needs schema {REGIONAL_SCHEMA}")
        rows.append(RuleRow("drg", fallback, adrg["id"], len(rows) + 1, TRUE, adrg["name_zh"]))
    return rows


_QY_KINDS = {"any_proc_is_or": _ALL_PROC, "principal_proc_is_or": _PROC}


def _check_keys(obj: dict, kind: str, where: str, conditions: ConditionReader | None) -> None:
    if conditions is None:
        return
    extra = set(obj) - _KNOWN_KEYS[kind]
    if extra:
        raise conditions.error(where, f"{kind} key(s) {', '.join(sorted(extra))}")


def _evaluated_mdcs(rules: dict, conditions: ConditionReader | None) -> list[dict]:
    """§7.4: the MDCs in ``mdc_order``; MDCs not listed are never entered."""
    by_letter = {m["mdc"]: m for m in rules["mdcs"]}
    order = rules.get("mdc_order") or list(by_letter)
    missing = [letter for letter in order if letter not in by_letter]
    if missing:
        raise _unknown(conditions, "mdc_order", f"MDC(s) {', '.join(missing)} without an MDC object")
    return [by_letter[letter] for letter in order]


def _rule_rows(rules: dict, sets: _Sets, conditions: ConditionReader | None = None) -> list[RuleRow]:
    rows: list[RuleRow] = []
    for mdc_sort, mdc in enumerate(_evaluated_mdcs(rules, conditions), start=1):
        letter = mdc["mdc"]
        for obj, kind in ((mdc, "MDC"), (mdc["entry"], "entry"), (mdc["qy"], "qy")):
            _check_keys(obj, kind, f"MDC {letter}", conditions)
        rows.append(RuleRow("mdc", letter, "", mdc_sort, _mdc_entry(mdc, sets, conditions), mdc["name_zh"]))
        adrg_rows: list[tuple[RuleRow, list[RuleRow]]] = []
        for adrg in mdc["adrgs"]:
            _check_keys(adrg, "ADRG", f"ADRG {adrg['id']}", conditions)
            _check_keys(adrg["rule"], "rule", f"ADRG {adrg['id']}", conditions)
            for d in adrg["drgs"]:
                _check_keys(d, "DRG", f"DRG {d['drg']}", conditions)
            rule = conjoin([_adrg_kind(adrg, sets, conditions), *_newborn(adrg)])
            row = RuleRow("adrg", adrg["id"], letter, 0, rule, adrg["name_zh"], adrg["adrg"])
            adrg_rows.append((row, _drg_rows(adrg, sets, conditions)))
        qy = mdc["qy"]
        if qy["enabled"]:
            if qy["kind"] not in _QY_KINDS or (conditions is None and qy["kind"] != "any_proc_is_or"):
                raise _unknown(conditions, f"MDC {letter}", f"QY kind {qy['kind']!r}")
            qy_row = RuleRow(
                "adrg", qy["drg"], letter, 0, InSets(_QY_KINDS[qy["kind"]], (OR_PROCEDURES,)),
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
        When ``rules.json`` or a table is malformed, or a regional pack uses a
        construct outside section 7 of the tables README.
    """
    path = Path(path)
    rules = read_rules_json(path)
    conditions = None
    regroup = None
    if rules["schema"] == REGIONAL_SCHEMA:
        conditions = ConditionReader(lambda name, codes: sets.add(name, codes), str(path / "rules.json"))
        _check_keys(rules, "pack", "top level", conditions)
        regroup = rules.get("regroup_on_ungroupable")
        if regroup not in (None, REGROUP_EACH_SECONDARY_PROC):
            raise conditions.error("regroup_on_ungroupable", f"regrouping {regroup!r}")
    tables = {role: path / rel for role, rel in rules["tables"].items()}
    sets = _Sets()
    sets.add(OR_PROCEDURES, sorted(_dat_dict(tables["or_procedures"], unique=False)))
    rows = _rule_rows(rules, sets, conditions)
    return SchemeDefinition(
        dx_map=_dat_dict(tables["dx_map"]),
        proc_map=_dat_dict(tables["proc_map"]),
        dx_names=_dat_dict(tables["dx_names"]),
        proc_names=_dat_dict(tables["proc_names"]),
        drg_names=_names(tables["drg_names"]),
        mdc_names={m["mdc"]: m["name_zh"] for m in rules["mdcs"]},
        mcc=_dat_dict(tables["mcc"]),
        cc=_dat_dict(tables["cc"]),
        cc_exclusion=_dat_dict(tables["cc_exclusion"]),
        sets=sets.sets,
        rows=rows,
        checks=list(RECORD_CHECKS),
        ungroupable_drg=rules["ungroupable_drg"],
        regroup=regroup,
    )
