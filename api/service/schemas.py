"""Request and response bodies (请求与响应), kept apart; field descriptions in Chinese and English.

Money is exact decimal text in 元 (``"12569.03"``), RW decimal text with 6 places: never binary floats.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr


def as_utc(value: datetime) -> datetime:
    """The database keeps UTC without a zone; responses say so (RFC 3339 ``…+00:00``)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]

# strict: JSON true/false is not a number (lax pydantic would read it as 1/0)
Number = StrictInt | StrictStr
Money = StrictFloat | StrictInt | StrictStr

RECORD_EXAMPLE = {
    "case_id": "BA2024030001", "hospital_id": "H001", "sex": 1, "age_years": 67, "principal_dx": "J18.900",
    "secondary_dx": "J96.000|E87.600", "procedures": "", "los_days": 9, "discharge_method": 1,
    "admit_date": "2024-03-02", "discharge_date": "2024-03-11", "insurance_type": "310", "dept": "呼吸内科",
    "total_cost": 15234.5,
}


class RecordIn(BaseModel):
    """一份病案首页 (one front page) in the record schema; optional fields may be left out."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [RECORD_EXAMPLE]})

    case_id: str = Field(..., min_length=1, max_length=100, description="病案号/结算ID (case id)")
    sex: Number = Field(..., description="性别: 1 男, 2 女 (或 男/女)")
    age_years: Number = Field(..., description="年龄（岁） age in whole years")
    principal_dx: str = Field(..., max_length=100, description="主要诊断编码 ICD-10 医保版")
    secondary_dx: str | list[str] | None = Field(None, description="其他诊断编码, `|` 分隔或数组")
    procedures: str | list[str] | None = Field(None, description="手术操作编码 ICD-9-CM-3, `|` 分隔, 首个为主要手术")
    age_days: Number | None = Field(None, description="年龄不足1周岁的天数")
    birth_weight_g: Number | None = Field(None, description="新生儿出生体重（克）")
    admission_weight_g: Number | None = Field(None, description="新生儿入院体重（克）")
    hospital_id: str | None = Field(None, max_length=100, description="医疗机构编码（医院账号可省略）")
    patient_id: str | None = Field(None, max_length=100, description="参保人编码")
    los_days: Number | None = Field(None, description="实际住院天数")
    discharge_method: Number | None = Field(None, description="离院方式 1..9, 5 = 死亡")
    icu_hours: Number | None = Field(None, description="重症监护时长（小时）; 缺省为 0 (regional packs read it)")
    admit_date: str | None = Field(None, max_length=40, description="入院日期 YYYY-MM-DD")
    discharge_date: str | None = Field(None, max_length=40, description="出院日期 YYYY-MM-DD")
    settlement_date: str | None = Field(None, max_length=40, description="结算日期 YYYY-MM-DD")
    insurance_type: str | None = Field(None, max_length=20, description="险种类型 310 职工, 390 居民")
    insured_region: str | None = Field(None, max_length=20, description="参保地区划 (异地就医: the insured region)")
    out_of_area_unreferred: str | None = Field(None, max_length=20, description="异地就医未备案 1 = 未备案")
    dept: str | None = Field(None, max_length=100, description="科室")
    total_cost: Money | None = Field(None, description="总费用（元）")
    drug_cost: Money | None = Field(None, description="药品费（元）")
    consumables_cost: Money | None = Field(None, description="耗材费（元）")
    self_pay_cost: Money | None = Field(None, description="自费金额（元）")
    patient_paid: Money | None = Field(None, description="个人支付（元）")


class GroupResult(BaseModel):
    """分组结果 (grouping result), the columns of ``drg group``."""

    case_id: str
    row_no: int
    mdc: str = Field(description="主要诊断大类 MDC")
    adrg: str = Field(description="核心疾病诊断相关组 ADRG")
    drg: str = Field(description="DRG组; 0000 未入组")
    drg_name: str = Field(description="DRG名称")
    status: str = Field(description="状态 ok / qy / ungroupable / invalid")
    status_zh: str = Field(description="中文状态")
    reason_code: str = Field(description="原因代码")
    reason_detail: str = Field(description="原因说明")
    mcc_dx: str = Field(description="严重并发症诊断")
    cc_dx: str = Field(description="并发症诊断")
    pack_version: str = Field(description="分组方案版本")
    warnings: str = Field("", description="提示")
    rw: str | None = Field(None, description="相对权重 RW (6 位小数)")


class Finding(BaseModel):
    """质控问题 (a validation finding)."""

    rule_id: str
    severity: str = Field(description="严重程度 fatal 致命 / error 错误 / warning 警告 / info 提示")
    field: str
    value: str
    message_zh: str
    message_en: str
    suggestion: str = Field(description="修改建议")


class Explanation(BaseModel):
    """分组解释 (why this DRG)."""

    mdc_reason: str = Field(description="入MDC依据")
    adrg_reason: str = Field(description="ADRG依据")
    split_reason: str = Field(description="细分依据")
    excluded_dx: str = Field(description="被排除表排除的并发症")
    mdc_trace: str = Field(description="未入组原因")
    best_alternative: str = Field(description="最佳替代编码方案")
    best_drg: str
    best_rw: str | None = None
    coded_rw: str | None = Field(None, description="编码的 RW (coded RW)")
    whatif_money: str | None = Field(None, description="最佳替代方案的金额差（元）; not shown to coders")


class Alternative(BaseModel):
    """假如 (a what-if alternative): the DRG the record would get with another principal code, and why."""

    change: str = Field(description="principal_dx 换主诊断 / principal_proc 换主手术 / without_cc 去掉该 MCC/CC")
    code: str = Field(description="替代的编码")
    alternative: str = Field(description="替代方案说明")
    drg: str
    drg_name: str
    status: str
    rw: str | None = None
    reason: str = Field(description="原因")


class ExpectedPayment(BaseModel):
    """预计支付 (expected payment at the reference point value: a forecast, not a settlement)."""

    label: str = Field(description="预计：结算前的预测 (a forecast before settlement)")
    case_type: str = Field(description="病例类型")
    case_type_zh: str
    expected_standard: str | None = Field(description="预计支付标准（元），含个人负担")
    expected_fund: str | None = Field(description="预计基金支付（元）= 支付标准 − 个人负担")
    expected_patient_share: str | None = Field(description="个人负担（元）")
    point_value: str | None = Field(description="参考点值，如 241.500000 元/点")
    point_value_basis: str = Field(description="参考点值依据")
    note: str = ""


class GroupResponse(BaseModel):
    """单份病案分组结果 (one record: result, findings, explanation, expected payment)."""

    result: GroupResult
    findings: list[Finding] | None = Field(None, description="质控问题 (with validate=true)")
    explanation: Explanation | None = Field(None, description="分组解释 (with validate=true)")
    payment: ExpectedPayment | None = Field(None, description="预计支付 (when weights and a policy are loaded)")
    stored: bool = Field(False, description="已保存为本院病例 (store=true)")
    version: int | None = Field(None, description="保存后的版本号")


class BatchIn(BaseModel):
    """一批病案 (a JSON batch)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"records": [RECORD_EXAMPLE]}]})

    records: list[RecordIn] = Field(..., min_length=1, max_length=100_000)


