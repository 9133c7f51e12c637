"""Coding validation of front pages (病案首页质控): findings, explanation and what-if in one pass.

>>> v = Validator("chs-drg-1.1", weights=WeightTable.read("w.parquet"))   # doctest: +SKIP
>>> result = v.validate(records)                                           # doctest: +SKIP
>>> result.findings.to_pandas()                                            # doctest: +SKIP

Validation never changes grouping: ``result.results`` is exactly what
:meth:`grouper.Grouper.group_arrow` gives for the same records.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.explain import explanations, whatif_money
from audit.findings import SEVERITIES, Part, assemble, finding_rows, labels, value_codes
from audit.pack_facts import pack_facts
from audit.record_rules import record_parts
from audit.rulebook import RuleBook
from audit.summary import summarize
from audit.trace_rules import TraceView, drg_findings, fatal_findings
from audit.whatif import WhatIf, what_if, whatif_findings
from foundation.arrow_columns import cast
from foundation.background import worker_pool
from foundation.sort_keys import lexicographic_key
from grouper import Grouper
from icd_tables.pack import Pack
from icd_tables.sample import sample_records
from weights import WeightTable

#: Records from which a batch's record checks run in a thread beside the findings read from its trace (NumPy and
#: Arrow let go of the lock on whole columns); a smaller batch, such as the service's one record, checks them in
#: the caller's thread: the hand-off would cost more than it saves.
BESIDE_ROWS = 50_000


@dataclass(frozen=True)
class Validation:
    """What :meth:`Validator.validate` found.

    The explanations and the alternatives are written when first read (``drg validate`` without
    ``--explain`` or ``--whatif`` reads neither in full).

    Attributes
    ----------
    results : pyarrow.Table
        Grouping results, one row per record (as ``Grouper.group_arrow``).
    findings : pyarrow.Table
        One row per finding (:data:`audit.findings.FINDING_SCHEMA`), by row, then severity.
    records : pyarrow.Table
        The records as read.
    whatif : audit.whatif.WhatIf
        The what-if alternatives as regrouped.
    """

    results: pa.Table
    findings: pa.Table
    records: pa.Table
    whatif: WhatIf
    _explain: Callable[[], pa.Table] = field(repr=False)

    @cached_property
    def explanations(self) -> pa.Table:
        """One row per record (:mod:`audit.explain`)."""
        return self._explain()

    @property
    def alternatives(self) -> pa.Table:
        """One row per what-if alternative (:mod:`audit.whatif`)."""
        return self.whatif.table

    def whatif_money(self) -> pa.Array:
        """Per record, the explanation's ``whatif_money`` (without writing the rest of the explanation)."""
        return whatif_money(self.whatif)

    def summary(self) -> pd.DataFrame:
        """Findings per hospital and department (see :func:`audit.summary.summarize`)."""
        return summarize(self.findings, self.records)


class Validator:
    """Checks records against a rule book with one pack and, optionally, a weight table.

    Parameters
    ----------
    pack : Grouper, Pack, str or path-like
        The pack (or a grouper already built on it); default the bundled example pack.
    weights : WeightTable, optional
        Gives the what-if alternatives their RW and enables the under-/upcoding rules.
    rules : RuleBook or path-like, optional
        Rule book; default the bundled ``audit/rules.toml``.
    """

    def __init__(self, pack: Grouper | Pack | str | os.PathLike | None = None, *,
                 weights: WeightTable | None = None, rules: RuleBook | str | os.PathLike | None = None):
        self.grouper = pack if isinstance(pack, Grouper) else Grouper(pack)
        self.weights = weights
        self.rules = rules if isinstance(rules, RuleBook) else RuleBook.load(rules)
        self.facts = pack_facts(self.grouper.pack.compiled)

    @property
    def pack(self) -> Pack:
        return self.grouper.pack

    def warm_up(self) -> None:
        """Compile the kernels validation uses, or load them from Numba's cache (see :meth:`Grouper.warm_up`)."""
        self.validate(sample_records(self.pack.compiled, 1)).explanations  # explanations are built when read

    def validate(self, records, *, first_row_no: int = 1) -> Validation:
        """Group, check, explain and regroup alternatives for a batch of records.

        Parameters
        ----------
        records : pandas.DataFrame, pyarrow.Table or list of dict
            Records in the canonical schema.
        first_row_no : int
            ``row_no`` of the first record.

        Returns
        -------
        Validation
        """
        trace = self.grouper.trace(records, first_row_no=first_row_no)
        view = TraceView.of(trace)
        check = functools.partial(record_parts, trace.records, trace.encoded, self.pack, self.rules)
        checked = worker_pool("record-checks", 1).submit(check) if view.n >= BESIDE_ROWS else None
        parts = fatal_findings(view, self.grouper, self.facts, self.rules)
        drg_parts, excluded = drg_findings(view, self.grouper, self.facts, self.rules)
        whatif = what_if(view, self.grouper, self.facts, self.weights,
                         rate_yuan=self.rules.rule("WHATIF_UPCODING").params["rate_yuan"])
        parts += drg_parts + whatif_findings(view, whatif, self.grouper, self.facts, self.rules)
        parts += checked.result() if checked else check()
        findings = assemble(view.case_id, view.row_no, parts, order=_order(parts, view.row_no))
        return Validation(trace.results, findings, trace.records, whatif,
                          lambda: explanations(view, self.grouper, excluded, whatif))


def _order(parts: list[Part], row_no: np.ndarray) -> np.ndarray:
    """The findings to list (positions into those of ``parts``): by row, then severity (fatal first), rule id, field
    and value, so that batching never changes the order; without the non-fatal findings on a field of a record
    that already has a fatal finding on that field."""
    parts = [part for part in parts if len(part.rows)]  # they hold no position
    if not parts:
        return np.zeros(0, dtype=np.int64)
    positions, n_records = finding_rows(parts), len(row_no)  # by batch position: as by row number
    severity = np.repeat([SEVERITIES.index(part.severity) for part in parts], [len(part.rows) for part in parts])
    rules, rule = labels(parts, "rule_id", ranked=True)
    fields, field = labels(parts, "field", ranked=True)
    values = pa.concat_arrays([cast(part.value, pa.string()) for part in parts])
    value, distinct = value_codes(pc.fill_null(values, ""), ranked=True)
    if values.null_count:  # a null value sorts after every text
        value[values.is_null().to_numpy(zero_copy_only=False)] = len(distinct)
    key = lexicographic_key([(positions, n_records), (severity, len(SEVERITIES)), (rule, len(rules)),
                             (field, len(fields)), (value, len(distinct) + 1)], len(positions))
    order = np.argsort(key, kind="stable")  # the parts' order breaks ties
    fatal = severity == 0
    if fatal.any():
        on = positions * len(fields) + field
        order = order[~(~fatal & np.isin(on, on[fatal]))[order]]
    return order


__all__ = ["Validation", "Validator"]
