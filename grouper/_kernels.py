"""Numba kernels that group encoded records.  Private: use :class:`grouper.Grouper`.

Inputs are integer arrays only.  Diagnoses of record ``i`` are
``dx_ids[dx_start[i]:dx_start[i + 1]]`` (principal first, ``-1`` for a code
the pack cannot map); procedures likewise (principal procedure first).
``nums`` holds the numeric fields in :data:`icd_tables.compiled.NUMERIC_ORDER`
rows with :data:`icd_tables.compiled.MISSING` for a missing value (the
department as the index of its text, see :mod:`icd_tables.compiled`).  Pack
arrays are arguments, never globals.

Per record the kernel (1) reads the diagnoses in one pass, rejecting an
unmappable code, OR-ing the set bitsets of the principal and of the secondary
diagnoses and finding the first secondary diagnosis that counts as MCC and as
CC after exclusion, then the procedures likewise (one loop per list: the exit of
a loop as long as the record's list is a branch hard to predict; there were five),
(2) evaluates the ``length(...)`` atoms, if the pack has any, (3) runs the
record checks (the MCC and CC found in (1) are kept only
for a record that passes them), (4) walks the decision
table, running each row's jump program until one accepts; an ADRG row none
of whose DRG rows holds does not match, and the walk goes on.  (5) Packs that
regroup (``regroup_alone``) walk an ungroupable record again with each
secondary procedure alone as its only procedure.

An ``in`` atom over several fields (``{ZYZD, QTZD} in S``) tests the set's bit
in each of the four fields' bitsets at once (``_fields_in_set``, branch-free)
and ANDs the result with its fields' mask; the kernel used to OR, per record,
a bitset for each field combination the rules read, which cost more than the
tests it served.

The walk skips rows that cannot hold, in the order the table gives: per
principal diagnosis and per principal procedure a bitset of the MDCs and one
of the ADRG rows whose rule does not start by requiring that code in a set it
is not in; the walk visits the set bits of their AND (``trailing_zeros``), not
every row with a branch each.  A candidate whose rule is only that test holds
(``mdc_decided``, ``adrg_decided``: most rules), so its program is not run.
Most ADRGs split into DRGs by MCC and CC alone; their DRG is looked up
by ``2 * has_mcc + has_cc`` (``adrg_cc_drg``) instead of running one program
per DRG row.

Rows of random codes miss the caches, so the loop prefetches the table rows of
the record ``PREFETCH_AHEAD`` records on, and the layout keeps the lines a
record touches few: a code's set bitset is padded to whole cache lines (eight
words, one line), the CC exclusion columns of a diagnosis share one row
(``dx_cc``), instructions are int32 (32 bytes; ``P_BIT`` a bit index), and the
tables read at random lie cache-line aligned in one arena mapped with 2 MiB
pages where the system allows (their few MiB span more 4 KiB pages than the
TLB holds).  Measured on the golden 1.1 records tiled to 200k, one thread,
interleaved against the kernel before (int64 instructions, unpadded rows, three
CC arrays, DRG programs always run, five loops over a record's codes, per-record
field-combination bitsets, every candidate's program run), best of 20, both
orders: 1.1 about 230 → 140 ns/record (4.3 → 7.0 M records/s), zhejiang-2022
220 → 126, guangxi-2022 220 → 128.  By part (each part's share measured by
leaving it out): walk 60 → 40, record checks 49 → 34, reading the codes
(unmapped check, set bits, MCC/CC, the former per-record field-combination
bitsets) 75 → 34, the rest (prefetch, writes) 35 → 26.  Tried and not kept,
as not measurably faster: one row per code holding all its columns, a
branch-free comparison, running the numeric record checks one check at a time
over a chunk, reordering the atom kinds, prefetching more codes or further
ahead.

Helpers take plain arrays rather than tuples of arrays: passing a large tuple
to a non-inlined function copies it on every call, which cost 50x here.  The
per-record loop (``_group_records``) allocates nothing and runs without Numba's
runtime (:data:`foundation.numba_options.NO_ALLOC`): with it, every array handed to
an inlined helper was reference-counted (an atomic increment and decrement) on
every call, 40% of the kernel's time.
"""

from __future__ import annotations

import mmap
from typing import NamedTuple

import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import trailing_zeros

from foundation.numba_intrinsics import prefetch
from foundation.numba_options import CHUNK, JIT, NO_ALLOC, PARALLEL
from foundation.remembered import per_object
from icd_tables.compiled import (
    ACCEPT,
    REJECT,
    ATOM_CC,
    ATOM_CMP,
    ATOM_COUNT,
    ATOM_FIELDS,
    ATOM_IN,
    ATOM_KIND,
    ATOM_MCC,
    ATOM_MCC_OR_CC,
    ATOM_PRESENT,
    ATOM_SET,
    ATOM_SIZE,
    MISSING,
    OUTCOME_OK,
    OUTCOME_QY,
    INS_ATOM,
    INS_FALSE,
    CompiledPack,
)
from icd_tables.rules.ir import OPERATORS

