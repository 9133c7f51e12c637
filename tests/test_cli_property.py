"""Property: any generated input file gives one output row per input row and exits 0 or 3, never a traceback.

Files are drawn with random subsets of columns (canonical and Chinese headers, wide
diagnosis columns, unknown ones), random cell types, random text encodings and
empty cells, in every input format; the command runs in-process through
:func:`api.cli.main`.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import tempfile
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.cli import EXIT_INPUT, EXIT_OK, main
from foundation.files import read_text_table

CODES = ["I21.000", "I21.901", "E87.600", "J18.900", "J96.000", "K35.800x001", "K35.800X001", "N40.x00", "P07.100",
         "36.0600", "47.0100", "88.7201", "R75"]
HEADERS = {
    "case_id": ["case_id", "病案号", "结算ID", "BAH"],
    "sex": ["sex", "性别", "XB"],
    "age_years": ["age_years", "年龄", "年龄（岁）"],
    "principal_dx": ["principal_dx", "主要诊断编码", "JBDM"],
    "age_days": ["age_days", "年龄不足1周岁的天数"],
    "birth_weight_g": ["birth_weight_g", "新生儿出生体重（克）"],
    "secondary_dx": ["secondary_dx", "其他诊断编码", "其他诊断编码1", "其他诊断编码2", "其他诊断编码15"],
    "procedures": ["procedures", "手术操作编码", "主要手术操作编码", "其他手术操作编码1"],
    "other": ["总费用", "科室", "入院日期", "备注", ""],
}
REQUIRED = ("case_id", "sex", "age_years", "principal_dx")

FULL_WIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@st.composite
def messy_code(draw) -> str:
    code = draw(st.sampled_from(CODES))
    if draw(st.booleans()):
        code = code.translate(FULL_WIDTH)
    if draw(st.booleans()):
        code = code.lower()
    return " " * draw(st.integers(0, 2)) + code + " " * draw(st.integers(0, 2))


code_list = st.tuples(st.lists(messy_code(), max_size=3), st.sampled_from([",", "|", "、", "；", " | "])).map(
    lambda drawn: drawn[1].join(drawn[0]))
scalar = st.one_of(st.none(), st.just(""), messy_code(), code_list, text, st.integers(-5, 200),
                   st.floats(allow_nan=False, allow_infinity=False, width=32), st.booleans(),
                   st.sampled_from(["男", "女", "1", "2", "9", "65岁", "３"]))


@st.composite
def input_files(draw):
    columns: list[str] = []
    for field, names in HEADERS.items():
        if field in REQUIRED and draw(st.integers(0, 9)) < 8:
            columns.append(draw(st.sampled_from(names)))
        else:
            columns += draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
    columns += draw(st.lists(text, max_size=2))
    columns = draw(st.permutations(columns)) if columns else [draw(text)]
    n = draw(st.integers(0, 12))
    fmt = draw(st.sampled_from(["csv", "jsonl", "xlsx", "parquet"]))
    rows = [[draw(scalar) for _ in columns] for _ in range(n)]
    return {
        "format": fmt, "columns": columns, "rows": rows,
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"])),
        "output": draw(st.sampled_from(["parquet", "csv", "xlsx"])),
        "keep_input": draw(st.booleans()), "batch_size": draw(st.integers(1, 7)),
        "parquet_types": [draw(st.sampled_from(["string", "int", "float", "bool", "list", "date", "mixed"]))
                          for _ in columns],
    }


def _as_text(value) -> str:
    return "" if value is None else str(value)


def _xlsx_value(value):
    if isinstance(value, str):
        return "".join(c for c in value if c.isprintable() or c in "\t\n")
    return value


def _parquet_column(values, kind) -> pa.Array:
    if kind == "int":
        return pa.array([v if isinstance(v, int) and not isinstance(v, bool) else None for v in values], pa.int64())
    if kind == "float":
        return pa.array([float(v) if isinstance(v, (int, float)) else None for v in values], pa.float64())
    if kind == "bool":
        return pa.array([v if isinstance(v, bool) else None for v in values], pa.bool_())
    if kind == "list":
        return pa.array([None if v is None else _as_text(v).split("|") for v in values], pa.list_(pa.string()))
    if kind == "date":
        return pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=v) if isinstance(v, int) and not isinstance(v, bool)
                         else None for v in values], pa.date32())
    if kind == "mixed":
        return pa.array([None if v is None else {"v": _as_text(v)} for v in values])
    return pa.array([None if v is None else _as_text(v) for v in values], pa.string())


def write_input(case: dict, folder: Path) -> tuple[Path, int]:
    """Write the drawn file; return its path and how many records it holds."""
    columns, rows, fmt = case["columns"], case["rows"], case["format"]
    path = folder / f"input.{fmt}"
    if fmt == "csv":
        with open(path, "w", encoding=case["encoding"], newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            writer.writerows([[_as_text(v) for v in row] for row in rows])
        return path, len(rows)
    if fmt == "jsonl":
        with open(path, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps({c: v for c, v in zip(columns, row)}, ensure_ascii=False) + "\n")
        return path, len(rows)
    if fmt == "xlsx":
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append([_xlsx_value(c) for c in columns])
        kept = 0
        for row in rows:
            values = [_xlsx_value(v) for v in row]
            sheet.append(values)
            # a row of empty cells is no record (the reader skips it, as Excel users expect)
            kept += any(v is not None and not (isinstance(v, str) and not v.strip()) for v in values)
        book.save(path)
        return path, kept
    arrays = [_parquet_column([row[i] for row in rows], kind) for i, kind in enumerate(case["parquet_types"])]
    pq.write_table(pa.Table.from_arrays(arrays, names=[c or "x" for c in columns]), path)
    return path, len(rows)


def count_output(path: Path) -> tuple[int, list[int]]:
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    else:  # read back through the intake: field names from the workbook's hidden sheet
        frame = read_text_table(path).to_pandas()
    return len(frame), frame["row_no"].astype(int).tolist() if len(frame) else []


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(input_files())
def test_any_input_file_gives_one_row_per_record_or_exit_3(case):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source, records = write_input(case, folder)
        out = folder / f"out.{case['output']}"
        args = ["group", str(source), "-o", str(out), "--batch-size", str(case["batch_size"])]
        if case["keep_input"]:
            args.append("--keep-input")
        code = main(args)
        assert code in (EXIT_OK, EXIT_INPUT), (code, case)
        if code == EXIT_OK:
            rows, row_no = count_output(out)
            assert rows == records, case
            assert row_no == list(range(1, records + 1))
        else:
            assert not out.exists()
