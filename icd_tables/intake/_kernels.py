"""Numba kernels of the code intake: split, format and look up code cells in one pass over Arrow buffers.

Private: use :class:`icd_tables.intake.codes.CodeNormalizer`.  Cells arrive as
the buffers of an Arrow string array (``offsets``, UTF-8 ``data``); the kernels
handle plain-ASCII cells and take a cell marked ``verbatim`` (already formatted
elsewhere, or not to be formatted) as written.  The formatting rules are those
of :mod:`icd_tables.intake.codes`, byte for byte:

* list cells that hold whitespace (``\\s`` of the regular expression: space,
  ``\\t \\n \\f \\r``), ``,`` or ``;``, a doubled ``|`` or a ``|`` at an end are
  *messy*; in a messy cell every maximal run of whitespace and separators that
  holds a separator becomes one ``|``, then whitespace (``\\v`` too) and ``|`` are
  trimmed from both ends (from the right end only, for ``|``, when the first slot
  may stay empty);
* single cells are trimmed of whitespace;
* a code the pack does not know as written, whose upper-cased form is the key of
  exactly one pack code, becomes that code.

Code tables are open-addressing hash tables (FNV-1a over the bytes, linear
probing, power-of-two size) of row indices into a string table.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from foundation.numba_options import JIT

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_BAR, _COMMA, _SEMI = ord("|"), ord(","), ord(";")


@njit(**JIT)
def _hash(data, start, end):  # pragma: no cover - compiled
    h = _FNV_OFFSET
    for k in range(start, end):
        h ^= np.uint64(data[k])
        h *= _FNV_PRIME
    return h


@njit(**JIT)
def build_table(key_offsets, key_data):  # pragma: no cover - compiled
    """Slots (int32, -1 empty) of a hash table over the strings of a string table; the first of equal keys wins."""
    n = key_offsets.shape[0] - 1
    size = 16
    while size < 2 * n + 16:
        size *= 2
    slots = np.full(size, -1, dtype=np.int32)
    mask = np.uint64(size - 1)
    for i in range(n):
        a, b = key_offsets[i], key_offsets[i + 1]
        slot = _hash(key_data, a, b) & mask
        while True:
            j = slots[slot]
            if j < 0:
                slots[slot] = i
                break
            if _equal(key_data, key_offsets[j], key_offsets[j + 1], key_data, a, b):
                break
            slot = (slot + np.uint64(1)) & mask
    return slots


@njit(**JIT)
def _equal(x, xa, xb, y, ya, yb):  # pragma: no cover - compiled
    if xb - xa != yb - ya:
        return False
    for k in range(xb - xa):
        if x[xa + k] != y[ya + k]:
            return False
    return True


@njit(**JIT)
def _find(slots, key_offsets, key_data, data, start, end):  # pragma: no cover - compiled
    """Row of the key equal to ``data[start:end]``, -1 when none."""
    mask = np.uint64(slots.shape[0] - 1)
    slot = _hash(data, start, end) & mask
    while True:
        j = slots[slot]
        if j < 0:
            return -1
        if _equal(key_data, key_offsets[j], key_offsets[j + 1], data, start, end):
            return j
        slot = (slot + np.uint64(1)) & mask


@njit(**JIT)
def _is_space(c):  # pragma: no cover - compiled
    """The regular expression's ``\\s``: space, tab, line feed, form feed, carriage return (not ``\\v``)."""
    return c == 32 or c == 9 or c == 10 or c == 12 or c == 13


@njit(**JIT)
def _is_trim(c):  # pragma: no cover - compiled
    """ASCII characters of the intake's whitespace (``\\v`` included)."""
    return c == 32 or (9 <= c <= 13)


@njit(**JIT)
def _is_separator(c):  # pragma: no cover - compiled
    return c == _BAR or c == _COMMA or c == _SEMI


@njit(**JIT)
def _messy(data, a, b):  # pragma: no cover - compiled
    if b > a and (data[a] == _BAR or data[b - 1] == _BAR):
        return True
    for k in range(a, b):
        c = data[k]
        if _is_space(c) or c == _COMMA or c == _SEMI:
            return True
        if c == _BAR and k + 1 < b and data[k + 1] == _BAR:
            return True
    return False


@njit(**JIT)
def _format_list(data, a, b, keep_leading_empty, scratch):  # pragma: no cover - compiled
    """A messy list cell with separator runs collapsed to ``|`` and its ends trimmed, into ``scratch``; its length."""
    w = 0
    k = a
    while k < b:
        c = data[k]
        if _is_space(c) or _is_separator(c):
            e = k
            has_sep = False
            while e < b and (_is_space(data[e]) or _is_separator(data[e])):
                if _is_separator(data[e]):
                    has_sep = True
                e += 1
            if has_sep:
                scratch[w] = _BAR
                w += 1
            else:
                for m in range(k, e):
                    scratch[w] = data[m]
                    w += 1
            k = e
        else:
            scratch[w] = c
            w += 1
            k += 1
    lo, hi = 0, w
    if keep_leading_empty:
        while lo < hi and _is_trim(scratch[lo]):
            lo += 1
    else:
        while lo < hi and (_is_trim(scratch[lo]) or scratch[lo] == _BAR):
            lo += 1
    while hi > lo and (_is_trim(scratch[hi - 1]) or scratch[hi - 1] == _BAR):
        hi -= 1
    for m in range(lo, hi):
        scratch[m - lo] = scratch[m]
    return hi - lo


