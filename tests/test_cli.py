"""The ``drg`` command line: golden agreement through files, input variants, exit codes, outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from foundation import files
from api.cli import EXIT_FAIL_ON, EXIT_INPUT, EXIT_OK, EXIT_USAGE, main
from reference_data import VERSIONS_1X, write_csv
from icd_tables.pack import BUNDLED_DIR, EXAMPLE_PACK

EXPECTED = ["expected_mdc", "expected_adrg", "expected_drg", "expected_status", "expected_status_zh"]
RESULT = ["mdc", "adrg", "drg", "status", "status_zh"]
FULL_WIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


def run(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def read_results(path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return files.read_text_table(path).to_pandas()  # the field names from the workbook's hidden sheet



def assert_agrees(golden: pd.DataFrame, results: pd.DataFrame, label: str) -> None:
    assert len(results) == len(golden), label
    assert results["case_id"].astype(str).tolist() == golden["case_id"].astype(str).tolist()
    assert results["row_no"].astype(int).tolist() == list(range(1, len(golden) + 1))
    got = results[RESULT].astype(str).to_numpy()
    want = golden[EXPECTED].astype(str).to_numpy()
    bad = (got != want).any(axis=1)
    report = golden.loc[bad, ["case_id", "principal_dx", "secondary_dx", "procedures", *EXPECTED]]
    assert not bad.any(), f"{label}: {bad.sum()} of {len(golden)} records disagree:\n{report.head(20).to_string()}"


# --- golden records through the command line ---------------------------------------------

@pytest.fixture(scope="module", params=VERSIONS_1X)
def golden_run(request, tables_dir, golden_dir, tmp_path_factory):
    """``drg group GOLDEN -o out.parquet --pack TABLES``: exit code, stderr and results."""
    version = request.param
    out = tmp_path_factory.mktemp(version) / "out.parquet"
    golden_path = golden_dir / f"{version}.parquet"
    code = main(["group", str(golden_path), "-o", str(out), "--pack", str(tables_dir / version)])
    return version, code, pd.read_parquet(golden_path), pd.read_parquet(out) if out.exists() else None


@pytest.mark.golden
def test_golden_parquet_through_the_cli(golden_run):
    version, code, golden, results = golden_run
    assert code == EXIT_OK
    assert_agrees(golden, results, version)
    assert (results["warnings"] == "").all()
    assert results["pack_version"].astype(str).str.startswith(version).all()


def _golden_as_export(golden: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The golden records as a hospital export: Chinese headers, 男/女, wide diagnosis columns, messy codes."""
    rng = np.random.default_rng(seed)

    def messy(code: str) -> str:
        r = rng.random()
        if r < 0.15:
            return f" {code}  "
        if r < 0.30:
            return code.translate(FULL_WIDTH)
        if r < 0.40:
            return f"\u3000{code.upper()}"  # an ideographic space, and X for the pack's x where it has one
        return code

    sex = golden["sex"].map({1: "男", 2: "女"}).fillna(golden["sex"].astype(str))
    out = pd.DataFrame({
        "病案号": golden["case_id"], "性别": sex, "年龄": golden["age_years"],
        "年龄不足1周岁的天数": golden["age_days"].astype("Int64"),
        "新生儿出生体重（克）": golden["birth_weight_g"].astype("Int64"),
        "实际住院天数": golden["los_days"], "离院方式": golden["discharge_method"],
        "主要诊断编码": [messy(c) if c else c for c in golden["principal_dx"]],
    })
    secondary = [s.split("|") if s else [] for s in golden["secondary_dx"]]
    for k in range(max(map(len, secondary))):
        out[f"其他诊断编码{k + 1}"] = [messy(s[k]) if k < len(s) else "" for s in secondary]
    separators = ["，", ",", "；", "、", " | "]
    out["手术操作编码"] = [separators[i % 5].join(messy(c) for c in p.split("|")) if p else ""
                         for i, p in enumerate(golden["procedures"])]
    out["总费用"] = golden["total_cost"]
    out["入院日期"], out["出院日期"] = golden["admit_date"], golden["discharge_date"]
    out["险种类型"], out["科室"] = golden["insurance_type"], golden["dept"]
    return out


