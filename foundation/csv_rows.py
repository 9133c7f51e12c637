"""CSV rows that survive damage: one row out per row in, each damaged row named with its line number.

A CSV record normally ends at the end of its line; a quoted cell may hold line breaks, so a quote
left open would otherwise swallow every later line into one cell.  :func:`csv_rows` reads physical
lines and decides record by record:

* a line whose quotes close is one record; a quote inside an unquoted cell, or text after a
  closing quote (``ab"c``, ``"ab"c``), is a *stray quote*: the cell keeps its text (``ab"c``, ``abc``);
* a line that ends inside a quoted cell continues onto the next lines until the quote closes,
  cleanly, unless one of them reads as a whole record of its own (as many cells as the header,
  quotes in order), the quote closes on a stray one, or the cell would span more than
  :data:`MAX_CELL_LINES` lines: then the quote is
  *unclosed*, the line alone is the record (its open cell runs to the end of the line) and reading
  goes on with the next line;
* a record with more or fewer cells than the header is padded with empty cells or cut (the extra
  cells quoted in the note).

Every repair is reported in the record's note, with the line number (the header is line 1).
So rows in = rows out for any damage on rows that are not next to each other: the one case left is
a quote left open on one line that closes cleanly on a damaged next line, which reads as a cell
holding a line break (the two lines are one record to any CSV reader).
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Iterable, Iterator

#: Most lines one quoted cell may span (a longer run is taken for an unclosed quote).
MAX_CELL_LINES = 1_000


def _clean_pattern(delimiter: str) -> re.Pattern:
    d = re.escape(delimiter)
    field = f'(?:"(?:[^"]|"")*"|[^"{d}]*)'
    return re.compile(f"{field}(?:{d}{field})*", re.S)


def split_record(text: str, delimiter: str, clean: re.Pattern | None = None) -> tuple[list[str], bool, bool]:
    """The cells of one record's text (without its line terminator).

    Returns
    -------
    cells : list of str
    stray : bool
        A quote stood inside an unquoted cell or was followed by text before the delimiter.
    open : bool
        The text ended inside a quoted cell.
    """
    if '"' not in text:
        return text.split(delimiter), False, False
    if clean is not None and clean.fullmatch(text):  # well-formed: the C reader splits it
        return next(csv.reader([text], delimiter=delimiter, strict=True)), False, False
    cells, cell, stray, quoted, start = [], [], False, False, True
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quoted:
            if ch == '"':
                if i + 1 < n and text[i + 1] == '"':
                    cell.append('"')
                    i += 2
                    continue
                quoted = False
                stray = stray or (i + 1 < n and text[i + 1] != delimiter)
            else:
                cell.append(ch)
        elif ch == delimiter:
            cells.append("".join(cell))
            cell, start = [], True
        elif ch == '"' and start:
            quoted, start = True, False
        else:
            stray = stray or ch == '"'
            cell.append(ch)
            start = False
        i += 1
    cells.append("".join(cell))
    return cells, stray, quoted


def csv_rows(lines: Iterable[str], delimiter: str, width: int, first_line: int = 2
             ) -> Iterator[tuple[int, list[str], str | None]]:
    """``(line number, cells, note)`` for each record of ``lines`` (the lines after the header).

    ``cells`` always has ``width`` entries; ``note`` says what was repaired, or is None.  Empty
    lines are no records.
    """
    clean = _clean_pattern(delimiter)
    source = iter(enumerate(lines, start=first_line))
    ahead: deque[tuple[int, str]] = deque()

    def take() -> tuple[int, str] | None:
        return ahead.popleft() if ahead else next(source, None)

    while (item := take()) is not None:
        number, raw = item
        text = raw.rstrip("\r\n")
        if not text:
            continue
        cells, stray, open_ = split_record(text, delimiter, clean)
        notes = []
        if open_:
            joined, taken, closed = text, [], None
            while len(taken) < MAX_CELL_LINES and (following := take()) is not None:
                taken.append(following)
                alone = following[1].rstrip("\r\n")
                a_cells, a_stray, a_open = split_record(alone, delimiter, clean)
                if len(a_cells) == width and not a_stray and not a_open:
                    break  # a whole record of its own: the quote above was left open
                joined += "\n" + alone
                j_cells, j_stray, j_open = split_record(joined, delimiter, clean)
                if not j_open:
                    closed = None if j_stray else (j_cells, j_stray)
                    break
            if closed is not None:
                cells, stray = closed
            else:
                ahead.extendleft(reversed(taken))
                notes.append(f"第 {number} 行引号未闭合 (line {number}: unclosed quote)")
        if stray:
            notes.append(f"第 {number} 行有多余的引号 (line {number}: stray quote)")
        if len(cells) != width:
            note = (f"第 {number} 行有 {len(cells)} 个单元格，表头有 {width} 个 "
                    f"(line {number} has {len(cells)} cells, the header {width})")
            extra = [c for c in cells[width:] if c.strip()]
            if extra:
                note += f"; 多余单元格 extra cells: {'|'.join(extra)[:200]}"
            notes.append(note)
            cells = (cells + [""] * width)[:width]
        yield number, cells, "; ".join(notes) or None


__all__ = ["MAX_CELL_LINES", "csv_rows", "split_record"]
