"""One batch of an input file → one batch of results, for ``drg group``.

Steps: map the input columns to the record schema (:mod:`icd_tables.intake.headers`), group,
fix the formatting of codes (:mod:`icd_tables.intake.codes`), and add the ``warnings``
column (duplicate or empty case ids, values that are not whole numbers, rows a
reader had to repair).  One result row per input row, in input order; a row's
result depends on that row alone (``warnings`` may name an earlier row).

Normalisation only ever changes records with a code the pack does not know as
written, and every such record is ``invalid`` when grouped as written (for packs
whose input codes are plain ASCII without spaces or separators, which
:attr:`CodeNormalizer.plain_pack` checks).  So the batch is grouped as read, and
only its ``invalid`` records are normalised and, where that changed a code,
grouped again: the same results as normalising everything first, at a fraction
of the cost on clean data.
"""

from __future__ import annotations

import collections

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from icd_tables.intake.headers import INTEGER_FIELDS, ColumnPlan, as_text
from icd_tables.intake.duplicates import DuplicateTracker
from foundation.files import ROW_WARNING
from grouper import Grouper
from grouper.encode import plain_array
from icd_tables.intake.codes import CodeNormalizer

WARNING_SEPARATOR = "; "
_NULL = pa.scalar(None, pa.string())


class BatchGrouper:
    """Groups the batches of one input file, keeping state across them (row numbers, case ids seen).

    Parameters
    ----------
    grouper : Grouper
    plan : ColumnPlan
        How the input's columns map to the record schema.
    normalize : bool
        Fix the formatting of codes (default on).
    keep_input : bool
        Append the input columns (as read, under their own names) to the results.
    """

    def __init__(self, grouper: Grouper, plan: ColumnPlan, *, normalize: bool = True, keep_input: bool = False,
                 input_as_text: bool = False):
        self.grouper = grouper
        self.plan = plan
        self.normalizer = CodeNormalizer(grouper.pack) if normalize else None
        self.keep_input = keep_input
        self.input_as_text = input_as_text
        self.duplicates = DuplicateTracker()
        self.reformatted = 0
        self.warning_counts: collections.Counter[str] = collections.Counter()

    def __call__(self, raw: pa.Table, first_row_no: int) -> pa.Table:
        n = raw.num_rows
        row_warning = raw.column(ROW_WARNING) if ROW_WARNING in raw.column_names else None
        if row_warning is not None:
            raw = raw.drop_columns([ROW_WARNING])
        records = self.plan.apply(raw)
        bad_numbers = {c[len("__bad__"):]: records.column(c) for c in records.column_names if c.startswith("__bad__")}
        if bad_numbers:
            records = records.drop_columns([f"__bad__{c}" for c in bad_numbers])
        results = self._group(records, first_row_no)
        warnings = self._warnings(records, n, first_row_no, row_warning, bad_numbers)
        results = results.append_column("warnings", warnings)
        if self.keep_input:
            for name in raw.column_names:
                column = raw.column(name)
                if self.input_as_text and not pa.types.is_string(column.type):
                    column = as_text(plain_array(column))  # the same type in every batch, whichever reader made it
                out_name = name if name not in results.column_names else f"{name}_input"
                results = results.append_column(out_name, column)
        return results

    def _group(self, records: pa.Table, first_row_no: int) -> pa.Table:
        normalizer = self.normalizer
        if normalizer is not None and not normalizer.plain_pack:  # the shortcut's premise fails: normalise all
            records, changed = normalizer.normalize(records)
            self.reformatted += int(changed.sum())
            return self.grouper.group_arrow(records, first_row_no=first_row_no)
        results = self.grouper.group_arrow(records, first_row_no=first_row_no)
        if normalizer is None:
            return results
        invalid = np.flatnonzero(pc.equal(results.column("status"), "invalid").to_numpy(zero_copy_only=False))
        if not len(invalid):
            return results
        fixed, changed = normalizer.normalize(records.take(pa.array(invalid)))
        rows = invalid[changed]
        if not len(rows):
            return results
        self.reformatted += len(rows)
        again = self.grouper.group_arrow(fixed.filter(pa.array(changed)), first_row_no=first_row_no)
        again = again.set_column(again.column_names.index("row_no"), "row_no",
                                 pa.array(rows + first_row_no, type=results.schema.field("row_no").type))
        index = np.arange(results.num_rows, dtype=np.int64)
        index[rows] = results.num_rows + np.arange(len(rows))
        merged = pa.concat_tables([results, again.cast(results.schema)]).take(pa.array(index))
        return merged.combine_chunks()

    def _warnings(self, records, n, first_row_no, row_warning, bad_numbers) -> pa.DictionaryArray:
        parts: list[pa.Array] = []
        if row_warning is not None:
            parts.append(plain_array(row_warning))
            self.warning_counts["行格式 row repaired by the reader"] += n - row_warning.null_count
        for name, bad in bad_numbers.items():
            zh = INTEGER_FIELDS[name][0]
            expected = "1、2、男或女 (1, 2, 男 or 女)" if name == "sex" else "整数 (a whole number)"
            message = pc.binary_join_element_wise(f"{zh} {name} 应为{expected}，而不是 '", plain_array(bad), "'", "")
            parts.append(message)
            self.warning_counts[f"{zh} {name}: 不是{expected.split(' ')[0]}"] += len(bad) - bad.null_count
        if "case_id" in records.column_names:
            case_id = records.column("case_id")
            first = self.duplicates.first_rows(case_id, first_row_no)
            dup = first >= 0
            if dup.any():
                parts.append(_duplicate_messages(first, dup))
                self.warning_counts["病案号重复 duplicate case_id"] += int(dup.sum())
            text = plain_array(case_id)
            text = text if pa.types.is_string(text.type) else text.cast(pa.string())
            empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(text), ""), True)
            if pc.any(empty).as_py():
                parts.append(pc.if_else(empty, "病案号为空 (case_id is empty)", _NULL))
                self.warning_counts["病案号为空 case_id is empty"] += pc.sum(empty).as_py()
        return _combine(parts, n)


def _duplicate_messages(first: np.ndarray, dup: np.ndarray) -> pa.DictionaryArray:
    """``病案号重复…`` naming the first row, as a dictionary array (one string per distinct first row)."""
    codes, uniques = pd.factorize(first[dup])
    rows = pa.array(uniques).cast(pa.string())
    text = pc.binary_join_element_wise(
        "病案号重复，首次出现在第", rows, "行 (duplicate case_id, first at row ", rows, ")", "")
    indices = np.full(len(first), -1, dtype=np.int32)
    indices[dup] = codes
    return pa.DictionaryArray.from_arrays(pa.array(indices, mask=indices < 0), text)


def _combine(parts: list[pa.Array], n: int) -> pa.DictionaryArray:
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
