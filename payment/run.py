"""One settlement run end to end, in memory: inputs → :class:`Run` (tables and metadata, ready to write)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from payment.engine import Settlement, ledger_entries, settle
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


def run_settlement(cases, weights: WeightTable, policy: Policy, hospitals: Hospitals, kind: str, period,
                   scores: dict[str, int] | None = None, special: dict[str, str] | None = None,
                   events: dict[str, str] | None = None, files_sha256: dict[str, str] | None = None,
                   ledger: Ledger | None = None, scope: Scope | None = None,
                   special_list: dict | None = None) -> Run:
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
    special_list : dict, optional
        Which 特病单议 list ``special`` is (version, sha256, …): recorded in the metadata (``special_list``) and
        in the run version.

    Returns
    -------
    Run
        Tables ``case_lines``, ``hospitals``, ``drgs``, ``reconciliation`` (and ``hospital_months`` for a
        year, ``next_year`` for a year with ``[assessment.next_year]``, ``departments`` for a shadow run,
        ``releases`` for a month run that releases withholds).

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
    scope = scope or Scope()
    settlement = settle(prepared, policy, hospitals, kind, period, scores, ledger, scope)
    recorded = ledger.record(str(period), ledger_entries(settlement)) if ledger is not None else None
    described = {"point_values": {f"{r} {t}".strip() or "all": f"{n}/{d}" for (r, t), (n, d)
                                  in sorted(scope.point_values.items())},
                 "budget_share": None if scope.budget_share is None else str(scope.budget_share)}
    meta = run_metadata(settlement, weights.meta, files_sha256 or {},
                        described if scope.point_values or scope.budget_share is not None else None, special_list)
    warning = coverage_warning(prepared, hospitals, kind, scope)
    meta["warnings"] = [warning] if warning else []
    tables = {"case_lines": case_lines(settlement), "hospitals": hospital_table(settlement),
              "drgs": group_table(settlement, "drg"), "reconciliation": reconciliation_table(settlement)}
    if kind == "year":
        tables["hospital_months"] = month_table(settlement)
        if policy.next_year_bands is not None:
            tables["next_year"] = next_year_table(settlement)
    if kind == "shadow":
        tables["departments"] = group_table(settlement, "dept")
    if settlement.releases:
        tables["releases"] = release_table(settlement)
    return Run(settlement, {name: with_metadata(t, meta) for name, t in tables.items()}, meta, recorded)


__all__ = ["KINDS", "EXAMPLE_POLICY", "Run", "run_settlement"]