STATUS_OK, STATUS_QY, STATUS_UNGROUPABLE, STATUS_INVALID = range(4)
#: How many records ahead the kernel prefetches table rows.
PREFETCH_AHEAD = 4
#: Columns of the kernel's instruction table (see ``_program_table``).
P_KIND, P_ARG, P_WORD, P_BIT, P_OP, P_VALUE, P_TRUE, P_FALSE = range(8)
#: Columns of ``KernelTables.dx_cc``.
DX_CCE, DX_MCC_EXCL, DX_CC_EXCL = range(3)
PROG_WIDTH = 8
(
    REASON_NONE,
    REASON_DX_UNMAPPED,
    REASON_PROC_UNMAPPED,
    REASON_CHECK,
    REASON_NO_MDC,
    REASON_QY,
    REASON_MDC_FALLBACK,
) = range(7)


class KernelTables(NamedTuple):
    """The numeric arrays of a :class:`CompiledPack` the kernels read."""

    dx_bits: np.ndarray
    proc_bits: np.ndarray
    dx_mdcs: np.ndarray  # uint64 (dx codes, MDC words): the candidate MDCs of each principal diagnosis
    proc_mdcs: np.ndarray  # the same by principal procedure; one more last row: no procedure
    adrg_dx_ok: np.ndarray  # uint64 (dx codes, ADRG words): candidate ADRG rows by principal diagnosis
    adrg_proc_ok: np.ndarray  # the same by principal procedure; one more last row: no procedure
    dx_cc: np.ndarray  # int32 (dx codes, 4): DX_CCE, DX_MCC_EXCL, DX_CC_EXCL of the compiled pack, one load
    prog: np.ndarray
    count_sets: np.ndarray
    count_masks: np.ndarray
    check_entry: np.ndarray
    mdc_entry: np.ndarray
    mdc_decided: np.ndarray  # bool per MDC: its candidacy decides it (``_decided_by_candidacy``)
    mdc_adrg_start: np.ndarray
    adrg_entry: np.ndarray
    adrg_decided: np.ndarray  # bool per ADRG row: likewise
    adrg_outcome: np.ndarray
    adrg_drg_start: np.ndarray
    adrg_cc_drg: np.ndarray  # int32 (ADRG rows, 4): the DRG by MCC and CC (see ``_drg_by_complications``)
    drg_entry: np.ndarray
    drg_target: np.ndarray
    regroup_alone: np.ndarray
    n_set_words: int

    @classmethod
    def from_pack(cls, compiled: CompiledPack) -> "KernelTables":
        derived = _program_table(compiled.atoms, compiled.ins)
        words = derived["n_set_words"]
        derived["dx_bits"] = _code_bitsets(compiled.dx_member_start, compiled.dx_member_set, words)
        derived["proc_bits"] = _code_bitsets(compiled.proc_member_start, compiled.proc_member_set, words)
        derived["dx_mdcs"] = _candidate_mdcs(
            derived["prog"], compiled.mdc_entry, derived["dx_bits"], 1
        )
        no_procedure = np.zeros((1, words), dtype=np.uint64)
        derived["proc_mdcs"] = _candidate_mdcs(derived["prog"], compiled.mdc_entry,
                                               np.vstack([derived["proc_bits"], no_procedure]), 4)
        derived["mdc_decided"] = _decided_by_candidacy(derived["prog"], compiled.mdc_entry, (1, 4))
        derived["adrg_decided"] = _decided_by_candidacy(derived["prog"], compiled.adrg_entry, (1, 4))
        derived["adrg_dx_ok"] = _candidate_adrgs(compiled, compiled.dx_member_start, compiled.dx_member_set, 1)
        proc_start = np.append(compiled.proc_member_start, compiled.proc_member_start[-1])  # + no procedure
        derived["adrg_proc_ok"] = _candidate_adrgs(compiled, proc_start, compiled.proc_member_set, 4)
        derived["adrg_cc_drg"] = _drg_by_complications(
            derived["prog"], compiled.adrg_drg_start, compiled.drg_entry, compiled.drg_target
        )
        derived["dx_cc"] = np.stack(
            [compiled.cce, compiled.mcc_excl, compiled.cc_excl, np.full_like(compiled.cce, -1)], axis=1)
        derived.update(_huge_page_arena({name: derived[name] for name in HOT}))
        values = {name: getattr(compiled, name) for name in cls._fields if name not in derived}
        return cls(**values, **derived)

    def with_blank_codes(self) -> "KernelTables":
        """These tables plus one last diagnosis and one last procedure code in no set, neither MCC nor CC."""
        return self._replace(
            dx_bits=np.vstack([self.dx_bits, np.zeros((1, self.dx_bits.shape[1]), np.uint64)]),
            proc_bits=np.vstack([self.proc_bits, np.zeros((1, self.proc_bits.shape[1]), np.uint64)]),
            dx_cc=np.vstack([self.dx_cc, np.full((1, self.dx_cc.shape[1]), -1, self.dx_cc.dtype)]),
        )


