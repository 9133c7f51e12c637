"""Short columns (one record's) read in Python give exactly what Arrow gives for long ones, and the NumPy
readings of bounds and row sets agree with the Arrow and NumPy calls they replace."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import audit.code_names as code_names
import foundation.arrow_columns as arrow_columns
from audit.explain import _distinct_rows
from grouper.results import take_text
from icd_tables.intake.bounds import Bound, _outside, load_bounds

_TEXTS = st.lists(st.one_of(st.none(), st.sampled_from(["", "A01.0", "A01.0 ", "B02", "ｃ３", "K80.100"])),
                  max_size=12)


@settings(max_examples=150, deadline=None)
@given(_TEXTS)
def test_text_codes_short_as_long(texts):
    column = pa.array(texts, pa.string())
    short = arrow_columns.text_codes(column)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(arrow_columns, "FEW", -1)  # every column the Arrow way
        long = arrow_columns.text_codes(column)
    assert short[0].tolist() == long[0].tolist() and short[1] == long[1]
    assert short[0].dtype == long[0].dtype == np.int64


@settings(max_examples=100, deadline=None)
@given(_TEXTS, st.lists(st.integers(-1, 11), max_size=12))
def test_take_text_short_as_long(texts, index):
    table = pa.array(texts, pa.string())
    index = np.array([i for i in index if i < len(texts)], dtype=np.int64)
    short = take_text(table, index, remember=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(arrow_columns, "FEW", -1)
        long = take_text(table, index, remember=False)
    assert short.equals(long)
    expected = pa.concat_arrays([pc.fill_null(table, ""), pa.array([""])]).dictionary_encode()
    assert short.dictionary.equals(expected.dictionary)


@settings(max_examples=100, deadline=None)
@given(_TEXTS, st.data())
def test_names_short_as_long(texts, data):
    names = pa.array(texts, pa.string())
    codes = pa.array(data.draw(st.lists(st.one_of(st.none(), st.sampled_from(["", "X1", "Y2"])),
                                        min_size=len(texts), max_size=len(texts))), pa.string())
    ids = np.array(data.draw(st.lists(st.integers(-1, max(len(texts) - 1, -1)), max_size=8)), dtype=np.int64)
    short = code_names.with_names(codes, names), code_names._names(names, ids)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(code_names, "FEW", -1)
        long = code_names.with_names(codes, names), code_names._names(names, ids)
    assert short[0].equals(long[0]) and short[1].equals(long[1])


def _outside_by_arrow(column: pa.Array, bound: Bound) -> np.ndarray:
    if pa.types.is_decimal(column.type):
        low, high = (pa.scalar(v, column.type) for v in (bound.min, bound.max))
    elif pa.types.is_floating(column.type):
        low, high = (pa.scalar(v).cast(pa.float64()) for v in (bound.min, bound.max))
    else:
        low, high = int(bound.min), int(bound.max)
    return pc.fill_null(pc.or_(pc.less(column, low), pc.greater(column, high)), False).to_numpy(zero_copy_only=False)


@pytest.mark.parametrize("bound", load_bounds(), ids=lambda b: b.field)
def test_bounds_in_numpy_as_in_arrow(bound):
    values = [None, -1, 0, 1, 150, 151, 366, 367, 10_000, 10_001, 30_001, 36_525, 876_601, 10**9, 10**9 + 1, 2**40]
    for kind in (pa.int64(), pa.int32(), pa.float64(), pa.decimal128(18, 2), pa.decimal128(38, 2)):
        cells = [v for v in values if v is None or kind != pa.int32() or abs(v) < 2**31]
        if pa.types.is_decimal(kind):
            cells = [None if v is None else Decimal(v) + Decimal("0.01") * (v % 3) for v in cells]
        elif pa.types.is_floating(kind):
            cells = [None if v is None else v + 0.5 * (v % 2) for v in cells]
        column = pa.array(cells, kind)
        assert _outside(column, bound).tolist() == _outside_by_arrow(column, bound).tolist()
        assert _outside(column.slice(1), bound).tolist() == _outside_by_arrow(column.slice(1), bound).tolist()


@pytest.mark.parametrize("n", [0, 1, 2, 5, 300])
@pytest.mark.parametrize("width", [0, 1, 8, 9, 30])
def test_distinct_rows_as_numpy_unique(n, width):
    rows = np.random.default_rng(n * 31 + width).random((n, width)) < 0.3
    masks, which = _distinct_rows(rows)
    expected_masks, expected_which = np.unique(rows, axis=0, return_inverse=True)
    assert masks.shape == expected_masks.shape and (masks == expected_masks).all()
    assert which.ravel().tolist() == expected_which.ravel().tolist()


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.sampled_from(["ok", "invalid", "", None, "病案"]), max_size=80),
       dictionary=st.booleans(), chunks=st.integers(1, 3))
def test_value_counts_equals_arrows(values, dictionary, chunks):
    """Counting over a dictionary's indices gives Arrow's value counts (nulls under None), whatever the chunks."""
    from foundation.arrow_columns import value_counts

    array = pa.array(values, pa.string())
    if dictionary:
        array = array.dictionary_encode()
    step = max(1, -(-len(values) // chunks))
    column = pa.chunked_array([array[k:k + step] for k in range(0, len(values), step)] or [array], array.type)
    counted = pc.value_counts(pa.array(values, pa.string())).to_pylist()
    expected = {entry["values"]: entry["counts"] for entry in counted}
    assert dict(value_counts(column)) == expected
    assert dict(value_counts(array)) == expected


def test_value_counts_adds_up_a_dictionary_that_repeats_a_value():
    from foundation.arrow_columns import value_counts

    array = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2, None, 1], pa.int32()), pa.array(["a", "b", "a"]))
    assert dict(value_counts(array)) == {"a": 2, "b": 2, None: 1}
