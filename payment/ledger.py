"""The run ledger (结算台账): what each month, release and year run paid, withheld, released, deducted and carried.

One entry per run × hospital × fund (region, insurance type), amounts in fen:

==============  ====================================================================================
column          meaning
==============  ====================================================================================
run             the run's period: ``2024-03`` (month run) or ``2024`` (year run)
provisional     月度预结金额: the month's provisional amount (month runs)
withheld        预留金: withheld from it
event_fund      突发事件除外: paid outside the budget
paid            paid for the period's cases: provisional − withheld + event_fund − deducted (month runs); the
                year-end balance paid (year runs; 0 when it is carried)
released        预留金返还: withhold released in this run (release period in ``release_period``)
release_period  the months whose withhold was released, e.g. ``2024-01..2024-06``
carried_in      上年清算差额: the part of last year's carried balance settled in this month run (+ paid, − deducted)
deducted        总控额度/最低服务人次扣减 deducted in the year run; 违规扣款/更正追回 applied in the run
                (:mod:`payment.deductions`, month and year runs)
carried_out     清算差额结转下年: the year-end balance carried into next year's month runs
stay            a stay settled in interim (中途结算: ``hospital|patient|admission date``); empty on account entries
interim         中途结算: the fund paid on that stay by this run (only on stay entries, which carry no other amount);
                the settlement at discharge nets their sum
==============  ====================================================================================

Release, carry-forward and the year run read these entries and never recompute what was paid.
Recording a run again with the same figures changes nothing; with other figures it stops with a
:class:`LedgerError` naming the entry (a recorded run was paid: correct it in a later run).  The
file is CSV (元 with 2 decimals), rows in run order then hospital and fund, so that the same runs
give the same bytes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from payment.money import decimal_units
from foundation.atomic import write_text_atomic
from foundation.decimals import fen_text, yuan

KEY_COLUMNS = ("run", "hospital_id", "region", "insurance_type", "stay")
AMOUNT_COLUMNS = ("provisional", "withheld", "event_fund", "paid", "released", "carried_in", "deducted",
                  "carried_out", "interim")
#: Columns a ledger written before interim settlement lacks (read as empty / 0).
OPTIONAL_COLUMNS = {"stay": "", "interim": "0"}
#: The file's columns: those of a ledger before interim settlement first, ``stay`` and ``interim`` last.
COLUMNS = KEY_COLUMNS[:-1] + AMOUNT_COLUMNS[:-1] + ("release_period", "stay", "interim")


class LedgerError(ValueError):
    """A run contradicts the ledger, or the ledger file is malformed; the message names the entry."""


def run_order(run: str) -> tuple[int, int]:
    """Sort key of a ledger run: the month runs of a year (``2024-03``) before its year run (``2024``)."""
    return (int(run[:4]), int(run[5:7]) if len(run) > 4 else 13)


@dataclass(frozen=True)
class Ledger:
    """The recorded entries (dicts: ``COLUMNS``, amounts in fen) and where they came from."""

    entries: tuple[dict, ...] = ()
    path: str = ""

    @cached_property
    def runs(self) -> frozenset[str]:
        return frozenset(e["run"] for e in self.entries)

    def has_run(self, run: str) -> bool:
        return run in self.runs

    def runs_of_year(self, year: int) -> list[str]:
        return sorted((r for r in self.runs if r.startswith(f"{year:04d}")), key=run_order)

    def month_entries(self, year: int, months) -> list[dict]:
        """Entries of the month runs of ``year`` in ``months`` (1–12)."""
        wanted = {f"{year:04d}-{m:02d}" for m in months}
        return [e for e in self.entries if e["run"] in wanted]

    def interim_by_stay(self) -> dict[str, list[tuple[tuple[int, int], int]]]:
        """Stay → [(run order, interim amount paid)] of the stay entries (中途结算)."""
        out: dict[str, list] = {}
        for e in self.entries:
            if e["stay"]:
                out.setdefault(e["stay"], []).append((run_order(e["run"]), e["interim"]))
        return out

    def describe(self, entry: dict) -> str:
        amounts = ", ".join(f"{k} {fen_text(entry[k])}" for k in AMOUNT_COLUMNS if entry[k])
        stay = f" stay {entry['stay']}" if entry.get("stay") else ""
        return (f"ledger {self.path or '(in memory)'}: entry run {entry['run']} hospital {entry['hospital_id']} "
                f"fund {entry['region']}/{entry['insurance_type']}{stay} ({amounts or 'all 0.00'})")

    def record(self, run: str, entries: list[dict]) -> "Ledger":
        """The ledger with ``run``'s entries added; the same ledger when they are recorded already.

        Raises
        ------
        LedgerError
            ``run`` is recorded with other figures, or it is a month of a year already cleared.
        """
        key = lambda e: tuple(e[k] for k in KEY_COLUMNS)  # noqa: E731
        new = sorted((_complete(e, run) for e in entries), key=key)
        old = sorted((e for e in self.entries if e["run"] == run), key=key)
        if old:
            if old == new:
                return self
            old_by, new_by = {key(e): e for e in old}, {key(e): e for e in new}
            for k in sorted(set(old_by) | set(new_by)):
                if old_by.get(k) != new_by.get(k):
                    recorded = old_by.get(k)
                    shown = self.describe(recorded) if recorded else f"ledger {self.path or '(in memory)'}: run {run}"
                    change = "no entry in this run" if k not in new_by else ", ".join(
                        f"{c} {fen_text(new_by[k][c])}" for c in AMOUNT_COLUMNS if new_by[k][c]) or "all 0.00"
                    raise LedgerError(f"{shown} was recorded and paid; this run gives {change} for hospital {k[1]} "
                                      f"fund {k[2]}/{k[3]}. A recorded run cannot change (已结算不可重算): settle "
                                      "the difference in a later run / 差额在以后的结算中处理")
        if len(run) > 4 and self.has_run(run[:4]):
            raise LedgerError(f"ledger {self.path or '(in memory)'}: year {run[:4]} is cleared (run {run[:4]}); month "
                              f"{run} cannot be added after the year-end clearing / 年度已清算")
        if all(run_order(r) < run_order(run) for r in self.runs):  # the usual case: runs in order
            return Ledger(self.entries + tuple(new), self.path)
        return Ledger(tuple(sorted(self.entries + tuple(new), key=lambda e: (run_order(e["run"]), key(e)))),
                      self.path)

    def rows(self, run: str | None = None) -> list[dict]:
        """The entries (of ``run``, or all) as rows: ``COLUMNS``, amounts exact ``Decimal`` 元.

        The form both stores take: the CSV file's lines and the service's ``ledger`` table.
        """
        return [{k: yuan(e[k]) if k in AMOUNT_COLUMNS else e[k] for k in COLUMNS}
                for e in self.entries if run is None or e["run"] == run]

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows([str(row[k]) for k in COLUMNS] for row in self.rows())
        return out.getvalue()


def _complete(entry: dict, run: str) -> dict:
    out = {k: entry.get(k, 0) for k in AMOUNT_COLUMNS}
    out.update({k: str(entry.get(k, "")) for k in KEY_COLUMNS[1:]}, run=run,
               release_period=entry.get("release_period", ""))
    return {k: out[k] if k in KEY_COLUMNS + ("release_period",) else int(out[k]) for k in COLUMNS}


def read_ledger(path) -> Ledger:
    """Read a ledger CSV; a file that does not exist yet is an empty ledger.

    Raises
    ------
    LedgerError
        A missing column or an amount that is not money, naming the line.
    """
    path = Path(path)
    if not path.exists():
        return Ledger((), str(path))
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    return ledger_from_rows(rows, str(path), "line", first=2)


def ledger_from_rows(rows, source: str, unit: str = "row", first: int = 1) -> Ledger:
    """A ledger from rows of ``COLUMNS`` (amounts in 元: text or ``Decimal``; other keys ignored).

    The one reader of both stores: a CSV file's lines (:func:`read_ledger`) and the service's
    ``ledger`` table.  Entries are put in run order, then hospital and fund.

    Raises
    ------
    LedgerError
        A missing column or an amount that is not money, naming ``source`` and the ``unit`` number.
    """
    entries = []
    for n, row in enumerate(rows, start=first):
        row = {**OPTIONAL_COLUMNS, **row}
        missing = [c for c in COLUMNS if c not in row]
        if missing:
            raise LedgerError(f"ledger {source}: {unit} {n}: column {missing[0]} missing")
        try:
            entries.append({**{k: str(row[k] or "") for k in KEY_COLUMNS}, "release_period": row["release_period"] or "",
                            **{k: decimal_units(row[k] or "0", 2, k) for k in AMOUNT_COLUMNS}})
        except ValueError as exc:
            raise LedgerError(f"ledger {source}: {unit} {n}: {exc}") from None
    entries.sort(key=lambda e: (run_order(e["run"]), *(e[k] for k in KEY_COLUMNS)))
    return Ledger(tuple({k: e[k] for k in COLUMNS} for e in entries), source)


def write_ledger(ledger: Ledger, path) -> None:
    """Write the ledger atomically (a temporary file beside it, renamed at the end)."""
    write_text_atomic(path, ledger.to_csv())


__all__ = ["COLUMNS", "Ledger", "LedgerError", "ledger_from_rows", "read_ledger", "run_order", "write_ledger"]