def _candidate_mdcs(prog, mdc_entry, code_bits, field):
    """Per code (its set bits ``code_bits``), a bitset of the MDCs whose entry rule it does not rule out as
    the principal diagnosis (``field`` 1) or as the principal procedure (4).

    An entry rule whose first test is "principal diagnosis in S" and which fails
    when that test fails cannot hold for a principal outside S, so the walk
    skips it for such records; likewise "principal procedure in S" (MDC A's,
    which every record would otherwise run first).  Every other MDC stays a
    candidate for all codes.
    """
    n_codes = code_bits.shape[0]
    keep = np.ones((n_codes, len(mdc_entry)), dtype=bool)
    for m, pc in enumerate(mdc_entry):
        if pc < 0 or prog[pc, P_KIND] != ATOM_IN or prog[pc, P_FALSE] != REJECT:
            continue
        if prog[pc, P_ARG] != field:
            continue
        keep[:, m] = ((code_bits[:, prog[pc, P_WORD]] >> np.uint64(prog[pc, P_BIT])) & np.uint64(1)) != 0
    words = (len(mdc_entry) + 63) // 64
    bits = np.packbits(keep, axis=1, bitorder="little")
    padded = np.zeros((n_codes, words * 8), dtype=np.uint8)
    padded[:, :bits.shape[1]] = bits
    return padded.view("<u8")


def _decided_by_candidacy(prog, entries, fields):
    """Per rule (entry points ``entries``): is it the one test "the code of a field in ``fields`` is in S",
    accepted when it holds?

    Most MDC and ADRG rules are, and the candidate bitsets (``_candidate_mdcs``,
    ``_candidate_adrgs``, by principal diagnosis and principal procedure)
    already answer that test: the walk takes such a candidate without running
    its program.
    """
    pc = np.maximum(entries, 0)
    return ((entries >= 0) & (prog[pc, P_KIND] == ATOM_IN) & np.isin(prog[pc, P_ARG], fields)
            & (prog[pc, P_TRUE] == ACCEPT) & (prog[pc, P_FALSE] == REJECT))


def _candidate_adrgs(compiled, member_start, member_set, field):
    """Per code (CSR ``member_start``/``member_set`` of its sets), a bitset over ADRG rows: a row's bit is
    clear when its rule starts by requiring the code in ``field`` (principal diagnosis 1, principal
    procedure 4) to be in a set this code is not in.

    Such a rule cannot hold for a record with this code there, so the walk skips it.
    """
    entry = compiled.adrg_entry
    pc = np.maximum(entry, 0)
    atom = compiled.atoms[compiled.ins[pc, INS_ATOM]]
    tested = ((entry >= 0) & (atom[:, ATOM_KIND] == ATOM_IN) & (atom[:, ATOM_FIELDS] == field)
              & (compiled.ins[pc, INS_FALSE] == REJECT))
    words = (len(entry) + 63) // 64
    others = np.flatnonzero(~tested)
    untested = _code_bitsets(np.array([0, len(others)]), others, words)
    rows = np.flatnonzero(tested)
    rows = rows[np.argsort(atom[rows, ATOM_SET], kind="stable")]
    sets = atom[rows, ATOM_SET]
    set_ids = np.arange(max(int(member_set.max(initial=-1)), int(sets.max(initial=-1))) + 1)
    first_of_set = np.searchsorted(sets, set_ids)
    count_of_set = np.searchsorted(sets, set_ids, side="right") - first_of_set  # the tested rows of each set
    first, count = first_of_set[member_set], count_of_set[member_set]
    total = int(count.sum())
    taken = rows[np.repeat(first, count) + np.arange(total) - np.repeat(np.cumsum(count) - count, count)]
    code = np.repeat(np.repeat(np.arange(len(member_start) - 1), np.diff(member_start)), count)
    start = np.zeros(len(member_start), dtype=np.int64)
    np.cumsum(np.bincount(code, minlength=len(member_start) - 1), out=start[1:])
    return _code_bitsets(start, taken, words) | untested


#: In ``adrg_cc_drg``: no DRG row of the ADRG holds (the ADRG fails); run the DRG rows' programs.
NO_DRG, RUN_DRGS = -1, -2


def _drg_by_complications(prog, adrg_drg_start, drg_entry, drg_target):
    """Per ADRG row and ``2 * has_mcc + has_cc``, the DRG its DRG rows give, :data:`NO_DRG`, or :data:`RUN_DRGS`
    where some DRG row's program tests more than the MCC and CC.

    Most ADRGs split by complications alone (with MCC, with CC, without), so the
    walk looks the DRG up instead of running one program per DRG row.
    """
    by_complications = (ATOM_MCC, ATOM_CC, ATOM_MCC_OR_CC)

    def reachable(pc):
        seen, todo = set(), [pc]
        while todo:
            pc = todo.pop()
            if pc >= 0 and pc not in seen:
                seen.add(pc)
                todo += [int(prog[pc, P_TRUE]), int(prog[pc, P_FALSE])]
        return seen

    def holds(pc, mcc, cc):
        while pc >= 0:
            hit = {ATOM_MCC: mcc, ATOM_CC: cc, ATOM_MCC_OR_CC: mcc or cc}[int(prog[pc, P_KIND])]
            pc = int(prog[pc, P_TRUE] if hit else prog[pc, P_FALSE])
        return pc == ACCEPT

    out = np.full((len(adrg_drg_start) - 1, 4), RUN_DRGS, dtype=np.int32)
    for r in range(len(out)):
        rows = range(adrg_drg_start[r], adrg_drg_start[r + 1])
        if all(prog[pc, P_KIND] in by_complications for d in rows for pc in reachable(int(drg_entry[d]))):
            for state in range(4):
                held = [d for d in rows if holds(int(drg_entry[d]), state >= 2, state & 1 == 1)]
                out[r, state] = drg_target[held[0]] if held else NO_DRG
    return out


