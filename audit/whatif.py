"""What-if regrouping: the DRG each record would get with another principal diagnosis or procedure.

For every record that is not ``invalid`` the alternatives are (see
:mod:`audit._kernels`): each secondary diagnosis as the principal, the old
principal becoming the first secondary diagnosis; when the principal
procedure is not an operating-room procedure but a later one is, that
procedure first; and, for a record with an MCC or CC, the record without it
("without this MCC/CC → DRG X").  Each alternative names its codes with the
pack's names and says why it lands where it does (``reason``).

With a weight table, each alternative's RW is compared with the coded one.
The best alternative is the one with the highest RW among the reorderings
(dropping a complication is shown, never counted as a coding alternative).
With ``r`` the rule's ``ratio`` and ``g`` its ``min_gain_yuan``, and the money
at stake ``|ΔRW| × base rate`` (the weight table's base rate for the record's
insurance type, else the rule's ``rate_yuan``), rounded down to the fen:

* ``WHATIF_UNDERCODING`` (可能漏编/低编): the best alternative's RW ≥ r × the coded RW
  and the fund would pay at least ``g`` 元 more with it;
* ``WHATIF_UPCODING`` (高套风险): the coded RW ≥ r × the best alternative's RW
  and the coded DRG is paid at least ``g`` 元 more;
* ``DRG_PRINCIPAL_PROC_ORDER``: the only operating-room procedure is listed
  after non-OR procedures; the message names the DRG with it first.

The defaults of ``ratio`` and ``min_gain_yuan`` were chosen on the synthetic
month of :mod:`audit.screens.synthetic` (every planted upcoding case is
flagged) and checked on the golden CHS-DRG 1.1 records (each rule fires on
at most 3 % of them); the rule book states them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property, lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit._kernels import KIND_DX_SWAP, KIND_PROC_FIRST, _alternatives
from audit.code_names import dx_names, proc_names, with_names
from audit.findings import Part
from audit.pack_facts import PackFacts
from audit.rulebook import RuleBook
from audit.screens.money import Rates
from audit.thresholds import over_threshold
from audit.trace_rules import TraceView, finding_part, subset_batch
from grouper import Batch, Grouper, Outputs
from grouper.results import STATUS_INVALID, STATUS_NAMES, STATUS_OK, STATUS_QY, take_text
from icd_tables.compiled import CompiledPack
from weights import RW_UNITS, WeightTable, lookup_units
from foundation.decimals import units_or_null
from foundation.remembered import per_object

#: Kind of an alternative that drops the record's first MCC or CC (after the kernel's kinds).
KIND_DROP_CC = 2
ALTERNATIVE_COLUMNS = ("case_id", "row_no", "change", "code", "alternative", "drg", "drg_name", "status", "rw",
                       "reason")
CHANGES = ("principal_dx", "principal_proc", "without_cc")
# one array for the life of the process: take_text keeps its dictionary per array (a new one each call would
# also push the pack's name tables out of that cache)
_CHANGE_NAMES = pa.array(CHANGES)


@dataclass(frozen=True)
class WhatIf:
    """Alternatives of a batch.

    The alternatives' texts are written only for the alternatives read: all of them for :attr:`table`, the
    best ones for the findings and the explanation (a batch has about two alternatives per record).

    Attributes
    ----------
    view : TraceView
        The traced batch.
    cp : CompiledPack
        Its pack.
    parent : numpy.ndarray
        Record (batch position) of each alternative.
    kind : numpy.ndarray
        Kind of each alternative (index into :data:`CHANGES`).
    moved : numpy.ndarray
        Flat diagnosis or procedure position of the code each alternative moves to the front or drops.
    level : numpy.ndarray
        Whether an alternative that drops a complication drops an MCC (else a CC).
    regroup : Regroup
        The alternatives' records, to regroup.
    rw_units : numpy.ndarray
        Alternative RW in millionths, -1 when none.
    coded_units : numpy.ndarray
        Per record: the coded DRG's RW in millionths, -1 when none.
    best : numpy.ndarray
        Per record: the reordering with the highest RW, -1 when none has one.
    rate_fen : numpy.ndarray
        Per record: the base rate in fen per RW the money at stake is computed with, -1 when none.
    weighted : bool
        Whether a weight table gave the RWs.
    """

    view: TraceView
    cp: CompiledPack
    parent: np.ndarray
    kind: np.ndarray
    moved: np.ndarray
    level: np.ndarray
    regroup: Regroup
    rw_units: np.ndarray
    coded_units: np.ndarray
    best: np.ndarray
    rate_fen: np.ndarray
    weighted: bool

    @property
    def outputs(self) -> Outputs:
        """The kernel's outputs (status, MDC, ADRG row, DRG) for each alternative."""
        return self.regroup.all

    def outputs_at(self, pick: np.ndarray) -> Outputs:
        """:attr:`outputs` at alternatives ``pick``."""
        return self.regroup.at(pick)

    @cached_property
    def table(self) -> pa.Table:
        """One row per alternative, by record: ``case_id``, ``row_no``, ``change`` (``principal_dx``,
        ``principal_proc`` or ``without_cc``), ``code`` (the code moved to the front or dropped), ``alternative``
        (the change in words, with the code's name), ``drg``, ``drg_name``, ``status``, ``rw`` (decimal, null
        without a weight table or weight), ``reason`` (why it lands there)."""
        return self.rows(np.arange(len(self.parent)))

    def codes(self, pick: np.ndarray) -> tuple[pa.Array, pa.Array]:
        """The code each alternative of ``pick`` moves or drops, as written and with the pack's name
        (``code（名称）``)."""
        pick = np.asarray(pick, dtype=np.int64)
        b = self.view.trace.encoded.batch
        is_proc = self.kind[pick] == KIND_PROC_FIRST
        codes, named, where = [], [], []
        for mask, text_of, names_of, ids in ((~is_proc, self.view.dx_text, dx_names, b.dx_ids),
                                             (is_proc, self.view.proc_text, proc_names, b.proc_ids)):
            picked = np.flatnonzero(mask)
            if not len(picked) and len(pick):  # none of this kind (one record's usual case): nothing to look up
                continue
            moved = self.moved[pick[picked]]
            text = text_of(moved)[0]
            codes.append(text)
            named.append(with_names(text, names_of(self.cp, ids[moved])))
            where.append(picked)
        back = np.empty(len(pick), dtype=np.int64)  # alternative → its place in the two parts put end to end
        back[np.concatenate(where)] = np.arange(len(pick))
        back = pa.array(back)
        return pa.concat_arrays(codes).take(back), pa.concat_arrays(named).take(back)

    def rows(self, pick: np.ndarray, names=ALTERNATIVE_COLUMNS) -> pa.Table:
        """Columns ``names`` of :attr:`table` at alternatives ``pick`` (only those columns are written)."""
        pick = np.asarray(pick, dtype=np.int64)
        out = self.outputs_at(pick)
        cp, kind, drg, rw_units = self.cp, self.kind[pick], out.drg.astype(np.int64), self.rw_units[pick]
        codes = cache(lambda: self.codes(pick))

        def words() -> pa.Array:
            code, named = codes()
            change = pa.array(np.where(kind == KIND_DX_SWAP, 0, np.where(kind == KIND_PROC_FIRST, 1,
                                                                        np.where(self.level[pick], 2, 3))))
            return pc.binary_join_element_wise(
                pa.array(["主要诊断改为 ", "主要手术改为 ", "去掉MCC ", "去掉CC "]).take(change), named,
                pa.array([" (principal diagnosis ", " (principal procedure ", " (without the MCC ",
                          " (without the CC "]).take(change), code, ")", "")

        columns = {
            "case_id": lambda: self.view.case_id.take(pa.array(self.parent[pick])),
            "row_no": lambda: pa.array(self.view.row_no[self.parent[pick]]),
            "change": lambda: take_text(_CHANGE_NAMES, kind),
            "code": lambda: codes()[0],
            "alternative": words,
            "drg": lambda: take_text(cp.drg_codes, drg),
            "drg_name": lambda: take_text(cp.drg_names, drg),
            "status": lambda: take_text(STATUS_NAMES, out.status.astype(np.int64)),
            "rw": lambda: units_or_null(rw_units, 6),
            "reason": lambda: _reasons(cp, out, rw_units, self.weighted),
        }
        return pa.table({name: columns[name]() for name in names})

    def change_words(self, pick: np.ndarray, code: pa.Array, named: pa.Array) -> tuple[pa.Array, pa.Array]:
        """The change of alternatives ``pick`` in words, Chinese (with the code's name) and English, from their
        codes as written and named (:meth:`codes`)."""
        kind = self.kind[pick]
        zh = pa.array(np.asarray(["主要诊断改为 ", "主要手术改为 ", "去掉并发症 "])[kind])
        en = pa.array(np.asarray(["with principal diagnosis ", "with principal procedure ", "without "])[kind])
        return pc.binary_join_element_wise(zh, named, ""), pc.binary_join_element_wise(en, code, "")

    def drg_named(self, pick: np.ndarray) -> pa.Array:
        """The DRG of alternatives ``pick`` with its name (``ES23（呼吸系统感染/炎症，伴并发症）``)."""
        drg = self.outputs_at(pick).drg.astype(np.int64)
        return with_names(take_text(self.cp.drg_codes, drg), take_text(self.cp.drg_names, drg))

    def best_units(self) -> np.ndarray:
        """Per record, the best alternative's RW in millionths, -1 when none."""
        padded = np.append(self.rw_units, -1)  # best == -1 reads the last, -1
        return padded[self.best]

    def best_columns(self, names: list[str]) -> list[pa.Array]:
        """Per record, columns ``names`` of the best alternative (``""`` when none), as text."""
        has = self.best >= 0
        if not has.any():  # without a weight table
            return [pa.array([""] * len(has), pa.string()) for _ in names]
        rows = self.rows(self.best[has], names)
        index = pa.array(np.where(has, np.cumsum(has) - 1, has.sum()))  # no best: the "" put after the rows
        return [pc.fill_null(pa.concat_arrays([rows.column(name).combine_chunks().cast(pa.string()),
                                               pa.array([""])]).take(index), "") for name in names]


