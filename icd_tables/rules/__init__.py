"""Grouping rules: the IR, the CHS-DRG 2.0/3.0 rule language and the rule table file."""

from icd_tables.rules.ir import (
    CC,
    CODE_FIELDS,
    COMPLICATION_SETS,
    MCC,
    NUMERIC_FIELDS,
    OPERATORS,
    TRUE,
    And,
    Compare,
    Count,
    Expr,
    Field,
    InSets,
    Not,
    Or,
    Outcome,
    Present,
    RuleRow,
    TrueExpr,
)
from icd_tables.rules.parser import RuleSyntaxError, parse_rule
from icd_tables.rules.printer import format_rule
from icd_tables.rules.table import RuleTableError, read_rule_table, write_rule_table

__all__ = [
    "CC",
    "CODE_FIELDS",
    "COMPLICATION_SETS",
    "MCC",
    "NUMERIC_FIELDS",
    "OPERATORS",
    "TRUE",
    "And",
    "Compare",
    "Count",
    "Expr",
    "Field",
    "InSets",
    "Not",
    "Or",
    "Outcome",
    "Present",
    "RuleRow",
    "RuleSyntaxError",
    "RuleTableError",
    "TrueExpr",
    "format_rule",
    "parse_rule",
    "read_rule_table",
    "write_rule_table",
]