#: The tables whose rows the kernel reads at random (by code) and the instructions, in ``_huge_page_arena``.
HOT = ("dx_bits", "proc_bits", "dx_mdcs", "dx_cc", "adrg_dx_ok", "adrg_proc_ok", "prog")
HUGE_PAGE = 2 << 20


def _huge_page_arena(tables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Copies of ``tables``, each starting on a cache line (a row of 64 bytes then fills one line), together in
    memory mapped with 2 MiB pages where the system allows (``madvise``).

    Rows of random codes miss the caches and, in 4 KiB pages, the TLB: a few
    MiB of tables span more pages than the TLB holds.
    """
    offsets, total = {}, 0
    for name, values in tables.items():
        offsets[name] = total
        total += -(-values.nbytes // 64) * 64
    size = -(-total // HUGE_PAGE) * HUGE_PAGE
    # private and anonymous where the system has such mappings (huge pages are granted to those only); elsewhere
    # (Windows) a plain anonymous mapping
    private = {"flags": mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS} if hasattr(mmap, "MAP_ANONYMOUS") else {}
    region = mmap.mmap(-1, size + HUGE_PAGE, **private)
    memory = np.frombuffer(region, dtype=np.uint8)  # keeps the mapping alive
    skip = -memory.ctypes.data % HUGE_PAGE
    if hasattr(region, "madvise") and hasattr(mmap, "MADV_HUGEPAGE"):
        region.madvise(mmap.MADV_HUGEPAGE, skip, size)
    out = {}
    for name, values in tables.items():
        start = skip + offsets[name]
        out[name] = memory[start:start + values.nbytes].view(values.dtype).reshape(values.shape)
        out[name][...] = values
    return out


def _code_bitsets(start: np.ndarray, members: np.ndarray, words: int) -> np.ndarray:
    """One row of set bits per code: a record's bitset is then the OR of its codes' rows."""
    n = len(start) - 1
    bits = np.zeros((max(n, 1), words), dtype=np.uint64)
    code = np.repeat(np.arange(n), np.diff(start))
    np.bitwise_or.at(bits, (code, members >> 6), np.uint64(1) << (members & 63).astype(np.uint64))
    return bits


def _program_table(atoms: np.ndarray, ins: np.ndarray) -> dict:
    """Denormalise atoms into the instructions, so one row load tests one atom.

    An ``in`` atom over several fields (``{ZYZD, QTZD} in S``) keeps their mask
    in ``P_ARG``: it holds when any of those fields has a code in S (``_run``).
    """
    counts = np.flatnonzero(atoms[:, ATOM_KIND] == ATOM_COUNT)
    count_index = {int(a): i for i, a in enumerate(counts)}
    prog = np.zeros((len(ins), PROG_WIDTH), dtype=np.int32)
    for pc, (a, on_true, on_false) in enumerate(ins):
        kind, fields, set_id, num, op, value = (int(x) for x in atoms[a])
        if kind == ATOM_IN:
            arg = fields
        elif kind == ATOM_COUNT:
            arg = count_index[a]
        elif kind == ATOM_SIZE:
            arg = 0 if fields & 3 else 1  # diagnoses or procedures
        else:
            arg = num
        op, value = _int32_comparison(op, value)
        prog[pc] = (kind, arg, max(set_id, 0) >> 6, max(set_id, 0) & 63, op, value, on_true, on_false)
    return {
        "prog": prog,
        "count_sets": atoms[counts, ATOM_SET].astype(np.int64),
        "count_masks": atoms[counts, ATOM_FIELDS].astype(np.int64),
        # whole cache lines: a code's bitset row is then one line (eight words), as a prefetch fetches it
        "n_set_words": -(-((int(atoms[:, ATOM_SET].max(initial=0)) >> 6) + 1) // 8) * 8,
    }


def _int32_comparison(op: int, value: int) -> tuple[int, int]:
    """``(op, value)`` with ``value`` an int32 that compares every int32 but :data:`MISSING` (never compared)
    as ``value`` does: beyond the int32 range a comparison is always true or always false."""
    low, high = int(MISSING) + 1, np.iinfo(np.int32).max
    if low <= value <= high:
        return op, value
    holds = OPERATORS[op] in (("<", "<=", "!=") if value > high else (">", ">=", "!="))
    return OPERATORS.index(">=" if holds else "<"), low


class Batch(NamedTuple):
    """One batch of encoded records."""

    dx_start: np.ndarray  # int64, n + 1
    dx_ids: np.ndarray  # int32
    proc_start: np.ndarray  # int64, n + 1
    proc_ids: np.ndarray  # int32
    nums: np.ndarray  # int32, (5, n)


@njit(**NO_ALLOC)
def interleave_codes(first, rest_start, rest, start, out):  # pragma: no cover - compiled
    """Each record's code ``first[i]`` followed by its codes ``rest[rest_start[i]:rest_start[i + 1]]`` (its
    diagnoses: principal, then secondary): record ``i``'s are ``out[start[i]:start[i + 1]]``."""
    k = 0
    start[0] = 0
    for i in range(first.shape[0]):
        out[k] = first[i]
        k += 1
        for j in range(rest_start[i], rest_start[i + 1]):
            out[k] = rest[j]
            k += 1
        start[i + 1] = k


