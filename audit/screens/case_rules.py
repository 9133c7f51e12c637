"""Screens of one case against its DRG: low-standard admission, bed-blocking, upcoding (what-if), duplicate ids.

* ``LOW_STANDARD_ADMISSION`` (低标入院): an ``ok`` case whose DRG code ends in one
  of ``low_severity_suffixes``, ``los_days`` ≤ ``max_los_days``, ``total_cost`` ≤
  ``max_cost_ratio`` × the DRG's mean cost, and (``require_outpatient_dx``) a
  principal diagnosis in ``outpatient_codes``.  Money at stake: the case's payment.
* ``BED_BLOCKING`` (挂床): ``los_days`` ≥ ``min_los_days`` and ≥ ``los_ratio`` × the
  DRG's mean stay, and cost per day ≤ ``max_cost_per_day_ratio`` × the DRG's mean
  cost per day.  Money at stake: the case's payment.
* ``UPCODING_WHATIF`` (高套): the coded RW ≥ ``ratio`` × the RW of the best what-if
  alternative (``best_rw``, as ``drg validate --explain`` writes it), compared
  exactly in millionths.  Money at stake: ⌊(coded RW − best RW) × rate⌋.
* ``DUPLICATE_CASE_ID`` (重复结算): a case id seen before (earlier row, or the
  history); the message says whether the ``content_columns`` differ from its
  first submission.  Money at stake: the repeated case's payment.

DRG means come from :func:`audit.screens.cases.drg_reference`.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit.code_sets import clean_codes, in_ranges
from audit.screens.cases import CaseArrays, DrgReference, rw_column_units
from audit.screens.flags import share_text
from weights import RW_UNITS
from foundation.decimals import fen_text


def _suffix_mask(c: CaseArrays, suffixes) -> np.ndarray:
    """Per case: its DRG code ends in one of ``suffixes``."""
    per_code = np.array([any(d.endswith(s) for s in suffixes) for d in c.drgs] + [False])
    return per_code[np.where(c.drg >= 0, c.drg, len(c.drgs))]


def low_standard_flags(c: CaseArrays, ref: DrgReference, book) -> list[pa.Table]:
    """``LOW_STANDARD_ADMISSION`` flags."""
    rule = book.rule("LOW_STANDARD_ADMISSION")
    if not rule.enabled:
        return []
    p = rule.params
    mean = ref.mean_cost[np.maximum(c.drg, 0)]
    with np.errstate(invalid="ignore"):
        cheap = np.isfinite(c.cost) & np.isfinite(mean) & (c.cost <= p["max_cost_ratio"] * mean)
    hit = c.current & c.ok & _suffix_mask(c, p["low_severity_suffixes"]) & (c.los >= 0) & \
        (c.los <= p["max_los_days"]) & cheap
    rows = np.flatnonzero(hit)
    if p["require_outpatient_dx"] and len(rows):
        dx = c.column("principal_dx")
        if dx is None:
            return []
        codes = clean_codes(dx.take(pa.array(rows)).combine_chunks() if isinstance(dx, pa.ChunkedArray)
                            else dx.take(pa.array(rows)))
        rows = rows[in_ranges(codes, p["outpatient_codes"])]
    if not len(rows):
        return []
    dx = c.text("principal_dx", rows)
    fields = {k: [] for k in ("drg", "los", "cost", "mean", "ratio", "dx")}
    evidence = []
    for r, code in zip(rows.tolist(), dx):
        m = float(ref.mean_cost[c.drg[r]])
        item = {"drg": c.drgs[c.drg[r]], "los": str(int(c.los[r])), "cost": f"{c.cost[r]:.2f}", "mean": f"{m:.2f}",
                "ratio": share_text(c.cost[r] / m), "dx": code}
        for k, v in item.items():
            fields[k].append(v)
        evidence.append({"drg": item["drg"], "los_days": int(c.los[r]), "total_cost": item["cost"],
                         "drg_mean_cost": item["mean"], "cost_ratio": round(float(c.cost[r] / m), 4),
                         "principal_dx": code, "mean_from": ref.source,
                         "payment": fen_text(c.pay_fen[r], thousands=False) if c.pay_fen[r] >= 0 else None})
    texts = rule.render(len(rows), **{k: pa.array(v, pa.string()) for k, v in fields.items()})
    return [c.flags(rule, rows, texts, evidence, c.pay_fen[rows])]


def bed_blocking_flags(c: CaseArrays, ref: DrgReference, book) -> list[pa.Table]:
    """``BED_BLOCKING`` flags."""
    rule = book.rule("BED_BLOCKING")
    if not rule.enabled:
        return []
    p = rule.params
    code = np.maximum(c.drg, 0)
    mean_los, per_day = ref.mean_los[code], ref.per_day[code]
    with np.errstate(invalid="ignore", divide="ignore"):
        own = c.cost / c.los
        hit = c.current & c.ok & (c.los >= p["min_los_days"]) & (c.los >= p["los_ratio"] * mean_los) & \
            np.isfinite(own) & np.isfinite(per_day) & (own <= p["max_cost_per_day_ratio"] * per_day)
    rows = np.flatnonzero(hit)
    if not len(rows):
        return []
    fields = {k: [] for k in ("drg", "los", "mean_los", "per_day", "mean_per_day", "ratio")}
    evidence = []
    for r in rows.tolist():
        d = c.drg[r]
        item = {"drg": c.drgs[d], "los": str(int(c.los[r])), "mean_los": f"{ref.mean_los[d]:.1f}",
                "per_day": f"{own[r]:.2f}", "mean_per_day": f"{ref.per_day[d]:.2f}", "ratio": share_text(own[r] / ref.per_day[d])}
        for k, v in item.items():
            fields[k].append(v)
        evidence.append({"drg": item["drg"], "los_days": int(c.los[r]), "drg_mean_los": item["mean_los"],
                         "total_cost": f"{c.cost[r]:.2f}", "cost_per_day": item["per_day"],
                         "drg_mean_cost_per_day": item["mean_per_day"], "mean_from": ref.source,
                         "payment": fen_text(c.pay_fen[r], thousands=False) if c.pay_fen[r] >= 0 else None})
    texts = rule.render(len(rows), **{k: pa.array(v, pa.string()) for k, v in fields.items()})
    return [c.flags(rule, rows, texts, evidence, c.pay_fen[rows])]


def _rw_text(units: int) -> str:
    return f"{units // RW_UNITS}.{units % RW_UNITS:06d}"


def upcoding_whatif_flags(c: CaseArrays, book) -> list[pa.Table]:
    """``UPCODING_WHATIF`` flags (needs ``best_rw`` and a weight table)."""
    rule = book.rule("UPCODING_WHATIF")
    if not rule.enabled or c.column("best_rw") is None:
        return []
    best = rw_column_units(c.column("best_rw"), c.n)
    ratio = Fraction(str(rule.params["ratio"]))
    coded = c.rw_units
    hit = c.current & c.ok & (coded > 0) & (best > 0) & (coded * ratio.denominator >= best * ratio.numerator)
    rows = np.flatnonzero(hit)
    if not len(rows):
        return []
    best_drg, alternative = c.text("best_drg", rows), c.text("best_alternative", rows)
    diff = coded[rows] - best[rows]
    rate = c.rate_fen[rows]
    money = np.where(rate >= 0, diff * np.maximum(rate, 0) // RW_UNITS, -1)
    fields = {k: [] for k in ("drg", "coded_rw", "best_drg", "best_rw", "ratio", "alternative")}
    evidence = []
    for k, r in enumerate(rows.tolist()):
        hundredths = (200 * int(coded[r]) + int(best[r])) // (2 * int(best[r]))  # round half up
        item = {"drg": c.drgs[c.drg[r]], "coded_rw": _rw_text(int(coded[r])), "best_drg": best_drg[k],
                "best_rw": _rw_text(int(best[r])), "ratio": f"{hundredths // 100}.{hundredths % 100:02d}",
                "alternative": alternative[k]}
        for key, v in item.items():
            fields[key].append(v)
        evidence.append({**item, "rw_difference": _rw_text(int(diff[k])),
                         "rate": fen_text(rate[k], thousands=False) if rate[k] >= 0 else None})
    texts = rule.render(len(rows), **{k: pa.array(v, pa.string()) for k, v in fields.items()})
    return [c.flags(rule, rows, texts, evidence, money)]


def duplicate_id_flags(c: CaseArrays, book) -> list[pa.Table]:
    """``DUPLICATE_CASE_ID`` flags: every submission of a case id after its first (history rows count first)."""
    rule = book.rule("DUPLICATE_CASE_ID")
    if not rule.enabled:
        return []
    encoded = pc.dictionary_encode(c.case_id)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    counts = np.bincount(codes, minlength=len(encoded.dictionary))
    dup = np.flatnonzero(counts[codes] > 1)
    if not len(dup):
        return []
    # history first (it was submitted earlier), then input order
    order = dup[np.lexsort((dup, c.current[dup], codes[dup]))]
    first = np.ones(len(order), bool)
    first[1:] = codes[order[1:]] != codes[order[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    times = np.arange(len(order)) - group_start + 1
    keep = ~first & c.current[order]
    rows, firsts, times = order[keep], order[group_start[keep]], times[keep]
    if not len(rows):
        return []
    columns = [name for name in rule.params["content_columns"] if c.column(name) is not None]
    now = list(zip(*[c.text(name, rows) for name in columns])) if columns else [()] * len(rows)
    then = list(zip(*[c.text(name, firsts) for name in columns])) if columns else [()] * len(rows)
    ids = c.case_id.take(pa.array(rows)).to_pylist()
    fields = {k: [] for k in ("case_id", "times", "first_row", "content_zh", "content_en")}
    evidence = []
    for k, (r, f) in enumerate(zip(rows.tolist(), firsts.tolist())):
        changed = [name for name, a, b in zip(columns, now[k], then[k]) if a != b]
        item = {"case_id": ids[k], "times": str(int(times[k])), "first_row": str(int(c.row_no[f])),
                "content_zh": f"内容不同（{', '.join(changed)}）" if changed else "内容相同",
                "content_en": f"with different {', '.join(changed)}" if changed else "with the same content"}
        for key, v in item.items():
            fields[key].append(v)
        evidence.append({"case_id": ids[k], "submission": int(times[k]), "first_row": int(c.row_no[f]),
                         "first_in_history": not bool(c.current[f]), "changed_columns": changed,
                         "first_values": dict(zip(columns, then[k])), "values": dict(zip(columns, now[k])),
                         "payment": fen_text(c.pay_fen[r], thousands=False) if c.pay_fen[r] >= 0 else None})
    texts = rule.render(len(rows), **{k: pa.array(v, pa.string()) for k, v in fields.items()})
    return [c.flags(rule, rows, texts, evidence, c.pay_fen[rows])]


__all__ = ["bed_blocking_flags", "duplicate_id_flags", "low_standard_flags", "upcoding_whatif_flags"]
