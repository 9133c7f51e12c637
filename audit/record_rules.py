"""Record-level checks of the rule book (病案首页质控): codes, principal diagnosis, sex and age, administration.

Every check is vectorised over a whole batch: the codes of all records are
dictionary-encoded once, each distinct code is classified once (pack map,
code ranges, patterns), and the classes are gathered back to the code
positions with NumPy.  Messages are filled once per distinct combination of
their values (:meth:`audit.rulebook.Rule.render`).

Conventions
-----------
* Codes are compared as written (after :func:`audit.code_sets.clean_codes` for
  ranges and patterns); an empty code is the fatal rules' business and is
  skipped here.  A code's pack-derived class is that of the grouper code the
  pack maps it to.
* Asterisk codes (``PDX_ASTERISK``): a code holding ``*`` with no dagger part
  in front of it — no ``†`` or ``+`` before the ``*`` code (``G01*``,
  ``G63.2*x001``, ``†G01*``).  Combined dagger–asterisk codes such as
  ``A17.0†G01*`` or ``A02.204+M90.2*`` name the underlying disease first and
  may be the principal diagnosis.
* Sex rules run for sex 1 and 2 only (other values are the fatal record check).
* Newborn weights (``NEWBORN_WEIGHT_RANGE``) are checked for ``age_years == 0``.
* ``los_days``, ``total_cost`` and ``discharge_method`` are needed for upload:
  missing or unreadable values are findings (an absent column makes every
  record one).  Values are read by the one intake (:mod:`icd_tables.intake.values`,
  which lists the date and amount forms); a missing date is not a finding
  here, an unreadable one is ``DATE_INVALID``.
* Length of stay: 出院日期 − 入院日期, a same-day stay counting 1 day.
"""

from __future__ import annotations

from functools import cached_property
from itertools import compress

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit.code_sets import clean_codes, in_ranges, matches, pack_sex_diagnoses, set_members
from audit._kernels import _repeated_codes
from audit.findings import Part, assemble, by_row, empty_findings
from audit.rulebook import Rule, RuleBook
from grouper.encode import Encoded, encode, to_arrow
from grouper.results import take_text
from foundation.arrow_columns import as_list, plain_array, text_codes
from foundation.remembered import per_object, per_text
from foundation.text_values import day_numbers
from icd_tables.intake.bounds import implausible_fields, load_bounds
from icd_tables.intake.reader import FORMATTING
from icd_tables.intake.values import UNREADABLE, canonical_records
from icd_tables.compiled import MISSING, NUMERIC_ORDER, CompiledPack
from icd_tables.pack import Pack
from icd_tables.rules.ir import Field
from icd_tables.schema import CODE_LIST_COLUMNS, REQUIRED_COLUMNS

#: A code with ``*`` and no dagger part before it (see the module docstring).
ASTERISK_PATTERN = r"^[+†]?[^+†]*\*"

FIELD_ZH = {
    "principal_dx": "主要诊断", "secondary_dx": "其他诊断", "procedures": "手术操作",
    "birth_weight_g": "新生儿出生体重", "admission_weight_g": "新生儿入院体重",
    "admit_date": "入院日期", "discharge_date": "出院日期", "settlement_date": "结算日期",
}
FIELD_EN = {
    "principal_dx": "principal diagnosis", "secondary_dx": "other diagnosis", "procedures": "procedure",
    "birth_weight_g": "birth weight", "admission_weight_g": "admission weight",
    "admit_date": "admission date", "discharge_date": "discharge date", "settlement_date": "settlement date",
}
#: Sex 1 and 2 in words (rows 0 and 1, for :func:`grouper.results.take_text`).
SEX_ZH = pa.array(["男", "女"])
SEX_EN = pa.array(["male", "female"])

#: The columns the checks read other than the codes, the dates of ``DATE_INVALID`` and the bounded values.
_VALUE_COLUMNS = ("case_id", FORMATTING, "age_years", "age_days", "birth_weight_g", "admission_weight_g", "los_days",
                  "admit_date", "discharge_date", "total_cost", "discharge_method")


