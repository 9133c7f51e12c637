"""Reading exported records: header mapping, code normalisation, readers, duplicate case ids."""

from __future__ import annotations

import codecs
import json
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings, strategies as st

from icd_tables.intake.headers import ColumnMappingError, match_header, plan_columns, read_mapping
from icd_tables.intake import values
from icd_tables.intake.values import canonical_records
from icd_tables.intake.duplicates import DuplicateTracker, hash_strings
from foundation.files import ROW_WARNING, InputError, _cell_text, detect_encoding, open_input
from grouper import Grouper
from icd_tables.intake.codes import CodeNormalizer, normalize_codes
from icd_tables.pack import Pack


@pytest.fixture(scope="module")
def mini():
    return Pack.load("example-mini")


def _col(table, name):
    return table.column(name).to_pylist()


# --- header mapping ------------------------------------------------------------------------

@pytest.mark.parametrize("header, field", [
    ("病案号", "case_id"), ("结算ID", "case_id"), ("setl_id", "case_id"), ("case_id", "case_id"),
    ("性别", "sex"), (" 性 别 ", "sex"), ("XB", "sex"), ("gend", "sex"), ("Sex", "sex"),
    ("年龄", "age_years"), ("年龄(岁)", "age_years"), ("年龄（岁）", "age_years"), ("年龄（周岁）", "age_years"),
    ("年龄不足1周岁的天数", "age_days"), ("年龄不足1周岁的年龄（天）", "age_days"), ("年龄(天)", "age_days"),
    ("新生儿出生体重", "birth_weight_g"), ("新生儿出生体重（克）", "birth_weight_g"),
    ("新生儿入院体重(克)", "admission_weight_g"),
    ("实际住院天数", "los_days"), ("住院天数", "los_days"), ("离院方式", "discharge_method"),
    ("主要诊断编码", "principal_dx"), ("主要诊断代码", "principal_dx"), ("JBDM", "principal_dx"),
    ("其他诊断编码", "secondary_dx"), ("主要手术操作编码", "principal_procedure"),
    ("其他手术操作编码", "other_procedures"), ("手术操作编码", "procedures"),
    ("总费用", "total_cost"), ("总费用（元）", "total_cost"), ("入院日期", "admit_date"), ("出院日期", "discharge_date"),
    ("险种类型", "insurance_type"), ("科室", "dept"), ("出院科别", "dept"),
])
def test_common_headers_name_their_field(header, field):
    found = match_header(header)
    assert found is not None and found[0] == field and found[2] is None


@pytest.mark.parametrize("header, field, number", [
    ("其他诊断编码1", "secondary_dx", 1), ("其他诊断编码15", "secondary_dx", 15), ("其他诊断编码(3)", "secondary_dx", 3),
    ("其他诊断编码_4", "secondary_dx", 4), ("JBDM12", "secondary_dx", 12), ("其他手术操作编码2", "other_procedures", 2),
    ("手术操作编码1", "procedures", 1), ("SSJCZBM3", "procedures", 3),
])
def test_numbered_headers(header, field, number):
    assert match_header(header) == (field, 0, number)


@pytest.mark.parametrize("header", ["备注", "诊断编码1", "ICD10", "姓名", ""])
def test_unknown_headers_are_left_alone(header):
    assert match_header(header) is None


def test_wide_columns_join_in_number_order_skipping_empty_cells():
    names = ["病案号", "性别", "年龄", "主要诊断编码", "其他诊断编码10", "其他诊断编码2", "其他诊断编码1", "备注"]
    plan = plan_columns(names)
    assert plan.mapped["secondary_dx"] == ["其他诊断编码1", "其他诊断编码2", "其他诊断编码10"]
    table = pa.table({n: pa.array(v, pa.string()) for n, v in zip(names, [
        ["a", "b", "c"], ["男", "女", "2"], ["65", "3", "40"], ["I21.000", "J18.900", "K35.900"],
        ["Z", None, ""], ["B", " ", ""], ["A", "", None]])} | {"备注": pa.array(["x", "y", "z"])})
    out = canonical_records(plan.apply(table))
    assert _col(out, "secondary_dx") == ["A|B|Z", None, None]
    assert _col(out, "sex") == [1, 2, 2]
    assert "备注" not in out.column_names  # unknown columns pass through only with --keep-input


