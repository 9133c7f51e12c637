"""Canonical text of a rule IR expression, in the language :mod:`.parser` reads.

Parentheses are written only where precedence (``not`` > ``and`` > ``or``)
needs them, so ``parse_rule(format_rule(e)) == e`` for every normalised ``e``
(see :mod:`icd_tables.rules.parser`).
"""

from __future__ import annotations

import re

from icd_tables.rules.ir import And, Compare, Count, Expr, Field, InSets, Not, Or, Present, TextIn, TrueExpr
from icd_tables.rules.parser import INTERSECTION


def format_rule(expr: Expr) -> str:
    """Write ``expr`` as rule text.

    Parameters
    ----------
    expr : Expr
        Any IR expression; ``TRUE`` only as the whole rule.

    Returns
    -------
    str
        ``""`` for ``TRUE``; otherwise e.g. ``"ZYZD in DI_B00 and NL >= 18"``.
        ``Not(InSets(...))`` is written ``F not in S``.

    Raises
    ------
    ValueError
        For ``TRUE`` inside a larger expression or an ``And`` without items.
    """
    return "" if isinstance(expr, TrueExpr) else _format(expr)


#: Field → (Chinese name, unit) for reading comparisons in explanations.
_WORDS = {
    Field.AGE_YEARS: ("年龄", "岁"), Field.AGE_DAYS: ("年龄", "天"), Field.SEX: ("性别", ""),
    Field.BIRTH_WEIGHT: ("出生体重", "克"), Field.ADMISSION_WEIGHT: ("入院体重", "克"),
    Field.LOS_DAYS: ("住院天数", "天"), Field.ICU_HOURS: ("ICU 时长", "小时"), Field.DISCHARGE_METHOD: ("离院方式", ""),
    Field.DX_COUNT: ("诊断数", "个"), Field.PROC_COUNT: ("手术操作数", "个"), Field.DEPT: ("科室", ""),
}
_SYMBOLS = {">=": "≥", "<=": "≤", "!=": "≠", "=": "=", "<": "<", ">": ">"}
_COMPARISON = re.compile(r"\b(" + "|".join(f.value for f in _WORDS) + r") (>=|<=|!=|=|<|>) (-?\d+|\"[^\"]*\")")


def readable(text: str) -> str:
    """Rule text with comparisons in words, for explanations: ``ZYTS >= 61`` → ``住院天数 ≥ 61 天``.

    Parameters
    ----------
    text : str
        A rule as :func:`format_rule` writes it.

    Returns
    -------
    str
        The same text with each comparison of a record field spelled in Chinese with its unit
        (``ICUSC > 120`` → ``ICU 时长 > 120 小时``, ``KS = "ICU"`` → ``科室 = "ICU"``).
    """
    names = {f.value: words for f, words in _WORDS.items()}

    def spell(match: re.Match) -> str:
        name, unit = names[match.group(1)]
        value = match.group(3)
        suffix = f" {unit}" if unit and not value.startswith('"') else ""
        return f"{name} {_SYMBOLS[match.group(2)]} {value}{suffix}"

    return _COMPARISON.sub(spell, text)


def _braced(names: list[str]) -> str:
    return names[0] if len(names) == 1 else "{" + ", ".join(names) + "}"


def _fields(fields: tuple[Field, ...]) -> list[str]:
    return [f.value for f in fields]


def _is_text_or(expr: Expr) -> bool:
    return isinstance(expr, TextIn) and len(expr.values) > 1


def _format(expr: Expr) -> str:
    if isinstance(expr, InSets):
        return f"{_braced(_fields(expr.fields))} in {_braced(list(expr.sets))}"
    if isinstance(expr, Compare):
        return f"{expr.field.value} {expr.op} {expr.value}"
    if isinstance(expr, Count):
        fields = ", ".join(_fields(expr.fields))
        return f"length({expr.set} {INTERSECTION} {{{fields}}}) {expr.op} {expr.value}"
    if isinstance(expr, Present):
        return f"has({expr.field.value})"
    if isinstance(expr, TextIn):
        return " or ".join(f'{expr.field.value} = "{v}"' for v in expr.values) or "false"
    if isinstance(expr, Not):
        item = expr.item
        if isinstance(item, InSets):
            return f"{_braced(_fields(item.fields))} not in {_braced(list(item.sets))}"
        if isinstance(item, (Compare, Count, Present)) or (isinstance(item, TextIn) and len(item.values) == 1):
            return f"not {_format(item)}"
        return f"not ({_format(item)})"
    if isinstance(expr, Or) and not expr.items:
        return "false"
    if isinstance(expr, (And, Or)):
        if not expr.items:
            raise ValueError(f"{type(expr).__name__} without items cannot be written")
        if isinstance(expr, Or):
            return " or ".join(_format(item) for item in expr.items)
        return " and ".join(f"({_format(i)})" if isinstance(i, Or) or _is_text_or(i) else _format(i)
                            for i in expr.items)
    if isinstance(expr, TrueExpr):
        raise ValueError("TRUE can only be a whole rule (the empty rule), not part of one")
    raise TypeError(f"not a rule expression: {expr!r}")
