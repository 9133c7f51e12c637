"""Golden agreement: the IR (plain-Python evaluator) and the kernels reproduce every expected column.

Every ``<name>.parquet`` of ../shared/golden with a table folder of that name is tested: the two
national packs and every regional pack (tables README, section 7), found on disk.
"""

from __future__ import annotations

import pandas as pd
import pytest
from naive_pipeline import naive_group

from reference_data import VERSIONS_1X, golden_schemes
from grouper import Grouper
from icd_tables.chs1x import load_chs1x

EXPECTED = ["expected_mdc", "expected_adrg", "expected_drg", "expected_status", "expected_status_zh"]
RESULT = ["mdc", "adrg", "drg", "status", "status_zh"]

pytestmark = pytest.mark.golden


@pytest.fixture(scope="module", params=golden_schemes() or list(VERSIONS_1X))
def version_data(request, tables_dir, golden_dir):
    version = request.param
    golden = pd.read_parquet(golden_dir / f"{version}.parquet")
    return version, tables_dir / version, golden


def _disagreements(golden: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    got = results[RESULT].astype(str).to_numpy()
    want = golden[EXPECTED].astype(str).to_numpy()
    bad = (got != want).any(axis=1)
    report = golden.loc[bad, ["case_id", "principal_dx", "secondary_dx", "procedures", *EXPECTED]].copy()
    for column in RESULT:
        report[column] = results.loc[bad, column].to_numpy()
    return report


def test_kernels_reproduce_golden(version_data):
    version, folder, golden = version_data
    results = Grouper(folder).group(golden)
    assert len(results) == len(golden)
    assert (results["case_id"].to_numpy() == golden["case_id"].to_numpy()).all()
    bad = _disagreements(golden, results)
    assert bad.empty, f"{version}: {len(bad)} of {len(golden)} records disagree:\n{bad.head(20).to_string()}"


def test_ir_evaluator_reproduces_golden(version_data):
    """The 1.x → IR compilation is right before any kernel is involved."""
    version, folder, golden = version_data
    defn = load_chs1x(folder)
    rows = [naive_group(defn, rec) for rec in golden.to_dict("records")]
    results = pd.DataFrame(rows)
    bad = _disagreements(golden, results)
    assert bad.empty, f"{version}: {len(bad)} of {len(golden)} records disagree:\n{bad.head(20).to_string()}"


def test_kernels_agree_with_ir_on_complications(version_data):
    """mcc_dx / cc_dx name the same input code as the plain-Python twin, whatever the split."""
    _, folder, golden = version_data
    sample = golden.sample(min(3000, len(golden)), random_state=7)
    results = Grouper(folder).group(sample)
    defn = load_chs1x(folder)
    naive = pd.DataFrame([naive_group(defn, rec) for rec in sample.to_dict("records")])
    for column in ("mcc_dx", "cc_dx"):
        assert (results[column].to_numpy() == naive[column].to_numpy()).all(), column
    assert (results["mcc_dx"] != "").sum() > 50 and (results["cc_dx"] != "").sum() > 50
