"""Classes of codes the record rules test, evaluated once per distinct code.

* :func:`in_ranges` — code ranges of the rule book (``"T90-T98, E64"``) over an
  Arrow array of codes: a code is in ``LOW-HIGH`` when it starts like the
  bounds (a letter where they have a letter, a digit for a digit, so ``XYZ.6``
  is in no ICD-10 range), its first ``len(LOW)`` characters are not before
  ``LOW`` and its first ``len(HIGH)`` characters are not after ``HIGH``
  (upper case, surrounding spaces ignored).
* :func:`pack_sex_diagnoses` — the diagnoses a pack restricts to one sex, read
  from its compiled MDC entry rules (see the function).
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audit.rulebook import code_ranges
from foundation.remembered import per_text
from icd_tables.compiled import (
    ACCEPT,
    ATOM_CMP,
    ATOM_FIELDS,
    ATOM_IN,
    ATOM_KIND,
    ATOM_NUM,
    ATOM_OP,
    ATOM_SET,
    ATOM_VALUE,
    FIELD_BITS,
    INS_ATOM,
    INS_FALSE,
    INS_TRUE,
    NUMERIC_ORDER,
    REJECT,
    CompiledPack,
)
from icd_tables.rules.ir import OPERATORS, Field


def clean_codes(codes: pa.Array) -> pa.Array:
    """Codes in upper case without surrounding spaces, nulls as ``""`` (the form ranges compare)."""
    return pc.utf8_upper(pc.utf8_trim_whitespace(pc.fill_null(codes.cast(pa.string()), "")))


def _classified(codes: pa.Array | list, question: tuple, classify) -> np.ndarray:
    """``classify`` (Arrow text in, bool per text out) of each code, remembered per distinct code."""
    texts = codes if isinstance(codes, list) else codes.to_pylist()
    return np.array(per_text(texts, question,
                             lambda new: classify(pa.array(new, pa.string())).tolist()), dtype=bool).reshape(-1)


def in_ranges(codes: pa.Array | list, text: str) -> np.ndarray:
    """Boolean per code: inside one of the ranges ``text`` (see the module docstring).

    Parameters
    ----------
    codes : pyarrow.Array or list of str
        Codes as :func:`clean_codes` returns them (a list: already read out of Arrow, as a batch's
        distinct codes are, once for all its rules).
    text : str
        Code ranges as written in the rule book.
    """
    return _classified(codes, ("ranges", text), lambda distinct: _in_ranges(distinct, text))


def _in_ranges(codes: pa.Array, text: str) -> np.ndarray:
    hit = np.zeros(len(codes), dtype=bool)
    for low, high in code_ranges(text):
        above = pc.greater_equal(pc.utf8_slice_codeunits(codes, 0, len(low)), low)
        below = pc.less_equal(pc.utf8_slice_codeunits(codes, 0, len(high)), high)
        shaped = pc.and_(pc.match_substring_regex(codes, _shape(low)), pc.match_substring_regex(codes, _shape(high)))
        hit |= pc.and_(pc.and_(above, below), shaped).to_numpy(zero_copy_only=False)
    return hit


def _shape(bound: str) -> str:
    """A regular expression for codes starting like ``bound``: a letter where it has a letter, a digit for a digit."""
    return "^" + "".join("[A-Z]" if c.isalpha() else "[0-9]" if c.isdigit() else re.escape(c) for c in bound)


def matches(codes: pa.Array | list, pattern: str) -> np.ndarray:
    """Boolean per code (Arrow or a list of text): the regular expression ``pattern`` matches (searched, anchor
    with ``^``)."""
    return _classified(codes, ("pattern", pattern),
                       lambda distinct: pc.match_substring_regex(distinct, pattern).to_numpy(zero_copy_only=False))


def set_members(cp: CompiledPack, names) -> np.ndarray:
    """Boolean per grouper diagnosis code (``cp.dx_codes``): a member of one of the pack's sets ``names``."""
    wanted = [i for i, name in enumerate(cp.set_names.to_pylist()) if name in set(names)]
    return _dx_in_sets(cp, wanted)


def _dx_in_sets(cp: CompiledPack, set_ids) -> np.ndarray:
    owner = np.repeat(np.arange(len(cp.dx_codes)), np.diff(cp.dx_member_start))
    out = np.zeros(len(cp.dx_codes), dtype=bool)
    out[owner[np.isin(cp.dx_member_set, np.asarray(list(set_ids), dtype=np.int64))]] = True
    return out


def _facts_on_every_path(cp: CompiledPack, entry: int) -> frozenset | None:
    """The ``(atom, outcome)`` tests that every accepting path of a jump program passes; None if none accepts.

    A program is a DAG (instructions only jump to ones emitted earlier), so
    one memoised pass visits each instruction once.
    """
    memo: dict[int, frozenset | None] = {ACCEPT: frozenset(), REJECT: None}

    def visit(pc_: int) -> frozenset | None:
        if pc_ in memo:
            return memo[pc_]
        atom, on_true, on_false = (int(cp.ins[pc_, k]) for k in (INS_ATOM, INS_TRUE, INS_FALSE))
        paths = [facts | {(atom, outcome)}
                 for facts, outcome in ((visit(on_true), True), (visit(on_false), False)) if facts is not None]
        memo[pc_] = frozenset.intersection(*paths) if paths else None
        return memo[pc_]

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(cp.ins) + 100))
    try:
        return visit(int(entry))
    finally:
        sys.setrecursionlimit(limit)


def pack_sex_diagnoses(cp: CompiledPack) -> dict[int, np.ndarray]:
    """Grouper diagnosis codes the pack restricts to one sex: ``{1: male only, 2: female only}``.

    An MDC *requires sex v* when every way into it tests ``XB = v`` true (MDC
    M: 1, MDC N: 2 in the national tables).  Its principal-diagnosis lists are
    the code sets that every way into it tests true on the principal
    diagnosis.  A code is restricted to sex v when it is in such a list of an
    MDC requiring v and in no list of an MDC that does not (so a code that
    MDC M and MDC N both list, or another MDC lists too, is not restricted).

    Returns
    -------
    dict
        Sex (1, 2) → boolean array over ``cp.dx_codes``.
    """
    sex_num = NUMERIC_ORDER.index(Field.SEX)
    equals = OPERATORS.index("=")
    listed = {1: set(), 2: set(), None: set()}
    for entry in cp.mdc_entry:
        facts = _facts_on_every_path(cp, int(entry))
        if not facts:
            continue
        held = [cp.atoms[atom] for atom, outcome in facts if outcome]
        sexes = {int(a[ATOM_VALUE]) for a in held
                 if a[ATOM_KIND] == ATOM_CMP and a[ATOM_NUM] == sex_num and a[ATOM_OP] == equals}
        sets = {int(a[ATOM_SET]) for a in held
                if a[ATOM_KIND] == ATOM_IN and a[ATOM_FIELDS] & FIELD_BITS[Field.PRINCIPAL_DX]}
        sex = next(iter(sexes)) if len(sexes) == 1 and next(iter(sexes)) in (1, 2) else None
        listed[sex] |= sets
    members = {key: _dx_in_sets(cp, ids) for key, ids in listed.items()}
    return {
        1: members[1] & ~members[2] & ~members[None],
        2: members[2] & ~members[1] & ~members[None],
    }


__all__ = ["clean_codes", "in_ranges", "matches", "pack_sex_diagnoses", "set_members"]
