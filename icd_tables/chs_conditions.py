"""Typed conditions of the regional CHS-DRG packs (``chs-drg-rules/2``) as rule IR.

Each op of the tables README, section 7.2, maps onto the IR here and only
here, so every regional pack runs through the same compiler and kernels as
the national ones.  Anything outside section 7.2 (an unknown op, field,
position, comparison, list name or key) raises :class:`PackFormatError`
naming the construct and where it sits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

from icd_tables.errors import PackFormatError
from icd_tables.rules.ir import (
    CC,
    FALSE,
    MCC,
    TRUE,
    And,
    Compare,
    Expr,
    Field,
    InSets,
    Not,
    Or,
    Present,
    TextIn,
)

#: Record field of ``rules.json`` → IR field (section 7.1 and section 3).
FIELDS = {
    "age_years": Field.AGE_YEARS,
    "age_days": Field.AGE_DAYS,
    "birth_weight_g": Field.BIRTH_WEIGHT,
    "sex": Field.SEX,
    "los_days": Field.LOS_DAYS,
    "icu_hours": Field.ICU_HOURS,
    "discharge_method": Field.DISCHARGE_METHOD,
    "dept": Field.DEPT,
    "dx_count": Field.DX_COUNT,
    "proc_count": Field.PROC_COUNT,
}
_CMP = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "=", "!=": "!="}
_POSITIONS = {
    "dx_in": {
        "principal": (Field.PRINCIPAL_DX,),
        "secondary": (Field.SECONDARY_DX,),
        "any": (Field.PRINCIPAL_DX, Field.SECONDARY_DX),
    },
    "proc_in": {
        "principal": (Field.PRINCIPAL_PROC,),
        "secondary": (Field.OTHER_PROCS,),
        "any": (Field.PRINCIPAL_PROC, Field.OTHER_PROCS),
    },
}
#: Keys each op may carry besides ``op`` (a code set takes ``list`` or ``codes``).
_KEYS = {
    "all": {"of"}, "any": {"of"}, "not": {"of"},
    "dx_in": {"pos", "list", "codes"}, "proc_in": {"pos", "list", "codes"},
    "has_mcc": set(), "has_cc": set(),
    "cmp": {"field", "cmp", "value"}, "in": {"field", "values"}, "present": {"field"},
}


class ConditionReader:
    """Translates conditions, naming code sets through ``add_set``.

    Parameters
    ----------
    add_set : callable
        ``add_set(name, codes) -> name``: registers a code set of the scheme.
    source : str
        The file the conditions come from, for error messages.
    """

    def __init__(self, add_set: Callable[[str, object], str], source: str) -> None:
        self.add_set = add_set
        self.source = source

    def error(self, where: str, what: str) -> PackFormatError:
        return PackFormatError(
            f"{self.source}: {where}: {what} is not a construct of chs-drg-rules/2 "
            "(tables README, section 7); the pack is not imported"
        )

    def read(self, cond: object, lists: Mapping[str, str], where: str) -> Expr:
        """The IR of ``cond``.

        Parameters
        ----------
        cond : dict
            A condition object of section 7.2.
        lists : mapping
            List name usable here (``dx``, ``proc``…, ``principal_dx``,
            ``or_procedures``) → the scheme's set name.
        where : str
            Where the condition sits, e.g. ``ADRG FM1 rule``.
        """
        if not isinstance(cond, dict) or "op" not in cond:
            raise self.error(where, f"condition {cond!r} (an object with an 'op')")
        op = cond["op"]
        if op not in _KEYS:
            raise self.error(where, f"condition op {op!r}")
        extra = set(cond) - _KEYS[op] - {"op"}
        if extra:
            raise self.error(where, f"key(s) {', '.join(sorted(extra))} of op {op!r}")
        if op in ("all", "any"):
            items = [self.read(c, lists, where) for c in self._members(cond, where)]
            return _all(items) if op == "all" else _any(items)
        if op == "not":
            return _negate(self.read(cond.get("of"), lists, where))
        if op in _POSITIONS:
            positions = _POSITIONS[op]
            if cond.get("pos") not in positions:
                raise self.error(where, f"{op} position {cond.get('pos')!r}")
            return InSets(positions[cond["pos"]], (self._code_set(op, cond, lists, where),))
        if op == "has_mcc":
            return InSets((Field.SECONDARY_DX,), (MCC,))
        if op == "has_cc":
            return InSets((Field.SECONDARY_DX,), (CC,))
        field = self._field(cond, where)
        if op == "present":
            return Present(field)
        if op == "cmp":
            if cond.get("cmp") not in _CMP:
                raise self.error(where, f"comparison {cond.get('cmp')!r}")
            if field is Field.DEPT or not _is_int(cond.get("value")):
                raise self.error(where, f"cmp of {cond['field']!r} with {cond.get('value')!r}")
            return Compare(field, _CMP[cond["cmp"]], int(cond["value"]))
        values = cond.get("values")
        if not isinstance(values, list):
            raise self.error(where, f"'in' without a list of values ({values!r})")
        if field is Field.DEPT:
            if not all(isinstance(v, str) for v in values):
                raise self.error(where, f"non-text department values {values!r}")
            return TextIn(field, tuple(values))
        if not all(_is_int(v) for v in values):
            raise self.error(where, f"non-integer values {values!r} for {cond['field']!r}")
        return _any([Compare(field, "=", int(v)) for v in values])

    def _members(self, cond: dict, where: str) -> list:
        members = cond.get("of")
        if not isinstance(members, list):
            raise self.error(where, f"{cond['op']!r} whose 'of' is not a list")
        return members

    def _field(self, cond: dict, where: str) -> Field:
        name = cond.get("field")
        if name not in FIELDS:
            raise self.error(where, f"record field {name!r}")
        return FIELDS[name]

    def _code_set(self, op: str, cond: dict, lists: Mapping[str, str], where: str) -> str:
        if ("list" in cond) == ("codes" in cond):
            raise self.error(where, f"{op} with neither or both of 'list' and 'codes'")
        if "list" in cond:
            if cond["list"] not in lists:
                raise self.error(where, f"list {cond['list']!r} (usable here: {', '.join(sorted(lists))})")
            return lists[cond["list"]]
        codes = cond["codes"]
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise self.error(where, f"inline codes {codes!r}")
        digest = hashlib.sha256("\n".join(codes).encode()).hexdigest()[:12]
        return self.add_set(f"{'DI' if op == 'dx_in' else 'OP'}_C{digest}", codes)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _all(items: list[Expr]) -> Expr:
    """Conjunction without constant parts: ``all []`` is TRUE, a FALSE member makes it FALSE."""
    kept: list[Expr] = []
    for item in items:
        if item == FALSE:
            return FALSE
        if item != TRUE:
            kept += item.items if isinstance(item, And) else [item]
    return TRUE if not kept else kept[0] if len(kept) == 1 else And(tuple(kept))


def _any(items: list[Expr]) -> Expr:
    """Disjunction without constant parts: ``any []`` is FALSE, a TRUE member makes it TRUE."""
    kept: list[Expr] = []
    for item in items:
        if item == TRUE:
            return TRUE
        if item != FALSE:
            kept += item.items if isinstance(item, Or) else [item]
    return FALSE if not kept else kept[0] if len(kept) == 1 else Or(tuple(kept))


def _negate(item: Expr) -> Expr:
    if item == TRUE:
        return FALSE
    if item == FALSE:
        return TRUE
    return item.item if isinstance(item, Not) else Not(item)


def conjoin(items: list[Expr]) -> Expr:
    """``all`` of IR parts, flattened and without constants (used by the importer too)."""
    return _all(items)
