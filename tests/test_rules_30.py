"""The official CHS-DRG 3.0 rules: every row parses, and key rules mean what they say.

The code sets are not published with the rules, so each set ``S`` gets the
placeholder codes ``S#1`` and ``S#2``; a record puts codes in or out of the
sets a rule names, and the rule (evaluated by the plain-Python twin in
:mod:`naive`) is compared with a hand-written predicate of its intent
over every combination of the relevant inputs.
"""

from __future__ import annotations

from itertools import combinations, product

import pytest

from icd_tables.rules import (
    CC,
    MCC,
    TRUE,
    And,
    Count,
    InSets,
    Not,
    Or,
    Outcome,
    RuleRow,
    format_rule,
    parse_rule,
    read_rule_table,
    write_rule_table,
)
from naive import NaiveRecord, NaiveResult, eval_expr, group_rows

RULES_30 = "chs-drg-3.0-rules/rules.tsv"
OTHER = "OTHER#1"  # a code in no set
NEWBORN_DAYS = [None, 0, 1, 28, 29, 30, 365, 366, 1000]


def placeholder(name: str, n: int = 1) -> str:
    return f"{name}#{n}"


def set_names(expr) -> set[str]:
    if isinstance(expr, (And, Or)):
        return set().union(*(set_names(item) for item in expr.items))
    if isinstance(expr, Not):
        return set_names(expr.item)
    if isinstance(expr, InSets):
        return set(expr.sets) - {MCC, CC}
    return {expr.set} if isinstance(expr, Count) else set()


@pytest.fixture(scope="module")
def rows(tables_dir) -> list[RuleRow]:
    return read_rule_table(tables_dir / RULES_30)


@pytest.fixture(scope="module")
def rule(rows):
    by_key = {(r.level, r.code): r.rule for r in rows}
    return lambda level, code: by_key[level, code]


@pytest.fixture(scope="module")
def sets(rows) -> dict[str, tuple[str, ...]]:
    names = set().union(*(set_names(r.rule) for r in rows))
    return {name: (placeholder(name, 1), placeholder(name, 2)) for name in names}


def children(rows, level: str, parent: str) -> list[RuleRow]:
    return sorted((r for r in rows if r.level == level and r.parent == parent), key=lambda r: r.sort)


# --- the table as a whole ---------------------------------------------------------------


def test_every_row_is_read(rows):
    assert len(rows) == 1433
    counts = {level: sum(r.level == level for r in rows) for level in ("mdc", "adrg", "drg")}
    assert counts == {"mdc": 26, "adrg": 537, "drg": 870}
    assert sorted(r.code for r in rows if r.level == "mdc") == [chr(c) for c in range(ord("A"), ord("Z") + 1)]


def test_every_rule_prints_and_parses_back(rows):
    for row in rows:
        assert parse_rule(format_rule(row.rule)) == row.rule, row.code


def test_the_table_writes_and_reads_back(rows, tmp_path):
    write_rule_table(rows, tmp_path / "rules.tsv")
    assert read_rule_table(tmp_path / "rules.tsv") == rows


def test_qy_and_fallback_rows(rows):
    adrgs = [r for r in rows if r.level == "adrg"]
    qy = [r for r in adrgs if r.outcome is Outcome.QY]
    assert len(qy) == 21
    for row in qy:
        assert row.code == f"{row.parent}QY"
        assert [(d.code, d.rule) for d in children(rows, "drg", row.code)] == [(row.code, TRUE)]
    fallbacks = {r.parent for r in adrgs if r.outcome is Outcome.UNGROUPABLE}
    assert all(r.rule is TRUE for r in adrgs if r.outcome is Outcome.UNGROUPABLE)
    # MDC A (entered by every record) and MDC Z (ZZ1 catches the rest) have no fallback row.
    assert {r.code for r in rows if r.level == "mdc"} - fallbacks == {"A", "Z"}
    assert sum(r.outcome is Outcome.OK for r in adrgs) == 537 - 21 - 24


