"""Facts about a compiled pack that the DRG-relevant checks read, derived once per pack.

* Operating-room procedures (手术室手术): the members of the pack's set
  ``OP_ALL`` (the CHS-DRG name of the list; the 1.x ``SS_VALID`` table).  A
  pack without that set has none, and the checks that need it find nothing.
* Surgical ADRGs: ADRG codes whose second letter is A–J (CHS-DRG naming:
  A–J surgical, K–Q non-OR procedures, R–Z medical).  A procedure is *taken*
  by an MDC's surgical ADRGs when it belongs to a procedure set that one of
  their rules tests (any instruction reachable from the rule's entry).
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from icd_tables.compiled import (
    ATOM_FIELDS, ATOM_IN, ATOM_KIND, ATOM_SET, FIELD_BITS, INS_ATOM, INS_FALSE, INS_TRUE, CompiledPack,
)
from icd_tables.rules.ir import Field

OR_PROCEDURE_SET = "OP_ALL"
_PROC_FIELDS = FIELD_BITS[Field.PRINCIPAL_PROC] | FIELD_BITS[Field.OTHER_PROCS]


@dataclass(frozen=True)
class PackFacts:
    """Per-code arrays over the pack's grouper codes.

    Attributes
    ----------
    or_proc : numpy.ndarray of bool
        Per procedure code: an operating-room procedure.
    surgical_takes : numpy.ndarray of bool, (MDC rows, procedure codes)
        Whether some surgical ADRG of the MDC tests a set holding the procedure.
    dx_inputs, proc_inputs : numpy.ndarray of str
        The input codes the pack maps (sorted, as the pack holds them).
    """

    or_proc: np.ndarray
    surgical_takes: np.ndarray
    dx_inputs: np.ndarray
    proc_inputs: np.ndarray


def _set_members(compiled: CompiledPack, set_id: int) -> np.ndarray:
    start, members = compiled.proc_member_start, compiled.proc_member_set
    owner = np.repeat(np.arange(len(start) - 1), np.diff(start))
    out = np.zeros(len(start) - 1, dtype=bool)
    out[owner[members == set_id]] = True
    return out


def reachable_atoms(compiled: CompiledPack, entry: int) -> np.ndarray:
    """Rows of ``compiled.atoms`` tested by the instructions reachable from program entry ``entry``."""
    atoms, todo, seen = [], [int(entry)], set()
    while todo:
        pc = todo.pop()
        if pc < 0 or pc in seen:
            continue
        seen.add(pc)
        atoms.append(compiled.ins[pc, INS_ATOM])
        todo += [int(compiled.ins[pc, INS_TRUE]), int(compiled.ins[pc, INS_FALSE])]
    return compiled.atoms[np.array(sorted(set(atoms)), dtype=np.int64)].reshape(-1, compiled.atoms.shape[1])


def _proc_sets_of_program(compiled: CompiledPack, entry: int) -> set[int]:
    """Procedure set ids tested by the program at ``entry``."""
    atoms = reachable_atoms(compiled, entry)
    tested = (atoms[:, ATOM_KIND] == ATOM_IN) & ((atoms[:, ATOM_FIELDS] & _PROC_FIELDS) != 0)
    return {int(s) for s in atoms[tested, ATOM_SET]}


def _is_surgical(adrg_code: str) -> bool:
    return len(adrg_code) >= 2 and "A" <= adrg_code[1] <= "J"


def pack_facts(compiled: CompiledPack) -> PackFacts:
    """The :class:`PackFacts` of a compiled pack."""
    n_proc = len(compiled.proc_codes)
    names = compiled.set_names.to_pylist()
    or_proc = _set_members(compiled, names.index(OR_PROCEDURE_SET)) if OR_PROCEDURE_SET in names else np.zeros(
        n_proc, dtype=bool)
    adrg_codes = compiled.adrg_rule_ids.to_pylist()
    takes = np.zeros((len(compiled.mdc_codes), n_proc), dtype=bool)
    for m in range(len(compiled.mdc_codes)):
        sets: set[int] = set()
        for r in range(compiled.mdc_adrg_start[m], compiled.mdc_adrg_start[m + 1]):
            target = compiled.adrg_target[r]
            code = compiled.adrg_codes[target].as_py() if target >= 0 else adrg_codes[r]
            if _is_surgical(code):
                sets |= _proc_sets_of_program(compiled, compiled.adrg_entry[r])
        for s in sets:
            takes[m] |= _set_members(compiled, s)
    return PackFacts(or_proc=or_proc, surgical_takes=takes,
                     dx_inputs=compiled.dx_inputs.to_numpy(zero_copy_only=False).astype(str),
                     proc_inputs=compiled.proc_inputs.to_numpy(zero_copy_only=False).astype(str))


__all__ = ["OR_PROCEDURE_SET", "PackFacts", "pack_facts", "reachable_atoms"]
