"""Plain-Python twin of rule evaluation and grouping, written for clarity, not speed.

It reads only the rule IR (:mod:`icd_tables.rules.ir`) and follows the
semantics in that module's docstring line by line, so the compiled kernels
can be checked against it.
"""

from __future__ import annotations

import operator
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from icd_tables.rules.ir import (
    CC,
    MCC,
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
    TextIn,
    TrueExpr,
)

COMPARE = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass
class NaiveRecord:
    """One record as the rules see it (codes already mapped to grouper codes).

    ``procedures[0]`` is the principal procedure (ZYSS), the rest are QTSS.
    ``has_mcc`` / ``has_cc`` are computed by the caller after the principal
    diagnosis's exclusion table.
    """

    principal_dx: str | None = None
    secondary_dx: list[str] = field(default_factory=list)
    procedures: list[str] = field(default_factory=list)
    age_years: int | None = None
    sex: int | None = None
    age_days: int | None = None
    admission_weight_g: int | None = None
    birth_weight_g: int | None = None
    los_days: int | None = None
    icu_hours: int | None = None
    discharge_method: int | None = None
    dept: str | None = None
    has_mcc: bool = False
    has_cc: bool = False

    def codes(self, f: Field) -> list[str]:
        """The values of code field ``f`` (possibly none)."""
        if f is Field.PRINCIPAL_DX:
            return [] if self.principal_dx is None else [self.principal_dx]
        if f is Field.SECONDARY_DX:
            return list(self.secondary_dx)
        if f is Field.PRINCIPAL_PROC:
            return self.procedures[:1]
        if f is Field.OTHER_PROCS:
            return self.procedures[1:]
        raise ValueError(f"{f} is not a code field")

    def number(self, f: Field) -> int | str | None:
        """The value of numeric (or text) field ``f``, ``None`` when missing."""
        return {
            Field.AGE_YEARS: self.age_years,
            Field.SEX: self.sex,
            Field.AGE_DAYS: self.age_days,
            Field.ADMISSION_WEIGHT: self.admission_weight_g,
            Field.BIRTH_WEIGHT: self.birth_weight_g,
            Field.LOS_DAYS: self.los_days,
            Field.ICU_HOURS: self.icu_hours,
            Field.DISCHARGE_METHOD: self.discharge_method,
            Field.DEPT: self.dept,
            Field.DX_COUNT: len(self.codes(Field.PRINCIPAL_DX)) + len(self.secondary_dx),
            Field.PROC_COUNT: len(self.procedures),
        }[f]


@dataclass(frozen=True)
class NaiveResult:
    """``status`` is ``"ok"``, ``"qy"`` or ``"ungroupable"``; ``adrg_rule`` the chosen ADRG row's code."""

    status: str
    mdc: str
    adrg: str
    drg: str
    adrg_rule: str


def _some_in(values: list[str], name: str, rec: NaiveRecord, sets: Mapping[str, Collection[str]]) -> bool:
    """Some of ``values`` is in set ``name``; ``MCC``/``CC`` read the record's flags."""
    if name == MCC:
        return rec.has_mcc
    if name == CC:
        return rec.has_cc
    members = sets[name]
    return any(code in members for code in values)


def eval_expr(expr: Expr, rec: NaiveRecord, sets: Mapping[str, Collection[str]]) -> bool:
    """Evaluate ``expr`` on ``rec``.

    Parameters
    ----------
    expr : Expr
    rec : NaiveRecord
    sets : mapping of set name to codes
        Every set the expression names except ``MCC`` and ``CC``, which read
        ``rec.has_mcc`` / ``rec.has_cc``.

    Returns
    -------
    bool

    Raises
    ------
    KeyError
        When the expression names a set missing from ``sets``.
    """
    if isinstance(expr, TrueExpr):
        return True
    if isinstance(expr, InSets):
        values = [code for f in expr.fields for code in rec.codes(f)]
        return any([_some_in(values, name, rec, sets) for name in expr.sets])  # a list: look up every set
    if isinstance(expr, Compare):
        value = rec.number(expr.field)
        return value is not None and COMPARE[expr.op](value, expr.value)
    if isinstance(expr, Count):
        members = sets[expr.set]
        distinct = {code for f in expr.fields for code in rec.codes(f) if code in members}
        return COMPARE[expr.op](len(distinct), expr.value)
    if isinstance(expr, Present):
        return rec.number(expr.field) is not None
    if isinstance(expr, TextIn):
        return rec.number(expr.field) in expr.values
    if isinstance(expr, And):
        return all(eval_expr(item, rec, sets) for item in expr.items)
    if isinstance(expr, Or):
        return any(eval_expr(item, rec, sets) for item in expr.items)
    if isinstance(expr, Not):
        return not eval_expr(expr.item, rec, sets)
    raise TypeError(f"not a rule expression: {expr!r}")


_TREES: dict[tuple[int, int], tuple[Sequence[RuleRow], dict]] = {}


def _children(rows: Sequence[RuleRow], level: str, parent: str) -> list[RuleRow]:
    """The rows of ``level`` under ``parent``, stably sorted by ``sort``.

    Indexed once per rows list and length (the regional packs have thousands of rows), so a list
    that grows is indexed again.
    """
    key = (id(rows), len(rows))
    cached = _TREES.get(key)
    if cached is None or cached[0] is not rows:
        tree: dict[tuple[str, str], list[RuleRow]] = {}
        for row in rows:
            tree.setdefault((row.level, row.parent), []).append(row)
        cached = _TREES[key] = (rows, {k: sorted(v, key=lambda r: r.sort) for k, v in tree.items()})
    return cached[1].get((level, parent), [])


def group_rows(
    rows: Sequence[RuleRow],
    rec: NaiveRecord,
    sets: Mapping[str, Collection[str]],
    ungroupable_drg: str = "0000",
) -> NaiveResult:
    """Group ``rec`` by walking the decision table MDC → ADRG → DRG.

    The first MDC whose rule holds and that has an ADRG row whose rule holds
    and one of whose DRG rows holds decides (an MDC without such an ADRG row
    falls through to the next); within it the first such ADRG row, then its
    first DRG row whose rule holds.  Siblings are tried in stable ``sort`` order.

    Parameters
    ----------
    rows : sequence of RuleRow
    rec : NaiveRecord
    sets : mapping of set name to codes
    ungroupable_drg : str
        The DRG of a record no MDC takes.

    Returns
    -------
    NaiveResult
        ``adrg`` is ``""`` unless the status is ``"ok"``.
    """
    for mdc in _children(rows, "mdc", ""):
        if not eval_expr(mdc.rule, rec, sets):
            continue
        for adrg in _children(rows, "adrg", mdc.code):
            if not eval_expr(adrg.rule, rec, sets):
                continue
            drg = next((d for d in _children(rows, "drg", adrg.code) if eval_expr(d.rule, rec, sets)), None)
            if drg is None:  # the ADRG does not match: go on
                continue
            adrg_code = adrg.target if adrg.outcome is Outcome.OK else ""
            return NaiveResult(adrg.outcome.value, mdc.code, adrg_code, drg.code, adrg.code)
    return NaiveResult(Outcome.UNGROUPABLE.value, "", "", ungroupable_drg, "")
