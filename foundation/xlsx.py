"""Excel workbooks for people: Chinese headers, named sheets, frozen header, filter, widths, money formats.

A table written here reads back to the same table (:class:`foundation.files.XlsxSource`):

* each data sheet's first row holds the headers people read (``labels``: field → header, e.g.
  ``case_id`` → ``病案号``; a field without a label keeps its name);
* a hidden sheet :data:`FIELDS_SHEET` lists, in column order, each ``field`` (the machine name) with
  its ``header``, so a reader gives the columns their field names back;
* a table with more rows than a sheet holds (:data:`SHEET_ROWS`) goes to sheets ``NAME 1``,
  ``NAME 2`` … only when asked (``split``); otherwise it is refused before anything is written.

The writer is rustpy-xlsxwriter (Rust, reading Arrow columns without copies; constant memory), about
five times faster than a Python writer: 1,000,000 findings in a few seconds.  Text cells are always
text (a leading ``=`` never becomes a formula) and characters XML cannot hold are dropped; whole
numbers, decimals and floats are numbers, amounts of 2 decimals shown as ``#,##0.00``.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

#: Rows of data a sheet holds (1,048,576 rows less the header).
SHEET_ROWS = 1_048_575
#: The hidden sheet that maps headers back to field names.
FIELDS_SHEET = "_fields"
#: Widest and narrowest column, in characters.
MAX_WIDTH, MIN_WIDTH = 60, 6
#: Characters XML 1.0 cannot hold (control characters other than tab, newline, carriage return).
_XML_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]"
#: Line ends a cell holds as newline (the writer would store a carriage return as the literal ``_x000D_``).
_CARRIAGE_RETURN = r"\r\n?"
#: Either of them (one scan finds the text that holds neither).
_TO_CLEAN = r"[\x00-\x08\x0b-\x1f\x{FFFE}\x{FFFF}]"


class SheetLimitError(ValueError):
    """A table longer than a sheet, written without ``split``."""


def sheet_title(text: str) -> str:
    """``text`` as an Excel sheet name: none of ``[]:*?/\\``, at most 31 characters."""
    return "".join("_" if c in "[]:*?/\\" else c for c in text)[:31] or "sheet"


def _display_width(text: str) -> int:
    """Columns a text takes: a CJK character counts two."""
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _cell_column(column: pa.ChunkedArray, clean: bool = False) -> tuple[pa.ChunkedArray, str | None]:
    """A column as Excel takes it, with its number format: text cleaned (unless known ``clean``: holding no
    character to drop or change), decimals as numbers."""
    t = column.type
    if pa.types.is_dictionary(t):
        column, t = column.cast(t.value_type), t.value_type
    if pa.types.is_decimal(t):
        places = t.scale
        number = "#,##0." + "0" * places if places == 2 else ("0." + "0" * places if places > 0 else "0")
        # through the decimal text: the nearest double (Arrow's direct cast is not correctly rounded)
        return column.cast(pa.string()).cast(pa.float64()), number
    if pa.types.is_timestamp(t) and t.tz is not None:
        return column.cast(pa.timestamp(t.unit)), None
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        column, t = column.cast(pa.string(), safe=False), pa.string()
    if pa.types.is_nested(t) or pa.types.is_null(t):
        from foundation.files import _cell_text  # the one text form of a nested cell

        values = [None if v is None else _cell_text(v) for v in column.to_pylist()]
        return pa.chunked_array([pa.array(values, pa.string())]), None
    if _is_text(t) and not clean:
        column = _clean(column)
    return column, None


def _clean(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text without the characters XML cannot hold, line ends as newline: ``column`` itself when it has neither."""
    if not pc.any(pc.match_substring_regex(column, _TO_CLEAN)).as_py():
        return column
    if pc.any(pc.match_substring_regex(column, _XML_ILLEGAL)).as_py():
        column = pc.replace_substring_regex(column, _XML_ILLEGAL, "")
    if pc.any(pc.match_substring(column, "\r")).as_py():
        column = pc.replace_substring_regex(column, _CARRIAGE_RETURN, "\n")
    return column


def _width(header: str, column: pa.ChunkedArray) -> float:
    """A sensible width: the header's, or the longest of the first 1,000 values, within bounds."""
    sample = column.slice(0, 1000)
    longest = 0
    if _is_text(sample.type):
        longest = max((_display_width(v) for v in sample.to_pylist() if v), default=0)
    elif pa.types.is_floating(sample.type):
        longest = 14
    elif pa.types.is_integer(sample.type):
        longest = 10
    elif pa.types.is_temporal(sample.type):
        longest = 19
    return float(min(MAX_WIDTH, max(MIN_WIDTH, _display_width(header), longest) + 2))


