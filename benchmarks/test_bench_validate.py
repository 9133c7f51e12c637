"""pytest-benchmark case for ``audit.Validator`` (findings, explanation, what-if); output checked, never timed in tests."""

from __future__ import annotations

import pytest

from audit.validate import Validator
from benchmarks.workload import TABLES_11, golden_table, have_golden, tiled
from grouper import Grouper
from icd_tables.sample import sample_records

ROWS = 100_000


@pytest.fixture(scope="module")
def workload():
    if have_golden():
        validator, table = Validator(TABLES_11), tiled(golden_table(), ROWS)
    else:
        validator = Validator()
        table = sample_records(validator.pack.compiled, ROWS)
    return validator, table, Grouper(validator.pack).group_arrow(table).column("drg").to_pylist()


def test_validate(benchmark, workload):
    validator, table, drgs = workload
    result = benchmark(validator.validate, table)
    assert result.results.column("drg").to_pylist() == drgs
    assert result.explanations.num_rows == ROWS