def _sex_dx(cp: CompiledPack) -> dict:
    """Sex → bool over the pack's diagnosis codes, restricted to that sex (read once per pack)."""
    return per_object("sex diagnoses", (cp,), lambda: pack_sex_diagnoses(cp))


class _Codes:
    """One kind of codes (diagnoses or procedures) of a batch: every position, and each distinct code once."""

    def __init__(self, codes: pa.Array, record: np.ndarray, ids: np.ndarray, grouper_codes: pa.Array):
        self.codes = _string(codes)
        self.record = record
        self.index, self.texts = text_codes(self.codes)
        # as text once for every rule's classes
        self.clean = per_text(self.texts, ("clean codes",),
                              lambda new: clean_codes(pa.array(new, pa.string())).to_pylist())
        # the grouper code the encoding mapped each position to: every position of one text maps alike
        self.target = np.full(len(self.texts), -1, dtype=np.int64)
        self.target[self.index] = ids
        mapped = self.target >= 0
        self.rewritten = mapped.copy()
        if mapped.any():  # mapped to a code written differently
            codes = as_list(grouper_codes)
            self.rewritten[mapped] = [text != codes[target]
                                      for text, target in zip(compress(self.texts, mapped), self.target[mapped].tolist())]
        self._grouper_codes = grouper_codes
        self.nonempty = np.fromiter((code != "" for code in self.clean), dtype=bool, count=len(self.clean))

    @cached_property
    def distinct(self) -> pa.Array:
        """The distinct texts (``""`` for a missing code)."""
        return pa.array(self.texts, pa.string())

    def per_position(self, per_code: np.ndarray) -> np.ndarray:
        """A per-distinct-code array gathered to every position."""
        return per_code[self.index]

    def target_text(self, positions: np.ndarray) -> pa.Array:
        """Grouper code each position maps to."""
        return self._grouper_codes.take(pa.array(self.target[self.index[positions]]))

    def pack_class(self, per_grouper_code: np.ndarray) -> np.ndarray:
        """Per distinct code: the class of the grouper code it maps to (False when unmapped)."""
        return (self.target >= 0) & per_grouper_code[np.maximum(self.target, 0)] if len(per_grouper_code) \
            else np.zeros(len(self.target), dtype=bool)


