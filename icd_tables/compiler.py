"""Compile a :class:`SchemeDefinition` into a :class:`CompiledPack`.

The compiler is deterministic: the same definition gives byte-identical
arrays.  Steps:

1. Classify every referenced set as a diagnosis or a procedure set by the
   fields it is used with; an ``in`` over several sets becomes one union set.
2. Build the code dictionaries and, per code, the ascending list of set ids it
   belongs to.
3. Translate each rule into a *jump program* (short-circuit evaluation
   without a stack): ``emit(expr, on_true, on_false)`` is built back to front,
   so every atom occurrence becomes exactly one instruction.
4. Lay the decision table out as CSR arrays, each level stably sorted by
   ``sort``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from icd_tables.compiled import (
    ACCEPT,
    ATOM_CC,
    ATOM_CMP,
    ATOM_COUNT,
    ATOM_IN,
    ATOM_MCC,
    ATOM_MCC_OR_CC,
    ATOM_PRESENT,
    ATOM_SIZE,
    FIELD_BITS,
    NUMERIC_ORDER,
    OUTCOME_OK,
    OUTCOME_QY,
    OUTCOME_UNGROUPABLE,
    REJECT,
    CompiledPack,
    string_table,
)
from icd_tables.definition import REGROUP_EACH_SECONDARY_PROC, SchemeDefinition
from icd_tables.errors import PackCompileError
from icd_tables.rules.ir import (
    CC,
    COMPLICATION_SETS,
    DERIVED_FIELDS,
    MCC,
    OPERATORS,
    And,
    Compare,
    Count,
    Expr,
    InSets,
    Not,
    Or,
    Outcome,
    Field,
    Present,
    RuleRow,
    TextIn,
    TrueExpr,
)
from icd_tables.rules.printer import format_rule

_OUTCOMES = {Outcome.OK: OUTCOME_OK, Outcome.QY: OUTCOME_QY, Outcome.UNGROUPABLE: OUTCOME_UNGROUPABLE}


def _walk(expr: Expr):
    yield expr
    if isinstance(expr, (And, Or)):
        for item in expr.items:
            yield from _walk(item)
    elif isinstance(expr, Not):
        yield from _walk(expr.item)


def _set_key(sets: tuple[str, ...]) -> str:
    """Name of the set an atom tests: the set itself, or the union of several."""
    return sets[0] if len(sets) == 1 else "|".join(sets)


@dataclass
class _Program:
    """Atoms and jump instructions, deduplicated and in order of first use."""

    set_ids: dict[str, int]
    text_ids: dict[str, int]
    atoms: dict[tuple, int] = field(default_factory=dict)
    ins: list[tuple[int, int, int]] = field(default_factory=list)

    def atom(self, expr: Expr) -> int:
        key = self._atom_key(expr)
        return self.atoms.setdefault(key, len(self.atoms))

    def _atom_key(self, expr: Expr) -> tuple:
        # (kind, fields mask, set id, numeric field, op, value)
        if isinstance(expr, InSets):
            mask = sum(FIELD_BITS[f] for f in set(expr.fields))
            if set(expr.sets) & COMPLICATION_SETS:
                kind = {(MCC,): ATOM_MCC, (CC,): ATOM_CC}.get(
                    tuple(sorted(set(expr.sets))), ATOM_MCC_OR_CC
                )
                return (kind, mask, -1, -1, -1, 0)
            return (ATOM_IN, mask, self.set_ids[_set_key(expr.sets)], -1, -1, 0)
        if isinstance(expr, Compare) and expr.field in DERIVED_FIELDS:
            mask = 3 if expr.field is Field.DX_COUNT else 12
            return (ATOM_SIZE, mask, -1, -1, OPERATORS.index(expr.op), expr.value)
        if isinstance(expr, Compare):
            return (ATOM_CMP, 0, -1, NUMERIC_ORDER.index(expr.field), OPERATORS.index(expr.op), expr.value)
        if isinstance(expr, Present):
            return (ATOM_PRESENT, 0, -1, NUMERIC_ORDER.index(expr.field), -1, 0)
        if isinstance(expr, Count):
            mask = sum(FIELD_BITS[f] for f in set(expr.fields))
            return (ATOM_COUNT, mask, self.set_ids[expr.set], -1, OPERATORS.index(expr.op), expr.value)
        raise PackCompileError(f"not an atom: {expr!r}")

    def emit(self, expr: Expr, on_true: int, on_false: int) -> int:
        """Append ``expr``'s instructions; return its entry point."""
        if isinstance(expr, TrueExpr) or (isinstance(expr, Present) and expr.field in DERIVED_FIELDS):
            return on_true
        if isinstance(expr, TextIn):  # the department as the index of its value
            equal = tuple(Compare(expr.field, "=", self.text_ids[v]) for v in expr.values)
            return self.emit(Or(equal), on_true, on_false)
        if isinstance(expr, Not):
            return self.emit(expr.item, on_false, on_true)
        if isinstance(expr, And):
            entry = on_true
            for item in reversed(expr.items):
                entry = self.emit(item, entry, on_false)
            return entry
        if isinstance(expr, Or):
            entry = on_false
            for item in reversed(expr.items):
                entry = self.emit(item, on_true, entry)
            return entry
        self.ins.append((self.atom(expr), on_true, on_false))
        return len(self.ins) - 1


