"""Chinese names beside codes (编码名称): ``K80.100（胆囊结石伴急性胆囊炎）``.

The names are the pack's own (``dx_names``, ``proc_names``, ``drg_names`` of
:class:`icd_tables.compiled.CompiledPack`); where a pack has no name for a code,
the code is shown alone.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from foundation.arrow_columns import FEW, as_list, cast
from icd_tables.compiled import CompiledPack


def _names(table: pa.StringArray, ids: np.ndarray) -> pa.Array:
    """``table[id]`` per id, ``""`` where the id is negative (an unmapped code)."""
    ids = np.asarray(ids, dtype=np.int64)
    if not len(table):
        return pa.array([""] * len(ids), pa.string())
    if len(ids) <= FEW:
        names = as_list(table)
        return pa.array([(names[i] or "") if i >= 0 else "" for i in ids.tolist()], pa.string())
    taken = table.take(pa.array(np.maximum(ids, 0)))
    return pc.if_else(pa.array(ids >= 0), pc.fill_null(taken, ""), "")


def dx_names(cp: CompiledPack, ids: np.ndarray) -> pa.Array:
    """The pack's name of each grouper diagnosis id (``""`` for -1)."""
    return _names(cp.dx_names, ids)


def proc_names(cp: CompiledPack, ids: np.ndarray) -> pa.Array:
    """The pack's name of each grouper procedure id (``""`` for -1)."""
    return _names(cp.proc_names, ids)


def with_names(codes: pa.Array, names: pa.Array) -> pa.Array:
    """``code（name）`` where a name is known, else the code alone."""
    codes, names = cast(codes, pa.string()), cast(names, pa.string())
    if len(codes) <= FEW:  # in Python: Arrow's fixed cost per call is then the larger part
        return pa.array([with_name(code or "", name) for code, name in zip(codes.to_pylist(), names.to_pylist())],
                        pa.string())
    codes = pc.fill_null(codes, "")
    names = pc.fill_null(names, "")
    joined = pc.binary_join_element_wise(codes, "（", names, "）", "")
    return pc.if_else(pc.equal(names, ""), codes, joined)


def with_name(code: str, name: str | None) -> str:
    """One code with its name (:func:`with_names` for a single value)."""
    return f"{code}（{name}）" if name else code


__all__ = ["dx_names", "proc_names", "with_name", "with_names"]
