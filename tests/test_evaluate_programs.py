"""``Grouper.evaluate`` (the kernel behind fatal record-check findings and MDC traces) against the plain-Python twin.

For every record of a batch, the truth of each record check and of each MDC
entry rule must equal :func:`naive.eval_expr` on the definition's IR.  Unlike
grouping, records with unmapped codes are evaluated too: such a code belongs
to no set and is neither MCC nor CC.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from naive import NaiveRecord, eval_expr
from naive_pipeline import _codes, _number
from strategies import seeded_batches
from test_kernel_properties import EXAMPLE, PACKS, PROPERTY, load_scheme

UNMAPPED = "\x00unmapped"  # a code in no set, whatever the raw text was


def naive_truths(defn, record: dict) -> tuple[list[bool], list[bool]]:
    principal = record.get("principal_dx")
    dx = [defn.dx_map.get(c, UNMAPPED) for c in ["" if principal is None else str(principal)]
          + _codes(record.get("secondary_dx"))]
    procs = [defn.proc_map.get(c, UNMAPPED) for c in _codes(record.get("procedures"))]
    exclusion = defn.cc_exclusion.get(dx[0])
    rec = NaiveRecord(
        principal_dx=dx[0], secondary_dx=dx[1:], procedures=procs,
        age_years=_number(record.get("age_years")), sex=_number(record.get("sex"), sex=True),
        age_days=_number(record.get("age_days")), admission_weight_g=_number(record.get("admission_weight_g")),
        birth_weight_g=_number(record.get("birth_weight_g")),
        has_mcc=any(s in defn.mcc and defn.mcc[s] != exclusion for s in dx[1:]),
        has_cc=any(s in defn.cc and defn.cc[s] != exclusion for s in dx[1:]),
    )
    mdcs = sorted((r for r in defn.rows if r.level == "mdc"), key=lambda r: r.sort)
    return ([eval_expr(c.rule, rec, defn.sets) for c in defn.checks],
            [eval_expr(m.rule, rec, defn.sets) for m in mdcs])


@pytest.mark.parametrize("name", PACKS)
def test_evaluate_matches_naive(name):
    scheme = load_scheme(name)

    @PROPERTY
    @given(batch=seeded_batches(scheme.model, max_size=60))
    def check(batch):
        grouper, cp = scheme.grouper, scheme.grouper.pack.compiled
        trace = grouper.trace(batch)
        checks = grouper.evaluate(trace.encoded.batch, cp.check_entry)
        mdcs = grouper.evaluate(trace.encoded.batch, cp.mdc_entry)
        for i, record in enumerate(batch):
            want_checks, want_mdcs = naive_truths(scheme.defn, record)
            assert checks[i].tolist() == want_checks, (i, record)
            assert mdcs[i].tolist() == want_mdcs, (i, record)

    check()


def test_evaluate_empty_inputs():
    grouper = load_scheme(EXAMPLE).grouper
    trace = grouper.trace([])
    assert grouper.evaluate(trace.encoded.batch, grouper.pack.compiled.mdc_entry).shape == (0, 6)
    one = grouper.trace([{"case_id": "a", "sex": 1, "age_years": 3, "principal_dx": "J18.900"}])
    assert grouper.evaluate(one.encoded.batch, np.zeros(0, np.int32)).shape == (1, 0)