def _classify_sets(defn: SchemeDefinition) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """Map every set key the rules test to its codes and its kind ('dx' or 'proc')."""
    members: dict[str, tuple[str, ...]] = {}
    kinds: dict[str, str] = {}
    exprs = [(f"{r.level} {r.code}", r.rule) for r in defn.rows]
    exprs += [(f"check {c.name}", c.rule) for c in defn.checks]
    for where, rule in exprs:
        for node in _walk(rule):
            if isinstance(node, InSets):
                names, node_fields = node.sets, node.fields
            elif isinstance(node, Count):
                names, node_fields = (node.set,), node.fields
            else:
                continue
            if set(names) & COMPLICATION_SETS:
                continue
            kind = "dx" if node_fields[0].is_diagnosis else "proc"
            missing = [n for n in names if n not in defn.sets]
            if missing:
                raise PackCompileError(f"{where}: unknown code set {', '.join(missing)}")
            key = _set_key(names)
            if kinds.setdefault(key, kind) != kind:
                raise PackCompileError(f"{where}: set {key} is used for both diagnoses and procedures")
            if key not in members:
                codes: dict[str, None] = {}
                for n in names:
                    codes.update(dict.fromkeys(defn.sets[n]))
                members[key] = tuple(codes)
    return members, kinds


def _membership(codes: list[str], set_codes: dict[str, tuple[str, ...]], set_ids: dict[str, int]):
    index = {c: i for i, c in enumerate(codes)}
    per_code: list[list[int]] = [[] for _ in codes]
    for key, values in set_codes.items():
        sid = set_ids[key]
        for code in dict.fromkeys(values):
            per_code[index[code]].append(sid)
    start = np.zeros(len(codes) + 1, dtype=np.int32)
    start[1:] = np.cumsum([len(p) for p in per_code])
    flat = np.array([s for p in per_code for s in sorted(p)], dtype=np.int32)
    return start, flat


def _ordered(rows: list[RuleRow]) -> list[RuleRow]:
    return sorted(rows, key=lambda r: r.sort)  # stable: ties keep file order


