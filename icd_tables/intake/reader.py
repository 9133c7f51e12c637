"""The one record intake: a file, or a table, → canonical record columns and one warning list per row.

Every command and service route reads records through :class:`RecordIntake`, so
a row means the same thing everywhere:

1. the input header is mapped to the record schema (:mod:`icd_tables.intake.headers`:
   Chinese aliases, wide numbered layouts, a ``--columns`` mapping);
2. values take their canonical types (:mod:`icd_tables.intake.values`: whole
   numbers, dates in the forms exports use, amounts with separators and ``¥``);
3. given a pack, code cells are cleaned of formatting (:mod:`icd_tables.intake.codes`)
   and each change is noted in the column :data:`FORMATTING`;
4. each row gets one ``warnings`` text: a row the file reader repaired, values
   that could not be read, values outside their plausible range
   (:mod:`icd_tables.intake.bounds`), a duplicate or empty case id.

Rows keep their order; one canonical row per input row.
"""

from __future__ import annotations

import collections
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from foundation.arrow_columns import plain_array
from foundation.background import lower_thread_priority
from foundation.files import ROW_WARNING, InputError, Source, open_input
from icd_tables.intake.bounds import implausible_messages
from icd_tables.intake.codes import CodeNormalizer, formatting_notes
from icd_tables.intake.duplicates import DuplicateTracker
from icd_tables.intake.headers import ZH_NAMES, ColumnPlan, plan_columns, read_mapping
from icd_tables.intake.values import (canonical_records, unreadable_fields, unreadable_message,
                                      unreadable_summary)
from icd_tables.schema import REQUIRED_COLUMNS

#: Separator of the messages in one row's ``warnings``.
WARNING_SEPARATOR = "; "
#: Column of the canonical records noting code formatting fixed (``原 → 新：原因``), null where none.
FORMATTING = "code_formatting"
_NULL = pa.scalar(None, pa.string())


class MissingColumnsError(InputError):
    """The input has no column for a field the command needs."""


@dataclass
class IntakeBatch:
    """One batch read: the canonical records and each row's warnings (``""`` for none)."""

    records: pa.Table
    _warnings: "pa.DictionaryArray | Future[pa.DictionaryArray]"
    first_row_no: int

    @property
    def warnings(self) -> pa.DictionaryArray:
        """Each row's warnings (waiting for them where the intake works them out in the background)."""
        if isinstance(self._warnings, Future):
            self._warnings = self._warnings.result()
        return self._warnings


class RecordIntake:
    """Reads the batches of one input (file or tables) into canonical records, keeping state across batches.

    Parameters
    ----------
    plan : ColumnPlan
        How the input's columns map to the record schema.
    pack : Pack or CompiledPack, optional
        Clean code cells of formatting to this pack's spelling (noted in :data:`FORMATTING`).
    excel_serials : bool
        Date columns may hold Excel serial day numbers (the input is a spreadsheet).
    rows : int, optional
        The input's row count, where known: the duplicate case id table is made that size at once.
    background : bool
        Work out each batch's warnings in a thread of the intake's own, in order, while the caller goes on
        with the records (``drg group``: the duplicate case id look-up beside the grouping, measured 5%
        faster on 10M records); :attr:`IntakeBatch.warnings` waits for them.
    """

    def __init__(self, plan: ColumnPlan, pack=None, *, excel_serials: bool = False, rows: int | None = None,
                 background: bool = False):
        self.plan = plan
        self.normalizer = CodeNormalizer(pack) if pack is not None else None
        self.excel_serials = excel_serials
        self.duplicates = DuplicateTracker(rows) if rows else DuplicateTracker()
        self.reformatted = 0
        self._counts: collections.Counter[str] = collections.Counter()
        self._beside = (ThreadPoolExecutor(1, thread_name_prefix="drg-intake", initializer=lower_thread_priority)
                        if background else None)
        self._last: Future | None = None

    @property
    def warning_counts(self) -> collections.Counter[str]:
        """How many rows got each kind of warning, in the batches read so far."""
        if self._last is not None:
            self._last.result()
        return self._counts

    @classmethod
    def for_table(cls, table: pa.Table, pack=None) -> "RecordIntake":
        """An intake for tables whose columns carry schema names or known aliases (service requests, Python)."""
        return cls(plan_columns(table.column_names), pack)

    def __call__(self, raw: pa.Table, first_row_no: int = 1) -> IntakeBatch:
        """The canonical records of ``raw`` (a batch with the input's own column names)."""
        n = raw.num_rows
        row_warning = raw.column(ROW_WARNING) if ROW_WARNING in raw.column_names else None
        if row_warning is not None:
            raw = raw.drop_columns([ROW_WARNING])
        records = canonical_records(self.plan.apply(raw), excel_serials=self.excel_serials)
        if self.normalizer is not None:
            records = self._format_codes(records)
        if self._beside is None:
            return IntakeBatch(records, self._warnings(records, n, first_row_no, row_warning), first_row_no)
        self._last = self._beside.submit(self._warnings, records, n, first_row_no, row_warning)
        return IntakeBatch(records, self._last, first_row_no)

    def _format_codes(self, records: pa.Table) -> pa.Table:
        fixed, changed = self.normalizer.normalize(records)
        rows = np.flatnonzero(changed)
        notes = pa.nulls(records.num_rows, pa.string())
        if len(rows):
            self.reformatted += len(rows)
            index = np.full(records.num_rows, -1, dtype=np.int64)
            index[rows] = np.arange(len(rows))
            texts = pa.array(formatting_notes(records, fixed, rows), pa.string())
            notes = texts.take(pa.array(index, mask=index < 0))
        return fixed.append_column(FORMATTING, notes)

    def _warnings(self, records: pa.Table, n: int, first_row_no: int, row_warning) -> pa.DictionaryArray:
        parts: list[pa.Array] = []
        if row_warning is not None:
            parts.append(plain_array(row_warning))
            self._counts["行格式 row repaired by the reader"] += n - row_warning.null_count
        for name, text in unreadable_fields(records).items():
            parts.append(unreadable_message(name, text))
            self._counts[unreadable_summary(name)] += len(text) - text.null_count
        for name, text in implausible_messages(records).items():
            parts.append(text)
            self._counts[f"{ZH_NAMES.get(name, name)} {name}: 超出合理范围 (data error)"] += \
                len(text) - text.null_count
        if "case_id" in records.column_names:
            case_id = plain_array(records.column("case_id"))
            first = self.duplicates.first_rows(case_id, first_row_no)
            dup = first >= 0
            if dup.any():
                parts.append(_duplicate_messages(first, dup))
                self._counts["病案号重复 duplicate case_id"] += int(dup.sum())
            empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(case_id), ""), True)
            if pc.any(empty).as_py():
                parts.append(pc.if_else(empty, "病案号为空 (case_id is empty)", _NULL))
                self._counts["病案号为空 case_id is empty"] += pc.sum(empty).as_py()
        return combine_warnings(parts, n)


