"""Rule intermediate representation (IR) shared by every scheme version.

A grouping scheme is a three-level decision table (MDC → ADRG → DRG).  Every
row of that table carries one boolean expression built from the nodes below.
The CHS-DRG 2.0/3.0 expression language parses straight into these nodes
(:mod:`icd_tables.rules.parser`), and the typed rule kinds of the CHS-DRG 1.x
``rules.json`` are compiled into them (:mod:`icd_tables.chs1x`), so one
compiler and one set of kernels serve every version.

Semantics (the contract every evaluator follows)
------------------------------------------------
* ``InSets(fields, sets)`` holds when *some value* of *some field* in
  ``fields`` is a member of *some set* in ``sets``.  A field with no value
  (no procedure, no secondary diagnosis) contributes nothing, so the atom is
  false; ``X not in S`` is written ``Not(InSets(...))`` and is therefore true
  when no value is present.
* The reserved set names ``MCC`` and ``CC`` may only be used with
  ``QTZD`` (secondary diagnoses): they mean "some secondary diagnosis counts
  as an MCC (a CC) after the principal diagnosis's exclusion table".
* ``Compare(field, op, value)`` on a numeric field is false when the value is
  missing, whatever ``op`` is.
* ``Count(set, fields, op, value)``: the number of *distinct* codes among the
  values of ``fields`` that are members of ``set`` (``length(SET ∩ {...})``),
  compared with ``value``.
* ``Present(field)`` holds when the numeric (or text) field has a value.
* ``TextIn(field, values)`` holds when the text field has a value equal, as
  an exact string, to one of ``values`` (``dept``: the discharging department).
* The derived fields ``ZDSL``/``SSSL`` are the number of diagnoses (principal
  included) and of procedures; they are always present.
* ``And``/``Or``/``Not``/``TRUE`` are ordinary two-valued logic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Union


class Field(str, Enum):
    """Record fields a rule can read, named by the official rule tokens."""

    PRINCIPAL_DX = "ZYZD"  # 主要诊断
    SECONDARY_DX = "QTZD"  # 其他诊断 (any of them)
    PRINCIPAL_PROC = "ZYSS"  # 主要手术操作
    OTHER_PROCS = "QTSS"  # 其他手术操作 (any of them)
    AGE_YEARS = "NL"  # 年龄 (岁)
    SEX = "XB"  # 性别
    AGE_DAYS = "XSRTL"  # 新生儿天龄 (年龄不足1周岁的天数)
    ADMISSION_WEIGHT = "XSRTZ"  # 新生儿入院体重 (g)
    BIRTH_WEIGHT = "CSTZ"  # 新生儿出生体重 (g); extension used by the 1.x tables
    LOS_DAYS = "ZYTS"  # 住院天数; regional packs (chs-drg-rules/2)
    ICU_HOURS = "ICUSC"  # 重症监护时长 (小时); missing counts as 0
    DISCHARGE_METHOD = "LYFS"  # 离院方式
    DEPT = "KS"  # 出院科室, compared as an exact string
    DX_COUNT = "ZDSL"  # 诊断数 (principal + secondary), derived
    PROC_COUNT = "SSSL"  # 手术操作数, derived

    @property
    def is_code(self) -> bool:
        return self in CODE_FIELDS

    @property
    def is_diagnosis(self) -> bool:
        return self in (Field.PRINCIPAL_DX, Field.SECONDARY_DX)


CODE_FIELDS = frozenset(
    {Field.PRINCIPAL_DX, Field.SECONDARY_DX, Field.PRINCIPAL_PROC, Field.OTHER_PROCS}
)
TEXT_FIELDS = frozenset({Field.DEPT})
#: Fields the kernel derives from the code lists instead of reading a column.
DERIVED_FIELDS = frozenset({Field.DX_COUNT, Field.PROC_COUNT})
NUMERIC_FIELDS = frozenset(Field) - CODE_FIELDS - TEXT_FIELDS

#: Reserved set names evaluated after the CC/MCC exclusion table.
MCC = "MCC"
CC = "CC"
COMPLICATION_SETS = frozenset({MCC, CC})

#: Comparison operators, in the spelling the rule language uses.
OPERATORS = ("=", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class InSets:
    """Some value of some field in ``fields`` is in some set of ``sets``."""

    fields: tuple[Field, ...]
    sets: tuple[str, ...]


@dataclass(frozen=True)
class Compare:
    """``field op value`` on a numeric field; false when the value is missing."""

    field: Field
    op: str
    value: int


@dataclass(frozen=True)
class Count:
    """``length(set ∩ {fields}) op value``: distinct codes of ``fields`` in ``set``."""

    set: str
    fields: tuple[Field, ...]
    op: str
    value: int


@dataclass(frozen=True)
class Present:
    """The numeric ``field`` has a value."""

    field: Field


@dataclass(frozen=True)
class TextIn:
    """The text ``field`` has a value equal to one of ``values`` (exact strings)."""

    field: Field
    values: tuple[str, ...]


@dataclass(frozen=True)
class And:
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class Not:
    item: "Expr"


@dataclass(frozen=True)
class TrueExpr:
    """The empty rule: always holds (fallback rows, unconditional DRGs)."""


TRUE = TrueExpr()
#: The rule that never holds (an empty ``or``).
FALSE = Or(())

Expr = Union[InSets, Compare, Count, Present, TextIn, And, Or, Not, TrueExpr]


class Outcome(str, Enum):
    """What choosing an ADRG-level row means for the record."""

    OK = "ok"  # an ordinary ADRG: go on to its DRGs
    QY = "qy"  # ambiguity group (歧义): the record is flagged, DRG = the row's DRG
    UNGROUPABLE = "ungroupable"  # an MDC's fallback row (e.g. 3.0 ``B00`` → ``B000``)


@dataclass(frozen=True)
class RuleRow:
    """One row of a scheme's decision table.

    Parameters
    ----------
    level : {"mdc", "adrg", "drg"}
    code : str
        Row id: the MDC letter, the ADRG rule id (equal to the ADRG code except
        where one ADRG has several rules, e.g. 1.0 ``AH1_1``), or the DRG code.
    parent : str
        ``""`` for MDC rows, the MDC letter for ADRG rows, the ADRG rule id for
        DRG rows.
    sort : int
        Evaluation order among siblings; ties keep file order.
    rule : Expr
    name_zh : str
        Chinese name, display only.
    result : str
        For ADRG rows, the ADRG code the row leads to (defaults to ``code``).
    outcome : Outcome
        For ADRG rows only.
    """

    level: str
    code: str
    parent: str
    sort: int
    rule: Expr
    name_zh: str = ""
    result: str = ""
    outcome: Outcome = Outcome.OK

    @property
    def target(self) -> str:
        return self.result or self.code