def write_xlsx(table: pa.Table, path: str | os.PathLike, *, sheet: str = "数据 data",
               labels: dict[str, str] | None = None, split: bool = False,
               progress: Callable[[int, int], None] | None = None) -> Path:
    """Write ``table`` to a workbook people can use and machines can read back.

    Parameters
    ----------
    table : pyarrow.Table
    path : path-like
        The ``.xlsx`` file (written in place: callers write to a temporary name).
    sheet : str
        Name of the data sheet (``NAME 1``, ``NAME 2`` … when split).
    labels : dict, optional
        Field → the header people read; the hidden sheet :data:`FIELDS_SHEET` keeps the fields.
    split : bool
        More rows than :data:`SHEET_ROWS` go to further sheets; without it they are refused.
    progress : callable, optional
        Called with the rows handed to the writer so far and the rows in all, as it takes them.

    Raises
    ------
    SheetLimitError
        More rows than a sheet holds, without ``split``.
    """
    import rustpy_xlsxwriter as xw

    if table.num_rows > SHEET_ROWS and not split:
        raise SheetLimitError(f"an XLSX sheet holds at most {SHEET_ROWS:,} records; give --xlsx-split to write "
                              f"{table.num_rows:,} across sheets, or write .parquet or .csv")
    labels = labels or {}
    headers, used = [], set()
    for name in table.column_names:
        header = labels.get(name) or name
        header = header if header not in used else f"{header} {name}"
        used.add(header)
        headers.append(header)
    columns, formats, widths = [], {}, {}
    for header, column in zip(headers, table.columns):
        column, number = _cell_column(column)
        columns.append(column)
        widths[header] = _width(header, column)
        if number:
            formats[header] = xw.Format().set_num_format(number)
    data = pa.table(columns, names=headers)
    n_sheets = max(1, -(-data.num_rows // SHEET_ROWS))
    names = [sheet_title(sheet)] if n_sheets == 1 else [sheet_title(f"{sheet[:26]} {k + 1}") for k in range(n_sheets)]
    done = [0]

    def stream(part: pa.Table) -> pa.RecordBatchReader:
        def batches():
            for batch in part.to_batches(max_chunksize=65_536):
                yield batch
                done[0] += batch.num_rows
                if progress:
                    progress(done[0], data.num_rows)
        return pa.RecordBatchReader.from_batches(part.schema, batches())

    entries = [(name, stream(data.slice(k * SHEET_ROWS, SHEET_ROWS))) for k, name in enumerate(names)]
    entries.append((FIELDS_SHEET, pa.table({"field": table.column_names, "header": headers})))
    return _write(entries, path, {name: widths for name in names},
                  {name: formats for name in names} if formats else None, hidden=FIELDS_SHEET)


def write_sheets(sheets: list[tuple[str, pa.Table]], path: str | os.PathLike, *,
                 widths: dict[str, float] | None = None) -> Path:
    """Write several tables, one sheet each (names as given, headers their column names), for people only.

    Parameters
    ----------
    sheets : list of (str, pyarrow.Table)
        Sheet name (already a valid, unique Excel name) and its table, in order.
    path : path-like
        The ``.xlsx`` file (written in place: callers write to a temporary name).
    widths : dict, optional
        Column header → width, on every sheet that has that column; other columns get a width from their values.
    """
    entries, all_widths = [], {}
    clean = _clean_text([table for _, table in sheets])
    for name, table in sheets:
        columns = [_cell_column(column, (header, column.type) in clean)[0]
                   for header, column in zip(table.column_names, table.columns)]
        all_widths[name] = {header: (widths or {}).get(header) or _width(header, column)
                            for header, column in zip(table.column_names, columns)}
        entries.append((name, pa.table(columns, names=table.column_names)))
    return _write(entries, path, all_widths, None)


def _clean_text(tables: list[pa.Table]) -> set[tuple[str, pa.DataType]]:
    """The text columns (header, type) that hold no character to drop or change on any of ``tables``: one scan
    of each over all the tables (a thousand department sheets cost one scan, not a thousand)."""
    chunks: dict[tuple[str, pa.DataType], list[pa.Array]] = {}
    for table in tables:
        for header, column in zip(table.column_names, table.columns):
            if _is_text(column.type):
                chunks.setdefault((header, column.type), []).extend(column.chunks)
    columns = {key: pa.chunked_array(parts, key[1]) for key, parts in chunks.items()}
    return {key for key, column in columns.items() if _clean(column) is column}


def _write(entries: list, path, widths: dict, formats: dict | None, hidden: str | None = None) -> Path:
    """``entries`` (sheet name, table or batch reader) to ``path``: every sheet but ``hidden`` gets a frozen,
    bold header row and a filter."""
    import rustpy_xlsxwriter as xw

    names = [name for name, _ in entries if name != hidden]
    header_format = xw.Format().set_bold().set_background_color("#DDEBF7").set_border("thin").set_text_wrap()
    try:
        xw.write_worksheets(
            entries, str(path),
            freeze_panes={name: {"row": 1, "col": 0} for name in names},
            autofilter={name: True for name in names},
            column_widths=widths,
            column_formats=formats,
            header_format={name: header_format for name in names},
            sheet_view={hidden: {"hidden": True}} if hidden else None,
            datetime_format="yyyy-mm-dd hh:mm:ss",
        )
    except BaseException as exc:  # the Rust writer panics on an I/O error (pyo3's PanicException is a BaseException)
        if type(exc).__name__ != "PanicException":
            raise
        code = re.search(r"code: (\d+)", str(exc))
        raise OSError(int(code.group(1)) if code else errno.EIO,
                      f"cannot write {Path(path).name}: {str(exc).splitlines()[0]}") from None
    return Path(path)


__all__ = ["FIELDS_SHEET", "SHEET_ROWS", "SheetLimitError", "sheet_title", "write_sheets", "write_xlsx"]
