"""The code intake's kernel (split, format and look up code cells from Arrow buffers) equals its twins.

Twins: :mod:`naive_codes` (plain Python, one cell at a time) and the Arrow normaliser
(:meth:`CodeNormalizer.normalize_column`, then a split on ``|``).  Cells are drawn from
the pack's own codes made messy the ways exports write them: lower case, full width,
dots dropped, cut short, separators and whitespace of every kind (``\\v`` and the
no-break and ideographic spaces too), empty slots, non-ASCII garbage; as ``string``
and ``large_string`` arrays, sliced, with nulls.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naive_codes import NaiveCodes

from reference_data import TABLES, require_shared
from grouper import Grouper
from grouper.encode import encode
from icd_tables.intake import codes as codes_module
from icd_tables.intake.codes import CODE_COLUMNS, CodeNormalizer, normalize_codes
from icd_tables.pack import Pack

PROPERTY = settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
BITS = (" ", "\t", "\v", "\n", "\r", "\f", ",", ";", "|", "||", "、", "，", "；", "｜", "\u00a0", "\u3000", "", ".",
        "é", "ß", "ı", "ſ", "中", "🙂", "K", "x")


@functools.cache
def _pack(name: str):
    pack = Pack.load(name if name == "example-mini" else require_shared(TABLES / name))
    cp = pack.compiled
    return (pack, CodeNormalizer(cp), NaiveCodes(cp.dx_inputs.to_pylist()), NaiveCodes(cp.proc_inputs.to_pylist()),
            cp.dx_inputs.to_pylist(), cp.proc_inputs.to_pylist())


@pytest.fixture(scope="module", params=["example-mini", "chs-drg-1.1"])
def pack_name(request):
    _pack(request.param)
    return request.param


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@st.composite
def messy_code(draw, codes):
    code = draw(st.sampled_from(codes))
    form = draw(st.sampled_from(["as is", "as is", "lower", "full width", "no dot", "cut", "garbage"]))
    if form == "lower":
        code = code.lower()
    elif form == "full width":
        code = _full_width(code)
    elif form == "no dot":
        code = code.replace(".", "")
    elif form == "cut":
        code = code[:draw(st.integers(0, len(code)))]
    elif form == "garbage":
        code = "".join(draw(st.lists(st.sampled_from(BITS), max_size=4))) + code[:3]
    return code


@st.composite
def cells(draw, codes, is_list):
    """One cell: null, or codes joined by any mix of separators and whitespace, with messy ends."""
    if draw(st.integers(0, 19)) == 0:
        return None
    parts = draw(st.lists(messy_code(codes), min_size=0 if is_list else 1, max_size=5 if is_list else 1))
    joins = [draw(st.sampled_from(("|", "|", "|") + BITS)) for _ in parts]
    text = "".join(p + j for p, j in zip(parts, joins)) if is_list else parts[0]
    return draw(st.sampled_from(("", "", " ", "|", "\u3000", "，"))) + text + draw(st.sampled_from(("", "", " ", "|")))


@st.composite
def columns(draw, name, codes):
    values = draw(st.lists(cells(codes, CODE_COLUMNS[name]), min_size=1, max_size=30))
    large = draw(st.booleans())
    array = pa.array(["pad"] + values, pa.large_string() if large else pa.string()).slice(1)  # a slice: offset 1
    return values, array


def _compare(name, pack_name, values, array, normalize):
    _, normalizer, dx, proc, _, _ = _pack(pack_name)
    twin = proc if name == "procedures" else dx
    got = normalizer.encode_column(name, array, len(values), normalize=normalize)
    codes = got.codes.to_pylist()
    assert len(got.cell_start) == len(values) + 1 and got.cell_start[0] == 0
    for i, text in enumerate(values):
        want_codes, want_rows, want_changed = twin.encode_cell(
            text, is_list=CODE_COLUMNS[name], keep_leading_empty=name == "procedures", normalize=normalize)
        a, b = got.cell_start[i], got.cell_start[i + 1]
        assert codes[a:b] == want_codes, (name, text)
        assert got.ids[a:b].tolist() == want_rows, (name, text)
        assert bool(got.changed[i]) == (want_changed and normalize), (name, text)


@pytest.mark.parametrize("chunks", [1, 3], ids=["one pass", "row chunks in threads"])
@pytest.mark.parametrize("name", list(CODE_COLUMNS))
def test_kernel_equals_the_plain_python_twin(pack_name, name, chunks, monkeypatch):
    """Cell by cell, also when a column is split into row chunks encoded in parallel threads and joined."""
    _, _, _, _, dx, proc = _pack(pack_name)
    if chunks > 1:
        monkeypatch.setattr(codes_module, "MIN_CHUNK_ROWS", 1)
        monkeypatch.setattr(codes_module.numba, "get_num_threads", lambda: chunks)

    @PROPERTY
    @given(data=st.data(), normalize=st.booleans())
    def check(data, normalize):
        values, array = data.draw(columns(name, proc if name == "procedures" else dx))
        _compare(name, pack_name, values, array, normalize)

    check()


@pytest.mark.parametrize("name", list(CODE_COLUMNS))
def test_kernel_formats_as_the_arrow_normaliser(pack_name, name):
    """The kernel's codes are the Arrow normaliser's text split on ``|`` (the intake's ``info`` notes use it)."""
    _, normalizer, _, _, dx, proc = _pack(pack_name)

    @PROPERTY
    @given(data=st.data())
    def check(data):
        values, array = data.draw(columns(name, proc if name == "procedures" else dx))
        got = normalizer.encode_column(name, array, len(values))
        text = normalizer.normalize_column(name, array).to_pylist()
        codes = got.codes.to_pylist()
        for i, cell in enumerate(text):
            piece = codes[got.cell_start[i]:got.cell_start[i + 1]]
            if not CODE_COLUMNS[name]:
                assert piece == [cell]
            else:
                assert piece == (cell.split("|") if cell else [])
            assert bool(got.changed[i]) == (cell != values[i])

    check()


def test_hand_made_cells(mini_pack):
    """Each formatting rule on a cell small enough to check by eye (codes of the bundled example pack)."""
    normalizer = CodeNormalizer(mini_pack.compiled)
    dx = pa.array([" i21.000\v", "I21.000,\u3000E87.600；；", "|I21.000||", "\vI21.000", "I21.000 E87.600", None])
    got = normalizer.encode_column("secondary_dx", dx, 6)
    codes = got.codes.to_pylist()
    per_cell = [codes[got.cell_start[i]:got.cell_start[i + 1]] for i in range(6)]
    assert per_cell == [
        ["I21.000"],  # messy (a space): trimmed of whitespace, \v included; the case as the pack writes it
        ["I21.000", "E87.600"],  # full-width ；and the ideographic space: one separator run
        ["I21.000"],  # empty slots at either end dropped
        ["\vI21.000"],  # \v alone is not the pattern's whitespace: the cell is not messy, so not trimmed
        ["I21.000 E87.600"],  # a space without a separator joins nothing
        [],  # null: no codes
    ]
    assert got.changed.tolist() == [True, True, True, False, False, False]
    procedures = normalizer.encode_column("procedures", pa.array(["|36.0600", " | 36.0600 |"]), 2)
    assert procedures.codes.to_pylist() == ["", "36.0600", "", "36.0600"]  # the principal slot stays empty
    assert procedures.cell_start.tolist() == [0, 2, 4]


@pytest.fixture(scope="module")
def mini_pack():
    return Pack.load("example-mini")


@PROPERTY
@given(data=st.data())
def test_grouping_while_encoding_equals_normalising_first(data):
    """``Grouper.trace(normalize=True)`` groups as the Arrow normaliser followed by plain grouping,
    and marks exactly the records the normaliser changed."""
    pack, normalizer, _, _, dx, proc = _pack("example-mini")
    n = data.draw(st.integers(1, 20))
    table = pa.table({
        "case_id": [f"C{i}" for i in range(n)],
        "sex": data.draw(st.lists(st.sampled_from([1, 2]), min_size=n, max_size=n)),
        "age_years": data.draw(st.lists(st.integers(0, 90), min_size=n, max_size=n)),
        **{name: pa.array(data.draw(st.lists(cells(proc if name == "procedures" else dx, CODE_COLUMNS[name]),
                                             min_size=n, max_size=n)), pa.string())
           for name in CODE_COLUMNS},
    })
    grouper = Grouper(pack)
    trace = grouper.trace(table, normalize=True)
    fixed, changed = normalizer.normalize(table)
    want = grouper.group_arrow(normalize_codes(table, pack))
    assert trace.results.equals(want)
    assert trace.encoded.reformatted.tolist() == changed.tolist()
    plain = encode(fixed, pack.compiled)
    assert np.array_equal(trace.encoded.batch.dx_ids, plain.batch.dx_ids)
    assert np.array_equal(trace.encoded.batch.proc_ids, plain.batch.proc_ids)


@pytest.mark.parametrize("threads", [1, 2, 6], ids=["one thread", "threads fewer than columns", "threads to spare"])
def test_columns_encoded_together_equal_one_by_one(pack_name, threads, monkeypatch):
    """``encode_columns`` (columns in parallel threads, chunked where threads are left over) gives each
    column's ``encode_column``."""
    _, normalizer, _, _, dx, proc = _pack(pack_name)
    monkeypatch.setattr(codes_module, "MIN_CHUNK_ROWS", 1)

    @PROPERTY
    @given(data=st.data(), normalize=st.booleans())
    def check(data, normalize):
        n = data.draw(st.integers(1, 30))
        specs = [(name, pa.array(data.draw(st.lists(cells(proc if name == "procedures" else dx, CODE_COLUMNS[name]),
                                                    min_size=n, max_size=n)), pa.string()), None)
                 for name in CODE_COLUMNS]
        monkeypatch.setattr(codes_module.numba, "get_num_threads", lambda: threads)
        together = normalizer.encode_columns(specs, n, normalize=normalize)
        monkeypatch.setattr(codes_module.numba, "get_num_threads", lambda: 1)
        for (name, column, _), got in zip(specs, together):
            want = normalizer.encode_column(name, column, n, normalize=normalize)
            assert np.array_equal(got.cell_start, want.cell_start) and np.array_equal(got.ids, want.ids)
            assert got.codes.equals(want.codes) and np.array_equal(got.changed, want.changed)

    check()


@pytest.mark.parametrize("large", [False, True])
def test_ascii_bytes_reads_only_the_cells_of_a_slice(large):
    """The one-pass ASCII test of the code columns looks at the bytes of the array's own cells, nothing else."""
    from icd_tables.intake.codes import _ascii_bytes

    cells = pa.array(["Ｋ３５", "K35.8", None, "I10", "", "肺炎"], pa.large_string() if large else pa.string())
    assert _ascii_bytes(cells.slice(1, 4))
    assert not _ascii_bytes(cells.slice(1, 5))
    assert not _ascii_bytes(cells.slice(0, 2))
    assert _ascii_bytes(cells.slice(2, 0)) and _ascii_bytes(pa.array([None, ""], pa.string()))
