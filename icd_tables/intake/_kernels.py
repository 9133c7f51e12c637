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

Code tables are open-addressing hash tables (linear probing, power-of-two size)
of row indices into a string table; a slot holds a key's first 16 bytes, so
looking up a code reads one slot row.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from foundation.numba_options import JIT

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_MIX1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_BAR, _COMMA, _SEMI = ord("|"), ord(","), ord(";")
#: Bytes of a key held in its slot; longer keys are also compared with the string table.
_INLINE = 16
#: One bit for each byte (all below 64) that makes a list cell messy besides ``|``: the pattern's
#: whitespace, ``,`` and ``;``.
_ODD_BITS = np.uint64(sum(1 << c for c in (9, 10, 12, 13, 32, _COMMA, _SEMI)))


@njit(**JIT, inline="always")
def _mix(w0, w1, n, tail):  # pragma: no cover - compiled
    h = w0 * _MIX1 ^ (w1 + np.uint64(n)) * _MIX2 ^ tail
    h ^= h >> np.uint64(33)
    h *= _MIX1
    h ^= h >> np.uint64(33)
    return h


@njit(**JIT, inline="always")
def _add_byte(w0, w1, tail, k, c):  # pragma: no cover - compiled
    """Byte ``k`` of a key folded into its words (the first 16 bytes) or its tail hash (the rest)."""
    if k < 8:
        w0 |= np.uint64(c) << np.uint64(8 * k)
    elif k < 16:
        w1 |= np.uint64(c) << np.uint64(8 * (k - 8))
    else:
        tail = (tail ^ np.uint64(c)) * _FNV_PRIME
    return w0, w1, tail


@njit(**JIT, inline="always")
def _key(src, a, b):  # pragma: no cover - compiled
    """A string's first 16 bytes as two little-endian words, and its hash (all bytes and the length)."""
    w0, w1, tail = np.uint64(0), np.uint64(0), _FNV_OFFSET
    for k in range(b - a):
        w0, w1, tail = _add_byte(w0, w1, tail, k, src[a + k])
    return w0, w1, _mix(w0, w1, b - a, tail)


@njit(**JIT)
def build_table(key_offsets, key_data):  # pragma: no cover - compiled
    """A hash table over the strings of a string table; the first of equal keys wins.

    One row per slot: the key's first two words, and ``(row + 1) << 16 | length``
    (0 for an empty slot), so that a probe reads one row and, for keys of up to
    16 bytes, never the string table.
    """
    n = key_offsets.shape[0] - 1
    size = 16
    while size < n + n // 2 + 16:
        size *= 2
    table = np.zeros((size, 3), dtype=np.uint64)
    for i in range(n):
        a, b = key_offsets[i], key_offsets[i + 1]
        if _find(table, key_offsets, key_data, key_data, a, b) < 0:
            w0, w1, h = _key(key_data, a, b)
            slot = h & np.uint64(size - 1)
            while table[slot, 2] != 0:
                slot = (slot + np.uint64(1)) & np.uint64(size - 1)
            table[slot, 0], table[slot, 1] = w0, w1
            table[slot, 2] = (np.uint64(i + 1) << np.uint64(16)) | np.uint64(min(b - a, 0xFFFF))
    return table


@njit(**JIT, inline="always")
def _equal(x, xa, xb, y, ya, yb):  # pragma: no cover - compiled
    if xb - xa != yb - ya:
        return False
    for k in range(xb - xa):
        if x[xa + k] != y[ya + k]:
            return False
    return True


@njit(**JIT, inline="always")
def _find(table, key_offsets, key_data, src, a, b):  # pragma: no cover - compiled
    """Row of the key equal to ``src[a:b]``, -1 when none."""
    w0, w1, h = _key(src, a, b)
    return _probe(table, key_offsets, key_data, src, a, b, w0, w1, h)


@njit(**JIT, inline="always")
def _probe(table, key_offsets, key_data, src, a, b, w0, w1, h):  # pragma: no cover - compiled
    """Row of the key ``src[a:b]`` (whose words and hash :func:`_key` gives), -1 when none."""
    mask = np.uint64(table.shape[0] - 1)
    size = np.uint64(min(b - a, 0xFFFF))
    slot = h & mask
    while True:
        meta = table[slot, 2]
        if meta == 0:
            return -1
        if (meta & np.uint64(0xFFFF)) == size and table[slot, 0] == w0 and table[slot, 1] == w1:
            row = np.int64(meta >> np.uint64(16)) - 1
            if b - a <= _INLINE or _equal(key_data, key_offsets[row], key_offsets[row + 1], src, a, b):
                return row
        slot = (slot + np.uint64(1)) & mask


@njit(**JIT, inline="always")
def _copy_code(src, read, end, is_list, out, w):  # pragma: no cover - compiled
    """Copy one code (up to ``|`` in a list, else to ``end``) from ``src[read:]`` to ``out[w:]``, keying it.

    Returns where it stopped, the code's key words and hash, and whether it holds a byte that makes a
    list cell messy (the pattern's whitespace, ``,`` or ``;``), all in one pass over its bytes.
    """
    odd = np.uint64(0)
    k = 0
    while read + k < end:
        c = src[read + k]
        if is_list and c == _BAR:
            break
        out[w + k] = c
        if c < 64:
            odd |= (_ODD_BITS >> np.uint64(c)) & np.uint64(1)
        k += 1
    w0, w1, tail = np.uint64(0), np.uint64(0), _FNV_OFFSET
    for j in range(min(k, 8)):
        w0 |= np.uint64(out[w + j]) << np.uint64(8 * j)
    for j in range(8, min(k, 16)):
        w1 |= np.uint64(out[w + j]) << np.uint64(8 * (j - 8))
    for j in range(16, k):
        tail = (tail ^ np.uint64(out[w + j])) * _FNV_PRIME
    return read + k, w0, w1, _mix(w0, w1, k, tail), odd != 0