class BatchResponse(BaseModel):
    """批量上传结果 (a batch stored, or a background job started)."""

    run_id: str
    job_id: str | None = Field(None, description="后台任务编号 (large batches)")
    state: str = Field(description="done 完成 / queued 排队 / running 运行中")
    n_records: int
    stored: int | None = None
    replaced: int | None = Field(None, description="替换的旧版本病例数")
    repeated_in_upload: int | None = Field(None, description="本次上传中重复的病案（较早的行存为历史版本）")
    by_status: dict[str, int] | None = Field(None, description="各状态病例数")
    n_findings: int | None = None
    results: list[GroupResult] | None = Field(None, description="分组结果 (JSON batches up to 1,000 records)")


class JobStatus(BaseModel):
    """后台任务状态 (background job)."""

    job_id: str
    run_id: str
    state: Literal["queued", "running", "done", "failed"]
    total: int | None
    done: int
    progress: float = Field(description="进度 0..1")
    message: str | None
    results_url: str | None


class PackInfo(BaseModel):
    """分组方案 (a definition pack)."""

    version: str
    name: str
    n_drgs: int
    loaded: bool = Field(description="服务当前使用")
    weights_version: str | None
    policy_version: str | None


class DrgEntry(BaseModel):
    """DRG目录条目 (catalogue entry)."""

    drg: str
    drg_name: str
    adrg: str
    rw: str | None = Field(description="相对权重 (when weights are loaded)")


