"""Rule book and record rules (病案首页质控): each rule fires on a record made for it and not on its twin.

Records are hand-made on the bundled ``example-mini`` pack (codes in its map:
J18.900, I21.900, I21.901 → I21.900, K35.800X001 → K35.800x001, N40.x00 in
MDC M (XB = 1), N80.000 in MDC N (XB = 2), procedure 36.0601 → 36.0600, …).
Codes outside that map (T90.000, V01.x00, …) are fatal for the grouper, which
the lead's rules report; the record rules still classify them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit._kernels import _repeated_codes
from audit.findings import FINDING_SCHEMA
from audit.record_rules import RECORD_RULES, record_findings
from audit.rulebook import RuleBook, RuleBookError, code_ranges
from icd_tables.pack import Pack
from icd_tables.schema import COLUMNS
from tests.conftest import TABLES, require_shared

PACK = Pack.load("example-mini")
BOOK = RuleBook.load()
LEAD_RULES = ("FATAL_PDX_MISSING", "FATAL_DX_UNMAPPED", "FATAL_PROC_UNMAPPED", "FATAL_RECORD_CHECK", "DRG_OR_PROC_NOT_TAKEN",
              "DRG_PRINCIPAL_PROC_ORDER", "DRG_CC_EXCLUDED", "WHATIF_UNDERCODING", "WHATIF_UPCODING")


def record(**changes) -> dict:
    """A record no record rule objects to: a 60-year-old man with pneumonia, 5 days, 1 January 2024."""
    base = dict(case_id="C1", sex=1, age_years=60, age_days=None, birth_weight_g=None, principal_dx="J18.900",
                secondary_dx="", procedures="", los_days=5, discharge_method=1, total_cost=5000.0,
                admit_date="2024-01-01", discharge_date="2024-01-06", hospital_id="H1", dept="呼吸内科")
    return {**base, **changes}


def found(*records, book: RuleBook = BOOK, pack=PACK) -> pd.DataFrame:
    return record_findings(list(records), pack, book).to_pandas()


def only(rule_id: str, *records, book: RuleBook = BOOK, pack=PACK) -> pd.DataFrame:
    frame = found(*records, book=book, pack=pack)
    return frame[frame["rule_id"] == rule_id].reset_index(drop=True)


def texts(frame: pd.DataFrame) -> list[tuple]:
    return list(frame[["field", "value", "message_zh", "message_en"]].itertuples(index=False, name=None))


def test_clean_record_has_no_finding():
    assert found(record()).empty


# ------------------------------------------------------------------------------------------ codes


def test_dx_mapped_names_source_and_target():
    hits = only("DX_MAPPED", record(principal_dx="I21.901", secondary_dx="K35.800X001"))
    assert texts(hits) == [
        ("principal_dx", "I21.901", "主要诊断 I21.901 经分组方案映射转换为 I21.900",
         "principal diagnosis I21.901 is rewritten to I21.900 by the pack's code map"),
        ("secondary_dx", "K35.800X001", "其他诊断 K35.800X001 经分组方案映射转换为 K35.800x001",
         "other diagnosis K35.800X001 is rewritten to K35.800x001 by the pack's code map"),
    ]
    assert hits["severity"].tolist() == ["info", "info"]
    assert only("DX_MAPPED", record(principal_dx="I21.900", secondary_dx="K35.800x001")).empty


def test_proc_mapped():
    hits = only("PROC_MAPPED", record(procedures="36.0601|88.7201"))
    assert texts(hits) == [("procedures", "36.0601", "手术操作编码 36.0601 经分组方案映射转换为 36.0600",
                            "procedure 36.0601 is rewritten to 36.0600 by the pack's code map")]
    assert hits["suggestion"].tolist() == ["改用现行编码 36.0600（use the current code 36.0600）"]
    assert only("PROC_MAPPED", record(procedures="36.0600")).empty


def test_dx_duplicate_one_finding_per_code():
    hits = only("DX_DUPLICATE", record(secondary_dx="E87.600|I50.900|E87.600|E87.600|I50.900"))
    # E87.600 three times, I50.900 twice: one finding each
    assert sorted(texts(hits)) == [
        ("secondary_dx", "E87.600", "其他诊断编码 E87.600 重复填写 3 次", "other diagnosis E87.600 is entered 3 times"),
        ("secondary_dx", "I50.900", "其他诊断编码 I50.900 重复填写 2 次", "other diagnosis I50.900 is entered 2 times"),
    ]
    assert hits["severity"].unique().tolist() == ["error"]
    assert only("DX_DUPLICATE", record(secondary_dx="E87.600|I50.900")).empty


def test_pdx_in_secondary_is_not_also_a_duplicate():
    rec = record(secondary_dx="J18.900|E87.600|J18.900")
    hits = only("PDX_IN_SECONDARY", rec)
    assert texts(hits) == [("secondary_dx", "J18.900", "主要诊断 J18.900 在其他诊断中重复出现",
                            "the principal diagnosis J18.900 is repeated among the other diagnoses")]
    assert hits["suggestion"].tolist() == ["从其他诊断中删除 J18.900（remove J18.900 from the other diagnoses）"]
    assert only("DX_DUPLICATE", rec).empty
    assert only("PDX_IN_SECONDARY", record(secondary_dx="J15.900")).empty


def test_proc_duplicate():
    hits = only("PROC_DUPLICATE", record(procedures="47.0100|88.7201|47.0100"))
    assert texts(hits) == [("procedures", "47.0100", "手术操作编码 47.0100 重复填写 2 次",
                            "procedure 47.0100 is entered 2 times")]
    assert hits["severity"].tolist() == ["warning"]
    assert only("PROC_DUPLICATE", record(procedures="47.0100|88.7201")).empty


def test_list_columns_read_like_joined_text():
    table = pa.table({"case_id": ["a"], "sex": [1], "age_years": [60], "principal_dx": ["J18.900"],
                      "secondary_dx": pa.array([["E87.600", "E87.600"]], pa.list_(pa.string()))})
    hits = record_findings(table, PACK, BOOK).to_pandas()
    assert hits[hits["rule_id"] == "DX_DUPLICATE"]["value"].tolist() == ["E87.600"]


# ------------------------------------------------------------------------------------------ principal diagnosis


def test_pdx_sequela_principal_only():
    hits = only("PDX_SEQUELA", record(principal_dx="T90.000"))
    assert texts(hits) == [("principal_dx", "T90.000", "主要诊断 T90.000 为后遗症编码",
                            "principal diagnosis T90.000 is a sequela code")]
    assert hits["severity"].tolist() == ["warning"]
    assert only("PDX_SEQUELA", record(secondary_dx="T90.000")).empty
    assert only("PDX_SEQUELA", record(principal_dx="T89.000")).empty


def test_pdx_sequela_pack_sets():
    book = RuleBook.loads('[rules.PDX_SEQUELA]\npack_sets = ["DI_FT1"]')  # example-mini: I50.000, I50.900
    assert only("PDX_SEQUELA", record(principal_dx="I50.900"), book=book)["value"].tolist() == ["I50.900"]
    assert only("PDX_SEQUELA", record(principal_dx="I50.900")).empty


def test_pdx_external_cause():
    hits = only("PDX_EXTERNAL_CAUSE", record(principal_dx="W12.x00"), record(principal_dx="V01.x00"))
    assert texts(hits) == [
        ("principal_dx", "W12.x00", "主要诊断 W12.x00 为损伤和中毒的外部原因编码，不能作为主要诊断",
         "principal diagnosis W12.x00 is an external-cause code (V01-Y98), which cannot be the principal diagnosis"),
        ("principal_dx", "V01.x00", "主要诊断 V01.x00 为损伤和中毒的外部原因编码，不能作为主要诊断",
         "principal diagnosis V01.x00 is an external-cause code (V01-Y98), which cannot be the principal diagnosis"),
    ]
    # Y99 is past the range, XYZ is no ICD-10 category, a secondary external cause is where it belongs
    assert only("PDX_EXTERNAL_CAUSE", record(principal_dx="Y99.000"), record(principal_dx="XYZ.680"),
                record(secondary_dx="W12.x00")).empty


def test_pdx_morphology():
    hits = only("PDX_MORPHOLOGY", record(principal_dx="M8140/3"))
    assert texts(hits) == [("principal_dx", "M8140/3", "主要诊断 M8140/3 为肿瘤形态学编码，不能作为主要诊断",
                            "principal diagnosis M8140/3 is a morphology code of a neoplasm, "
                            "which cannot be the principal diagnosis")]
    assert only("PDX_MORPHOLOGY", record(principal_dx="M81.000"), record(secondary_dx="M8140/3")).empty


@pytest.mark.parametrize("code", ["G01*", "†G01*", "G63.2*x001"])
def test_pdx_asterisk(code):
    hits = only("PDX_ASTERISK", record(principal_dx=code))
    assert texts(hits) == [("principal_dx", code, f"主要诊断 {code} 为星号（*）编码，不能单独作为主要诊断",
                            f"principal diagnosis {code} is an asterisk (manifestation) code, "
                            "which cannot be the principal diagnosis alone")]


@pytest.mark.parametrize("code", ["A17.0†G01*", "A02.204+M90.2*", "A17.000"])
def test_pdx_dagger_codes_are_fine(code):
    assert only("PDX_ASTERISK", record(principal_dx=code)).empty


# ------------------------------------------------------------------------------------------ sex and age


def test_sex_dx_conflict_from_ranges():
    hits = only("SEX_DX_CONFLICT", record(sex=1, principal_dx="O80.000"),
                record(sex=2, principal_dx="J18.900", secondary_dx="C61.x00"))
    assert texts(hits) == [
        ("principal_dx", "O80.000", "主要诊断 O80.000 仅用于女性患者，而患者性别为男",
         "principal diagnosis O80.000 applies to female patients only, but the patient is male"),
        ("secondary_dx", "C61.x00", "其他诊断 C61.x00 仅用于男性患者，而患者性别为女",
         "other diagnosis C61.x00 applies to male patients only, but the patient is female"),
    ]
    assert hits["row_no"].tolist() == [1, 2]
    # the right sex, or a sex the grouper rejects (the lead's fatal record check)
    assert only("SEX_DX_CONFLICT", record(sex=2, principal_dx="O80.000"), record(sex=9, principal_dx="O80.000"),
                record(sex=None, principal_dx="C61.x00")).empty


def test_sex_dx_conflict_from_pack_lists():
    # no ranges: only example-mini's MDC M (ZYZD in DI_M00 and XB = 1) and MDC N lists remain
    book = RuleBook.loads('[rules.SEX_DX_CONFLICT]\nmale_codes = ""\nfemale_codes = ""')
    hits = only("SEX_DX_CONFLICT", record(sex=2, principal_dx="N40.x00"), record(sex=1, secondary_dx="N80.000"),
                book=book)
    assert hits[["row_no", "value"]].values.tolist() == [[1, "N40.x00"], [2, "N80.000"]]
    off = RuleBook.loads('[rules.SEX_DX_CONFLICT]\nmale_codes = ""\nfemale_codes = ""\nuse_pack_lists = false')
    assert only("SEX_DX_CONFLICT", record(sex=2, principal_dx="N40.x00"), book=off).empty


def test_sex_dx_conflict_national_pack_lists():
    pack = Pack.load(require_shared(TABLES / "chs-drg-1.1"))
    # 结核性输卵管炎 is in the MDC N list only, 前列腺结核 in the MDC M list only; no range of the book holds A18
    hits = only("SEX_DX_CONFLICT", record(sex=1, principal_dx="A18.100x026+N74.1*"),
                record(sex=2, principal_dx="A18.109+N51.0*"), record(sex=2, principal_dx="A18.100x026+N74.1*"),
                pack=pack)
    assert hits[["row_no", "value"]].values.tolist() == [[1, "A18.100x026+N74.1*"], [2, "A18.109+N51.0*"]]


def test_sex_proc_conflict():
    hits = only("SEX_PROC_CONFLICT", record(sex=1, procedures="88.7201|68.4901"), record(sex=2, procedures="60.2901"))
    assert texts(hits) == [
        ("procedures", "68.4901", "手术操作 68.4901 仅用于女性患者，而患者性别为男",
         "procedure 68.4901 applies to female patients only, but the patient is male"),
        ("procedures", "60.2901", "手术操作 60.2901 仅用于男性患者，而患者性别为女",
         "procedure 60.2901 applies to male patients only, but the patient is female"),
    ]
    assert only("SEX_PROC_CONFLICT", record(sex=2, procedures="68.4901|74.1x00"), record(sex=1, procedures="59.0000"),
                record(sex=1, procedures="76.0000")).empty


def test_age_pregnancy():
    hits = only("AGE_PREGNANCY", record(sex=2, age_years=8, principal_dx="O80.000"),
                record(sex=2, age_years=60, secondary_dx="O99.000"))
    assert texts(hits) == [
        ("principal_dx", "O80.000", "主要诊断 O80.000 为妊娠相关编码，患者年龄 8 岁不在 12-55 岁之间",
         "principal diagnosis O80.000 is a pregnancy code but the patient is 8 years old (expected 12-55)"),
        ("secondary_dx", "O99.000", "其他诊断 O99.000 为妊娠相关编码，患者年龄 60 岁不在 12-55 岁之间",
         "other diagnosis O99.000 is a pregnancy code but the patient is 60 years old (expected 12-55)"),
    ]
    assert only("AGE_PREGNANCY", record(sex=2, age_years=12, principal_dx="O80.000"),
                record(sex=2, age_years=55, principal_dx="O80.000"),
                record(sex=2, age_years=None, principal_dx="O80.000")).empty


def test_age_perinatal():
    hits = only("AGE_PERINATAL", record(age_years=3, secondary_dx="P59.900"))
    assert texts(hits) == [("secondary_dx", "P59.900", "其他诊断 P59.900 为起源于围生期的疾病编码，而患者年龄为 3 岁",
                            "other diagnosis P59.900 is a perinatal code but the patient is 3 years old")]
    assert only("AGE_PERINATAL", record(age_years=0, age_days=20, birth_weight_g=3000, principal_dx="P59.900")).empty


def test_age_range():
    hits = only("AGE_RANGE", record(age_years=130), record(age_years=-1))
    assert texts(hits) == [("age_years", "130", "年龄 130 岁不在 0-120 岁之间", "age 130 years is outside 0-120"),
                           ("age_years", "-1", "年龄 -1 岁不在 0-120 岁之间", "age -1 years is outside 0-120")]
    assert only("AGE_RANGE", record(age_years=120), record(age_years=0, age_days=100)).empty


def test_age_days_missing():
    hits = only("AGE_DAYS_MISSING", record(age_years=0, age_days=None), record(age_years=0, age_days="abc"))
    assert texts(hits) == [("age_days", "", "年龄为0岁，但未填写年龄不足1周岁的天数", "age is 0 years but the age in days is missing"),
                           ("age_days", "abc", "年龄为0岁，但未填写年龄不足1周岁的天数", "age is 0 years but the age in days is missing")]
    assert only("AGE_DAYS_MISSING", record(age_years=0, age_days=100), record(age_years=1)).empty


def test_age_days_range():
    hits = only("AGE_DAYS_RANGE", record(age_years=0, age_days=400))
    assert texts(hits) == [("age_days", "400", "年龄不足1周岁的天数 400 不在 0-365 天之间",
                            "age in days 400 is outside 0-365")]
    assert only("AGE_DAYS_RANGE", record(age_years=0, age_days=365), record(age_years=0, age_days=0,
                                                                             birth_weight_g=3000)).empty


def test_newborn_weight_missing():
    hits = only("NEWBORN_WEIGHT_MISSING", record(age_years=0, age_days=5))
    assert texts(hits) == [("birth_weight_g", "", "出生 5 天的新生儿未填写新生儿出生体重",
                            "birth weight is missing for a newborn of 5 days")]
    assert only("NEWBORN_WEIGHT_MISSING", record(age_years=0, age_days=29), record(age_years=0, age_days=28,
                                                                                   birth_weight_g=3000)).empty


def test_newborn_weight_range():
    hits = only("NEWBORN_WEIGHT_RANGE", record(age_years=0, age_days=5, birth_weight_g=250),
                record(age_years=0, age_days=5, birth_weight_g=3000, admission_weight_g=7001))
    assert texts(hits) == [
        ("birth_weight_g", "250", "新生儿出生体重 250 克不在 300-7000 克之间", "birth weight 250 g is outside 300-7000 g"),
        ("admission_weight_g", "7001", "新生儿入院体重 7001 克不在 300-7000 克之间",
         "admission weight 7001 g is outside 300-7000 g"),
    ]
    # the bounds themselves are plausible; adults' exports often carry 0 in the newborn fields
    assert only("NEWBORN_WEIGHT_RANGE", record(age_years=0, age_days=5, birth_weight_g=300),
                record(age_years=0, age_days=5, birth_weight_g=7000), record(age_years=40, birth_weight_g=0)).empty


def test_threshold_from_the_rule_book():
    book = RuleBook.loads("[rules.NEWBORN_WEIGHT_RANGE]\nmin_g = 500")
    hits = only("NEWBORN_WEIGHT_RANGE", record(age_years=0, age_days=5, birth_weight_g=400), book=book)
    assert hits["message_zh"].tolist() == ["新生儿出生体重 400 克不在 500-7000 克之间"]


# ------------------------------------------------------------------------------------------ administration


def test_los_invalid():
    hits = only("LOS_INVALID", record(los_days=0), record(los_days=None), record(los_days="abc"),
                record(los_days=-2, admit_date=None))
    assert hits["value"].tolist() == ["0", "", "abc", "-2"]
    assert hits["message_zh"].tolist()[0] == "实际住院天数应为大于0的整数，填写的是“0”"
    assert hits["message_en"].tolist()[2] == "length of stay must be a whole number above 0; found 'abc'"
    assert only("LOS_INVALID", record(los_days="5")).empty


def test_los_dates_mismatch():
    hits = only("LOS_DATES_MISMATCH", record(los_days=7))
    # 2024-01-06 - 2024-01-01 = 5 days
    assert texts(hits) == [("los_days", "7", "实际住院天数 7 与入院日期 2024-01-01、出院日期 2024-01-06 不符（应为 5 天）",
                            "length of stay 7 does not match admission 2024-01-01 and discharge 2024-01-06 (5 days)")]
    same_day = record(los_days=1, discharge_date="2024-01-01")  # counts 1 day
    assert only("LOS_DATES_MISMATCH", same_day, record(los_days=5), record(los_days=7, admit_date=None)).empty
    lenient = RuleBook.loads("[rules.LOS_DATES_MISMATCH]\ntolerance_days = 2")
    assert only("LOS_DATES_MISMATCH", record(los_days=7), book=lenient).empty


def test_discharge_before_admission():
    rec = record(admit_date="2024-01-06", discharge_date="2024-01-01")
    hits = only("DISCHARGE_BEFORE_ADMISSION", rec)
    assert texts(hits) == [("discharge_date", "2024-01-01", "出院日期 2024-01-01 早于入院日期 2024-01-06",
                            "discharge date 2024-01-01 is before the admission date 2024-01-06")]
    assert only("LOS_DATES_MISMATCH", rec).empty
    assert only("DISCHARGE_BEFORE_ADMISSION", record(discharge_date="2024-01-01")).empty


def test_date_invalid():
    hits = only("DATE_INVALID", record(admit_date="2024-02-30"), record(discharge_date="next week"))
    assert texts(hits) == [("admit_date", "2024-02-30", "入院日期“2024-02-30”不是有效日期",
                            "admission date '2024-02-30' is not a valid date"),
                           ("discharge_date", "next week", "出院日期“next week”不是有效日期",
                            "discharge date 'next week' is not a valid date")]
    other_forms = record(admit_date="2024/01/01", discharge_date="20240106 10:30", settlement_date="2024-01-07 08:00:00")
    assert found(other_forms).empty
    dates = pa.table({"case_id": ["a"], "sex": [1], "age_years": [60], "principal_dx": ["J18.900"], "los_days": [5],
                      "admit_date": pa.array([dt.date(2024, 1, 1)]), "discharge_date": pa.array([dt.date(2024, 1, 6)]),
                      "total_cost": [10.0], "discharge_method": [1]})
    assert record_findings(dates, PACK, BOOK).num_rows == 0


def test_cost_invalid():
    hits = only("COST_INVALID", record(total_cost=0), record(total_cost=-5.5), record(total_cost=None),
                record(total_cost="免费"))
    assert hits["value"].tolist() == ["0.00", "-5.50", "", "免费"]  # amounts in their canonical form
    assert hits["message_zh"].tolist()[0] == "总费用应为大于0的金额（元），填写的是“0.00”"
    assert hits["message_en"].tolist()[3] == "total cost must be an amount above 0 yuan; found '免费'"
    assert only("COST_INVALID", record(total_cost="5000.00"), record(total_cost=0.01)).empty


def test_discharge_method_unknown():
    hits = only("DISCHARGE_METHOD_UNKNOWN", record(discharge_method=7), record(discharge_method=None))
    assert texts(hits) == [
        ("discharge_method", "7", "离院方式“7”无效，应为 1, 2, 3, 4, 5, 9 之一",
         "discharge method '7' is unknown; it must be one of 1, 2, 3, 4, 5, 9"),
        ("discharge_method", "", "离院方式“”无效，应为 1, 2, 3, 4, 5, 9 之一",
         "discharge method '' is unknown; it must be one of 1, 2, 3, 4, 5, 9"),
    ]
    assert only("DISCHARGE_METHOD_UNKNOWN", record(discharge_method=5), record(discharge_method="9")).empty


# ------------------------------------------------------------------------------------------ the batch as a whole


def test_rows_ids_order_and_switching_off():
    records = [record(case_id="A", secondary_dx="E87.600|E87.600"), record(case_id="B"),
               record(case_id="C", principal_dx="T90.000", los_days=0)]
    table = record_findings(records, PACK, BOOK, first_row_no=101)
    assert table.schema == FINDING_SCHEMA
    assert table.to_pandas()[["case_id", "row_no", "rule_id"]].values.tolist() == [
        ["A", 101, "DX_DUPLICATE"], ["C", 103, "PDX_SEQUELA"], ["C", 103, "LOS_INVALID"]]
    off = RuleBook.loads("[rules.PDX_SEQUELA]\nenabled = false")
    assert record_findings(records, PACK, off).column("rule_id").to_pylist() == ["DX_DUPLICATE", "LOS_INVALID"]


def test_every_record_rule_is_in_the_book_with_a_schema_field():
    names = {c.name for c in COLUMNS}
    assert set(RECORD_RULES) | set(LEAD_RULES) == set(BOOK.ids)
    for rule_id in RECORD_RULES:
        rule = BOOK.rule(rule_id)
        assert rule.severity in ("error", "warning", "info") and rule.title_zh
        assert set(rule.fields) <= names, rule_id
    assert [BOOK.rule(r).severity for r in LEAD_RULES[:4]] == ["fatal"] * 4
    assert BOOK.rule("WHATIF_UPCODING").params == {"ratio": 1.5, "min_gain_yuan": 2000, "other_adrg_ratio": 2.0,
                                                   "other_adrg_min_gain_yuan": 30000, "rate_yuan": 10000}


def test_no_records_and_missing_columns():
    assert record_findings([], PACK, BOOK).num_rows == 0
    # only a principal diagnosis: the administrative fields are reported missing, nothing raises
    hits = record_findings(pa.table({"principal_dx": ["T90.000"]}), PACK, BOOK).to_pandas()
    assert hits["rule_id"].tolist() == ["PDX_SEQUELA", "LOS_INVALID", "COST_INVALID", "DISCHARGE_METHOD_UNKNOWN"]
    assert hits["case_id"].isna().all()


_VALUES = st.one_of(
    st.none(), st.integers(-2**40, 2**40), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.booleans(), st.sampled_from(["J18.900", "E87.600|E87.600", "O80.000", "N40.x00",
                                                          "36.0601", "2024-01-01", "0", "1", "2", "T90.000", "G01*"]),
    st.dates().map(str), st.lists(st.text(max_size=6), max_size=3),
)
_COLUMNS = [c.name for c in COLUMNS]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({}, optional={name: _VALUES for name in _COLUMNS}), max_size=6))
def test_fuzzed_records_give_findings_never_exceptions(rows):
    table = record_findings(rows, PACK, BOOK)
    assert table.schema == FINDING_SCHEMA
    if rows:
        assert set(table.column("row_no").to_pylist()) <= set(range(1, len(rows) + 1))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(
    [pa.int64(), pa.float64(), pa.string(), pa.large_string(), pa.bool_(), pa.date32(), pa.binary(),
     pa.list_(pa.int64()), pa.struct([("a", pa.int64())]), pa.null()]), min_size=len(_COLUMNS),
    max_size=len(_COLUMNS)), st.integers(0, 4))
def test_fuzzed_column_types(types, n):
    rng = np.random.default_rng(n)
    columns = {}
    for name, kind in zip(_COLUMNS, types):
        if rng.random() < 0.2:
            continue  # an absent column
        values = {pa.int64(): lambda: int(rng.integers(-5, 40)), pa.float64(): lambda: float(rng.normal()),
                  pa.string(): lambda: "J18.900", pa.large_string(): lambda: "2024-01-01",
                  pa.bool_(): lambda: True, pa.date32(): lambda: dt.date(2024, 1, 1), pa.binary(): lambda: b"\xff\x00",
                  pa.list_(pa.int64()): lambda: [1, 2], pa.struct([("a", pa.int64())]): lambda: {"a": 1},
                  pa.null(): lambda: None}[kind]
        columns[name] = pa.array([None if rng.random() < 0.3 else values() for _ in range(n)], kind)
    table = record_findings(pa.table(columns) if columns else pa.table({"x": [0] * n}), PACK, BOOK)
    assert table.schema == FINDING_SCHEMA


# ------------------------------------------------------------------------------------------ the rule book


def test_rule_book_defaults_and_partial_override(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[rules.PDX_SEQUELA]\nseverity = "error"\ncodes = "T90-T98"\n'
                    '[rules.AGE_RANGE]\nmessage_zh = "年龄{age}超出{max_age_years}"\n', encoding="utf-8")
    book = RuleBook.load(path)
    assert book.rule("PDX_SEQUELA").severity == "error"
    assert book.rule("PDX_SEQUELA").params == {"codes": "T90-T98", "pack_sets": []}
    assert book.rule("PDX_SEQUELA").message_zh == BOOK.rule("PDX_SEQUELA").message_zh
    assert book.rule("AGE_RANGE").format(age=130)[0] == "年龄130超出120"
    assert book.rule("DX_MAPPED") == BOOK.rule("DX_MAPPED")
    assert book.sources[-1] == str(path)


@pytest.mark.parametrize("text, error", [
    ('[rules.NOPE]\nenabled = false', "rule NOPE: unknown rule"),
    ('[rules.PDX_SEQUELA]\ncolour = "red"', "rule PDX_SEQUELA: unknown key 'colour'"),
    ('[rules.PDX_SEQUELA]\nseverity = "severe"', "rule PDX_SEQUELA: severity 'severe' is not one of error, warning, info"),
    ('[rules.PDX_SEQUELA]\nseverity = "fatal"', "rule PDX_SEQUELA: severity 'fatal' is not one of"),
    ('[rules.FATAL_RECORD_CHECK]\nseverity = "warning"', "rule FATAL_RECORD_CHECK: 'severity' of a fatal rule is fixed"),
    ('[rules.FATAL_DX_UNMAPPED]\nenabled = false', "rule FATAL_DX_UNMAPPED: 'enabled' of a fatal rule is fixed"),
    ('[rules.PDX_SEQUELA]\nenabled = "no"', "rule PDX_SEQUELA: 'enabled' must be true or false"),
    ('[rules.PDX_SEQUELA]\nfield = "secondary_dx"', "rule PDX_SEQUELA: key 'field' is fixed"),
    ('[rules.NEWBORN_WEIGHT_RANGE]\nmin_g = "300"', "rule NEWBORN_WEIGHT_RANGE, key 'min_g': must be a whole number"),
    ('[rules.NEWBORN_WEIGHT_RANGE]\nmin_g = 300.5', "rule NEWBORN_WEIGHT_RANGE, key 'min_g': must be a whole number"),
    ('[rules.NEWBORN_WEIGHT_RANGE]\nmin_g = -1', "rule NEWBORN_WEIGHT_RANGE, key 'min_g': must not be negative"),
    ('[rules.NEWBORN_WEIGHT_RANGE]\nmin_g = 8000', "rule NEWBORN_WEIGHT_RANGE: min_g = 8000 is above max_g = 7000"),
    ('[rules.WHATIF_UPCODING]\nratio = "high"', "rule WHATIF_UPCODING, key 'ratio': must be a number"),
    ('[rules.PDX_SEQUELA]\ncodes = "T98-T90"', "rule PDX_SEQUELA, key 'codes': range 'T98-T90' runs backwards"),
    ('[rules.PDX_SEQUELA]\ncodes = "T90-?"', "rule PDX_SEQUELA, key 'codes': 'T90-?' is not a code"),
    ('[rules.PDX_MORPHOLOGY]\npattern = "(M"', "rule PDX_MORPHOLOGY, key 'pattern': not a regular expression"),
    ('[rules.DISCHARGE_METHOD_UNKNOWN]\nallowed = [1, "2"]', "key 'allowed': every item must be a whole number"),
    ('[rules.PDX_SEQUELA]\nmessage_zh = "{icd}"', "rule PDX_SEQUELA, key 'message_zh': unknown placeholder(s) {icd}"),
    ('[rules.PDX_SEQUELA]\nmessage_en = "{code"', "rule PDX_SEQUELA, key 'message_en': bad template"),
    ('[rules.PDX_SEQUELA\n', "not valid TOML"),
    ('severity = "error"', "unknown top-level key(s) severity"),
])
def test_rule_book_errors_name_rule_and_key(text, error):
    with pytest.raises(RuleBookError, match=None) as info:
        RuleBook.loads(text, source="mine.toml")
    assert str(info.value).startswith("mine.toml") and error in str(info.value)


def test_rule_book_missing_file(tmp_path):
    with pytest.raises(RuleBookError, match="not found"):
        RuleBook.load(tmp_path / "absent.toml")


def test_code_ranges():
    assert code_ranges("T90-T98, e64、D07.4–D07.6") == (("T90", "T98"), ("E64", "E64"), ("D07.4", "D07.6"))
    assert code_ranges("") == ()


def test_render_fills_each_distinct_combination_once():
    rule = BOOK.rule("DX_MAPPED")
    zh, en, suggestion = rule.render(3, field_zh="主要诊断", field_en="principal diagnosis",
                                     code=pa.array(["A", "B", "A"]), target=pa.array(["X", "Y", "X"]))
    assert len(zh.dictionary) == 2  # (A, X) and (B, Y)
    assert zh.to_pylist() == ["主要诊断 A 经分组方案映射转换为 X", "主要诊断 B 经分组方案映射转换为 Y",
                              "主要诊断 A 经分组方案映射转换为 X"]
    with pytest.raises(KeyError, match="target"):
        rule.render(1, field_zh="", field_en="", code="A")


# ------------------------------------------------------------------------------------------ plain-Python twin

_DX_POOL = ["J18.900", "I21.901", "I21.900", "K35.800X001", "E87.600", "N40.x00", "N80.000", "O80.000", "P59.900",
            "C61.x00", "T90.000", "", "XYZ"]
_PROC_POOL = ["36.0601", "36.0600", "47.0100", "68.4901", "60.2901", "74.1x00", "88.7201"]
_MAP = {"I21.901": "I21.900", "K35.800X001": "K35.800x001", "36.0601": "36.0600"}  # example-mini's rewrites
_PACK_SEX = {"N40.x00": 1, "N80.000": 2}  # DI_M00 (entry needs XB = 1) and DI_N00 (XB = 2) of example-mini


def _in(code: str, ranges: str) -> bool:
    def starts_like(bound):
        return len(code) >= len(bound) and all(
            (b.isalpha() and c.isalpha()) or (b.isdigit() and c.isdigit()) or b == c for b, c in zip(bound, code))

    return any(starts_like(lo) and starts_like(hi) and code[:len(lo)] >= lo and code[:len(hi)] <= hi
               for lo, hi in code_ranges(ranges))


def naive_findings(rows: list[dict]) -> set[tuple]:
    """The code, sex and age rules one record at a time, the plain way."""
    p = {r: BOOK.rule(r).params for r in RECORD_RULES}
    out = set()
    for row_no, r in enumerate(rows, start=1):
        dx = [("principal_dx", r["principal_dx"])] + [("secondary_dx", c) for c in r["secondary_dx"].split("|") if r["secondary_dx"]]
        procs = r["procedures"].split("|") if r["procedures"] else []
        for field, code in dx:
            if code in _MAP:
                out.add((row_no, "DX_MAPPED", field, code))
            male = _in(code, p["SEX_DX_CONFLICT"]["male_codes"]) or _PACK_SEX.get(code) == 1
            female = _in(code, p["SEX_DX_CONFLICT"]["female_codes"]) or _PACK_SEX.get(code) == 2
            if code and male != female and r["sex"] == (2 if male else 1):
                out.add((row_no, "SEX_DX_CONFLICT", field, code))
            if code and _in(code, "O00-O99") and not 12 <= r["age_years"] <= 55:
                out.add((row_no, "AGE_PREGNANCY", field, code))
            if code and _in(code, "P00-P96") and r["age_years"] > 0:
                out.add((row_no, "AGE_PERINATAL", field, code))
        secondary = [c for f, c in dx[1:]]
        for code in set(secondary):
            if code and code == r["principal_dx"]:
                out.add((row_no, "PDX_IN_SECONDARY", "secondary_dx", code))
            elif code and secondary.count(code) >= 2:
                out.add((row_no, "DX_DUPLICATE", "secondary_dx", code))
        for code in procs:
            if code in _MAP:
                out.add((row_no, "PROC_MAPPED", "procedures", code))
            male, female = _in(code, "60-64"), _in(code, "65-75")
            if male != female and r["sex"] == (2 if male else 1):
                out.add((row_no, "SEX_PROC_CONFLICT", "procedures", code))
            if procs.count(code) >= 2:
                out.add((row_no, "PROC_DUPLICATE", "procedures", code))
        if _in(r["principal_dx"], p["PDX_SEQUELA"]["codes"]):
            out.add((row_no, "PDX_SEQUELA", "principal_dx", r["principal_dx"]))
    return out


_TWIN_RULES = {"DX_MAPPED", "PROC_MAPPED", "DX_DUPLICATE", "PDX_IN_SECONDARY", "PROC_DUPLICATE", "SEX_DX_CONFLICT",
               "SEX_PROC_CONFLICT", "AGE_PREGNANCY", "AGE_PERINATAL", "PDX_SEQUELA"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "sex": st.sampled_from([1, 2, 9]),
    "age_years": st.sampled_from([0, 1, 11, 12, 30, 55, 56, 80]),
    "principal_dx": st.sampled_from(_DX_POOL),
    "secondary_dx": st.lists(st.sampled_from(_DX_POOL), max_size=5).map("|".join),
    "procedures": st.lists(st.sampled_from(_PROC_POOL), max_size=4).map("|".join),
}), min_size=1, max_size=8))
def test_vectorised_rules_agree_with_the_plain_twin(rows):
    rows = [record(case_id=str(i), age_days=100, **r) for i, r in enumerate(rows)]
    frame = found(*rows)
    fast = {t for t in frame[["row_no", "rule_id", "field", "value"]].itertuples(index=False, name=None)
            if t[1] in _TWIN_RULES}
    assert fast == naive_findings(rows)
    once = frame[frame["rule_id"].isin(["DX_DUPLICATE", "PDX_IN_SECONDARY", "PROC_DUPLICATE"])]
    assert not once.duplicated(["row_no", "rule_id", "value"]).any()  # one finding per duplicated code


def repeated_codes_naive(lists: list[list[int]], usable: list[bool], exclude: list[int]) -> list[tuple]:
    """Plain-Python twin of audit._kernels._repeated_codes: (record, code, count), by record, then code."""
    out = []
    for i, codes in enumerate(lists):
        kept = [c for c in codes if usable[c] and c != exclude[i]]
        out += [(i, c, kept.count(c)) for c in sorted(set(kept)) if kept.count(c) >= 2]
    return out


@settings(max_examples=300, deadline=None)
@given(lists=st.lists(st.lists(st.integers(0, 5), max_size=8), max_size=10), data=st.data())
def test_repeated_codes_kernel_matches_naive(lists, data):
    usable = data.draw(st.lists(st.booleans(), min_size=6, max_size=6))
    exclude = data.draw(st.lists(st.integers(-1, 5), min_size=len(lists), max_size=len(lists)))
    starts = np.zeros(len(lists) + 1, np.int64)
    np.cumsum([len(x) for x in lists], out=starts[1:])
    index = np.array([c for x in lists for c in x], dtype=np.int64)
    records, codes, counts = _repeated_codes(starts, index, np.array(usable, dtype=bool),
                                             np.array(exclude, dtype=np.int64))
    assert list(zip(records.tolist(), codes.tolist(), counts.tolist())) == repeated_codes_naive(lists, usable, exclude)


@pytest.mark.parametrize("n", [3, 200])  # filled in Python (a few findings) and with Arrow (many)
def test_filled_messages_are_the_rendered_ones(n):
    rule = BOOK.rule("SEX_DX_CONFLICT")
    rng = np.random.default_rng(n)
    values = dict(field_zh="其他诊断", field_en="other diagnosis",
                  code=pa.array(rng.choice(["N40.x00", "N80.000", None], n).tolist(), pa.string()),
                  allowed_zh=np.array(rng.choice(["男", "女"], n), dtype=object), allowed_en="male",
                  sex_zh=pa.array(rng.integers(1, 3, n)), sex_en=rng.integers(1, 3, n))
    texts, index = rule.fill(n, values)

    def text(value, row: int) -> str:  # the finding's value as its message shows it
        if isinstance(value, (pa.Array, np.ndarray)):
            value = value[row].as_py() if isinstance(value, pa.Array) else value[row]
        return "" if value is None else str(value)

    expected = [rule.format(**{name: text(value, row) for name, value in values.items()}) for row in range(n)]
    for k in range(3):
        assert [texts[k][i] for i in index] == [e[k] for e in expected]
    rendered = rule.render(n, **{k: pa.array(v) if isinstance(v, np.ndarray) else v for k, v in values.items()})
    assert [r.to_pylist() for r in rendered] == [[e[k] for e in expected] for k in range(3)]
    assert rule.fill(n, values)[0] == texts  # remembered: the same texts again


def test_filled_messages_of_many_distinct_values_are_the_formatted_ones():
    # seven columns of up to 2,000 distinct texts: more combinations than a mixed-radix int64 key can number
    rule = BOOK.rule("SEX_DX_CONFLICT")
    n = 3000
    rng = np.random.default_rng(7)
    names = ("field_zh", "field_en", "code", "allowed_zh", "allowed_en", "sex_zh", "sex_en")
    values = {name: pa.array([f"{name}-{v}" for v in rng.integers(0, 2000, n)], pa.string()) for name in names}
    texts, index = rule.fill(n, values)
    expected = [rule.format(**{name: values[name][row].as_py() for name in names}) for row in range(n)]
    for k in range(3):
        assert [texts[k][i] for i in index] == [e[k] for e in expected]
    assert len(texts[0]) == len(set(expected))