@dataclass
class RecordFile:
    """An input file opened for the intake: its source (format, encoding, header) and column plan."""

    path: Path
    source: Source
    plan: ColumnPlan

    @property
    def excel_serials(self) -> bool:
        return self.source.format == "xlsx"

    def intake(self, pack=None) -> RecordIntake:
        """A fresh :class:`RecordIntake` for this file's batches."""
        return RecordIntake(self.plan, pack, excel_serials=self.excel_serials)

    def require(self, fields: tuple[str, ...]) -> "RecordFile":
        """This file, after checking each of ``fields`` has a column.

        Raises
        ------
        MissingColumnsError
            Naming the fields without a column, the columns found, and ``--columns``.
        """
        missing = self.plan.missing(fields)
        if missing:
            names = self.source.names
            raise MissingColumnsError(
                f"{self.path}: no column found for {', '.join(missing)} "
                f"({', '.join(ZH_NAMES.get(m, m) for m in missing)}); columns found: "
                f"{', '.join(names[:40]) or 'none'}{' …' if len(names) > 40 else ''}. "
                "Map them with --columns FILE (see 'drg group --help')."
            )
        return self


def open_records(path: Path, *, columns: Path | dict | None = None, encoding: str | None = None,
                 required: tuple[str, ...] = REQUIRED_COLUMNS) -> RecordFile:
    """Open a record file and plan its columns, checking the ``required`` fields have one.

    Parameters
    ----------
    path : Path
    columns : Path or dict, optional
        A ``--columns`` mapping file, or the mapping itself (input header → field).
    encoding : str, optional
        Text encoding of a CSV/JSON input; detected when not given.
    required : tuple of str
        Fields the caller needs.

    Raises
    ------
    InputError
        The file cannot be read; :class:`MissingColumnsError` when a required field has no column.
    """
    path = Path(path)
    mapping = read_mapping(columns) if isinstance(columns, (str, Path)) else columns
    source = open_input(path, encoding)
    return RecordFile(path, source, plan_columns(source.names, mapping)).require(required)


def _duplicate_messages(first: np.ndarray, dup: np.ndarray) -> pa.DictionaryArray:
    """``病案号重复…`` naming the first row, as a dictionary array (one string per distinct first row)."""
    codes, uniques = pd.factorize(first[dup])
    rows = pa.array(uniques).cast(pa.string())
    text = pc.binary_join_element_wise(
        "病案号重复，首次出现在第", rows, "行 (duplicate case_id, first at row ", rows, ")", "")
    indices = np.full(len(first), -1, dtype=np.int32)
    indices[dup] = codes
    return pa.DictionaryArray.from_arrays(pa.array(indices, mask=indices < 0), text)


def combine_warnings(parts: list[pa.Array], n: int) -> pa.DictionaryArray:
    """Warning texts of each row joined with ``; ``, ``""`` for none, as a dictionary array."""
    if not parts:
        return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([""]))
    if len(parts) == 1 and pa.types.is_dictionary(parts[0].type):
        part = parts[0]
        dictionary = pa.concat_arrays([part.dictionary.cast(pa.string()), pa.array([""])])
        indices = pc.fill_null(part.indices, len(dictionary) - 1).cast(pa.int32())
        return pa.DictionaryArray.from_arrays(indices, dictionary)
    texts = [p.dictionary_decode() if pa.types.is_dictionary(p.type) else p for p in parts]
    texts = [t if pa.types.is_string(t.type) else t.cast(pa.string()) for t in texts]
    if len(texts) == 1:
        joined = pc.fill_null(texts[0], "")
    else:
        stacked = pa.concat_arrays(texts)
        keep = stacked.is_valid().to_numpy(zero_copy_only=False)
        k = len(texts)
        order = (np.arange(k, dtype=np.int64)[None, :] * n + np.arange(n, dtype=np.int64)[:, None]).ravel()
        order = order[keep[order]]
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(keep.reshape(k, n).sum(axis=0), out=offsets[1:])
        lists = pa.ListArray.from_arrays(pa.array(offsets), stacked.take(pa.array(order)))
        joined = pc.binary_join(lists, WARNING_SEPARATOR)
    return joined.dictionary_encode().cast(pa.dictionary(pa.int32(), pa.string()))


__all__ = ["FORMATTING", "IntakeBatch", "MissingColumnsError", "RecordFile", "RecordIntake", "WARNING_SEPARATOR",
           "combine_warnings", "open_records"]
