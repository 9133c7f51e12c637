"""One intake: a messy hospital export means the same thing to every command that reads it.

The export is made from golden 1.1 records with what real exports do: GBK text, Chinese headers,
dates in every common form, amounts with thousands separators and ``¥``, codes with stray spaces,
lower case, full-width characters and ``，`` between them.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.cli import main
from api.cases import read_cases
from foundation.text_values import parse_amounts, parse_dates
from icd_tables.intake.reader import open_records
from reference_data import GOLDEN, TABLES, require_shared
from payment_helpers import weights

N = 240
MONTH = "2022-04"
DATE_FORMS = ("{y}-{m:02d}-{d:02d}", "{y}/{m:02d}/{d:02d}", "{y}/{m}/{d}", "{y}.{m:02d}.{d:02d}",
              "{y}{m:02d}{d:02d}", "{y}年{m}月{d}日", "{y}-{m:02d}-{d:02d} 08:30:00", "{y}/{m}/{d} 8:30")
AMOUNT_FORMS = ("{:,.2f}", "￥{:,.2f}", "￥{:.2f}", "{:.2f}元", "{:.2f}")
HEADERS = ["病案号", "医疗机构编码", "性别", "年龄", "年龄不足1周岁的天数", "新生儿出生体重（克）", "实际住院天数", "离院方式", "主要诊断编码", "其他诊断编码",
           "手术操作编码", "总费用", "个人支付", "入院日期", "出院日期", "险种类型", "科室"]
FULL_WIDTH = str.maketrans("0123456789.ABCDEFGHIJKLMNOPQRSTUVWXYZ", "０１２３４５６７８９．ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ")


def _date(text: str, k: int) -> str:
    day = dt.date.fromisoformat(text)
    return DATE_FORMS[k % len(DATE_FORMS)].format(y=day.year, m=day.month, d=day.day)


def _cell(value) -> str:
    return "" if pd.isna(value) else str(int(value))


def _messy_codes(row, k: int) -> tuple[str, str]:
    principal, secondary = row.principal_dx, row.secondary_dx or ""
    if k % 4 == 1:
        principal = f" {principal.upper()} "
    elif k % 4 == 2:
        principal = principal.translate(FULL_WIDTH)
    elif k % 4 == 3 and secondary:
        secondary = "，".join(secondary.split("|"))
    return principal, secondary


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    require_shared(GOLDEN)
    golden = pq.read_table(GOLDEN / "chs-drg-1.1.parquet").to_pandas()
    in_month = golden[golden.discharge_date.str.startswith(MONTH)]
    frame = pd.concat([in_month, golden[~golden.discharge_date.str.startswith(MONTH)]]).head(N).reset_index(drop=True)
    folder = tmp_path_factory.mktemp("messy")
    with open(folder / "病案首页导出.csv", "w", encoding="gbk", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADERS)
        for k, row in enumerate(frame.itertuples()):
            principal, secondary = _messy_codes(row, k)
            out.writerow([row.case_id, row.hospital_id, {1: "男", 2: "女"}.get(row.sex, _cell(row.sex)),
                          "" if pd.isna(row.age_years) else f"{row.age_years}岁", _cell(row.age_days),
                          _cell(row.birth_weight_g), _cell(row.los_days),
                          _cell(row.discharge_method), principal, secondary, row.procedures or "",
                          AMOUNT_FORMS[k % len(AMOUNT_FORMS)].format(row.total_cost),
                          AMOUNT_FORMS[(k + 1) % len(AMOUNT_FORMS)].format(round(row.total_cost * 0.2, 2)),
                          _date(row.admit_date, k + 3), _date(row.discharge_date, k), row.insurance_type, row.dept])
    hospitals = sorted(frame.hospital_id.unique())
    pd.DataFrame({"hospital_id": hospitals, "level": ["3"] * len(hospitals)}).to_csv(folder / "hospitals.csv",
                                                                                     index=False)
    drgs = sorted(frame.expected_drg.unique())
    weights([(d, "1.0", "10000.00") for d in drgs if d != "0000"]).write(folder / "weights.parquet")
    (folder / "policy.toml").write_text(
        'version = "intake-1"\nregion = "测试市"\naverage_cost = "10000.00"\nhospitals = "hospitals.csv"\n'
        '[[budget]]\ninsurance_type = "310"\namount = "9000000.00"\n'
        '[[budget]]\ninsurance_type = "390"\namount = "9000000.00"\n', encoding="utf-8")
    return folder, frame


def test_every_command_reads_the_export_the_same_way(export, monkeypatch):
    folder, golden = export
    monkeypatch.setenv("DRG_PACK", str(TABLES / "chs-drg-1.1"))
    src = folder / "病案首页导出.csv"
    assert main(["group", str(src), "-o", str(folder / "results.csv")]) == 0
    results = pd.read_csv(folder / "results.csv", dtype=str, keep_default_na=False)
    assert len(results) == N
    assert results.drg.tolist() == golden.expected_drg.tolist()
    assert results.status.tolist() == golden.expected_status.tolist()
    assert (results.warnings == "").all(), results.warnings[results.warnings != ""].head().tolist()

    assert main(["validate", str(src), "-o", str(folder / "findings.csv")]) == 0
    findings = pd.read_csv(folder / "findings.csv", dtype=str, keep_default_na=False)
    fatal = set(findings.case_id[findings.severity == "fatal"])
    assert fatal == set(golden.case_id[golden.expected_status == "invalid"])
    assert not findings.rule_id.isin(["DATE_INVALID", "COST_INVALID"]).any()
    formatted = findings[findings.rule_id == "CODE_FORMAT"]
    full_width = golden.case_id[[k % 4 == 2 for k in range(N)]]
    assert set(full_width) <= set(formatted.case_id)
    assert formatted.message_zh.str.contains("全角字符").any() and formatted.message_zh.str.contains("→").all()

    case = golden.case_id[2]  # a full-width principal diagnosis
    assert main(["explain", str(src), case]) == 0

    run = folder / "run"
    assert main(["settle", "month", str(src), "--period", MONTH, "--policy", str(folder / "policy.toml"),
                 "--weights", str(folder / "weights.parquet"), "-o", str(run)]) == 0
    lines = pd.read_parquet(run / "case_lines.parquet")
    in_month = set(golden.case_id[golden.discharge_date.str.startswith(MONTH)])
    assert set(lines.case_id) == in_month
    rejected = lines[lines.case_type == "rejected"]
    assert set(rejected.case_id) == set(golden.case_id[golden.expected_status == "invalid"]) & in_month
    assert rejected.note.str.startswith("分组结果无效").all()  # rejected for the grouping only: no date or amount
    paid = lines[lines.case_type != "rejected"]
    expected_share = {r.case_id: Decimal(str(round(r.total_cost * 0.2, 2))).quantize(Decimal("0.01"))
                      for r in golden.itertuples()}
    assert all(p.patient_share == expected_share[p.case_id] for p in paid.itertuples())


def test_every_read_gives_the_same_canonical_columns(export):
    folder, _ = export
    src = folder / "病案首页导出.csv"
    record_file = open_records(src)
    intake = record_file.intake()
    direct = pa.concat_tables(intake(b, 1).records for b in record_file.source.batches(10_000))
    raw = read_cases(src, raw=True)
    for name in ("discharge_date", "admit_date", "total_cost", "age_years", "sex", "los_days"):
        assert raw.column(name).equals(direct.column(name)), name
    assert pa.types.is_date32(direct.column("discharge_date").type)
    assert direct.column("total_cost").null_count == 0 and direct.column("discharge_date").null_count == 0


@pytest.mark.parametrize("text", ["2024-03-11", "2024/03/11", "2024/3/11", "2024.03.11", "20240311", "2024年3月11日",
                                  "2024-03-11 08:30:00", "2024/3/11 8:30", "20240311083000", " ２０２４－０３－１１ "])
def test_date_forms(text):
    values, bad = parse_dates(pa.array([text]))
    assert values.to_pylist() == [dt.date(2024, 3, 11)] and bad is None


def test_excel_serial_dates_only_from_spreadsheets():
    assert parse_dates(pa.array(["45362"]), excel_serials=True)[0].to_pylist() == [dt.date(2024, 3, 11)]
    assert parse_dates(pa.array(["45362"]))[1].to_pylist() == ["45362"]


@pytest.mark.parametrize("text", ["03/11/2024", "11-03-2024", "2024-02-30", "2024-13-01", "next week"])
def test_refused_dates(text):
    values, bad = parse_dates(pa.array([text]))
    assert values.to_pylist() == [None] and bad.to_pylist() == [text]


def test_ambiguous_date_message_says_how_to_write_it(tmp_path):
    from icd_tables.intake.values import unreadable_message

    message = unreadable_message("discharge_date", pa.array(["03/11/2024"])).to_pylist()[0]
    assert message == "出院日期 discharge_date 日、月顺序不明确 (ambiguous day/month order)：'03/11/2024'，请写成 YYYY-MM-DD"


@pytest.mark.parametrize("text, fen", [("87953.43", 8795343), ("87,953.43", 8795343), ("¥87,953.43", 8795343),
                                       ("￥87953.43", 8795343), ("87953.43元", 8795343), ("１２３．４", 12340),
                                       (" 1,234,567 ", 123456700), ("0.125", 12), ("0.135", 14), ("-5.5", -550)])
def test_amount_forms(text, fen):
    values, bad = parse_amounts(pa.array([text]))
    assert bad is None
    assert values.to_pylist() == [Decimal(fen) / 100]


@pytest.mark.parametrize("text", ["87.953,43", "1,23", "免费", "12.3.4", "¥12a"])
def test_refused_amounts(text):
    values, bad = parse_amounts(pa.array([text]))
    assert values.to_pylist() == [None] and bad.to_pylist() == [text.strip()]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31)), st.integers(0, len(DATE_FORMS) - 1),
                          st.integers(0, 10**11), st.integers(0, len(AMOUNT_FORMS) - 1)), min_size=1, max_size=30))
def test_any_written_form_reads_back_exactly(rows):
    dates = [DATE_FORMS[k].format(y=d.year, m=d.month, d=d.day) for d, k, _, _ in rows]
    amounts = [AMOUNT_FORMS[k].format(fen / 100) for _, _, fen, k in rows]
    assert parse_dates(pa.array(dates))[0].to_pylist() == [d for d, _, _, _ in rows]
    assert parse_amounts(pa.array(amounts))[0].to_pylist() == [Decimal(fen) / 100 for _, _, fen, _ in rows]


def test_no_pack_chosen_exits_2_naming_the_packs(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DRG_PACK")
    records = tmp_path / "r.csv"
    records.write_text("病案号,性别,年龄,主要诊断编码\nA1,1,40,J18.900\n", encoding="utf-8")
    for argv in (["group", str(records), "-o", str(tmp_path / "o.csv")],
                 ["validate", str(records), "-o", str(tmp_path / "f.csv")],
                 ["audit", str(records), "-o", str(tmp_path / "flags.csv")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "no pack chosen" in err and "drg packs default" in err and "example-mini" in err
    assert main(["packs", "default", "example-mini"]) == 0
    assert main(["group", str(records), "-o", str(tmp_path / "o.csv")]) == 0
    assert "example-mini@" in capsys.readouterr().err


def test_numbers_unchanged_json_roundtrip():
    """The canonical money type survives JSON text the service writes (no float drift)."""
    values, _ = parse_amounts(pa.array(["0.10", "0.20", "12345678901.23"]))
    assert json.dumps([str(v) for v in values.to_pylist()]) == '["0.10", "0.20", "12345678901.23"]'
    assert np.isclose(float(values.to_pylist()[0]), 0.1)


@pytest.mark.parametrize("text", ["87953.43", "87,953.43", "￥87,953.43", "87953.43元", "１２３．４", "+.5", "1,23", "abc",
                                  "1e5", "12.3.4", " 7 "])
def test_one_value_reads_as_its_column_does(text):
    """Settings and table cells (policy amounts, rates, weights) follow the column readers' syntax exactly."""
    from foundation.text_values import exact_decimal, parse_numbers

    column = parse_numbers(pa.array([text]))[0]
    try:
        value = exact_decimal(text)
    except ValueError:
        assert np.isnan(column)
    else:
        assert float(value) == column


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.integers(-10**17, 10**17).map(str), st.just("")), min_size=1, max_size=20),
       st.lists(st.one_of(st.integers(-10**15, 10**15).map(lambda f: f"{f / 100:.2f}"), st.just("7"), st.just("")),
                min_size=1, max_size=20))
def test_clean_columns_read_the_same_on_the_fast_path(ints, amounts):
    """A clean column is cast in one step; the same cells beside one messy cell take the general path."""
    from foundation.text_values import parse_integers

    fast, slow = parse_integers(pa.array(ints)), parse_integers(pa.array(ints + ["1岁"]), "岁")
    assert fast[1] is None and fast[0].to_pylist() == slow[0].to_pylist()[:-1]
    fast, slow = parse_amounts(pa.array(amounts)), parse_amounts(pa.array(amounts + ["￥1"]))
    assert fast[1] is None and fast[0].to_pylist() == slow[0].to_pylist()[:-1]
