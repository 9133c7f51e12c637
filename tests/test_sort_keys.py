"""A lexicographic key orders and groups rows exactly like their tuples of codes, overflow or not."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from foundation.sort_keys import lexicographic_key


@st.composite
def _columns(draw):
    n = draw(st.integers(0, 40))
    sizes = draw(st.lists(st.sampled_from([1, 2, 3, 7, 2**20, 2**40]), min_size=0, max_size=6))
    columns = [(np.array(draw(st.lists(st.integers(0, size - 1), min_size=n, max_size=n)), dtype=np.int64), size)
               for size in sizes]
    return columns, n


@settings(max_examples=200, deadline=None)
@given(_columns())
def test_key_orders_like_the_tuples(data):
    columns, n = data
    key = lexicographic_key(columns, n)
    tuples = [tuple(int(codes[i]) for codes, _ in columns) for i in range(n)]
    assert key.dtype == np.int64 and len(key) == n
    for i in range(n):
        for j in range(n):
            assert (key[i] < key[j]) == (tuples[i] < tuples[j])
            assert (key[i] == key[j]) == (tuples[i] == tuples[j])


def test_sizes_beyond_int64_are_renumbered():
    rng = np.random.default_rng(3)
    columns = [(rng.integers(0, 2**40, 500), 2**40) for _ in range(4)]  # 2**160 combinations in mixed radix
    key = lexicographic_key(columns, 500)
    tuples = list(zip(*(codes.tolist() for codes, _ in columns)))
    assert [tuples[i] for i in np.argsort(key, kind="stable")] == sorted(tuples)
