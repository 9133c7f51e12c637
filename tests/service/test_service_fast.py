"""The one-record fast path gives exactly the batch path's result, or declines (None)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from icd_tables.intake.headers import plan_columns
from api.grouping import BatchGrouper
from api.service.fast import OneRecordGrouper
from grouper import Grouper
from grouper.encode import to_arrow
from icd_tables.sample import sample_records
from service_helpers import records_json

GROUPER = Grouper()
FAST = OneRecordGrouper(GROUPER)
POOL = records_json(sample_records(GROUPER.pack.compiled, 400, seed=11, fault_rate=0.2))


def batch_result(record: dict) -> dict:
    table = to_arrow([record])
    return BatchGrouper(GROUPER, plan_columns(table.column_names))(table, 1).to_pylist()[0]


@pytest.mark.parametrize("start", range(0, 400, 100))
def test_fast_equals_batch_on_generated_records(start):
    answered = 0
    for record in POOL[start:start + 100]:
        fast = FAST.group(record)
        if fast is not None:
            answered += 1
            assert fast == batch_result(record), record
    assert answered > 50    # the fast path answers most clean records


@settings(max_examples=150, deadline=None)
@given(base=st.sampled_from(POOL), sex=st.sampled_from([1, 2, 3, None, "男", "1"]),
       age=st.one_of(st.integers(-5, 130), st.sampled_from(["65岁", "abc", None])),
       extra=st.lists(st.sampled_from(["J96.000", "E87.600", "K35.800", "", "XX", "j96.000"]), max_size=3),
       dept=st.sampled_from(["呼吸内科", "ICU", "", " ICU", 12, None]))
def test_fast_equals_batch_on_edge_values(base, sex, age, extra, dept):
    record = dict(base, sex=sex, age_years=age, secondary_dx="|".join(extra), dept=dept)
    record = {k: v for k, v in record.items() if v is not None}
    fast = FAST.group(record)
    if fast is not None:
        assert fast == batch_result(record)
    elif "age_years" in record and "sex" in record:
        assert batch_result(record)["case_id"] == record["case_id"]


def test_fast_declines_what_it_cannot_answer_exactly():
    clean = {"case_id": "A", "sex": 1, "age_years": 40, "principal_dx": "J18.900"}
    assert FAST.group(clean) is not None
    assert FAST.group({**clean, "sex": "男"}) is None           # text values go the batch way (warnings, 男/女)
    assert FAST.group({**clean, "dept": 12}) is None            # a number as a department: written as text there
    assert FAST.group({**clean, "case_id": " "}) is None        # blank case id: the batch path warns
    assert FAST.group({**clean, "principal_dx": "R75"}) is None  # invalid: the batch path reformats codes
    assert FAST.group({**clean, "secondary_dx": ["J96.000"]}) is None
    assert FAST.group({k: v for k, v in clean.items() if k != "age_years"}) is None   # required field absent