def test_the_rule_1_of_zz1_always_holds(rule):
    assert rule("adrg", "ZZ1") is TRUE


def test_last_drg_of_every_adrg_is_unconditional(rows):
    for adrg in (r for r in rows if r.level == "adrg"):
        drgs = children(rows, "drg", adrg.code)
        assert drgs and drgs[-1].rule is TRUE, adrg.code


# --- truth tables of single rules -------------------------------------------------------


def test_ic2_needs_two_distinct_ic2_procedures_one_of_them_principal(rule, sets):
    ic2 = set(sets["OP_IC2"])
    choices = [placeholder("OP_IC2", 1), placeholder("OP_IC2", 2), OTHER]
    assert not eval_expr(rule("adrg", "IC2"), NaiveRecord(), sets)
    for n_others in range(4):
        for procedures in product(choices, repeat=1 + n_others):
            distinct_ic2 = {p for p in procedures if p in ic2}
            expected = procedures[0] in ic2 and len(distinct_ic2) >= 2
            record = NaiveRecord(procedures=list(procedures))
            assert eval_expr(rule("adrg", "IC2"), record, sets) == expected, procedures


def test_ja1_combined_procedures(rule, sets):
    # The principal procedure leads one of the recognised combinations; the
    # other parts are among all the procedures (principal included).
    lead_to_rest = {
        "OP1_JA1": [{"OP2_JA1"}, {"OP3_JA1", "OP4_JA1"}],
        "OP2_JA1": [{"OP1_JA1"}],
        "OP3_JA1": [{"OP1_JA1", "OP4_JA1"}],
        "OP5_JA1": [{"OP4_JA1"}],
    }
    parts = [f"OP{n}_JA1" for n in range(1, 6)]
    for dx, principal in product([None, OTHER, placeholder("DI_JA1")], [None, OTHER, *parts]):
        other_choices = [()] if principal is None else [c for k in range(6) for c in combinations(parts, k)]
        for others in other_choices:
            procedures = [] if principal is None else [
                principal if principal == OTHER else placeholder(principal),
                *(placeholder(p, 2) for p in others),
            ]
            present = {p for p in parts if any(code in sets[p] for code in procedures)}
            expected = dx == placeholder("DI_JA1") and any(
                rest <= present for rest in lead_to_rest.get(principal, [])
            )
            record = NaiveRecord(principal_dx=dx, procedures=procedures)
            assert eval_expr(rule("adrg", "JA1"), record, sets) == expected, (dx, procedures)


WEIGHTS = [None, -1, 0, 999, 1000, 1001, 1499, 1500, 1999, 2000, 2499, 2500, 6000]
WEIGHT_BANDS = {"PS1": (None, 999), "PS2": (1000, 1499), "PS3": (1500, 1999), "PS4": (2000, 2499), "PS5": (2500, None)}


@pytest.mark.parametrize("adrg", sorted(WEIGHT_BANDS))
def test_ps_newborns_by_admission_weight(rule, sets, adrg):
    low, high = WEIGHT_BANDS[adrg]
    in_set = placeholder(f"DI_{adrg}")
    diagnoses = [  # (principal, secondary, some diagnosis in the set)
        (None, [], False),
        (OTHER, [], False),
        (in_set, [], True),
        (OTHER, [placeholder(f"DI_{adrg}", 2)], True),
        (None, [in_set], True),
        (OTHER, [OTHER], False),
    ]
    for days, weight, (principal, secondary, dx_hit) in product(NEWBORN_DAYS, WEIGHTS, diagnoses):
        in_band = weight is not None and (low is None or weight >= low) and (high is None or weight <= high)
        expected = days is not None and days < 29 and in_band and dx_hit
        record = NaiveRecord(principal, secondary, age_days=days, admission_weight_g=weight,
                             birth_weight_g=1200, age_years=0)
        assert eval_expr(rule("adrg", adrg), record, sets) == expected, (days, weight, principal, secondary)


PROCEDURE_CHOICES = [[], [OTHER], [placeholder("OP_ALL")], [OTHER, placeholder("OP_ALL")], [placeholder("OP_ALL"), OTHER]]
PV1_DX = [None, OTHER, placeholder("DI_PV1"), placeholder("DI_PV1", 2)]