class Outputs(NamedTuple):
    """Per-record results, written by the kernel."""

    status: np.ndarray  # int8
    reason: np.ndarray  # int8
    reason_arg: np.ndarray  # int64: flat code position or check index, -1
    mdc: np.ndarray  # int32: MDC row, -1
    adrg_row: np.ndarray  # int32: ADRG row, -1
    drg: np.ndarray  # int32: index into drg_codes (0 = ungroupable DRG)
    mcc_pos: np.ndarray  # int64: flat position of the first MCC diagnosis, -1
    cc_pos: np.ndarray  # int64: flat position of the first CC diagnosis, -1

    @classmethod
    def empty(cls, n: int) -> "Outputs":
        return cls(
            np.empty(n, np.int8), np.empty(n, np.int8), np.empty(n, np.int64),
            np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n, np.int32),
            np.empty(n, np.int64), np.empty(n, np.int64),
        )


@njit(**JIT, inline="always")
def _compare(value, op, ref):
    if op == 0:
        return value == ref
    if op == 1:
        return value != ref
    if op == 2:
        return value < ref
    if op == 3:
        return value <= ref
    if op == 4:
        return value > ref
    return value >= ref


@njit(**JIT, inline="always")
def _count_in_set(s, mask, ids, lo, hi, code_bits, first_bit, seen):
    """Distinct codes among ``ids[lo:hi]`` (masked by position) that are in set ``s``."""
    word, shift = s >> 6, np.uint64(s & 63)
    n = 0
    for k in range(lo, hi):
        if not (mask & (first_bit if k == lo else first_bit << 1)):
            continue
        code = ids[k]
        if not (code_bits[code, word] >> shift) & np.uint64(1):
            continue
        new = True
        for j in range(n):
            if seen[j] == code:
                new = False
                break
        if new:
            seen[n] = code
            n += 1
    return n


@njit(**JIT, inline="always")
def _fields_in_set(fields, word, bit):
    """The mask (FIELD_BITS) of the code fields holding a code in the set of ``word``, ``bit``.

    Branch-free: an ``in`` atom ANDs it with its own fields' mask, so that no
    per-record OR of each field combination the rules read is needed.
    """
    shift, one = np.uint64(bit), np.uint64(1)
    return np.int64((fields[0, word] >> shift & one)
                    | (fields[1, word] >> shift & one) << np.uint64(1)
                    | (fields[2, word] >> shift & one) << np.uint64(2)
                    | (fields[3, word] >> shift & one) << np.uint64(3))


@njit(**JIT, inline="always")
def _run(pc, prog, i, nums, fields, has_mcc, has_cc, counts, n_dx, n_proc):
    """Run the jump program at ``pc`` for record ``i`` (``n_dx``/``n_proc`` codes, the set bits of its four code
    fields ``fields``); True when it reaches ACCEPT."""
    while pc >= 0:
        kind = prog[pc, P_KIND]
        if kind == ATOM_IN:
            hit = (_fields_in_set(fields, prog[pc, P_WORD], prog[pc, P_BIT]) & prog[pc, P_ARG]) != 0
        elif kind == ATOM_MCC:
            hit = has_mcc
        elif kind == ATOM_CC:
            hit = has_cc
        elif kind == ATOM_MCC_OR_CC:
            hit = has_mcc or has_cc
        elif kind == ATOM_CMP:
            value = nums[prog[pc, P_ARG], i]
            hit = value != MISSING and _compare(np.int64(value), prog[pc, P_OP], prog[pc, P_VALUE])
        elif kind == ATOM_PRESENT:
            hit = nums[prog[pc, P_ARG], i] != MISSING
        elif kind == ATOM_SIZE:
            hit = _compare(np.int64(n_dx if prog[pc, P_ARG] == 0 else n_proc), prog[pc, P_OP], prog[pc, P_VALUE])
        else:  # ATOM_COUNT, evaluated per record beforehand
            hit = _compare(counts[prog[pc, P_ARG]], prog[pc, P_OP], prog[pc, P_VALUE])
        pc = prog[pc, P_TRUE] if hit else prog[pc, P_FALSE]
    return pc == ACCEPT


@njit(**JIT, inline="always")
def _or_row(fields, field, code_bits, code):
    for w in range(fields.shape[1]):
        fields[field, w] |= code_bits[code, w]