@njit(**JIT, inline="always")
def _is_space(c):  # pragma: no cover - compiled
    """The regular expression's ``\\s``: space, tab, line feed, form feed, carriage return (not ``\\v``)."""
    return c == 32 or c == 9 or c == 10 or c == 12 or c == 13


@njit(**JIT, inline="always")
def _is_trim(c):  # pragma: no cover - compiled
    """ASCII characters of the intake's whitespace (``\\v`` included)."""
    return c == 32 or (9 <= c <= 13)


@njit(**JIT, inline="always")
def _is_separator(c):  # pragma: no cover - compiled
    return c == _BAR or c == _COMMA or c == _SEMI


@njit(**JIT, inline="always")
def _format_list(data, a, b, keep_leading_empty, out, w):  # pragma: no cover - compiled
    """A messy list cell with separator runs collapsed to ``|`` and its ends trimmed, written at ``out[w:]``.

    Returns its length.
    """
    start = w
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
                out[w] = _BAR
                w += 1
            else:
                for m in range(k, e):
                    out[w] = data[m]
                    w += 1
            k = e
        else:
            out[w] = c
            w += 1
            k += 1
    lo, hi = start, w
    if keep_leading_empty:
        while lo < hi and _is_trim(out[lo]):
            lo += 1
    else:
        while lo < hi and (_is_trim(out[lo]) or out[lo] == _BAR):
            lo += 1
    while hi > lo and (_is_trim(out[hi - 1]) or out[hi - 1] == _BAR):
        hi -= 1
    for m in range(lo, hi):
        out[start + m - lo] = out[m]
    return hi - lo


@njit(**JIT)
def encode_cells(offsets, data, valid, verbatim, is_list, keep_leading_empty, normalize,
                 exact, inputs_off, inputs_data, fold, keys_off, keys_data, spelling, targets,
                 max_pieces, max_bytes):  # pragma: no cover - compiled
    """Split, format and look up the code cells of one column.

    Returns ``cell_start`` (int64, n + 1: codes of cell ``i`` are
    ``cell_start[i]:cell_start[i + 1]``), ``rows`` (int32: ``targets`` at the
    pack input row of each code, -1 when the pack does not know it), the codes as written after
    formatting (``piece_offsets`` int32 and ``piece_data``: an Arrow string
    array's buffers) and ``changed`` (bool per cell: formatting changed its
    text).  A single cell (``is_list`` false) is one code, null or not; a list
    cell that is null or empty after formatting has none.  ``max_pieces`` and
    ``max_bytes`` bound the output sizes; a case fix must keep a code's length
    (the caller formats the cells of packs where it would not with Arrow's kernels).

    Each code is copied to the output, keyed and checked for messy bytes in one
    pass over its bytes.  Helpers take few arrays: each array passed costs
    reference counting on every call, even to an inlined function.
    """
    n = offsets.shape[0] - 1
    cell_start = np.zeros(n + 1, dtype=np.int64)
    rows = np.empty(max_pieces, dtype=np.int32)
    piece_offsets = np.empty(max_pieces + 1, dtype=np.int32)  # a loose bound: only what is used is touched
    piece_offsets[0] = 0
    out = np.empty(max_bytes, dtype=np.uint8)
    changed = np.zeros(n, dtype=np.bool_)
    longest = 1
    for i in range(n):
        longest = max(longest, offsets[i + 1] - offsets[i])
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
        # a single cell is trimmed of whitespace
        if not is_list and fmt:
            a0, b0 = a, b
            while a < b and _is_trim(data[a]):
                a += 1
            while b > a and _is_trim(data[b - 1]):
                b -= 1
            changed[i] = a != a0 or b != b0
        # its codes (a list cell's split on "|"; none when empty), each copied, keyed and looked up in one pass;
        # a list cell found messy is formatted at the end of the output, and its codes read again from there
        first_p, first_w = p, w
        check, messy = is_list and fmt, False
        read, end = a, b
        more = end > read or not is_list
        while more:
            if messy:
                stop, w0, w1, h, odd = _copy_code(out, read, end, is_list, out, w)
            else:
                stop, w0, w1, h, odd = _copy_code(data, read, end, is_list, out, w)
            size = stop - read
            if check and (odd or size == 0):
                length = _format_list(data, a, b, keep_leading_empty, out, first_w)
                changed[i] = not _equal(out, first_w, first_w + length, data, a, b)
                check, messy = False, True
                p, w = first_p, first_w
                read, end = first_w, first_w + length
                more = end > read
                continue
            row = _probe(exact, inputs_off, inputs_data, out, w, w + size, w0, w1, h)
            if row < 0 and fmt and size > 0:
                for k in range(size):
                    c = out[w + k]
                    upper[k] = c - 32 if 97 <= c <= 122 else c
                key = _find(fold, keys_off, keys_data, upper, 0, size)
                if key >= 0:
                    row = spelling[key]
                    sa = inputs_off[row]
                    for k in range(size):
                        out[w + k] = inputs_data[sa + k]
                    changed[i] = True
            rows[p] = targets[row] if row >= 0 else -1
            w += size
            p += 1
            piece_offsets[p] = w
            if stop >= end:
                break
            read = stop + 1
        cell_start[i + 1] = p
    return cell_start, rows[:p], piece_offsets[:p + 1], out[:w], changed
