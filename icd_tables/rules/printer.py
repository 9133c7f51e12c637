"""Canonical text of a rule IR expression, in the language :mod:`.parser` reads.

Parentheses are written only where precedence (``not`` > ``and`` > ``or``)
needs them, so ``parse_rule(format_rule(e)) == e`` for every normalised ``e``
(see :mod:`icd_tables.rules.parser`).
"""

from __future__ import annotations

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
