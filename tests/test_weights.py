"""Weight tables: import of published tables, exact round trip, lookup and the no-weight report."""

from __future__ import annotations

import csv
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from reference_data import SHARED, write_csv
from weights import (
    RW_UNITS, WeightMeta, WeightTable, WeightTableError, attach_weights, lookup_units, parse_rates,
    read_published, weight_report,
)

HARBIN = ("harbin-2022", "harbin-2023", "harbin-2024")



def _published(path):
    with open(path, encoding="utf-8", newline="") as f:
        return {row["drg"]: row["rw"] for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def golden_results():
    from grouper import Grouper

    golden = SHARED / "golden" / "chs-drg-1.1.parquet"
    if not golden.exists():
        pytest.skip(f"reference data not found: {golden}")
    return Grouper(SHARED / "drg-tables" / "chs-drg-1.1").group(pd.read_parquet(golden))


@pytest.mark.golden
@pytest.mark.parametrize("name", HARBIN)
def test_harbin_import_round_trip_is_exact(name, tmp_path):
    source = SHARED / "weights" / f"{name}.csv"
    if not source.exists():
        pytest.skip(f"reference data not found: {source}")
    table = read_published(source, WeightMeta(name, "哈尔滨", int(name[-4:]), base_rates=parse_rates("310=12252.70")))
    again = WeightTable.read(table.write(tmp_path / f"{name}.parquet"))
    published = _published(source)
    assert again.drgs == list(published)
    assert again.rw() == {drg: Decimal(text) for drg, text in published.items()}
    assert again.meta == table.meta
    assert again.meta.base_rate("310") == Decimal("12252.70") and again.meta.base_rate("390") is None
    assert len(again.meta.source_sha256) == 64


@pytest.mark.golden
@pytest.mark.parametrize("name", HARBIN)
def test_report_names_exactly_the_drgs_without_weight(name, golden_results):
    source = SHARED / "weights" / f"{name}.csv"
    table = read_published(source, WeightMeta(name))
    report = weight_report(golden_results, table)
    grouped = golden_results[golden_results["status"] == "ok"]
    expected = set(grouped["drg"]) - set(_published(source))
    assert set(report.missing["drg"]) == expected
    assert report.missing["n_cases"].sum() == grouped["drg"].isin(expected).sum()
    assert report.n_weighted + report.missing["n_cases"].sum() == len(grouped)
    assert set(report.unused) == set(_published(source)) - set(grouped["drg"])
    if name == "harbin-2024":
        assert len(expected) == 198  # as the weights README says


@pytest.mark.golden
def test_lookup_never_gives_zero_for_a_missing_weight(golden_results):
    table = read_published(SHARED / "weights" / "harbin-2024.csv", WeightMeta("h"))
    units = lookup_units(golden_results["drg"].astype(str), table)
    published = _published(SHARED / "weights" / "harbin-2024.csv")
    for drg, unit in zip(golden_results["drg"].astype(str)[:2000], units[:2000]):
        assert unit == (int(Decimal(published[drg]) * RW_UNITS) if drg in published else -1)
    assert (units != 0).all()
    attached = attach_weights(golden_results.head(500), table)
    assert attached.loc[attached["status"] != "ok", "rw"].isna().all()


def test_lookup_of_one_case_and_of_missing_drgs():
    table = WeightTable(WeightMeta("t"), pd.DataFrame({"drg": ["FM19", "ES35"],
                                                      "rw": [Decimal("2.1345"), Decimal("0.8")]}))
    assert lookup_units(["ES35"], table).tolist() == [800_000]
    assert lookup_units(np.array(["FM19", None, "XX99", "FM19"], dtype=object), table).tolist() == \
        [2_134_500, -1, -1, 2_134_500]
    assert lookup_units([], table).dtype == np.int64


def test_chinese_headers_and_gb18030(tmp_path):
    path = write_csv(tmp_path / "w.csv", ["病组编码", "病组名称", "相对权重", "例均费用"],
                      [["FM19", "经皮冠状动脉支架植入", "2.1345", "35,210.50"], ["ES35", "肺炎", "0.8", ""]],
                      encoding="gb18030")
    table = read_published(path, WeightMeta("t"))
    assert table.rw() == {"FM19": Decimal("2.1345"), "ES35": Decimal("0.8")}
    assert table.frame["mean_cost"].tolist() == [Decimal("35210.50"), None]
    assert table.frame["drg_name"].tolist() == ["经皮冠状动脉支架植入", "肺炎"]


def test_xlsx_import(tmp_path):
    pytest.importorskip("openpyxl")
    path = tmp_path / "w.xlsx"
    pd.DataFrame({"DRG编码": ["FM19", "ES35"], "权重": ["2.1345", "0.8000"]}).to_excel(path, index=False)
    assert read_published(path, WeightMeta("t")).rw() == {"FM19": Decimal("2.1345"), "ES35": Decimal("0.8")}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["FM19", "1.2"], ["FM19", "1.3"]], "row 2: DRG FM19 listed twice (first at row 1)"),
        ([["FM19", "1.2"], ["ES35", "abc"]], "row 2: DRG ES35: rw 'abc' is not a number"),
        ([["FM19", "-0.5"]], "row 1: DRG FM19: rw -0.5 is negative"),
        ([["FM19", "0"]], "row 1: DRG FM19 has RW Decimal('0'); a relative weight must be a positive number"),
        ([["FM19", ""]], "row 1: DRG FM19 has RW None; a relative weight must be a positive number"),
        ([["", "1.0"]], "row 1: empty DRG code"),
        ([["FM19", "1.1234567"]], "row 1: DRG FM19: rw 1.1234567 has more than 6 decimals"),
    ],
)
def test_malformed_tables_name_the_row(tmp_path, rows, message):
    path = write_csv(tmp_path / "w.csv", ["drg", "rw"], rows)
    with pytest.raises(WeightTableError) as error:
        read_published(path, WeightMeta("t"))
    assert str(error.value) == message
    assert not list(tmp_path.glob("*.parquet"))


