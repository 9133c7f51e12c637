"""The decision table as a TSV file: ``table code parent mdc sort rule [name_zh result outcome]``.

One row per line, tab-separated, UTF-8, header row first, no quoting.
``table`` is ``mdc``, ``adrg`` or ``drg``; ``parent`` is the MDC of an ADRG
row and the ADRG row of a DRG row; ``mdc`` repeats the MDC the row belongs to
and is only checked.  MDC codes may be written ``MDCA`` or ``A``; they are
read as the bare letter.  Rows keep file order: ordering siblings by ``sort``
is the grouper's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from icd_tables.errors import PackFormatError
from icd_tables.rules.ir import Outcome, RuleRow
from icd_tables.rules.parser import parse_rule
from icd_tables.rules.printer import format_rule

COLUMNS = ("table", "code", "parent", "mdc", "sort", "rule", "name_zh", "result", "outcome")
REQUIRED_COLUMNS = COLUMNS[:6]
LEVELS = ("mdc", "adrg", "drg")


class RuleTableError(PackFormatError):
    """A rule table is malformed; the message names the file and line."""


def _mdc(code: str) -> str:
    """``MDCA`` → ``A``; a bare letter is kept."""
    return code[3:] if code.startswith("MDC") and len(code) > 3 else code


def _default_outcome(code: str) -> Outcome:
    if code.endswith("QY"):
        return Outcome.QY
    if re.fullmatch(r"[A-Z]00", code):
        return Outcome.UNGROUPABLE
    return Outcome.OK


def _row(cells: dict[str, str]) -> RuleRow:
    """One row from its cells; ``ValueError`` says what is wrong with it."""
    level, code, parent = cells["table"], cells["code"], cells["parent"]
    if level not in LEVELS:
        raise ValueError(f"unknown table {level!r} (expected mdc, adrg or drg)")
    if level == "mdc":
        code = _mdc(code)
    elif level == "adrg":
        parent = _mdc(parent)
    if not code:
        raise ValueError("code is empty")
    if level == "mdc" and parent:
        raise ValueError(f"mdc {code}: an MDC row has no parent, found {parent!r}")
    if level != "mdc" and not parent:
        raise ValueError(f"{level} {code}: parent is empty")
    if not re.fullmatch(r"-?[0-9]+", cells["sort"]):
        raise ValueError(f"{level} {code}: sort must be an integer, found {cells['sort']!r}")
    result, outcome = cells.get("result", ""), cells.get("outcome", "")
    if level != "adrg" and (result or outcome):
        raise ValueError(f"{level} {code}: only ADRG rows have a result or an outcome")
    if outcome not in ("", *(o.value for o in Outcome)):
        raise ValueError(f"{level} {code}: outcome must be ok, qy or ungroupable, found {outcome!r}")
    try:
        rule = parse_rule(cells["rule"])
    except ValueError as exc:
        raise ValueError(f"{level} {code}: rule: {exc}") from exc
    if outcome:
        outcome = Outcome(outcome)
    else:
        outcome = _default_outcome(code) if level == "adrg" else Outcome.OK
    return RuleRow(level, code, parent, int(cells["sort"]), rule, cells.get("name_zh", ""), result, outcome)


def read_rule_table(path: str | Path) -> list[RuleRow]:
    """Read a rule table and check that it forms an MDC → ADRG → DRG tree.

    Parameters
    ----------
    path : str or Path
        TSV file with a header naming at least the columns ``table code
        parent mdc sort rule``, optionally ``name_zh result outcome``, in any
        order.  An ADRG row without an outcome gets ``qy`` when its code ends
        in ``QY``, ``ungroupable`` when it is a letter and ``00``, else ``ok``.

    Returns
    -------
    list of RuleRow
        In file order.

    Raises
    ------
    RuleTableError
        Naming the file and line: bad header or column count, unknown table
        kind, non-integer sort, rule syntax error, duplicate code at a level
        (a DRG code may only recur under another rule row of the same ADRG),
        missing parent, or an ``mdc`` column that is not the row's MDC.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split("\t")
    problems = [f"missing column {c!r}" for c in REQUIRED_COLUMNS if c not in header]
    problems += [f"unknown column {c!r}" for c in header if c not in COLUMNS]
    problems += [f"duplicate column {c!r}" for c in set(header) if header.count(c) > 1]
    if problems:
        raise RuleTableError(f"{path}:1: header: {'; '.join(problems)}")
    rows, places = [], []
    for line_no, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        values = line.split("\t")
        if len(values) != len(header):
            raise RuleTableError(f"{path}:{line_no}: expected {len(header)} columns, found {len(values)}")
        cells = dict(zip(header, values))
        try:
            rows.append(_row(cells))
        except ValueError as exc:
            raise RuleTableError(f"{path}:{line_no}: {exc}") from exc
        places.append((line_no, _mdc(cells["mdc"])))
    _check_tree(path, rows, places)
    return rows