class CaseOut(BaseModel):
    """已保存病例 (a stored case, current or earlier version)."""

    model_config = ConfigDict(extra="allow")

    hospital_id: str
    case_id: str
    version: int
    run_id: str
    month: str | None
    drg: str | None
    drg_name: str | None
    status: str | None
    status_zh: str | None
    dept: str | None
    total_cost: str | None
    rw: str | None
    reason_detail: str | None = Field(None, description="分组原因说明（未入组、无效病例：需修改之处）")
    expected_fund: str | None = Field(None, description="预计基金支付（元）; not shown to coders 编码员不可见")
    uploaded_at: UtcDatetime


class CasePage(BaseModel):
    total: int
    offset: int
    limit: int
    cases: list[CaseOut]


class CaseDetail(BaseModel):
    case: dict
    findings: list[Finding]
    versions: list[dict] = Field(description="历史版本 (earlier versions, newest first)")
    explanation: Explanation | None = Field(None, description="分组解释 (with explain=true)")
    alternatives: list[Alternative] | None = Field(None, description="假如：替代编码方案 (with explain=true)")


class DrgLine(BaseModel):
    drg: str
    drg_name: str
    n_cases: int
    rw: str | None
    total_cost: str = Field(description="实际费用合计（元）")
    payment: str | None = Field(None, description="支付合计（元）: 结算结果, 否则预计支付; not shown to coders")


class Summary(BaseModel):
    """医院月度汇总 (a hospital's period: case mix, indices, payment vs cost, findings)."""

    hospital_id: str
    period: str | None
    n_cases: int
    data_errors: int = Field(0, description="数值超出合理范围的病例数：计入病例数，不计入费用、指标与支付 "
                                            "(cases holding a value no stay can have: counted, in no sum)")
    by_status: dict[str, int]
    cmi: float | None = Field(description="CMI 病例组合指数")
    total_weight: str | None
    indices: dict = Field(description="绩效指标 (drg indices, hospital level)")
    total_cost: str
    payment: str | None = Field(None, description="支付标准合计（元），含个人负担; payment fields are not shown to coders")
    payment_source: str = Field("none", description="settlement 结算 / expected 预计 / none")
    payment_label: str = Field("", description="结算结果，或“预计”（结算前的预测）")
    fund_payment: str | None = Field(None, description="基金支付合计（元）")
    patient_share: str | None = Field(None, description="个人负担合计（元）")
    point_value: str | None = Field(None, description="预计支付的参考点值及依据，如 170.000000 元/点（…）")
    settlement_run: str | None = None
    drgs: list[DrgLine]
    findings_by_severity: dict[str, int]
    top_rules: list[dict]


class HospitalRank(BaseModel):
    """医院排名的一行 (one hospital of a period, for the payer's ranking)."""

    hospital_id: str
    n_cases: int = Field(description="病例数")
    cmi: float | None = Field(description="CMI 病例组合指数")
    cost_index: float | None = Field(description="费用消耗指数")
    time_index: float | None = Field(description="时间消耗指数")
    grouping_rate: float | None = Field(description="入组率")
    n_flags: int | None = Field(description="期间最近一次智能审核的疑点数 (flags of the period's latest audit run)")
    audit_run: str | None = Field(description="该审核运行编号")


