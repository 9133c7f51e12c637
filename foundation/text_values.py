"""Values from text columns, vectorised over Arrow arrays: whole numbers, money amounts, dates.

Each parser takes a column of any Arrow type (text as exported, or already typed
by a Parquet writer or a spreadsheet) and returns the typed column and the text
of the values it could not read (``None`` when every value was read, else a
string array that is null where the value was read or empty).  Empty cells are
missing values, never errors.

Forms accepted, as hospital and payer exports write them:

* **whole numbers**: ``12``, ``+12``, ``-3``, ``12.0``, ``3,200``, full-width
  digits, and a unit the caller names (``65岁``, ``3200克``);
* **amounts**: ``87953.43``, ``87,953.43``, ``¥87,953.43``, ``￥87953.43``,
  ``87953.43元``, full-width digits; more than two decimals are rounded to the
  fen half to even (the one rounding rule of money read from text);
* **dates**: ``2024-03-11``, ``2024/03/11``, ``2024/3/11``, ``2024.03.11``,
  ``20240311``, ``2024年3月11日``, each optionally followed by a time
  (``2024-03-11 08:30:00``, ``20240311083000``), and Excel serial day numbers
  (``45362``) where the caller says the column came from a spreadsheet.
  Day-first or month-first forms (``03/11/2024``) are refused as ambiguous.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from foundation.arrow_columns import as_text, cast, plain_array, text_codes
from foundation.remembered import per_text

#: Money columns: exact decimals with two places (元, to the fen).
MONEY_TYPE = pa.decimal128(18, 2)
#: Amounts of this many 元 or more are no stay's: unreadable (a column of ``MONEY_TYPE`` could hold 100 times more).
MONEY_LIMIT = 10 ** 15
#: The largest whole number read: beyond it a value is not a count of anything in a stay.
INTEGER_DIGITS = 18
_NULL_TEXT = pa.scalar(None, pa.string())
#: Excel's day 0 for serial dates (1900 date system, with its 1900 leap-year quirk absorbed).
_EXCEL_EPOCH_DAYS = -25569  # 1899-12-30 as days since 1970-01-01

_DATE_FORMS = (
    r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?:$|[ T])",
    r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日",
    r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:$|[ T]|\d{4}$|\d{6}$)",
)
#: Day/month first with the year last: the order cannot be told (03/11/2024 is 3 Nov or 11 Mar).
AMBIGUOUS_DATE = r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}(?:$|[ T])"


def _cleaned(column: pa.Array) -> pa.Array:
    """Text of ``column`` with full-width characters folded (NFKC) and surrounding spaces removed."""
    text = as_text(plain_array(column))
    if not pc.all(pc.fill_null(pc.string_is_ascii(text), True)).as_py():
        text = pc.utf8_normalize(text, "NFKC")
    return pc.utf8_trim_whitespace(text)


def _bad(mask: pa.Array, written: pa.Array) -> pa.Array | None:
    """The text of ``written`` where ``mask`` holds, null elsewhere; None when it never holds (and ``written`` is
    then not written out as text)."""
    mask = pc.fill_null(mask, False)
    return pc.if_else(mask, as_text(written), _NULL_TEXT) if pc.any(mask).as_py() else None


def _plain_cast(text: pa.Array, to: pa.DataType, plain: str) -> pa.Array | None:
    """``text`` cast to ``to`` when every non-empty cell matches ``plain`` (``65``, ``87953.43``): the
    common case of a clean export, read with one pattern instead of the general path; None otherwise."""
    if not _is_text(text):
        return None
    blank = pc.equal(text, "")
    if not pc.all(pc.or_kleene(blank, pc.match_substring_regex(text, plain))).as_py():
        return None
    if pc.any(blank).as_py():
        text = pc.if_else(blank, _NULL_TEXT, text)
    return pc.cast(text, to)


def _is_text(column: pa.Array) -> bool:
    return pa.types.is_string(column.type) or pa.types.is_large_string(column.type)


def parse_integers(column: pa.Array, unit: str = "", words: dict[str, int] | None = None
                   ) -> tuple[pa.Array, pa.Array | None]:
    """Whole numbers (int64) of a column; unreadable text is returned apart.

    Parameters
    ----------
    column : pyarrow.Array
    unit : str
        Regular-expression alternatives of a unit allowed after the number (``"岁"``, ``"克|g"``).
    words : dict, optional
        Words standing for numbers (``{"男": 1, "女": 2}``).

    Returns
    -------
    values : pyarrow.Array of int64
    unreadable : pyarrow.Array of string or None
    """
    column = plain_array(column)
    if pa.types.is_integer(column.type) or pa.types.is_boolean(column.type) or pa.types.is_null(column.type):
        return cast(column, pa.int64()), None
    if pa.types.is_floating(column.type) or pa.types.is_decimal(column.type):
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 10.0 ** INTEGER_DIGITS)
        present = column.is_valid().to_numpy(zero_copy_only=False)
        ints = pa.array(np.where(whole, values, 0).astype(np.int64), mask=~(whole & present))
        return ints, _bad(pa.array(present & ~whole), column)
    plain = _plain_cast(column, pa.int64(), rf"^-?\d{{1,{INTEGER_DIGITS}}}$")
    if plain is not None:
        return plain, None
    text = _cleaned(column)
    for word, code in (words or {}).items():
        text = pc.if_else(pc.fill_null(pc.equal(text, word), False), str(code), text)
    if unit:
        text = pc.replace_substring_regex(text, rf"^([+-]?[\d,]+(?:\.0*)?)\s*(?:{unit})$", r"\1")
    text = pc.replace_substring_regex(text, r"^([+-]?[\d,]+)\.0*$", r"\1")
    if pc.any(pc.fill_null(pc.match_substring(text, ","), False)).as_py():  # thousands separators: 3,200
        grouped = pc.fill_null(pc.match_substring_regex(text, r"^[+-]?\d{1,3}(?:,\d{3})+$"), False)
        text = pc.if_else(grouped, pc.replace_substring(text, ",", ""), text)
    blank = pc.fill_null(pc.equal(text, ""), True)
    digits = pc.fill_null(pc.match_substring_regex(text, rf"^[+-]?\d{{1,{INTEGER_DIGITS}}}$"), False)
    unsigned = pc.replace_substring_regex(text, r"^\+", "")  # Arrow's cast reads "-3" but not "+3"
    values = pc.if_else(digits, unsigned, _NULL_TEXT).cast(pa.int64())
    return values, _bad(pc.and_(pc.invert(blank), pc.invert(digits)), text)


#: The written forms of a number: a currency sign or unit around it, thousands separators, the number.
CURRENCY = r"^[¥]\s*|\s*元$"
GROUPED = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$"
NUMBER = r"^[+-]?(?:\d{1,16}(?:\.\d*)?|\.\d+)$"


def _number_text(column: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Cleaned text, the text a number is read from (currency sign, unit and separators removed), and a
    mask of the cells holding a number."""
    written = _cleaned(column)
    text = pc.replace_substring_regex(written, CURRENCY, "")
    if pc.any(pc.fill_null(pc.match_substring(text, ","), False)).as_py():
        grouped = pc.fill_null(pc.match_substring_regex(text, GROUPED), False)
        text = pc.if_else(grouped, pc.replace_substring(text, ",", ""), text)
    number = pc.fill_null(pc.match_substring_regex(text, NUMBER), False)
    return written, pc.replace_substring_regex(text, r"^\+", ""), number


