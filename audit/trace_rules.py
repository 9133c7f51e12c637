"""Findings read from the grouper's own trace: why a record cannot be grouped, and what its codes did.

Fatal findings come from the same encoded records and rule programs the
grouper used, so the records with a fatal finding are exactly the ``invalid``
ones: every unmappable code is one finding (``FATAL_DX_UNMAPPED``,
``FATAL_PROC_UNMAPPED``) and every failing record check another
(``FATAL_RECORD_CHECK``), where the grouper stops at the first.

DRG-relevant findings (for grouped records): an operating-room procedure that
no surgical ADRG of the record's MDC takes (``DRG_OR_PROC_NOT_TAKEN``), and a
secondary diagnosis that is an MCC or CC but is cancelled by the principal
diagnosis's exclusion table (``DRG_CC_EXCLUDED``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit.code_names import dx_names, proc_names, with_names
from audit.findings import Part
from audit.pack_facts import PackFacts
from audit.rulebook import Rule, RuleBook
from foundation.arrow_columns import cast
from grouper import Batch, Grouper
from grouper.grouper import Trace
from grouper.results import STATUS_INVALID, take_text


@dataclass(frozen=True)
class TraceView:
    """A traced batch with the per-record facts the rules share."""

    trace: Trace
    row_no: np.ndarray
    case_id: pa.Array

    @classmethod
    def of(cls, trace: Trace) -> "TraceView":
        results = trace.results
        case_id = cast(results.column("case_id").combine_chunks(), pa.string())
        case_id = pc.fill_null(case_id, "") if case_id.null_count else case_id
        return cls(trace, results.column("row_no").to_numpy(), case_id)

    @property
    def n(self) -> int:
        return len(self.row_no)

    def dx_text(self, positions: np.ndarray) -> tuple[pa.Array, np.ndarray, np.ndarray]:
        """Input text of flat diagnosis positions, their records, and whether each is the principal."""
        enc = self.trace.encoded
        records = np.searchsorted(enc.batch.dx_start, positions, side="right") - 1
        principal = positions == enc.batch.dx_start[records]
        index = np.where(principal, records, self.n + positions - records - 1)
        return pc.fill_null(self._dx_pool.take(pa.array(index)), ""), records, principal

    @cached_property
    def _dx_pool(self) -> pa.Array:
        """The principal diagnoses of the batch, then its secondary ones, as text (read by several rules)."""
        enc = self.trace.encoded
        return pa.concat_arrays([cast(enc.principal_dx, pa.string()), cast(enc.secondary_dx, pa.string())])

    def dx_named(self, positions: np.ndarray, cp) -> pa.Array:
        """Input text of flat diagnosis positions with the pack's name beside each (``code（名称）``)."""
        codes, _, _ = self.dx_text(positions)
        return with_names(codes, dx_names(cp, self.trace.encoded.batch.dx_ids[positions]))

    def proc_named(self, positions: np.ndarray, cp) -> pa.Array:
        """Input text of flat procedure positions with the pack's name beside each."""
        codes, _ = self.proc_text(positions)
        return with_names(codes, proc_names(cp, self.trace.encoded.batch.proc_ids[positions]))

    def drg_named(self, rows: np.ndarray) -> pa.Array:
        """The DRG of records ``rows`` with its name (``ES23（呼吸系统感染/炎症，伴并发症）``)."""
        take = pa.array(np.asarray(rows, dtype=np.int64))
        results = self.trace.results
        # taken before they are text: the columns are dictionaries of a batch's size
        return with_names(results.column("drg").take(take).combine_chunks(),
                          results.column("drg_name").take(take).combine_chunks())

    def proc_text(self, positions: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        """Input text of flat procedure positions and their records."""
        enc = self.trace.encoded
        records = np.searchsorted(enc.batch.proc_start, positions, side="right") - 1
        return pc.fill_null(enc.procedures.cast(pa.string()).take(pa.array(positions)), ""), records


def _shown(codes: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(codes, ""), "（空）(empty)", codes)


def _unique_pairs(records: np.ndarray, codes: pa.Array) -> np.ndarray:
    """Indices of the first occurrence of each (record, code) pair, in order."""
    ids = pc.dictionary_encode(codes).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    key = records.astype(np.int64) * (int(ids.max(initial=0)) + 1) + ids
    _, first = np.unique(key, return_index=True)
    return np.sort(first)


def _code_problems(codes: pa.Array, facts: PackFacts, *, diagnosis: bool) -> tuple[np.ndarray, np.ndarray]:
    """What kind of problem each unmappable code has, in words (Chinese, English).

    A procedure code in a diagnosis field (or the reverse), a bare category
    (``R75``: the pack maps only codes below it, ``R75.x00``), an empty field, or
    a code the pack's map lacks.
    """
    own, other = (facts.dx_inputs, facts.proc_inputs) if diagnosis else (facts.proc_inputs, facts.dx_inputs)
    texts = codes.to_pylist()
    problems = {code: _code_problem(code, own, other, diagnosis) for code in dict.fromkeys(texts)}
    return tuple(np.array([problems[code][k] for code in texts], dtype=object) for k in range(2))


def _code_problem(code: str, own: np.ndarray, other: np.ndarray, diagnosis: bool) -> tuple[str, str]:
    if not code:
        return "未填写", "is empty"
    if _contains(other, code) or (not diagnosis and _DX_SHAPE.match(code)) or (diagnosis and _PROC_SHAPE.match(code)):
        return (("是手术操作编码，不能填在诊断栏", "is a procedure code in a diagnosis field") if diagnosis
                else ("是疾病诊断编码，不能填在手术操作栏", "is a diagnosis code in a procedure field"))
    below = _first_below(own, code)
    if below:
        return f"只编到类目，请编到亚目或细目（如 {below}）", f"is a bare category; code it in full (e.g. {below})"
    return "不在分组方案的编码映射表中", "is not in the pack's code map"


#: A cancelled complication's level in words (row 0 a CC, row 1 an MCC).
_LEVEL_ZH = pa.array(["并发症或合并症（CC）", "严重并发症或合并症（MCC）"])
_LEVEL_EN = pa.array(["CC", "MCC"])
_DX_SHAPE = re.compile(r"^[A-Z]\d{2}")
_PROC_SHAPE = re.compile(r"^\d{2}(\.\d|$)")


def _contains(sorted_codes: np.ndarray, code: str) -> bool:
    i = int(np.searchsorted(sorted_codes, code))
    return i < len(sorted_codes) and sorted_codes[i] == code


def _first_below(sorted_codes: np.ndarray, code: str) -> str:
    """The first mapped code that continues ``code`` (``R75`` → ``R75.x00``), ``""`` when none."""
    if not code or "." in code:
        return ""
    i = int(np.searchsorted(sorted_codes, code + "."))
    return sorted_codes[i] if i < len(sorted_codes) and sorted_codes[i].startswith(code + ".") else ""


def finding_part(rule: Rule, severity: str, rows: np.ndarray, field, value, /, **values) -> Part:
    """The findings of ``rule`` on the records at batch positions ``rows``.

    Parameters
    ----------
    rule : Rule
    severity : str
    rows : numpy.ndarray
        Batch positions of the records, one per finding.
    field : str or numpy.ndarray
        The field of all the findings, or of each.
    value : str or pyarrow.Array
        The value found: one text for all, or one per finding.
    **values
        The message's placeholders (:meth:`audit.rulebook.Rule.fill`).

    Returns
    -------
    audit.findings.Part
    """
    rows = np.asarray(rows, dtype=np.int64)
    if isinstance(value, str):
        value = pa.array([value] * len(rows), pa.string())
    return Part(rows, rule.id, severity, field, value, *rule.fill(len(rows), values))


def subset_batch(batch: Batch, rows: np.ndarray, drop_dx: np.ndarray | None = None) -> Batch:
    """The records ``rows`` of an encoded batch as a batch of their own, optionally without one
    flat diagnosis position per record (``drop_dx``)."""
    def take(start, ids, drop=None):
        lengths = np.diff(start)[rows]
        new_start = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=new_start[1:])
        index = np.repeat(start[:-1][rows] - new_start[:-1], lengths) + np.arange(new_start[-1])
        if drop is None:
            return new_start, ids[index]
        keep = index != np.repeat(drop, lengths)
        new_start[1:] = np.cumsum(lengths - 1)
        return new_start, ids[index[keep]]
    dx_start, dx_ids = take(batch.dx_start, batch.dx_ids, drop_dx)
    proc_start, proc_ids = take(batch.proc_start, batch.proc_ids)
    return batch._replace(dx_start=dx_start, dx_ids=dx_ids, proc_start=proc_start, proc_ids=proc_ids,
                          nums=np.ascontiguousarray(batch.nums[:, rows]))


