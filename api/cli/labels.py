"""Chinese column headers of the tables the commands write as XLSX (the field names stay in a hidden
sheet, :mod:`foundation.xlsx`), and the XLSX options every writing command shares."""

from __future__ import annotations

from functools import cache

#: Grouping results, findings, explanations and what-if alternatives.
RESULT_LABELS_ZH = {
    "case_id": "病案号", "row_no": "行号", "mdc": "主要诊断大类", "adrg": "核心疾病诊断相关组", "drg": "DRG组",
    "drg_name": "DRG名称", "status": "状态", "status_zh": "状态说明", "reason_code": "原因", "reason_detail": "原因说明",
    "mcc_dx": "严重并发症诊断", "cc_dx": "并发症诊断", "pack_version": "分组方案版本", "warnings": "提示", "rw": "权重RW",
    "rule_id": "规则", "severity": "严重程度", "field": "字段", "value": "填写内容", "message_zh": "问题说明",
    "message_en": "说明（英文）", "suggestion": "修改建议", "mdc_reason": "入MDC依据", "adrg_reason": "ADRG依据",
    "split_reason": "细分依据", "excluded_dx": "被排除表排除的并发症", "mdc_trace": "未入组原因", "coded_rw": "现编码RW",
    "best_alternative": "最佳替代方案", "best_drg": "替代方案DRG", "best_rw": "替代方案RW", "change": "变更",
    "code": "编码", "alternative": "替代方案", "reason": "原因",
}


@cache
def labels_zh() -> dict[str, str]:
    """Every label, later tables' first (a field means the same in each).

    Gathered from the capabilities' own tables when first asked for, so that ``drg group`` (which
    needs only :data:`RESULT_LABELS_ZH`) does not load calibration, payment or the audit screens.
    """
    from audit.screens.flags import FLAG_LABELS_ZH
    from audit.summary import SUMMARY_COLUMNS_ZH
    from calibration.indices import INDEX_COLUMNS, TOP_COLUMNS
    from payment.cross_region import CLEARING_LABELS_ZH
    from payment.tables import LABELS_ZH as PAYMENT_LABELS_ZH

    return {**TOP_COLUMNS, **INDEX_COLUMNS, **SUMMARY_COLUMNS_ZH, **FLAG_LABELS_ZH, **CLEARING_LABELS_ZH,
            **PAYMENT_LABELS_ZH, **RESULT_LABELS_ZH}


def add_xlsx_split(parser) -> None:
    """``--xlsx-split``: an XLSX output past one sheet's rows goes on across sheets."""
    parser.add_argument("--xlsx-split", action="store_true",
                        help="an .xlsx output of more than 1,048,575 rows goes on in further sheets (名称 1, 名称 2 …) "
                             "instead of being refused, e.g. -o results.xlsx --xlsx-split")


__all__ = ["RESULT_LABELS_ZH", "add_xlsx_split", "labels_zh"]
