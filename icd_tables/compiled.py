"""The compiled form of a pack: integer-coded NumPy arrays and string tables.

Everything the kernels read is an array here; every code and name the
results show is a row of a string table.  The form is written as one ``.npy``
file per array (string tables as UTF-8 bytes plus int32 offsets), which NumPy
writes deterministically, so a rebuild from the same sources gives
byte-identical files and :meth:`CompiledPack.checksums` can prove it.

Atom and instruction encodings (shared with :mod:`grouper._kernels`)
--------------------------------------------------------------------
* ``atoms[:, ATOM_KIND]``: :data:`ATOM_IN`, :data:`ATOM_MCC`, :data:`ATOM_CC`,
  :data:`ATOM_MCC_OR_CC`, :data:`ATOM_CMP`, :data:`ATOM_PRESENT`, :data:`ATOM_COUNT`,
  :data:`ATOM_SIZE` (the number of diagnoses, fields ``1|2``, or procedures, ``4|8``,
  compared with ``value``: the derived fields ``ZDSL``/``SSSL``).
* ``atoms[:, ATOM_FIELDS]``: bit mask of code fields (:data:`FIELD_BITS`).
* ``atoms[:, ATOM_NUM]``: index of a numeric field in the kernel's ``nums`` matrix
  (:data:`NUMERIC_ORDER`).  The text field ``dept`` is a row too: the index of its
  value in ``text_values`` (``len(text_values)`` for any other value), so an exact
  string comparison is an integer one.
* ``atoms[:, ATOM_OP]``: index into :data:`icd_tables.rules.ir.OPERATORS`.
* ``atoms[:, ATOM_SET]``: the set id an ``in`` or ``length`` atom tests;
  ``atoms[:, ATOM_VALUE]``: the number a comparison or ``length`` compares with.
* A rule is a *jump program*: instruction ``pc`` tests atom ``ins[pc, INS_ATOM]``
  and continues at ``ins[pc, INS_TRUE]`` or ``ins[pc, INS_FALSE]``; :data:`ACCEPT` and
  :data:`REJECT` end it.  A rule's entry point is its first instruction, or
  ``ACCEPT`` for the empty rule.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pyarrow as pa

from icd_tables.rules.ir import Field

ATOM_IN, ATOM_MCC, ATOM_CC, ATOM_MCC_OR_CC, ATOM_CMP, ATOM_PRESENT, ATOM_COUNT, ATOM_SIZE = range(8)
ACCEPT = -1
REJECT = -2
ATOM_COLUMNS = ("kind", "fields", "set", "num", "op", "value")
ATOM_KIND, ATOM_FIELDS, ATOM_SET, ATOM_NUM, ATOM_OP, ATOM_VALUE = range(6)
INS_COLUMNS = ("atom", "on_true", "on_false")
INS_ATOM, INS_TRUE, INS_FALSE = range(3)

FIELD_BITS = {
    Field.PRINCIPAL_DX: 1,
    Field.SECONDARY_DX: 2,
    Field.PRINCIPAL_PROC: 4,
    Field.OTHER_PROCS: 8,
}
#: Row order of the kernel's numeric input matrix.
NUMERIC_ORDER = (
    Field.AGE_YEARS,
    Field.SEX,
    Field.AGE_DAYS,
    Field.ADMISSION_WEIGHT,
    Field.BIRTH_WEIGHT,
    Field.LOS_DAYS,
    Field.ICU_HOURS,
    Field.DISCHARGE_METHOD,
    Field.DEPT,
)
#: Sentinel for a missing numeric value in the kernel's inputs.
MISSING = np.iinfo(np.int32).min

OUTCOME_OK, OUTCOME_QY, OUTCOME_UNGROUPABLE = range(3)

FORMAT_VERSION = 2


def string_table(values) -> pa.StringArray:
    """An Arrow string array (int32 offsets) from Python strings."""
    return pa.array(list(values), type=pa.string())


@dataclass(frozen=True)
class CompiledPack:
    """Arrays the kernels read and string tables the results show.

    Code dictionaries
        ``dx_inputs`` (sorted input codes) with ``dx_input_target`` (index into
        ``dx_codes``); ``dx_codes`` (grouper codes, sorted) with ``dx_names``;
        the same for procedures.
    Set membership (CSR over grouper codes)
        ``dx_member_start``/``dx_member_set`` and ``proc_member_start``/``proc_member_set``:
        the set ids each code belongs to, ascending.  ``n_set_words`` 64-bit
        words hold one bit per set.
    Complications
        ``mcc_excl``, ``cc_excl``: exclusion id of each diagnosis code, -1 when
        it is not an MCC (CC); ``cce``: the exclusion id of each code as a
        principal diagnosis, -1 when it has none.
    Rules
        ``atoms`` (int64, one row per atom: :data:`ATOM_COLUMNS`) and ``ins``
        (int32, one row per instruction: :data:`INS_COLUMNS`) as in the module docstring; ``check_entry`` per
        record check; ``mdc_entry``; ``mdc_adrg_start`` (CSR into ADRG rows);
        ``adrg_entry``, ``adrg_outcome``, ``adrg_target`` (index into
        ``adrg_codes``), ``adrg_drg_start`` (CSR into DRG rows);
        ``drg_entry``, ``drg_target`` (index into ``drg_codes``).
    Text values and regrouping
        ``text_values``: the department names the rules compare with;
        ``regroup_alone``: ``[1]`` when an ungroupable record is grouped again
        with each secondary procedure alone (zhejiang-2022), else ``[0]``.
    Rule texts
        ``mdc_rules``, ``adrg_rules``, ``drg_rules``: each row's rule in the
        rule language (``""`` for an unconditional row), for explanations.
    """

    dx_inputs: pa.StringArray
    dx_input_target: np.ndarray
    dx_codes: pa.StringArray
    dx_names: pa.StringArray
    proc_inputs: pa.StringArray
    proc_input_target: np.ndarray
    proc_codes: pa.StringArray
    proc_names: pa.StringArray
    set_names: pa.StringArray
    n_set_words: np.ndarray
    dx_member_start: np.ndarray
    dx_member_set: np.ndarray
    proc_member_start: np.ndarray
    proc_member_set: np.ndarray
    mcc_excl: np.ndarray
    cc_excl: np.ndarray
    cce: np.ndarray
    atoms: np.ndarray
    ins: np.ndarray
    check_entry: np.ndarray
    check_names: pa.StringArray
    check_messages_zh: pa.StringArray
    check_messages_en: pa.StringArray
    mdc_entry: np.ndarray
    mdc_codes: pa.StringArray
    mdc_names: pa.StringArray
    mdc_rules: pa.StringArray
    mdc_adrg_start: np.ndarray
    adrg_entry: np.ndarray
    adrg_outcome: np.ndarray
    adrg_target: np.ndarray
    adrg_rule_ids: pa.StringArray
    adrg_rules: pa.StringArray
    adrg_drg_start: np.ndarray
    adrg_codes: pa.StringArray
    drg_entry: np.ndarray
    drg_target: np.ndarray
    drg_rules: pa.StringArray
    drg_codes: pa.StringArray
    drg_names: pa.StringArray
    ungroupable_drg: pa.StringArray
    text_values: pa.StringArray
    regroup_alone: np.ndarray

    def arrays(self) -> dict[str, np.ndarray | pa.StringArray]:
        """Every field by name, in declaration order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def checksums(self) -> dict[str, str]:
        """SHA-256 of each array's dtype, shape and bytes (string tables: offsets and data)."""
        return {name: _array_digest(value) for name, value in self.arrays().items()}

    def save(self, folder: Path, meta: dict) -> None:
        """Write every array to ``folder`` atomically (a temporary folder renamed at the end)."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        try:
            for name, value in self.arrays().items():
                for suffix, array in _to_numpy(value).items():
                    np.save(tmp / f"{name}{suffix}.npy", array, allow_pickle=False)
            info = {**meta, "format_version": FORMAT_VERSION, "checksums": self.checksums()}
            (tmp / "compiled.json").write_text(
                json.dumps(info, indent=1, sort_keys=True, ensure_ascii=False), encoding="utf-8"
            )
            try:
                os.replace(tmp, folder)
            except OSError:  # another process finished the same build first
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(cls, folder: Path) -> "CompiledPack":
        """Read a folder written by :meth:`save`."""
        values = {}
        for f in fields(cls):
            if f.type == "np.ndarray":
                values[f.name] = np.load(folder / f"{f.name}.npy", allow_pickle=False)
            else:
                offsets = np.load(folder / f"{f.name}.offsets.npy", allow_pickle=False)
                data = np.load(folder / f"{f.name}.data.npy", allow_pickle=False)
                values[f.name] = pa.StringArray.from_buffers(
                    len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data)
                )
        return cls(**values)


def read_meta(folder: Path) -> dict | None:
    """The ``compiled.json`` of a compiled folder, or None when absent or unreadable."""
    try:
        return json.loads((folder / "compiled.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _to_numpy(value) -> dict[str, np.ndarray]:
    if isinstance(value, np.ndarray):
        return {"": value}
    value = value.cast(pa.string())
    if value.offset or value.null_count:
        value = pa.array(value.to_pylist(), type=pa.string())
    _, offsets, data = value.buffers()
    n = len(value)
    offsets_np = np.frombuffer(offsets, dtype=np.int32, count=n + 1).copy()
    data_np = np.frombuffer(data, dtype=np.uint8, count=int(offsets_np[-1])).copy() if data else np.zeros(0, np.uint8)
    return {".offsets": offsets_np, ".data": data_np}


def _array_digest(value) -> str:
    h = hashlib.sha256()
    for suffix, array in sorted(_to_numpy(value).items()):
        h.update(f"{suffix}|{array.dtype.str}|{array.shape}|".encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()
