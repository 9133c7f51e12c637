"""Findings per hospital and department (audit.summary), on hand-made findings."""

from __future__ import annotations

import pandas as pd
import pytest

from audit.findings import empty_findings
from audit.summary import SUMMARY_COLUMNS_ZH, TOTAL, summarize

RECORDS = pd.DataFrame({
    "case_id": ["a", "b", "c", "d", "e"],
    "hospital_id": ["H1", "H1", "H1", "H2", None],
    "dept": ["内科", "内科", "外科", "内科", "外科"],
})


def findings(*rows) -> pd.DataFrame:
    """(row_no, rule_id, severity) triples as findings."""
    return pd.DataFrame([{"case_id": "", "row_no": r, "rule_id": rule, "severity": sev, "field": "", "value": "",
                          "message_zh": "", "message_en": "", "suggestion": ""} for r, rule, sev in rows])


def test_counts_per_hospital_and_department():
    found = findings((1, "DX_DUPLICATE", "error"), (1, "DX_MAPPED", "info"), (2, "DX_MAPPED", "info"),
                     (2, "DX_MAPPED", "info"), (4, "PDX_SEQUELA", "warning"))
    out = summarize(found, RECORDS)
    assert list(out.columns) == list(SUMMARY_COLUMNS_ZH)
    rows = out.set_index(["hospital_id", "dept"])
    # H1 内科: records a, b; 4 findings on both → 4 × 100 / 2 = 200 per 100 records
    h1 = rows.loc[("H1", "内科")]
    assert (h1["records"], h1["records_flagged"], h1["findings"], h1["per_100"]) == (2, 2, 4, 200.0)
    assert (h1["fatal"], h1["error"], h1["warning"], h1["info"]) == (0, 1, 0, 3)
    assert h1["top_rules"] == "DX_MAPPED 3; DX_DUPLICATE 1"
    # H1 外科 (record c) has no finding; the record without a hospital groups under ""
    assert rows.loc[("H1", "外科")][["records", "findings", "per_100", "top_rules"]].tolist() == [1, 0, 0.0, ""]
    assert rows.loc[("", "外科"), "records"] == 1
    # total: 5 findings over 5 records = 100 per 100
    total = rows.loc[(TOTAL, "")]
    assert (total["records"], total["records_flagged"], total["findings"], total["per_100"]) == (5, 3, 5, 100.0)
    assert out["hospital_id"].tolist() == ["", "H1", "H1", "H2", TOTAL]


def test_top_rules_ties_by_id_and_limit():
    found = findings((1, "B_RULE", "info"), (1, "A_RULE", "info"), (1, "C_RULE", "info"), (2, "C_RULE", "info"))
    out = summarize(found, RECORDS, top=2, total=False)
    assert out.set_index(["hospital_id", "dept"]).loc[("H1", "内科"), "top_rules"] == "C_RULE 2; A_RULE 1"
    assert TOTAL not in out["hospital_id"].tolist()


def test_no_findings_and_no_group_columns():
    out = summarize(empty_findings(), [{"case_id": "x"}, {"case_id": "y"}])
    assert out[["hospital_id", "dept", "records", "findings", "per_100"]].values.tolist() == [
        ["", "", 2, 0, 0.0], [TOTAL, "", 2, 0, 0.0]]


def test_row_numbers_from_a_later_batch():
    out = summarize(findings((11, "DX_MAPPED", "info")), RECORDS, first_row_no=10, total=False)
    assert out.set_index(["hospital_id", "dept"]).loc[("H1", "内科"), "findings"] == 1  # row 11 = record b


def test_finding_outside_the_records_is_an_error():
    with pytest.raises(ValueError, match="row_no 9 is not a row of the 5 records"):
        summarize(findings((9, "DX_MAPPED", "info")), RECORDS)