@dataclass(frozen=True)
class Regroup:
    """The records of a batch's alternatives, in the order of :class:`WhatIf`: the kernel's (principal
    diagnosis or procedure changed) and those without a complication, merged by record."""

    grouper: Grouper
    batch: Batch  # the records
    swapped: Batch  # the kernel's alternatives, without numbers (shape (0, n)): their records' are taken when grouped
    swapped_parent: np.ndarray
    drop_rows: np.ndarray  # records with a complication to drop, and its flat diagnosis position
    drop_dx: np.ndarray
    source: np.ndarray  # per alternative: its row among the swapped, then the dropped, put end to end

    @cached_property
    def all(self) -> Outputs:
        """The kernel's outputs for every alternative."""
        return self._grouped(None)

    def at(self, pick: np.ndarray) -> Outputs:
        """The kernel's outputs for alternatives ``pick``: regrouped alone unless all are (without a weight
        table, a batch without ``--whatif`` reads only a few alternatives)."""
        if "all" in self.__dict__:
            return Outputs(*(a[pick] for a in self.all))
        if not len(pick):  # no record has a best alternative without a weight table: nothing to group
            return Outputs.empty(0)
        return self._grouped(np.asarray(pick, dtype=np.int64))

    def _grouped(self, pick: np.ndarray | None) -> Outputs:
        # each record is grouped on its own, so a part regroups to what the whole gives it (the per-record
        # fields; flat positions such as mcc_pos are the part's own)
        source = self.source if pick is None else self.source[pick]
        n_swapped = len(self.swapped_parent)
        swapped = source < n_swapped
        rows = source[swapped], source[~swapped] - n_swapped
        # all of them: the swapped keep their order among the alternatives (both are by record), rows[0] is 0..n-1
        first = self.swapped if pick is None else subset_batch(self.swapped, rows[0])
        first = first._replace(nums=np.ascontiguousarray(self.batch.nums[:, self.swapped_parent[rows[0]]]))
        second = subset_batch(self.batch, self.drop_rows[rows[1]], self.drop_dx[rows[1]])
        parts = self.grouper.group_batch(first), self.grouper.group_batch(second)
        order = np.empty(len(source), dtype=np.int64)
        order[np.flatnonzero(swapped)] = np.arange(len(rows[0]))
        order[np.flatnonzero(~swapped)] = len(rows[0]) + np.arange(len(rows[1]))
        return Outputs(*(np.concatenate([a, c])[order] for a, c in zip(*parts)))


