"""The canonical record schema (病案首页 / 医保结算清单), defined once for every capability."""

from __future__ import annotations

from dataclasses import dataclass

from icd_tables.rules.ir import Field

#: Separator of codes inside one flat-file cell (``secondary_dx``, ``procedures``).
CODE_LIST_SEPARATOR = "|"


@dataclass(frozen=True)
class Column:
    name: str
    name_zh: str
    kind: str  # "text", "int", "codes", "date", "money"
    grouping: bool  # read by the grouper (the others pass through for later capabilities)
    meaning: str


COLUMNS = (
    Column("case_id", "病案号/结算ID", "text", True, "unique case id"),
    Column("sex", "性别", "int", True, "1 男 male, 2 女 female; any other value is invalid"),
    Column("age_years", "年龄（岁）", "int", True, "age in whole years"),
    Column("age_days", "年龄不足1周岁的天数", "int", True, "age in days, for age < 1 year"),
    Column("birth_weight_g", "新生儿出生体重（克）", "int", True, "newborn birth weight in grams"),
    Column("principal_dx", "主要诊断编码", "text", True, "principal diagnosis, ICD-10 医保版"),
    Column("secondary_dx", "其他诊断编码", "codes", True, "other diagnoses, joined by | in flat files"),
    Column("procedures", "手术操作编码", "codes", True,
           "procedures, ICD-9-CM-3 医保版, joined by |; the first is the principal procedure"),
    Column("hospital_id", "医疗机构编码", "text", False, "hospital"),
    Column("patient_id", "参保人编码", "text", False, "insured person"),
    Column("admission_weight_g", "新生儿入院体重（克）", "int", False, "newborn admission weight in grams"),
    Column("los_days", "实际住院天数", "int", False, "length of stay in days (read by some regional packs)"),
    Column("discharge_method", "离院方式", "int", False,
           "1 医嘱离院, 2 医嘱转院, 3 医嘱转社区/卫生院, 4 非医嘱离院, 5 死亡, 9 其他"),
    Column("icu_hours", "重症监护时长（小时）", "int", False,
           "hours in intensive care, whole hours; missing counts as 0 (read by some regional packs)"),
    Column("admit_date", "入院日期", "date", False, "admission date"),
    Column("discharge_date", "出院日期", "date", False, "discharge date"),
    Column("settlement_date", "结算日期", "date", False, "settlement date"),
    Column("insurance_type", "险种类型", "text", False, "310 职工 employee, 390 居民 resident"),
    Column("insured_region", "参保地", "text", False,
           "insured region (参保地医保区划, e.g. 330100); empty or the treating region's = a local case"),
    Column("out_of_area_unreferred", "异地就医未备案", "text", False,
           "treated out of the insured region without a filed referral (未备案): 1/是/true; lowers the ratio"),
    Column("dept", "科室", "text", False,
           "discharging department; regional packs compare it as an exact string (e.g. ICU)"),
    Column("total_cost", "总费用（元）", "money", False, "total cost in yuan"),
    Column("drug_cost", "药品费（元）", "money", False, "drug cost"),
    Column("consumables_cost", "耗材费（元）", "money", False, "consumables cost"),
    Column("self_pay_cost", "自费金额（元）", "money", False, "self-pay amount"),
    Column("patient_paid", "个人支付（元）", "money", False, "amount the patient paid"),
)

#: Columns without which no record can be grouped; the others may be absent (read as missing).
REQUIRED_COLUMNS = ("case_id", "sex", "age_years", "principal_dx")

#: Words accepted for ``sex`` besides 1 and 2.
SEX_WORDS = {"男": 1, "女": 2, "男性": 1, "女性": 2}

#: Columns holding lists of codes (``|``-joined text in flat files).
CODE_LIST_COLUMNS = ("secondary_dx", "procedures")

#: Record column each numeric rule field reads.
NUMERIC_COLUMNS = {
    Field.AGE_YEARS: "age_years",
    Field.SEX: "sex",
    Field.AGE_DAYS: "age_days",
    Field.ADMISSION_WEIGHT: "admission_weight_g",
    Field.BIRTH_WEIGHT: "birth_weight_g",
    Field.LOS_DAYS: "los_days",
    Field.ICU_HOURS: "icu_hours",
    Field.DISCHARGE_METHOD: "discharge_method",
}

#: Record column each text rule field reads (compared as exact strings).
TEXT_COLUMNS = {Field.DEPT: "dept"}

#: Value a numeric rule field takes when the record leaves it empty (others are missing).
NUMERIC_DEFAULTS = {Field.ICU_HOURS: 0}
