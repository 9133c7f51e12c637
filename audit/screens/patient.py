"""Screens over a patient's stays: split admissions (分解住院), readmission chains, overlapping stays.

Each sorts the eligible cases once (by patient, then the screen's keys, then
admission date) and compares neighbours on the sorted arrays, so the work is a
few sorts and vectorised passes whatever the number of cases.

* ``SPLIT_READMISSION``: with stays sorted by patient, [hospital], match key
  (ADRG or MDC) and admission, a stay whose admission is 0…``max_gap_days``
  days after the previous stay's discharge (same patient, [hospital] and key)
  is a readmission; the previous stay's ADRG is not exempt, and across
  hospitals a previous stay ending in a transfer (离院方式 2) is not one.
* ``SPLIT_CHAIN``: maximal runs of stays so linked, ``min_stays`` or more long;
  flagged on the chain's first stay.
* ``DUPLICATE_OVERLAP``: by patient and admission, a stay that starts at least
  ``min_overlap_days`` before the latest discharge among the patient's earlier
  stays (any status, any hospital).

Only current cases are flagged; the history supplies earlier stays.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from audit.screens.cases import NO_DATE, CaseArrays
from audit.screens.config import MATCH_KEYS
from foundation.decimals import fen_text


def sort_order(keys: list[np.ndarray]) -> np.ndarray:
    """Stable order by ``keys`` (most significant first; non-negative integers), packed into one int64 when they fit."""
    highs = [int(k.max()) + 1 if len(k) else 1 for k in keys]
    bits = [max(1, int(h - 1).bit_length()) for h in highs]
    if sum(bits) <= 63:
        packed = np.zeros(len(keys[0]), np.int64)
        for key, b in zip(keys, bits):
            packed = (packed << b) | key.astype(np.int64)
        return np.argsort(packed, kind="stable")
    return np.lexsort(tuple(reversed(keys)))


def iso(day: int) -> str:
    """Days since 1970-01-01 as ISO text (``""`` for no date)."""
    return "" if day == NO_DATE else str(np.datetime64(int(day), "D"))


def readmission_links(c: CaseArrays, params: dict, exempt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted eligible stays and, per position, whether the stay readmits the one before it.

    Returns
    -------
    order : numpy.ndarray
        Case positions, sorted by patient, [hospital], key, admission.
    link : numpy.ndarray of bool
        ``link[i]``: ``order[i]`` is a readmission after ``order[i - 1]``.
    """
    key = c.adrg if params["match"] == "adrg" else c.mdc
    eligible = c.ok & (c.patient >= 0) & (key >= 0) & (c.admit != NO_DATE) & (c.discharge != NO_DATE)
    eligible &= ~exempt
    idx = np.flatnonzero(eligible)
    day0 = int(c.admit[idx].min()) if len(idx) else 0
    keys = [c.patient[idx]] + ([np.maximum(c.hospital[idx], 0)] if params["same_hospital"] else []) + \
           [key[idx], (c.admit[idx] - day0).astype(np.int64)]
    order = idx[sort_order(keys)]
    link = np.zeros(len(order), bool)
    if len(order) > 1:
        a, b = order[:-1], order[1:]
        same = (c.patient[a] == c.patient[b]) & (key[a] == key[b])
        if params["same_hospital"]:
            same &= c.hospital[a] == c.hospital[b]
        else:
            same &= ~((c.discharge_method[a] == 2) & (c.hospital[a] != c.hospital[b]))
        gap = c.admit[b].astype(np.int64) - c.discharge[a]
        link[1:] = same & (gap >= 0) & (gap <= params["max_gap_days"])
    return order, link