def record_rates(view: TraceView, weights: WeightTable | None, fallback_yuan) -> np.ndarray:
    """Per record, the base rate in fen per RW: the weight table's for its insurance type, else ``fallback_yuan``."""
    rates = _table_rates(weights)
    if not rates.known:
        rates = _rates(str(fallback_yuan))
    records = view.trace.records
    if "insurance_type" in records.column_names:
        encoded = pc.dictionary_encode(records.column("insurance_type").combine_chunks().cast(pa.string()))
        codes = np.where(encoded.indices.is_valid().to_numpy(zero_copy_only=False),
                         encoded.indices.to_numpy(zero_copy_only=False), -1)
        per = rates.per_case(codes, encoded.dictionary.to_pylist())
    else:
        per = rates.per_case(np.full(view.n, -1), [])
    if (per < 0).any():  # an insurance type without its own rate: the rule's fallback
        per = np.where(per < 0, _rates(str(fallback_yuan)).default, per)
    return per


@lru_cache(maxsize=16)
def _rates(text: str) -> Rates:
    """``Rates.parse(text)``, read once per rule book's rate."""
    return Rates.parse(text)


def _table_rates(weights: WeightTable | None) -> Rates:
    """The base rates of a weight table, read once per table (one record would otherwise read them all for each
    call)."""
    return per_object("base rates", (weights,), lambda: Rates.parse(None, weights))


