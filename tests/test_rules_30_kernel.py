"""The kernels run the whole official CHS-DRG 3.0 rule language exactly like the plain-Python twin.

The 3.0 rules come without code sets, so each set gets random members from a
small universe of placeholder codes (overlapping, so that records enter MDCs,
ADRGs and splits); records are drawn from the same universe.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive_pipeline import naive_group

from grouper import Grouper
from icd_tables.chs1x import RECORD_CHECKS
from icd_tables.compiler import compile_definition
from icd_tables.definition import SchemeDefinition
from icd_tables.manifest import Manifest
from icd_tables.pack import Pack
from icd_tables.rules import COMPLICATION_SETS, Count, InSets, read_rule_table
from icd_tables.rules.ir import And, Not, Or

pytestmark = pytest.mark.golden

DX = [f"D{i:03d}" for i in range(120)]
PROC = [f"P{i:03d}" for i in range(80)]
FIELDS = ["principal_dx", "secondary_dx", "procedures", "sex", "age_years", "age_days", "admission_weight_g"]


def _uses(expr, out):
    if isinstance(expr, InSets):
        for name in expr.sets:
            if name not in COMPLICATION_SETS:
                out[name] = "dx" if expr.fields[0].is_diagnosis else "proc"
    elif isinstance(expr, Count):
        out[expr.set] = "dx" if expr.fields[0].is_diagnosis else "proc"
    elif isinstance(expr, (And, Or)):
        for item in expr.items:
            _uses(item, out)
    elif isinstance(expr, Not):
        _uses(expr.item, out)


@pytest.fixture(scope="module")
def scheme(tables_dir):
    rows = read_rule_table(tables_dir / "chs-drg-3.0-rules" / "rules.tsv")
    kinds: dict[str, str] = {}
    for row in rows:
        _uses(row.rule, kinds)
    rng = random.Random(30)
    sets = {name: tuple(rng.sample(DX if kind == "dx" else PROC, 12)) for name, kind in sorted(kinds.items())}
    mdc_of = {r.code: r.parent for r in rows if r.level == "adrg"}
    for row in rows:  # an ADRG's diagnoses also enter its MDC, so MDC entry and ADRG rules meet
        if row.level == "adrg":
            row_sets: dict[str, str] = {}
            _uses(row.rule, row_sets)
            entry = f"DI_{mdc_of[row.code]}00"
            if entry in sets:
                extra = [c for n, k in row_sets.items() if k == "dx" for c in sets[n][:3]]
                sets[entry] = tuple(dict.fromkeys(sets[entry] + tuple(extra)))
    defn = SchemeDefinition(
        dx_map={c: c for c in DX}, proc_map={c: c for c in PROC},
        dx_names={}, proc_names={}, drg_names={}, mdc_names={},
        mcc={c: str(i % 4) for i, c in enumerate(DX[:20])},
        cc={c: str(i % 4) for i, c in enumerate(DX[20:50])},
        cc_exclusion={c: str(i % 5) for i, c in enumerate(DX)},
        sets=sets, rows=rows, checks=list(RECORD_CHECKS[:2]),
    )
    manifest = Manifest("drgpack/1", "placeholder-3.0", "CHS-DRG", "3.0", "test", "test")
    return defn, Grouper(Pack(Path("."), manifest, compile_definition(defn)))


codes = st.lists(st.sampled_from(DX), max_size=5).map("|".join)
records = st.fixed_dictionaries({
    "case_id": st.just("c"),
    "principal_dx": st.sampled_from(DX),
    "secondary_dx": codes,
    "procedures": st.lists(st.sampled_from(PROC), max_size=4).map("|".join),
    "sex": st.sampled_from([1, 2]),
    "age_years": st.one_of(st.integers(0, 100), st.sampled_from([0, 6, 7, 69, 70])),
    "age_days": st.one_of(st.none(), st.integers(0, 400), st.sampled_from([28, 29, 365, 366])),
    "admission_weight_g": st.one_of(
        st.none(), st.integers(300, 5000), st.sampled_from([999, 1000, 1499, 1500, 1999, 2000, 2499, 2500])
    ),
})


@settings(max_examples=60, deadline=None)
@given(st.lists(records, min_size=1, max_size=80))
def test_kernel_matches_naive_on_the_30_language(scheme, batch):
    defn, grouper = scheme
    results = grouper.group(batch)
    assert len(results) == len(batch)
    for record, (_, got) in zip(batch, results.iterrows()):
        want = naive_group(defn, record)
        assert {k: got[k] for k in want} == want, record


def test_placeholder_records_reach_every_outcome(scheme):
    defn, grouper = scheme
    rng = random.Random(1)
    batch = [
        {"case_id": str(i), "principal_dx": rng.choice(DX), "secondary_dx": "|".join(rng.sample(DX, rng.randint(0, 4))),
         "procedures": "|".join(rng.sample(PROC, rng.randint(0, 3))), "sex": rng.choice([1, 2]),
         "age_years": rng.choice([0, 30, 75]), "age_days": rng.choice([None, 10, 100]),
         "admission_weight_g": rng.choice([None, 900, 1800, 3000])}
        for i in range(3000)
    ]
    results = grouper.group(batch)
    assert set(results["status"]) >= {"ok", "qy", "ungroupable"}
    assert results["drg"].nunique() > 100