class SettlementIn(BaseModel):
    """发起结算 (start a settlement run)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"kind": "month", "period": "2024-03"}]})

    kind: Literal["month", "year", "shadow"] = Field(description="month 按月预结 / year 年度清算 / shadow 空转试运行")
    period: str = Field(pattern=r"^\d{4}(-\d{2})?$", description="2024 或 2024-03")
    scores: dict[str, str] | None = Field(
        None, max_length=100_000, description="考核得分 (assessment scores 0–100 by hospital_id) for the run that "
        "releases withholds; without them the policy's")
    special_list: str | None = Field(None, max_length=100, description="特病单议名单 (list_id of an uploaded approved "
                                     "list, POST /v1/settlements/special-lists); recorded with the run")


class SpecialCase(BaseModel):
    case_id: str = Field(min_length=1, max_length=200, description="病案号/结算ID")
    note: str = Field("", max_length=500, description="说明 (reason for approval)")


class SpecialListIn(BaseModel):
    """特病单议名单 (the payer's approved special cases, in the order the cap takes them)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"version": "2024-03 第1批",
                                                               "cases": [{"case_id": "C0001", "note": "罕见病"}]}]})

    version: str = Field(min_length=1, max_length=100, description="名单版本 (the payer's name for this list)")
    cases: list[SpecialCase] = Field(min_length=1, max_length=100_000)


class SpecialListOut(BaseModel):
    list_id: str
    version: str
    sha256: str = Field(description="SHA-256 of the list (case ids and notes in order), recorded with every run")
    n_cases: int
    created_by: str
    created_at: UtcDatetime


class SettlementRun(BaseModel):
    run_id: str
    kind: str
    period: str | None
    status: str
    pack_version: str | None
    weights_version: str | None
    policy_version: str | None
    input_sha256: str | None
    n_records: int | None
    created_by: str
    created_at: UtcDatetime
    detail: dict


class Statement(BaseModel):
    """结算单 (a hospital's statement in a run; amounts in 元)."""

    run_id: str
    hospital_id: str
    kind: str
    period: str | None
    lines: list[dict] = Field(description="每险种一行 (one row per insurance type)")
    deductions: list[dict] = Field(default_factory=list, description="本次结算执行的违规扣款/更正追回，附疑点、申诉与复议结论 "
                                   "(deduction and recovery lines applied in this run, beside the flag, appeal and decision)")
    reconciliation: list[dict] = Field(default_factory=list, description="本期对账 (this run's reconciliation row, "
                                       "payment.reconcile)")
    special_list: dict | None = Field(None, description="特病单议名单 used by the run: list_id, version, sha256, cases")


class LedgerEntry(BaseModel):
    """结算台账 (one run ledger entry: a run × hospital × fund; amounts in 元)."""

    run_id: str = Field(description="the service run that recorded it")
    run: str = Field(description="台账期间 2024-03 (month run) or 2024 (year run)")
    hospital_id: str
    region: str
    insurance_type: str
    provisional: str
    withheld: str
    event_fund: str
    paid: str
    released: str
    carried_in: str
    deducted: str
    carried_out: str
    release_period: str
    stay: str = Field("", description="中途结算的住院 (hospital|patient|admission date); empty on account entries")
    interim: str = Field("0.00", description="中途结算支付 (fund paid on the stay by this run)")


class LinePage(BaseModel):
    total: int
    offset: int
    limit: int
    lines: list[dict]


class TokenIn(BaseModel):
    api_key: str = Field(..., min_length=1, max_length=200, description="API 密钥")


class TokenOut(BaseModel):
    token: str
    expires_in: int
    role: str
    hospital_id: str | None


class Me(BaseModel):
    key_id: str
    role: str
    role_zh: str
    hospital_id: str | None


class AuditEntry(BaseModel):
    id: int
    logged_at: UtcDatetime
    key_id: str | None
    role: str | None
    hospital_id: str | None
    action: str
    object: str | None
    status: int | None


class ErrorOut(BaseModel):
    detail: str | list