@njit(**JIT, inline="always")
def _read_diagnoses(fields, dx_bits, dx_cc, dx_ids, d0, d1):
    """One pass over a record's diagnoses (principal first, at least one): ``fields[0]`` the principal's set
    bits, ``fields[1]`` the OR of the secondary diagnoses'.  Returns the flat positions of the first unmapped
    code and of the first secondary diagnosis counting as MCC and as CC after exclusion (-1: none)."""
    for w in range(fields.shape[1]):
        fields[0, w] = 0
        fields[1, w] = 0
    principal = dx_ids[d0]
    if principal < 0:
        return d0, -1, -1
    _or_row(fields, 0, dx_bits, principal)
    excl = dx_cc[principal, DX_CCE]
    mcc_pos, cc_pos = -1, -1
    for k in range(d0 + 1, d1):
        code = dx_ids[k]
        if code < 0:
            return k, -1, -1
        _or_row(fields, 1, dx_bits, code)
        mcc_excl, cc_excl = dx_cc[code, DX_MCC_EXCL], dx_cc[code, DX_CC_EXCL]
        if mcc_pos < 0 and mcc_excl >= 0 and mcc_excl != excl:
            mcc_pos = k
        if cc_pos < 0 and cc_excl >= 0 and cc_excl != excl:
            cc_pos = k
    return -1, mcc_pos, cc_pos


@njit(**JIT, inline="always")
def _read_procedures(fields, proc_bits, proc_ids, p0, p1):
    """Likewise ``fields[2]`` (the principal procedure's set bits) and ``fields[3]`` (the others'); returns the
    flat position of the first unmapped code (-1: none)."""
    for w in range(fields.shape[1]):
        fields[2, w] = 0
        fields[3, w] = 0
    for k in range(p0, p1):
        code = proc_ids[k]
        if code < 0:
            return k
        _or_row(fields, 2 if k == p0 else 3, proc_bits, code)
    return -1


@njit(**JIT, inline="always")
def _prefetch_record(dx_bits, dx_mdcs, dx_cc, adrg_dx_ok, proc_bits, proc_mdcs, adrg_proc_ok,
                     dx_ids, d0, proc_ids, p0):
    """Prefetch the table rows of a later record (diagnoses from ``d0``, procedures from ``p0``).

    The rows of random codes miss the caches; fetched a few records ahead they
    arrive while this record is grouped.  Branch-free: the principal and the
    next two diagnoses (past the record's end: another record's, harmless) and
    the principal procedure.
    """
    n_dx, n_proc = dx_ids.shape[0], proc_ids.shape[0]
    if n_dx:
        code = dx_ids[min(d0, n_dx - 1)]
        prefetch(dx_bits, code)
        prefetch(dx_mdcs, code)
        prefetch(dx_cc, code)
        prefetch(adrg_dx_ok, code)
        for k in range(d0 + 1, d0 + 3):
            code = dx_ids[min(k, n_dx - 1)]
            prefetch(dx_bits, code)
            prefetch(dx_cc, code)
    if n_proc:
        code = proc_ids[min(p0, n_proc - 1)]
        prefetch(proc_bits, code)
        prefetch(adrg_proc_ok, code)
        prefetch(proc_mdcs, code)


@njit(**PARALLEL)
def _group_batch(t, b, out, max_codes):
    n = b.dx_start.shape[0] - 1
    n_chunks = (n + CHUNK - 1) // CHUNK
    for c in prange(n_chunks):
        _group_range(t, b, out, c * CHUNK, min(n, (c + 1) * CHUNK), max_codes)


@njit(**JIT, inline="always")
def _count_lengths(count_sets, count_masks, dx_bits, proc_bits, dx_ids, d0, d1, proc_ids, p0, p1, counts, seen):
    """The ``length`` counts of one record."""
    for a in range(count_sets.shape[0]):
        mask = count_masks[a]
        if mask & 3:
            counts[a] = _count_in_set(count_sets[a], mask, dx_ids, d0, d1, dx_bits, 1, seen)
        else:
            counts[a] = _count_in_set(count_sets[a], mask, proc_ids, p0, p1, proc_bits, 4, seen)


@njit(**JIT)
def _group_range(t, b, out, lo, hi, max_codes):
    """Group records ``lo:hi``; scratch buffers are this call's own, so threads share nothing."""
    _group_records(  # arrays, not the tuples: helpers inlined in a loop copy every field of a tuple they take
        t.dx_bits, t.proc_bits, t.count_sets, t.count_masks, t.dx_cc,
        t.prog, t.check_entry, t.dx_mdcs, t.proc_mdcs, t.mdc_entry, t.mdc_decided, t.adrg_decided, t.mdc_adrg_start,
        t.adrg_entry,
        t.adrg_outcome, t.adrg_drg_start, t.adrg_cc_drg, t.drg_entry, t.drg_target, t.regroup_alone[0] != 0,
        t.adrg_dx_ok, t.adrg_proc_ok,
        b.dx_start, b.dx_ids, b.proc_start, b.proc_ids, b.nums,
        out.status, out.reason, out.reason_arg, out.mdc, out.adrg_row, out.drg, out.mcc_pos, out.cc_pos,
        lo, hi, np.zeros((4, t.n_set_words), dtype=np.uint64),
        np.zeros(t.count_sets.shape[0], dtype=np.int64), np.empty(max_codes, dtype=np.int32)
    )