def test_principal_and_other_procedures_join_principal_first():
    names = ["病案号", "主要手术操作编码", "其他手术操作编码1", "其他手术操作编码2"]
    plan = plan_columns(names)
    table = pa.table({n: pa.array(v, pa.string()) for n, v in zip(names, [
        ["a", "b", "c", "d"], ["36.0600", "", "47.0100", None], ["88.7201", "88.7201", "", None],
        ["", "45.4201", "", None]])})
    # an empty principal with other procedures keeps its empty first slot: the record is reported, not re-ordered
    assert _col(plan.apply(table), "procedures") == ["36.0600|88.7201", "|88.7201|45.4201", "47.0100", None]


def test_one_procedure_column_or_numbered_ones():
    plan = plan_columns(["手术操作编码1", "手术操作编码2"])
    table = pa.table({"手术操作编码1": ["36.0600", None], "手术操作编码2": ["88.7201", "47.0100"]})
    assert _col(plan.apply(table), "procedures") == ["36.0600|88.7201", "|47.0100"]


def test_canonical_name_wins_and_the_other_column_is_noted():
    plan = plan_columns(["病案号", "case_id", "结算ID"])
    assert plan.mapped["case_id"] == ["case_id"]
    assert len(plan.notes) == 2


def test_integer_fields_from_text():
    plan = plan_columns(["性别", "年龄", "年龄不足1周岁的天数", "新生儿出生体重(克)"])
    table = pa.table({
        "性别": ["男", "女", "1", " 2 ", "男性", "未知", "", None],
        "年龄": ["65", "65岁", "３", "65.0", "abc", "", None, "1,024"],
        "年龄不足1周岁的天数": ["12天", "", None, "x", "1", "2", "3", "4"],
        "新生儿出生体重(克)": ["3200", "3,200", "3200g", "3200.5", "", None, "1", "2"],
    })
    out = canonical_records(plan.apply(table))
    assert _col(out, "sex") == [1, 2, 1, 2, 1, None, None, None]
    assert _col(out, "__unreadable__sex") == [None] * 5 + ["未知", None, None]
    assert _col(out, "age_years") == [65, 65, 3, 65, None, None, None, 1024]
    assert _col(out, "__unreadable__age_years") == [None] * 4 + ["abc", None, None, None]
    assert _col(out, "age_days")[:4] == [12, None, None, None]
    assert _col(out, "birth_weight_g")[:4] == [3200, 3200, 3200, None]
    assert _col(out, "__unreadable__birth_weight_g")[3] == "3200.5"


def test_integer_fields_with_a_sign():
    """A leading ``+`` is a sign, as ``-`` is (found by the CLI property test: '+0' once stopped drg group)."""
    plan = plan_columns(["年龄", "年龄不足1周岁的天数"])
    out = canonical_records(plan.apply(pa.table({"年龄": ["+0", "+65", "-1"], "年龄不足1周岁的天数": ["+3", "+", "3"]})))
    assert _col(out, "age_years") == [0, 65, -1]
    assert _col(out, "age_days") == [3, None, 3]
    assert _col(out, "__unreadable__age_days") == [None, "+", None]


@pytest.mark.parametrize("suffix, text", [
    (".toml", '[columns]\n"住院号" = "case_id"\n"出院诊断" = "principal_dx"\n"诊断2" = "secondary_dx"\n'
              '"诊断3" = "secondary_dx"\n'),
    (".json", json.dumps({"住院号": "case_id", "出院诊断": "principal_dx", "诊断2": "secondary_dx",
                          "诊断3": "secondary_dx"}, ensure_ascii=False)),
    (".csv", "input,field\n住院号,case_id\n出院诊断,principal_dx\n诊断2,secondary_dx\n诊断3,secondary_dx\n"),
])
def test_user_mapping_files(tmp_path, suffix, text):
    path = tmp_path / f"map{suffix}"
    path.write_text(text, encoding="utf-8")
    mapping = read_mapping(path)
    plan = plan_columns(["住院号", "出院诊断", "诊断2", "诊断3", "病案号", "性别"], mapping)
    assert plan.mapped["case_id"] == ["住院号"]  # the user's mapping comes before the built-in aliases
    assert plan.mapped["principal_dx"] == ["出院诊断"]
    assert plan.mapped["secondary_dx"] == ["诊断2", "诊断3"]
    assert plan.mapped["sex"] == ["性别"]