def _reasons(cp, out, rw_units: np.ndarray, weighted: bool) -> pa.Array:
    """Why each alternative lands where it does, in words (Chinese, then English): one text per distinct outcome."""
    unweighted = weighted & (rw_units < 0)
    # one integer per (status, MDC, ADRG row, DRG, unweighted); MDC and ADRG rows are -1 when none
    sizes = np.array([len(STATUS_NAMES), len(cp.mdc_codes) + 1, len(cp.adrg_target) + 1, len(cp.drg_codes), 2],
                     dtype=np.int64)
    key = np.ravel_multi_index((out.status.astype(np.int64), out.mdc.astype(np.int64) + 1,
                                out.adrg_row.astype(np.int64) + 1, out.drg.astype(np.int64),
                                unweighted.astype(np.int64)), sizes)
    distinct, which = np.unique(key, return_inverse=True)
    combos = np.stack(np.unravel_index(distinct, sizes)).T - np.array([0, 1, 1, 0, 0])
    mdc_codes, adrg_codes = cp.mdc_codes.to_pylist(), cp.adrg_codes.to_pylist()
    drg_list = cp.drg_codes.to_pylist()
    texts = []
    for status, mdc_row, adrg_row, drg_row, no_weight in combos.tolist():
        mdc = mdc_codes[mdc_row] if mdc_row >= 0 else ""
        adrg = adrg_codes[cp.adrg_target[adrg_row]] if adrg_row >= 0 else ""
        drg = drg_list[drg_row]
        if status == STATUS_OK and no_weight:
            texts.append(f"无权重：权重表中没有 {drg} (no weight: {drg} is not in the weight table)")
        elif status == STATUS_OK:
            texts.append(f"入组：MDC {mdc} → {adrg} → {drg} (grouped via MDC {mdc}, ADRG {adrg})")
        elif status == STATUS_QY:
            texts.append(f"歧义组：手术与主要诊断不属同一MDC（MDC {mdc}） "
                         f"(QY: the procedure does not belong to the principal diagnosis's MDC {mdc})")
        elif status == STATUS_INVALID:
            texts.append("无法入组：记录未通过校验 (cannot be grouped: the record fails a check)")
        elif mdc_row >= 0:
            texts.append(f"无法入组：进入 MDC {mdc} 但无匹配的ADRG (ungroupable: entered MDC {mdc}, no ADRG rule held)")
        else:
            texts.append("无法入组：主要诊断不满足任何MDC的入组条件 (ungroupable: no MDC entry rule holds)")
    return take_text(pa.array(texts, pa.string()), which.ravel(), remember=False).dictionary_decode()


