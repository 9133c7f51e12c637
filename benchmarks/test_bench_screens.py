"""pytest-benchmark case for the audit screens (target in issue 10: 10,000,000 cases ≤ 30 s; never asserted).

The case also checks that every planted violation is flagged, so a fast wrong path cannot pass.
"""

from __future__ import annotations

import pytest

from audit.screens import Screener
from audit.screens.synthetic import synthetic_month

ROWS = 1_000_000


@pytest.fixture(scope="module")
def month():
    return synthetic_month(ROWS, seed=9)


def test_screen_month(benchmark, month):
    cases, _, weights, planted = month
    screener = Screener(weights=weights)
    result = benchmark.pedantic(lambda: screener.screen(cases), rounds=3, iterations=1)
    found = set(zip(result.flags.column("rule_id").to_pylist(), result.flags.column("row_no").to_pylist()))
    assert all((p.rule_id, p.row_no) in found for p in planted[planted.row_no > 0].itertuples())
