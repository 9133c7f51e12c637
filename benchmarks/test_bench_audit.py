"""pytest-benchmark cases of the coding validation (病案首页质控); targets in the issue notes, never asserted."""

from __future__ import annotations

import pytest

from audit.record_rules import record_findings
from audit.rulebook import RuleBook
from benchmarks.workload import TABLES_11, golden_table, have_golden, tiled
from icd_tables.pack import Pack
from icd_tables.sample import sample_records

ROWS = 200_000


@pytest.fixture(scope="module")
def audit_workload():
    if have_golden():
        pack = Pack.load(TABLES_11)
        table = tiled(golden_table(), ROWS)
    else:  # the bundled example pack, so the benchmarks run anywhere
        pack = Pack.load("example-mini")
        table = sample_records(pack.compiled, ROWS)
    book = RuleBook.load()
    return pack, book, table, record_findings(table, pack, book)


def test_record_rules(benchmark, audit_workload):
    pack, book, table, expected = audit_workload
    findings = benchmark(record_findings, table, pack, book)
    assert findings.equals(expected)