def test_user_mapping_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"住院号": "patient_number"}', encoding="utf-8")
    with pytest.raises(ColumnMappingError, match="unknown field 'patient_number'"):
        read_mapping(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("[columns\n", encoding="utf-8")
    with pytest.raises(ColumnMappingError, match="cannot parse"):
        read_mapping(broken)
    yaml = tmp_path / "x.yaml"
    yaml.write_text("住院号: case_id\n", encoding="utf-8")
    with pytest.raises(ColumnMappingError, match="must be .toml, .json or .csv"):
        read_mapping(yaml)
    with pytest.raises(ColumnMappingError, match="cannot read"):
        read_mapping(tmp_path / "missing.toml")


# --- normalisation -------------------------------------------------------------------------

def _normalize(mini, **columns):
    return normalize_codes(pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}), mini)


def test_spaces_and_full_width(mini):
    out = _normalize(mini, principal_dx=[" I21.000 ", "Ｉ２１．０００", "\u3000I21.000\t", "I21.000"])
    assert _col(out, "principal_dx") == ["I21.000"] * 4


def test_letter_case_as_the_pack_spells_it(mini):
    out = _normalize(mini, principal_dx=["i21.000", "n40.X00", "N40.X00", "k35.900"])
    assert _col(out, "principal_dx") == ["I21.000", "N40.x00", "N40.x00", "K35.900"]


def test_case_is_left_alone_when_the_pack_has_both_spellings(mini):
    # example-mini maps both K35.800X001 and K35.800x001: an ambiguous folded form is not guessed
    out = _normalize(mini, principal_dx=["K35.800X001", "K35.800x001", "k35.800x001", "k35.800X001"])
    assert _col(out, "principal_dx") == ["K35.800X001", "K35.800x001", "k35.800x001", "k35.800X001"]


def test_separators_between_codes(mini):
    out = _normalize(mini, secondary_dx=[
        "I21.000,E87.600", "I21.000;E87.600", "I21.000、E87.600", "I21.000，E87.600", "I21.000；E87.600",
        "I21.000 | E87.600", "I21.000||E87.600|", "|I21.000", " , ", "", None, "I21.000 E87.600",
    ])
    assert _col(out, "secondary_dx") == ["I21.000|E87.600"] * 7 + ["I21.000", "", "", None, "I21.000 E87.600"]


def test_an_empty_principal_procedure_keeps_its_slot(mini):
    out = _normalize(mini, procedures=["|36.0600", " ,36.0601", "36.0700,", "|", "36.0600||88.7201"])
    assert _col(out, "procedures") == ["|36.0600", "|36.0601", "36.0700", "", "36.0600|88.7201"]


def test_list_columns_are_normalised_too(mini):
    table = pa.table({"secondary_dx": pa.array([[" e87.600", "Ｊ９６.０００"], [], None], pa.list_(pa.string()))})
    assert _col(normalize_codes(table, mini), "secondary_dx") == ["E87.600|J96.000", "", None]


def test_never_guesses(mini):
    # a bare category, a procedure code in a diagnosis field, a truncated code: formatting cannot make them known
    out = _normalize(mini, principal_dx=["R75", "36.0600", "I21", " r75 "],
                     secondary_dx=["R75", "i21.9", "", "I21.000|XYZ"])
    assert _col(out, "principal_dx") == ["R75", "36.0600", "I21", "r75"]
    assert _col(out, "secondary_dx") == ["R75", "i21.9", "", "I21.000|XYZ"]
    records = out.append_column("case_id", pa.array(list("abcd"))).append_column("sex", pa.array([1] * 4)) \
        .append_column("age_years", pa.array([50] * 4))
    results = Grouper(mini).group_arrow(records)
    assert _col(results, "status") == ["invalid"] * 4
    assert _col(results, "reason_detail") == ["R75", "36.0600", "I21", "r75"]


def test_absent_columns_stay_absent_and_others_pass(mini):
    table = pa.table({"principal_dx": [" I21.000"], "dept": ["心内科"]})
    out = normalize_codes(table, mini)
    assert out.column_names == ["principal_dx", "dept"]
    assert _col(out, "dept") == ["心内科"]


