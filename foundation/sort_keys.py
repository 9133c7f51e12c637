"""One integer per row that orders like a tuple of integer codes (a lexicographic sort key).

Sorting or grouping rows by several columns of small codes (a rule, a field, a value's rank) is one NumPy
sort of one int64 key instead of one sort per column: the codes are combined in mixed radix, and the key is
re-numbered (one sort) only where the next column would overflow it.
"""

from __future__ import annotations

import numpy as np

#: Bound of a key (int64 with room to spare).
KEY_LIMIT = 2**62


def lexicographic_key(columns: list[tuple[np.ndarray, int]], n: int) -> np.ndarray:
    """An int64 per row, ordered like the rows' tuples of codes (first column first).

    Parameters
    ----------
    columns : list of (numpy.ndarray, int)
        Each column's codes (integers ``0 <= code < size``, one per row) and its ``size``.
    n : int
        Rows.

    Returns
    -------
    numpy.ndarray
        Equal keys for equal tuples; a key is smaller where the tuple is (lexicographically).
    """
    key, size = np.zeros(n, dtype=np.int64), 1
    for codes, count in columns:
        count = max(int(count), 1)
        if size * count >= KEY_LIMIT:
            distinct, key = np.unique(key, return_inverse=True)
            key, size = key.reshape(-1).astype(np.int64), len(distinct)
        key, size = key * count + np.asarray(codes, dtype=np.int64), size * count
    return key


__all__ = ["KEY_LIMIT", "lexicographic_key"]