def _check_tree(path: Path, rows: list[RuleRow], places: list[tuple[int, str]]) -> None:
    """Unique codes, existing parents and a consistent ``mdc`` column."""
    seen: set[tuple[str, str, str]] = set()
    adrgs: dict[str, RuleRow] = {}
    drg_adrg: dict[str, str] = {}
    for row, (line_no, _) in zip(rows, places):
        key = (row.level, row.parent if row.level == "drg" else "", row.code)
        if key in seen:
            raise RuleTableError(f"{path}:{line_no}: duplicate {row.level} {row.code}")
        seen.add(key)
        if row.level == "adrg":
            adrgs[row.code] = row
    for row, (line_no, mdc) in zip(rows, places):
        where = f"{path}:{line_no}: {row.level} {row.code}"
        if row.level == "mdc":
            expected = row.code
        elif row.level == "adrg":
            if ("mdc", "", row.parent) not in seen:
                raise RuleTableError(f"{where}: its MDC {row.parent} has no mdc row")
            expected = row.parent
        else:
            adrg = adrgs.get(row.parent)
            if adrg is None:
                raise RuleTableError(f"{where}: its ADRG {row.parent} has no adrg row")
            if drg_adrg.setdefault(row.code, adrg.target) != adrg.target:
                raise RuleTableError(f"{where}: duplicate drg, already under ADRG {drg_adrg[row.code]}")
            expected = adrg.parent
        if mdc != expected:
            raise RuleTableError(f"{where}: mdc column is {mdc!r} but the row belongs to MDC {expected}")


def write_rule_table(rows: Iterable[RuleRow], path: str | Path) -> None:
    """Write ``rows`` as a rule table that :func:`read_rule_table` reads back equal.

    Parameters
    ----------
    rows : iterable of RuleRow
        Every DRG row's parent ADRG row must be among them.
    path : str or Path
        Written as UTF-8 with ``\\n`` line endings, all nine columns, MDC codes
        as bare letters, rules via :func:`format_rule`, the outcome of every
        ADRG row spelled out.

    Raises
    ------
    RuleTableError
        When a value holds a tab or a line break, or a DRG's ADRG row is missing.
    """
    rows = list(rows)
    adrg_mdc = {r.code: r.parent for r in rows if r.level == "adrg"}
    lines = ["\t".join(COLUMNS)]
    for row in rows:
        mdc = {"mdc": row.code, "adrg": row.parent}.get(row.level, adrg_mdc.get(row.parent))
        if mdc is None:
            raise RuleTableError(f"{path}: {row.level} {row.code}: its ADRG {row.parent} has no adrg row")
        outcome = row.outcome.value if row.level == "adrg" else ""
        values = (row.level, row.code, row.parent, mdc, str(row.sort), format_rule(row.rule),
                  row.name_zh, row.result, outcome)
        if any(c in v for v in values for c in "\t\r\n"):
            raise RuleTableError(f"{path}: {row.level} {row.code}: a value holds a tab or a line break")
        lines.append("\t".join(values))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