def split_flags(c: CaseArrays, book) -> list[pa.Table]:
    """``SPLIT_READMISSION`` and ``SPLIT_CHAIN`` flags."""
    rule, chain_rule = book.rule("SPLIT_READMISSION"), book.rule("SPLIT_CHAIN")
    if not (rule.enabled or chain_rule.enabled):
        return []
    p = rule.params
    exempt_codes = set(p["exempt_adrgs"])
    exempt_adrg = np.array([a in exempt_codes for a in c.adrgs] + [False])
    exempt = exempt_adrg[np.where(c.adrg >= 0, c.adrg, len(c.adrgs))]
    order, link = readmission_links(c, p, exempt)
    key = c.adrg if p["match"] == "adrg" else c.mdc
    key_values = c.adrgs if p["match"] == "adrg" else c.mdcs
    match_zh, match_en = MATCH_KEYS[p["match"]]
    out = []
    pos = np.flatnonzero(link)
    pos = pos[c.current[order[pos]]]
    if rule.enabled and len(pos):
        rows, prev = order[pos], order[pos - 1]
        patients = c.text("patient_id", rows)
        prev_ids = c.case_id.take(pa.array(prev)).to_pylist()
        evidence, gaps, prev_dis, keys = [], [], [], []
        for r, q, pid, qid in zip(rows.tolist(), prev.tolist(), patients, prev_ids):
            gap = int(c.admit[r] - c.discharge[q])
            gaps.append(str(gap))
            prev_dis.append(iso(c.discharge[q]))
            keys.append(key_values[key[r]])
            evidence.append({"patient_id": pid, "previous_case": qid, "previous_row": int(c.row_no[q]),
                             "previous_in_history": not bool(c.current[q]),
                             "previous_hospital": c.hospitals[c.hospital[q]] if c.hospital[q] >= 0 else "",
                             "previous_admit": iso(c.admit[q]), "previous_discharge": prev_dis[-1],
                             "admit": iso(c.admit[r]), "discharge": iso(c.discharge[r]), "gap_days": gap,
                             "match": p["match"], "key": keys[-1], "drg": c.drgs[c.drg[r]],
                             "payment": fen_text(c.pay_fen[r], thousands=False) if c.pay_fen[r] >= 0 else None})
        texts = rule.render(len(rows), patient_id=pa.array(patients), previous_discharge=pa.array(prev_dis),
                            previous_case=pa.array(prev_ids, pa.string()), gap=pa.array(gaps), key=pa.array(keys),
                            match_zh=match_zh, match_en=match_en)
        out.append(c.flags(rule, rows, texts, evidence, c.pay_fen[rows]))
    if chain_rule.enabled and len(order):
        chain = np.cumsum(~link) - 1
        length = np.bincount(chain)
        starts = np.flatnonzero(~link)
        long_chains = np.flatnonzero(length >= chain_rule.params["min_stays"])
        long_chains = long_chains[c.current[order[starts[long_chains] + length[long_chains] - 1]]]
        if len(long_chains):
            rows = order[starts[long_chains] + length[long_chains] - 1]
            evidence, lists, stays = [], [], []
            for s, k in zip(starts[long_chains].tolist(), length[long_chains].tolist()):
                members = order[s:s + k]
                ids = c.case_id.take(pa.array(members)).to_pylist()
                lists.append(", ".join(ids))
                stays.append(str(k))
                evidence.append({"patient_id": c.text("patient_id", members[:1])[0], "stays": k, "cases": ids,
                                 "rows": c.row_no[members].tolist(),
                                 "admits": [iso(d) for d in c.admit[members]],
                                 "discharges": [iso(d) for d in c.discharge[members]],
                                 "match": p["match"], "key": key_values[key[members[0]]]})
            texts = chain_rule.render(len(rows), patient_id=pa.array(c.text("patient_id", rows)),
                                      stays=pa.array(stays), cases=pa.array(lists), max_gap_days=p["max_gap_days"])
            out.append(c.flags(chain_rule, rows, texts, evidence, None))
    return out


def overlap_flags(c: CaseArrays, book) -> list[pa.Table]:
    """``DUPLICATE_OVERLAP`` flags."""
    rule = book.rule("DUPLICATE_OVERLAP")
    if not rule.enabled:
        return []
    idx = np.flatnonzero((c.patient >= 0) & (c.admit != NO_DATE) & (c.discharge != NO_DATE) & (c.discharge >= c.admit))
    if len(idx) < 2:
        return []
    day0 = int(min(c.admit[idx].min(), c.discharge[idx].min()))
    span = int(max(c.admit[idx].max(), c.discharge[idx].max())) - day0 + 1
    order = idx[sort_order([c.patient[idx], (c.admit[idx] - day0).astype(np.int64),
                            (c.discharge[idx] - day0).astype(np.int64)])]
    patient = c.patient[order].astype(np.int64)
    # running latest discharge per patient: offsets keep one patient's maximum from leaking into the next
    value = patient * span + (c.discharge[order] - day0)
    running = np.maximum.accumulate(value)
    holder = np.maximum.accumulate(np.where(value == running, np.arange(len(order)), 0))
    before = holder[:-1]
    later = np.arange(1, len(order))
    same = patient[before] == patient[later]
    end = np.minimum(c.discharge[order[before]], c.discharge[order[later]]).astype(np.int64)
    overlap = end - c.admit[order[later]]
    hit = same & (overlap >= rule.params["min_overlap_days"]) & c.current[order[later]]
    pos = later[hit]
    if not len(pos):
        return []
    rows, other = order[pos], order[holder[pos - 1]]
    patients = c.text("patient_id", rows)
    other_ids = c.case_id.take(pa.array(other)).to_pylist()
    evidence, values = [], {k: [] for k in ("admit", "discharge", "other_hospital", "other_admit", "other_discharge",
                                            "days")}
    for r, q, pid, qid, days in zip(rows.tolist(), other.tolist(), patients, other_ids, overlap[hit].tolist()):
        item = {"admit": iso(c.admit[r]), "discharge": iso(c.discharge[r]),
                "other_hospital": c.hospitals[c.hospital[q]] if c.hospital[q] >= 0 else "",
                "other_admit": iso(c.admit[q]), "other_discharge": iso(c.discharge[q]), "days": str(days)}
        for k, v in item.items():
            values[k].append(v)
        evidence.append({**item, "days": days, "patient_id": pid, "other_case": qid, "other_row": int(c.row_no[q]),
                         "other_in_history": not bool(c.current[q]),
                         "payment": fen_text(c.pay_fen[r], thousands=False) if c.pay_fen[r] >= 0 else None})
    texts = rule.render(len(rows), patient_id=pa.array(patients), other_case=pa.array(other_ids, pa.string()),
                        **{k: pa.array(v, pa.string()) for k, v in values.items()})
    return [c.flags(rule, rows, texts, evidence, c.pay_fen[rows])]


__all__ = ["iso", "overlap_flags", "readmission_links", "sort_order", "split_flags"]
