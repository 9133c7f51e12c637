"""The screened cases as NumPy arrays: codes for text columns, days for dates, RW and payment in integers.

The current cases and the history (earlier months) are prepared together, so that
hospitals, patients, ADRGs and DRGs share one coding; ``current`` marks the rows
being screened (they come first).  Missing values are ``-1`` (codes, counts,
RW, fen), :data:`NO_DATE` (dates) or NaN (cost).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.screens.flags import flags_table
from foundation.text_values import day_numbers, parse_dates, parse_numbers
from icd_tables.intake.values import canonical_records
from audit.screens.money import Rates, payment_fen
from weights import RW_UNITS, WeightTable, lookup_units

NO_DATE = np.iinfo(np.int32).min
#: Columns the screens read, where present (none is required but ``drg`` and ``status``).
SCREEN_COLUMNS = ("case_id", "row_no", "hospital_id", "patient_id", "admit_date", "discharge_date", "los_days",
                  "total_cost", "drg", "adrg", "mdc", "status", "principal_dx", "discharge_method", "insurance_type",
                  "best_drg", "best_rw", "best_alternative")


class ScreenInputError(ValueError):
    """Cases that cannot be screened (a missing grouping column); the message says how to fix it."""


def as_table(cases) -> pa.Table:
    """An Arrow table in the canonical record types, from an Arrow table, a pandas DataFrame or a list of dicts."""
    if isinstance(cases, pa.Table):
        return canonical_records(cases)
    if isinstance(cases, pd.DataFrame):
        return canonical_records(pa.Table.from_pandas(cases, preserve_index=False))
    return canonical_records(pa.Table.from_pylist(list(cases)))


def _plain(column) -> pa.Array:
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return column


def factorize(column, n: int, values: bool = True) -> tuple[np.ndarray, list[str]]:
    """Integer code per value (``-1`` for null or blank text) and the distinct values as text.

    With ``values=False`` the distinct values are not turned into Python text (patient ids).
    """
    if column is None:
        return np.full(n, -1, np.int32), []
    column = _plain(column)
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column.cast(pa.string()) if not pa.types.is_string(column.type) else column)
    dictionary = column.dictionary.cast(pa.string())
    codes = column.indices.to_numpy(zero_copy_only=False)
    codes = np.where(column.indices.is_valid().to_numpy(zero_copy_only=False), codes, -1).astype(np.int32)
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(dictionary), ""), True).to_numpy(zero_copy_only=False)
    if blank.any():
        codes[np.append(blank, False)[codes]] = -1
    return codes, ([] if not values else ["" if v is None else v for v in dictionary.to_pylist()])


def days(column, n: int) -> np.ndarray:
    """Days since 1970-01-01 of a date column (read as every command reads dates); :data:`NO_DATE` where missing."""
    if column is None:
        return np.full(n, NO_DATE, np.int32)
    values, valid = day_numbers(parse_dates(_plain(column))[0])
    return np.where(valid, values, NO_DATE).astype(np.int32)


def numbers(column, n: int, missing=np.nan) -> np.ndarray:
    """Float values (text read by :func:`foundation.text_values.parse_numbers`); ``missing`` where null or
    not a number."""
    if column is None:
        return np.full(n, missing, np.float64)
    values = parse_numbers(_plain(column))
    return np.where(np.isfinite(values), values, missing)


def rw_column_units(column, n: int) -> np.ndarray:
    """An RW column (decimal, float or text) in millionths, ``-1`` where missing or not positive."""
    values = numbers(column, n)
    units = np.rint(values * RW_UNITS)
    return np.where(np.isfinite(units) & (units > 0), units, -1).astype(np.int64)


@dataclass
class CaseArrays:
    """Current cases and history, column by column (see the module docstring)."""

    n: int
    current: np.ndarray
    case_id: pa.Array
    row_no: np.ndarray
    hospital: np.ndarray
    hospitals: list[str]
    patient: np.ndarray
    admit: np.ndarray
    discharge: np.ndarray
    los: np.ndarray
    cost: np.ndarray
    ok: np.ndarray
    drg: np.ndarray
    drgs: list[str]
    adrg: np.ndarray
    adrgs: list[str]
    mdc: np.ndarray
    mdcs: list[str]
    discharge_method: np.ndarray
    rw_units: np.ndarray
    pay_fen: np.ndarray
    rate_fen: np.ndarray
    table: pa.Table

    def column(self, name: str):
        """An input column (all rows), or None when absent."""
        return self.table.column(name) if name in self.table.column_names else None

    def text(self, name: str, rows: np.ndarray) -> list[str]:
        """Column ``name`` at ``rows`` as text (``""`` for null or absent)."""
        column = self.column(name)
        if column is None:
            return [""] * len(rows)
        values = column.take(pa.array(np.asarray(rows, dtype=np.int64))).cast(pa.string()).to_pylist()
        return ["" if v is None else v for v in values]

    def hospital_text(self, rows: np.ndarray) -> pa.Array:
        """Hospital id of the cases at ``rows`` (``""`` when missing)."""
        codes = np.where(self.hospital[rows] >= 0, self.hospital[rows], len(self.hospitals))
        return pa.array(self.hospitals + [""], pa.string()).take(pa.array(codes))

    def flags(self, rule, rows: np.ndarray, texts, evidence: list[dict], money_fen) -> pa.Table:
        """Flags of ``rule`` on the cases at ``rows`` (see :func:`audit.screens.flags.flags_table`)."""
        return flags_table(rule=rule, case_id=self.case_id.take(pa.array(rows)), row_no=self.row_no[rows],
                           hospital_id=self.hospital_text(rows), texts=texts, evidence=evidence, money_fen=money_fen)


def prepare(cases: pa.Table, history: pa.Table | None, weights: WeightTable | None, rates: Rates) -> CaseArrays:
    """Arrays of the current cases (first) and the history (after).

    Raises
    ------
    ScreenInputError
        ``drg`` or ``status`` is missing.
    """
    for name, table in (("cases", cases), ("history", history)):
        if table is None:
            continue
        absent = [c for c in ("drg", "status") if c not in table.column_names]
        if absent:
            raise ScreenInputError(f"{name}: no {', '.join(absent)} column; screen grouped cases "
                                   "('drg group --keep-input'), or give a pack to group raw records")
    n_current = cases.num_rows
    if "row_no" not in cases.column_names:
        cases = cases.append_column("row_no", pa.array(np.arange(1, n_current + 1, dtype=np.int64)))
    parts = [cases.select([c for c in SCREEN_COLUMNS if c in cases.column_names] +
                          [c for c in cases.column_names if c not in SCREEN_COLUMNS])]
    if history is not None and history.num_rows:
        if "row_no" not in history.column_names:
            history = history.append_column("row_no", pa.array(np.arange(1, history.num_rows + 1, dtype=np.int64)))
        parts.append(history)
    table = _unified(parts)
    n = table.num_rows
    col = (lambda name: table.column(name) if name in table.column_names else None)
    current = np.zeros(n, bool)
    current[:n_current] = True
    hospital, hospitals = factorize(col("hospital_id"), n)
    patient, _ = factorize(col("patient_id"), n, values=False)
    drg, drgs = factorize(col("drg"), n)
    adrg, adrgs = factorize(col("adrg"), n)
    if col("adrg") is None:  # derive the ADRG from the DRG code (its first three characters)
        adrg, adrgs = factorize(pa.array([d[:3] for d in drgs], pa.string()).take(pa.array(np.maximum(drg, 0))), n)
        adrg[drg < 0] = -1
    mdc, mdcs = factorize(col("mdc"), n)
    status, statuses = factorize(col("status"), n)
    ok = np.isin(status, [i for i, s in enumerate(statuses) if s == "ok"]) & (drg >= 0)
    insurance, insurances = factorize(col("insurance_type"), n)
    rw_units = np.full(n, -1, np.int64)
    if weights is not None:
        per_drg = lookup_units(np.array(drgs, dtype=object), weights) if drgs else np.zeros(0, np.int64)
        rw_units[ok] = per_drg[drg[ok]]
    rate_fen = rates.per_case(insurance, insurances)
    los = numbers(col("los_days"), n)
    case_id = _plain(col("case_id")).cast(pa.string()) if col("case_id") is not None else \
        pa.array(np.arange(1, n + 1).astype(str))
    return CaseArrays(
        n=n, current=current, case_id=case_id,
        row_no=numbers(col("row_no"), n, missing=-1).astype(np.int64),
        hospital=hospital, hospitals=hospitals, patient=patient,
        admit=days(col("admit_date"), n), discharge=days(col("discharge_date"), n),
        los=np.where(np.isfinite(los) & (los >= 0), np.nan_to_num(los), -1).astype(np.int64),
        cost=numbers(col("total_cost"), n), ok=ok, drg=drg, drgs=drgs, adrg=adrg, adrgs=adrgs, mdc=mdc, mdcs=mdcs,
        discharge_method=numbers(col("discharge_method"), n, missing=-1).astype(np.int64),
        rw_units=rw_units, pay_fen=payment_fen(rw_units, rate_fen), rate_fen=rate_fen, table=table,
    )


def _unified(parts: list[pa.Table]) -> pa.Table:
    """One table from the current cases and the history: dictionary columns decoded where the parts differ."""
    if len(parts) == 1:
        return parts[0]
    names = [c for c in parts[0].column_names if all(c in p.column_names for p in parts[1:])] + \
        [c for c in parts[1].column_names if c not in parts[0].column_names]
    out = []
    for part in parts:
        columns = {}
        for name in names:
            column = part.column(name) if name in part.column_names else pa.nulls(part.num_rows, pa.string())
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            columns[name] = column
        out.append(pa.table(columns))
    return pa.concat_tables(out, promote_options="permissive").combine_chunks()


@dataclass(frozen=True)
class DrgReference:
    """Per DRG code (``CaseArrays.drgs``): mean cost (元), mean stay (days), mean cost per day, and where they came from."""

    mean_cost: np.ndarray
    mean_los: np.ndarray
    per_day: np.ndarray
    source: str


def drg_reference(c: CaseArrays, weights: WeightTable | None) -> DrgReference:
    """The weight table's ``mean_cost``/``mean_los`` where it has them, else the means over all ``ok`` cases given."""
    k = len(c.drgs)
    use = c.ok & np.isfinite(c.cost) & (c.cost > 0) & (c.los > 0)
    count = np.bincount(c.drg[use], minlength=k).astype(np.float64)
    cost_sum = np.bincount(c.drg[use], weights=c.cost[use], minlength=k)
    los_sum = np.bincount(c.drg[use], weights=c.los[use].astype(np.float64), minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_cost, mean_los = cost_sum / count, los_sum / count
    source = "cases"
    if weights is not None and {"mean_cost", "mean_los"} <= set(weights.frame.columns):
        table = weights.frame.set_index("drg")
        for i, code in enumerate(c.drgs):
            if code in table.index:
                cost, stay = table.at[code, "mean_cost"], table.at[code, "mean_los"]
                if cost is not None and stay is not None and not pd.isna(cost) and not pd.isna(stay) and stay > 0:
                    mean_cost[i], mean_los[i] = float(cost), float(stay)
        source = f"weights {weights.meta.name}"
    with np.errstate(divide="ignore", invalid="ignore"):
        per_day = mean_cost / mean_los
    return DrgReference(mean_cost, mean_los, per_day, source)


__all__ = ["CaseArrays", "DrgReference", "NO_DATE", "SCREEN_COLUMNS", "ScreenInputError", "as_table", "drg_reference",
           "factorize", "prepare"]
