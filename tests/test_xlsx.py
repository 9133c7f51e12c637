"""Excel for people (issue 20): Chinese headers, named sheets, frozen header, filter, widths, money formats,
the round trip through the intake, and tables longer than a sheet (--xlsx-split)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import openpyxl
import pyarrow as pa
import pytest

from api.cli import main
from foundation import files, xlsx
from foundation.files import OutputError, ResultWriter, open_input, read_text_table, write_table

TABLE = pa.table({
    "case_id": ["A1", "=HYPERLINK(\"x\")", "控制\x01字符"],
    "row_no": pa.array([1, 2, 3], pa.int64()),
    "fund_payment": pa.array([Decimal("1234.50"), None, Decimal("-3.05")], pa.decimal128(18, 2)),
    "rw": pa.array([Decimal("1.234567"), Decimal("0.000000"), None], pa.decimal128(18, 6)),
    "discharge_date": pa.array([dt.date(2024, 3, 5), None, dt.date(2024, 12, 31)]),
    "severity": pa.array(["fatal", "info", "fatal"]).dictionary_encode(),
})
LABELS = {"case_id": "病案号", "row_no": "行号", "fund_payment": "基金支付", "severity": "严重程度"}


def test_a_workbook_for_people(tmp_path):
    path = write_table(TABLE, tmp_path / "t.xlsx", sheet="问题清单 findings", labels=LABELS)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["问题清单 findings", "_fields"]
    sheet = book["问题清单 findings"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["病案号", "行号", "基金支付", "rw", "discharge_date", "严重程度"]  # a field without a label keeps its name
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:F4"
    assert sheet["A1"].font.b
    assert sheet["C2"].number_format == "#,##0.00" and sheet["C2"].value == 1234.5
    assert sheet["D2"].number_format == "0.000000"
    assert sheet["A3"].data_type == "s" and rows[2][0] == "=HYPERLINK(\"x\")"  # text, never a formula
    assert rows[3][0] == "控制字符"                                    # a character XML cannot hold is dropped
    assert 6 <= sheet.column_dimensions["A"].width <= 60
    assert book["_fields"].sheet_state == "hidden"


def test_reads_back_to_the_same_table(tmp_path):
    path = write_table(TABLE, tmp_path / "t.xlsx", labels=LABELS)
    source = open_input(path)
    assert source.names == TABLE.column_names
    back = read_text_table(path).to_pylist()
    assert [r["case_id"] for r in back] == ["A1", "=HYPERLINK(\"x\")", "控制字符"]
    assert [r["row_no"] for r in back] == ["1", "2", "3"]
    assert [None if not r["fund_payment"] else Decimal(r["fund_payment"]) for r in back] == [
        Decimal("1234.50"), None, Decimal("-3.05")]
    assert [None if not r["rw"] else Decimal(r["rw"]) for r in back] == [Decimal("1.234567"), Decimal("0"), None]
    assert [r["discharge_date"] or None for r in back] == ["2024-03-05", None, "2024-12-31"]
    assert [r["severity"] for r in back] == ["fatal", "info", "fatal"]


def test_longer_than_a_sheet_is_refused_unless_split(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "XLSX_MAX_ROWS", 3)   # a sheet of 3 rows holds 2 records
    monkeypatch.setattr(xlsx, "SHEET_ROWS", 2)
    writer = ResultWriter(tmp_path / "t.xlsx")
    with pytest.raises(OutputError, match="at most 2 records.*--xlsx-split"):
        writer.write(TABLE)
    writer.abort()
    assert not list(tmp_path.iterdir())
    seen = []
    write_table(TABLE, tmp_path / "t.xlsx", sheet="分组结果 results", labels=LABELS, split=True,
                progress=lambda done, total: seen.append((done, total)))
    book = openpyxl.load_workbook(tmp_path / "t.xlsx")
    assert book.sheetnames == ["分组结果 results 1", "分组结果 results 2", "_fields"]
    assert [len(list(book[s].iter_rows())) for s in book.sheetnames[:2]] == [3, 2]  # header + rows
    assert seen and seen[-1] == (3, 3)
    assert [r["case_id"] for r in read_text_table(tmp_path / "t.xlsx").to_pylist()] == [
        "A1", "=HYPERLINK(\"x\")", "控制字符"]


def test_group_xlsx_split_on_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(files, "XLSX_MAX_ROWS", 3)
    monkeypatch.setattr(xlsx, "SHEET_ROWS", 2)
    rows = [{"case_id": f"C{i}", "sex": 1, "age_years": 60, "principal_dx": "J18.900"} for i in range(5)]
    pa.Table.from_pylist(rows).to_pandas().to_csv(tmp_path / "r.csv", index=False)
    assert main(["group", str(tmp_path / "r.csv"), "-o", str(tmp_path / "out.xlsx")]) == 2
    assert "give --xlsx-split to spread them over sheets" in capsys.readouterr().err
    assert main(["group", str(tmp_path / "r.csv"), "-o", str(tmp_path / "out.xlsx"), "--xlsx-split"]) == 0
    book = openpyxl.load_workbook(tmp_path / "out.xlsx", read_only=True)
    assert book.sheetnames == ["分组结果 results 1", "分组结果 results 2", "分组结果 results 3", "_fields"]
    assert read_text_table(tmp_path / "out.xlsx").column("case_id").to_pylist() == [f"C{i}" for i in range(5)]


def test_sheets_cleaned_as_one_table(tmp_path):
    """Department sheets are slices of one table, checked for characters to clean once over all of them: a
    character in one slice is cleaned there and the others are written as they are."""
    table = pa.table({"说明": ["a\r\nb", "c\x0bd", "e\tf", "g\nh", "\ufffei"], "n": pa.array([1, 2, 3, 4, 5])})
    sheets = [("one", table.slice(0, 2)), ("two", table.slice(2, 2)), ("three", table.slice(4, 1)),
              ("plain", pa.table({"说明": ["x\ty"]}))]
    book = openpyxl.load_workbook(xlsx.write_sheets(sheets, tmp_path / "s.xlsx"))
    assert {s: [[c.value for c in row] for row in book[s].iter_rows(min_row=2)] for s in book.sheetnames} == {
        "one": [["a\nb", 1], ["cd", 2]], "two": [["e\tf", 3], ["g\nh", 4]], "three": [["i", 5]], "plain": [["x\ty"]]}