def test_normalizer_reports_changed_rows(mini):
    normalizer = CodeNormalizer(mini)
    table = pa.table({"principal_dx": ["I21.000", " I21.000", "R75"], "secondary_dx": ["", "", "e87.600"]})
    _, changed = normalizer.normalize(table)
    assert changed.tolist() == [False, True, True]


@pytest.mark.golden
@pytest.mark.parametrize("version", ["chs-drg-1.1", "chs-drg-1.0"])
def test_normalisation_leaves_every_golden_code_as_it_is(version, tables_dir, golden_dir):
    """The golden records' codes, the deliberately unknown ones included, are all in normal form already:
    normalisation maps none of them to a pack code, so it cannot change an expected result."""
    table = pq.read_table(golden_dir / f"{version}.parquet")
    pack = Pack.load(tables_dir / version)
    normalized, changed = CodeNormalizer(pack).normalize(table)
    assert not changed.any(), table.filter(pa.array(changed)).select(["case_id", "principal_dx"]).to_pylist()[:10]
    for name in ("principal_dx", "secondary_dx", "procedures"):
        assert normalized.column(name).to_pylist() == table.column(name).to_pylist()


# --- readers -------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8"), ("gb18030", "gb18030"), ("gbk", "gb18030"), ("utf-16", "utf-16"),
])
def test_encoding_detection(tmp_path, encoding, expected):
    path = tmp_path / "x.csv"
    path.write_bytes("病案号,性别\nA1,男\n".encode(encoding))
    assert detect_encoding(path) == expected
    source = open_input(path)
    assert source.names == ["病案号", "性别"]
    assert _col(next(source.batches(10)), "性别") == ["男"]


def test_encoding_detection_looks_past_an_ascii_start(tmp_path, monkeypatch):
    import foundation.files

    monkeypatch.setattr(foundation.files, "SAMPLE_BYTES", 64)
    path = tmp_path / "x.csv"
    path.write_bytes(("case_id,dept\n" + "A1,x\n" * 40 + "A2,心内科\n").encode("gb18030"))
    assert detect_encoding(path) == "gb18030"


def test_binary_or_undecodable_text_is_an_input_error(tmp_path):
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"a,b\n\x00\x01\x02")
    with pytest.raises(InputError, match="binary"):
        open_input(binary)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n\xff\xfe\xff,\x80\x80\n")
    with pytest.raises(InputError, match="neither UTF-8 nor GB18030"):
        open_input(bad)