def _case_variants_are_unambiguous(tables_dir, version) -> None:
    """Upper-casing a golden code is only a formatting change if the pack has one code of that folded form."""
    from icd_tables.pack import Pack

    compiled = Pack.load(tables_dir / version).compiled
    for inputs in (compiled.dx_inputs, compiled.proc_inputs):
        codes = inputs.to_pylist()
        assert len({c.upper() for c in codes}) == len(codes)


@pytest.mark.golden
def test_golden_as_a_gb18030_chinese_wide_csv_groups_identically(golden_run, golden_dir, tables_dir, tmp_path):
    version, _, golden, parquet_results = golden_run
    _case_variants_are_unambiguous(tables_dir, version)
    export = _golden_as_export(golden, seed=len(golden))
    assert export.filter(like="其他诊断编码").shape[1] >= 10
    source = tmp_path / "export.csv"
    export.to_csv(source, index=False, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        source.read_bytes().decode("utf-8")  # really GB18030, not UTF-8
    out = tmp_path / "out.parquet"
    assert main(["group", str(source), "-o", str(out), "--pack", str(tables_dir / version)]) == EXIT_OK
    results = pd.read_parquet(out)
    assert_agrees(golden, results, f"{version} as GB18030 CSV")
    for column in ("reason_code", "mcc_dx", "cc_dx"):
        assert (results[column].astype(str) == parquet_results[column].astype(str)).all(), column
    # an unknown code stays unknown, named without the spaces and full width (its case as written)
    detail = results["reason_detail"].astype(str).str.upper()
    assert (detail == parquet_results["reason_detail"].astype(str).str.upper()).all()

    # without normalisation the messy codes are (rightly) unknown
    raw = tmp_path / "raw.parquet"
    assert main(["group", str(source), "-o", str(raw), "--pack", str(tables_dir / version), "--no-normalize"]) == 0
    assert (pd.read_parquet(raw)["status"] == "invalid").mean() > 0.5


@pytest.mark.golden
def test_golden_normalised_up_front_gives_the_same_results(golden_run, tables_dir):
    """Normalising every record first (the library function) and grouping gives the expected results."""
    from grouper import Grouper
    from icd_tables.intake.codes import normalize_codes

    version, _, golden, results = golden_run
    grouper = Grouper(tables_dir / version)
    export = _golden_as_export(golden, seed=7)
    records = golden.drop(columns=["principal_dx", "secondary_dx", "procedures"]).assign(
        principal_dx=export["主要诊断编码"],
        secondary_dx=export.filter(like="其他诊断编码").agg("|".join, axis=1),
        procedures=export["手术操作编码"],
    )
    normalised = grouper.group(normalize_codes(pa.Table.from_pandas(records, preserve_index=False), grouper.pack))
    assert_agrees(golden, normalised, f"{version} normalised up front")


# --- small inputs with the bundled example pack ------------------------------------------

HEADER = ["病案号", "性别", "年龄", "主要诊断编码", "其他诊断编码1", "其他诊断编码2", "手术操作编码"]
ROWS = [
    ["A1", "男", "60", "I21.000", "E87.600", "", "36.0600"],
    ["A2", "女", "30", " k35.900 ", "", "", ""],
    ["A3", "1", "70", "J18.900", "Ｊ９６.０００", "", ""],
    ["A4", "2", "abc", "J18.900", "", "", ""],
    ["A5", "1", "40", "", "", "", ""],
    ["A6", "1", "40", "R75", "", "", ""],
    ["A7", "1", "40", "@@garbage", "", "", ""],
    ["A8", "2", "55", "I21.000", "36.0600", "", ""],
    ["A1", "男", "60", "I21.000", "E87.600", "", "36.0600"],
]


@pytest.fixture
def small_csv(tmp_path):
    return write_csv(tmp_path / "records.csv", HEADER, ROWS, encoding="gb18030")


def test_bad_rows_keep_their_row_and_say_what_to_fix(small_csv, tmp_path, capsys):
    out = tmp_path / "out.csv"
    code, err = run(capsys, "group", small_csv, "-o", out)
    assert code == EXIT_OK
    results = read_results(out)
    assert results["row_no"].astype(int).tolist() == list(range(1, 10))
    assert results["case_id"].tolist() == [r[0] for r in ROWS]
    status = dict(zip(results["row_no"].astype(int), results["status"]))
    detail = dict(zip(results["row_no"].astype(int), results["reason_detail"]))
    warnings = dict(zip(results["row_no"].astype(int), results["warnings"]))
    assert status[1] == status[2] == status[3] == "ok"  # 2 and 3 only after normalisation
    assert status[4] == "invalid" and "age_years" in detail[4] and "abc" in warnings[4]
    assert status[5] == "invalid" and "主要诊断为空" in detail[5]
    assert status[6] == "invalid" and detail[6] == "R75"
    assert status[7] == "invalid" and detail[7] == "'@@garbage"  # CSV: a leading ' keeps a spreadsheet from running it
    assert status[8] == "invalid" and detail[8] == "36.0600"  # a procedure code in a diagnosis field
    assert "duplicate case_id, first at row 1" in warnings[9]
    assert results.loc[8, RESULT].tolist() == results.loc[0, RESULT].tolist()  # grouped normally
    assert "codes reformatted" in err and "duplicate case_id" in err


def test_normalising_everything_first_gives_the_same_results(small_csv, tmp_path, capsys):
    """Formatting fixed while encoding (the command) and by the Arrow normaliser before grouping agree."""
    from grouper import Grouper
    from icd_tables.intake.codes import normalize_codes
    from icd_tables.intake.reader import open_records

    out = tmp_path / "out.parquet"
    assert run(capsys, "group", small_csv, "-o", out)[0] == EXIT_OK
    record_file = open_records(small_csv)
    records = record_file.intake()(pa.concat_tables(record_file.source.batches(1000))).records
    grouper = Grouper()
    plain = grouper.group_arrow(normalize_codes(records, grouper.pack)).to_pandas()
    got = pd.read_parquet(out)
    pd.testing.assert_frame_equal(got[plain.columns].astype(str), plain.astype(str))


def test_duplicate_case_ids_across_batches(small_csv, tmp_path, capsys):
    out = tmp_path / "out.parquet"
    assert run(capsys, "group", small_csv, "-o", out, "--batch-size", "2")[0] == EXIT_OK
    warnings = pd.read_parquet(out)["warnings"].tolist()
    assert warnings[8].startswith("病案号重复") and "first at row 1" in warnings[8]
    assert all(w == "" or "age_years" in w for w in warnings[:8])


def test_fail_on(small_csv, tmp_path, capsys):
    out = tmp_path / "out.parquet"
    code, err = run(capsys, "group", small_csv, "-o", out, "--fail-on", "invalid")
    assert code == EXIT_FAIL_ON and "--fail-on" in err and out.exists()
    assert run(capsys, "group", small_csv, "-o", out, "--fail-on", "ungroupable")[0] == EXIT_OK
    valid = write_csv(tmp_path / "valid.csv", HEADER, ROWS[:3])
    assert run(capsys, "group", valid, "-o", out, "--fail-on", "invalid", "--fail-on", "ungroupable")[0] == EXIT_OK


def test_keep_input_and_column_mapping(tmp_path, capsys):
    source = write_csv(tmp_path / "x.csv", ["编号", "性别", "年龄", "出院诊断", "备注"],
                       [["Z1", "男", "60", "I21.000", "note"]])
    mapping = tmp_path / "map.toml"
    mapping.write_text('[columns]\n"编号" = "case_id"\n"出院诊断" = "principal_dx"\n', encoding="utf-8")
    out = tmp_path / "out.parquet"
    code, err = run(capsys, "group", source, "-o", out, "--keep-input")
    assert code == EXIT_INPUT and "case_id" in err and "principal_dx" in err and "--columns" in err
    assert run(capsys, "group", source, "-o", out, "--keep-input", "--columns", mapping)[0] == EXIT_OK
    results = pd.read_parquet(out)
    assert results.loc[0, "status"] == "ok" and results.loc[0, "备注"] == "note"
    assert results.loc[0, "case_id"] == "Z1" and results.loc[0, "编号"] == "Z1"


def test_xlsx_in_and_out(tmp_path, capsys):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER + ["总费用", "备注"])
    for row in ROWS:
        sheet.append([int(v) if v.isdigit() else v for v in row] + [1234.5, "=1+1"])
        sheet.cell(sheet.max_row, len(HEADER) + 2).data_type = "s"  # text that looks like a formula
    source = tmp_path / "records.xlsx"
    book.save(source)
    out = tmp_path / "out.xlsx"
    assert run(capsys, "group", source, "-o", out, "--keep-input")[0] == EXIT_OK
    results = read_results(out)
    assert len(results) == len(ROWS)
    assert results["status"].tolist()[:3] == ["ok"] * 3
    assert results["备注"].tolist() == ["=1+1"] * len(ROWS)  # written as text, not as a formula
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["分组结果 results", "_fields"] and book["_fields"].sheet_state == "hidden"
    header = next(book.worksheets[0].iter_rows(values_only=True))
    assert header[:3] == ("病案号", "行号", "主要诊断大类") and "提示" in header  # Chinese headers for people
    fields = [row[0] for row in book["_fields"].iter_rows(values_only=True)][1:]
    assert fields[:3] == ["case_id", "row_no", "mdc"] and "warnings" in fields