@njit(**JIT)
def _put_code(src, a, b, out, w, exact, inputs_off, inputs_data, fold, keys_off, keys_data, spelling,
              fix_case, upper):  # pragma: no cover - compiled
    """Write one code at ``out[w:]``; returns (input row or -1, bytes written, case fixed)."""
    row = _find(exact, inputs_off, inputs_data, src, a, b)
    if row < 0 and fix_case and b > a:
        for k in range(b - a):
            c = src[a + k]
            upper[k] = c - 32 if 97 <= c <= 122 else c
        key = _find(fold, keys_off, keys_data, upper, 0, b - a)
        if key >= 0:
            row = spelling[key]
            sa, sb = inputs_off[row], inputs_off[row + 1]
            for k in range(sb - sa):
                out[w + k] = inputs_data[sa + k]
            return row, sb - sa, True
    for k in range(b - a):
        out[w + k] = src[a + k]
    return row, b - a, False


@njit(**JIT)
def _put_list(src, a, b, rows, piece_offsets, out, p, w, exact, inputs_off, inputs_data, fold, keys_off, keys_data,
              spelling, fix_case, upper):  # pragma: no cover - compiled
    """Write the ``|``-separated codes of ``src[a:b]`` (none when empty); returns (p, w, a case fixed)."""
    fixed = False
    if b > a:
        start = a
        for k in range(a, b + 1):
            if k == b or src[k] == _BAR:
                row, size, f = _put_code(src, start, k, out, w, exact, inputs_off, inputs_data, fold,
                                         keys_off, keys_data, spelling, fix_case, upper)
                fixed = fixed or f
                rows[p] = row
                w += size
                p += 1
                piece_offsets[p] = w
                start = k + 1
    return p, w, fixed


@njit(**JIT)
def encode_cells(offsets, data, valid, verbatim, is_list, keep_leading_empty, normalize,
                 exact, inputs_off, inputs_data, fold, keys_off, keys_data, spelling,
                 max_pieces, max_bytes):  # pragma: no cover - compiled
    """Split, format and look up the code cells of one column.

    Returns ``cell_start`` (int64, n + 1: codes of cell ``i`` are
    ``cell_start[i]:cell_start[i + 1]``), ``rows`` (int32 pack input row of each
    code, -1 when the pack does not know it), the codes as written after
    formatting (``piece_offsets`` int32 and ``piece_data``: an Arrow string
    array's buffers) and ``changed`` (bool per cell: formatting changed its
    text).  A single cell (``is_list`` false) is one code, null or not; a list
    cell that is null or empty after formatting has none.  ``max_pieces`` and
    ``max_bytes`` bound the output sizes.
    """
    n = offsets.shape[0] - 1
    cell_start = np.zeros(n + 1, dtype=np.int64)
    rows = np.empty(max_pieces, dtype=np.int32)
    piece_offsets = np.zeros(max_pieces + 1, dtype=np.int32)
    out = np.empty(max_bytes, dtype=np.uint8)
    changed = np.zeros(n, dtype=np.bool_)
    longest = 1
    for i in range(n):
        longest = max(longest, offsets[i + 1] - offsets[i])
    scratch = np.empty(longest, dtype=np.uint8)
    upper = np.empty(longest, dtype=np.uint8)
    p, w = 0, 0
    for i in range(n):
        a, b = offsets[i], offsets[i + 1]
        fmt = normalize and not verbatim[i]
        if not valid[i]:
            if not is_list:
                rows[p] = -1
                p += 1
                piece_offsets[p] = w
            cell_start[i + 1] = p
            continue
        if not is_list:
            if fmt:
                a0, b0 = a, b
                while a < b and _is_trim(data[a]):
                    a += 1
                while b > a and _is_trim(data[b - 1]):
                    b -= 1
                changed[i] = a != a0 or b != b0
            row, size, fixed = _put_code(data, a, b, out, w, exact, inputs_off, inputs_data, fold, keys_off,
                                         keys_data, spelling, fmt, upper)
            changed[i] = changed[i] or fixed
            rows[p] = row
            w += size
            p += 1
            piece_offsets[p] = w
            cell_start[i + 1] = p
            continue
        if fmt and _messy(data, a, b):
            length = _format_list(data, a, b, keep_leading_empty, scratch)
            changed[i] = not _equal(scratch, 0, length, data, a, b)
            p, w, fixed = _put_list(scratch, 0, length, rows, piece_offsets, out, p, w, exact, inputs_off,
                                    inputs_data, fold, keys_off, keys_data, spelling, fmt, upper)
        else:
            p, w, fixed = _put_list(data, a, b, rows, piece_offsets, out, p, w, exact, inputs_off,
                                    inputs_data, fold, keys_off, keys_data, spelling, fmt, upper)
        changed[i] = changed[i] or fixed
        cell_start[i + 1] = p
    return cell_start, rows[:p], piece_offsets[:p + 1], out[:w], changed


@njit(**JIT)
def separator_count(offsets, data):  # pragma: no cover - compiled
    """Bytes ``|``, ``,`` and ``;`` in the cells: with the cell count, a bound on the codes they split into."""
    count = 0
    for k in range(offsets[0], offsets[offsets.shape[0] - 1]):
        c = data[k]
        if c == _BAR or c == _COMMA or c == _SEMI:
            count += 1
    return count