class _Batch:
    """A batch of records as the checks read it."""

    def __init__(self, table: pa.Table, enc: Encoded, cp: CompiledPack, first_row_no: int):
        self.table = table
        self.n = n = table.num_rows
        self.cp = cp
        self.case_id = _string(_as_text(plain_array(table.column("case_id"))))
        self.row_no = np.arange(n, dtype=np.int64) + first_row_no
        nums = {field: enc.batch.nums[k] for k, field in enumerate(NUMERIC_ORDER)}
        self.age, self.sex, self.age_days = nums[Field.AGE_YEARS], nums[Field.SEX], nums[Field.AGE_DAYS]
        self.birth_weight, self.admission_weight = nums[Field.BIRTH_WEIGHT], nums[Field.ADMISSION_WEIGHT]
        self.los, self.discharge_method = nums[Field.LOS_DAYS], nums[Field.DISCHARGE_METHOD]
        self.pack_sex_dx = _sex_dx(cp)
        rows = np.arange(n, dtype=np.int64)
        self.secondary_start = enc.batch.dx_start - np.arange(n + 1, dtype=np.int64)
        self.proc_start = enc.batch.proc_start
        secondary_counts = np.diff(self.secondary_start)
        principal = np.zeros(len(enc.batch.dx_ids), dtype=bool)
        principal[enc.batch.dx_start[:-1]] = True
        # the principal diagnoses first, then the secondary ones record by record
        dx_ids = np.concatenate([enc.batch.dx_ids[principal], enc.batch.dx_ids[~principal]])
        self.dx = _Codes(
            pa.concat_arrays([_string(enc.principal_dx), _string(enc.secondary_dx)]),
            np.concatenate([rows, np.repeat(rows, secondary_counts)]), dx_ids, cp.dx_codes)
        self.proc = _Codes(enc.procedures, np.repeat(rows, np.diff(enc.batch.proc_start)), enc.batch.proc_ids,
                           cp.proc_codes)

    def column(self, name: str):
        return self.table.column(name) if name in self.names else None

    @cached_property
    def names(self) -> frozenset[str]:
        """The table's column names (Arrow builds the list afresh on every ``column_names``)."""
        return frozenset(self.table.column_names)

    def cell_text(self, name: str, rows: np.ndarray) -> pa.Array:
        """The cells of column ``name`` at ``rows`` as text: as written where unreadable, ``""`` for missing."""
        column = self.column(name)
        if not len(rows):
            return _NO_TEXT
        if column is None:
            return pa.array([""] * len(rows), pa.string())
        take = pa.array(rows, pa.int64())
        text = _as_text(plain_array(column).take(take))
        unreadable = self.column(UNREADABLE + name)
        if unreadable is not None:
            text = pc.coalesce(plain_array(unreadable).take(take), text)
        return pc.fill_null(text, "")

    def unreadable(self, name: str) -> np.ndarray:
        """Rows whose ``name`` value was written but could not be read (:mod:`icd_tables.intake.values`)."""
        column = self.column(UNREADABLE + name)
        return np.zeros(self.n, bool) if column is None else plain_array(column).is_valid().to_numpy(
            zero_copy_only=False)

    @cached_property
    def stay(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Admission and discharge day numbers, and whether both dates were read."""
        admit, admit_ok = _dates(self.column("admit_date"), self.n)
        discharge, discharge_ok = _dates(self.column("discharge_date"), self.n)
        return admit, discharge, admit_ok & discharge_ok

    @cached_property
    def principal_index(self) -> np.ndarray:
        return self.dx.index[: self.n]

    def findings(self, rule: Rule, rows: np.ndarray, field: str, found, **values) -> list[Part]:
        """Findings of ``rule`` for the records ``rows`` (positions): ``found`` is the value column,
        ``values`` fill the message placeholders."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):  # most rules find nothing: no texts to render
            return []
        values = {"field_zh": FIELD_ZH.get(field, field), "field_en": FIELD_EN.get(field, field), **values}
        return [Part(rows, rule.id, rule.severity, field, found, *rule.fill(len(rows), values))]

    def code_findings(self, rule: Rule, kind: str, hit: np.ndarray, **values) -> list[Part]:
        """Findings at the code positions ``hit`` (bool per position), by field; ``values`` per position, or
        functions of the positions found."""
        codes = self.dx if kind == "dx" else self.proc
        at = np.flatnonzero(hit)
        if not len(at):
            return []
        principals = np.searchsorted(at, self.n)  # the principal diagnoses are the first n positions
        parts = [("principal_dx", at[:principals]), ("secondary_dx", at[principals:])] if kind == "dx" \
            else [("procedures", at)]
        out = []
        for field, positions in parts:
            if len(positions):
                picked = {k: v(positions) if callable(v) else v[positions] if isinstance(v, np.ndarray) else v
                          for k, v in values.items()}
                text = codes.codes.take(pa.array(positions))
                out += self.findings(rule, codes.record[positions], field, text, code=text, **picked)
        return out


_NO_TEXT = pa.array([], pa.string())


def _string(column: pa.Array) -> pa.Array:
    """``column`` as ``string`` (a call to Arrow only when it is of another type)."""
    return column if column.type == pa.string() else column.cast(pa.string())


def _as_text(column: pa.Array) -> pa.Array:
    """Text of any Arrow column; types Arrow cannot cast are written cell by cell."""
    if pa.types.is_string(column.type):
        return column
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())


