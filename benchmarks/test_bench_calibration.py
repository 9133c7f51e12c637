"""pytest-benchmark cases for calibration and indices (targets in issue 7, never asserted).

Each case also checks its output against a known result, so a fast wrong path cannot pass.
"""

from __future__ import annotations

import numpy as np
import pytest

from calibration import RelativeWeightCalibrator
from calibration.indices import performance_indices
from calibration.synthetic import synthetic_history

ROWS = 1_000_000


@pytest.fixture(scope="module")
def history():
    return synthetic_history(ROWS, n_drgs=600, seed=7)


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "year-weights+inflation"])
def test_calibrate(benchmark, history, weighted):
    table, truth = history
    options = {"year_weights": [2, 3, 5], "inflation": {2022: 100, 2023: 102, 2024: 105}} if weighted else {}
    model = benchmark(lambda: RelativeWeightCalibrator("iqr", min_cases=1, **options).fit(table))
    error = np.abs(model.group_stats_["rw"].astype(float).to_numpy() / truth["rw"].to_numpy() - 1)
    assert (error <= 5 * 0.533 / np.sqrt(model.group_stats_["n_used"].to_numpy()) + 0.005).all()


def test_indices(benchmark, history):
    table, _ = history
    weights = RelativeWeightCalibrator().fit(table).to_weight_table("bench")
    result = benchmark(performance_indices, table, weights)
    region = result.table.slice(0, 1).to_pylist()[0]
    assert region["n_cases"] == ROWS and region["cost_index"] == 1.0