def what_if(view: TraceView, grouper: Grouper, facts: PackFacts, weights: WeightTable | None,
            rate_yuan=10000) -> WhatIf:
    """The alternatives of the traced batch; with a weight table all are regrouped now (their RWs choose the
    best), else each when first read.

    ``rate_yuan`` is the base rate (元 per RW) for records the weight table gives none.
    """
    cp, b, o = grouper.pack.compiled, view.trace.encoded.batch, view.trace.outputs
    keep = o.status != STATUS_INVALID
    parent, kind, moved, dx_start, dx_ids, proc_start, proc_ids = _alternatives(
        b.dx_start, b.dx_ids, b.proc_start, b.proc_ids, keep, facts.or_proc)
    # without the complication behind the split: the first MCC, else the first CC
    complication = np.where(o.mcc_pos >= 0, o.mcc_pos, o.cc_pos)
    drop_rows = np.flatnonzero(keep & (o.status == STATUS_OK) & (complication >= 0))
    is_mcc = o.mcc_pos[drop_rows] >= 0

    swapped_parent = parent.astype(np.int64)
    parent = np.concatenate([swapped_parent, drop_rows])
    kind = np.concatenate([kind.astype(np.int64), np.full(len(drop_rows), KIND_DROP_CC)])
    order = np.argsort(parent, kind="stable")
    parent, kind = parent[order], kind[order]
    moved = np.concatenate([moved, complication[drop_rows]])[order]
    level = np.concatenate([np.zeros(len(order) - len(drop_rows), bool), is_mcc])[order]
    regroup = Regroup(grouper, b, Batch(dx_start, dx_ids, proc_start, proc_ids, np.zeros((0, len(swapped_parent)),
                                                                                         np.int32)),
                      swapped_parent, drop_rows, complication[drop_rows], order)
    rw_units = np.full(len(parent), -1, dtype=np.int64)
    coded_units = np.full(view.n, -1, dtype=np.int64)
    if weights is not None:  # every alternative's RW is needed to choose the best: regroup all now
        out = regroup.all
        ok = out.status == STATUS_OK
        units = _drg_units(cp, weights)
        rw_units[ok] = units[out.drg[ok]]
        coded = o.status == STATUS_OK
        coded_units[coded] = units[o.drg[coded]]
    best = _best_alternative(parent, np.where(kind == KIND_DROP_CC, -1, rw_units), view.n)
    return WhatIf(view, cp, parent, kind, moved, level, regroup, rw_units, coded_units, best,
                  record_rates(view, weights, rate_yuan), weights is not None)