def parse_numbers(column: pa.Array) -> np.ndarray:
    """Float64 values of a numeric or text column (text in the forms of :func:`parse_amounts`, any
    number of decimals); NaN where missing or not a number.  For figures that are not money
    (relative weights, counts read as measures)."""
    column = plain_array(column)
    if pa.types.is_null(column.type):
        return np.full(len(column), np.nan)
    if _is_text(column):
        _, text, number = _number_text(column)
        column = pc.if_else(number, text, _NULL_TEXT)
    elif not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
              or pa.types.is_decimal(column.type) or pa.types.is_boolean(column.type)):
        raise TypeError(f"column of type {column.type} is not numeric")
    values = pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False)  # beyond 2**53: nearest
    return np.asarray(values, dtype=np.float64)


def parse_amounts(column: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """Money amounts as exact ``decimal128(18, 2)`` (元 to the fen); unreadable text is returned apart.

    Returns
    -------
    values : pyarrow.Array of decimal128(18, 2)
    unreadable : pyarrow.Array of string or None
    """
    column = plain_array(column)
    if pa.types.is_decimal(column.type):
        if column.type.scale <= 2:
            return _fit_money(column.cast(pa.decimal128(38, column.type.scale)), column)
        return _fit_money(pc.round(column, 2), column)
    if pa.types.is_integer(column.type) or pa.types.is_null(column.type):
        return _fit_money(column.cast(pa.decimal128(38, 2)), column) if not pa.types.is_null(
            column.type) else (column.cast(MONEY_TYPE), None)
    if pa.types.is_floating(column.type):
        values = column.to_numpy(zero_copy_only=False)
        finite = np.isfinite(values) & (np.abs(values) < 1e15)
        fen = np.rint(np.where(finite, values, 0) * 100).astype(np.int64)
        from foundation.decimals import decimal_array

        present = column.is_valid().to_numpy(zero_copy_only=False)
        bad = present & ~finite
        return decimal_array(fen, 2, valid=present & finite), _bad(pa.array(bad), column) if bad.any() else None
    plain = _plain_cast(column, pa.decimal128(38, 2), r"^-?\d{1,16}(?:\.\d{0,2})?$")
    if plain is not None:
        return _fit_money(plain, column)
    written, text, number = _number_text(column)
    blank = pc.fill_null(pc.equal(text, ""), True)
    # more than 10 decimals is no amount anyone wrote (and would not fit the exact cast below): unreadable
    number = pc.and_(number, pc.invert(pc.fill_null(pc.match_substring_regex(text, r"\.\d{11,}$"), False)))
    exact = pc.if_else(number, text, _NULL_TEXT)
    values = pc.round(exact.cast(pa.decimal128(38, 10)), 2)
    return _fit_money(values, written, pc.and_(pc.invert(blank), pc.invert(number)))


def _fit_money(values: pa.Array, written: pa.Array, unreadable: pa.Array | None = None):
    """``values`` as :data:`MONEY_TYPE`; amounts too large for it join the unreadable ones (``written``: the column
    they were read from)."""
    limit = pa.scalar(MONEY_LIMIT, pa.decimal128(38, 0)).cast(values.type)
    too_large = pc.fill_null(pc.greater_equal(pc.abs(values), limit), False)
    bad = too_large if unreadable is None else pc.or_(too_large, unreadable)
    values = pc.if_else(too_large, pa.scalar(None, values.type), values)
    return values.cast(MONEY_TYPE), _bad(bad, written)


def money_read(column: pa.Array) -> bool:
    """Whether :func:`parse_amounts` would return ``column`` as it is: ``MONEY_TYPE``, every amount in range."""
    if column.type != MONEY_TYPE:
        return False
    low, high = (value.as_py() for value in pc.min_max(column).values())
    return (low is None or low > -MONEY_LIMIT) and (high is None or high < MONEY_LIMIT)


def parse_dates(column: pa.Array, excel_serials: bool = False) -> tuple[pa.Array, pa.Array | None]:
    """Dates (``date32``) of a column; unreadable or ambiguous text is returned apart.

    Parameters
    ----------
    column : pyarrow.Array
    excel_serials : bool
        Read a plain day number (``45362``) as an Excel serial date (columns read from XLSX).

    Returns
    -------
    values : pyarrow.Array of date32
    unreadable : pyarrow.Array of string or None
    """
    column = plain_array(column)
    if pa.types.is_date(column.type):
        return cast(column, pa.date32()), None
    if pa.types.is_timestamp(column.type):
        local = column.cast(pa.timestamp(column.type.unit)) if column.type.tz is None else pc.local_timestamp(column)
        return local.cast(pa.date32()), None
    if pa.types.is_null(column.type):
        return column.cast(pa.date32()), None
    index, cells = text_codes(as_text(column))
    days, valid, unreadable = _remembered_cells(cells, excel_serials)
    ok = valid[index]
    values = pa.array(days[index].astype(np.int32), type=pa.date32(), mask=None if ok.all() else ~ok)
    if all(text is None for text in unreadable):
        return values, None
    return values, pa.array(unreadable, pa.string()).take(pa.array(index))


def _remembered_cells(cells: list[str], excel_serials: bool) -> tuple[np.ndarray, np.ndarray, list]:
    """Per distinct cell text (as written): its day, whether it is a date, and its cleaned text where it is written
    but unreadable (null elsewhere); each text read once in the process (the reading is cell by cell)."""
    def read(new: list) -> list:
        cleaned = _cleaned(pa.array(new, pa.string()))
        days, valid = _parse_distinct_dates(cleaned, excel_serials)
        bad = pc.not_equal(cleaned, "").to_numpy(zero_copy_only=False) & ~valid
        return [(day, ok, text if unreadable else None)
                for day, ok, unreadable, text in zip(days.tolist(), valid.tolist(), bad.tolist(), cleaned.to_pylist())]

    answers = per_text(cells, ("date cells", excel_serials), read)
    return (np.array([a[0] for a in answers], dtype=np.int64).reshape(-1),
            np.array([a[1] for a in answers], dtype=bool).reshape(-1), [a[2] for a in answers])


def _parse_distinct_dates(text: pa.Array, excel_serials: bool) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 and validity of distinct date texts; a day the month lacks is invalid."""
    parts = None
    for pattern in _DATE_FORMS:
        found = pc.extract_regex(text, pattern)
        parts = found if parts is None else pc.if_else(found.is_valid(), found, parts)
    canonical = pc.binary_join_element_wise(
        pc.struct_field(parts, "y"), pc.utf8_lpad(pc.struct_field(parts, "m"), 2, "0"),
        pc.utf8_lpad(pc.struct_field(parts, "d"), 2, "0"), "-")
    parsed = pc.strptime(canonical, format="%Y-%m-%d", unit="s", error_is_null=True)
    # Arrow rolls 2024-02-30 over to 1 March: keep only dates that print back as written
    valid = pc.fill_null(pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), canonical), False).to_numpy(
        zero_copy_only=False).copy()
    days = np.zeros(len(text), dtype=np.int64)
    days[valid] = parsed.filter(pa.array(valid)).cast(pa.date32()).cast(pa.int32()).to_numpy(zero_copy_only=False)
    if excel_serials:
        serial = pc.fill_null(pc.match_substring_regex(text, r"^\d{4,5}(?:\.\d+)?$"), False).to_numpy(
            zero_copy_only=False) & ~valid
        if serial.any():
            numbers = pc.cast(pc.filter(text, pa.array(serial)), pa.float64()).to_numpy(zero_copy_only=False)
            days[serial] = np.floor(numbers).astype(np.int64) + _EXCEL_EPOCH_DAYS
            valid |= serial
    return days, valid


def exact_decimal(text) -> Decimal:
    """One number written in a settings or table cell (text, int or Decimal) as an exact :class:`Decimal`.

    The forms of :func:`parse_amounts` (``87,953.43``, ``￥87953.43``, ``87953.43元``, full-width
    digits), any number of decimals, nothing rounded.

    Raises
    ------
    ValueError
        Not a finite number.
    """
    if isinstance(text, Decimal):
        if not text.is_finite():
            raise ValueError(f"{text!r} is not a finite number")
        return text
    if isinstance(text, int) and not isinstance(text, bool):
        return Decimal(text)
    # the patterns of the column readers, applied to one value with Python's re (same syntax, no Arrow call)
    cleaned = re.sub(CURRENCY, "", unicodedata.normalize("NFKC", str(text)).strip())
    if re.match(GROUPED, cleaned, re.ASCII):
        cleaned = cleaned.replace(",", "")
    if not re.match(NUMBER, cleaned, re.ASCII):
        raise ValueError(f"{text!r} is not a number")
    return Decimal(cleaned.lstrip("+"))


def year_month(dates: pa.Array) -> np.ndarray:
    """``YYYYMM`` of each date (int64), 0 where missing."""
    dates = plain_array(dates)
    valid = dates.is_valid().to_numpy(zero_copy_only=False)
    filled = pc.fill_null(dates.cast(pa.date32()), pa.scalar(0, pa.date32()))
    months = (pc.year(filled).to_numpy(zero_copy_only=False).astype(np.int64) * 100
              + pc.month(filled).to_numpy(zero_copy_only=False).astype(np.int64))
    return np.where(valid, months, 0)


def day_numbers(dates: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 (int64) and validity of a date column."""
    dates = cast(plain_array(dates), pa.date32())
    days = dates.cast(pa.int32())
    if not days.null_count:
        return days.to_numpy().astype(np.int64), np.ones(len(days), dtype=bool)
    valid = dates.is_valid().to_numpy(zero_copy_only=False)
    return pc.fill_null(days, 0).to_numpy(zero_copy_only=False).astype(np.int64), valid


def is_ambiguous_date(text: pa.Array) -> pa.Array:
    """Whether each text is a date with the year last (``03/11/2024``), whose day/month order is unknown."""
    return pc.fill_null(pc.match_substring_regex(_cleaned(text), AMBIGUOUS_DATE), False)


__all__ = ["AMBIGUOUS_DATE", "INTEGER_DIGITS", "MONEY_LIMIT", "MONEY_TYPE", "day_numbers", "exact_decimal",
           "is_ambiguous_date", "money_read", "parse_amounts", "parse_numbers", "parse_dates", "parse_integers",
           "year_month"]
