"""The public grouping API: :class:`Grouper`."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from grouper._kernels import (
    REASON_CHECK,
    REASON_DX_UNMAPPED,
    REASON_PROC_UNMAPPED,
    KernelTables,
    Outputs,
    group_encoded,
)
from grouper.encode import Encoded, encode, to_arrow
from grouper.results import REASON_CODES, STATUS_NAMES, STATUS_ZH_TEXT, status_zh_index
from icd_tables.pack import DEFAULT_PACK, Pack

RESULT_COLUMNS = (
    "case_id", "row_no", "mdc", "adrg", "drg", "drg_name", "status", "status_zh",
    "reason_code", "reason_detail", "mcc_dx", "cc_dx", "pack_version",
)


def _take(table: pa.Array, index: np.ndarray) -> pa.Array:
    """``table[index]`` with ``""`` where ``index`` is -1."""
    valid = index >= 0
    picked = table.take(pa.array(np.where(valid, index, 0)))
    return pc.if_else(pa.array(valid), picked, "") if not valid.all() else picked


class Grouper:
    """Groups discharge records with one definition pack.

    Parameters
    ----------
    pack : Pack, str or path-like
        A loaded pack, a pack name or a pack folder; default the bundled
        example pack.

    Examples
    --------
    >>> g = Grouper("chs-drg-1.1")                    # doctest: +SKIP
    >>> g.group(records)[["case_id", "drg", "status_zh"]]  # doctest: +SKIP
    """

    def __init__(self, pack: Pack | str | os.PathLike = DEFAULT_PACK):
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

    def group_arrow(self, records, *, first_row_no: int = 1) -> pa.Table:
        """Like :meth:`group`, returning a :class:`pyarrow.Table`."""
        table = to_arrow(records)
        encoded = encode(table, self.pack.compiled)
        out = group_encoded(self._tables, encoded.batch)
        return self._results(table, encoded, out, first_row_no)

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
            "mdc": _take(cp.mdc_codes, out.mdc),
            "adrg": _take(cp.adrg_codes, adrg),
            "drg": _take(cp.drg_codes, out.drg),
            "drg_name": _take(cp.drg_names, out.drg),
            "status": _take(STATUS_NAMES, out.status.astype(np.int64)),
            "status_zh": _take(STATUS_ZH_TEXT, status_zh_index(out.status, out.reason)),
            "reason_code": _take(REASON_CODES, out.reason.astype(np.int64)),
            "reason_detail": self._reason_detail(enc, out, rows),
            "mcc_dx": _take(enc.secondary_dx, sec(out.mcc_pos)),
            "cc_dx": _take(enc.secondary_dx, sec(out.cc_pos)),
            "pack_version": pa.repeat(pa.scalar(self.pack.version), n).dictionary_encode(),
        })

    def _reason_detail(self, enc: Encoded, out: Outputs, rows: np.ndarray) -> pa.Array:
        """The code that could not be mapped, or the record check that failed."""
        cp = self.pack.compiled
        detail = np.full(len(rows), None, dtype=object)
        bad = np.flatnonzero(out.reason != 0)
        if not len(bad):
            return pa.array(np.full(len(rows), ""), pa.string())
        dx_start = enc.batch.dx_start
        for i in bad:  # invalid records only: rare, and each needs its own wording
            reason, arg = out.reason[i], out.reason_arg[i]
            if reason == REASON_DX_UNMAPPED:
                code = enc.principal_dx[i].as_py() if arg == dx_start[i] else enc.secondary_dx[arg - i - 1].as_py()
                detail[i] = code if code else "主要诊断为空 (principal diagnosis is empty)"
            elif reason == REASON_PROC_UNMAPPED:
                detail[i] = enc.procedures[arg].as_py() or "空手术操作编码 (empty procedure code)"
            elif reason == REASON_CHECK:
                detail[i] = f"{cp.check_names[arg].as_py()}: {cp.check_messages_zh[arg].as_py()} ({cp.check_messages_en[arg].as_py()})"
        return pa.array(np.where(detail == None, "", detail), pa.string())  # noqa: E711
