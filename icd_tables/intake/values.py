"""Canonical types of the record columns, and the one wording of a value that cannot be read.

:func:`canonical_records` converts every record-schema column present in a table
to its canonical type (:mod:`icd_tables.schema`): text and code lists as
``string``, whole-number fields as ``int64``, dates as ``date32``, money as exact
``decimal128(18, 2)``.  It is idempotent, so each capability may call it on
whatever it is given (a file read by the intake, a pandas frame built in Python)
and a value means the same thing everywhere.  A value that cannot be read
becomes null, and its text is kept in the column ``UNREADABLE + field`` (only
present in a batch that had one), from which :func:`unreadable_messages` words
the warning every command shows.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from foundation.arrow_columns import as_text, plain_array
from foundation.text_values import (MONEY_TYPE, is_ambiguous_date, money_read, parse_amounts, parse_dates,
                                    parse_integers)
from icd_tables.schema import COLUMNS, SEX_WORDS

#: Prefix of the column that keeps the text of a field's unreadable values.
UNREADABLE = "__unreadable__"
#: Units that may follow the number of a whole-number field (regular-expression alternatives).
UNITS = {"age_years": "岁|周岁", "age_days": "天", "birth_weight_g": "克|g|G", "admission_weight_g": "克|g|G",
         "los_days": "天|日", "icu_hours": "小时|h|H"}
KINDS = {c.name: c.kind for c in COLUMNS}
#: The Arrow type of each kind of field once read.
READ_TYPES = {"text": pa.string(), "codes": pa.string(), "int": pa.int64(), "date": pa.date32(), "money": MONEY_TYPE}
#: Chinese field names as messages use them (without the unit: 年龄, 总费用).
ZH_NAMES = {c.name: re.sub(r"（[^）]*）$", "", c.name_zh) for c in COLUMNS}
_EXPECTED = {
    "int": "整数 (a whole number)",
    "date": "日期 (a date such as 2024-03-11)",
    "money": "金额 (an amount such as 87953.43)",
}


#: A duration as the 医保结算清单 gives 重症监护合计时长: "2天3小时15分钟" (any part may be left out) or "2/3/15".
_DURATION = re.compile(r"^(?:(\d+)天)?(?:(\d+)(?:小时|时))?(?:(\d+)分钟?)?$")
_SLASHED = re.compile(r"^(\d+)/(\d+)/(\d+)$")


def duration_hours(column: pa.Array) -> pa.Array:
    """Text durations in days/hours/minutes as whole hours, as text; other cells unchanged.

    Minutes are rounded down to the hour (only completed hours count): ``2天3小时59分钟`` is 51.
    """
    column = plain_array(column)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    converted = {}
    for text in pc.unique(column).to_pylist():
        if text is None:
            continue
        key = re.sub(r"\s+", "", text)
        match = _SLASHED.match(key) or (_DURATION.match(key) if re.search(r"天|分", key) else None)
        if match:
            days, hours, minutes = (int(g or 0) for g in match.groups())
            converted[text] = str(days * 24 + hours + minutes // 60)
    if not converted:
        return column
    return pa.array([converted.get(v, v) for v in column.to_pylist()], pa.string())


def canonical_records(table: pa.Table, *, excel_serials: bool = False) -> pa.Table:
    """``table`` with its record-schema columns in their canonical types (other columns untouched).

    Parameters
    ----------
    table : pyarrow.Table
    excel_serials : bool
        Read plain day numbers in date columns as Excel serial dates (tables read from XLSX).

    Returns
    -------
    pyarrow.Table
        Same rows and column order; a column ``UNREADABLE + field`` follows for each field
        that had values which could not be read (their text; null elsewhere).
    """
    names = table.column_names  # Arrow builds this list afresh on each access: read it once
    if not any(name in KINDS for name in names) or _read_already(table):
        return table
    present = set(names)
    fields, columns = [], []
    for index, name in enumerate(names):
        column, kind = table.column(index), KINDS.get(name)
        if kind is None:
            fields.append(table.schema.field(index))
            columns.append(column)
            continue
        column = plain_array(column)
        unreadable = None
        if kind in ("text", "codes"):
            converted = as_text(column)
        elif kind == "int":
            if name == "icu_hours":
                column = duration_hours(column)
            converted, unreadable = parse_integers(column, UNITS.get(name, ""), SEX_WORDS if name == "sex" else None)
        elif kind == "date":
            converted, unreadable = parse_dates(column, excel_serials)
        else:
            converted, unreadable = parse_amounts(column)
        fields.append(pa.field(name, converted.type))
        columns.append(converted)
        marker = UNREADABLE + name
        if unreadable is not None and marker not in present:  # converted before: its unreadable values are listed
            fields.append(pa.field(marker, unreadable.type))
            columns.append(unreadable)
    # one new table, not one per converted column
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=table.schema.metadata))


def _read_already(table: pa.Table) -> bool:
    """Whether reading ``table`` would change nothing (a table read before, handed on to the next capability): every
    field of its read type in one piece, every amount in range.  For one record, the reading's fixed costs are most
    of the work of what follows it."""
    kinds = {k: KINDS[field.name] for k, field in enumerate(table.schema) if field.name in KINDS}
    if any(table.field(k).type != READ_TYPES[kind] or table.column(k).num_chunks > 1 for k, kind in kinds.items()):
        return False
    return all(money_read(plain_array(table.column(k))) for k, kind in kinds.items() if kind == "money")


def unreadable_fields(table: pa.Table) -> dict[str, pa.Array]:
    """Field → text of its unreadable values (null where the value was read), for the fields that have any."""
    return {name[len(UNREADABLE):]: plain_array(table.column(name))
            for name in table.column_names if name.startswith(UNREADABLE)}


def without_unreadable(table: pa.Table) -> pa.Table:
    """``table`` without the ``UNREADABLE`` columns."""
    return table.drop_columns([c for c in table.column_names if c.startswith(UNREADABLE)])


def unreadable_message(name: str, text: pa.Array) -> pa.Array:
    """The warning of each unreadable value of field ``name`` (null where ``text`` is null).

    ``年龄 age_years 应为整数 (a whole number)，而不是 'abc'``; an ambiguous date says so:
    ``出院日期 discharge_date 日、月顺序不明确 (ambiguous day/month order)：'03/11/2024'，请写成 2024-03-11``.
    """
    zh = ZH_NAMES.get(name, name)
    expected = "1、2、男或女 (1, 2, 男 or 女)" if name == "sex" else _EXPECTED[KINDS[name]]
    plain = pc.binary_join_element_wise(f"{zh} {name} 应为{expected}，而不是 '", text, "'", "")
    if KINDS[name] != "date":
        return plain
    ambiguous = pc.binary_join_element_wise(
        f"{zh} {name} 日、月顺序不明确 (ambiguous day/month order)：'", text, "'，请写成 YYYY-MM-DD", "")
    return pc.if_else(is_ambiguous_date(text), ambiguous, plain)


def unreadable_summary(name: str) -> str:
    """The one-line count label of a field's unreadable values (``年龄 age_years: 不是整数``)."""
    expected = "1、2、男或女" if name == "sex" else _EXPECTED[KINDS[name]].split(" ")[0]
    return f"{ZH_NAMES.get(name, name)} {name}: 不是{expected}"


__all__ = ["KINDS", "UNREADABLE", "UNITS", "canonical_records", "unreadable_fields", "unreadable_message",
           "unreadable_summary", "without_unreadable"]
