"""The rule language: parser, printer and the rule-table file format."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icd_tables.rules import (
    CC,
    MCC,
    NUMERIC_FIELDS,
    OPERATORS,
    TRUE,
    And,
    Compare,
    Count,
    Field,
    InSets,
    Not,
    Or,
    Outcome,
    Present,
    RuleRow,
    RuleSyntaxError,
    RuleTableError,
    TextIn,
    format_rule,
    parse_rule,
    read_rule_table,
    write_rule_table,
)
from icd_tables.rules.parser import KEYWORDS

ZYZD, QTZD, ZYSS, QTSS = Field.PRINCIPAL_DX, Field.SECONDARY_DX, Field.PRINCIPAL_PROC, Field.OTHER_PROCS
A = InSets((ZYZD,), ("A",))
B = InSets((ZYZD,), ("B",))
C = InSets((ZYZD,), ("C",))
D = InSets((ZYZD,), ("D",))


# --- parser: the grammar ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\t \n", "1", " 1 "])
def test_empty_rule_and_literal_one_always_hold(text):
    assert parse_rule(text) is TRUE


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ZYZD in DI_B00", InSets((ZYZD,), ("DI_B00",))),
        ("zyzd IN di_b00", InSets((ZYZD,), ("di_b00",))),  # set names keep their case
        ("QTSS in OP_x1", InSets((QTSS,), ("OP_x1",))),
        ("ZYSS not in OP_ALL", Not(InSets((ZYSS,), ("OP_ALL",)))),
        ("ZYSS NOT IN OP_ALL", Not(InSets((ZYSS,), ("OP_ALL",)))),
        ("{ZYSS, QTSS} in OP2_AC1", InSets((ZYSS, QTSS), ("OP2_AC1",))),
        ("{ZYSS} in S", InSets((ZYSS,), ("S",))),
        ("QTZD in {DI_Z02, DI_Z03}", InSets((QTZD,), ("DI_Z02", "DI_Z03"))),
        ("{QTZD,ZYZD} in {Y,X}", InSets((QTZD, ZYZD), ("Y", "X"))),
        ("{ZYZD, ZYZD} in {X, X}", InSets((ZYZD, ZYZD), ("X", "X"))),
        ("{ZYZD, QTZD} not in {X, Y}", Not(InSets((ZYZD, QTZD), ("X", "Y")))),
        ("QTZD in MCC", InSets((QTZD,), (MCC,))),
        ("QTZD in {MCC, CC}", InSets((QTZD,), (MCC, CC))),
        ("QTZD not in CC", Not(InSets((QTZD,), (CC,)))),
        ("NL<=6", Compare(Field.AGE_YEARS, "<=", 6)),
        ("NL >= 70", Compare(Field.AGE_YEARS, ">=", 70)),
        ("xb=1", Compare(Field.SEX, "=", 1)),
        ("XSRTL != 0", Compare(Field.AGE_DAYS, "!=", 0)),
        ("XSRTZ<1000", Compare(Field.ADMISSION_WEIGHT, "<", 1000)),
        ("CSTZ > -5", Compare(Field.BIRTH_WEIGHT, ">", -5)),
        ("NL>-1", Compare(Field.AGE_YEARS, ">", -1)),
        ("NL = 007", Compare(Field.AGE_YEARS, "=", 7)),
        ("length(OP_IC2 ∩ {ZYSS, QTSS})>=2", Count("OP_IC2", (ZYSS, QTSS), ">=", 2)),
        ("LENGTH({ZYSS, QTSS} ∩ OP_IC2) < 3", Count("OP_IC2", (ZYSS, QTSS), "<", 3)),
        ("length(S∩ZYSS)=1", Count("S", (ZYSS,), "=", 1)),
        ("has(CSTZ)", Present(Field.BIRTH_WEIGHT)),
        ("HAS ( nl )", Present(Field.AGE_YEARS)),
        ("((ZYZD in A))", A),
    ],
)
def test_atoms(text, expected):
    assert parse_rule(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ZYZD in A or ZYZD in B and ZYZD in C", Or((A, And((B, C))))),
        ("ZYZD in A and ZYZD in B or ZYZD in C", Or((And((A, B)), C))),
        ("ZYZD in A and (ZYZD in B or ZYZD in C)", And((A, Or((B, C))))),
        ("not ZYZD in A and ZYZD in B", And((Not(A), B))),
        ("not (ZYZD in A and ZYZD in B)", Not(And((A, B)))),
        ("not not ZYZD in A", Not(Not(A))),
        ("not (ZYZD not in A)", Not(Not(A))),
        ("ZYZD in A OR ZYZD in B", Or((A, B))),
        ("ZYZD in A AND ZYZD in B", And((A, B))),
    ],
)
def test_precedence(text, expected):
    assert parse_rule(text) == expected


@pytest.mark.parametrize(
    "text",
    ["ZYZD not in A", "not ZYZD in A", "not (ZYZD in A)", "not ((ZYZD in A))", "(ZYZD not in A)"],
)
def test_spellings_of_not_in_are_one_node(text):
    assert parse_rule(text) == Not(A)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("(ZYZD in A and ZYZD in B) and ZYZD in C", And((A, B, C))),
        ("ZYZD in A and (ZYZD in B and (ZYZD in C and ZYZD in D))", And((A, B, C, D))),
        ("(ZYZD in A or ZYZD in B) or (ZYZD in C or ZYZD in D)", Or((A, B, C, D))),
        ("(ZYZD in A or ZYZD in B) and ZYZD in C", And((Or((A, B)), C))),
        ("(ZYZD in A and ZYZD in B) or ZYZD in C", Or((And((A, B)), C))),
        ("ZYZD in A and ZYZD in A", And((A, A))),  # duplicates are kept
    ],
)
def test_normalisation(text, expected):
    assert parse_rule(text) == expected


# --- parser: errors --------------------------------------------------------------------


def test_error_message_names_the_column_and_shows_a_caret():
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule("ZYZD in")
    assert str(info.value) == (
        "column 8: expected a set name after 'in', found the end of the rule\n"
        "  ZYZD in\n"
        "         ^"
    )
    assert (info.value.column, info.value.text) == (8, "ZYZD in")
    assert isinstance(info.value, ValueError)


def test_error_message_for_the_reserved_sets():
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule("NL < 3 and QTZD in {MCC, DI_X}")
    assert str(info.value) == (
        "column 12: the reserved sets MCC and CC can only be used as "
        "'QTZD in MCC', 'QTZD in CC' or 'QTZD in {MCC, CC}'\n"
        "  NL < 3 and QTZD in {MCC, DI_X}\n"
        "             ^"
    )


def test_error_message_for_a_numeric_field_with_in():
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule("{ZYZD, NL} in S")
    assert str(info.value) == (
        "column 8: NL is a numeric field: 'in' takes only the code fields ZYZD, QTZD, ZYSS, QTSS\n"
        "  {ZYZD, NL} in S\n"
        "         ^"
    )


def test_error_in_a_long_rule_shows_an_excerpt():
    text = "ZYZD in A and " * 10 + "ZYZD in # and " + "ZYZD in A and " * 10 + "ZYZD in A"
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule(text)
    _, shown, caret = str(info.value).split("\n")
    assert shown.startswith("  ...") and shown.endswith("...") and len(shown) < 90
    assert shown[caret.index("^")] == "#"
    assert info.value.column == text.index("#") + 1

    with pytest.raises(RuleSyntaxError) as info:
        parse_rule("ZYZD in A and " * 20 + "ZYZD in")
    _, shown, caret = str(info.value).split("\n")
    assert shown.startswith("  ...") and shown.endswith("and ZYZD in")
    assert caret.index("^") == len(shown)


@pytest.mark.parametrize(
    "text, column, reason",
    [
        ("ZYZD in S #", 11, "unexpected character '#'"),
        ("ZYZD in 病", 9, "unexpected character '病'"),
        ("and", 1, "expected a condition"),
        ("ZYZD in A and", 14, "expected a condition (a field, '{', '(', 'not', 'length' or 'has'), found the end"),
        ("1 and ZYZD in A", 1, "expected a condition"),
        ("FOO in S", 1, "unknown field 'FOO'"),
        ("ZYZD", 5, "expected 'in', 'not in' or a comparison operator after 'ZYZD'"),
        ("{ZYZD, QTZD}", 13, "expected 'in', 'not in' or a comparison operator after the field list"),
        ("ZYZD not S", 10, "expected 'in' after 'not', found 'S'"),
        ("ZYZD in and", 9, "expected a set name after 'in', found 'and'"),
        ("ZYZD in NL", 9, "expected a set name after 'in', found 'NL'"),
        ("ZYZD in {", 10, "expected a set name after '{'"),
        ("ZYZD in {A,}", 12, "expected a set name after ','"),
        ("ZYZD in {A B}", 12, "expected ',' or '}' in the set list, found 'B'"),
        ("{} in A", 2, "expected a field name after '{', found '}'"),
        ("{ZYZD, FOO} in A", 8, "expected a field name after ',', found 'FOO'"),
        ("{ZYZD QTZD} in A", 7, "expected ',' or '}' in the field list"),
        ("ZYZD in A B", 11, "expected 'and', 'or' or the end of the rule, found 'B'"),
        ("(ZYZD in A", 11, "expected ')' to close the '(' at column 1, found the end of the rule"),
        ("ZYZD in A)", 10, "expected 'and', 'or' or the end of the rule, found ')'"),
        ("NL >= x", 7, "expected an integer after '>=', found 'x'"),
        ("NL >=", 6, "expected an integer after '>='"),
        ("NL == 1", 5, "expected an integer after '=', found '='"),
        ("NL in S", 1, "NL is a numeric field: 'in' takes only the code fields"),
        ("ZYZD = 1", 1, "ZYZD is a code field: comparisons take only the numeric fields NL, XB, XSRTL, XSRTZ, CSTZ"),
        ("{NL} >= 2", 1, "a comparison takes a single field, not a list"),
        ("has(ZYZD)", 5, "ZYZD is a code field: has() takes only the numeric fields"),
        ("has NL", 5, "expected '(' after 'has', found 'NL'"),
        ("has(S)", 5, "expected a field name after 'has(', found 'S'"),
        ("has(NL", 7, "expected ')' to close 'has('"),
        ("{ZYZD, ZYSS} in S", 2, "'in' must not mix diagnosis fields (ZYZD, QTZD) with procedure fields (ZYSS, QTSS)"),
        ("{QTSS, QTZD} not in S", 2, "'in' must not mix"),
        ("ZYSS in MCC", 1, "the reserved sets MCC and CC"),
        ("{QTZD, ZYZD} in CC", 1, "the reserved sets MCC and CC"),
        ("{QTZD, QTZD} in CC", 1, "the reserved sets MCC and CC"),
        ("QTZD in {CC, DI_X}", 1, "the reserved sets MCC and CC"),
        ("length OP_X", 8, "expected '(' after 'length'"),
        ("length(MCC ∩ {QTZD}) > 1", 8, "length() cannot count the reserved set MCC"),
        ("length({QTZD} ∩ CC) > 1", 17, "length() cannot count the reserved set CC"),
        ("length(S {ZYSS}) > 1", 10, "expected '∩' after the set name, found '{'"),
        ("length(ZYSS S) > 1", 13, "expected '∩' after the fields, found 'S'"),
        ("length({ZYSS} ∩ {ZYSS}) > 1", 17, "expected a set name after '∩', found '{'"),
        ("length(S ∩ NL) > 1", 12, "NL is a numeric field: length() takes only the code fields"),
        ("length(S ∩ {ZYZD, ZYSS}) > 1", 13, "length() must not mix diagnosis fields"),
        ("length(S ∩ ZYSS > 1", 17, "expected ')' to close 'length('"),
        ("length(S ∩ ZYSS) 1", 18, "expected a comparison operator after 'length(...)', found '1'"),
        ("length(1 ∩ ZYSS) > 1", 8, "expected a set name or fields after 'length('"),
    ],
)
def test_errors(text, column, reason):
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule(text)
    assert info.value.column == column
    assert info.value.reason.startswith(reason)


# --- printer -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, text",
    [
        (TRUE, ""),
        (A, "ZYZD in A"),
        (InSets((ZYSS, QTSS), ("X", "Y")), "{ZYSS, QTSS} in {X, Y}"),
        (Not(InSets((ZYSS, QTSS), ("X",))), "{ZYSS, QTSS} not in X"),
        (Not(Compare(Field.AGE_YEARS, "=", 0)), "not NL = 0"),
        (Not(And((A, B))), "not (ZYZD in A and ZYZD in B)"),
        (Not(Not(A)), "not (ZYZD not in A)"),
        (Compare(Field.AGE_DAYS, "<", -29), "XSRTL < -29"),
        (Count("OP_IC2", (ZYSS,), ">=", 2), "length(OP_IC2 ∩ {ZYSS}) >= 2"),
        (Present(Field.BIRTH_WEIGHT), "has(CSTZ)"),
        (Or((A, And((B, C)))), "ZYZD in A or ZYZD in B and ZYZD in C"),
        (And((Or((A, B)), C)), "(ZYZD in A or ZYZD in B) and ZYZD in C"),
        (And((Not(Or((A, B))), C)), "not (ZYZD in A or ZYZD in B) and ZYZD in C"),
    ],
)
def test_format(expr, text):
    assert format_rule(expr) == text
    assert parse_rule(text) == expr


@pytest.mark.parametrize("expr", [And((A, TRUE)), Not(TRUE), And(())])
def test_format_rejects_what_the_language_cannot_write(expr):
    with pytest.raises(ValueError):
        format_rule(expr)


def test_regional_constructs_are_written_for_reading():
    """The never-holding empty ``or`` and department comparisons of regional packs (display only)."""
    assert format_rule(Or(())) == "false"
    assert format_rule(TextIn(Field.DEPT, ("ICU",))) == 'KS = "ICU"'
    both = And((A, TextIn(Field.DEPT, ("ICU", "CCU"))))
    assert format_rule(both).endswith('and (KS = "ICU" or KS = "CCU")')
    assert format_rule(Not(TextIn(Field.DEPT, ("ICU",)))) == 'not KS = "ICU"'


_RESERVED_WORDS = KEYWORDS | {f.value.lower() for f in Field} | {MCC.lower(), CC.lower()}
set_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True).filter(
    lambda name: name.lower() not in _RESERVED_WORDS
)
code_fields = st.sampled_from([(ZYZD, QTZD), (ZYSS, QTSS)]).flatmap(
    lambda kind: st.lists(st.sampled_from(kind), min_size=1, max_size=3).map(tuple)
)
numeric_fields = st.sampled_from(sorted(NUMERIC_FIELDS, key=lambda f: f.value))
operators = st.sampled_from(OPERATORS)
integers = st.integers(-(10**6), 10**6)
in_sets = st.one_of(
    st.builds(InSets, code_fields, st.lists(set_names, min_size=1, max_size=3).map(tuple)),
    st.builds(InSets, st.just((QTZD,)), st.lists(st.sampled_from([MCC, CC]), min_size=1, max_size=2).map(tuple)),
)
atoms = st.one_of(
    in_sets,
    in_sets.map(Not),
    st.builds(Compare, numeric_fields, operators, integers),
    st.builds(Count, set_names, code_fields, operators, integers),
    st.builds(Present, numeric_fields),
)


def _flat(kind, items):
    """``kind(items)`` in normal form: nested ``kind`` items spliced in."""
    return kind(tuple(x for item in items for x in (item.items if isinstance(item, kind) else (item,))))


def _compound(children):
    parts = st.lists(children, min_size=2, max_size=4)
    return st.one_of(parts.map(lambda xs: _flat(And, xs)), parts.map(lambda xs: _flat(Or, xs)), children.map(Not))


expressions = st.recursive(atoms, _compound, max_leaves=12)


@settings(max_examples=500)
@given(expressions)
def test_format_then_parse_gives_the_expression_back(expr):
    text = format_rule(expr)
    assert parse_rule(text) == expr
    assert format_rule(parse_rule(text)) == text


@given(expressions)
def test_spacing_and_case_do_not_matter(expr):
    text = format_rule(expr)
    squeezed = text.replace(" and ", "  AND\t").replace(" or ", "\nOr ").replace(", ", ",")
    assert parse_rule(squeezed) == expr


# --- rule table file ---------------------------------------------------------------------

HEADER = "table\tcode\tparent\tmdc\tsort\trule\n"


def _write(tmp_path, body: str, header: str = HEADER):
    path = tmp_path / "rules.tsv"
    path.write_text(header + body, encoding="utf-8")
    return path


def _table_error(tmp_path, body: str, header: str = HEADER) -> str:
    path = _write(tmp_path, body, header)
    with pytest.raises(RuleTableError) as info:
        read_rule_table(path)
    assert isinstance(info.value, ValueError)
    return str(info.value).replace(str(path), "FILE")


GOOD = (
    "mdc\tMDCB\t\tMDCB\t1\tZYZD in DI_B00\n"
    "adrg\tBQY\tMDCB\tMDCB\t2\tZYSS in OP_ALL\n"
    "adrg\tBB1\tMDCB\tB\t1\tZYSS in OP_BB1\n"
    "adrg\tB00\tMDCB\tMDCB\t3\t\n"
    "drg\tBB11\tBB1\tMDCB\t1\tQTZD in MCC\n"
    "drg\tBB15\tBB1\tMDCB\t2\t\n"
    "drg\tBQY\tBQY\tMDCB\t1\t\n"
    "drg\tB000\tB00\tMDCB\t1\t\n"
)


def test_read_rule_table(tmp_path):
    rows = read_rule_table(_write(tmp_path, GOOD))
    assert [(r.level, r.code, r.parent, r.sort, r.outcome) for r in rows] == [
        ("mdc", "B", "", 1, Outcome.OK),
        ("adrg", "BQY", "B", 2, Outcome.QY),
        ("adrg", "BB1", "B", 1, Outcome.OK),
        ("adrg", "B00", "B", 3, Outcome.UNGROUPABLE),
        ("drg", "BB11", "BB1", 1, Outcome.OK),
        ("drg", "BB15", "BB1", 2, Outcome.OK),
        ("drg", "BQY", "BQY", 1, Outcome.OK),
        ("drg", "B000", "B00", 1, Outcome.OK),
    ]
    assert rows[0].rule == InSets((ZYZD,), ("DI_B00",))
    assert rows[3].rule is TRUE and rows[4].rule == InSets((QTZD,), (MCC,))


def test_optional_columns_in_any_order(tmp_path):
    header = "outcome\trule\tsort\tmdc\tparent\tcode\ttable\tresult\tname_zh\n"
    body = (
        "\t\t1\tA\t\tA\tmdc\t\t先期分组疾病\n"
        "ungroupable\tZYSS in X\t1\tA\tA\tAH1_1\tadrg\tAH1\t气管切开\n"
        "\t\t1\tA\tAH1_1\tAH19\tdrg\t\t\n"
    )
    rows = read_rule_table(_write(tmp_path, body, header))
    assert rows[0] == RuleRow("mdc", "A", "", 1, TRUE, "先期分组疾病")
    assert rows[1] == RuleRow(
        "adrg", "AH1_1", "A", 1, InSets((ZYSS,), ("X",)), "气管切开", "AH1", Outcome.UNGROUPABLE
    )
    assert rows[1].target == "AH1"


def test_write_then_read_gives_the_rows_back(tmp_path):
    rows = [
        RuleRow("mdc", "A", "", 1, TRUE, "先期分组疾病"),
        RuleRow("adrg", "AH1_1", "A", 2, Or((A, Not(B))), "气管切开", "AH1"),
        RuleRow("adrg", "AH1_2", "A", 1, Compare(Field.AGE_DAYS, "<", 29), "", "AH1"),
        RuleRow("adrg", "AQY", "A", 3, A, outcome=Outcome.OK),  # explicit outcome survives
        RuleRow("adrg", "A00", "A", 4, TRUE, outcome=Outcome.QY),
        RuleRow("drg", "AH19", "AH1_1", 1, TRUE),
        RuleRow("drg", "AH19", "AH1_2", 1, TRUE),  # one DRG under two rule rows of one ADRG
        RuleRow("drg", "AQY", "AQY", 1, Count("S", (ZYSS, QTSS), ">=", 2)),
        RuleRow("drg", "A000", "A00", -1, TRUE),
    ]
    path = tmp_path / "out.tsv"
    write_rule_table(rows, path)
    text = path.read_bytes().decode("utf-8")
    assert text.startswith("table\tcode\tparent\tmdc\tsort\trule\tname_zh\tresult\toutcome\n")
    assert "\r" not in text and text.endswith("\n")
    assert "adrg\tAH1_1\tA\tA\t2\tZYZD in A or ZYZD not in B\t气管切开\tAH1\tok\n" in text
    assert read_rule_table(path) == rows


@pytest.mark.parametrize("value", ["a\tb", "a\nb", "a\rb"])
def test_write_rejects_tabs_and_line_breaks(tmp_path, value):
    with pytest.raises(RuleTableError, match="tab or a line break"):
        write_rule_table([RuleRow("mdc", "A", "", 1, TRUE, value)], tmp_path / "out.tsv")


def test_write_needs_the_parent_of_every_drg(tmp_path):
    with pytest.raises(RuleTableError, match="its ADRG AB1 has no adrg row"):
        write_rule_table([RuleRow("drg", "AB11", "AB1", 1, TRUE)], tmp_path / "out.tsv")


@pytest.mark.parametrize(
    "body, message",
    [
        ("mdc\tA\t\tA\t1\tZYZD in\n", "FILE:2: mdc A: rule: column 8: expected a set name after 'in'"),
        ("mdc\tA\t\tA\t1\t\nadrg\tAA1\tA\tA\t1\tNL in S\n", "FILE:3: adrg AA1: rule: column 1: NL is a numeric"),
        ("group\tA\t\tA\t1\t\n", "FILE:2: unknown table 'group' (expected mdc, adrg or drg)"),
        ("mdc\tA\t\tA\tfirst\t\n", "FILE:2: mdc A: sort must be an integer, found 'first'"),
        ("mdc\tA\t\tA\t1.5\t\n", "FILE:2: mdc A: sort must be an integer"),
        ("mdc\tA\t\tA\t1\n", "FILE:2: expected 6 columns, found 5"),
        ("mdc\t\t\t\t1\t\n", "FILE:2: code is empty"),
        ("mdc\tA\tX\tA\t1\t\n", "FILE:2: mdc A: an MDC row has no parent, found 'X'"),
        ("mdc\tA\t\tA\t1\t\nadrg\tAA1\t\tA\t1\t\n", "FILE:3: adrg AA1: parent is empty"),
        ("mdc\tA\t\tA\t1\t\nadrg\tAA1\tMDCB\tB\t1\t\n", "FILE:3: adrg AA1: its MDC B has no mdc row"),
        ("mdc\tA\t\tA\t1\t\ndrg\tAA11\tAA1\tA\t1\t\n", "FILE:3: drg AA11: its ADRG AA1 has no adrg row"),
        ("mdc\tA\t\tA\t1\t\nmdc\tMDCA\t\tA\t2\t\n", "FILE:3: duplicate mdc A"),
        (
            "mdc\tA\t\tA\t1\t\nmdc\tB\t\tB\t2\t\nadrg\tX1\tA\tA\t1\t\nadrg\tX1\tB\tB\t1\t\n",
            "FILE:5: duplicate adrg X1",
        ),
        (
            "mdc\tA\t\tA\t1\t\nadrg\tAA1\tA\tA\t1\t\ndrg\tAA11\tAA1\tA\t1\t\ndrg\tAA11\tAA1\tA\t2\t\n",
            "FILE:5: duplicate drg AA11",
        ),
        (
            "mdc\tA\t\tA\t1\t\nadrg\tAA1\tA\tA\t1\t\nadrg\tAA2\tA\tA\t2\t\n"
            "drg\tAA11\tAA1\tA\t1\t\ndrg\tAA11\tAA2\tA\t1\t\n",
            "FILE:6: drg AA11: duplicate drg, already under ADRG AA1",
        ),
        ("mdc\tA\t\tMDCB\t1\t\n", "FILE:2: mdc A: mdc column is 'B' but the row belongs to MDC A"),
        (
            "mdc\tA\t\tA\t1\t\nmdc\tB\t\tB\t1\t\nadrg\tAA1\tA\tA\t1\t\ndrg\tAA11\tAA1\tB\t1\t\n",
            "FILE:5: drg AA11: mdc column is 'B' but the row belongs to MDC A",
        ),
    ],
)
def test_table_errors(tmp_path, body, message):
    assert _table_error(tmp_path, body).startswith(message)


@pytest.mark.parametrize(
    "body, message",
    [
        ("mdc\tA\t\tA\t1\t\t\tAH1\t\n", "FILE:2: mdc A: only ADRG rows have a result or an outcome"),
        ("mdc\tA\t\tA\t1\t\t\t\tok\n", "FILE:2: mdc A: only ADRG rows have a result or an outcome"),
        (
            "mdc\tA\t\tA\t1\t\t\t\t\nadrg\tAA1\tA\tA\t1\t\t\t\tmaybe\n",
            "FILE:3: adrg AA1: outcome must be ok, qy or ungroupable, found 'maybe'",
        ),
    ],
)
def test_result_and_outcome_errors(tmp_path, body, message):
    header = "table\tcode\tparent\tmdc\tsort\trule\tname_zh\tresult\toutcome\n"
    assert _table_error(tmp_path, body, header).startswith(message)


@pytest.mark.parametrize(
    "header, message",
    [
        ("table\tcode\tparent\tmdc\tsort\n", "FILE:1: header: missing column 'rule'"),
        ("table\tcode\tparent\tmdc\tsort\trule\tnote\n", "FILE:1: header: unknown column 'note'"),
        ("table\tcode\tparent\tmdc\tsort\trule\trule\n", "FILE:1: header: duplicate column 'rule'"),
        ("", "FILE:1: header: missing column 'table'"),
    ],
)
def test_header_errors(tmp_path, header, message):
    assert _table_error(tmp_path, "", header).startswith(message)