def test_missing_columns_are_named(tmp_path):
    path = write_csv(tmp_path / "w.csv", ["code", "weight_x"], [["FM19", "1.2"]])
    with pytest.raises(WeightTableError, match="no column for drg, rw; headers found: code, weight_x"):
        read_published(path, WeightMeta("t"))


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    table = WeightTable(WeightMeta("t"), pd.DataFrame({"drg": ["FM19"], "rw": [Decimal("1.5")]}, dtype=object))
    target = tmp_path / "w.parquet"

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("weights.table.pq.write_table", broken)
    with pytest.raises(OSError):
        table.write(target)
    assert list(tmp_path.iterdir()) == []


def test_parse_rates():
    assert parse_rates("310=12252.70, 390=9649.24") == {"310": "12252.70", "390": "9649.24"}
    with pytest.raises(WeightTableError, match="expected INSURANCE_TYPE=AMOUNT"):
        parse_rates("310:12252")
    with pytest.raises(WeightTableError):
        parse_rates("310=-5")


def test_cli_import_and_show(tmp_path, capsys):
    from api.cli import main

    source = write_csv(tmp_path / "w.csv", ["DRG编码", "权重"], [["FM19", "2.1345"], ["ES35", "0.8"]])
    target = tmp_path / "w.parquet"
    code = main(["weights", "import", str(source), "-o", str(target), "--name", "t-2024", "--year", "2024",
                 "--region", "哈尔滨", "--rates", "310=12252.70,390=9649.24"])
    assert code == 0
    table = WeightTable.read(target)
    assert table.meta.year == 2024 and table.meta.base_rates == {"310": "12252.70", "390": "9649.24"}
    assert main(["weights", "show", str(target)]) == 0
    shown = capsys.readouterr().out
    assert "t-2024" in shown and "12252.70" in shown and "FM19" in shown


def test_cli_import_of_a_malformed_table_writes_nothing(tmp_path, capsys):
    from api.cli import main

    source = write_csv(tmp_path / "w.csv", ["drg", "rw"], [["FM19", "1.2"], ["FM19", "1.3"]])
    assert main(["weights", "import", str(source), "-o", str(tmp_path / "w.parquet")]) == 3
    assert "row 2: DRG FM19 listed twice" in capsys.readouterr().err
    assert not (tmp_path / "w.parquet").exists()
