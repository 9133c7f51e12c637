"""The duplicate case id kernels (:mod:`icd_tables.intake.duplicates`) against plain-Python twins."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from icd_tables.intake.duplicates import DuplicateTracker, hash_strings

_FNV_OFFSET, _FNV_PRIME, _WORD = 0xCBF29CE484222325, 0x100000001B3, 2**64 - 1


def hash_twin(text: str | None) -> int:
    """The 64-bit FNV-1a hash of one value's UTF-8 bytes, in plain Python (0 for a null or empty value)."""
    if not text:
        return 0
    h = _FNV_OFFSET
    for byte in text.encode():
        h = (h ^ byte) * _FNV_PRIME & _WORD
    return h or 1


def first_rows_twin(seen: dict[str, int], values: list[str | None], first_row_no: int) -> list[int]:
    """The row each value was first seen at (-1 for a first, null or empty one), remembering the new ones."""
    out = []
    for i, value in enumerate(values):
        if not value:
            out.append(-1)
        elif value in seen:
            out.append(seen[value])
        else:
            seen[value] = first_row_no + i
            out.append(-1)
    return out


ids = st.one_of(st.none(), st.just(""), st.sampled_from(["A1", "A1 ", "病案0001", "x" * 8, "x" * 9]),
                st.text(min_size=0, max_size=30))
batches = st.lists(st.lists(ids, max_size=60), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(ids, max_size=80), start=st.integers(0, 5))
def test_hash_kernel_equals_its_twin(values, start):
    array = pa.array(["pad"] * start + values, pa.string()).slice(start)  # an offset into the buffers
    assert hash_strings(array).tolist() == [hash_twin(v) for v in values]


@settings(max_examples=150, deadline=None)
@given(batches=batches)
def test_tracker_equals_its_twin_across_batches(batches):
    tracker, seen, row_no = DuplicateTracker(capacity=4), {}, 1  # small: it grows on the way
    for values in batches:
        assert tracker.first_rows(pa.array(values, pa.string()), row_no).tolist() == \
            first_rows_twin(seen, values, row_no)
        row_no += len(values)
    assert len(tracker) == len(seen)
