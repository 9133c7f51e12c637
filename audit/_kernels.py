"""Numba kernels of the audit.  Private: use :func:`audit.whatif.what_if` and
:func:`audit.record_rules.record_findings`.

What-if records (``_alternatives``): records are encoded as in :mod:`grouper._kernels` (CSR code lists, principal
first).  For each record whose ``keep`` flag is set, the kernel writes

* one alternative per secondary diagnosis ``j`` whose code differs from the
  principal: that diagnosis becomes the principal and the old principal the
  first secondary diagnosis, the others keep their order
  (``[D[j], D[0], D[1..j-1], D[j+1..]]``), procedures unchanged;
* one alternative when the principal procedure is not an operating-room
  procedure but a later one is: the first such procedure moves to the front
  (``[P[k], P[0..k-1], P[k+1..]]``), diagnoses unchanged.

Repeated codes (``_repeated_codes``): the codes a record lists twice or more, for the duplicate rules.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from foundation.numba_options import JIT

KIND_DX_SWAP, KIND_PROC_FIRST = 0, 1


@njit(**JIT)
def _first_or_after_principal(proc_ids, p0, p1, or_proc):
    """Position of the first OR procedure when the principal procedure is not one, else -1."""
    if p1 - p0 < 2 or or_proc[proc_ids[p0]]:
        return -1
    for k in range(p0 + 1, p1):
        if or_proc[proc_ids[k]]:
            return k
    return -1


@njit(**JIT)
def _alternatives(dx_start, dx_ids, proc_start, proc_ids, keep, or_proc):
    """Alternative records: parent record, kind, position moved, and their CSR code lists."""
    n = dx_start.shape[0] - 1
    n_alt, n_dx, n_proc = 0, 0, 0
    for i in range(n):
        if not keep[i]:
            continue
        d0, d1, p0, p1 = dx_start[i], dx_start[i + 1], proc_start[i], proc_start[i + 1]
        for j in range(d0 + 1, d1):
            if dx_ids[j] != dx_ids[d0]:
                n_alt += 1
                n_dx += d1 - d0
                n_proc += p1 - p0
        if _first_or_after_principal(proc_ids, p0, p1, or_proc) >= 0:
            n_alt += 1
            n_dx += d1 - d0
            n_proc += p1 - p0
    parent = np.empty(n_alt, np.int64)
    kind = np.empty(n_alt, np.int8)
    moved = np.empty(n_alt, np.int64)
    out_dx_start = np.zeros(n_alt + 1, np.int64)
    out_dx = np.empty(n_dx, np.int32)
    out_proc_start = np.zeros(n_alt + 1, np.int64)
    out_proc = np.empty(n_proc, np.int32)
    a, w, v = 0, 0, 0
    for i in range(n):
        if not keep[i]:
            continue
        d0, d1, p0, p1 = dx_start[i], dx_start[i + 1], proc_start[i], proc_start[i + 1]
        for j in range(d0 + 1, d1):
            if dx_ids[j] == dx_ids[d0]:
                continue
            out_dx[w] = dx_ids[j]
            out_dx[w + 1] = dx_ids[d0]
            w += 2
            for k in range(d0 + 1, d1):
                if k != j:
                    out_dx[w] = dx_ids[k]
                    w += 1
            for k in range(p0, p1):
                out_proc[v] = proc_ids[k]
                v += 1
            parent[a], kind[a], moved[a] = i, KIND_DX_SWAP, j
            a += 1
            out_dx_start[a], out_proc_start[a] = w, v
        first = _first_or_after_principal(proc_ids, p0, p1, or_proc)
        if first >= 0:
            for k in range(d0, d1):
                out_dx[w] = dx_ids[k]
                w += 1
            out_proc[v] = proc_ids[first]
            v += 1
            for k in range(p0, p1):
                if k != first:
                    out_proc[v] = proc_ids[k]
                    v += 1
            parent[a], kind[a], moved[a] = i, KIND_PROC_FIRST, first
            a += 1
            out_dx_start[a], out_proc_start[a] = w, v
    return parent, kind, moved, out_dx_start, out_dx, out_proc_start, out_proc


@njit(**JIT)
def _repeated_codes(starts, index, usable, exclude):
    """Codes entered twice or more in one record: record, code and count, by record, then code.

    Record ``i`` holds the codes ``index[starts[i]:starts[i + 1]]`` (ids of distinct codes); only codes
    with ``usable[code]`` and other than ``exclude[i]`` (-1: none) count.
    """
    n = starts.shape[0] - 1
    records = np.empty(index.shape[0], np.int64)
    codes = np.empty(index.shape[0], np.int64)
    counts = np.empty(index.shape[0], np.int64)
    kept = np.empty(index.shape[0], np.int64)
    found = 0
    for i in range(n):
        if starts[i + 1] - starts[i] < 2:
            continue
        m = 0
        for p in range(starts[i], starts[i + 1]):
            code = index[p]
            if usable[code] and code != exclude[i]:
                j = m  # insertion sort: a record lists a few codes, and no array is allocated per record
                while j > 0 and kept[j - 1] > code:
                    kept[j] = kept[j - 1]
                    j -= 1
                kept[j] = code
                m += 1
        run = 1
        for k in range(1, m + 1):
            if k < m and kept[k] == kept[k - 1]:
                run += 1
                continue
            if run >= 2:
                records[found], codes[found], counts[found] = i, kept[k - 1], run
                found += 1
            run = 1
    return records[:found], codes[:found], counts[:found]
