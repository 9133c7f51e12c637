"""Output tables of a settlement run (Arrow, exact decimals), its metadata, run version and diff.

Money columns are ``decimal128(18, 2)`` 元, points ``decimal128(18, 4)``, RW ``decimal128(18, 6)``,
point values ``decimal128(18, 6)`` (display: payments use the exact ratio recorded in the metadata);
no column holds a binary float.  Rows are in a fixed order (cases in input order; hospitals by id;
DRGs by code), so identical inputs give identical tables.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from payment._kernels import CAT_DRG, category_sums
from payment.engine import (CASE_TYPES, DRG_TRACK, Settlement, group_sum, next_year, point_value_text,
                            reconciliation, track_types)
from payment.inputs import REJECT_REASONS
from payment.money import RATIO_UNITS
from foundation.decimals import decimal_array

ENGINE_FORMAT = "drg-settlement/1"
METADATA_KEY = b"drg_settlement"
ROUNDING_RULE = ("金额向下取整到分、点数向下取整到万分之一点；年度可分配预算按最大余数法分配到病例，余数相同者按输入顺序在先者优先 "
                 "(every amount rounded down to the fen and points to 1/10,000; the year's distributable budget "
                 "allocated over the cases by largest remainder, ties to the earlier case in input order)")
#: Column → Chinese label, for every output table (README lists them).
LABELS_ZH = {
    "case_id": "病案号", "row_no": "行号", "hospital_id": "医疗机构编码", "hospital_name": "医疗机构名称",
    "hospital_level": "医院等级", "coefficient": "医院系数", "region": "统筹区", "insurance_type": "险种类型",
    "dept": "科室", "month": "结算月份", "drg": "DRG组", "status": "分组状态", "rw": "相对权重",
    "case_type": "病例类型", "case_type_zh": "病例类型（中文）", "mean_cost": "病组例均费用", "total_cost": "总费用",
    "points": "点数", "point_value": "点值（元/点）或费率（元）", "standard": "支付标准", "patient_share": "个人负担",
    "patient_share_source": "个人负担来源", "fund_payment": "基金支付", "provisional_standard": "月度预结支付标准",
    "provisional_fund": "月度预结基金支付", "formula": "计算过程", "note": "说明", "gain": "盈亏（支付标准−费用）",
    "payment_ratio": "支付标准/费用", "far_from_cost": "偏离费用", "quota_standard": "定额基线（定额标准）",
    "quota_cost": "定额对比费用", "quota_gain": "定额盈亏（定额−费用）", "interim_netted": "扣回中途结算已付",
    "budget_tracks_fund": "预算内项目基金支付",
}
FORMULAS = {
    ("point", 0): "点数 = 权重 × 100 × 医院系数；支付标准 = 点数 × 点值；基金支付 = 支付标准 − 个人负担 "
                  "(points = RW × 100 × coefficient; standard = points × point value; fund = standard − patient share)",
    ("point", 1): "高倍率：费用 > K × 例均费用；点数 = 权重 × 100 × 医院系数 + (费用 ÷ 例均费用 − K) × 权重 × 100；"
                  "支付标准 = 点数 × 点值 (high cost: points = RW × 100 × coefficient + (cost ÷ mean − K) × RW × 100)",
    ("point", 2): "低倍率：费用 < L × 例均费用；点数 = 费用 ÷ 例均费用 × 权重 × 100；支付标准 = 点数 × 点值 "
                  "(low cost: points = cost ÷ mean × RW × 100)",
    ("rate", 0): "支付标准 = 权重 × 基础费率 × 医院系数；基金支付 = 支付标准 − 个人负担 "
                 "(standard = RW × base rate × coefficient; fund = standard − patient share)",
    ("rate", 1): "高倍率：支付标准 = (权重 × 医院系数 + (费用 ÷ 例均费用 − K) × 权重) × 基础费率 "
                 "(high cost: standard = (RW × coefficient + (cost ÷ mean − K) × RW) × base rate)",
    ("rate", 2): "低倍率：支付标准 = 费用 ÷ 例均费用 × 权重 × 基础费率 (low cost: standard = cost ÷ mean × RW × base rate)",
    3: "床日付费：支付标准 = 床日费用标准 × 住院天数 (per diem: standard = daily rate × days)",
    4: "超长住院按项目：支付标准 = 费用 × 比例 (long stay: standard = cost × ratio)",
    5: "特病单议：支付标准 = 费用 × 比例 (special case: standard = cost × ratio)",
    6: "突发事件除外，预算外按项目：支付标准 = 费用 × 比例 (event: outside the budget, standard = cost × ratio)",
    7: "无法入组/歧义按项目：支付标准 = 费用 × 比例 (ungroupable: standard = cost × ratio)",
    8: "无法入组/歧义：暂缓支付 (ungroupable: held)",
    9: "无权重病组按项目：支付标准 = 费用 (no weight: paid fee for service)",
    10: "无权重病组：暂缓支付，补充权重后结算 (no weight: held, paid nothing until the weight is set)",
    11: "数据错误：不予结算 (rejected: see note)",
    12: "定额结算：支付标准 = 本院定额标准；基金支付 = 支付标准 − 个人负担 (quota: standard = the hospital's quota per "
        "discharge; fund = standard − patient share)",
    13: "单病种：支付标准 = 该病种（诊断/手术）按基金与医院等级的定额 (single disease: standard = its fixed price)",
    14: "中途结算：支付标准 = 床日费用标准 × 已住院天数，或 费用 × 超长住院比例；基金支付 = 支付标准 − 个人负担 − 此前中途结算已付 "
        "(interim: standard = daily rate × days so far, or cost × long-stay ratio; fund = standard − patient share − "
        "earlier interim payments)",
}
PATIENT_SOURCES = ("patient_paid", "benefit_calculator", "unknown")
#: Why a held case (暂缓支付) is not paid, and what to do (case type → note).
HELD_NOTES = {
    8: "无法入组或歧义病例暂缓支付：请核对主要诊断与手术操作编码后重新上传，或申请特病单议 "
       "(ungroupable or ambiguous: held; check the principal diagnosis and procedures and upload again, "
       "or apply for special review)",
    10: "该病组在权重表中没有权重，暂缓支付：待医保部门补充权重后重新结算，无需医院修改病案 "
        "(the DRG has no weight: held until the weight table gives one, then settled again; nothing for the hospital to fix)",
}


def _month_text(yyyymm: np.ndarray, year: int) -> pa.Array:
    """YYYYMM of one year (0 = no date) → dictionary text ``2024-03``."""
    labels = pa.array([""] + [f"{year:04d}-{m:02d}" for m in range(1, 13)], pa.string())
    return pa.DictionaryArray.from_arrays(pa.array((yyyymm % 100).astype(np.int32)), labels)


def _labels(codes: np.ndarray, values: list[str]) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, np.int32)), pa.array(values, pa.string()))


def _nullable_decimal(units: np.ndarray, scale: int, valid: np.ndarray) -> pa.Array:
    return decimal_array(units, scale, valid=valid)


def case_lines(s: Settlement) -> pa.Table:
    """One line per case of the period: what it was paid and why."""
    c, cl = s.cases, s.classified
    ct = cl.case_type
    drg_track = cl.category == CAT_DRG
    rw, mean = c.rw_u, c.mean_fen
    fund_pv = np.array([int(Decimal(point_value_text(s, f) or "0").scaleb(6)) for f in range(len(c.funds))] + [0],
                       np.int64)
    pv = decimal_array(fund_pv[np.where(drg_track, c.fund, len(c.funds))], 6, valid=drg_track)
    method = "point" if s.policy.method == "quota" else s.policy.method  # no DRG-track type under the quota method
    formula_keys = [FORMULAS[(method, k)] if k in DRG_TRACK else FORMULAS[k] for k in CASE_TYPES]
    notes = [""] + list(REJECT_REASONS.values()) + ["特病单议超出比例上限，按DRG结算 (special case over the cap: paid as DRG)"]
    note = np.where(cl.special_over_cap, len(notes) - 1, c.reject)
    for case_type, text in HELD_NOTES.items():  # a held case says why and what to do
        notes.append(text)
        note = np.where((ct == case_type) & (note == 0), len(notes) - 1, note)
    event_note = ct == 6
    columns = {
        "case_id": c.case_id,
        "row_no": pa.array(c.row_no),
        "hospital_id": _labels(np.maximum(c.hosp, 0), list(s.hospitals.ids) or [""]),
        "hospital_level": pa.array(s.hospitals.level[np.maximum(c.hosp, 0)] if s.hospitals.ids else c.hosp),
        "coefficient": decimal_array(s.hospitals.coef_u[np.maximum(c.hosp, 0)] if s.hospitals.ids else c.hosp, 4),
        "insurance_type": _labels(c.insurance, c.insurance_codes),
        "dept": _labels(c.dept, c.dept_codes),
        "month": _month_text(c.yyyymm, s.period.year),
        "drg": _labels(c.drg, c.drg_codes),
        "status": _labels(c.status, ["ok", "qy", "ungroupable", "invalid"]),
        "rw": _nullable_decimal(rw, 6, rw > 0),
        "case_type": _labels(ct, [v[0] for v in CASE_TYPES.values()]),
        "case_type_zh": _labels(ct, [v[1] for v in CASE_TYPES.values()]),
        "mean_cost": _nullable_decimal(mean, 2, mean > 0),
        "total_cost": decimal_array(c.cost_fen, 2),
        "points": decimal_array(cl.points, 4),
        "point_value": pv,
        "standard": decimal_array(s.standard, 2),
        "patient_share": decimal_array(c.patient_fen, 2),
        "patient_share_source": _labels(c.patient_source, list(PATIENT_SOURCES)),
        "fund_payment": decimal_array(s.fund_payment, 2),
    }
    if s.policy.interim_months is not None:
        columns["interim_netted"] = decimal_array(s.interim_netted, 2)
    if s.monthly_standard is not None:
        columns["provisional_standard"] = _nullable_decimal(s.monthly_standard, 2, drg_track)
        columns["provisional_fund"] = _nullable_decimal(s.monthly_standard - c.patient_fen, 2, drg_track)
    if s.kind == "shadow":
        gain = s.standard - c.cost_fen
        columns["gain"] = _nullable_decimal(gain, 2, drg_track)
        ratio = np.where(c.cost_fen > 0, s.standard * RATIO_UNITS // np.maximum(c.cost_fen, 1), 0)
        columns["payment_ratio"] = _nullable_decimal(ratio, 4, drg_track & (c.cost_fen > 0))
        columns["far_from_cost"] = pa.array(drg_track & _far(s))
        if s.quota_baseline is not None:
            columns["quota_standard"] = _nullable_decimal(s.quota_baseline, 2, drg_track)
    columns["formula"] = _labels(ct, formula_keys)
    columns["note"] = _labels(note, notes)
    if event_note.any() and c.event_notes:
        events = pc.if_else(pa.array(event_note), c.case_id, pa.scalar(None, pa.string()))
        names = pa.array([c.event_notes.get(x, "") if x is not None else "" for x in events.to_pylist()], pa.string())
        columns["note"] = pc.if_else(pa.array(event_note), pc.binary_join_element_wise("突发事件: ", names, ""),
                                     columns["note"].cast(pa.string()))
    return pa.table(columns)


def _far(s: Settlement) -> np.ndarray:
    """Standard below ``far_below`` × cost or above ``far_above`` × cost (支付明显偏离费用)."""
    cost = s.cases.cost_fen
    scaled = s.standard * RATIO_UNITS
    return (scaled < s.policy.far_below_u * cost) | (scaled > s.policy.far_above_u * cost)


def _money(values) -> pa.Array:
    return decimal_array(np.asarray(values, np.int64), 2)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> pa.Array:
    valid = denominator > 0
    return _nullable_decimal(numerator * RATIO_UNITS // np.maximum(denominator, 1), 4, valid)


def hospital_table(s: Settlement) -> pa.Table:
    """Per hospital and fund: the monthly statement (month runs), the year-end clearing (year runs)."""
    h, c, a = s.hospitals, s.cases, s.accounts
    n_funds = max(len(c.funds), 1)
    present = np.flatnonzero(a["n_cases"] > 0)
    hosp, fund = present // n_funds, present % n_funds
    pv = [point_value_text(s, int(f)) for f in fund]
    columns = {
        "hospital_id": pa.array([h.ids[i] for i in hosp], pa.string()),
        "hospital_name": pa.array([h.names[i] for i in hosp], pa.string()),
        "hospital_level": pa.array(h.level[hosp]),
        "coefficient": decimal_array(h.coef_u[hosp], 4),
        "region": pa.array([c.funds[f][0] for f in fund], pa.string()),
        "insurance_type": pa.array([c.funds[f][1] for f in fund], pa.string()),
        "n_cases": pa.array(a["n_cases"][present]),
        "n_drg": pa.array(a["n_drg"][present]),
        "n_unpaid": pa.array(a["n_held"][present]),
        "drg_points": decimal_array(a["drg_points"][present], 4),
        "point_value": pa.array([Decimal(v) if v else None for v in pv], pa.decimal128(18, 6)),
        "drg_standard": _money(a["drg_standard"][present]),
        "drg_patient_share": _money(a["drg_patient"][present]),
        "drg_fund": _money(a["drg_fund"][present]),
        "drg_cost": _money(a["drg_cost"][present]),
        "cost_ratio": _ratio(a["drg_cost"][present], a["drg_standard"][present]),
        "other_tracks_fund": _money(a["reserve_fund"][present]),
        "event_fund": _money(a["event_fund"][present]),
    }
    if track_types(s.policy)[1]:
        columns["budget_tracks_fund"] = _money(a["budget_fund"][present])
    if s.policy.interim_months is not None:
        columns["interim_netted"] = _money(a["interim_netted"][present])
    if s.kind == "shadow":
        columns["gain"] = _money(a["drg_standard"][present] - a["drg_cost"][present])
        far = group_sum(((s.classified.category == CAT_DRG) & _far(s)).astype(np.int64),
                   np.where(c.fund >= 0, c.hosp * n_funds + np.maximum(c.fund, 0), 0), len(a["n_cases"]))
        columns["far_from_cost_share"] = _ratio(far[present], a["n_drg"][present])
        if "quota_standard" in a:  # the quota (定额) baseline of the same DRG-track cases
            columns["quota_standard"] = _money(a["quota_standard"][present])
            columns["quota_cost"] = _money(a["quota_cost"][present])
            columns["quota_gain"] = _money(a["quota_standard"][present] - a["quota_cost"][present])
    if s.kind in ("month", "year"):
        columns["provisional"] = _money(a["provisional"][present])
        columns["withheld"] = _money(a["withheld"][present])
    if s.kind == "month":
        columns["paid"] = _money(a["paid"][present])
        if "transfer" in a:
            for name in ("released", "carried_in", "transfer"):
                columns[name] = _money(a[name][present])
    if s.kind == "year":
        score = a["score"][present]
        columns.update({
            "score": _nullable_decimal(score, 2, score >= 0),
            "release_share": decimal_array(a["release_share"][present], 4),
            "released": _money(a["released"][present]),
            "corridor": _money(a["corridor"][present]),
            "annual_due": _money(a["annual_due"][present]),
            "monthly_paid": _money(a["monthly_paid"][present]),
            "balance": _money(a["balance"][present]),
            "carried_to_next_year": pa.array(np.full(len(present), s.policy.carry_balance)),
        })
        p = s.policy
        extra = (("corridor_reward",) if p.corridor_pay is not None else ()) + \
            (("total_deduction", "volume_deduction") if s.hospitals.totals_fen or s.hospitals.min_cases else ()) + \
            (("released_before", "carried_out") if s.ledger is not None else ()) + \
            (("bonus",) if s.hospitals.bonus_u else ())
        for name in extra:
            columns[name] = _money(a[name][present])
    for name in ("lifecycle_deducted", "lifecycle_deducted_months"):  # payment.deductions applied (扣款/追回)
        if name in a:
            columns[name] = _money(a[name][present])
    return pa.table(columns)


def next_year_table(s: Settlement) -> pa.Table:
    """奖优罚劣 (a year run with ``[assessment.next_year]``): hospital_id, name, level, region, score,
    coefficient_adjustment, coefficient (next year's) and bonus_share — read as next year's hospital table."""
    rows = next_year(s)
    units = {k: np.array([r[k] for r in rows], np.int64) for k in ("score", "coefficient_adjustment", "coefficient",
                                                                 "bonus_share")}
    return pa.table({
        "hospital_id": pa.array([r["hospital_id"] for r in rows], pa.string()),
        "name": pa.array([r["name"] for r in rows], pa.string()),
        "level": pa.array([r["level"] for r in rows], pa.int64()),
        "region": pa.array([r["region"] for r in rows], pa.string()),
        "score": decimal_array(units["score"], 2),
        **{k: decimal_array(units[k], 4) for k in ("coefficient_adjustment", "coefficient", "bonus_share")},
    })


def release_table(s: Settlement) -> pa.Table:
    """Month runs that end a release period: each account's withhold of the period, score and release."""
    rows = s.releases
    return pa.table({
        "hospital_id": pa.array([r["hospital_id"] for r in rows], pa.string()),
        "region": pa.array([r["region"] for r in rows], pa.string()),
        "insurance_type": pa.array([r["insurance_type"] for r in rows], pa.string()),
        "release_period": pa.array([r["release_period"] for r in rows], pa.string()),
        "withheld": _money([r["withheld"] for r in rows]),
        "score": decimal_array(np.array([r["score"] for r in rows], np.int64), 2),
        "release_share": decimal_array(np.array([r["release_share"] for r in rows], np.int64), 4),
        "released": _money([r["released"] for r in rows]),
    })


def settlement_rules(p) -> dict:
    """Which reading of each year-end rule a run used (shown on statements and in run.json)."""
    return {
        "coefficient_applies_to": p.coefficient_applies_to,
        "point_value": "fixed" if p.point_value_fixed is not None else "budget",
        "corridor": "none" if p.corridor is None else "margin" if p.corridor_pay is None else "bands_pay",
        "corridor_base": ("Σ 定额标准 (定额 × 出院人次, 含个人负担) 对比 Σ "
                          + ("医保范围内费用 (总费用 − 自费) / Σ quotas vs Σ covered cost (total − self_pay_cost)"
                             if p.covered_cost else "总费用 / Σ quotas vs Σ total cost"))
        if p.method == "quota" else "Σ DRG支付标准 (含个人负担) / Σ DRG standards, patient shares included",
        "excess_from": p.excess_from, "reward_from": p.reward_from,
        "release_schedule": p.release_schedule,
        "carry_balance": {"months_from": p.carry_from_month, "months": p.carry_months} if p.carry_balance else False,
        "per_diem_from": p.per_diem_from, "single_disease_budget": p.single_disease_budget,
        "special_cap": {"rounding": p.special_rounding, "min_count": p.special_min_count},
        "interim_months": p.interim_months,
    }


def month_table(s: Settlement) -> pa.Table:
    """Year runs: each hospital's monthly pre-settlement, month by month (按月预结明细)."""
    m, c, h = s.months, s.cases, s.hospitals
    n_funds = max(len(c.funds), 1)
    present = np.flatnonzero(m["n_cases"] > 0)
    account, month = present // 12, present % 12
    hosp, fund = account // n_funds, account % n_funds
    pv = []
    for f, mo in zip(fund, month):
        value = s.monthly_values.get((int(f), s.period.year * 100 + int(mo) + 1))
        text = None if value is None else (value.yuan_per_rw() if s.policy.method == "rate" else value.yuan_per_point())
        pv.append(Decimal(text) if text else None)
    return pa.table({
        "hospital_id": pa.array([h.ids[i] for i in hosp], pa.string()),
        "region": pa.array([c.funds[f][0] for f in fund], pa.string()),
        "insurance_type": pa.array([c.funds[f][1] for f in fund], pa.string()),
        "month": pa.array([f"{s.period.year}-{mo + 1:02d}" for mo in month], pa.string()),
        "n_cases": pa.array(m["n_cases"][present]),
        "point_value": pa.array(pv, pa.decimal128(18, 6)),
        "provisional": _money(m["provisional"][present]),
        "withheld": _money(m["withheld"][present]),
        "event_fund": _money(m["event_fund"][present]),
        "paid": _money(m["paid"][present]),
    })


def group_table(s: Settlement, by: str) -> pa.Table:
    """Per DRG (``by="drg"``) or department (``by="dept"``): cases by type, points, standards, cost, gain.

    Rows sorted by code.
    """
    c, cl = s.cases, s.classified
    codes, values = (c.drg, c.drg_codes) if by == "drg" else (c.dept, c.dept_codes)
    k = len(values)
    keep = c.fund >= 0
    far = (_far(s) & (cl.category == CAT_DRG)).astype(np.int64) if s.kind == "shadow" else np.zeros(c.n, np.int64)
    sums = category_sums(codes, cl.category, keep, k, cl.points, s.standard, c.cost_fen, s.fund_payment, far)
    by_type = group_sum(np.ones(c.n, np.int64), codes * len(CASE_TYPES) + cl.case_type,
                        k * len(CASE_TYPES)).reshape(k, len(CASE_TYPES))
    order = np.argsort(np.array(values, dtype=object), kind="stable")
    drg = sums[order, CAT_DRG]
    standard, cost = drg[:, 2], drg[:, 3]
    columns = {by: pa.array([values[i] for i in order], pa.string()),
               "n_cases": pa.array(np.bincount(codes, minlength=k)[order].astype(np.int64))}
    if by == "drg":
        columns["rw"] = _nullable_decimal(c.drg_rw[order], 6, c.drg_rw[order] > 0)
    for code, (name, _) in CASE_TYPES.items():
        if code in DRG_TRACK or code in (10, 9):
            columns[f"n_{name}"] = pa.array(by_type[order, code])
    columns.update({
        "points": decimal_array(drg[:, 1], 4),
        "standard": _money(standard), "total_cost": _money(cost), "gain": _money(standard - cost),
        "cost_ratio": _ratio(cost, standard),
        "fund_payment": _money(sums[order, :, 4].sum(axis=1)),
    })
    if s.kind == "shadow":
        columns["far_from_cost"] = pa.array(drg[:, 5])
    return pa.table(columns)


def reconciliation_table(s: Settlement, extra: list[dict] = (), rows: list[dict] | None = None) -> pa.Table:
    """The reconciliation lines of :func:`payment.engine.reconciliation` (or ``rows`` of that form, e.g. with
    :func:`payment.deductions.reserve_lines`) and ``extra`` lines (same keys)."""
    rows = (reconciliation(s) if rows is None else rows) + list(extra)
    return pa.table({
        "region": pa.array([r["region"] for r in rows], pa.string()),
        "insurance_type": pa.array([r["insurance_type"] for r in rows], pa.string()),
        "line": pa.array([r["line"] for r in rows], pa.string()),
        "line_zh": pa.array([r["line_zh"] for r in rows], pa.string()),
        "amount": _money([r["amount_fen"] for r in rows]),
    })


def run_metadata(s: Settlement, weights_meta, extra_files: dict[str, str], scope: dict | None = None,
                 special_list: dict | None = None) -> dict:
    """What a run was made from and its summary; ``run_version`` is a digest of the inputs (no timestamps)."""
    c, cl, p = s.cases, s.classified, s.policy
    funds = []
    for f, key in enumerate(c.funds):
        budget, reserve, distributable = s.budgets[f]
        value = s.point_values.get(f)
        funds.append({
            "region": key[0], "insurance_type": key[1], "budget_fen": budget, "reserve_fen": reserve,
            "distributable_fen": distributable,
            "point_value": point_value_text(s, f),
            "point_value_exact": None if value is None else
            {"numerator_fen": value.numerator, "denominator_point_units": value.denominator,
             "unit": "fen per 1/10,000 point"},
            "drg_fund_fen": int(s.accounts["drg_fund"][f::max(len(c.funds), 1)].sum()),
            # tracks paid from the DRG budget (预算内: 床日付费/单病种); drg_fund + this = distributable (year runs)
            "budget_tracks_fen": int(s.accounts["budget_fund"][f::max(len(c.funds), 1)].sum()),
        })
    counts = np.bincount(cl.case_type, minlength=len(CASE_TYPES))
    inputs = {
        "kind": s.kind, "period": str(s.period), "format": ENGINE_FORMAT,
        "policy": {"path": p.path, "version": p.version, "name": p.name, "sha256": p.sha256, "method": p.method},
        "weights": {"name": weights_meta.name, "region": weights_meta.region, "year": weights_meta.year,
                    "source_sha256": weights_meta.source_sha256},
        "pack_version": c.pack_version, "input_fingerprint": c.fingerprint,
        "hospitals_sha256": s.hospitals.sha256,
        "files_sha256": dict(sorted({**extra_files, **p.tables_sha256}.items())),
    }
    if scope:  # a partial run's point values or budget share are inputs too
        inputs["scope"] = scope
    if special_list:  # the 特病单议 list the run used (its version and digest)
        inputs["special_list"] = special_list
    run_version = hashlib.sha256(json.dumps(inputs, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    return {
        "run_version": run_version, **inputs, "rounding": ROUNDING_RULE, "rules": settlement_rules(p),
        "cases": {"settled": int(c.n), "outside_period": int(c.outside_period),
                  "by_case_type": {CASE_TYPES[k][0]: int(counts[k]) for k in CASE_TYPES if counts[k]}},
        "funds": funds,
    }


def with_metadata(table: pa.Table, meta: dict) -> pa.Table:
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(meta, sort_keys=True, ensure_ascii=False)})


DIFF_COLUMNS = ("drg", "case_type", "points", "standard", "fund_payment")


def diff_case_lines(previous: pa.Table, current: pa.Table) -> pa.Table:
    """Cases added, removed or changed (DRG, case type, points, standard, fund payment) since a previous run."""
    import pandas as pd

    def frame(t: pa.Table) -> pd.DataFrame:
        f = pd.DataFrame({"case_id": t.column("case_id").to_pylist()})
        for name in DIFF_COLUMNS:
            f[name] = t.column(name).cast(t.schema.field(name).type.value_type if pa.types.is_dictionary(
                t.schema.field(name).type) else t.schema.field(name).type).to_pylist()
        f["occurrence"] = f.groupby("case_id").cumcount()
        return f

    old, new = frame(previous), frame(current)
    both = old.merge(new, on=["case_id", "occurrence"], how="outer", suffixes=("_previous", "_current"),
                     indicator=True)
    changed = both["_merge"] != "both"
    for name in DIFF_COLUMNS:
        changed |= both[f"{name}_previous"].astype(object).ne(both[f"{name}_current"].astype(object)) & (
            both["_merge"] == "both")
    both = both[changed].copy()
    both["change"] = both["_merge"].map({"left_only": "removed", "right_only": "added", "both": "changed"}).astype(str)
    both = both.sort_values(["case_id", "occurrence"], kind="stable")
    zero = Decimal("0.00")
    delta = [(cur if cur is not None and cur == cur else zero) - (prev if prev is not None and prev == prev else zero)
             for prev, cur in zip(both["fund_payment_previous"], both["fund_payment_current"])]
    out = {"case_id": pa.array(both["case_id"].tolist(), pa.string()), "change": pa.array(both["change"].tolist())}
    for name in DIFF_COLUMNS:
        for side in ("previous", "current"):
            values = [None if v is None or v != v else v for v in both[f"{name}_{side}"].tolist()]
            out[f"{name}_{side}"] = pa.array(values, current.schema.field(name).type if name in (
                "points", "standard", "fund_payment") else pa.string())
    out["fund_payment_change"] = pa.array(delta, pa.decimal128(18, 2))
    return pa.table(out)


__all__ = ["LABELS_ZH", "ROUNDING_RULE", "case_lines", "diff_case_lines", "group_table", "hospital_table",
           "month_table", "reconciliation_table", "release_table", "run_metadata", "settlement_rules",
           "with_metadata"]