def test_xlsx_row_limit_is_refused_before_anything_is_written(small_csv, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(files, "XLSX_MAX_ROWS", len(ROWS))  # a sheet of 9 rows holds 8 records
    out = tmp_path / "out.xlsx"
    code, err = run(capsys, "group", small_csv, "-o", out)
    assert code == EXIT_USAGE and "at most 8" in err and ".parquet or .csv" in err
    assert not out.exists() and not list(tmp_path.glob(".out.xlsx*"))
    parquet = tmp_path / "records.parquet"
    pq.write_table(pa.table({h: [r[i] for r in ROWS] for i, h in enumerate(HEADER)}), parquet)
    assert run(capsys, "group", parquet, "-o", out)[0] == EXIT_USAGE  # counted from Parquet metadata
    monkeypatch.setattr(files, "XLSX_MAX_ROWS", len(ROWS) + 1)
    assert run(capsys, "group", small_csv, "-o", out)[0] == EXIT_OK
    assert len(read_results(out)) == len(ROWS)


def test_jsonl_input_and_csv_output(tmp_path, capsys):
    source = tmp_path / "x.jsonl"
    records = [{"case_id": "J1", "sex": 1, "age_years": 60, "principal_dx": "I21.000", "secondary_dx": ["E87.600"],
                "procedures": "36.0600"},
               {"case_id": "J2", "sex": "女", "age_years": "30", "principal_dx": "K35.900"}]
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert run(capsys, "group", source, "-o", out)[0] == EXIT_OK
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM, so that Excel shows Chinese text
    results = read_results(out)
    assert results["status"].tolist() == ["ok", "ok"] and results["cc_dx"].tolist() == ["E87.600", ""]


def test_empty_input_gives_an_empty_result_file(tmp_path, capsys):
    source = write_csv(tmp_path / "empty.csv", HEADER, [])
    out = tmp_path / "out.parquet"
    assert run(capsys, "group", source, "-o", out)[0] == EXIT_OK
    results = pd.read_parquet(out)
    assert len(results) == 0 and {"status", "warnings", "row_no"} <= set(results.columns)


# --- exit codes ----------------------------------------------------------------------------

def test_unreadable_inputs_exit_3_with_one_line(tmp_path, capsys):
    out = tmp_path / "out.parquet"
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"\x00garbage")
    undecodable = tmp_path / "bad.csv"
    undecodable.write_bytes(b"\xff\xfe\xfa,\x80\n\x81\xff,1\n")
    gb = write_csv(tmp_path / "gb.csv", HEADER, ROWS, encoding="gb18030")
    old_excel = tmp_path / "x.xls"
    old_excel.write_bytes(b"old excel")
    for args in ([tmp_path / "missing.csv"], [old_excel], [junk], [undecodable],
                 [gb, "--encoding", "utf-8"], [gb, "--pack", tmp_path / "no-such-pack"]):
        code, err = run(capsys, "group", *args, "-o", out)
        assert code == EXIT_INPUT, (args, err)
        assert err.startswith("drg: ") and "Traceback" not in err
    assert not out.exists()


