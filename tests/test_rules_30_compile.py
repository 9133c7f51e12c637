"""Every official CHS-DRG 3.0 rule compiles, against placeholder code sets, and runs in the kernel."""

from __future__ import annotations

import numpy as np
import pytest

from grouper._kernels import KernelTables
from icd_tables.compiler import compile_definition
from icd_tables.definition import SchemeDefinition
from icd_tables.rules import COMPLICATION_SETS, Count, InSets, read_rule_table
from icd_tables.rules.ir import And, Not, Or

pytestmark = pytest.mark.golden


def _set_names(expr):
    if isinstance(expr, InSets):
        yield from (s for s in expr.sets if s not in COMPLICATION_SETS)
    elif isinstance(expr, Count):
        yield expr.set
    elif isinstance(expr, (And, Or)):
        for item in expr.items:
            yield from _set_names(item)
    elif isinstance(expr, Not):
        yield from _set_names(expr.item)


def test_all_official_rows_compile(tables_dir):
    rows = read_rule_table(tables_dir / "chs-drg-3.0-rules" / "rules.tsv")
    names = sorted({n for r in rows for n in _set_names(r.rule)})
    sets = {n: (f"{n}#1", f"{n}#2") for n in names}
    defn = SchemeDefinition(
        dx_map={}, proc_map={}, dx_names={}, proc_names={}, drg_names={}, mdc_names={},
        mcc={}, cc={}, cc_exclusion={}, sets=sets, rows=rows,
    )
    compiled = compile_definition(defn)
    assert len(rows) == 1433
    assert len(compiled.mdc_entry) == 26
    assert len(compiled.adrg_entry) == 537
    assert len(compiled.drg_entry) == 870
    assert len(names) >= 600
    # every row's program lands on a real instruction or on ACCEPT
    entries = np.concatenate([compiled.mdc_entry, compiled.adrg_entry, compiled.drg_entry])
    assert entries.min() >= -1 and entries.max() < len(compiled.ins)
    tables = KernelTables.from_pack(compiled)
    assert len(tables.count_sets) == 1  # IC2's length(...) rule
    assert tables.prog.shape[0] == len(compiled.ins)
