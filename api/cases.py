"""Case files for the commands that read whole files of cases (validate, calibrate, indices, settle).

:func:`read_cases` reads one or more files in any input format ``drg group``
reads, maps their columns to the record schema (Chinese headers, wide
layouts, ``--columns``), and, given a pack, groups the records.  Without a
pack the files must already hold grouping results (``drg`` and ``status``
columns, as ``drg group --keep-input`` writes them); they are used as they are.

The result is one Arrow table: the record-schema columns, the grouping result
columns and every other input column under its own name (a name already taken
gets the suffix ``_input``).  Rows keep file order, files in the order given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import pyarrow as pa

from icd_tables.intake.headers import ColumnPlan, plan_columns, read_mapping
from foundation.files import ROW_WARNING, InputError, open_input
from api.grouping import BatchGrouper
from grouper import Grouper, RecordSchemaError
from grouper.encode import plain_array
from icd_tables.pack import Pack
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

    Returns
    -------
    pyarrow.Table

    Raises
    ------
    InputError
        A file cannot be read, or holds no records.
    RecordSchemaError
        A column needed for grouping, or ``drg``/``status`` without a pack, is missing.
    """
    parts = [table for _, table in iter_cases(paths, pack=pack, columns=columns, encoding=encoding,
                                              batch_size=batch_size, raw=raw)]
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
) -> Iterator[tuple[int, pa.Table]]:
    """Like :func:`read_cases`, one batch at a time: yields ``(row_no of its first record, table)``.

    Every file is opened and its columns checked before the first batch is read.
    """
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not paths:
        raise InputError("no input file given")
    mapping = read_mapping(columns) if columns else None
    grouper = Grouper(pack if isinstance(pack, Pack) else Pack.load(pack)) if pack is not None else None
    sources = [(path, open_input(path, encoding)) for path in paths]
    plans = [_plan(path, source, mapping, grouped=grouper is None and not raw) for path, source in sources]
    row_no = 1
    for (path, source), plan in zip(sources, plans):
        batcher = BatchGrouper(grouper, plan) if grouper is not None else None
        for batch in source.batches(batch_size):
            if ROW_WARNING in batch.column_names:
                batch = batch.drop_columns([ROW_WARNING])
            records = plan.apply(batch)
            records = records.drop_columns([c for c in records.column_names if c.startswith("__bad__")])
            if batcher is not None:
                results = batcher(batch, row_no).drop_columns(["warnings"])
                records = _merge(results, records.drop_columns(["case_id"]))
            yield row_no, _merge(records, batch, mapped={plan.names[i] for i in plan.used_columns()})
            row_no += batch.num_rows


def _plan(path: Path, source, mapping, *, grouped: bool) -> ColumnPlan:
    """The column plan of one file, after checking it has what the caller needs."""
    plan = plan_columns(source.names, mapping)
    if grouped:
        absent = [c for c in GROUPED_COLUMNS if c not in source.names]
        if absent:
            raise RecordSchemaError(
                f"{path}: not grouped cases (no {', '.join(absent)} column); "
                "give --pack to group raw records, or group them first with 'drg group --keep-input'"
            )
    else:
        missing = plan.missing(REQUIRED_COLUMNS)
        if missing:
            raise RecordSchemaError(f"{path}: no column found for {', '.join(missing)}; "
                                    f"columns found: {', '.join(source.names[:40]) or 'none'}")
    return plan


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