def _usable(table: pa.Table) -> pa.Table:
    """``table`` with the columns :func:`grouper.encode.encode` needs present and readable as text."""
    n = table.num_rows
    for name in REQUIRED_COLUMNS:
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(n, pa.string()))
    for name in ("case_id", "principal_dx", *CODE_LIST_COLUMNS):
        if name not in table.column_names:
            continue
        column = plain_array(table.column(name))
        if name in CODE_LIST_COLUMNS and (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
            try:
                fixed = column.cast(pa.list_(pa.string()))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                fixed = pa.array([None if v is None else [None if c is None else str(c) for c in v]
                                  for v in column.to_pylist()], pa.list_(pa.string()))
        else:
            fixed = _as_text(column)
        table = table.set_column(table.column_names.index(name), name, fixed)
    return table


def _dates(column, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Day numbers (int64) and validity of a canonical date column."""
    if column is None:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    return day_numbers(column)


def _floats(column, n: int) -> np.ndarray:
    """Float64 values of a canonical number column, NaN where missing."""
    if column is None:
        return np.full(n, np.nan)
    return np.asarray(pc.cast(plain_array(column), pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


# ------------------------------------------------------------------------------------------ codes


def _mapped(b: _Batch, rule: Rule, kind: str) -> list[Part]:
    codes = b.dx if kind == "dx" else b.proc
    return b.code_findings(rule, kind, codes.per_position(codes.rewritten & codes.nonempty), target=codes.target_text)


def _duplicate_findings(b: _Batch, rule: Rule, kind: str) -> list[Part]:
    """Codes entered twice or more in a record (secondary diagnoses: other than the principal one)."""
    if kind == "dx":  # the secondary diagnoses: positions n onwards, record by record
        codes, starts = b.dx, b.secondary_start
        index, exclude = codes.index[b.n:], b.principal_index
    else:
        codes, starts = b.proc, b.proc_start
        index, exclude = codes.index, np.full(b.n, -1, dtype=np.int64)
    records, index, counts = _repeated_codes(starts, index, codes.nonempty, exclude)
    if not len(records):
        return []
    text = codes.distinct.take(pa.array(index))
    field = "secondary_dx" if kind == "dx" else "procedures"
    return b.findings(rule, records, field, text, code=text, count=pa.array(counts))


def check_dx_mapped(b: _Batch, rule: Rule):
    return _mapped(b, rule, "dx")


def check_proc_mapped(b: _Batch, rule: Rule):
    return _mapped(b, rule, "proc")


def check_dx_duplicate(b: _Batch, rule: Rule):
    return _duplicate_findings(b, rule, "dx")


def check_proc_duplicate(b: _Batch, rule: Rule):
    return _duplicate_findings(b, rule, "proc")


def check_pdx_in_secondary(b: _Batch, rule: Rule):
    dx = b.dx
    secondary, record = dx.index[b.n:], dx.record[b.n:]  # the secondary diagnoses: positions n onwards
    records = np.unique(record[(secondary == b.principal_index[record]) & dx.nonempty[secondary]])
    if not len(records):
        return []
    text = dx.codes.take(pa.array(records))
    return b.findings(rule, records, "secondary_dx", text, code=text)


# ------------------------------------------------------------------------------------------ principal diagnosis


def _principal(b: _Batch, rule: Rule, per_code: np.ndarray):
    hit = np.zeros(len(b.dx.record), dtype=bool)
    hit[: b.n] = b.dx.per_position(per_code & b.dx.nonempty)[: b.n]
    return b.code_findings(rule, "dx", hit)


def check_pdx_sequela(b: _Batch, rule: Rule):
    per_code = in_ranges(b.dx.clean, rule.params["codes"])
    if rule.params["pack_sets"]:
        per_code |= b.dx.pack_class(set_members(b.cp, rule.params["pack_sets"]))
    return _principal(b, rule, per_code)


def check_pdx_external_cause(b: _Batch, rule: Rule):
    return _principal(b, rule, in_ranges(b.dx.clean, rule.params["codes"]))


def check_pdx_morphology(b: _Batch, rule: Rule):
    return _principal(b, rule, matches(b.dx.clean, rule.params["pattern"]))


def check_pdx_asterisk(b: _Batch, rule: Rule):
    return _principal(b, rule, matches(b.dx.clean, ASTERISK_PATTERN))


# ------------------------------------------------------------------------------------------ sex and age


def _sex_conflicts(b: _Batch, rule: Rule, kind: str, pack_lists: dict) -> list[Part]:
    codes = b.dx if kind == "dx" else b.proc
    male = in_ranges(codes.clean, rule.params["male_codes"])
    female = in_ranges(codes.clean, rule.params["female_codes"])
    if pack_lists:
        male |= codes.pack_class(pack_lists[1])
        female |= codes.pack_class(pack_lists[2])
    # per distinct code the one sex it is for (0: either), then per position
    allowed = codes.per_position(np.where(male & ~female & codes.nonempty, 1,
                                          np.where(female & ~male & codes.nonempty, 2, 0)).astype(np.int8))
    sex = b.sex[codes.record]
    hit = (allowed > 0) & ((sex == 1) | (sex == 2)) & (allowed != sex)

    def words(table: pa.Array, key: np.ndarray):  # of the positions found
        return lambda positions: take_text(table, key[positions].astype(np.int64) - 1)

    return b.code_findings(rule, kind, hit, allowed_zh=words(SEX_ZH, allowed), allowed_en=words(SEX_EN, allowed),
                           sex_zh=words(SEX_ZH, sex), sex_en=words(SEX_EN, sex))


def check_sex_dx_conflict(b: _Batch, rule: Rule):
    return _sex_conflicts(b, rule, "dx", b.pack_sex_dx if rule.params["use_pack_lists"] else {})


def check_sex_proc_conflict(b: _Batch, rule: Rule):
    return _sex_conflicts(b, rule, "proc", {})


def _age_codes(b: _Batch, rule: Rule, outside) -> list[Part]:
    dx = b.dx
    age = b.age[dx.record]
    hit = dx.per_position(in_ranges(dx.clean, rule.params["codes"]) & dx.nonempty) & (age != MISSING) & outside(age)
    return b.code_findings(rule, "dx", hit, age=lambda positions: age[positions].astype(np.int64))


def check_age_pregnancy(b: _Batch, rule: Rule):
    low, high = rule.params["min_age_years"], rule.params["max_age_years"]
    return _age_codes(b, rule, lambda age: (age < low) | (age > high))


def check_age_perinatal(b: _Batch, rule: Rule):
    return _age_codes(b, rule, lambda age: age > rule.params["max_age_years"])


def _outside(values: np.ndarray, low, high) -> np.ndarray:
    return (values != MISSING) & ((values < low) | (values > high))


def check_age_range(b: _Batch, rule: Rule):
    rows = np.flatnonzero(_outside(b.age, rule.params["min_age_years"], rule.params["max_age_years"]))
    return b.findings(rule, rows, "age_years", b.cell_text("age_years", rows), age=pa.array(b.age[rows]))


def check_age_days_missing(b: _Batch, rule: Rule):
    rows = np.flatnonzero((b.age == 0) & (b.age_days == MISSING))
    return b.findings(rule, rows, "age_days", b.cell_text("age_days", rows))


def check_age_days_range(b: _Batch, rule: Rule):
    rows = np.flatnonzero(_outside(b.age_days, rule.params["min_age_days"], rule.params["max_age_days"]))
    return b.findings(rule, rows, "age_days", b.cell_text("age_days", rows), age_days=pa.array(b.age_days[rows]))


def check_newborn_weight_missing(b: _Batch, rule: Rule):
    newborn = (b.age == 0) & (b.age_days != MISSING) & (b.age_days <= rule.params["max_age_days"])
    rows = np.flatnonzero(newborn & (b.birth_weight == MISSING))
    return b.findings(rule, rows, "birth_weight_g", b.cell_text("birth_weight_g", rows),
                      age_days=pa.array(b.age_days[rows]))


def check_newborn_weight_range(b: _Batch, rule: Rule):
    out = []
    for field, weight in (("birth_weight_g", b.birth_weight), ("admission_weight_g", b.admission_weight)):
        rows = np.flatnonzero((b.age == 0) & _outside(weight, rule.params["min_g"], rule.params["max_g"]))
        out += b.findings(rule, rows, field, b.cell_text(field, rows), weight=pa.array(weight[rows]))
    return out


# ------------------------------------------------------------------------------------------ administration


def check_los_invalid(b: _Batch, rule: Rule):
    los = b.los
    rows = np.flatnonzero((los == MISSING) | (los <= 0))
    text = b.cell_text("los_days", rows)
    return b.findings(rule, rows, "los_days", text, value=text)


def check_los_dates_mismatch(b: _Batch, rule: Rule):
    admit, discharge, ok = b.stay
    los = b.los
    expected = np.maximum(discharge - admit, 1)
    bad = ok & (discharge >= admit) & (los != MISSING) & (los > 0) \
        & (np.abs(los - expected) > rule.params["tolerance_days"])
    rows = np.flatnonzero(bad)
    los_text = b.cell_text("los_days", rows)
    return b.findings(rule, rows, "los_days", los_text, los=los_text, expected=pa.array(expected[rows]),
                      admit=b.cell_text("admit_date", rows), discharge=b.cell_text("discharge_date", rows))


def check_discharge_before_admission(b: _Batch, rule: Rule):
    admit, discharge, ok = b.stay
    rows = np.flatnonzero(ok & (discharge < admit))
    text = b.cell_text("discharge_date", rows)
    return b.findings(rule, rows, "discharge_date", text, discharge=text, admit=b.cell_text("admit_date", rows))


def check_date_invalid(b: _Batch, rule: Rule):
    out = []
    for field in rule.fields:
        rows = np.flatnonzero(b.unreadable(field))
        text = b.cell_text(field, rows)
        out += b.findings(rule, rows, field, text, value=text)
    return out


def check_cost_invalid(b: _Batch, rule: Rule):
    cost = _floats(b.column("total_cost"), b.n)
    rows = np.flatnonzero(~(cost > 0) | ~np.isfinite(cost))
    text = b.cell_text("total_cost", rows)
    return b.findings(rule, rows, "total_cost", text, value=text)


def check_discharge_method_unknown(b: _Batch, rule: Rule):
    method = b.discharge_method
    known = np.zeros(b.n, dtype=bool)
    for allowed in np.asarray(rule.params["allowed"], dtype=np.int64).tolist():  # a few: np.isin costs more
        known |= method == allowed
    rows = np.flatnonzero(~known)
    text = b.cell_text("discharge_method", rows)
    return b.findings(rule, rows, "discharge_method", text, value=text)


def check_value_implausible(b: _Batch, rule: Rule):
    """Values no stay can have (:mod:`icd_tables.intake.bounds`): the data-quality side of the intake's warning."""
    bounds = {bound.field: bound for bound in load_bounds()}
    out = []
    for field, outside in implausible_fields(b.table).items():
        rows = np.flatnonzero(outside)
        text = b.cell_text(field, rows)
        bound = bounds[field]
        out += b.findings(rule, rows, field, text, value=text, bound=bound.message, low=str(bound.min),
                          high=str(bound.max))
    return out


def check_code_format(b: _Batch, rule: Rule):
    notes = b.column(FORMATTING)
    if notes is None:
        return []
    notes = plain_array(notes)
    rows = np.flatnonzero(notes.is_valid().to_numpy(zero_copy_only=False))
    found = notes.take(pa.array(rows, pa.int64()))
    return b.findings(rule, rows, "principal_dx, secondary_dx, procedures", found, note=found)


#: The record rules in the order their findings are listed for a record.
CHECKS = {
    "CODE_FORMAT": check_code_format,
    "DX_MAPPED": check_dx_mapped,
    "PROC_MAPPED": check_proc_mapped,
    "DX_DUPLICATE": check_dx_duplicate,
    "PDX_IN_SECONDARY": check_pdx_in_secondary,
    "PROC_DUPLICATE": check_proc_duplicate,
    "PDX_SEQUELA": check_pdx_sequela,
    "PDX_EXTERNAL_CAUSE": check_pdx_external_cause,
    "PDX_MORPHOLOGY": check_pdx_morphology,
    "PDX_ASTERISK": check_pdx_asterisk,
    "SEX_DX_CONFLICT": check_sex_dx_conflict,
    "SEX_PROC_CONFLICT": check_sex_proc_conflict,
    "AGE_PREGNANCY": check_age_pregnancy,
    "AGE_PERINATAL": check_age_perinatal,
    "AGE_RANGE": check_age_range,
    "AGE_DAYS_MISSING": check_age_days_missing,
    "AGE_DAYS_RANGE": check_age_days_range,
    "NEWBORN_WEIGHT_MISSING": check_newborn_weight_missing,
    "NEWBORN_WEIGHT_RANGE": check_newborn_weight_range,
    "LOS_INVALID": check_los_invalid,
    "LOS_DATES_MISMATCH": check_los_dates_mismatch,
    "DISCHARGE_BEFORE_ADMISSION": check_discharge_before_admission,
    "DATE_INVALID": check_date_invalid,
    "COST_INVALID": check_cost_invalid,
    "DISCHARGE_METHOD_UNKNOWN": check_discharge_method_unknown,
    "VALUE_IMPLAUSIBLE": check_value_implausible,
}
RECORD_RULES = tuple(CHECKS)


def _compiled(pack) -> CompiledPack:
    if isinstance(pack, CompiledPack):
        return pack
    if isinstance(pack, Pack):
        return pack.compiled
    if hasattr(pack, "pack") and isinstance(pack.pack, Pack):  # a Grouper
        return pack.pack.compiled
    return Pack.load(pack).compiled


def _read(book: RuleBook) -> frozenset[str]:
    """The record columns the checks read, codes aside (once per rule book)."""
    return per_object("record columns", (book,), lambda: frozenset(
        (*_VALUE_COLUMNS, *book.rule("DATE_INVALID").fields, *(bound.field for bound in load_bounds()))))


def record_findings(records, pack, book: RuleBook, first_row_no: int = 1) -> pa.Table:
    """Findings of the record rules (codes, principal diagnosis, sex and age, administration).

    Parameters
    ----------
    records : pyarrow.Table, pandas.DataFrame or list of dict
        Records in the canonical schema; absent columns read as missing, code
        lists may be ``|``-joined text or list columns.
    pack : Pack, Grouper, CompiledPack, str or path-like
        The definition pack whose code map and MDC lists the rules read.
    book : RuleBook
        Rule book; disabled rules do not run.
    first_row_no : int
        ``row_no`` of the first record.

    Returns
    -------
    pyarrow.Table
        :data:`audit.findings.FINDING_SCHEMA`, sorted by ``row_no`` and, within a
        record, in the order of :data:`RECORD_RULES`.  Never raises on odd
        values: a value that cannot be read is a finding or is skipped.
    """
    table = to_arrow(records)
    if table.num_rows == 0:
        return empty_findings()
    cp = _compiled(pack)
    table = _usable(canonical_records(table))
    batch = _Batch(table, encode(table, cp), cp, first_row_no)
    parts = _checked(batch, book)
    return assemble(batch.case_id, batch.row_no, parts, order=by_row(parts, batch.row_no))


def record_parts(records: pa.Table, encoded: Encoded, pack, book: RuleBook) -> list[Part]:
    """The record rules' findings of a batch already encoded for grouping, rule by rule (:func:`assemble` makes
    them a table with the batch's case ids and row numbers).

    Parameters
    ----------
    records : pyarrow.Table
        The records as :func:`grouper.encode.encode` took them.
    encoded : grouper.encode.Encoded
        Their encoding for ``pack``: only the other columns the checks read are typed here.
    pack, book
        As for :func:`record_findings`.
    """
    if records.num_rows == 0:
        return []
    read = _read(book)
    table = canonical_records(records.select([name for name in records.column_names
                                              if name.removeprefix(UNREADABLE) in read]))
    return _checked(_Batch(table, encoded, _compiled(pack), 1), book)


def _checked(batch: "_Batch", book: RuleBook) -> list[Part]:
    return [part for rule_id, check in CHECKS.items() if book.enabled(rule_id)
            for part in check(batch, book.rule(rule_id))]


__all__ = ["ASTERISK_PATTERN", "RECORD_RULES", "record_findings", "record_parts"]
