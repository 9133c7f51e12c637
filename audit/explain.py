"""Per-record explanation (分组说明), from the grouper's own trace.

Columns
-------
``case_id``, ``row_no``, ``status``, ``drg``;
``mdc_reason`` (入MDC依据): the MDC and its entry rule;
``adrg_reason`` (ADRG依据): the ADRG rule that matched;
``split_reason`` (细分依据): the DRG row's condition and the diagnosis behind it
(the first MCC or CC after the exclusion table);
``excluded_dx`` (被排除的并发症): secondary MCC/CC codes cancelled by the principal's exclusion table;
``mdc_trace`` (未入组原因): for a record no MDC took, which MDCs it entered and left for want of
a matching ADRG, or that none of their entry rules held; for ``invalid``, the grouper's reason;
``coded_rw``, ``best_alternative``, ``best_drg``, ``best_rw`` (what-if, see :mod:`audit.whatif`);
``whatif_money`` (替代方案差额, 元): ⌊(best RW − coded RW) × base rate⌋, the money at stake of the what-if
flags (positive: the alternative pays more), null without both RWs.
Texts are dictionary columns: one string per distinct rule row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit.code_names import dx_names, with_names
from audit.pack_facts import reachable_atoms
from audit.trace_rules import TraceView, subset_batch
from audit.whatif import WhatIf
from grouper import Grouper
from grouper.results import STATUS_INVALID, STATUS_UNGROUPABLE, take_text
from icd_tables.rules import readable
from icd_tables.compiled import ATOM_CC, ATOM_KIND, ATOM_MCC, ATOM_MCC_OR_CC, CompiledPack
from foundation.decimals import decimal_array, units_or_null
from foundation.remembered import per_object
from weights import RW_UNITS

UNCONDITIONAL = "无条件 (unconditional)"


def _rule_text(rule: str) -> str:
    return readable(rule) if rule else UNCONDITIONAL


def _drg_rows(cp: CompiledPack, adrg_row: np.ndarray, drg: np.ndarray) -> np.ndarray:
    """The DRG row of each record's ADRG that gave its DRG (-1 when not grouped)."""
    row = np.full(len(adrg_row), -1, dtype=np.int64)
    grouped = np.flatnonzero(adrg_row >= 0)
    start = cp.adrg_drg_start[adrg_row[grouped]].astype(np.int64)
    end = cp.adrg_drg_start[adrg_row[grouped] + 1].astype(np.int64)
    found = np.full(len(grouped), -1, dtype=np.int64)
    for offset in range(int((end - start).max(initial=0))):
        d = start + offset
        hit = (found < 0) & (d < end) & (cp.drg_target[np.minimum(d, len(cp.drg_target) - 1)] == drg[grouped])
        found[hit] = d[hit]
    row[grouped] = found
    return row


def _split_texts(cp: CompiledPack) -> tuple[list[str], np.ndarray]:
    """Per DRG row: its condition in words, and which complication it tests (0 none, 1 MCC, 2 CC, 3 either)."""
    texts, tests = [], np.zeros(len(cp.drg_entry), dtype=np.int8)
    rules = cp.drg_rules.to_pylist()
    codes = cp.drg_codes.to_pylist()
    for d, entry in enumerate(cp.drg_entry):
        kinds = set(reachable_atoms(cp, entry)[:, ATOM_KIND].tolist())
        tests[d] = (1 if kinds & {ATOM_MCC, ATOM_MCC_OR_CC} else 0) | (2 if kinds & {ATOM_CC, ATOM_MCC_OR_CC} else 0)
        texts.append(f"{codes[cp.drg_target[d]]}：{_rule_text(rules[d])}")
    return texts, tests


def _pack_texts(cp: CompiledPack) -> tuple[pa.Array, pa.Array, pa.Array, np.ndarray]:
    """The readable rule of every MDC, ADRG and DRG row, and the complication tests of each DRG row: written once
    per pack (a pack has hundreds of rules; one record reads three)."""
    return per_object("rule texts", (cp,), lambda: _written_pack_texts(cp))


def _written_pack_texts(cp: CompiledPack) -> tuple[pa.Array, pa.Array, pa.Array, np.ndarray]:
    mdc = pa.array([f"MDC {c} {name}：{_rule_text(rule)}" for c, name, rule in zip(
        cp.mdc_codes.to_pylist(), cp.mdc_names.to_pylist(), cp.mdc_rules.to_pylist())], pa.string())
    adrg = pa.array([f"{rid}：{_rule_text(rule)}" for rid, rule in zip(
        cp.adrg_rule_ids.to_pylist(), cp.adrg_rules.to_pylist())], pa.string())
    split, tests = _split_texts(cp)
    return mdc, adrg, pa.array(split, pa.string()), tests


