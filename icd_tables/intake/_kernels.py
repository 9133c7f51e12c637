"""Numba kernels of the code intake: split, format and look up code cells straight from Arrow buffers.

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
looking up a code reads one slot row.  Codes are read, searched for ``|`` and
copied eight bytes at a step (unaligned word loads and stores,
:mod:`foundation.numba_intrinsics`), and looked up in a second pass that
prefetches the slots of the codes ahead: a large table's rows miss the caches.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from foundation.numba_intrinsics import load_word, prefetch, store_word
from foundation.numba_options import JIT, NO_ALLOC

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_MIX1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_BAR, _COMMA, _SEMI = ord("|"), ord(","), ord(";")
_ONES = np.uint64(0x0101010101010101)
_HIGHS = _ONES * np.uint64(0x80)
_BARS, _COMMAS, _SEMIS = (_ONES * np.uint64(c) for c in (_BAR, _COMMA, _SEMI))
#: ``_MASKS[k]``: the first ``k`` bytes of a word.
_MASKS = np.array([(1 << 8 * k) - 1 for k in range(9)], dtype=np.uint64)
#: How many codes ahead the lookup prefetches hash-table slots.
PREFETCH_AHEAD = 16
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
def _low_bytes(k):  # pragma: no cover - compiled
    """A mask of a word's first ``k`` bytes (none below 0, all eight from 8 on), without a branch."""
    return _MASKS[min(max(k, 0), 8)]


@njit(**JIT, inline="always")
def _below(x, c):  # pragma: no cover - compiled
    """Nonzero when a byte of ``x`` is below ``c`` (at most 128); its lowest set bit is the first such byte's
    high bit (bits above it may be set by the borrow)."""
    return (x - _ONES * np.uint64(c)) & ~x & _HIGHS


@njit(**JIT, inline="always")
def _first_bar(x):  # pragma: no cover - compiled
    """Index of the first ``|`` byte of the word ``x``, 8 when none."""
    return np.int64(trailing_zeros(_below(x ^ _BARS, 1)) >> np.uint64(3))


@njit(**JIT, inline="always")
def _word(src, pos, end):  # pragma: no cover - compiled
    """The bytes ``src[pos:end]`` (the first eight of them) as a little-endian word, zero above."""
    if pos + 8 <= src.shape[0]:
        return load_word(src, pos) & _low_bytes(end - pos)
    w = np.uint64(0)
    for j in range(min(end - pos, 8)):
        w |= np.uint64(src[pos + j]) << np.uint64(8 * j)
    return w


@njit(**JIT, inline="always")
def _words(src, a, b):  # pragma: no cover - compiled
    """The first 16 bytes of ``src[a:b]`` as two little-endian words, zero past ``b``."""
    return _word(src, a, b), _word(src, a + 8, b)


@njit(**JIT, inline="always")
def _key(src, a, b):  # pragma: no cover - compiled
    """A string's first 16 bytes as two little-endian words, and its hash (all bytes and the length)."""
    w0, w1 = _words(src, a, b)
    tail = _FNV_OFFSET
    for k in range(a + 16, b):
        tail = (tail ^ np.uint64(src[k])) * _FNV_PRIME
    return w0, w1, _mix(w0, w1, b - a, tail)


@njit(**JIT, inline="always")
def _bar(src, a, b):  # pragma: no cover - compiled
    """Position of the first ``|`` in ``src[a:b]``, ``b`` when none.

    The first 16 bytes are searched without a branch (codes are mostly shorter), the rest eight a step.
    """
    if a + 16 <= src.shape[0]:  # bytes past b may be read: a bar there is cut off at b
        n0, n1 = _first_bar(load_word(src, a)), _first_bar(load_word(src, a + 8))
        stop = a + (n0 if n0 < 8 else 8 + n1)  # a + 16 when none
        if stop < a + 16 or b <= a + 16:
            return min(stop, b)
        a += 16
    for pos in range(a, b, 8):
        n = _first_bar(_word(src, pos, b) | ~_low_bytes(b - pos))  # 0xFF past b: never a bar
        if n < 8:
            return pos + n
    return b


@njit(**JIT, inline="always")
def _has_odd(src, a, b):  # pragma: no cover - compiled
    """Whether ``src[a:b]`` holds a byte that makes a list cell messy (the pattern's whitespace, ``,``, ``;``).

    Eight bytes a step: a word with no byte below 33, ``,`` or ``;`` has none; others are read byte by byte.
    """
    for pos in range(a, b, 8):
        x = _word(src, pos, b)
        if (_below(x, 33) | _below(x ^ _COMMAS, 1) | _below(x ^ _SEMIS, 1)) & _low_bytes(b - pos):
            for k in range(pos, min(pos + 8, b)):
                c = src[k]
                if c < 64 and (_ODD_BITS >> np.uint64(c)) & np.uint64(1):
                    return True
    return False


@njit(**JIT, inline="always")
def _copy(w0, w1, src, a, b, out, w):  # pragma: no cover - compiled
    """Copy ``src[a:b]``, whose first 16 bytes are the words ``w0`` and ``w1``, to ``out[w:]``: two word stores
    (up to 16 bytes past its end are overwritten), then any bytes past the 16th."""
    store_word(out, w, w0)
    store_word(out, w + 8, w1)
    for k in range(16, b - a):
        out[w + k] = src[a + k]


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




