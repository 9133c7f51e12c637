"""The screening engine: every enabled screen over a month of grouped cases, risk scores per case and hospital.

>>> s = Screener(weights=WeightTable.read("w.parquet"), config="my-screens.toml")  # doctest: +SKIP
>>> result = s.screen(cases, history=earlier_months)                               # doctest: +SKIP
>>> result.flags, result.case_risk, result.hospital_risk                          # doctest: +SKIP

Scores
------
A flag's ``score`` is its rule's ``score``.  A case's risk score (病例风险分) is the
sum over its flags; its money at stake the largest of its flags' (a payment is
recovered once, whatever the number of rules it breaks).  A hospital's risk score
(医院风险分) is 100 × the sum of the scores of its case and hospital flags ÷ its
current cases; its money at stake the sum of its cases' plus its hospital flags'.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit.rulebook import RuleBook
from audit.screens.case_rules import bed_blocking_flags, duplicate_id_flags, low_standard_flags, upcoding_whatif_flags
from audit.screens.cases import CaseArrays, as_table, drg_reference, prepare
from audit.screens.config import load_screens
from audit.screens.flags import FLAG_SCHEMA, empty_flags
from audit.screens.hospital import dumping_flags, share_flags
from audit.screens.money import Rates
from audit.screens.patient import overlap_flags, split_flags
from weights import WeightTable
from foundation.decimals import decimal_array, units_or_null, unscaled

CASE_RISK_SCHEMA = pa.schema([
    ("case_id", pa.string()), ("row_no", pa.int64()), ("hospital_id", pa.string()), ("n_flags", pa.int64()),
    ("rules", pa.string()), ("score", pa.float64()), ("money_at_stake", pa.decimal128(18, 2)),
])


@dataclass(frozen=True)
class ScreenResult:
    """What :meth:`Screener.screen` found.

    Attributes
    ----------
    flags : pyarrow.Table
        One row per flag (:data:`audit.screens.flags.FLAG_SCHEMA`): case flags by row, then hospital flags.
    case_risk : pyarrow.Table
        One row per flagged case: ``case_id``, ``row_no``, ``hospital_id``, ``n_flags``, ``rules``
        (``;``-separated), ``score``, ``money_at_stake`` (see the module docstring).
    hospital_risk : pyarrow.Table
        One row per hospital of the current cases, highest score first.
    cases : pyarrow.Table
        ``case_id``, ``row_no``, ``hospital_id`` of every current case (the random sample draws from them).
    skipped : dict
        Rule id → why an enabled screen could not run (no history, no weights, a missing column).
    rates : Rates
        The base rates money at stake was computed with.
    """

    flags: pa.Table
    case_risk: pa.Table
    hospital_risk: pa.Table
    cases: pa.Table
    skipped: dict = field(default_factory=dict)
    rates: Rates = field(default_factory=Rates)

    def counts(self) -> dict[str, int]:
        """Flags per rule id, in rule order of the flags table."""
        counts = self.flags.column("rule_id").value_counts().to_pylist()
        return {c["values"]: c["counts"] for c in counts}


class Screener:
    """Runs the audit screens with one configuration, weight table and base rates.

    Parameters
    ----------
    weights : WeightTable, optional
        RW per DRG: money at stake, dumping of high-RW cases, upcoding; mean cost and
        stay per DRG where the table has them.
    config : RuleBook or path-like, optional
        Screens configuration merged onto ``audit/screens.toml``.
    rate : str, optional
        Base rate(s) in 元 per RW (``12252.70`` or ``310=12252.70,390=9649.24``); default
        the weight table's ``base_rates``.
    """

    def __init__(self, *, weights: WeightTable | None = None, config: RuleBook | str | os.PathLike | None = None,
                 rate: str | None = None):
        self.weights = weights
        self.book = load_screens(config)
        self.rates = Rates.parse(rate, weights)

    def screen(self, cases, history=None) -> ScreenResult:
        """Screen the current ``cases`` (grouped: ``drg``, ``status``), with ``history`` as earlier stays and baseline.

        Parameters
        ----------
        cases, history : pyarrow.Table, pandas.DataFrame or list of dict
            Grouped cases (``drg group --keep-input`` columns); history optional.

        Raises
        ------
        audit.screens.cases.ScreenInputError
            ``drg`` or ``status`` missing.
        """
        cases = as_table(cases)
        history = as_table(history) if history is not None else None
        c = prepare(cases, history, self.weights, self.rates)
        ref = drg_reference(c, self.weights)
        book = self.book
        parts = (split_flags(c, book) + low_standard_flags(c, ref, book) + upcoding_whatif_flags(c, book) +
                 bed_blocking_flags(c, ref, book) + overlap_flags(c, book) + duplicate_id_flags(c, book) +
                 share_flags(c, book, self.weights) + dumping_flags(c, book))
        flags = _ordered(pa.concat_tables([empty_flags(), *parts]).cast(FLAG_SCHEMA), book)
        current = pa.table({"case_id": c.case_id.slice(0, cases.num_rows),
                            "row_no": pa.array(c.row_no[: cases.num_rows]),
                            "hospital_id": c.hospital_text(np.arange(cases.num_rows))})
        return ScreenResult(flags, case_risk(flags), hospital_risk(flags, current), current,
                            _skipped(c, book, self.weights, self.rates), self.rates)


def _skipped(c: CaseArrays, book: RuleBook, weights, rates: Rates) -> dict:
    needs = {
        "SPLIT_READMISSION": [("patient_id", "admit_date", "discharge_date")],
        "SPLIT_CHAIN": [("patient_id", "admit_date", "discharge_date")],
        "DUPLICATE_OVERLAP": [("patient_id", "admit_date", "discharge_date")],
        "LOW_STANDARD_ADMISSION": [("los_days", "total_cost")],
        "BED_BLOCKING": [("los_days", "total_cost")],
        "UPCODING_WHATIF": [("best_rw",), "weights"],
        "UPCODING_MONTH_JUMP": ["history"],
        "DUMPING_HIGH_RW": ["history", "weights"],
        "DUMPING_TRANSFERS_OUT": ["history", ("discharge_method",)],
    }
    out = {}
    for rule_id, wants in needs.items():
        if not book.enabled(rule_id):
            continue
        why = []
        for want in wants:
            if want == "history" and c.current.all():
                why.append("no --history cases")
            elif want == "weights" and weights is None:
                why.append("no weight table")
            elif isinstance(want, tuple):
                absent = [name for name in want if c.column(name) is None]
                if absent:
                    why.append(f"no {', '.join(absent)} column")
        if why:
            out[rule_id] = "; ".join(why)
    if not rates.known:
        out["money_at_stake"] = "no base rate (--rate or the weight table's base_rates): money at stake is empty"
    return out


def _ordered(flags: pa.Table, book: RuleBook) -> pa.Table:
    """Case flags by row, then rule order; hospital flags after them, by hospital, rule, flag id."""
    if not flags.num_rows:
        return flags
    rank = {rule_id: i for i, rule_id in enumerate(book.ids)}
    rule = np.array([rank[r] for r in flags.column("rule_id").to_pylist()])
    rows = flags.column("row_no").to_numpy(zero_copy_only=False)
    hospital_level = np.isnan(rows) if rows.dtype.kind == "f" else np.zeros(len(rows), bool)
    row = np.nan_to_num(rows).astype(np.int64)
    ids = np.argsort(np.argsort(np.array(flags.column("flag_id").to_pylist(), dtype=object), kind="stable"))
    hosp = np.argsort(np.argsort(np.array(flags.column("hospital_id").to_pylist(), dtype=object), kind="stable"))
    order = np.lexsort((ids, rule, np.where(hospital_level, hosp, 0), row, hospital_level))
    return flags.take(pa.array(order))


def case_risk(flags: pa.Table) -> pa.Table:
    """One row per flagged case (see :class:`ScreenResult`), by row number."""
    case = flags.filter(pc.is_valid(flags.column("row_no")))
    if not case.num_rows:
        return CASE_RISK_SCHEMA.empty_table()
    rows = case.column("row_no").to_numpy()
    fen = unscaled(case.column("money_at_stake"))
    score = case.column("score").to_numpy()
    keys, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    n = np.bincount(inverse)
    total = np.bincount(inverse, weights=score)
    money = np.full(len(keys), -1, np.int64)
    np.maximum.at(money, inverse, fen)
    rule_ids = case.column("rule_id").to_pylist()
    rules = [[] for _ in keys]
    for i, r in zip(inverse.tolist(), rule_ids):
        rules[i].append(r)
    return pa.table({
        "case_id": case.column("case_id").take(pa.array(first)),
        "row_no": pa.array(keys, pa.int64()),
        "hospital_id": case.column("hospital_id").take(pa.array(first)),
        "n_flags": pa.array(n, pa.int64()),
        "rules": pa.array(["; ".join(r) for r in rules], pa.string()),
        "score": pa.array(np.round(total, 6)),
        "money_at_stake": units_or_null(money, 2),
    }, schema=CASE_RISK_SCHEMA)


def hospital_risk(flags: pa.Table, cases: pa.Table) -> pa.Table:
    """One row per hospital of ``cases``: counts, money at stake and risk score (see the module docstring)."""
    counts = pc.value_counts(cases.column("hospital_id")).to_pylist()
    names = sorted(c["values"] for c in counts)
    index = {h: i for i, h in enumerate(names)}
    k = len(names)
    n_cases = np.zeros(k, np.int64)
    for c in counts:
        n_cases[index[c["values"]]] = c["counts"]
    risk = case_risk(flags)
    case_h = np.array([index.get(h, 0) for h in risk.column("hospital_id").to_pylist()], np.int64)
    flagged = np.bincount(case_h, minlength=k)
    money = np.zeros(k, np.int64)  # exact integer sums
    np.add.at(money, case_h, np.maximum(unscaled(risk.column("money_at_stake")), 0))
    all_h = np.array([index.get(h, -1) for h in flags.column("hospital_id").to_pylist()], np.int64)
    known = all_h >= 0
    n_flags = np.bincount(all_h[known], minlength=k)
    score = np.bincount(all_h[known], weights=flags.column("score").to_numpy()[known], minlength=k)
    level = pc.is_null(flags.column("row_no")).to_numpy(zero_copy_only=False) & known
    n_level = np.bincount(all_h[level], minlength=k)
    np.add.at(money, all_h[level], np.maximum(unscaled(flags.column("money_at_stake")), 0)[level])
    rules: list[dict] = [{} for _ in names]
    for h, r in zip(all_h[known].tolist(), np.array(flags.column("rule_id").to_pylist(), dtype=object)[known]):
        rules[h][r] = rules[h].get(r, 0) + 1
    risk_score = np.round(100 * score / np.maximum(n_cases, 1), 4)
    order = np.lexsort((np.arange(k), -money, -risk_score))
    table = pa.table({
        "hospital_id": pa.array(names, pa.string()),
        "n_cases": pa.array(n_cases, pa.int64()),
        "flagged_cases": pa.array(flagged, pa.int64()),
        "flagged_share": pa.array(np.round(flagged / np.maximum(n_cases, 1), 6)),
        "n_flags": pa.array(n_flags, pa.int64()),
        "hospital_flags": pa.array(n_level, pa.int64()),
        "money_at_stake": decimal_array(money, 2),
        "score": pa.array(risk_score),
        "top_rules": pa.array(["; ".join(f"{r} {n}" for r, n in sorted(d.items(), key=lambda x: (-x[1], x[0]))[:5])
                               for d in rules], pa.string()),
    })
    return table.take(pa.array(order))


__all__ = ["CASE_RISK_SCHEMA", "ScreenResult", "Screener", "case_risk", "hospital_risk"]
