"""The in-memory form of a grouping scheme, whatever file format it came from.

Every importer (national 1.x ``rules.json`` tables, this project's own
``drgpack/1`` folders) produces a :class:`SchemeDefinition`; the compiler
(:mod:`icd_tables.compiler`) turns it into integer arrays for the kernels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from icd_tables.rules.ir import Expr, RuleRow


@dataclass(frozen=True)
class RecordCheck:
    """A condition every record must meet before it is grouped (信息校验).

    A record that fails any check is ``invalid`` with the scheme's
    record-check message; ``name`` says which check failed.
    """

    name: str
    rule: Expr
    message_zh: str
    message_en: str


@dataclass
class SchemeDefinition:
    """Everything needed to group: code maps, CC/MCC tables, code sets, rules.

    Attributes
    ----------
    dx_map, proc_map : dict
        Input code as it may appear on a record → the grouper's code.  Mapping
        is one step; a code that is not a key cannot be grouped.
    dx_names, proc_names : dict
        Grouper code → Chinese name.
    drg_names, mdc_names : dict
        DRG code / MDC letter → Chinese name.
    mcc, cc : dict
        Diagnosis code → exclusion-table id (严重并发症或合并症 / 并发症或合并症).
    cc_exclusion : dict
        Principal diagnosis code → its exclusion-table id (排除表).
    sets : dict
        Named code sets the rules refer to (``DI_…`` diagnoses, ``OP_…``
        procedures); ``MCC`` and ``CC`` are reserved and never listed here.
    rows : list of RuleRow
        The MDC / ADRG / DRG decision table, in file order.
    checks : list of RecordCheck
        Record checks, in order.
    ungroupable_drg : str
        DRG code of records no MDC takes (``0000``).
    regroup : str or None
        ``"each_secondary_proc_alone"``: an ungroupable record with several
        procedures is grouped again with each secondary procedure alone as
        its only procedure, in order, the first grouped result winning
        (zhejiang-2022); ``None``: no regrouping.
    """

    dx_map: dict[str, str]
    proc_map: dict[str, str]
    dx_names: dict[str, str]
    proc_names: dict[str, str]
    drg_names: dict[str, str]
    mdc_names: dict[str, str]
    mcc: dict[str, str]
    cc: dict[str, str]
    cc_exclusion: dict[str, str]
    sets: dict[str, tuple[str, ...]]
    rows: list[RuleRow]
    checks: list[RecordCheck] = field(default_factory=list)
    ungroupable_drg: str = "0000"
    regroup: str | None = None


#: The one regrouping a scheme may ask for (see :attr:`SchemeDefinition.regroup`).
REGROUP_EACH_SECONDARY_PROC = "each_secondary_proc_alone"
