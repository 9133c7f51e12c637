"""pytest-benchmark cases: ``python -m pytest benchmarks`` (targets in the issue notes, never asserted).

Each case also checks that the output did not change, so a fast wrong kernel cannot pass.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from benchmarks.bench_grouping import messy
from benchmarks.workload import TABLES_11, golden_table, have_golden, tiled
from grouper import Grouper
from grouper.encode import encode, to_arrow
from icd_tables.pack import Pack
from icd_tables.sample import sample_records

ROWS = 200_000


@pytest.fixture(scope="module")
def workload():
    if have_golden():
        grouper = Grouper(TABLES_11)
        table = tiled(golden_table(), ROWS)
    else:  # the bundled example pack, so the benchmarks run anywhere
        grouper = Grouper()
        table = sample_records(grouper.pack.compiled, ROWS)
    expected = grouper.group_arrow(table).column("drg").to_pylist()
    return grouper, table, expected


def test_pack_load(benchmark):
    folder = TABLES_11 if have_golden() else "example-mini"
    Pack.load(folder)
    pack = benchmark(Pack.load, folder)
    assert len(pack.compiled.drg_codes) > 1


def test_encode(benchmark, workload):
    grouper, table, _ = workload
    enc = benchmark(encode, table, grouper.pack.compiled)
    assert len(enc.batch.dx_start) == ROWS + 1


@pytest.mark.parametrize("spelling", ["clean", "messy"])
def test_encode_formatting(benchmark, workload, spelling):
    """Encoding that fixes the codes' formatting in the same pass (``drg group``); messy: 35% re-spelled."""
    grouper, table, _ = workload
    table = to_arrow(table)
    records = messy(table) if spelling == "messy" else table
    enc = benchmark(encode, records, grouper.pack.compiled, normalize=True)
    plain = encode(table, grouper.pack.compiled)
    assert np.array_equal(enc.batch.dx_ids, plain.batch.dx_ids)  # the same codes once formatted
    assert np.array_equal(enc.batch.proc_ids, plain.batch.proc_ids)


@pytest.mark.parametrize("threads", [1, numba.config.NUMBA_NUM_THREADS])
def test_kernel(benchmark, workload, threads):
    grouper, table, expected = workload
    enc = encode(table, grouper.pack.compiled)
    numba.set_num_threads(threads)
    try:
        out = benchmark(grouper.group_batch, enc.batch)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    codes = grouper.pack.compiled.drg_codes.to_pylist()
    assert [codes[i] for i in out.drg] == expected


def test_end_to_end(benchmark, workload):
    grouper, table, expected = workload
    results = benchmark(grouper.group_arrow, table)
    assert results.column("drg").to_pylist() == expected
