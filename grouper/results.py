"""Vocabulary of grouping results: statuses, Chinese status strings, reason codes.

The integers are the kernel's (:mod:`grouper._kernels`); these tables give
them the names users see.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from foundation.arrow_columns import text_codes
from foundation.remembered import per_object
from grouper._kernels import STATUS_INVALID, STATUS_OK, STATUS_QY, STATUS_UNGROUPABLE

__all__ = [
    "REASON_CODES", "STATUS_INVALID", "STATUS_NAMES", "STATUS_OK", "STATUS_QY", "STATUS_UNGROUPABLE",
    "STATUS_ZH_TEXT", "status_zh_index", "take_text",
]

#: Indexed by the kernel's status.
STATUS_NAMES = pa.array(["ok", "qy", "ungroupable", "invalid"])

#: Chinese status strings (tables README §3.6): the three non-invalid statuses,
#: then one string per invalid reason (unmappable diagnosis, procedure, failed record check).
STATUS_ZH_TEXT = pa.array([
    "分组成功",
    "歧义病案",
    "无法入组",
    "诊断不能转换为分组器支持的编码",
    "手术操作不能转换为分组器支持的编码",
    "信息校验不通过",
])

#: Indexed by the kernel's reason.
REASON_CODES = pa.array([
    "",  # grouped
    "dx_unmapped",  # a diagnosis is not in the pack's diagnosis map
    "proc_unmapped",  # a procedure is not in the pack's procedure map
    "record_check",  # a record check (sex, age, newborn fields) failed
    "no_mdc",  # no MDC took the record, or none of the entered MDCs had a matching ADRG
    "qy",  # ambiguity group (歧义)
    "mdc_fallback",  # the MDC's fallback row took the record
])


def status_zh_index(status: np.ndarray, reason: np.ndarray) -> np.ndarray:
    """Row of :data:`STATUS_ZH_TEXT` for each record."""
    return np.where(status == STATUS_INVALID, STATUS_INVALID + reason.astype(np.int64) - 1, status)


def take_text(table: pa.Array, index: np.ndarray, *, remember: bool = True) -> pa.DictionaryArray:
    """``table[index]`` with ``""`` where ``index`` is -1, as a dictionary array.

    The dictionary holds each distinct string once, so results keep no string
    copies per row and convert cleanly to pandas categoricals.  ``remember``: keep
    the table's encoding for later calls (a table that lives on, such as a pack's
    names; not a batch's own array, made for this call).
    """
    codes, dictionary = _pool(table, remember)
    indices = codes[np.maximum(index, -1)]  # -1 (or below) picks the pool's last code, that of ""
    return pa.DictionaryArray.from_arrays(pa.array(indices), dictionary, safe=False)  # codes index the dictionary


def _pool(table: pa.Array, remember: bool) -> tuple[np.ndarray, pa.Array]:
    """Dictionary codes of ``table`` plus a final one for ``""``, and the dictionary: made once per table
    remembered (the pack's name tables live as long as the pack; a one-record call would otherwise encode all
    of them).  Long arrays are encoded each time and not kept."""
    if remember and len(table) <= 65_536:
        return per_object("text pool", (table,), lambda: _encoded_pool(table), limit=64)
    return _encoded_pool(table)


def _encoded_pool(table: pa.Array) -> tuple[np.ndarray, pa.Array]:
    codes, texts = text_codes(table.cast(pa.string()))
    if "" not in texts:
        texts.append("")
    return np.append(codes, texts.index("")).astype(np.int32), pa.array(texts, pa.string())