@njit(**NO_ALLOC)
def _group_records(dx_bits, proc_bits, count_sets, count_masks, dx_cc,
                   prog, check_entry, dx_mdcs, proc_mdcs, mdc_entry, mdc_decided, adrg_decided, mdc_adrg_start,
                   adrg_entry,
                   adrg_outcome, adrg_drg_start, adrg_cc_drg, drg_entry, drg_target, regroup_alone, adrg_dx_ok,
                   adrg_proc_ok,
                   dx_start, dx_ids, proc_start, proc_ids, nums,
                   status, reason, reason_arg, out_mdc, out_adrg, out_drg, out_mcc, out_cc,
                   lo, hi, fields, counts, seen):
    for i in range(lo, hi):
        _prefetch_record(dx_bits, dx_mdcs, dx_cc, adrg_dx_ok, proc_bits, proc_mdcs, adrg_proc_ok,
                         dx_ids, dx_start[min(i + PREFETCH_AHEAD, hi - 1)],
                         proc_ids, proc_start[min(i + PREFETCH_AHEAD, hi - 1)])
        out_mdc[i], out_adrg[i], out_drg[i] = -1, -1, 0
        reason_arg[i], out_mcc[i], out_cc[i] = -1, -1, -1
        d0, d1 = dx_start[i], dx_start[i + 1]
        p0, p1 = proc_start[i], proc_start[i + 1]

        bad, mcc_pos, cc_pos = _read_diagnoses(fields, dx_bits, dx_cc, dx_ids, d0, d1)
        if bad >= 0:
            status[i], reason[i], reason_arg[i] = STATUS_INVALID, REASON_DX_UNMAPPED, bad
            continue
        bad = _read_procedures(fields, proc_bits, proc_ids, p0, p1)
        if bad >= 0:
            status[i], reason[i], reason_arg[i] = STATUS_INVALID, REASON_PROC_UNMAPPED, bad
            continue

        _count_lengths(count_sets, count_masks, dx_bits, proc_bits, dx_ids, d0, d1, proc_ids, p0, p1, counts, seen)
        failed = -1
        for chk in range(check_entry.shape[0]):
            if not _run(check_entry[chk], prog, i, nums, fields, False, False, counts, d1 - d0, p1 - p0):
                failed = chk
                break
        if failed >= 0:
            status[i], reason[i], reason_arg[i] = STATUS_INVALID, REASON_CHECK, failed
            continue

        out_mcc[i], out_cc[i] = mcc_pos, cc_pos
        has_mcc, has_cc = mcc_pos >= 0, cc_pos >= 0

        principal, n_dx = dx_ids[d0], d1 - d0
        first_proc = proc_ids[p0] if p1 > p0 else adrg_proc_ok.shape[0] - 1
        m, r, drg = _walk(dx_mdcs, proc_mdcs, mdc_entry, mdc_decided, adrg_decided, mdc_adrg_start, adrg_entry,
                          adrg_drg_start, adrg_cc_drg, drg_entry, drg_target, adrg_dx_ok, adrg_proc_ok, prog, i, nums,
                          fields, has_mcc, has_cc, counts, principal, first_proc, n_dx, p1 - p0)
        if m < 0 and regroup_alone:
            for k in range(p0 + 1, p1):  # each secondary procedure alone; checks are not repeated
                _read_procedures(fields, proc_bits, proc_ids, k, k + 1)
                _count_lengths(count_sets, count_masks, dx_bits, proc_bits, dx_ids, d0, d1, proc_ids, k, k + 1,
                               counts, seen)
                m, r, drg = _walk(dx_mdcs, proc_mdcs, mdc_entry, mdc_decided, adrg_decided, mdc_adrg_start,
                                  adrg_entry, adrg_drg_start, adrg_cc_drg, drg_entry, drg_target, adrg_dx_ok,
                                  adrg_proc_ok, prog, i, nums, fields, has_mcc, has_cc, counts, principal, proc_ids[k],
                                  n_dx, 1)
                if m >= 0:
                    break
        if m < 0:
            status[i], reason[i] = STATUS_UNGROUPABLE, REASON_NO_MDC
            continue
        out_drg[i], out_mdc[i], out_adrg[i] = drg, m, r
        outcome = adrg_outcome[r]
        if outcome == OUTCOME_OK:
            status[i], reason[i] = STATUS_OK, REASON_NONE
        elif outcome == OUTCOME_QY:
            status[i], reason[i] = STATUS_QY, REASON_QY
        else:
            status[i], reason[i] = STATUS_UNGROUPABLE, REASON_MDC_FALLBACK