class AuditRunIn(BaseModel):
    """发起智能审核 (screen a stored month)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"period": "2024-03"}]})

    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="审核月份 2024-03（按结算期间依据日期）")


class AuditRun(BaseModel):
    """智能审核运行 (a screening run); a hospital key sees the counts of its own hospital only."""

    run_id: str
    period: str
    status: str
    pack_version: str | None
    weights_version: str | None
    input_sha256: str | None = Field(description="被审核病例的 SHA-256 (of the screened cases)")
    n_cases: int = Field(description="审核病例数 (current cases screened)")
    n_history: int | None = Field(description="历史病例数（前 12 个月） (history cases; payer, auditor)")
    n_flags: int = Field(description="疑点数")
    by_rule: dict[str, int] = Field(description="各规则疑点数")
    by_severity: dict[str, int] = Field(description="各严重程度疑点数 error 疑似违规 / warning 可疑 / info 提示")
    skipped: dict[str, str] = Field(description="未能运行的规则及原因 (screens that could not run, and why)")
    created_by: str
    created_at: UtcDatetime


class FlagOut(BaseModel):
    """审核疑点 (one flag; columns of ``drg audit``), with its appeal status."""

    run_id: str
    flag_id: str = Field(description="疑点编号 RULE:case_id#row_no 或 RULE:hospital_id:ADRG")
    case_id: str | None = Field(description="病案号（医院层面疑点为空）")
    row_no: int | None = Field(description="本次审核的行号")
    hospital_id: str
    rule_id: str
    severity: str = Field(description="严重程度 error 疑似违规 / warning 可疑 / info 提示")
    severity_zh: str
    message_zh: str
    message_en: str
    evidence: dict = Field(description="证据")
    money_at_stake: str | None = Field(None, description="涉及金额（元）; not shown to coders")
    score: float = Field(description="风险分")
    period: str
    appeal_status: str = Field(description="申诉状态 open 待申诉 / appealed 申诉中 / upheld 维持 / withdrawn 撤销")
    appeal_status_zh: str


class FlagPage(BaseModel):
    total: int
    offset: int
    limit: int
    flags: list[FlagOut]


class QueueEntry(BaseModel):
    """待审队列中的一个病例 (a case of the review queue)."""

    rank: int
    selection: str = Field(description="top 高风险 / random 随机抽查")
    selection_zh: str
    case_id: str
    row_no: int
    hospital_id: str
    score: float = Field(description="病例风险分")
    money_at_stake: str | None = Field(description="涉及金额（元）")
    priority: float = Field(description="优先级 = 涉及金额（元） × 风险分")
    n_flags: int
    rules: str
    rules_zh: str = Field("", description="规则中文名 (the rules' Chinese titles)")


class ReviewQueue(BaseModel):
    """待审队列 (review queue of a run)."""

    run_id: str
    top: int
    sample: int
    seed: int
    entries: list[QueueEntry]


class AppealIn(BaseModel):
    """医院申诉 (a hospital appeals a flag)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"run_id": "audit-20240405093000-1a2b3c4d", "reason": "两次住院间隔内病情变化，见第二次入院记录 (condition changed)"}]})

    run_id: str = Field(..., min_length=1, max_length=100, description="审核运行编号")
    reason: str = Field(..., min_length=1, max_length=4000, description="申诉理由")


class DecisionIn(BaseModel):
    """医保复议结论 (the payer decides an appeal or an open flag)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"run_id": "audit-20240405093000-1a2b3c4d", "status": "withdrawn", "outcome": "申诉理由成立，撤销疑点"}]})

    run_id: str = Field(..., min_length=1, max_length=100, description="审核运行编号")
    status: Literal["upheld", "withdrawn"] = Field(description="upheld 维持 / withdrawn 撤销")
    outcome: str = Field(..., min_length=1, max_length=4000, description="复议结论")


class AppealOut(BaseModel):
    """申诉记录 (the appeal state of one flag; ``audit.appeals.Appeal``)."""

    run_id: str
    flag_id: str
    hospital_id: str
    status: str = Field(description="open 待申诉 / appealed 申诉中 / upheld 维持 / withdrawn 撤销")
    status_zh: str
    reason: str = Field(description="申诉理由")
    outcome: str = Field(description="复议结论")
    opened_at: UtcDatetime | None = Field(description="疑点通知时间（审核运行时间）")
    appealed_at: UtcDatetime | None
    decided_at: UtcDatetime | None
    decided_by: str = Field(description="复议人（密钥编号）")
    allowed: list[str] = Field(description="可转入的状态 (next statuses allowed)")
