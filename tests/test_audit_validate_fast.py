"""Validation of one record is the batch's validation of that record, and what the checks remember between
batches (the class of each code under a rule's ranges or pattern, each date text read) never changes a finding."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from foundation import remembered
from foundation.text_values import _parse_distinct_dates, parse_dates
from audit.code_sets import _in_ranges, in_ranges, matches
from audit.record_rules import ASTERISK_PATTERN
from audit.trace_rules import TraceView
from audit.validate import Validator
from audit.whatif import what_if
from icd_tables.sample import sample_records
from reference_data import GOLDEN, TABLES, require_shared

#: Records written the way the rules look for: every record rule fires on at least one of them.
MESSY = [
    {"case_id": "m1", "sex": 1, "age_years": 30, "principal_dx": "O80.000", "secondary_dx": "N40.x00|n40.x00",
     "procedures": "69.0100", "admit_date": "2024-05-01", "discharge_date": "2024-04-30", "los_days": 3,
     "total_cost": 0, "discharge_method": 9},
    {"case_id": "m2", "sex": 2, "age_years": 0, "age_days": None, "principal_dx": " t90.500 ",
     "secondary_dx": "J18.900|J18.900|J18.900", "procedures": "60.2900|60.2900", "admit_date": "2024-13-01",
     "discharge_date": "2024-05-10", "birth_weight_g": 90000, "los_days": "abc"},
    {"case_id": "m3", "sex": "女", "age_years": 150, "principal_dx": "G01*", "secondary_dx": "R75|V01.000",
     "procedures": "", "admit_date": "2024-05-01", "discharge_date": "2024-05-20", "los_days": 2,
     "total_cost": "12,345.60元"},
    {"case_id": "m4", "sex": 1, "age_years": 0, "age_days": 400, "principal_dx": "M81400/3",
     "secondary_dx": "P07.100", "admission_weight_g": 100, "los_days": 0},
    {"case_id": "m5", "sex": 3, "age_years": 45, "principal_dx": "", "secondary_dx": "J18.900",
     "procedures": "XYZ.6|38.9300"},
]


def _per_record(table: pa.Table, row_no: int) -> list[dict]:
    return table.filter(pc.equal(table.column("row_no"), row_no)).to_pylist() if "row_no" in table.column_names \
        else []


def _one_by_one_is_the_batch(validator: Validator, records: list[dict]) -> None:
    remembered.forget()  # the batch classifies every code afresh; the single records then find them remembered
    batch = validator.validate(records)
    for i, record in enumerate(records):
        alone = validator.validate([record], first_row_no=i + 1)
        assert alone.findings.to_pylist() == _per_record(batch.findings, i + 1), record
        assert alone.explanations.to_pylist() == batch.explanations.slice(i, 1).to_pylist(), record
        assert alone.results.to_pylist() == batch.results.slice(i, 1).to_pylist(), record
        mine = batch.alternatives.filter(pc.equal(batch.alternatives.column("row_no"), i + 1)) \
            if batch.alternatives.num_rows else batch.alternatives
        assert alone.alternatives.to_pylist() == mine.to_pylist(), record


def test_messy_records_one_by_one_as_in_a_batch():
    validator = Validator()
    generated = sample_records(validator.pack.compiled, 150, seed=11, fault_rate=0.5)
    records = MESSY + [{k: v for k, v in r.items() if v is not None and v == v} for r in generated.to_dict("records")]
    found = validator.validate(records).findings
    # the hand-written records reach the rules they were written for (not a list of every rule: the bundled
    # book decides which apply to the example pack)
    assert {"DX_DUPLICATE", "PROC_DUPLICATE", "DISCHARGE_BEFORE_ADMISSION", "COST_INVALID", "AGE_RANGE",
            "DATE_INVALID", "LOS_INVALID", "FATAL_PDX_MISSING"} <= set(found.column("rule_id").to_pylist())
    _one_by_one_is_the_batch(validator, records)


def test_golden_records_one_by_one_as_in_a_batch():
    table = pq.read_table(require_shared(GOLDEN / "chs-drg-1.1.parquet")).slice(0, 120)
    records = table.select([c for c in table.column_names if not c.startswith("expected_")]).to_pylist()
    _one_by_one_is_the_batch(Validator(require_shared(TABLES / "chs-drg-1.1")), records)


def test_remembered_classes_are_the_arrow_classes():
    validator = Validator()
    rules = validator.rules
    texts = [rules.rule("PDX_SEQUELA").params["codes"], rules.rule("SEX_DX_CONFLICT").params["male_codes"]]
    codes = pa.array(["T90.500", "T9", "", "B94.800", "N40.X00", "XYZ.6", "E64.000", "T90.500", "60.2900"])
    for text in texts:
        remembered.forget()
        cold = in_ranges(codes, text)
        warm = in_ranges(codes.take(pa.array([8, 7, 6, 5, 4, 3, 2, 1, 0])), text)[::-1]
        assert cold.tolist() == warm.tolist() == _in_ranges(codes, text).tolist()
    # T90-T98 holds T90.500 (its first 3 characters T90 are within T90..T98); "T9" is shorter than the bound
    assert in_ranges(pa.array(["T90.500", "T9", "T99.000"]), "T90-T98").tolist() == [True, False, False]


_CODE = st.text(alphabet="ABEGNTVXZ0123456789.*+†x", max_size=9)


@settings(max_examples=80, deadline=None)
@given(first=st.lists(_CODE, max_size=12), second=st.lists(_CODE, max_size=12),
       text=st.sampled_from(["T90-T98, B90-B94, E64", "V01-Y98", "60-64", "N40-N51, C60-C63", "O00-O99"]),
       limit=st.sampled_from([2, 5, 200_000]))
def test_ranges_and_patterns_remembered_or_not_equal_arrow(first, second, text, limit):
    remembered.forget()
    old = remembered.LIMIT
    remembered.LIMIT = limit  # a small limit: later codes are classified without being remembered
    try:
        for codes in (first, second, first + second):
            array = pa.array(codes, pa.string())
            assert in_ranges(array, text).tolist() == _in_ranges(array, text).tolist()
            assert matches(array, ASTERISK_PATTERN).tolist() == \
                pc.match_substring_regex(array, ASTERISK_PATTERN).to_numpy(zero_copy_only=False).tolist()
    finally:
        remembered.LIMIT = old


_DATE = st.one_of(st.sampled_from(["2024-05-01", "2024/5/1", "2024年5月1日", "20240501", "2024-02-30", "2023-02-29",
                                   "2024-02-29", "45362", "", " 2024-05-01 ", "abc", "2024-13-01"]),
                  st.text(alphabet="0123456789-/年月日 ", max_size=11))


@settings(max_examples=80, deadline=None)
@given(first=st.lists(_DATE, max_size=10), second=st.lists(_DATE, max_size=10), serials=st.booleans(),
       limit=st.sampled_from([1, 4, 200_000]))
def test_dates_remembered_or_not_equal_arrow(first, second, serials, limit):
    remembered.forget()
    old = remembered.LIMIT
    remembered.LIMIT = limit
    try:
        for texts in (first, second, second + first):
            values, unreadable = parse_dates(pa.array(texts, pa.string()), serials)
            distinct = list(dict.fromkeys(t.strip() for t in texts))
            days, valid = _parse_distinct_dates(pa.array(distinct, pa.string()), serials) if distinct else ([], [])
            expected = {t: d if v else None for t, d, v in zip(distinct, list(days), list(valid))}
            got = values.cast(pa.int32()).to_pylist()
            assert got == [expected[t.strip()] for t in texts]
            bad = [t.strip() if t.strip() and expected[t.strip()] is None else None for t in texts]
            assert (unreadable.to_pylist() if unreadable is not None else [None] * len(texts)) == bad
    finally:
        remembered.LIMIT = old


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_alternatives_regrouped_alone_as_all_together(data):
    """Without a weight table the alternatives read are regrouped alone: as they are among all of them."""
    validator = Validator()
    records = sample_records(validator.pack.compiled, 60, seed=5, fault_rate=0.3)
    trace = validator.grouper.trace(records)
    fresh, whole = (what_if(TraceView.of(trace), validator.grouper, validator.facts, None) for _ in range(2))
    pick = np.asarray(data.draw(st.lists(st.integers(0, len(whole.parent) - 1), max_size=25)), dtype=np.int64)
    alone = fresh.outputs_at(pick)
    rows = fresh.rows(pick)
    together = whole.outputs  # every alternative, grouped at once
    for field in ("status", "mdc", "adrg_row", "drg"):
        assert getattr(alone, field).tolist() == getattr(together, field)[pick].tolist()
    assert rows.to_pylist() == whole.table.take(pa.array(pick, pa.int64())).to_pylist()