def fatal_findings(view: TraceView, grouper: Grouper, facts: PackFacts, book: RuleBook) -> list[Part]:
    """One fatal finding per unmappable code and per failing record check."""
    enc, cp = view.trace.encoded, grouper.pack.compiled
    out = []
    bad = np.flatnonzero(enc.batch.dx_ids < 0)
    if len(bad):
        codes, records, principal = view.dx_text(bad)
        keep = _unique_pairs(records, codes)
        codes, records, principal = codes.take(pa.array(keep)), records[keep], principal[keep]
        empty = principal & pc.equal(codes, "").to_numpy(zero_copy_only=False)
        if empty.any():
            rule = book.rule("FATAL_PDX_MISSING")
            rows = records[empty]
            out.append(finding_part(rule, "fatal", rows, "principal_dx", ""))
        rule = book.rule("FATAL_DX_UNMAPPED")
        codes, records, principal = codes.filter(pa.array(~empty)), records[~empty], principal[~empty]
        if len(records):
            problem_zh, problem_en = _code_problems(codes, facts, diagnosis=True)
            out.append(finding_part(rule, "fatal", records, np.where(principal, "principal_dx", "secondary_dx"),
                                    codes, code=_shown(codes), problem_zh=problem_zh, problem_en=problem_en,
                                    field_zh=np.where(principal, "主要诊断", "其他诊断"),
                                    field_en=np.where(principal, "principal diagnosis", "other diagnosis")))
    rule = book.rule("FATAL_PROC_UNMAPPED")
    bad = np.flatnonzero(enc.batch.proc_ids < 0)
    if len(bad):
        codes, records = view.proc_text(bad)
        keep = _unique_pairs(records, codes)
        codes, records = codes.take(pa.array(keep)), records[keep]
        problem_zh, problem_en = _code_problems(codes, facts, diagnosis=False)
        out.append(finding_part(rule, "fatal", records, "procedures", codes, code=_shown(codes),
                                problem_zh=problem_zh, problem_en=problem_en))
    # a record that is not invalid passed every check: the grouper ran them all on it
    invalid = np.flatnonzero(view.trace.outputs.status == STATUS_INVALID)
    if len(cp.check_entry) and len(invalid):
        rule = book.rule("FATAL_RECORD_CHECK")
        passed = grouper.evaluate(subset_batch(enc.batch, invalid), cp.check_entry)
        records, checks = np.nonzero(~passed)
        records = invalid[records]
        if len(records):
            names = cp.check_names.take(pa.array(checks))
            values = _field_values(view.trace.records, names, records)
            out.append(finding_part(rule, "fatal", records, names.to_numpy(zero_copy_only=False), values,
                                    check_zh=cp.check_messages_zh.take(pa.array(checks)),
                                    check_en=cp.check_messages_en.take(pa.array(checks)), field=names, value=values))
    return out


