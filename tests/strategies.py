"""Records drawn from a scheme's own lists: Hypothesis strategies and their seeded twin.

Everything is derived from a :class:`~icd_tables.definition.SchemeDefinition`
by walking the rule IR of ``defn.rows`` and ``defn.checks``, so the same code
serves the national 1.x packs and the bundled ``example-mini`` pack:

* code sets are classified by the fields that read them (``ZYZD``/``QTZD``:
  diagnosis sets, ``ZYSS``/``QTSS``: procedure sets) and turned into *input*
  codes through the inverse of ``dx_map`` / ``proc_map`` (several input codes
  may map to one grouper code; a grouper code that is no map value is skipped);
* numeric candidates are the bounds of every ``Compare`` node, each with its
  neighbours (e.g. 28/29 days, 1499/1500 g), plus a few ordinary values; the
  regional fields (length of stay, ICU hours, discharge method, department)
  are drawn only for packs whose rules read them, the department from the
  texts the rules compare with and a few others;
* most records are *aimed*: an ADRG row is chosen (stratified by the shape of
  its rule, so rare rule kinds are as likely as common ones), a branch of its
  rule, of its MDC's entry rule and of one of its DRG rows is turned into codes
  and numbers that satisfy it, while earlier siblings are negated where that is
  possible; the rest are *free* records built from random sets;
* noise is then added: secondary diagnoses from the MCC/CC tables whose
  exclusion id matches the principal's and ones that do not, duplicates, the
  principal repeated, extra procedures first or later, odd sex values, and
  rarely an unmappable or empty code.

One plain function, :func:`draw_record`, builds a record from a *chooser*.
:class:`RandomChooser` wraps a seeded :class:`random.Random` (deterministic,
for statistics); :class:`DrawChooser` wraps a Hypothesis ``draw`` so that
:func:`records` shrinks failing records towards "no optional feature".
"""

from __future__ import annotations

import operator
import random
from collections import defaultdict
from dataclasses import dataclass, field

from hypothesis import strategies as st

from icd_tables.definition import SchemeDefinition
from icd_tables.rules.ir import (
    COMPLICATION_SETS,
    DERIVED_FIELDS,
    TEXT_FIELDS,
    And,
    Compare,
    Count,
    Expr,
    Field,
    InSets,
    Not,
    Or,
    Present,
    RuleRow,
    TextIn,
    TrueExpr,
)
from icd_tables.schema import NUMERIC_COLUMNS, TEXT_COLUMNS

MCC, CC = "MCC", "CC"
ZYZD, QTZD, ZYSS, QTSS = Field.PRINCIPAL_DX, Field.SECONDARY_DX, Field.PRINCIPAL_PROC, Field.OTHER_PROCS
DX_FIELDS = frozenset({ZYZD, QTZD})
PROC_FIELDS = frozenset({ZYSS, QTSS})

COMPARE = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
           ">": operator.gt, ">=": operator.ge}
NEGATED = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}

#: Codes tried as unmappable input; those the pack happens to map are dropped.
JUNK_DX = ("R75", "XX.9999", "A00.0000x999", "J18")
JUNK_PROC = ("XX.9999", "99.99999", "36.06")
#: Ordinary values added to the bounds found in the rules.
TYPICAL = {
    Field.SEX: (1, 2),
    Field.AGE_YEARS: (0, 1, 5, 17, 18, 30, 45, 60, 65, 75, 90, 100),
    Field.AGE_DAYS: (0, 1, 3, 7, 14, 27, 28, 29, 30, 60, 180, 364),
    Field.BIRTH_WEIGHT: (0, 600, 999, 1000, 1200, 1800, 2200, 2800, 3300, 4200),
    Field.ADMISSION_WEIGHT: (0, 600, 999, 1000, 1200, 1800, 2200, 2800, 3300, 4200),
    Field.LOS_DAYS: (0, 1, 2, 4, 5, 7, 10, 14, 30, 60, 61, 120),
    Field.ICU_HOURS: (0, 1, 24, 48, 96, 120, 121, 200, 400),
    Field.DISCHARGE_METHOD: (1, 2, 3, 4, 5, 9),
}
#: Departments drawn besides the ones the rules name.
TYPICAL_DEPTS = ("呼吸内科", "普通外科", "icu", "")
#: Regional record fields, drawn only where a pack's rules read them.
REGIONAL_FIELDS = (Field.LOS_DAYS, Field.ICU_HOURS, Field.DISCHARGE_METHOD, Field.DEPT)
ODD_SEX = (0, 9, None)


