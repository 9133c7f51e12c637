"""Plain-Python grouping of one record from a :class:`SchemeDefinition`: the kernels' slow twin.

It reads the definition (the IR a pack compiles from), not the compiled
arrays, so comparing it with :class:`grouper.Grouper` checks the compiler and
the kernels together.  Written for clarity: dictionaries, lists, loops.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping

import numpy as np

from naive import NaiveRecord, eval_expr, group_rows

from icd_tables.definition import REGROUP_EACH_SECONDARY_PROC, SchemeDefinition

STATUS_ZH = {"ok": "分组成功", "qy": "歧义病案", "ungroupable": "无法入组"}
DX_UNMAPPED = "诊断不能转换为分组器支持的编码"
PROC_UNMAPPED = "手术操作不能转换为分组器支持的编码"
CHECK_FAILED = "信息校验不通过"


INT_LIMIT = 2**31 - 1  # numeric fields are int32; larger magnitudes read as missing


def _number(value, *, sex: bool = False) -> int | None:
    """An integer field value, or None: whole numbers (text after NFKC), within int32."""
    if value is None or isinstance(value, (bool, list, tuple, np.ndarray)):
        return None
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        if sex:
            text = {"男": "1", "女": "2", "男性": "1", "女性": "2"}.get(text, text)
        if "_" in text:
            return None
        value = text
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number != int(number) or abs(number) > INT_LIMIT:
        return None
    return int(number)


def _codes(value) -> list[str]:
    """A code list: list cells as they are (a missing element is the empty code), text split on ``|``."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ["" if v is None else str(v) for v in value]
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return []
    return str(value).split("|")


def _text(value) -> str | None:
    """A text field as given: missing for None or NaN, else its ``str``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


_SETS: dict[int, tuple[SchemeDefinition, dict[str, frozenset[str]]]] = {}


def _sets(defn: SchemeDefinition) -> dict[str, frozenset[str]]:
    """The definition's code sets as frozensets (built once per definition: the packs' lists are long)."""
    cached = _SETS.get(id(defn))
    if cached is None or cached[0] is not defn:
        cached = _SETS[id(defn)] = (defn, {name: frozenset(codes) for name, codes in defn.sets.items()})
    return cached[1]


def naive_group(defn: SchemeDefinition, record: Mapping) -> dict:
    """Group one record dict; returns mdc, adrg, drg, status, status_zh, mcc_dx, cc_dx."""
    principal = record.get("principal_dx")
    principal = "" if principal is None or (isinstance(principal, float) and math.isnan(principal)) else str(principal)
    dx_in = [principal] + _codes(record.get("secondary_dx"))
    proc_in = _codes(record.get("procedures"))
    result = {"mdc": "", "adrg": "", "drg": defn.ungroupable_drg, "mcc_dx": "", "cc_dx": ""}
    if any(code not in defn.dx_map for code in dx_in):
        return {**result, "status": "invalid", "status_zh": DX_UNMAPPED}
    if any(code not in defn.proc_map for code in proc_in):
        return {**result, "status": "invalid", "status_zh": PROC_UNMAPPED}
    dx = [defn.dx_map[c] for c in dx_in]
    procs = [defn.proc_map[c] for c in proc_in]
    rec = NaiveRecord(
        principal_dx=dx[0],
        secondary_dx=dx[1:],
        procedures=procs,
        age_years=_number(record.get("age_years")),
        sex=_number(record.get("sex"), sex=True),
        age_days=_number(record.get("age_days")),
        admission_weight_g=_number(record.get("admission_weight_g")),
        birth_weight_g=_number(record.get("birth_weight_g")),
        los_days=_number(record.get("los_days")),
        icu_hours=_number(record.get("icu_hours")),
        discharge_method=_number(record.get("discharge_method")),
        dept=_text(record.get("dept")),
    )
    if rec.icu_hours is None:  # the tables README, section 7.1: missing counts as 0
        rec.icu_hours = 0
    sets = _sets(defn)
    if not all(eval_expr(check.rule, rec, sets) for check in defn.checks):
        return {**result, "status": "invalid", "status_zh": CHECK_FAILED}

    exclusion = defn.cc_exclusion.get(dx[0])
    mcc = [i for i, s in enumerate(dx[1:], 1) if s in defn.mcc and defn.mcc[s] != exclusion]
    cc = [i for i, s in enumerate(dx[1:], 1) if s in defn.cc and defn.cc[s] != exclusion]
    rec.has_mcc, rec.has_cc = bool(mcc), bool(cc)
    grouped = group_rows(defn.rows, rec, sets, defn.ungroupable_drg)
    if grouped.status == "ungroupable" and defn.regroup == REGROUP_EACH_SECONDARY_PROC:
        for alone in procs[1:]:  # each secondary procedure as the only one; checks are not repeated
            rec.procedures = [alone]
            grouped = group_rows(defn.rows, rec, sets, defn.ungroupable_drg)
            if grouped.status != "ungroupable":
                break
    return {
        "mdc": grouped.mdc,
        "adrg": grouped.adrg,
        "drg": grouped.drg,
        "status": grouped.status,
        "status_zh": STATUS_ZH[grouped.status],
        "mcc_dx": dx_in[mcc[0]] if mcc else "",
        "cc_dx": dx_in[cc[0]] if cc else "",
    }