def explanations(view: TraceView, grouper: Grouper, excluded_dx: pa.Array, whatif: WhatIf) -> pa.Table:
    """One explanation row per record of the traced batch."""
    cp, trace = grouper.pack.compiled, view.trace
    o, results = trace.outputs, trace.results
    mdc_texts, adrg_texts, split_texts, tests = _pack_texts(cp)
    drg_row = _drg_rows(cp, o.adrg_row, o.drg)
    split = take_text(split_texts, drg_row).dictionary_decode()
    test = np.where(drg_row >= 0, tests[np.maximum(drg_row, 0)], 0)
    b = trace.encoded.batch
    mcc, cc = (_named_dx(cp, results.column(name), b.dx_ids, pos)
               for name, pos in (("mcc_dx", o.mcc_pos), ("cc_dx", o.cc_pos)))
    use_mcc = ((test & 1) != 0) & _written(mcc, len(test))
    use_cc = ((test & 2) != 0) & ~use_mcc & _written(cc, len(test))
    if use_mcc.any() or use_cc.any():  # else nothing follows the condition
        behind = pc.if_else(pa.array(use_mcc), _after("；MCC ", mcc),
                            pc.if_else(pa.array(use_cc), _after("；CC ", cc), ""))
        split = pc.binary_join_element_wise(split, behind, "")
    best_alternative, best_drg = whatif.best_columns(["alternative", "drg"])
    return pa.table({
        "case_id": view.case_id,
        "row_no": pa.array(view.row_no),
        "status": results.column("status"),
        "drg": results.column("drg"),
        "mdc_reason": take_text(mdc_texts, o.mdc.astype(np.int64)),
        "adrg_reason": take_text(adrg_texts, o.adrg_row.astype(np.int64)),
        "split_reason": split,
        "excluded_dx": excluded_dx,
        "mdc_trace": _mdc_trace(view, grouper),
        "coded_rw": units_or_null(whatif.coded_units, 6),
        "best_alternative": best_alternative,
        "best_drg": best_drg,
        "best_rw": units_or_null(whatif.best_units(), 6),
        "whatif_money": whatif_money(whatif),
    })


def _named_dx(cp: CompiledPack, codes: pa.ChunkedArray, dx_ids: np.ndarray, pos: np.ndarray) -> pa.Array | None:
    """The diagnosis at ``pos`` of each record (the result column ``codes``) with its name; None when no record
    has one (a batch without a complication: no name to look up)."""
    if not (pos >= 0).any():
        return None
    return with_names(codes.combine_chunks(), dx_names(cp, np.where(pos >= 0, dx_ids[np.maximum(pos, 0)], -1)))


def _written(text: pa.Array | None, n: int) -> np.ndarray:
    """Where ``text`` (of :func:`_named_dx`, ``n`` records) is not empty."""
    return np.zeros(n, bool) if text is None else pc.not_equal(text, "").to_numpy(zero_copy_only=False)


def _after(label: str, text: pa.Array | None) -> pa.Array | str:
    """``label`` before each ``text`` (of :func:`_named_dx`; none: not used)."""
    return "" if text is None else pc.binary_join_element_wise(label, text, "")


def whatif_money(whatif: WhatIf) -> pa.Array:
    """Per record, the money at stake of the best alternative in 元 (``whatif_money``), null without both RWs."""
    best = whatif.best_units()
    known = (best >= 0) & (whatif.coded_units >= 0) & (whatif.rate_fen >= 0)
    diff = np.where(known, best - whatif.coded_units, 0)  # the fen amount is rounded toward zero, like the flags
    return decimal_array(np.where(known, np.sign(diff) * (np.abs(diff) * whatif.rate_fen // RW_UNITS), 0), 2,
                         valid=known)


def _distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(rows, axis=0, return_inverse=True)`` of a bool matrix, its rows packed into bytes first (in the
    same order: NumPy's row-wise unique takes tens of microseconds for one row and seconds for 100,000)."""
    if not rows.shape[1]:
        return rows[:min(len(rows), 1)], np.zeros(len(rows), np.int64)
    packed = np.ascontiguousarray(np.packbits(rows, axis=1))
    _, first, which = np.unique(packed.view(np.dtype((np.void, packed.shape[1]))).ravel(), return_index=True,
                                return_inverse=True)
    return rows[first], which


def _mdc_trace(view: TraceView, grouper: Grouper) -> pa.Array:
    """Why a record was not grouped: the MDCs it entered without a matching ADRG, or none entered."""
    cp, o = grouper.pack.compiled, view.trace.outputs
    text = np.full(view.n, "", dtype=object)
    invalid = np.flatnonzero(o.status == STATUS_INVALID)
    if len(invalid):
        detail = view.trace.results.column("reason_detail").combine_chunks().cast(pa.string())
        status_zh = view.trace.results.column("status_zh").combine_chunks().cast(pa.string())
        joined = pc.binary_join_element_wise(status_zh, detail, "：")
        text[invalid] = joined.take(pa.array(invalid)).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero((o.status == STATUS_UNGROUPABLE) & (o.mdc < 0))
    if len(rows):
        batch = view.trace.encoded.batch
        entered = grouper.evaluate(subset_batch(batch, rows), cp.mdc_entry)
        masks, which = _distinct_rows(entered)
        codes = np.asarray(cp.mdc_codes.to_pylist(), dtype=object)
        per_mask = np.array([f"进入 MDC {'、'.join(codes[m])} 但无匹配的ADRG，均未入组 "
                             f"(entered MDC {', '.join(codes[m])}, no ADRG rule held)" for m in masks], dtype=object)
        text[rows] = per_mask[which.ravel()]
        none = rows[~masks.any(axis=1)[which.ravel()]]
        if len(none):
            principal, _, _ = view.dx_text(batch.dx_start[:-1][none])
            text[none] = pc.binary_join_element_wise(
                "主要诊断 ", principal, " 不满足任何MDC的入组条件 (no MDC entry rule holds for ", principal, ")", ""
            ).to_numpy(zero_copy_only=False)
    return pa.array(text, pa.string()).dictionary_encode()


__all__ = ["explanations", "whatif_money"]
