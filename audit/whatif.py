"""What-if regrouping: the DRG each record would get with another principal diagnosis or procedure.

For every record that is not ``invalid`` the alternatives are (see
:mod:`audit._kernels`): each secondary diagnosis as the principal, the old
principal becoming the first secondary diagnosis; and, when the principal
procedure is not an operating-room procedure but a later one is, that
procedure first.  All alternatives of a batch are regrouped in one kernel call.

With a weight table, each alternative's RW is compared with the coded one.
With ``r`` the rule's ``ratio`` (default 1.2) and RWs in exact millionths:

* ``WHATIF_UNDERCODING`` (可能漏编/低编): the best alternative's RW ≥ r × the coded RW;
* ``WHATIF_UPCODING`` (高套风险): the coded RW ≥ r × the best alternative's RW
  (records with at least one weighted alternative);
* ``DRG_PRINCIPAL_PROC_ORDER``: the only operating-room procedure is listed
  after non-OR procedures; the message names the DRG with it first.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit._kernels import KIND_DX_SWAP, KIND_PROC_FIRST, _alternatives
from audit.findings import findings_table
from audit.pack_facts import PackFacts
from audit.rulebook import RuleBook
from audit.trace_rules import TraceView
from grouper import Batch, Grouper
from grouper.results import STATUS_INVALID, STATUS_NAMES, STATUS_OK, take_text
from weights import WeightTable, lookup_units
from foundation.decimals import units_or_null

ALTERNATIVE_COLUMNS = ("case_id", "row_no", "change", "code", "alternative", "drg", "drg_name", "status", "rw")


@dataclass(frozen=True)
class WhatIf:
    """Alternatives of a batch.

    Attributes
    ----------
    table : pyarrow.Table
        One row per alternative: ``case_id``, ``row_no``, ``change``
        (``principal_dx`` or ``principal_proc``), ``code`` (the code moved to
        the front), ``alternative`` (the change in words), ``drg``, ``drg_name``,
        ``status``, ``rw`` (decimal, null without a weight table or weight).
    parent : numpy.ndarray
        Record (batch position) of each alternative.
    rw_units : numpy.ndarray
        Alternative RW in millionths, -1 when none.
    coded_units : numpy.ndarray
        Per record: the coded DRG's RW in millionths, -1 when none.
    best : numpy.ndarray
        Per record: the alternative with the highest RW, -1 when none has one.
    """

    table: pa.Table
    parent: np.ndarray
    rw_units: np.ndarray
    coded_units: np.ndarray
    best: np.ndarray

    def best_units(self) -> np.ndarray:
        """Per record, the best alternative's RW in millionths, -1 when none."""
        padded = np.append(self.rw_units, -1)  # best == -1 reads the last, -1
        return padded[self.best]

    def best_column(self, name: str) -> pa.Array:
        """Per record, column ``name`` of the best alternative (``""`` when none), as text."""
        column = self.table.column(name).combine_chunks().cast(pa.string())
        return pc.fill_null(pa.concat_arrays([column, pa.array([None], pa.string())]).take(
            pa.array(np.where(self.best >= 0, self.best, len(column)))), "")


def what_if(view: TraceView, grouper: Grouper, facts: PackFacts, weights: WeightTable | None) -> WhatIf:
    """Regroup every alternative of the traced batch (one kernel call)."""
    cp, b, o = grouper.pack.compiled, view.trace.encoded.batch, view.trace.outputs
    keep = o.status != STATUS_INVALID
    parent, kind, moved, dx_start, dx_ids, proc_start, proc_ids = _alternatives(
        b.dx_start, b.dx_ids, b.proc_start, b.proc_ids, keep, facts.or_proc)
    alt = Batch(dx_start, dx_ids, proc_start, proc_ids, np.ascontiguousarray(b.nums[:, parent]))
    out = grouper.group_batch(alt)
    dx_codes, _, _ = view.dx_text(moved[kind == KIND_DX_SWAP])
    proc_codes, _ = view.proc_text(moved[kind == KIND_PROC_FIRST])
    code = np.empty(len(parent), dtype=object)
    code[kind == KIND_DX_SWAP] = dx_codes.to_numpy(zero_copy_only=False)
    code[kind == KIND_PROC_FIRST] = proc_codes.to_numpy(zero_copy_only=False)
    code = pa.array(code, pa.string())
    is_dx = kind == KIND_DX_SWAP
    words = pc.binary_join_element_wise(
        pa.array(np.where(is_dx, "主要诊断改为 ", "主要手术改为 ")), code,
        pa.array(np.where(is_dx, " (principal diagnosis ", " (principal procedure ")), code, ")", "")
    drg_codes = take_text(cp.drg_codes, out.drg.astype(np.int64))
    rw_units = np.full(len(parent), -1, dtype=np.int64)
    coded_units = np.full(view.n, -1, dtype=np.int64)
    if weights is not None:
        ok = out.status == STATUS_OK
        rw_units[ok] = lookup_units(drg_codes.dictionary_decode().to_numpy(zero_copy_only=False)[ok], weights)
        coded = o.status == STATUS_OK
        drg = view.trace.results.column("drg").combine_chunks().cast(pa.string()).to_numpy(zero_copy_only=False)
        coded_units[coded] = lookup_units(drg[coded], weights)
    best = _best_alternative(parent, rw_units, view.n)
    table = pa.table({
        "case_id": view.case_id.take(pa.array(parent)),
        "row_no": pa.array(view.row_no[parent]),
        "change": pa.array(np.where(is_dx, "principal_dx", "principal_proc")).dictionary_encode(),
        "code": code,
        "alternative": words,
        "drg": drg_codes,
        "drg_name": take_text(cp.drg_names, out.drg.astype(np.int64)),
        "status": take_text(STATUS_NAMES, out.status.astype(np.int64)),
        "rw": units_or_null(rw_units, 6),
    })
    return WhatIf(table, parent, rw_units, coded_units, best)