def _drg_units(cp: CompiledPack, weights: WeightTable) -> np.ndarray:
    """RW in millionths of each of the pack's DRGs (index into ``drg_codes``), -1 where the table has none: looked
    up once per pack and table."""
    def units() -> np.ndarray:
        found = lookup_units(cp.drg_codes.to_numpy(zero_copy_only=False), weights)
        found.setflags(write=False)  # shared by every later call
        return found

    return per_object("drg units", (cp, weights), units)


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


def _yuan_text(fen: np.ndarray) -> pa.Array:
    return pa.array([f"{f // 100:,}.{f % 100:02d}" for f in fen.tolist()], pa.string())


def whatif_findings(view: TraceView, whatif: WhatIf, grouper: Grouper, facts: PackFacts,
                    book: RuleBook) -> list[Part]:
    """Under-coding, upcoding and principal-procedure-order findings from the alternatives."""
    out = []
    best, coded = whatif.best, whatif.coded_units
    has = (best >= 0) & (coded > 0)
    alt_units = np.where(has, whatif.best_units(), 0)
    rate = np.maximum(whatif.rate_fen, 0)
    coded_adrg = view.trace.outputs.adrg_row
    best_adrg = np.full(view.n, -2, dtype=np.int64)
    best_adrg[best >= 0] = whatif.outputs_at(best[best >= 0]).adrg_row
    same_adrg = (coded_adrg >= 0) & (best_adrg == coded_adrg)
    for rule_id, top, bottom in (("WHATIF_UNDERCODING", alt_units, coded), ("WHATIF_UPCODING", coded, alt_units)):
        rule = book.rule(rule_id)
        if not rule.enabled:
            continue
        gain_fen = np.maximum(top - bottom, 0) * rate // RW_UNITS
        rows = np.flatnonzero(has & over_threshold(top, bottom, gain_fen, same_adrg, rule.params))
        if not len(rows):
            continue
        rows = rows[np.lexsort((rows, -gain_fen[rows]))]  # the most money at stake first
        code, named = whatif.codes(best[rows])
        is_dx = whatif.kind[best[rows]] == KIND_DX_SWAP
        change_zh, change_en = whatif.change_words(best[rows], code, named)
        alt_drg = whatif.drg_named(best[rows])
        threshold = np.where(same_adrg[rows], str(rule.params["ratio"]), str(rule.params["other_adrg_ratio"]))
        out.append(finding_part(rule, rule.severity, rows, np.where(is_dx, "principal_dx", "procedures"), code,
                                change_zh=change_zh, change_en=change_en, alt_drg=alt_drg,
                                alt_ratio=_ratio_text(top[rows], bottom[rows]), drg=view.drg_named(rows),
                                gain=_yuan_text(gain_fen[rows]), threshold=threshold))
    rule = book.rule("DRG_PRINCIPAL_PROC_ORDER")
    proc_alt = np.flatnonzero(whatif.kind == KIND_PROC_FIRST)
    if rule.enabled and len(proc_alt):
        b = view.trace.encoded.batch
        flat_records = np.repeat(np.arange(view.n), np.diff(b.proc_start))
        is_or = (b.proc_ids >= 0) & facts.or_proc[np.maximum(b.proc_ids, 0)]
        n_or = np.bincount(flat_records[is_or], minlength=view.n)
        only = proc_alt[n_or[whatif.parent[proc_alt]] == 1]
        if len(only):
            records = whatif.parent[only]
            principal, _ = view.proc_text(b.proc_start[:-1][records])
            out.append(finding_part(rule, rule.severity, records, "procedures", principal,
                                    code=view.proc_named(b.proc_start[:-1][records], grouper.pack.compiled),
                                    better=whatif.codes(only)[1], better_drg=whatif.drg_named(only),
                                    drg=view.drg_named(records)))
    return out


__all__ = ["ALTERNATIVE_COLUMNS", "CHANGES", "KIND_DROP_CC", "Regroup", "WhatIf", "record_rates", "what_if",
           "whatif_findings"]
