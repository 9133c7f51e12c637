"""Hospital screens: shares compared with the region or with the hospital's own history (z-scores).

Every screen compares a share k/n of a hospital (or hospital × ADRG) with a
baseline k0/n0 by the pooled two-proportion z-score
``z = (k/n − k0/n0) ÷ √(p(1 − p)(1/n + 1/n0))``, p = (k + k0)/(n + n0), and needs
n ≥ ``min_cases`` and n0 ≥ ``min_cases``:

* ``UPCODING_HOSPITAL_SHARE`` (高套): per hospital × ADRG, the share of ``ok`` cases
  in an MCC/CC DRG (code ending in ``split_suffixes``) against the region's other
  hospitals; fires when z ≥ ``min_z`` and the share is ``min_excess`` or more above.
  Money at stake (with weights and rates): the excess share of the hospital's
  MCC/CC payment over the ADRG's lowest non-split DRG,
  ⌊Σ_i ⌊(RW_i − RW_low) × rate_i⌋ × (k·n0 − k0·n) ÷ (k·n0)⌋ fen.
* ``UPCODING_MONTH_JUMP``: the same share against the hospital's history (all
  ``--history`` cases pooled); fires when z ≥ ``min_z`` and the rise ≥ ``min_jump``.
* ``DUMPING_HIGH_RW`` (推诿重症): per hospital, the share of ``ok`` weighted cases with
  RW ≥ ``high_rw`` against its history; fires when z ≤ −``min_z`` and the share
  fell to (1 − ``min_drop``) × the history share or below.
* ``DUMPING_TRANSFERS_OUT``: the share of transfers out (离院方式 2) against the
  history; fires when z ≥ ``min_z`` and the rise ≥ ``min_rise``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from audit.screens.cases import CaseArrays
from audit.screens.flags import flags_table, share_text
from weights import RW_UNITS, WeightTable
from foundation.decimals import fen_text


def two_proportion_z(k, n, k0, n0) -> np.ndarray:
    """Pooled two-proportion z-score of k/n against k0/n0 (0 where both shares are 0 or 1, or n or n0 is 0)."""
    k, n, k0, n0 = (np.asarray(x, dtype=np.float64) for x in (k, n, k0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (k + k0) / (n + n0)
        se = np.sqrt(p * (1 - p) * (1 / n + 1 / n0))
        z = (k / n - k0 / n0) / se
    return np.where(np.isfinite(z), z, 0.0)


def _counts(group: np.ndarray, event: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    g = group[mask]
    return (np.bincount(g, minlength=size).astype(np.int64),
            np.bincount(g, weights=event[mask].astype(np.float64), minlength=size).astype(np.int64))


def _render(rule, groups, hospital_of, subject, figures: dict, evidence_extra, money_fen, c: CaseArrays) -> pa.Table:
    texts = rule.render(len(groups), **{k: pa.array(v, pa.string()) for k, v in figures.items()})
    evidence = [{**{k: v[i] for k, v in figures.items()}, **evidence_extra[i]} for i in range(len(groups))]
    return flags_table(rule=rule, case_id=None, row_no=None,
                       hospital_id=pa.array([c.hospitals[h] for h in hospital_of], pa.string()), subject=subject,
                       texts=texts, evidence=evidence, money_fen=money_fen)


def _figures(k, n, k0, n0, z, i) -> dict:
    return {"share": share_text(k[i] / n[i]), "count": str(int(k[i])), "total": str(int(n[i])),
            "count0": str(int(k0[i])), "total0": str(int(n0[i])), "z": f"{z[i]:.1f}"}


def _split_cases(c: CaseArrays, suffixes) -> tuple[np.ndarray, np.ndarray]:
    """Per case: in an MCC/CC DRG; per ADRG: has such a DRG among the cases."""
    split_code = np.array([any(d.endswith(s) for s in suffixes) for d in c.drgs] + [False])
    split = split_code[np.where(c.drg >= 0, c.drg, len(c.drgs))] & c.ok
    adrg_has = np.zeros(len(c.adrgs) + 1, bool)
    adrg_has[c.adrg[split]] = True
    return split, adrg_has[:-1]


def _lowest_units(c: CaseArrays, weights: WeightTable | None, suffixes) -> np.ndarray:
    """Per ADRG: the lowest RW (millionths) of its non-split DRGs in the weight table, -1 when none."""
    low = np.full(len(c.adrgs), -1, np.int64)
    if weights is None:
        return low
    index = {a: i for i, a in enumerate(c.adrgs)}
    for drg, rw in weights.rw().items():
        i = index.get(str(drg)[:3])
        if i is not None and not any(str(drg).endswith(s) for s in suffixes):
            units = int(rw * RW_UNITS)
            low[i] = units if low[i] < 0 else min(low[i], units)
    return low


def share_flags(c: CaseArrays, book, weights: WeightTable | None) -> list[pa.Table]:
    """``UPCODING_HOSPITAL_SHARE`` and ``UPCODING_MONTH_JUMP`` flags."""
    rule, jump = book.rule("UPCODING_HOSPITAL_SHARE"), book.rule("UPCODING_MONTH_JUMP")
    if not (rule.enabled or jump.enabled):
        return []
    p = rule.params
    split, adrg_has = _split_cases(c, p["split_suffixes"])
    n_adrg, n_hosp = len(c.adrgs), len(c.hospitals)
    size = n_hosp * n_adrg
    base = c.ok & (c.hospital >= 0) & (c.adrg >= 0)
    base &= np.append(adrg_has, False)[np.where(c.adrg >= 0, c.adrg, n_adrg)]
    group = np.where(base, c.hospital.astype(np.int64) * n_adrg + c.adrg, 0)
    n, k = _counts(group, split, base & c.current, size)
    out = []
    if rule.enabled and size:
        region_n = np.bincount(np.arange(size) % n_adrg, weights=n, minlength=n_adrg).astype(np.int64)
        region_k = np.bincount(np.arange(size) % n_adrg, weights=k, minlength=n_adrg).astype(np.int64)
        n0, k0 = region_n[np.arange(size) % n_adrg] - n, region_k[np.arange(size) % n_adrg] - k
        z = two_proportion_z(k, n, k0, n0)
        with np.errstate(divide="ignore", invalid="ignore"):
            excess = k / n - k0 / n0
        hits = np.flatnonzero((n >= p["min_cases"]) & (n0 >= p["min_cases"]) & (z >= p["min_z"]) &
                              (excess >= p["min_excess"]))
        if len(hits):
            money = _excess_money(c, group, split & base & c.current, hits, k, n, k0, n0,
                                  _lowest_units(c, weights, p["split_suffixes"]))
            figures = {key: [] for key in ("adrg", "share", "count", "total", "region_share", "z")}
            extra = []
            for j, i in enumerate(hits.tolist()):
                item = _figures(k, n, k0, n0, z, i)
                item.update(adrg=c.adrgs[i % n_adrg], region_share=share_text(k0[i] / n0[i]))
                for key in figures:
                    figures[key].append(item[key])
                extra.append({"excess_cases": round(float(excess[i] * n[i]), 1),
                              "money": fen_text(money[j], thousands=False) if money[j] >= 0 else None})
            out.append(_render(rule, hits, hits // n_adrg, [c.adrgs[i % n_adrg] for i in hits], figures, extra,
                               money, c))
    if jump.enabled and size and (~c.current).any():
        q = jump.params
        n0, k0 = _counts(group, split, base & ~c.current, size)
        z = two_proportion_z(k, n, k0, n0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rise = k / n - k0 / n0
        hits = np.flatnonzero((n >= q["min_cases"]) & (n0 >= q["min_cases"]) & (z >= q["min_z"]) &
                              (rise >= q["min_jump"]))
        if len(hits):
            figures = {key: [] for key in ("adrg", "share", "count", "total", "before", "count0", "total0", "z")}
            for i in hits.tolist():
                item = _figures(k, n, k0, n0, z, i)
                item.update(adrg=c.adrgs[i % n_adrg], before=share_text(k0[i] / n0[i]))
                for key in figures:
                    figures[key].append(item[key])
            out.append(_render(jump, hits, hits // n_adrg, [c.adrgs[i % n_adrg] for i in hits], figures,
                               [{} for _ in hits], None, c))
    return out


def _excess_money(c: CaseArrays, group, cases_mask, hits, k, n, k0, n0, low_units) -> np.ndarray:
    """Money at stake per flagged group (see the module docstring); -1 when no case has an RW and a rate."""
    rows = np.flatnonzero(cases_mask & np.isin(group, hits))
    low = low_units[c.adrg[rows]]
    known = (c.rw_units[rows] >= 0) & (low >= 0) & (c.rate_fen[rows] >= 0)
    diff = np.maximum(c.rw_units[rows] - low, 0) * np.maximum(c.rate_fen[rows], 0) // RW_UNITS
    sums: dict[int, int] = {}
    for g, d in zip(group[rows][known].tolist(), diff[known].tolist()):
        sums[g] = sums.get(g, 0) + d
    out = np.full(len(hits), -1, np.int64)
    for j, g in enumerate(hits.tolist()):
        if g in sums:
            top, bottom = int(k[g]) * int(n0[g]) - int(k0[g]) * int(n[g]), int(k[g]) * int(n0[g])
            out[j] = sums[g] * top // bottom
    return out


def dumping_flags(c: CaseArrays, book) -> list[pa.Table]:
    """``DUMPING_HIGH_RW`` and ``DUMPING_TRANSFERS_OUT`` flags (need a history)."""
    if not (~c.current).any():
        return []
    out = []
    hosp = np.maximum(c.hospital, 0).astype(np.int64)
    size = len(c.hospitals)
    rule = book.rule("DUMPING_HIGH_RW")
    if rule.enabled and size and (c.rw_units >= 0).any():
        p = rule.params
        base = c.ok & (c.hospital >= 0) & (c.rw_units >= 0)
        high = c.rw_units >= round(p["high_rw"] * RW_UNITS)
        n, k = _counts(hosp, high, base & c.current, size)
        n0, k0 = _counts(hosp, high, base & ~c.current, size)
        z = two_proportion_z(k, n, k0, n0)
        hits = np.flatnonzero((n >= p["min_cases"]) & (n0 >= p["min_cases"]) & (z <= -p["min_z"]) &
                              (k * n0 <= (1 - p["min_drop"]) * k0 * n))
        out += _history_flags(rule, c, hits, k, n, k0, n0, z, high_rw=str(p["high_rw"]))
    rule = book.rule("DUMPING_TRANSFERS_OUT")
    if rule.enabled and size:
        p = rule.params
        base = (c.hospital >= 0) & (c.discharge_method >= 0)
        transfer = c.discharge_method == 2
        n, k = _counts(hosp, transfer, base & c.current, size)
        n0, k0 = _counts(hosp, transfer, base & ~c.current, size)
        z = two_proportion_z(k, n, k0, n0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rise = k / n - k0 / n0
        hits = np.flatnonzero((n >= p["min_cases"]) & (n0 >= p["min_cases"]) & (z >= p["min_z"]) &
                              (rise >= p["min_rise"]))
        out += _history_flags(rule, c, hits, k, n, k0, n0, z)
    return out


def _history_flags(rule, c: CaseArrays, hits, k, n, k0, n0, z, **fixed) -> list[pa.Table]:
    if not len(hits):
        return []
    figures = {key: [] for key in ("share", "count", "total", "before", "count0", "total0", "z")}
    for i in hits.tolist():
        item = _figures(k, n, k0, n0, z, i)
        item["before"] = share_text(k0[i] / n0[i])
        for key in figures:
            figures[key].append(item[key])
    for key, value in fixed.items():
        figures[key] = [value] * len(hits)
    return [_render(rule, hits, hits, ["all"] * len(hits), figures, [{} for _ in hits], None, c)]


__all__ = ["dumping_flags", "share_flags", "two_proportion_z"]