@njit(**JIT, inline="always")
def _walk(dx_mdcs, proc_mdcs, mdc_entry, mdc_decided, adrg_decided, mdc_adrg_start, adrg_entry, adrg_drg_start,
          adrg_cc_drg, drg_entry, drg_target, adrg_dx_ok, adrg_proc_ok, prog, i, nums, fields, has_mcc, has_cc, counts,
          principal, first_proc, n_dx, n_proc):
    """MDC → ADRG → DRG for record ``i``: (MDC, ADRG row, DRG) of the first MDC that takes it, or (-1, -1, 0)."""
    for w in range(dx_mdcs.shape[1]):
        candidates = dx_mdcs[principal, w] & proc_mdcs[first_proc, w]
        while candidates:
            m = w * 64 + trailing_zeros(candidates)
            candidates &= candidates - np.uint64(1)
            if not mdc_decided[m] and not _run(mdc_entry[m], prog, i, nums, fields, has_mcc, has_cc, counts, n_dx,
                                               n_proc):
                continue
            lo, hi = mdc_adrg_start[m], mdc_adrg_start[m + 1]
            for aw in range(lo >> 6, (hi + 63) >> 6):  # the candidate ADRG rows lo:hi, in order
                base = aw * 64
                rows = adrg_dx_ok[principal, aw] & adrg_proc_ok[first_proc, aw]
                if base < lo:
                    rows &= ~np.uint64(0) << np.uint64(lo - base)
                if hi - base < 64:
                    rows &= (np.uint64(1) << np.uint64(hi - base)) - np.uint64(1)
                while rows:
                    r = base + trailing_zeros(rows)
                    rows &= rows - np.uint64(1)
                    if not adrg_decided[r] and not _run(adrg_entry[r], prog, i, nums, fields, has_mcc, has_cc, counts,
                                                        n_dx, n_proc):
                        continue
                    drg = adrg_cc_drg[r, 2 * has_mcc + has_cc]
                    if drg >= 0:
                        return m, r, drg
                    if drg == NO_DRG:
                        continue
                    for d in range(adrg_drg_start[r], adrg_drg_start[r + 1]):  # none holds: the ADRG fails
                        if _run(drg_entry[d], prog, i, nums, fields, has_mcc, has_cc, counts, n_dx, n_proc):
                            return m, r, drg_target[d]
    return -1, -1, 0


@njit(**PARALLEL)
def _evaluate_batch(t, b, entries, out, max_codes):
    n = b.dx_start.shape[0] - 1
    n_chunks = (n + CHUNK - 1) // CHUNK
    for c in prange(n_chunks):
        _evaluate_range(t, b, entries, out, c * CHUNK, min(n, (c + 1) * CHUNK), max_codes)


@njit(**JIT)
def _evaluate_range(t, b, entries, out, lo, hi, max_codes):
    """``out[i, k]``: does rule program ``entries[k]`` hold for record ``i``."""
    fields = np.zeros((4, t.n_set_words), dtype=np.uint64)
    counts = np.zeros(t.count_sets.shape[0], dtype=np.int64)
    seen = np.empty(max_codes, dtype=np.int32)
    for i in range(lo, hi):
        d0, d1 = b.dx_start[i], b.dx_start[i + 1]
        p0, p1 = b.proc_start[i], b.proc_start[i + 1]
        _, mcc_pos, cc_pos = _read_diagnoses(fields, t.dx_bits, t.dx_cc, b.dx_ids, d0, d1)  # no unmapped codes here
        _read_procedures(fields, t.proc_bits, b.proc_ids, p0, p1)
        _count_lengths(t.count_sets, t.count_masks, t.dx_bits, t.proc_bits, b.dx_ids, d0, d1, b.proc_ids, p0, p1,
                       counts, seen)
        for k in range(entries.shape[0]):
            out[i, k] = _run(entries[k], t.prog, i, b.nums, fields, mcc_pos >= 0, cc_pos >= 0, counts, d1 - d0, p1 - p0)


def _longest_list(batch: Batch) -> int:
    return int(max(np.diff(batch.dx_start).max(), np.diff(batch.proc_start).max(), 1))


def evaluate_programs(tables: KernelTables, batch: Batch, entries: np.ndarray) -> np.ndarray:
    """Truth of each rule program (entry points ``entries``) for each record: bool array (records × programs).

    Unlike grouping, a record with unmapped codes is still evaluated: such a
    code reads as a code that belongs to no set and is neither MCC nor CC (the
    row :meth:`KernelTables.with_blank_codes` adds).  MCC/CC atoms see the
    record's MCC/CC after exclusion.
    """
    n = batch.dx_start.shape[0] - 1
    entries = np.ascontiguousarray(entries, dtype=np.int32)
    out = np.zeros((n, len(entries)), dtype=np.bool_)
    if n and len(entries):
        # made once per tables: it copies the code bitsets, which for a national pack takes longer than one record
        # takes to evaluate
        blank = per_object("with_blank_codes", (tables,), tables.with_blank_codes)
        batch = batch._replace(
            dx_ids=np.where(batch.dx_ids < 0, blank.dx_bits.shape[0] - 1, batch.dx_ids).astype(np.int32),
            proc_ids=np.where(batch.proc_ids < 0, blank.proc_bits.shape[0] - 1, batch.proc_ids).astype(np.int32),
        )
        _evaluate_batch(blank, batch, entries, out, _longest_list(batch))
    return out


def group_encoded(tables: KernelTables, batch: Batch) -> Outputs:
    """Group an encoded batch; one output row per record."""
    n = batch.dx_start.shape[0] - 1
    out = Outputs.empty(n)
    if n:
        _group_batch(tables, batch, out, _longest_list(batch))
    return out

