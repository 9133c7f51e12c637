"""Property: a file means the same canonical columns whichever command or service route reads it.

Random exports (CSV in UTF-8 with BOM or GBK, XLSX, JSON Lines) with the forms hospital systems
write — Chinese headers, ``男``/``女``, ``65岁``, dates in any accepted form, amounts with separators
and ``￥``, messy code cells — are read by the paths the faces use:

* ``drg group``: :class:`icd_tables.intake.reader.RecordFile` and its intake, batch by batch;
* ``drg validate/explain/settle/calibrate/indices/audit``: :func:`api.cases.read_cases`;
* the service's file uploads: ``api.service.uploads.batches`` (the intake the store is given);
* the service's JSON batch and single-record routes: the records as dicts, through the store's intake.
"""

from __future__ import annotations

import csv
import datetime as dt
import json

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.cases import read_cases
from icd_tables.intake.reader import open_records
from icd_tables.intake.values import KINDS

pytest.importorskip("fastapi")
from api.service.uploads import batches as upload_batches  # noqa: E402  (the service extra is installed)
from api.service.uploads import json_batch as json_route_batch  # noqa: E402

HEADERS = {"case_id": "病案号", "sex": "性别", "age_years": "年龄", "principal_dx": "主要诊断编码",
           "secondary_dx": "其他诊断编码", "procedures": "手术操作编码", "los_days": "实际住院天数",
           "total_cost": "总费用", "admit_date": "入院日期", "discharge_date": "出院日期", "hospital_id": "医疗机构编码"}
DATE_FORMS = ("{y}-{m:02d}-{d:02d}", "{y}/{m:02d}/{d:02d}", "{y}/{m}/{d}", "{y}.{m:02d}.{d:02d}", "{y}{m:02d}{d:02d}",
              "{y}年{m}月{d}日", "{y}-{m:02d}-{d:02d} 08:30:00", "{m:02d}/{d:02d}/{y}", "not a date", "")
AMOUNTS = ("{:.2f}", "{:,.2f}", "￥{:,.2f}", "{:.2f}元", "{:.3f}", "免费", "")
CODES = ("J18.900", " j18.900 ", "Ｊ１８．９００", "I10.x00", "R75")
LISTS = ("I10.x00|E11.900", "I10.x00，E11.900", "I10.x00; E11.900", "", "E11.900")


@st.composite
def rows(draw):
    day = draw(st.dates(dt.date(2020, 1, 1), dt.date(2026, 12, 31)))
    fen = draw(st.integers(0, 10**9))
    return [
        draw(st.sampled_from(["A1", "A1", "B-2", "甲3", ""])) + str(draw(st.integers(0, 99))),
        draw(st.sampled_from(["1", "2", "男", "女", "3", "x", ""])),
        draw(st.sampled_from(["65", "65岁", "+65", "0", "abc", "65.0", ""])),
        draw(st.sampled_from(CODES)),
        draw(st.sampled_from(LISTS)),
        draw(st.sampled_from(["", "36.0600", "36.0600|88.7201", "|88.7201"])),
        draw(st.sampled_from(["8", "8天", "3,200", "-1", ""])),
        draw(st.sampled_from(AMOUNTS)).format(fen / 100),
        draw(st.sampled_from(DATE_FORMS)).format(y=day.year, m=day.month, d=day.day),
        draw(st.sampled_from(DATE_FORMS)).format(y=day.year, m=day.month, d=day.day),
        draw(st.sampled_from(["H1", " H1 ", ""])),
    ]


def _write(path, fmt: str, records: list[list[str]]) -> None:
    header = list(HEADERS.values())
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.append(header)
        for r in records:
            sheet.append(r)
        book.save(path)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(dict(zip(header, r)), ensure_ascii=False) + "\n" for r in records),
                        encoding="utf-8")
    else:
        with open(path, "w", encoding="utf-8-sig" if fmt == "csv-utf8" else "gbk", newline="") as f:
            out = csv.writer(f)
            out.writerow(header)
            out.writerows(records)


def _canonical(table: pa.Table) -> dict:
    return {name: table.column(name).combine_chunks() for name in HEADERS if name in table.column_names
            and KINDS.get(name)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(rows(), min_size=1, max_size=25), fmt=st.sampled_from(["csv-utf8", "csv-gbk", "xlsx", "jsonl"]))
def test_every_path_reads_the_same_canonical_columns(tmp_path, records, fmt):
    path = tmp_path / f"export.{'csv' if fmt.startswith('csv') else fmt}"
    _write(path, fmt, records)

    record_file = open_records(path)
    intake = record_file.intake()
    cli = pa.concat_tables([intake(b, 1).records for b in record_file.source.batches(7)], promote_options="permissive")
    shared = read_cases(path, raw=True, batch_size=5)
    uploaded = pa.concat_tables([read.records for read in upload_batches(path, None)], promote_options="permissive")
    reference = _canonical(cli)
    assert len(reference) == len(HEADERS)
    for other in (shared, uploaded):
        assert _canonical(other) == reference
    if fmt != "xlsx":  # spreadsheets may type cells (numbers, dates) the way a JSON client would not
        as_dicts = [dict(zip(HEADERS, r)) for r in records]
        assert _canonical(next(json_route_batch(as_dicts, None)).records) == reference