def _pv1_intent(days, dx, procedures) -> bool:
    """29 days to under a year old, a PV1 principal diagnosis, no operating-room principal procedure."""
    principal_is_or = bool(procedures) and procedures[0].startswith("OP_ALL#")
    return days is not None and 29 <= days < 366 and dx is not None and dx.startswith("DI_PV1#") and not principal_is_or


def test_mdc_p_entry(rule, sets):
    for age, days, dx, procedures in product([None, 0, 1, 2], NEWBORN_DAYS, PV1_DX, PROCEDURE_CHOICES):
        newborn = age == 0 and days is not None and days < 29
        expected = age == 0 and (newborn or _pv1_intent(days, dx, procedures))
        record = NaiveRecord(dx, procedures=list(procedures), age_years=age, age_days=days)
        assert eval_expr(rule("mdc", "P"), record, sets) == expected, (age, days, dx, procedures)


def test_pv1_infants_without_operating_room_procedure(rule, sets):
    for days, dx, procedures in product(NEWBORN_DAYS, PV1_DX, PROCEDURE_CHOICES):
        record = NaiveRecord(dx, procedures=list(procedures), age_days=days)
        assert eval_expr(rule("adrg", "PV1"), record, sets) == _pv1_intent(days, dx, procedures)


def test_mdc_z_multiple_trauma(rule, sets):
    # The principal diagnosis is at one body site and some other diagnosis at another.
    sites = [f"DI_Z0{n}" for n in range(1, 10)]
    for principal_site in [None, "OTHER", *sites]:
        principal = None if principal_site is None else placeholder(principal_site)
        for k in range(len(sites) + 1):
            for secondary_sites in combinations(sites, k):
                secondary = [placeholder(s, 2) for s in secondary_sites]
                expected = principal_site in sites and any(s != principal_site for s in secondary_sites)
                record = NaiveRecord(principal, secondary)
                assert eval_expr(rule("mdc", "Z"), record, sets) == expected, (principal, secondary)


# --- grouping through the table ---------------------------------------------------------


def test_o00_sort_quirk(rows, sets):
    adrgs = {r.code for r in rows if r.level == "adrg" and r.parent == "O"}
    mdc_o = [r for r in rows if (r.level, r.code) == ("mdc", "O") or r.parent == "O" or r.parent in adrgs]
    assert [(r.code, r.sort) for r in children(mdc_o, "adrg", "O")][-4:] == [
        ("OS2", 18), ("O00", 18), ("OT1", 19), ("OZ1", 20)
    ]
    # Every diagnosis of an O ADRG is also in the MDC's own set.
    mdc_sets = dict(sets, DI_O00=(*sets["DI_O00"], *sets["DI_OS2"], *sets["DI_OT1"], *sets["DI_OZ1"]))

    def group(dx):
        return group_rows(mdc_o, NaiveRecord(dx), mdc_sets)

    assert group(placeholder("DI_OS2")) == NaiveResult("ok", "O", "OS2", "OS29", "OS2")
    fallback = NaiveResult("ungroupable", "O", "", "O000", "O00")
    for dx in (placeholder("DI_OT1"), placeholder("DI_OZ1", 2), placeholder("DI_O00")):
        assert group(dx) == fallback
    assert group(OTHER) == NaiveResult("ungroupable", "", "", "0000", "")


def test_pv1_through_the_whole_table(rows, sets):
    # MDC A is entered by every record; with no procedure it falls through to MDC P.
    record = NaiveRecord(placeholder("DI_PV1"), age_years=0, age_days=100)
    expected = {(True, False): "PV11", (False, True): "PV13", (True, True): "PV11", (False, False): "PV15"}
    for (mcc, cc), drg in expected.items():
        record.has_mcc, record.has_cc = mcc, cc
        assert group_rows(rows, record, sets) == NaiveResult("ok", "P", "PV1", drg, "PV1")
    record.procedures = [placeholder("OP_ALL")]
    assert group_rows(rows, record, sets, ungroupable_drg="9999") == NaiveResult("ungroupable", "", "", "9999", "")


