"""Case files for the commands that read whole files of cases (validate, calibrate, indices, settle).

:func:`read_cases` reads one or more files in any input format ``drg group``
reads, maps their columns to the record schema (Chinese headers, wide
layouts, ``--columns``) through the one intake (:mod:`icd_tables.intake`), and
groups the records with the given pack.  Files that already hold grouping
results (``drg`` and ``status`` columns, as ``drg group --keep-input`` writes
them) are used as they are; raw records without a pack are grouped with the
configured default pack (:func:`icd_tables.pack.choose_pack`), or refused.

The result is one Arrow table: the record-schema columns, the grouping result
columns and every other input column under its own name (a name already taken
gets the suffix ``_input``).  Rows keep file order, files in the order given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import pyarrow as pa

from foundation.arrow_columns import plain_array
from foundation.files import ROW_WARNING, InputError
from grouper import Grouper
from icd_tables.intake.headers import read_mapping
from icd_tables.intake.reader import open_records
from icd_tables.intake.values import without_unreadable
from icd_tables.pack import Pack, choose_pack
from icd_tables.schema import REQUIRED_COLUMNS

#: Columns a file of already grouped cases must have.
GROUPED_COLUMNS = ("drg", "status")


def read_cases(
    paths: Sequence[Path] | Path,
    *,
    pack: Pack | str | None = None,
    columns: Path | None = None,
    encoding: str | None = None,
    batch_size: int = 1_000_000,
    raw: bool = False,
    code_pack: Pack | str | None = None,
    required: tuple[str, ...] | None = None,
) -> pa.Table:
    """Read case files into one table, grouping them when a pack is given.

    Parameters
    ----------
    paths : path or sequence of paths
        Input files (``.parquet``, ``.csv``, ``.xlsx``, ``.jsonl``).
    pack : Pack or str, optional
        Group the records with this pack (name or folder).  Without it the
        files must hold ``drg`` and ``status`` columns.
    columns : Path, optional
        Column mapping file (``--columns``), input header → field.
    encoding : str, optional
        Text encoding of CSV/JSON inputs; detected when not given.
    batch_size : int
        Records read and grouped at a time.
    raw : bool
        Return the records as mapped to the schema, neither grouped nor
        checked for grouping columns (for commands that group themselves).
    code_pack : Pack or str, optional
        Clean code cells of formatting to this pack's spelling (default ``pack``), noting
        each change in the ``code_formatting`` column.
    required : tuple of str, optional
        With ``raw``: the fields the caller needs (default: those grouping needs).

    Returns
    -------
    pyarrow.Table

    Raises
    ------
    InputError
        A file cannot be read, or holds no records; ``MissingColumnsError`` (an ``InputError``)
        when a column needed for grouping is missing.
    NoPackChosenError
        Raw records, no pack given and no default pack configured.
    """
    parts = [table for _, table in iter_cases(paths, pack=pack, columns=columns, encoding=encoding,
                                              batch_size=batch_size, raw=raw, code_pack=code_pack,
                                              required=required)]
    if not parts:
        raise InputError(f"{paths if isinstance(paths, (str, Path)) else paths[0]}: no records")
    return pa.concat_tables(parts, promote_options="permissive").combine_chunks()


def iter_cases(
    paths: Sequence[Path] | Path,
    *,
    pack: Pack | str | None = None,
    columns: Path | None = None,
    encoding: str | None = None,
    batch_size: int = 1_000_000,
    raw: bool = False,
    code_pack: Pack | str | None = None,
    required: tuple[str, ...] | None = None,
) -> Iterator[tuple[int, pa.Table]]:
    """Like :func:`read_cases`, one batch at a time: yields ``(row_no of its first record, table)``.

    Every file is opened and its columns checked before the first batch is read.
    ``code_pack`` (default: ``pack``) is the pack whose spelling code cells are cleaned to; ``required``
    (with ``raw``) the fields the caller needs instead of the grouping fields.
    """
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not paths:
        raise InputError("no input file given")
    mapping = read_mapping(columns) if columns else None
    files = [open_records(path, columns=mapping, encoding=encoding, required=()) for path in paths]
    if pack is None and not raw and not all(_grouped(f) for f in files):
        pack = choose_pack(None)  # raw records need grouping: the configured default, or a clear refusal
    loaded = pack if isinstance(pack, Pack) or pack is None else Pack.load(pack)
    grouper = Grouper(loaded) if loaded is not None else None
    spelling = loaded if code_pack is None else (code_pack if isinstance(code_pack, Pack) else Pack.load(code_pack))
    for record_file in files:
        if grouper is not None or raw:
            record_file.require(REQUIRED_COLUMNS if grouper is not None or required is None else required)
    row_no = 1
    for record_file in files:
        intake = record_file.intake(spelling)
        mapped = {record_file.plan.names[i] for i in record_file.plan.used_columns()} | {ROW_WARNING}
        for batch in record_file.source.batches(batch_size):
            read = intake(batch, row_no)
            records = read.records.append_column("warnings", read.warnings)
            if grouper is not None:
                results = grouper.group_arrow(without_unreadable(read.records), first_row_no=row_no)
                records = _merge(results, records.drop_columns(["case_id"]))
            yield row_no, _merge(records, batch, mapped=mapped)
            row_no += batch.num_rows


def _grouped(record_file) -> bool:
    """Whether a file holds grouping results (``drg group --keep-input`` output)."""
    return all(c in record_file.source.names for c in GROUPED_COLUMNS)


def _merge(first: pa.Table, extra: pa.Table, mapped: set[str] = frozenset()) -> pa.Table:
    """``first`` plus the columns of ``extra`` it lacks (input columns already mapped to a field are left out)."""
    out = first
    for name in extra.column_names:
        if name in mapped:
            continue
        column = plain_array(extra.column(name))
        target = name if name not in out.column_names else f"{name}_input"
        if target not in out.column_names:
            out = out.append_column(target, column)
    return out


__all__ = ["GROUPED_COLUMNS", "iter_cases", "read_cases"]
