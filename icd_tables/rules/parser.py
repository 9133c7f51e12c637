"""Parser of the CHS-DRG 2.0/3.0 rule language into the rule IR.

Grammar (keywords and field names are case-insensitive, set names are not)::

    rule    := <empty> | "1" | or
    or      := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | "(" or ")" | atom
    atom    := fields ["not"] "in" sets
             | FIELD OP INT
             | "length" "(" SET "∩" fields ")" OP INT
             | "length" "(" fields "∩" SET ")" OP INT
             | "has" "(" FIELD ")"
    fields  := FIELD | "{" FIELD ("," FIELD)* "}"
    sets    := SET | "{" SET ("," SET)* "}"

The empty rule and the whole-rule literal ``1`` (3.0 writes the
unconditional ADRG ``ZZ1`` so) always hold.  ``OP`` is one of
``= != < <= > >=`` and ``INT`` an integer, possibly negative.  ``SET`` is an
identifier ``[A-Za-z_][A-Za-z0-9_]*`` other than a keyword or a field name;
``MCC`` and ``CC`` are reserved for ``QTZD``.

The result is normalised: an ``and`` (``or``) nested in an ``and`` (``or``)
is flattened, a parenthesised item is that item, fields and sets keep their
written order and duplicates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from icd_tables.rules.ir import (
    COMPLICATION_SETS,
    NUMERIC_FIELDS,
    TRUE,
    And,
    Compare,
    Count,
    Expr,
    Field,
    InSets,
    Not,
    Or,
    Present,
)

KEYWORDS = frozenset({"and", "or", "not", "in", "length", "has"})
INTERSECTION = "∩"

_FIELDS = {f.value.lower(): f for f in Field}
_ALL_FIELD_NAMES = ", ".join(f.value for f in Field)
_CODE_FIELD_NAMES = ", ".join(f.value for f in Field if f.is_code)
_NUMERIC_FIELD_NAMES = ", ".join(f.value for f in Field if f in NUMERIC_FIELDS)
_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<int>-?[0-9]+)"
    r"|(?P<op><=|>=|!=|=|<|>)"
    rf"|(?P<punct>[(){{}},{INTERSECTION}])"
)
_EXCERPT = 72  # characters of a long rule shown around an error


class RuleSyntaxError(ValueError):
    """A rule is not well formed.

    Attributes
    ----------
    reason : str
        What is wrong, e.g. ``expected a set name after 'in'``.
    text : str
        The whole rule.
    column : int
        1-based position of the offending character (``len(text) + 1`` at the end).
    """

    def __init__(self, reason: str, text: str, column: int) -> None:
        self.reason, self.text, self.column = reason, text, column
        shown, caret = _excerpt(text, column - 1)
        super().__init__(f"column {column}: {reason}\n  {shown}\n  {' ' * caret}^")


def _excerpt(text: str, index: int) -> tuple[str, int]:
    """At most ``_EXCERPT`` characters of ``text`` around ``index``, and the caret's offset."""
    start = max(0, min(index - _EXCERPT // 2, len(text) - _EXCERPT))
    prefix = "..." if start else ""
    suffix = "..." if start + _EXCERPT < len(text) else ""
    shown = re.sub(r"\s", " ", text[start : start + _EXCERPT])
    return prefix + shown + suffix, len(prefix) + index - start


@dataclass(frozen=True)
class _Token:
    kind: str  # "name", "int", "op", "punct" or "end"
    text: str
    pos: int  # 0-based index into the rule

    @property
    def keyword(self) -> str | None:
        lower = self.text.lower()
        return lower if self.kind == "name" and lower in KEYWORDS else None

    @property
    def field(self) -> Field | None:
        return _FIELDS.get(self.text.lower()) if self.kind == "name" else None

    @property
    def is_set_name(self) -> bool:
        return self.kind == "name" and self.keyword is None and self.field is None

    def describe(self) -> str:
        return "the end of the rule" if self.kind == "end" else f"'{self.text}'"


def parse_rule(text: str) -> Expr:
    """Parse one rule of the CHS-DRG 2.0/3.0 expression language.

    Parameters
    ----------
    text : str
        The rule as written, e.g. ``"ZYZD in DI_B00 and NL>=18"``.

    Returns
    -------
    Expr
        The normalised IR; :data:`~icd_tables.rules.ir.TRUE` for an empty or
        all-whitespace rule and for the rule ``1``.

    Raises
    ------
    RuleSyntaxError
        When the text is not a rule or breaks a typing rule (a numeric field
        with ``in``, ``MCC`` outside ``QTZD in MCC``, …); the message names the
        column and shows the text with a caret.
    """
    if text.strip() in ("", "1"):
        return TRUE
    parser = _Parser(text)
    expr = parser.parse_or()
    token = parser.peek()
    if token.kind != "end":
        raise parser.error(f"expected 'and', 'or' or the end of the rule, found {token.describe()}", token)
    return expr


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise RuleSyntaxError(f"unexpected character '{text[pos]}'", text, pos + 1)
        if match.lastgroup != "space":
            tokens.append(_Token(match.lastgroup, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _joined(kind: type, items: list[Expr]) -> Expr:
    """``kind(items)`` with nested ``kind`` nodes flattened; a single item alone."""
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


class _Parser:
    """Recursive descent over the token list, one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def next(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def error(self, reason: str, token: _Token) -> RuleSyntaxError:
        return RuleSyntaxError(reason, self.text, token.pos + 1)

    def expect(self, text: str, reason: str) -> _Token:
        token = self.next()
        if token.text != text:
            raise self.error(f"{reason}, found {token.describe()}", token)
        return token

    def parse_or(self) -> Expr:
        items = [self.parse_and()]
        while self.peek().keyword == "or":
            self.next()
            items.append(self.parse_and())
        return _joined(Or, items)

    def parse_and(self) -> Expr:
        items = [self.parse_unary()]
        while self.peek().keyword == "and":
            self.next()
            items.append(self.parse_unary())
        return _joined(And, items)

    def parse_unary(self) -> Expr:
        token = self.peek()
        if token.keyword == "not":
            self.next()
            return Not(self.parse_unary())
        if token.text == "(":
            self.next()
            expr = self.parse_or()
            self.expect(")", f"expected ')' to close the '(' at column {token.pos + 1}")
            return expr
        if token.keyword == "length":
            return self.parse_count()
        if token.keyword == "has":
            return self.parse_has()
        if token.field is not None or token.text == "{":
            return self.parse_field_atom()
        if token.is_set_name:
            raise self.error(f"unknown field '{token.text}' (the fields are {_ALL_FIELD_NAMES})", token)
        raise self.error(
            f"expected a condition (a field, '{{', '(', 'not', 'length' or 'has'), found {token.describe()}",
            token,
        )

    def parse_field_atom(self) -> Expr:
        start = self.peek()
        fields = self.parse_fields("expected a field name")
        token = self.peek()
        if token.kind == "op":
            if start.text == "{":
                raise self.error("a comparison takes a single field, not a list", start)
            return self.parse_compare(fields[0])
        negated = token.keyword == "not"
        if negated:
            self.next()
            token = self.peek()
            if token.keyword != "in":
                raise self.error(f"expected 'in' after 'not', found {token.describe()}", token)
        if token.keyword != "in":
            after = "the field list" if start.text == "{" else f"'{start.text}'"
            raise self.error(
                f"expected 'in', 'not in' or a comparison operator after {after}, found {token.describe()}",
                token,
            )
        self.next()
        sets = self.parse_sets("expected a set name after 'in'")
        self.check_code_fields(fields, "'in'")
        reserved = [name for name, _ in sets if name in COMPLICATION_SETS]
        if reserved and (len(reserved) < len(sets) or [f for f, _ in fields] != [Field.SECONDARY_DX]):
            raise self.error(
                "the reserved sets MCC and CC can only be used as "
                "'QTZD in MCC', 'QTZD in CC' or 'QTZD in {MCC, CC}'",
                start,
            )
        atom = InSets(tuple(f for f, _ in fields), tuple(name for name, _ in sets))
        return Not(atom) if negated else atom

    def parse_compare(self, field: tuple[Field, _Token]) -> Compare:
        name, token = field
        if name not in NUMERIC_FIELDS:
            raise self.error(
                f"{name.value} is a code field: comparisons take only the numeric fields {_NUMERIC_FIELD_NAMES}",
                token,
            )
        op = self.next().text
        return Compare(name, op, self.parse_int(op))

    def parse_int(self, op: str) -> int:
        token = self.next()
        if token.kind != "int":
            raise self.error(f"expected an integer after '{op}', found {token.describe()}", token)
        return int(token.text)

    def parse_count(self) -> Count:
        self.next()
        self.expect("(", "expected '(' after 'length'")
        token = self.peek()
        if token.field is not None or token.text == "{":
            fields = self.parse_fields("expected a field name")
            self.expect(INTERSECTION, f"expected '{INTERSECTION}' after the fields")
            name, name_token = self.parse_set_name(f"expected a set name after '{INTERSECTION}'")
        else:
            name, name_token = self.parse_set_name("expected a set name or fields after 'length('")
            self.expect(INTERSECTION, f"expected '{INTERSECTION}' after the set name")
            fields = self.parse_fields(f"expected a field name or '{{' after '{INTERSECTION}'")
        self.expect(")", "expected ')' to close 'length('")
        if name in COMPLICATION_SETS:
            raise self.error(f"length() cannot count the reserved set {name}", name_token)
        self.check_code_fields(fields, "length()")
        op = self.next()
        if op.kind != "op":
            raise self.error(f"expected a comparison operator after 'length(...)', found {op.describe()}", op)
        return Count(name, tuple(f for f, _ in fields), op.text, self.parse_int(op.text))

    def parse_has(self) -> Present:
        self.next()
        self.expect("(", "expected '(' after 'has'")
        token = self.next()
        if token.field is None:
            raise self.error(f"expected a field name after 'has(', found {token.describe()}", token)
        if token.field not in NUMERIC_FIELDS:
            raise self.error(
                f"{token.field.value} is a code field: has() takes only the numeric fields {_NUMERIC_FIELD_NAMES}",
                token,
            )
        self.expect(")", "expected ')' to close 'has('")
        return Present(token.field)

    def parse_fields(self, reason: str) -> list[tuple[Field, _Token]]:
        """``FIELD`` or ``{FIELD, ...}``; each field with its token, for error positions."""

        def one(reason: str) -> tuple[Field, _Token]:
            token = self.next()
            if token.field is None:
                raise self.error(f"{reason}, found {token.describe()}", token)
            return token.field, token

        return self.parse_list(one, reason, "field")

    def parse_sets(self, reason: str) -> list[tuple[str, _Token]]:
        """``SET`` or ``{SET, ...}``."""
        return self.parse_list(self.parse_set_name, reason, "set")

    def parse_set_name(self, reason: str) -> tuple[str, _Token]:
        token = self.next()
        if not token.is_set_name:
            raise self.error(f"{reason}, found {token.describe()}", token)
        return token.text, token

    def parse_list(self, item, reason: str, what: str) -> list:
        if self.peek().text != "{":
            return [item(reason)]
        self.next()
        items = [item(f"expected a {what} name after '{{'")]
        while True:
            token = self.next()
            if token.text == "}":
                return items
            if token.text != ",":
                raise self.error(f"expected ',' or '}}' in the {what} list, found {token.describe()}", token)
            items.append(item(f"expected a {what} name after ','"))

    def check_code_fields(self, fields: list[tuple[Field, _Token]], where: str) -> None:
        for field, token in fields:
            if field in NUMERIC_FIELDS:
                raise self.error(
                    f"{field.value} is a numeric field: {where} takes only the code fields {_CODE_FIELD_NAMES}",
                    token,
                )
        if len({field.is_diagnosis for field, _ in fields}) > 1:
            raise self.error(
                f"{where} must not mix diagnosis fields (ZYZD, QTZD) with procedure fields (ZYSS, QTSS)",
                fields[0][1],
            )