@njit(**JIT, inline="always")
def _split(src, read, end, is_list, check, mask, rows, piece_offsets, out, p, w):  # pragma: no cover - compiled
    """Copy and key the codes of ``src[read:end]`` (a list cell's split on ``|``), from piece ``p`` and byte
    ``w`` of the output on; ``rows`` receives each code's home slot in the hash table (``mask`` its size - 1).

    Returns the next piece and byte, and whether ``check`` found the cell messy (it stops there: the caller
    formats the cell and splits it again).
    """
    while True:
        stop = _bar(src, read, end) if is_list else end
        if check and (stop == read or _has_odd(src, read, stop)):
            return p, w, True
        w0, w1, h = _key(src, read, stop)
        rows[p] = np.int32(h & mask)
        _copy(w0, w1, src, read, stop, out, w)
        w += stop - read
        p += 1
        piece_offsets[p] = w
        if stop >= end:
            return p, w, False
        read = stop + 1


@njit(**NO_ALLOC)
def _split_cells(offsets, data, valid, verbatim, is_list, keep_leading_empty, normalize, mask,
                 cell_start, rows, piece_offsets, out, changed, scratch):  # pragma: no cover - compiled
    """The first pass of :func:`encode_cells`: cells formatted and split, codes copied and hashed.

    Returns the number of codes and of their bytes.  A null cell's code (``is_list`` false) has row -1.
    """
    n = offsets.shape[0] - 1
    p, w = 0, 0
    cell_start[0], piece_offsets[0] = 0, 0
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
        # its codes (a list cell's split on "|"; none when empty); a list cell found messy is formatted into
        # the scratch buffer, and its codes split again from there
        if b > a or not is_list:
            p0, w0 = p, w
            p, w, messy = _split(data, a, b, is_list, is_list and fmt, mask, rows, piece_offsets, out, p, w)
            if messy:
                length = _format_list(data, a, b, keep_leading_empty, scratch, 0)
                changed[i] = not _equal(scratch, 0, length, data, a, b)
                p, w = p0, w0
                if length > 0:
                    p, w, _ = _split(scratch, 0, length, True, False, mask, rows, piece_offsets, out, p, w)
        cell_start[i + 1] = p
    return p, w


@njit(**NO_ALLOC)
def encode_cells(offsets, data, valid, verbatim, is_list, keep_leading_empty, normalize,
                 exact, inputs_off, inputs_data, fold, keys_off, keys_data, spelling, targets,
                 cell_start, rows, piece_offsets, out, changed, scratch):  # pragma: no cover - compiled
    """Split, format and look up the code cells of one column, into buffers the caller allocates.

    Fills ``cell_start`` (n + 1: codes of cell ``i`` are ``cell_start[i]:cell_start[i + 1]``),
    ``rows`` (``targets`` at the pack input row of each code, -1 when the pack does not know it),
    the codes as written after formatting (``piece_offsets`` and ``out``: an Arrow string
    array's buffers) and ``changed`` (per cell: formatting changed its text); returns the number
    of codes and of their bytes.  A single cell (``is_list`` false) is one code, null or not; a list
    cell that is null or empty after formatting has none.  ``rows`` and ``piece_offsets`` hold a code
    for each cell and each byte, ``out`` and ``scratch`` the bytes and 16 more (codes are copied
    eight bytes a step).  A case fix must keep a code's length (the caller formats the cells of packs
    where it would not with Arrow's kernels).

    Two passes: the first splits the cells, copies each code and hashes it (``rows`` holds its home
    slot meanwhile); the second looks the codes up, prefetching the slots of the codes
    :data:`PREFETCH_AHEAD` on, as rows of a large table mostly miss the caches.  Without Numba's
    runtime (:data:`foundation.numba_options.NO_ALLOC`): each array handed to an inlined helper
    would be reference-counted on every call.  The first pass is a function of its own, not inlined:
    Numba copies an inlined function's whole IR, scope included, block by block, so inlining the pass
    with everything it inlines made the first compile seconds longer, for one call per batch.
    """
    p, w = _split_cells(offsets, data, valid, verbatim, is_list, keep_leading_empty, normalize,
                        np.uint64(exact.shape[0] - 1), cell_start, rows, piece_offsets, out, changed, scratch)
    for q in range(p):
        prefetch(exact, max(rows[min(q + PREFETCH_AHEAD, p - 1)], 0))
        if rows[q] < 0:
            continue
        a, b = piece_offsets[q], piece_offsets[q + 1]
        w0, w1 = _words(out, a, b)
        row = _probe(exact, inputs_off, inputs_data, out, a, b, w0, w1, np.uint64(rows[q]))
        if row < 0 and normalize and b > a:
            i = np.searchsorted(cell_start, q, side="right") - 1  # the code's cell
            if not verbatim[i]:
                for k in range(b - a):
                    c = out[a + k]
                    scratch[k] = c - 32 if 97 <= c <= 122 else c
                key = _find(fold, keys_off, keys_data, scratch, 0, b - a)
                if key >= 0:
                    row = spelling[key]
                    for k in range(b - a):
                        out[a + k] = inputs_data[inputs_off[row] + k]
                    changed[i] = True
        rows[q] = targets[row] if row >= 0 else -1
    return p, w