def _decision_table(defn: SchemeDefinition):
    by_level: dict[str, list[RuleRow]] = {"mdc": [], "adrg": [], "drg": []}
    for row in defn.rows:
        if row.level not in by_level:
            raise PackCompileError(f"row {row.code}: unknown level {row.level!r}")
        by_level[row.level].append(row)
    children: dict[tuple[str, str], list[RuleRow]] = {}
    for level, parent_level in (("adrg", "mdc"), ("drg", "adrg")):
        parents = {r.code for r in by_level[parent_level]}
        for row in by_level[level]:
            if row.parent not in parents:
                raise PackCompileError(f"{level} {row.code}: parent {parent_level} {row.parent!r} does not exist")
            children.setdefault((parent_level, row.parent), []).append(row)
    mdcs = _ordered(by_level["mdc"])
    adrgs = [a for m in mdcs for a in _ordered(children.get(("mdc", m.code), []))]
    return mdcs, adrgs, children


def compile_definition(defn: SchemeDefinition) -> CompiledPack:
    """Compile a scheme definition into kernel arrays.

    Parameters
    ----------
    defn : SchemeDefinition

    Returns
    -------
    CompiledPack

    Raises
    ------
    PackCompileError
        Unknown set, a set used for diagnoses and procedures, a row whose parent
        is missing, or an unknown regrouping.

    Notes
    -----
    An ADRG row whose DRG rows all fail does not match: the walk goes on with
    the next ADRG row (then the next MDC).  A scheme that wants a result in
    that case ends the ADRG with an unconditional DRG row.
    """
    if defn.regroup not in (None, REGROUP_EACH_SECONDARY_PROC):
        raise PackCompileError(f"unknown regrouping {defn.regroup!r}")
    set_codes, set_kinds = _classify_sets(defn)
    set_names = list(set_codes)
    set_ids = {name: i for i, name in enumerate(set_names)}

    dx_codes = sorted(
        set(defn.dx_map.values()) | set(defn.dx_names) | set(defn.mcc) | set(defn.cc)
        | set(defn.cc_exclusion)
        | {c for k, v in set_codes.items() if set_kinds[k] == "dx" for c in v}
    )
    proc_codes = sorted(
        set(defn.proc_map.values()) | set(defn.proc_names)
        | {c for k, v in set_codes.items() if set_kinds[k] == "proc" for c in v}
    )
    dx_index = {c: i for i, c in enumerate(dx_codes)}
    proc_index = {c: i for i, c in enumerate(proc_codes)}
    dx_inputs = sorted(defn.dx_map)
    proc_inputs = sorted(defn.proc_map)
    dx_sets = {k: v for k, v in set_codes.items() if set_kinds[k] == "dx"}
    proc_sets = {k: v for k, v in set_codes.items() if set_kinds[k] == "proc"}
    dx_member_start, dx_member_set = _membership(dx_codes, dx_sets, set_ids)
    proc_member_start, proc_member_set = _membership(proc_codes, proc_sets, set_ids)

    exclusion_ids = {e: i for i, e in enumerate(sorted(
        set(defn.mcc.values()) | set(defn.cc.values()) | set(defn.cc_exclusion.values())
    ))}

    def per_dx(table: dict[str, str]) -> np.ndarray:
        out = np.full(len(dx_codes), -1, dtype=np.int32)
        for code, excl in table.items():
            out[dx_index[code]] = exclusion_ids[excl]
        return out

    text_values = sorted({v for r in defn.rows for node in _walk(r.rule) if isinstance(node, TextIn)
                          for v in node.values})
    program = _Program(set_ids, {v: i for i, v in enumerate(text_values)})
    check_entry = [program.emit(c.rule, ACCEPT, REJECT) for c in defn.checks]
    mdcs, adrgs, children = _decision_table(defn)
    mdc_entry = [program.emit(m.rule, ACCEPT, REJECT) for m in mdcs]
    mdc_adrg_start = np.cumsum(
        [0] + [len(children.get(("mdc", m.code), [])) for m in mdcs], dtype=np.int32
    )
    adrg_codes = list(dict.fromkeys(a.target for a in adrgs if a.outcome == Outcome.OK))
    adrg_index = {c: i for i, c in enumerate(adrg_codes)}
    adrg_entry, adrg_drg_start, drg_entry, drg_target, drg_rules = [], [0], [], [], []
    drg_codes = list(dict.fromkeys(
        [defn.ungroupable_drg] + [d.code for a in adrgs for d in children.get(("adrg", a.code), [])]
    ))
    drg_index = {c: i for i, c in enumerate(drg_codes)}
    for a in adrgs:
        adrg_entry.append(program.emit(a.rule, ACCEPT, REJECT))
        drgs = _ordered(children.get(("adrg", a.code), []))
        for d in drgs:
            drg_entry.append(program.emit(d.rule, ACCEPT, REJECT))
            drg_target.append(drg_index[d.code])
            drg_rules.append(format_rule(d.rule))
        adrg_drg_start.append(adrg_drg_start[-1] + len(drgs))

    atoms = np.array(list(program.atoms), dtype=np.int64).reshape(-1, 6)
    ins = np.array(program.ins, dtype=np.int32).reshape(-1, 3)
    i32 = lambda values: np.asarray(values, dtype=np.int32)  # noqa: E731
    drg_names = {**{d.code: d.name_zh for d in defn.rows if d.level == "drg" and d.name_zh}, **defn.drg_names}
    return CompiledPack(
        dx_inputs=string_table(dx_inputs),
        dx_input_target=i32([dx_index[defn.dx_map[c]] for c in dx_inputs]),
        dx_codes=string_table(dx_codes),
        dx_names=string_table(defn.dx_names.get(c, "") for c in dx_codes),
        proc_inputs=string_table(proc_inputs),
        proc_input_target=i32([proc_index[defn.proc_map[c]] for c in proc_inputs]),
        proc_codes=string_table(proc_codes),
        proc_names=string_table(defn.proc_names.get(c, "") for c in proc_codes),
        set_names=string_table(set_names),
        n_set_words=i32([max(1, (len(set_names) + 63) // 64)]),
        dx_member_start=dx_member_start,
        dx_member_set=dx_member_set,
        proc_member_start=proc_member_start,
        proc_member_set=proc_member_set,
        mcc_excl=per_dx(defn.mcc),
        cc_excl=per_dx(defn.cc),
        cce=per_dx(defn.cc_exclusion),
        atoms=atoms,
        ins=ins,
        check_entry=i32(check_entry),
        check_names=string_table(c.name for c in defn.checks),
        check_messages_zh=string_table(c.message_zh for c in defn.checks),
        check_messages_en=string_table(c.message_en for c in defn.checks),
        mdc_entry=i32(mdc_entry),
        mdc_codes=string_table(m.code for m in mdcs),
        mdc_names=string_table(defn.mdc_names.get(m.code, m.name_zh) for m in mdcs),
        mdc_rules=string_table(format_rule(m.rule) for m in mdcs),
        mdc_adrg_start=mdc_adrg_start,
        adrg_entry=i32(adrg_entry),
        adrg_outcome=np.array([_OUTCOMES[a.outcome] for a in adrgs], dtype=np.int8),
        adrg_target=i32([adrg_index[a.target] if a.outcome == Outcome.OK else -1 for a in adrgs]),
        adrg_rule_ids=string_table(a.code for a in adrgs),
        adrg_rules=string_table(format_rule(a.rule) for a in adrgs),
        adrg_drg_start=i32(adrg_drg_start),
        adrg_codes=string_table(adrg_codes),
        drg_entry=i32(drg_entry),
        drg_target=i32(drg_target),
        drg_rules=string_table(drg_rules),
        drg_codes=string_table(drg_codes),
        drg_names=string_table(drg_names.get(c, "") for c in drg_codes),
        ungroupable_drg=string_table([defn.ungroupable_drg]),
        text_values=string_table(text_values),
        regroup_alone=np.array([defn.regroup == REGROUP_EACH_SECONDARY_PROC], dtype=np.int8),
    )
