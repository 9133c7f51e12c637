"""One batch of an input file → one batch of results, for ``drg group`` and the service.

Steps: the intake (:mod:`icd_tables.intake`) maps and types the columns and words
each row's warnings; then the records are grouped, their codes' formatting fixed
(:mod:`icd_tables.intake.codes`) in the same pass that encodes them for the kernel.
One result row per input row, in input order; a row's result depends on that row
alone (``warnings`` may name an earlier row).
"""

from __future__ import annotations

import pyarrow as pa

from foundation.arrow_columns import as_text, plain_array
from grouper import Grouper
from icd_tables.intake.headers import ColumnPlan
from foundation.files import ROW_WARNING
from icd_tables.intake.reader import RecordIntake


class BatchGrouper:
    """Groups the batches of one input, keeping state across them (row numbers, case ids seen).

    Parameters
    ----------
    grouper : Grouper
    plan : ColumnPlan
        How the input's columns map to the record schema.
    normalize : bool
        Fix the formatting of codes (default on).
    keep_input : bool
        Append the input columns (as read, under their own names) to the results.
    input_as_text : bool
        With ``keep_input``, write every input column as text (the same type in every batch).
    excel_serials : bool
        Date columns may hold Excel serial day numbers (an XLSX input).
    rows : int, optional
        The input's row count, where known (sizes the intake's duplicate case id table once).
    background : bool
        Work out each batch's warnings in a thread beside its grouping (for a stream of large batches;
        :class:`icd_tables.intake.reader.RecordIntake`).
    """

    def __init__(self, grouper: Grouper, plan: ColumnPlan, *, normalize: bool = True, keep_input: bool = False,
                 input_as_text: bool = False, excel_serials: bool = False, rows: int | None = None,
                 background: bool = False):
        self.grouper = grouper
        self.intake = RecordIntake(plan, excel_serials=excel_serials, rows=rows, background=background)
        self.normalize = normalize
        self.keep_input = keep_input
        self.input_as_text = input_as_text
        self.reformatted = 0

    @property
    def warning_counts(self):
        return self.intake.warning_counts

    def __call__(self, raw: pa.Table, first_row_no: int) -> pa.Table:
        batch = self.intake(raw, first_row_no)
        results = self._group(batch.records, first_row_no)
        results = results.append_column("warnings", batch.warnings)
        if self.keep_input:
            for name in raw.column_names:
                if name == ROW_WARNING:
                    continue
                column = raw.column(name)
                if self.input_as_text and not pa.types.is_string(column.type):
                    column = as_text(plain_array(column))  # the same type in every batch, whichever reader made it
                out_name = name if name not in results.column_names else f"{name}_input"
                results = results.append_column(out_name, column)
        return results

    def _group(self, records: pa.Table, first_row_no: int) -> pa.Table:
        trace = self.grouper.trace(records, first_row_no=first_row_no, normalize=self.normalize)
        if self.normalize:
            self.reformatted += int(trace.encoded.reformatted.sum())
        return trace.results


__all__ = ["BatchGrouper"]