# --- the naive evaluator's own contract ---------------------------------------------------


@pytest.mark.parametrize(
    "text, holds",
    [
        ("NL = 0", False),
        ("NL != 0", False),
        ("NL < 1", False),
        ("NL >= 0", False),
        ("not NL = 0", True),
        ("has(NL)", False),
        ("ZYZD in S", False),
        ("ZYZD not in S", True),
        ("{ZYSS, QTSS} not in S", True),
        ("QTZD in {MCC, CC}", False),
        ("length(S ∩ {ZYSS, QTSS}) = 0", True),
        ("", True),
    ],
)
def test_missing_values(text, holds):
    assert eval_expr(parse_rule(text), NaiveRecord(), {"S": {"S#1"}}) is holds


def test_fields_and_flags():
    record = NaiveRecord("D1", ["D2", "D3"], ["P1", "P2", "P2"], age_years=3, sex=2, has_cc=True)
    sets = {"D1": {"D1"}, "D2": {"D2"}, "P1": {"P1"}, "P2": {"P2"}}
    truths = {
        "ZYZD in D1": True, "ZYZD in D2": False, "QTZD in D2": True, "QTZD in D1": False,
        "ZYSS in P1": True, "ZYSS in P2": False, "QTSS in P2": True, "QTSS in P1": False,
        "{ZYSS, QTSS} in {P2}": True, "length(P2 ∩ {ZYSS, QTSS}) = 1": True,
        "QTZD in MCC": False, "QTZD in CC": True, "QTZD in {MCC, CC}": True,
        "XB = 2 and NL > 2 and NL <= 3": True, "has(XSRTL) or has(XSRTZ) or has(CSTZ)": False,
    }
    for text, holds in truths.items():
        assert eval_expr(parse_rule(text), record, sets) is holds, text


def test_unknown_set_is_a_key_error():
    with pytest.raises(KeyError):
        eval_expr(parse_rule("ZYZD in {S, T}"), NaiveRecord(), {"S": {"S#1"}})
    with pytest.raises(KeyError):
        eval_expr(parse_rule("length(T ∩ ZYSS) > 0"), NaiveRecord(), {})


def test_group_rows_falls_through_also_when_no_drg_of_an_adrg_holds():
    """An ADRG row whose DRG rows all fail (or that has none) does not match: the walk goes on."""
    rows = [
        RuleRow("mdc", "A", "", 1, TRUE),
        RuleRow("mdc", "B", "", 2, TRUE),
        RuleRow("adrg", "AA1", "A", 1, parse_rule("NL = 2")),
        RuleRow("adrg", "BB1", "B", 2, TRUE, result="BB2"),
        RuleRow("adrg", "BB9", "B", 1, parse_rule("NL = 9")),
        RuleRow("drg", "AA11", "AA1", 1, parse_rule("NL > 5")),
        RuleRow("drg", "BB21", "BB1", 1, TRUE),
    ]
    assert group_rows(rows, NaiveRecord(age_years=0), {}) == NaiveResult("ok", "B", "BB2", "BB21", "BB1")
    # AA1 holds but AA11 needs NL > 5: MDC A is not matched; BB9 holds but has no DRG row: BB1 takes it
    assert group_rows(rows, NaiveRecord(age_years=2), {}) == NaiveResult("ok", "B", "BB2", "BB21", "BB1")
    assert group_rows(rows, NaiveRecord(age_years=9), {}) == NaiveResult("ok", "B", "BB2", "BB21", "BB1")
    assert group_rows(rows, NaiveRecord(age_years=7), {}) == NaiveResult("ok", "B", "BB2", "BB21", "BB1")
    rows.append(RuleRow("drg", "AA13", "AA1", 2, TRUE))
    assert group_rows(rows, NaiveRecord(age_years=2), {}) == NaiveResult("ok", "A", "AA1", "AA13", "AA1")