def _best_alternative(parent: np.ndarray, units: np.ndarray, n: int) -> np.ndarray:
    """Per record, the alternative with the highest RW (the first one on ties), -1 when none has a weight."""
    best = np.full(n, -1, dtype=np.int64)
    weighted = np.flatnonzero(units >= 0)
    if len(weighted):
        order = weighted[np.lexsort((weighted, -units[weighted], parent[weighted]))]
        first = np.ones(len(order), dtype=bool)
        first[1:] = parent[order[1:]] != parent[order[:-1]]
        best[parent[order[first]]] = order[first]
    return best


def _ratio_text(top: np.ndarray, bottom: np.ndarray) -> pa.Array:
    """``top / bottom`` with two decimals, exact integer arithmetic (round half up)."""
    hundredths = (200 * top + bottom) // (2 * bottom)
    return pa.array([f"{h // 100}.{h % 100:02d}" for h in hundredths.tolist()], pa.string())


def whatif_findings(view: TraceView, whatif: WhatIf, facts: PackFacts, book: RuleBook) -> list[pa.Table]:
    """Under-coding, upcoding and principal-procedure-order findings from the alternatives."""
    out = []
    drg = view.trace.results.column("drg").combine_chunks().cast(pa.string())
    best, coded = whatif.best, whatif.coded_units
    has = (best >= 0) & (coded > 0)
    alt_units = np.where(has, whatif.best_units(), 0)
    for rule_id, fires, top, bottom in (
        ("WHATIF_UNDERCODING", lambda r: has & (alt_units * r.denominator >= coded * r.numerator), alt_units, coded),
        ("WHATIF_UPCODING", lambda r: has & (alt_units > 0) & (coded * r.denominator >= alt_units * r.numerator),
         coded, alt_units),
    ):
        rule = book.rule(rule_id)
        if not rule.enabled:
            continue
        rows = np.flatnonzero(fires(Fraction(str(rule.params["ratio"]))))
        if not len(rows):
            continue
        pick = pa.array(best[rows])
        code = whatif.table.column("code").take(pick)
        is_dx = np.asarray(whatif.table.column("change").take(pick).cast(pa.string())) == "principal_dx"
        change_zh = pc.binary_join_element_wise(pa.array(np.where(is_dx, "主要诊断改为 ", "主要手术改为 ")), code, "")
        change_en = pc.binary_join_element_wise(
            pa.array(np.where(is_dx, "with principal diagnosis ", "with principal procedure ")), code, "")
        texts = rule.render(len(rows), change_zh=change_zh, change_en=change_en,
                            alt_drg=whatif.table.column("drg").take(pick).cast(pa.string()),
                            alt_ratio=_ratio_text(top[rows], bottom[rows]), drg=drg.take(pa.array(rows)))
        out.append(findings_table(view.case_id, view.row_no, rows, rule_id=rule.id, severity=rule.severity,
                                  field=pa.array(np.where(is_dx, "principal_dx", "procedures")), value=code,
                                  message_zh=texts[0],
                                  message_en=texts[1], suggestion=texts[2]))
    rule = book.rule("DRG_PRINCIPAL_PROC_ORDER")
    proc_alt = np.flatnonzero(np.asarray(whatif.table.column("change").cast(pa.string())) == "principal_proc")
    if rule.enabled and len(proc_alt):
        b = view.trace.encoded.batch
        flat_records = np.repeat(np.arange(view.n), np.diff(b.proc_start))
        is_or = (b.proc_ids >= 0) & facts.or_proc[np.maximum(b.proc_ids, 0)]
        n_or = np.bincount(flat_records[is_or], minlength=view.n)
        only = proc_alt[n_or[whatif.parent[proc_alt]] == 1]
        if len(only):
            records = whatif.parent[only]
            principal, _ = view.proc_text(b.proc_start[:-1][records])
            pick = pa.array(only)
            texts = rule.render(len(only), code=principal, better=whatif.table.column("code").take(pick),
                                better_drg=whatif.table.column("drg").take(pick).cast(pa.string()),
                                drg=drg.take(pa.array(records)))
            out.append(findings_table(view.case_id, view.row_no, records, rule_id=rule.id, severity=rule.severity,
                                      field="procedures", value=principal, message_zh=texts[0],
                                      message_en=texts[1], suggestion=texts[2]))
    return out


__all__ = ["ALTERNATIVE_COLUMNS", "WhatIf", "what_if", "whatif_findings"]
