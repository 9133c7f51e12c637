"""The public grouping API: :class:`Grouper`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from grouper._kernels import (
    REASON_CHECK,
    REASON_DX_UNMAPPED,
    REASON_PROC_UNMAPPED,
    Batch,
    KernelTables,
    Outputs,
    evaluate_programs,
    group_encoded,
)
from grouper.encode import Encoded, encode, to_arrow
from grouper.results import REASON_CODES, STATUS_NAMES, STATUS_ZH_TEXT, status_zh_index, take_text
from icd_tables.pack import Pack
from icd_tables.sample import sample_records

RESULT_COLUMNS = (
    "case_id", "row_no", "mdc", "adrg", "drg", "drg_name", "status", "status_zh",
    "reason_code", "reason_detail", "mcc_dx", "cc_dx", "pack_version",
)


#: No code: one array for every batch without one, so that :func:`take_text` encodes it once.
_NO_CODES = pa.array([], pa.string())


def _take_codes(codes: pa.Array, index: np.ndarray) -> pa.DictionaryArray:
    """Input codes at ``index``, ``""`` where ``index`` is -1: only the rows that point somewhere are copied."""
    hit = np.flatnonzero(index >= 0)
    picked = codes.take(pa.array(index[hit])) if len(hit) else _NO_CODES
    local = np.full(len(index), -1, dtype=np.int64)
    local[hit] = np.arange(len(hit))
    return take_text(picked, local, remember=not len(hit))  # only the empty array lives on


@dataclass(frozen=True)
class Trace:
    """One grouped batch as the kernel saw it (see :meth:`Grouper.trace`)."""

    records: pa.Table
    encoded: Encoded
    outputs: Outputs
    results: pa.Table


class Grouper:
    """Groups discharge records with one definition pack.

    Parameters
    ----------
    pack : Pack, str or path-like
        A loaded pack, a pack name or a pack folder; default the pack the
        user configured (``drg packs default``, ``$DRG_PACK``).

    Examples
    --------
    >>> g = Grouper("chs-drg-1.1")                    # doctest: +SKIP
    >>> g.group(records)[["case_id", "drg", "status_zh"]]  # doctest: +SKIP
    """

    def __init__(self, pack: Pack | str | os.PathLike | None = None):
        self.pack = pack if isinstance(pack, Pack) else Pack.load(pack)
        self._tables = KernelTables.from_pack(self.pack.compiled)

    @property
    def pack_version(self) -> str:
        return self.pack.version

    def group(self, records, *, first_row_no: int = 1) -> pd.DataFrame:
        """Group records; one result row per input row, in input order.

        Parameters
        ----------
        records : pandas.DataFrame, pyarrow.Table or list of dict
            Records in the canonical schema (see the README).  Extra columns
            are ignored; optional columns may be absent.
        first_row_no : int
            ``row_no`` of the first record (1-based row numbers by default).

        Returns
        -------
        pandas.DataFrame
            Columns ``case_id, row_no, mdc, adrg, drg, drg_name, status,
            status_zh, reason_code, reason_detail, mcc_dx, cc_dx, pack_version``.

        Raises
        ------
        RecordSchemaError
            When a required column is missing.
        """
        return self.group_arrow(records, first_row_no=first_row_no).to_pandas()

    def group_arrow(self, records, *, first_row_no: int = 1, normalize: bool = False) -> pa.Table:
        """Like :meth:`group`, returning a :class:`pyarrow.Table`."""
        return self.trace(records, first_row_no=first_row_no, normalize=normalize).results

    def trace(self, records, *, first_row_no: int = 1, normalize: bool = False) -> "Trace":
        """Group records and keep the kernel's own view of them, for explanations and what-if runs.

        Parameters
        ----------
        records, first_row_no
            As for :meth:`group`.
        normalize : bool
            Fix the codes' formatting while encoding (:mod:`icd_tables.intake.codes`); the results
            quote the codes as fixed, and ``encoded.reformatted`` marks the records it changed.

        Returns
        -------
        Trace
            The records as Arrow, their encoded integer form, the kernel's
            outputs and the result table of :meth:`group_arrow`.
        """
        table = to_arrow(records)
        encoded = encode(table, self.pack.compiled, normalize=normalize)
        out = group_encoded(self._tables, encoded.batch)
        return Trace(table, encoded, out, self._results(table, encoded, out, first_row_no))

    def warm_up(self) -> None:
        """Compile the grouping kernels, or load them from Numba's cache, by grouping one generated record.

        The first run on a machine compiles them (tens of seconds) and caches them; later runs
        load them in a fraction of a second.  Commands call this first, so that they can say which
        of the two the wait is.
        """
        self.group_arrow(sample_records(self.pack.compiled, 1), normalize=True)

    def group_batch(self, batch: Batch) -> Outputs:
        """Group an already encoded batch (codes as the pack's integer ids), such as rearranged what-if records."""
        return group_encoded(self._tables, batch)

    def evaluate(self, batch: Batch, entries: np.ndarray) -> np.ndarray:
        """Truth of rule programs for each record of an encoded batch (records × programs, bool).

        ``entries`` are program entry points of the compiled pack, e.g.
        ``pack.compiled.check_entry`` or ``pack.compiled.mdc_entry``.
        """
        return evaluate_programs(self._tables, batch, entries)

    def _results(self, table: pa.Table, enc: Encoded, out: Outputs, first_row_no: int) -> pa.Table:
        cp = self.pack.compiled
        n = table.num_rows
        rows = np.arange(n, dtype=np.int64)
        adrg = np.where(out.adrg_row >= 0, cp.adrg_target[np.maximum(out.adrg_row, 0)], -1)
        # mcc/cc positions index the combined diagnosis list; secondary k of record i sits at k - i - 1
        sec = lambda pos: np.where(pos >= 0, pos - rows - 1, -1)  # noqa: E731
        return pa.table({
            "case_id": table.column("case_id"),
            "row_no": pa.array(rows + first_row_no),
            "mdc": take_text(cp.mdc_codes, out.mdc),
            "adrg": take_text(cp.adrg_codes, adrg),
            "drg": take_text(cp.drg_codes, out.drg),
            "drg_name": take_text(cp.drg_names, out.drg),
            "status": take_text(STATUS_NAMES, out.status.astype(np.int64)),
            "status_zh": take_text(STATUS_ZH_TEXT, status_zh_index(out.status, out.reason)),
            "reason_code": take_text(REASON_CODES, out.reason.astype(np.int64)),
            "reason_detail": self._reason_detail(enc, out, rows),
            "mcc_dx": _take_codes(enc.secondary_dx, sec(out.mcc_pos)),
            "cc_dx": _take_codes(enc.secondary_dx, sec(out.cc_pos)),
            "pack_version": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), self._version),
        })

    @cached_property
    def _version(self) -> pa.Array:
        """The dictionary of the ``pack_version`` column."""
        return pa.array([self.pack.version], pa.string())

    @cached_property
    def _check_texts(self) -> pa.Array:
        """The text of each record check of the pack, built once (a one-record call would otherwise build it each time)."""
        cp = self.pack.compiled
        return pa.array([
            f"{name}: {zh} ({en})" for name, zh, en in zip(
                cp.check_names.to_pylist(), cp.check_messages_zh.to_pylist(), cp.check_messages_en.to_pylist()
            )
        ], pa.string())

    def _reason_detail(self, enc: Encoded, out: Outputs, rows: np.ndarray) -> pa.Array:
        """The code that could not be mapped, or the record check that failed (dictionary array)."""
        checks = self._check_texts
        check_bad = out.reason == REASON_CHECK
        unmapped = (out.reason == REASON_DX_UNMAPPED) | (out.reason == REASON_PROC_UNMAPPED)
        if not unmapped.any():  # no code quoted: the checks' own texts, whose dictionary is made once per pack
            return take_text(checks, np.where(check_bad, out.reason_arg, -1))
        principal_bad = (out.reason == REASON_DX_UNMAPPED) & (out.reason_arg == enc.batch.dx_start[:-1])
        secondary_bad = (out.reason == REASON_DX_UNMAPPED) & ~principal_bad
        proc_bad = out.reason == REASON_PROC_UNMAPPED
        parts = [
            (principal_bad, enc.principal_dx, rows, "主要诊断为空 (principal diagnosis is empty)"),
            (secondary_bad, enc.secondary_dx, out.reason_arg - rows - 1, "空诊断编码 (empty diagnosis code)"),
            (proc_bad, enc.procedures, out.reason_arg, "空手术操作编码 (empty procedure code)"),
        ]
        indices = np.full(len(rows), -1, dtype=np.int64)
        pool, size = [], 0
        for mask, codes, position, if_empty in parts:
            hit = np.flatnonzero(mask)
            picked = pc.fill_null(codes.take(pa.array(position[hit])), "") if len(hit) else pa.array([], pa.string())
            pool.append(pc.if_else(pc.equal(picked, ""), if_empty, picked) if len(hit) else picked)
            indices[hit] = size + np.arange(len(hit))
            size += len(hit)
        indices[check_bad] = size + out.reason_arg[check_bad]
        pool.append(checks)
        return take_text(pa.concat_arrays([p.cast(pa.string()) for p in pool]), indices, remember=False)
