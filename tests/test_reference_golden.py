"""The plain-Python reference grouper (tests/reference_chs1x.py) against ../shared.

It must reproduce every expected column of the golden records, the README's
worked examples, and refuse tables that differ from the checksums in rules.json.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from reference_chs1x import ReferenceGrouper, TableChecksumError

from reference_data import VERSIONS_1X

EXPECTED = ["expected_mdc", "expected_adrg", "expected_drg", "expected_status", "expected_status_zh"]
RESULT = ["mdc", "adrg", "drg", "status", "status_zh"]
INPUTS = ["case_id", "sex", "age_years", "age_days", "birth_weight_g", "principal_dx", "secondary_dx", "procedures"]


@pytest.fixture(scope="module")
def reference_11(tables_dir: Path) -> ReferenceGrouper:
    return ReferenceGrouper(tables_dir / "chs-drg-1.1")


# --------------------------------------------------------------------------- #
# Golden records
# --------------------------------------------------------------------------- #


@pytest.mark.golden
@pytest.mark.parametrize("version", VERSIONS_1X)
def test_reference_reproduces_golden(version: str, tables_dir: Path, golden_dir: Path) -> None:
    golden = pd.read_parquet(golden_dir / f"{version}.parquet")
    reference = ReferenceGrouper(tables_dir / version)

    results = pd.DataFrame([reference.group(record) for record in golden.to_dict("records")])

    got = results[RESULT].to_numpy()
    want = golden[EXPECTED].to_numpy()
    agree = got == want
    bad = ~agree.all(axis=1)
    if bad.any():
        report = golden.loc[bad, INPUTS + EXPECTED].copy()
        for column in [*RESULT, "adrg_rule", "reason_detail"]:
            report[column] = results.loc[bad, column].to_numpy()
        per_column = ", ".join(f"{c} {agree[:, i].mean():.3%}" for i, c in enumerate(EXPECTED))
        pytest.fail(
            f"{version}: {int(bad.sum())} of {len(golden)} records disagree ({per_column}); first 20:\n"
            + report.head(20).to_string(),
            pytrace=False,
        )


# --------------------------------------------------------------------------- #
# README section 4: worked examples (1.1). Sex 1, age 60 unless stated.
# --------------------------------------------------------------------------- #

WORKED_EXAMPLES = [
    # id, principal, secondary, procedures, overrides, expected drg, expected adrg, mcc_dx, cc_dx
    pytest.param("J18.900", "J96.000", "", {}, "ES31", "ES3", "J96.000", "", id="ES31-mcc-not-excluded"),
    pytest.param("J18.900", "J09.x00", "", {}, "ES35", "ES3", "", "", id="ES35-mcc-excluded-no-cc-fallback"),
    pytest.param("J18.900", "J09.x00|E87.600", "", {}, "ES33", "ES3", "", "E87.600", id="ES33-excluded-mcc-plus-cc"),
    pytest.param("I21.900", "I50.900", "", {}, "FR19", "FR1", None, None, id="FR19-medical"),
    pytest.param("I21.900", "I50.900", "36.0700", {}, "FM19", "FM1", None, None, id="FM19-stent-first"),
    pytest.param("N40.x00", "", "", {}, "MZ19", "MZ1", "", "", id="MZ19-male"),
    pytest.param("N40.x00", "", "", {"sex": 2}, "0000", "", "", "", id="0000-male-mdc-female-patient"),
    pytest.param("S06.000", "S27.000", "", {}, "ZZ15", "ZZ1", "", None, id="ZZ15-two-trauma-sites"),
    pytest.param("S06.000", "S06.100", "", {}, "BY15", "BY1", None, None, id="BY15-one-trauma-site"),
    pytest.param(
        "P07.300", "", "", {"age_years": 0, "age_days": 3, "birth_weight_g": 1800}, "PS25", "PS2", "", "",
        id="PS25-newborn-1800g",
    ),
]


@pytest.mark.parametrize(
    ("principal", "secondary", "procedures", "overrides", "drg", "adrg", "mcc_dx", "cc_dx"), WORKED_EXAMPLES
)
def test_readme_worked_example(
    reference_11: ReferenceGrouper,
    principal: str,
    secondary: str,
    procedures: str,
    overrides: dict,
    drg: str,
    adrg: str,
    mcc_dx: str | None,
    cc_dx: str | None,
) -> None:
    record = {
        "sex": 1,
        "age_years": 60,
        "age_days": None,
        "birth_weight_g": None,
        "principal_dx": principal,
        "secondary_dx": secondary,
        "procedures": procedures,
        **overrides,
    }
    result = reference_11.group(record)
    assert result["drg"] == drg
    assert result["adrg"] == adrg
    if drg == "0000":
        assert (result["status"], result["status_zh"], result["mdc"]) == ("ungroupable", "无法入组", "")
    else:
        assert (result["status"], result["status_zh"], result["mdc"]) == ("ok", "分组成功", drg[0])
    if mcc_dx is not None:
        assert result["mcc_dx"] == mcc_dx
    if cc_dx is not None:
        assert result["cc_dx"] == cc_dx


# --------------------------------------------------------------------------- #
# Invalid records: messages, order of checks, reason_detail, loose value types
# --------------------------------------------------------------------------- #

BASE = {
    "sex": 1,
    "age_years": 60,
    "age_days": None,
    "birth_weight_g": None,
    "principal_dx": "J18.900",
    "secondary_dx": "",
    "procedures": "",
}


@pytest.mark.parametrize(
    ("changes", "status_zh", "detail"),
    [
        ({"secondary_dx": "J96.000|NOPE.1"}, "诊断不能转换为分组器支持的编码", "NOPE.1"),
        ({"principal_dx": None}, "诊断不能转换为分组器支持的编码", ""),
        ({"principal_dx": float("nan")}, "诊断不能转换为分组器支持的编码", ""),
        ({"procedures": "36.0700|NOPE.2"}, "手术操作不能转换为分组器支持的编码", "NOPE.2"),
        # diagnoses are checked before procedures, mapping before record checks
        ({"secondary_dx": "NOPE.1", "procedures": "NOPE.2", "sex": 9}, "诊断不能转换为分组器支持的编码", "NOPE.1"),
        ({"procedures": "NOPE.2", "sex": 9}, "手术操作不能转换为分组器支持的编码", "NOPE.2"),
        ({"sex": 0}, "信息校验不通过", "sex"),
        ({"sex": "3"}, "信息校验不通过", "sex"),
        ({"sex": pd.NA}, "信息校验不通过", "sex"),
        ({"age_years": None}, "信息校验不通过", "age_years"),
        ({"age_years": 0}, "信息校验不通过", "age_days"),
        ({"age_years": 0, "age_days": 28}, "信息校验不通过", "birth_weight_g"),
    ],
)
def test_invalid_records(reference_11: ReferenceGrouper, changes: dict, status_zh: str, detail: str) -> None:
    result = reference_11.group({**BASE, **changes})
    assert result == {
        "mdc": "",
        "adrg": "",
        "drg": "0000",
        "status": "invalid",
        "status_zh": status_zh,
        "adrg_rule": "",
        "mcc_dx": "",
        "cc_dx": "",
        "reason_detail": detail,
    }


@pytest.mark.parametrize("sex", [1, 1.0, "1", " 1", "1.0"])
def test_sex_read_as_int(reference_11: ReferenceGrouper, sex) -> None:
    assert reference_11.group({**BASE, "sex": sex, "principal_dx": "N40.x00"})["drg"] == "MZ19"


def test_newborn_older_than_28_days_needs_no_weight(reference_11: ReferenceGrouper) -> None:
    result = reference_11.group({**BASE, "age_years": 0, "age_days": 29, "birth_weight_g": pd.NA})
    assert result["status"] != "invalid"


def test_complications_name_input_code(reference_11: ReferenceGrouper) -> None:
    """mcc_dx / cc_dx give the code as written, for any status after the record checks."""
    exclusion = reference_11.cc_exclusion["J18.900"]
    rewritten = next(
        code
        for code, grouper_code in reference_11.dx_map.items()
        if code != grouper_code and reference_11.mcc.get(grouper_code, exclusion) != exclusion
    )
    result = reference_11.group({**BASE, "secondary_dx": f"E87.600|{rewritten}"})
    assert (result["drg"], result["mcc_dx"], result["cc_dx"]) == ("ES31", rewritten, "E87.600")
    ungroupable = reference_11.group({**BASE, "sex": 2, "principal_dx": "N40.x00", "secondary_dx": "J96.000"})
    assert (ungroupable["status"], ungroupable["mcc_dx"]) == ("ungroupable", "J96.000")


# --------------------------------------------------------------------------- #
# Table checksums
# --------------------------------------------------------------------------- #


def test_changed_table_is_detected(tables_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "chs-drg-1.1"
    shutil.copytree(tables_dir / "chs-drg-1.1", copy)
    ReferenceGrouper(copy)  # the unchanged copy loads

    table = copy / "DATA" / "MCC.dat"
    data = bytearray(table.read_bytes())
    middle = len(data) // 2
    data[middle] = ord("7") if data[middle] != ord("7") else ord("8")
    table.write_bytes(bytes(data))

    with pytest.raises(TableChecksumError, match="MCC.dat"):
        ReferenceGrouper(copy)
