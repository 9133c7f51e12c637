"""One settlement run end to end, in memory: inputs → :class:`Run` (tables and metadata, ready to write)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from payment import cross_region
from payment.deductions import adjustment_table, apply_adjustments, reserve_lines, to_pool
from payment.engine import Settlement, ledger_entries, reconciliation, settle
from payment.inputs import Hospitals, Period, prepare_cases
from payment.ledger import Ledger
from payment.policy import Policy
from payment.scope import Scope, coverage_warning
from payment.tables import (case_lines, group_table, hospital_table, month_table, next_year_table,
                            reconciliation_table, release_table, run_metadata, with_metadata)
from weights import WeightTable

KINDS = ("year", "month", "shadow")
#: The example policy shipped with the package (quick start): 示例市, 40 hospitals H001–H040.
EXAMPLE_POLICY = Path(__file__).resolve().parent / "policies" / "example.toml"


@dataclass
class Run:
    """A settled period: the output tables by name (each carrying the metadata) and the metadata itself."""

    settlement: Settlement
    tables: dict[str, pa.Table]
    meta: dict
    ledger: Ledger | None = None  # the ledger with this run recorded (write it with payment.ledger.write_ledger)
    adjustments: list = field(default_factory=list)  # deduction/recovery lines applied (payment.deductions)


def run_settlement(cases, weights: WeightTable, policy: Policy, hospitals: Hospitals, kind: str, period,
                   scores: dict[str, int] | None = None, special: dict[str, str] | None = None,
                   events: dict[str, str] | None = None, files_sha256: dict[str, str] | None = None,
                   ledger: Ledger | None = None, scope: Scope | None = None, outbound: pa.Table | None = None,
                   special_list: dict | None = None,
                   adjustments=None, applied: dict | None = None) -> Run:
    """Settle a period of grouped cases.

    Parameters
    ----------
    cases : pyarrow.Table or pandas.DataFrame
        Grouped cases (see :func:`payment.inputs.prepare_cases`).
    weights : WeightTable
    policy : Policy
    hospitals : Hospitals
    kind : {"year", "month", "shadow"}
    period : Period or str
        ``2024`` or ``2024-03``.
    scores, special, events : dict, optional
        Assessment scores, 特病单议 approvals, 突发事件 exclusions.
    files_sha256 : dict, optional
        SHA-256 of the score and case-list files, recorded in the metadata.
    ledger : Ledger, optional
        The run ledger (month and year runs): read by the run, returned with the run recorded in
        ``Run.ledger``.
    scope : Scope, optional
        Point values or budget share for a run on part of the region (:mod:`payment.scope`).
    outbound : pyarrow.Table, optional
        Shadow runs: last year's clearing tables of the regions where this region's insured were treated
        (:func:`payment.cross_region.outbound_rows`); needs ``[cross_region]``.
    special_list : dict, optional
        Which 特病单议 list ``special`` is (version, sha256, …): recorded in the metadata (``special_list``) and
        in the run version.
    adjustments : list of payment.deductions.Adjustment, optional
        Deduction and recovery lines to apply in this run (month and year runs, :func:`payment.deductions.pending`);
        ``applied`` holds the lines applied by earlier runs (id → line). The lines applied are in
        ``Run.adjustments`` and the table ``deductions``.

    Returns
    -------
    Run
        Tables ``case_lines``, ``hospitals``, ``drgs``, ``reconciliation`` (and ``hospital_months`` for a
        year, ``next_year`` for a year with ``[assessment.next_year]``, ``departments`` for a shadow run,
        ``releases`` for a month run that releases withholds; with inbound 异地就医 cases ``clearing`` and
        ``clearing_cases``, and ``clearing_ledger`` with a ledger and a clearing fund; ``outbound`` for a
        shadow run given last year's clearing).

    Raises
    ------
    payment.ledger.LedgerError
        The run contradicts the ledger (e.g. a month re-run with other figures after it was paid).
    """
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: expected one of {', '.join(KINDS)}")
    period = period if isinstance(period, Period) else Period.parse(period)
    prepared = prepare_cases(cases, weights, policy, hospitals, period, special=special, events=events)
    if ledger is not None and kind == "shadow":
        raise ValueError("a shadow run pays nothing: it takes no ledger")
    if outbound is not None and (kind != "shadow" or policy.cross_region is None):
        raise ValueError("last year's clearing (outbound forecast, 异地就医支出预测) goes with a shadow run of a "
                         "policy with [cross_region]")
    scope = scope or Scope()
    pooled = to_pool(policy, prepared.funds, applied or {}, period.year) if kind == "year" else None
    settlement = settle(prepared, policy, hospitals, kind, period, scores, ledger, scope, pooled)
    done = []
    if adjustments is not None:
        if kind == "shadow":
            raise ValueError("a shadow run pays nothing: it applies no deductions")
        done = apply_adjustments(settlement, adjustments, applied or {}, str(period))
    recorded = ledger.record(str(period), ledger_entries(settlement)) if ledger is not None else None
    described = {"point_values": {f"{r} {t}".strip() or "all": f"{n}/{d}" for (r, t), (n, d)
                                  in sorted(scope.point_values.items())},
                 "budget_share": None if scope.budget_share is None else str(scope.budget_share)}
    files_sha256 = {**(files_sha256 or {}), **(policy.cross_region.files_sha256 if policy.cross_region else {})}
    meta = run_metadata(settlement, weights.meta, files_sha256,
                        described if scope.point_values or scope.budget_share is not None else None, special_list)
    warning = coverage_warning(prepared, hospitals, kind, scope, policy)
    meta["warnings"] = [warning] if warning else []
    outbound_rows = cross_region.outbound_rows(policy, outbound) if outbound is not None else []
    tables = {"case_lines": case_lines(settlement), "hospitals": hospital_table(settlement),
              "drgs": group_table(settlement, "drg"),
              "reconciliation": reconciliation_table(settlement, cross_region.outbound_lines(outbound_rows))}
    if adjustments is not None:  # the deductions' reserve lines: the engine's lines rewritten (a month/year run)
        tables["reconciliation"] = reconciliation_table(settlement, rows=reserve_lines(
            settlement, reconciliation(settlement), applied or {}, done))
        tables["deductions"] = adjustment_table(done)
    if kind == "year":
        tables["hospital_months"] = month_table(settlement)
        if policy.next_year_bands is not None:
            tables["next_year"] = next_year_table(settlement)
    if kind == "shadow":
        tables["departments"] = group_table(settlement, "dept")
    if settlement.releases:
        tables["releases"] = release_table(settlement)
    if prepared.inbound is not None:
        tables["clearing"] = cross_region.clearing_table(settlement)
        tables["clearing_cases"] = cross_region.clearing_cases(settlement)
        if recorded is not None and prepared.clearing_funds:
            tables["clearing_ledger"] = cross_region.ledger_table(settlement, recorded)
    if outbound is not None:
        tables["outbound"] = cross_region.outbound_table(outbound_rows)
    return Run(settlement, {name: with_metadata(t, meta) for name, t in tables.items()}, meta, recorded, done)


__all__ = ["KINDS", "EXAMPLE_POLICY", "Run", "run_settlement"]