# --------------------------------------------------------------------------- choosers


class RandomChooser:
    """Choices from a seeded :class:`random.Random`."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def index(self, n: int) -> int:
        return self.rng.randrange(n)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


class DrawChooser:
    """Choices drawn through Hypothesis; every choice shrinks to index 0 / ``False``."""

    def __init__(self, draw):
        self.draw = draw

    def index(self, n: int) -> int:
        return 0 if n == 1 else self.draw(st.integers(0, n - 1))

    def chance(self, p: float) -> bool:
        # integers shrink towards 0, i.e. towards *not* taking the optional branch
        return self.draw(st.integers(0, 999)) >= 1000 - round(p * 1000)


def _pick(ch, seq):
    return seq[ch.index(len(seq))]


def _shuffle(ch, items: list) -> list:
    items = list(items)
    for i in range(len(items) - 1, 0, -1):
        j = ch.index(i + 1)
        items[i], items[j] = items[j], items[i]
    return items


# --------------------------------------------------------------------------- the model


def rule_shape(expr: Expr) -> str:
    """The structure of a rule with set names and values left out (stratifies aimed rows)."""
    if isinstance(expr, TrueExpr):
        return "T"
    if isinstance(expr, InSets):
        sets = ",".join(sorted(s for s in expr.sets if s in COMPLICATION_SETS)) or "S"
        return f"in({','.join(f.value for f in expr.fields)}:{sets})"
    if isinstance(expr, Compare):
        return f"{expr.field.value}{expr.op}"
    if isinstance(expr, Count):
        return f"count({','.join(f.value for f in expr.fields)}{expr.op})"
    if isinstance(expr, Present):
        return f"has({expr.field.value})"
    if isinstance(expr, TextIn):
        return f"text({expr.field.value})"
    if isinstance(expr, Not):
        return f"not({rule_shape(expr.item)})"
    if isinstance(expr, (And, Or)):
        name = "and" if isinstance(expr, And) else "or"
        return f"{name}({';'.join(rule_shape(i) for i in expr.items)})"
    raise TypeError(expr)


def _walk(expr: Expr, visit) -> None:
    visit(expr)
    if isinstance(expr, (And, Or)):
        for item in expr.items:
            _walk(item, visit)
    elif isinstance(expr, Not):
        _walk(expr.item, visit)


def _sorted_rows(rows, level: str, parent: str) -> list[RuleRow]:
    return sorted((r for r in rows if r.level == level and r.parent == parent), key=lambda r: r.sort)


@dataclass
class _Plan:
    """Constraints gathered from the rule branches a record is aimed at."""

    need: list = field(default_factory=list)  # (fields, set name): some value of fields in set
    avoid: list = field(default_factory=list)  # (fields, set names): no value of fields in them
    counts: list = field(default_factory=list)  # (set, fields, op, value)
    compares: dict = field(default_factory=lambda: defaultdict(list))  # field -> [(op, value)]
    present: set = field(default_factory=set)
    absent: set = field(default_factory=set)
    texts: dict = field(default_factory=dict)  # text field -> a value it must take
    avoid_texts: dict = field(default_factory=lambda: defaultdict(set))  # text field -> values it must not take
    want: list = field(default_factory=list)  # tuples of MCC/CC: one of them must count
    avoid_mcc: bool = False
    avoid_cc: bool = False


class RecordModel:
    """What a scheme's rules read, indexed for drawing records.

    Parameters
    ----------
    defn : SchemeDefinition
    """

    def __init__(self, defn: SchemeDefinition):
        self.defn = defn
        dx_inverse: dict[str, list[str]] = defaultdict(list)
        for code, target in defn.dx_map.items():
            dx_inverse[target].append(code)
        proc_inverse: dict[str, list[str]] = defaultdict(list)
        for code, target in defn.proc_map.items():
            proc_inverse[target].append(code)
        self.dx_inverse = {k: tuple(v) for k, v in dx_inverse.items()}
        self.proc_inverse = {k: tuple(v) for k, v in proc_inverse.items()}

        kinds: dict[str, set[str]] = defaultdict(set)
        bounds: dict[Field, set[int]] = defaultdict(set)
        texts: dict[Field, set[str]] = defaultdict(set)
        read: set[Field] = set()

        def visit(expr):
            if isinstance(expr, (Compare, Present, TextIn)):
                read.add(expr.field)
            if isinstance(expr, TextIn):
                texts[expr.field].update(expr.values)
            if isinstance(expr, InSets):
                for name in expr.sets:
                    if name not in COMPLICATION_SETS:
                        kinds[name].update("dx" if f in DX_FIELDS else "proc" for f in expr.fields)
            elif isinstance(expr, Count):
                kinds[expr.set].update("dx" if f in DX_FIELDS else "proc" for f in expr.fields)
            elif isinstance(expr, Compare):
                bounds[expr.field].add(expr.value)

        for row in defn.rows:
            _walk(row.rule, visit)
        for check in defn.checks:
            _walk(check.rule, visit)

        #: set name -> grouper codes (members that some input code maps to), in set order
        self.set_codes: dict[str, tuple[str, ...]] = {}
        self.set_members: dict[str, frozenset[str]] = {}
        for name in sorted(kinds):
            inverse = self.dx_inverse if "dx" in kinds[name] else self.proc_inverse
            members = tuple(dict.fromkeys(defn.sets.get(name, ())))
            self.set_members[name] = frozenset(members)
            self.set_codes[name] = tuple(c for c in members if c in inverse)
        self.dx_sets = tuple(n for n in sorted(kinds) if "dx" in kinds[n] and self.set_codes[n])
        self.proc_sets = tuple(n for n in sorted(kinds) if "proc" in kinds[n] and self.set_codes[n])
        self.bounds = {f: tuple(sorted(v)) for f, v in bounds.items()}
        self.candidates: dict[Field, tuple[int, ...]] = {}
        for f in Field:
            if f.is_code or f in TEXT_FIELDS or f in DERIVED_FIELDS:
                continue
            values = set(TYPICAL.get(f, ()))
            for b in self.bounds.get(f, ()):
                values.update((b - 1, b, b + 1))
            self.candidates[f] = tuple(sorted(v for v in values if v >= 0))
        self.uses_admission_weight = Field.ADMISSION_WEIGHT in self.bounds
        self.regional_read = tuple(f for f in REGIONAL_FIELDS if f in read)
        self.text_candidates = {f: tuple(sorted(texts.get(f, ()))) + TYPICAL_DEPTS for f in TEXT_FIELDS}

        rows = defn.rows
        self.mdc_rows = _sorted_rows(rows, "mdc", "")
        self.adrg_children = {m.code: _sorted_rows(rows, "adrg", m.code) for m in self.mdc_rows}
        self.drg_children: dict[int, list[RuleRow]] = {}
        self.adrg_parent: dict[int, RuleRow] = {}
        by_shape: dict[str, list[tuple[RuleRow, list[RuleRow]]]] = defaultdict(list)
        for mdc in self.mdc_rows:
            siblings = self.adrg_children[mdc.code]
            for k, adrg in enumerate(siblings):
                self.adrg_parent[id(adrg)] = mdc
                self.drg_children[id(adrg)] = _sorted_rows(rows, "drg", adrg.code)
                by_shape[rule_shape(adrg.rule)].append((adrg, siblings[:k]))
        self.shapes = tuple(sorted(by_shape))
        self.by_shape = {s: tuple(v) for s, v in by_shape.items()}

        def complications(table: dict[str, str]):
            pairs = tuple((code, table[g]) for g in table for code in self.dx_inverse.get(g, ()))
            by_excl: dict[str, list[str]] = defaultdict(list)
            for code, excl in pairs:
                by_excl[excl].append(code)
            return pairs, {k: tuple(v) for k, v in by_excl.items()}

        self.mcc_pairs, self.mcc_by_excl = complications(defn.mcc)
        self.cc_pairs, self.cc_by_excl = complications(defn.cc)
        self.junk_dx = tuple(c for c in JUNK_DX if c not in defn.dx_map)
        self.junk_proc = tuple(c for c in JUNK_PROC if c not in defn.proc_map)

    # ----------------------------------------------------------------- constraint gathering

    def collect(self, plan: _Plan, expr: Expr, positive: bool, ch) -> None:
        """Add constraints under which ``expr`` evaluates to ``positive`` (one branch of each or)."""
        if isinstance(expr, TrueExpr):
            return
        if isinstance(expr, Not):
            self.collect(plan, expr.item, not positive, ch)
        elif isinstance(expr, (And, Or)):
            every = isinstance(expr, And) == positive  # and+ / or-: all items; and- / or+: one item
            for item in expr.items if every else (_pick(ch, expr.items),):
                self.collect(plan, item, positive, ch)
        elif isinstance(expr, InSets):
            complication = tuple(s for s in expr.sets if s in COMPLICATION_SETS)
            ordinary = tuple(s for s in expr.sets if s not in COMPLICATION_SETS)
            if positive:
                if complication and (not ordinary or ch.chance(0.5)):
                    plan.want.append(complication)
                elif ordinary:
                    plan.need.append((expr.fields, _pick(ch, ordinary)))
            else:
                plan.avoid_mcc |= MCC in complication
                plan.avoid_cc |= CC in complication
                if ordinary:
                    plan.avoid.append((expr.fields, ordinary))
        elif isinstance(expr, Compare):
            plan.compares[expr.field].append((expr.op if positive else NEGATED[expr.op], expr.value))
        elif isinstance(expr, Count):
            op = expr.op if positive else NEGATED[expr.op]
            plan.counts.append((expr.set, expr.fields, op, expr.value))
        elif isinstance(expr, Present):
            (plan.present if positive else plan.absent).add(expr.field)
        elif isinstance(expr, TextIn):
            if positive and expr.values:
                plan.texts[expr.field] = _pick(ch, expr.values)
            elif not positive:
                plan.avoid_texts[expr.field].update(expr.values)
        else:
            raise TypeError(expr)

    # ----------------------------------------------------------------- helpers

    def _in_any(self, code: str | None, names) -> bool:
        return code is not None and any(code in self.set_members.get(n, ()) for n in names)

    def _avoided(self, plan: _Plan, f: Field, code: str | None) -> bool:
        return any(f in fields and self._in_any(code, names) for fields, names in plan.avoid)

    def _choose_code(self, ch, required: list[str], plan: _Plan, f: Field) -> str | None:
        """A grouper code in every required set if possible (else in the first), avoiding avoided sets."""
        if not required:
            return None
        first = min(required, key=lambda n: len(self.set_codes[n]))
        codes = [c for c in self.set_codes[first] if all(c in self.set_members[n] for n in required)]
        if not codes:
            codes = list(self.set_codes[required[0]])
        if not codes:
            return None
        if plan.avoid and ch.chance(0.9):  # a few tries at a code outside the avoided sets
            for _ in range(12):
                code = _pick(ch, codes)
                if not self._avoided(plan, f, code):
                    return code
        return _pick(ch, codes)

    def _random_code(self, ch, kind: str, plan: _Plan | None = None, f: Field | None = None) -> str | None:
        names = self.dx_sets if kind == "dx" else self.proc_sets
        if not names:
            return None
        for _ in range(3):
            code = _pick(ch, self.set_codes[_pick(ch, names)])
            if plan is None or not self._avoided(plan, f, code):
                return code
        return code

    def _dx_input(self, ch, code: str) -> str:
        return _pick(ch, self.dx_inverse[code])

    def _proc_input(self, ch, code: str) -> str:
        return _pick(ch, self.proc_inverse[code])

    def _number(self, ch, plan: _Plan, f: Field, default):
        constraints = plan.compares.get(f)
        if constraints:
            ok = [v for v in self.candidates[f] if all(COMPARE[op](v, x) for op, x in constraints)]
            if ok:
                return _pick(ch, ok)
        if f in plan.present and default is None:
            return _pick(ch, self.candidates[f])
        if f in plan.absent and ch.chance(0.9):
            return None
        return default

    # ----------------------------------------------------------------- records

    def _aim(self, ch, plan: _Plan) -> None:
        shape = _pick(ch, self.shapes)
        adrg, earlier = _pick(ch, self.by_shape[shape])
        self.collect(plan, adrg.rule, True, ch)
        self.collect(plan, self.adrg_parent[id(adrg)].rule, True, ch)
        if ch.chance(0.8):
            for sibling in earlier:
                self.collect(plan, sibling.rule, False, ch)
        drgs = self.drg_children[id(adrg)]
        if drgs:
            k = ch.index(len(drgs))
            self.collect(plan, drgs[k].rule, True, ch)
            for before in drgs[:k]:
                self.collect(plan, before.rule, False, ch)

    def draw(self, ch, case_id: str = "c0") -> dict:
        """One record as a dict in the canonical schema."""
        plan = _Plan()
        aimed = bool(self.shapes) and not ch.chance(0.25)
        if aimed:
            self._aim(ch, plan)

        # principal diagnosis
        required = [s for fields, s in plan.need if fields == (ZYZD,)]
        if not required:
            optional = [s for fields, s in plan.need if ZYZD in fields]
            if optional and ch.chance(0.5):
                required = [_pick(ch, optional)]
        principal = self._choose_code(ch, required, plan, ZYZD) or self._random_code(ch, "dx", plan, ZYZD)

        # diagnoses the rules need among the secondary ones
        secondary: list[str] = []  # grouper codes
        for fields, name in plan.need:
            if not fields or not (set(fields) & DX_FIELDS):
                continue
            members = self.set_members[name]
            if (ZYZD in fields and principal in members) or any(c in members for c in secondary):
                continue
            if QTZD in fields and self.set_codes[name]:
                secondary.append(self._choose_code(ch, [name], plan, QTZD))

        # procedures
        principal_proc = self._choose_code(ch, [s for fields, s in plan.need if fields == (ZYSS,)], plan, ZYSS)
        others: list[str] = []
        for fields, name in plan.need:
            if fields == (ZYSS,) or not (set(fields) & PROC_FIELDS) or not self.set_codes[name]:
                continue
            members = self.set_members[name]
            if (ZYSS in fields and principal_proc in members) or (
                QTSS in fields and any(c in members for c in others)
            ):
                continue
            code = self._choose_code(ch, [name], plan, QTSS)
            if ZYSS in fields and principal_proc is None and (QTSS not in fields or ch.chance(0.5)):
                principal_proc = code
            else:
                others.append(code)
        if others and principal_proc is None and any(f == (QTSS,) for f, _ in plan.need):
            principal_proc = self._random_code(ch, "proc", plan, ZYSS)  # keep the QTSS code second

        # length(...) atoms
        for name, fields, op, value in plan.counts:
            target = {">=": value, "=": value, ">": value + 1}.get(op)
            codes = self.set_codes.get(name, ())
            if target is None or not codes:
                continue
            if set(fields) & PROC_FIELDS:
                have = {c for c in ([principal_proc] if ZYSS in fields else []) +
                        (others if QTSS in fields else []) if c in self.set_members[name]}
                for _ in range(8):
                    if len(have) >= target or QTSS not in fields:
                        break
                    code = _pick(ch, codes)
                    if code not in have:
                        if principal_proc is None and ZYSS in fields:
                            principal_proc = code
                        else:
                            others.append(code)
                        have.add(code)
            elif QTZD in fields:
                have = {c for c in [principal, *secondary] if c in self.set_members[name]}
                for _ in range(8):
                    if len(have) >= target:
                        break
                    code = _pick(ch, codes)
                    if code not in have:
                        secondary.append(code)
                        have.add(code)

        # negated sets on procedures (e.g. "no operating-room procedure")
        if principal_proc is not None and self._avoided(plan, ZYSS, principal_proc) and ch.chance(0.9):
            principal_proc = None
        others = [c for c in others if not (self._avoided(plan, QTSS, c) and ch.chance(0.9))]

        proc_fixed = any(set(f) & PROC_FIELDS for f, _ in plan.need) or any(
            set(f) & PROC_FIELDS for _, f, _, _ in plan.counts
        )
        if not aimed or ch.chance(0.3):  # extra procedures drawn from the rules' procedure sets
            for _ in range(1 + ch.index(3)):
                code = self._random_code(ch, "proc", plan, QTSS if proc_fixed else ZYSS)
                if code is None or (self._avoided(plan, QTSS, code) and ch.chance(0.9)):
                    continue
                if principal_proc is None and not proc_fixed and ch.chance(0.5):
                    principal_proc = code
                else:
                    others.append(code)
        procs = ([principal_proc] if principal_proc is not None else []) + others
        if procs and not proc_fixed and ch.chance(0.3):
            procs = _shuffle(ch, procs)
        if procs and ch.chance(0.05):
            procs.append(_pick(ch, procs))  # a procedure given twice
        for op, value in plan.compares.get(Field.PROC_COUNT, ()):  # "at least n procedures" and the like
            while not COMPARE[op](len(procs), value) and len(procs) < value + 1 and self.proc_sets:
                procs.append(self._random_code(ch, "proc"))

        # complications
        pexcl = self.defn.cc_exclusion.get(principal)
        sec_inputs = [self._dx_input(ch, c) for c in secondary]
        for options in plan.want:
            allowed = [s for s in options if not ((s == MCC and plan.avoid_mcc) or (s == CC and plan.avoid_cc))]
            kind = _pick(ch, allowed or list(options))
            code = self._complication(ch, kind, pexcl, counting=True)
            if code is not None:
                sec_inputs.append(code)
        for _ in range(_pick(ch, (0, 0, 0, 1, 1, 2, 3, 5))):
            what = ch.index(7)
            code = None
            if what in (0, 2):  # an MCC / CC that counts
                kind = MCC if what == 0 else CC
                blocked = plan.avoid_mcc if kind == MCC else plan.avoid_cc
                if not (blocked and ch.chance(0.9)):
                    code = self._complication(ch, kind, pexcl, counting=True)
            elif what in (1, 3):  # an MCC / CC removed by the principal's exclusion table
                code = self._complication(ch, MCC if what == 1 else CC, pexcl, counting=False)
            elif what == 4 and sec_inputs:
                code = _pick(ch, sec_inputs)  # duplicate
            elif what == 5:
                code = "PRINCIPAL"
            elif what == 6:
                g = self._random_code(ch, "dx")
                code = None if g is None else self._dx_input(ch, g)
            if code is not None:
                sec_inputs.append(code)

        # numbers
        nums = self._numbers(ch, plan)

        principal_in = self._dx_input(ch, principal) if principal is not None else None
        sec_inputs = [principal_in if c == "PRINCIPAL" else c for c in sec_inputs]
        if len(sec_inputs) > 1 and ch.chance(0.5):
            sec_inputs = _shuffle(ch, sec_inputs)
        record = {
            "case_id": case_id,
            "principal_dx": principal_in,
            "secondary_dx": "|".join(c for c in sec_inputs if c is not None),
            "procedures": "|".join(self._proc_input(ch, c) for c in procs),
            **{NUMERIC_COLUMNS.get(f) or TEXT_COLUMNS[f]: v for f, v in nums.items()},
        }
        if not self.uses_admission_weight and record.get("admission_weight_g") is None:
            record.pop("admission_weight_g", None)
        if ch.chance(0.06):
            self._spoil(ch, record)
        if ch.chance(0.05):
            self._retype(ch, record)
        return record

    def _complication(self, ch, kind: str, pexcl: str | None, *, counting: bool) -> str | None:
        pairs = self.mcc_pairs if kind == MCC else self.cc_pairs
        if counting:
            for _ in range(10):
                if not pairs:
                    return None
                code, excl = _pick(ch, pairs)
                if excl != pexcl:
                    return code
            return None
        same = (self.mcc_by_excl if kind == MCC else self.cc_by_excl).get(pexcl) if pexcl is not None else None
        return _pick(ch, same) if same else None

    def _numbers(self, ch, plan: _Plan) -> dict[Field, int | None]:
        sex = self._number(ch, plan, Field.SEX, 1 if ch.chance(0.5) else 2)
        if ch.chance(0.04):
            sex = _pick(ch, ODD_SEX)
        years = self._number(ch, plan, Field.AGE_YEARS,
                             0 if ch.chance(0.08) else _pick(ch, self.candidates[Field.AGE_YEARS][1:] + (3, 52, 81)))
        newborn = years == 0
        days = self._number(ch, plan, Field.AGE_DAYS,
                            _pick(ch, self.candidates[Field.AGE_DAYS]) if newborn or ch.chance(0.05) else None)
        young = newborn and days is not None and days <= 60
        weight = self._number(ch, plan, Field.BIRTH_WEIGHT,
                              _pick(ch, self.candidates[Field.BIRTH_WEIGHT])
                              if (young and ch.chance(0.9)) or ch.chance(0.05) else None)
        nums = {Field.SEX: sex, Field.AGE_YEARS: years, Field.AGE_DAYS: days, Field.BIRTH_WEIGHT: weight}
        nums[Field.ADMISSION_WEIGHT] = self._number(
            ch, plan, Field.ADMISSION_WEIGHT,
            _pick(ch, self.candidates[Field.ADMISSION_WEIGHT])
            if self.uses_admission_weight and (young or ch.chance(0.05)) else None,
        )
        for f in self.regional_read:
            if f in TEXT_FIELDS:
                nums[f] = self._text(ch, plan, f)
            else:
                default = _pick(ch, self.candidates[f]) if ch.chance(0.9) else None
                nums[f] = self._number(ch, plan, f, default)
        # fill what a failed record check asks for (its Present fields), mostly
        for check in self.defn.checks:
            if _holds(check.rule, nums) or ch.chance(0.05):
                continue
            wanted: list[Field] = []
            _walk(check.rule, lambda e: wanted.append(e.field) if isinstance(e, Present) else None)
            for f in wanted:
                if nums.get(f) is None and f is not Field.SEX:
                    nums[f] = _pick(ch, self.candidates[f])
        return nums

    def _text(self, ch, plan: _Plan, f: Field) -> str | None:
        if f in plan.texts:
            return plan.texts[f]
        if f in plan.absent or ch.chance(0.05):
            return None
        options = [v for v in self.text_candidates[f] if v not in plan.avoid_texts.get(f, ())]
        return _pick(ch, options or list(self.text_candidates[f]))

    def _spoil(self, ch, record: dict) -> None:
        """Rarely: an unmappable or empty code, or a missing required number."""
        what = ch.index(8)
        if what == 0:
            record["principal_dx"] = _pick(ch, ("", None))
        elif what == 1 and self.junk_dx:
            record["principal_dx"] = _pick(ch, self.junk_dx)
        elif what == 2 and self.junk_dx:
            record["secondary_dx"] = "|".join(filter(None, [record["secondary_dx"], _pick(ch, self.junk_dx)]))
        elif what == 3 and self.junk_proc:
            record["procedures"] = "|".join(filter(None, [_pick(ch, self.junk_proc), record["procedures"]]))
        elif what == 4 and record["secondary_dx"]:
            record["secondary_dx"] += "||" + record["principal_dx"] if record["principal_dx"] else "|"
        elif what == 5 and record["procedures"]:
            record["procedures"] = "|" + record["procedures"]
        elif what == 6:
            record[_pick(ch, ("age_years", "age_days", "birth_weight_g"))] = None
        else:
            record.pop(_pick(ch, ("secondary_dx", "procedures", "age_days", "birth_weight_g")), None)

    def _retype(self, ch, record: dict) -> None:
        """Rarely: numbers as text, floats, or words (sex 男/女), as real exports give them."""
        column = _pick(ch, ("sex", "age_years", "age_days", "birth_weight_g"))
        value = record.get(column)
        if value is None:
            return
        if column == "sex" and value in (1, 2) and ch.chance(0.5):
            record[column] = "男" if value == 1 else "女"
            return
        record[column] = _pick(ch, (str(value), float(value), f" {value} ", "abc", "", "3.5"))


def _holds(expr: Expr, nums: dict) -> bool:
    """Evaluate a record check on numbers; code atoms count as true (checks here read numbers only)."""
    if isinstance(expr, TrueExpr):
        return True
    if isinstance(expr, Compare):
        value = nums.get(expr.field)
        return value is not None and COMPARE[expr.op](value, expr.value)
    if isinstance(expr, Present):
        return nums.get(expr.field) is not None
    if isinstance(expr, And):
        return all(_holds(i, nums) for i in expr.items)
    if isinstance(expr, Or):
        return any(_holds(i, nums) for i in expr.items)
    if isinstance(expr, Not):
        return not _holds(expr.item, nums)
    return True


# --------------------------------------------------------------------------- public API

_MODELS: dict[int, RecordModel] = {}


def model_for(defn: SchemeDefinition) -> RecordModel:
    """The (cached) :class:`RecordModel` of ``defn``."""
    key = id(defn)
    if key not in _MODELS or _MODELS[key].defn is not defn:
        _MODELS[key] = RecordModel(defn)
    return _MODELS[key]


def draw_record(defn: SchemeDefinition | RecordModel, chooser, case_id: str = "c0") -> dict:
    """One record built with ``chooser`` (a :class:`RandomChooser` or :class:`DrawChooser`)."""
    model = defn if isinstance(defn, RecordModel) else model_for(defn)
    return model.draw(chooser, case_id)


def random_records(defn: SchemeDefinition | RecordModel, n: int, seed: int = 0) -> list[dict]:
    """``n`` records from a seeded :class:`random.Random`: deterministic, for statistics."""
    ch = RandomChooser(random.Random(seed))
    return [draw_record(defn, ch, f"r{i}") for i in range(n)]


def records(defn: SchemeDefinition | RecordModel) -> st.SearchStrategy[dict]:
    """Hypothesis strategy of single records (``case_id`` ``"c0"``); shrinks choice by choice."""
    model = defn if isinstance(defn, RecordModel) else model_for(defn)

    @st.composite
    def _record(draw):
        return model.draw(DrawChooser(draw))

    return _record()


def _numbered(batch: list[dict]) -> list[dict]:
    return [{**r, "case_id": f"c{i}"} for i, r in enumerate(batch)]


def record_batches(
    defn: SchemeDefinition | RecordModel, *, min_size: int = 1, max_size: int = 30
) -> st.SearchStrategy[list[dict]]:
    """Lists of :func:`records` with distinct ``case_id`` values ``c0, c1, ...``.

    Every choice is a Hypothesis choice, so keep ``max_size`` modest (a record
    takes a few dozen choices); use :func:`seeded_batches` for large batches.
    """
    return st.lists(records(defn), min_size=min_size, max_size=max_size).map(_numbered)


def seeded_batches(
    defn: SchemeDefinition | RecordModel, *, min_size: int = 1, max_size: int = 200
) -> st.SearchStrategy[list[dict]]:
    """Large batches at one Hypothesis choice per record: each record is built from its own seed.

    Shrinking removes records and lowers seeds, so a failure ends as one
    record whose seed reproduces it (``random_records``-style, see :func:`record_from_seed`).
    """
    model = defn if isinstance(defn, RecordModel) else model_for(defn)
    seeds = st.lists(st.integers(0, 2**32 - 1), min_size=min_size, max_size=max_size)
    return seeds.map(lambda ss: [record_from_seed(model, s, f"c{i}") for i, s in enumerate(ss)])


def record_from_seed(defn: SchemeDefinition | RecordModel, seed: int, case_id: str = "c0") -> dict:
    """The record :func:`seeded_batches` builds from ``seed``."""
    return draw_record(defn, RandomChooser(random.Random(seed)), case_id)


__all__ = [
    "DrawChooser", "RandomChooser", "RecordModel", "draw_record", "model_for",
    "random_records", "record_batches", "record_from_seed", "records", "rule_shape", "seeded_batches",
]