def test_ragged_csv_rows_are_kept_with_a_warning(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8,9\n\n10,11,12\n", encoding="utf-8")
    table = pa.concat_tables(open_input(path).batches(2))
    assert _col(table, "a") == ["1", "4", "6", "10"]
    assert _col(table, "c") == ["3", "", "8", "12"]
    notes = _col(table, ROW_WARNING)
    assert notes[0] is None and "2" in notes[1] and "9" in notes[2] and notes[3] is None


def test_a_bad_row_late_in_the_file_switches_readers_without_losing_rows(tmp_path, monkeypatch):
    import foundation.files

    monkeypatch.setattr(foundation.files, "BLOCK_BYTES", 256)  # many Arrow blocks before the bad row
    rows = [f"{i},{i % 2 + 1},\"x\ny\"" for i in range(200)]
    rows[150] += ",extra"
    csv_path = tmp_path / "late.csv"
    csv_path.write_text("case_id,sex,note\n" + "\n".join(rows) + "\n", encoding="gb18030")
    table = pa.concat_tables([t.select(["case_id", "note"]) for t in open_input(csv_path).batches(32)])
    assert _col(table, "case_id") == [str(i) for i in range(200)]
    assert _col(table, "note")[150] == "x\ny"

    lines = [json.dumps({"case_id": str(i), "age_years": i}) for i in range(200)]
    lines[150] = json.dumps({"case_id": "150", "age_years": "old"})
    json_path = tmp_path / "late.jsonl"
    json_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    batches = list(open_input(json_path).batches(32))
    assert [v for t in batches for v in _col(t, "case_id")] == [str(i) for i in range(200)]
    assert [str(v) for t in batches for v in _col(t, "age_years")][150] == "old"


def test_tab_separated_utf16_text(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes("病案号\t性别\nA1\t女\n".encode("utf-16"))
    assert _col(next(open_input(path).batches(5)), "性别") == ["女"]


def test_jsonl_with_changing_types_and_bad_lines(tmp_path):
    path = tmp_path / "x.jsonl"
    lines = [json.dumps({"case_id": "a", "age_years": 5}), "", json.dumps({"case_id": "b", "age_years": "x"}),
             "not json", json.dumps([1, 2]), json.dumps({"case_id": "c", "secondary_dx": ["A", "B"], "new": 1})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    source = open_input(path)
    table = pa.concat_tables([t.select(source.names) if ROW_WARNING not in t.column_names
                              else t for t in source.batches(100)], promote_options="permissive")
    assert table.num_rows == 5
    assert _col(table, "case_id") == ["a", "b", None, None, "c"]
    assert _col(table, "secondary_dx")[4] == "A|B"
    notes = _col(table, ROW_WARNING)
    assert "not a JSON object" in notes[2] and "not a JSON object" in notes[3]


def test_json_array_file(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps([{"case_id": "a"}, {"case_id": "b"}]), encoding="utf-8")
    assert _col(pa.concat_tables(open_input(path).batches(1)), "case_id") == ["a", "b"]


def test_xlsx_reader(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    import datetime as dt

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["病案号", "性别", "年龄", "入院日期", None, "备注"])
    sheet.append(["A1", 1, 65.0, dt.datetime(2024, 1, 2), None, None])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["A2", "女", 3.5, dt.date(2024, 2, 3), None, "x", "beyond"])
    path = tmp_path / "x.xlsx"
    book.save(path)
    source = open_input(path)
    assert source.names == ["病案号", "性别", "年龄", "入院日期", "列5", "备注"]
    table = pa.concat_tables(source.batches(10))
    assert _col(table, "年龄") == ["65", "3.5"]
    assert _col(table, "入院日期") == ["2024-01-02", "2024-02-03"]
    assert "beyond" in _col(table, ROW_WARNING)[1]


def test_unknown_or_missing_inputs(tmp_path):
    with pytest.raises(InputError, match="unknown input format"):
        open_input(tmp_path / "x.xls")
    with pytest.raises(InputError, match="no such file"):
        open_input(tmp_path / "x.csv")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet")
    with pytest.raises(InputError, match="Parquet"):
        open_input(junk)
    junk_xlsx = tmp_path / "junk.xlsx"
    junk_xlsx.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="XLSX"):
        open_input(junk_xlsx)


@pytest.mark.parametrize("value, text", [
    (None, None), (1, "1"), (65.0, "65"), (3.5, "3.5"), (True, "true"), ("K35", "K35"), (["A", "B"], "A|B"),
    ({"a": 1}, '{"a": 1}'),
])
def test_cell_text(value, text):
    assert _cell_text(value) == text


# --- duplicate case ids --------------------------------------------------------------------

def test_duplicates_within_and_across_batches():
    tracker = DuplicateTracker(capacity=4)  # small, so that it has to grow
    first = tracker.first_rows(pa.array(["a", "b", "a", None, "", "c"]), 1)
    assert first.tolist() == [-1, -1, 1, -1, -1, -1]
    second = tracker.first_rows(pa.array(["c", "d", "b"] + [f"x{i}" for i in range(100)]), 7)
    assert second[:3].tolist() == [6, -1, 2]
    assert (second[3:] == -1).all()
    assert len(tracker) == 3 + 101  # a, b, c; then d and x0…x99


def test_duplicates_keep_row_numbers_beyond_32_bits():
    tracker = DuplicateTracker(capacity=4)
    tracker.first_rows(pa.array(["a", "b"]), 1)
    far = 2**31 + 5  # a stream longer than int32 row numbers: the table widens and keeps the earlier rows
    assert tracker.first_rows(pa.array(["c", "a"]), far).tolist() == [-1, 1]
    assert tracker.first_rows(pa.array(["c", "b"] + [f"x{i}" for i in range(50)]), far + 2)[:2].tolist() == [far, 2]


def test_hash_of_sliced_and_chunked_columns():
    values = pa.array(["x", "yy", "zzz", "yy"])
    assert (hash_strings(values.slice(1)) == hash_strings(pa.array(["yy", "zzz", "yy"]))).all()
    assert hash_strings(pa.chunked_array([values[:2], values[2:]])).tolist() == hash_strings(values).tolist()
    assert hash_strings(pa.array([1, 2, 1])).tolist()[0] == hash_strings(pa.array(["1"])).tolist()[0]
    assert hash_strings(values)[1] == hash_strings(values)[3] != 0
    assert np.all(hash_strings(pa.array([None, ""])) == 0)


def test_bom_is_not_part_of_the_first_header(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(codecs.BOM_UTF8 + "病案号,性别\nA,1\n".encode())
    assert open_input(path).names[0] == "病案号"


def test_parquet_output_gives_dictionaries_only_to_repeating_columns(tmp_path):
    """Ids and row numbers are written plain; labels keep a dictionary (Arrow dictionaries or repeating text)."""
    from foundation.files import DICTIONARY_SAMPLE, ResultWriter

    n = 2 * DICTIONARY_SAMPLE
    table = pa.table({"case_id": [f"C{i:06d}" for i in range(n)], "row_no": np.arange(1, n + 1),
                      "severity": ["error", "warning"] * (n // 2),
                      "drg": pa.array(["AA19", "BB11"] * (n // 2)).dictionary_encode()})
    writer = ResultWriter(tmp_path / "out.parquet")
    writer.write(table)
    writer.write(table.slice(0, 10))
    writer.close()
    row_group = pq.ParquetFile(tmp_path / "out.parquet").metadata.row_group(0)
    encodings = {row_group.column(i).path_in_schema: row_group.column(i).encodings for i in range(4)}
    assert [name for name, used in encodings.items() if "RLE_DICTIONARY" in used] == ["severity", "drg"]
    assert pq.read_table(tmp_path / "out.parquet").slice(0, n).cast(table.schema).equals(table)


def test_intake_in_the_background_gives_the_same_warnings_and_counts():
    """Warnings worked out beside the caller: the same rows, texts and counts, batches taken in order."""
    from icd_tables.intake.reader import RecordIntake

    plan = plan_columns(["case_id", "sex", "age_years", "principal_dx"])
    batches = [pa.table({"case_id": ["A", "B", "A", "", None], "sex": ["1", "2", "x", "1", "2"],
                         "age_years": ["30", "200", "5", "-1", "40"], "principal_dx": ["I10"] * 5}),
               pa.table({"case_id": ["C", "B", "C"], "sex": ["1"] * 3, "age_years": ["1"] * 3,
                         "principal_dx": ["J18.9"] * 3})]
    inline, beside = RecordIntake(plan), RecordIntake(plan, background=True)
    pending, row_no = [], 1
    for raw in batches:  # all submitted before any is read
        pending.append((inline(raw, row_no), beside(raw, row_no)))
        row_no += raw.num_rows
    for expected, got in pending:
        assert got.warnings.to_pylist() == expected.warnings.to_pylist()
        assert got.records.equals(expected.records)
    assert "病案号重复 duplicate case_id" in beside.warning_counts
    assert beside.warning_counts == inline.warning_counts


@settings(max_examples=60, deadline=None)
@given(cost=st.lists(st.one_of(st.none(), st.decimals(-10 ** 16 + 1, 10 ** 16 - 1, places=2)), min_size=1, max_size=6),
       split=st.booleans(), age=st.integers(-5, 200), day=st.integers(0, 30_000))
def test_a_table_read_before_is_returned_as_it_is_read(cost, split, age, day):
    """A table whose fields have their read types (one capability handing its table to the next) is returned
    unchanged, exactly where reading it again would change nothing: an amount out of range, a column in pieces
    or a field of another type are read as ever."""
    n = len(cost)
    table = pa.table({"case_id": [str(k) for k in range(n)], "age_years": pa.array([age] * n, pa.int64()),
                      "discharge_date": pa.array([day] * n, pa.date32()),
                      "total_cost": pa.array(cost, pa.decimal128(18, 2)), "other": list(range(n))})
    if split and n > 1:
        table = pa.concat_tables([table.slice(0, 1), table.slice(1)])
    with mock.patch.object(values, "_read_already", return_value=False):
        read = values.canonical_records(table)
    again = values.canonical_records(table)
    assert again.column_names == read.column_names
    assert all(again.column(k).combine_chunks().equals(read.column(k).combine_chunks())
               for k in range(read.num_columns))
    in_range = all(c is None or abs(c) < 10 ** 15 for c in cost)
    assert (again is table) == (in_range and not (split and n > 1))