def test_usage_errors_exit_2(small_csv, tmp_path, capsys):
    out = tmp_path / "out.parquet"
    bad_map = tmp_path / "map.json"
    bad_map.write_text('{"x": "nonsense"}', encoding="utf-8")
    for args in ([], ["group"], ["group", small_csv], ["group", small_csv, "-o", out, "--batch-size", "0"],
                 ["group", small_csv, "-o", tmp_path / "out.txt"], ["group", small_csv, "-o", out, "--bogus"],
                 ["group", small_csv, "-o", out, "--encoding", "klingon"],
                 ["group", small_csv, "-o", out, "--columns", bad_map], ["group", small_csv, "-o", small_csv],
                 ["group", small_csv, "-o", out, "--fail-on", "everything"]):
        assert run(capsys, *args)[0] == EXIT_USAGE, args
    assert run(capsys, "--help")[0] == EXIT_OK


# --- demo and packs ------------------------------------------------------------------------

@pytest.fixture
def private_packs(tmp_path, monkeypatch):
    monkeypatch.setenv("DRG_PACKS_DIR", str(tmp_path / "packs"))
    monkeypatch.setenv("DRG_CACHE_DIR", str(tmp_path / "cache"))


def test_demo(private_packs, tmp_path, capsys):
    out = tmp_path / "demo.parquet"
    assert main(["demo", "-n", "500", "-o", str(out)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert EXAMPLE_PACK in printed and "分组成功" in printed and "records/s" in printed
    assert len(pd.read_parquet(out)) == 500


def test_packs_import_list_show(private_packs, capsys):
    assert main(["packs", "import", str(BUNDLED_DIR / EXAMPLE_PACK), "--name", "mini-copy", "--region", "测试"]) == 0
    assert "mini-copy" in capsys.readouterr().out
    assert main(["packs", "list"]) == EXIT_OK
    listed = capsys.readouterr().out
    assert "mini-copy" in listed and EXAMPLE_PACK in listed
    assert main(["packs", "show", "mini-copy"]) == EXIT_OK
    shown = capsys.readouterr().out
    assert "region 测试" in shown and "rules.tsv" in shown
    code = main(["packs", "import", str(BUNDLED_DIR / EXAMPLE_PACK), "--name", "mini-copy"])
    assert code == EXIT_INPUT and "already exists" in capsys.readouterr().err
    assert main(["packs", "show", "no-such-pack"]) == EXIT_INPUT


def test_a_command_gives_what_it_froze_back_to_the_collector(monkeypatch):
    """``main`` keeps the imported modules out of full collections while a command runs, not after it."""
    import gc

    import api.cli.packs

    seen = []
    monkeypatch.setattr(api.cli.packs, "cmd_packs_list", lambda args: seen.append(gc.get_freeze_count()) or 0)
    assert main(["packs", "list"]) == EXIT_OK
    assert seen[0] > 0 and gc.get_freeze_count() == 0