def _field_values(records: pa.Table, names: pa.Array, rows: np.ndarray) -> pa.Array:
    """The text of column ``names[k]`` at record ``rows[k]`` (``""`` when absent or empty)."""
    values = np.full(len(rows), "", dtype=object)
    names_np = np.asarray(names.to_pylist(), dtype=object)
    for name in np.unique(names_np):
        hit = np.flatnonzero(names_np == name)
        if name in records.column_names:
            column = records.column(name).take(pa.array(rows[hit]))
            text = pc.fill_null(column.cast(pa.string()), "") if not pa.types.is_list(column.type) else None
            if text is not None:
                values[hit] = text.to_numpy(zero_copy_only=False)
    return pa.array(values, pa.string())


def drg_findings(view: TraceView, grouper: Grouper, facts: PackFacts, book: RuleBook) -> tuple[list[Part], pa.Array]:
    """DRG-relevant findings of grouped records, and each record's cancelled complications (``|``-joined)."""
    out = []
    cp, trace = grouper.pack.compiled, view.trace
    b, o = trace.encoded.batch, trace.outputs
    grouped = o.mdc >= 0

    rule = book.rule("DRG_OR_PROC_NOT_TAKEN")
    if rule.enabled and len(b.proc_ids):
        records = np.repeat(np.arange(view.n), np.diff(b.proc_start))
        ids = b.proc_ids
        hit = grouped[records] & (ids >= 0)
        safe = np.maximum(ids, 0)
        hit &= facts.or_proc[safe] & ~facts.surgical_takes[np.maximum(o.mdc[records], 0), safe]
        pos = np.flatnonzero(hit)
        if len(pos):
            codes, rec = view.proc_text(pos)
            out.append(finding_part(rule, rule.severity, rec, "procedures", codes, code=view.proc_named(pos, cp),
                                    drg=view.drg_named(rec)))

    # complications cancelled by the principal's exclusion table (a cancelled MCC does not become a CC)
    records = np.repeat(np.arange(view.n), np.diff(b.dx_start))
    secondary = np.ones(len(b.dx_ids), dtype=bool)
    secondary[b.dx_start[:-1][np.diff(b.dx_start) > 0]] = False
    ids = np.maximum(b.dx_ids, 0)
    excl = cp.cce[np.maximum(b.dx_ids[b.dx_start[:-1][records]], 0)]
    candidate = secondary & grouped[records] & (b.dx_ids >= 0) & (excl >= 0)
    mcc = candidate & (cp.mcc_excl[ids] == excl)
    cc = candidate & (cp.cc_excl[ids] == excl)
    pos = np.flatnonzero(mcc | cc)
    codes, rec, _ = view.dx_text(pos) if len(pos) else (pa.array([], pa.string()), np.zeros(0, np.int64), None)
    rule = book.rule("DRG_CC_EXCLUDED")
    if rule.enabled and len(pos):
        is_mcc = mcc[pos]
        principal = view.dx_named(b.dx_start[:-1][rec], cp)
        out.append(finding_part(rule, rule.severity, rec, "secondary_dx", codes, code=view.dx_named(pos, cp),
                                principal=principal,
                                level_zh=take_text(_LEVEL_ZH, is_mcc.astype(np.int64)),
                                level_en=take_text(_LEVEL_EN, is_mcc.astype(np.int64))))
    if not len(pos):  # no complication excluded
        return out, pa.array([""] * view.n, pa.string())
    offsets = np.zeros(view.n + 1, dtype=np.int32)
    np.cumsum(np.bincount(rec, minlength=view.n), out=offsets[1:])
    excluded = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), codes), "|")
    return out, excluded


__all__ = ["TraceView", "drg_findings", "fatal_findings", "finding_part", "subset_batch"]
