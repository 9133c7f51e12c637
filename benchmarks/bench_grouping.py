"""Encoding and kernel speed per thread, by part, for 1.1 and the largest regional packs (issue 24 parts 2-3).

``python benchmarks/bench_grouping.py [--rows 1000000]``, or :func:`measure_encoding` from
``benchmarks/run.py``.  One thread (``numba.set_num_threads(1)``); each figure is the best of
five runs; CPU time of the process (``time.process_time``), which a machine shared with
other work disturbs less than wall time.  Records: each pack's golden set tiled, the 1.1
golden set for a pack without one (zhejiang-2022: the share of codes it maps is printed);
``messy`` re-spells 35% of the 1.1 records the ways exports do (lower case and spaces,
``,``/``；`` separators, full width) to time encoding that fixes formatting.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.workload import SHARED, golden_table, tiled  # noqa: E402

#: 1.1 and the largest regional packs (by DRG count).
PACKS = ("chs-drg-1.1", "zhejiang-2022", "guangxi-2022")
CODE_COLUMNS = ("principal_dx", "secondary_dx", "procedures")


def _best(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def messy(table: pa.Table, share: float = 0.35, seed: int = 0) -> pa.Table:
    """``table`` with ``share`` of its rows' codes spelled as exports do (same codes after formatting)."""
    r = np.random.default_rng(seed).random(table.num_rows)
    from foundation.arrow_columns import as_text, plain_array

    text = {c: as_text(plain_array(table.column(c))) for c in CODE_COLUMNS}
    lower = pa.array(r < share * 3 / 7)
    separators = pa.array((r >= share * 3 / 7) & (r < share * 6 / 7))
    wide = pa.array((r >= share * 6 / 7) & (r < share))
    full_width = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})
    principal = pc.if_else(lower, pc.binary_join_element_wise(" ", pc.utf8_lower(text["principal_dx"]), " ", ""),
                           text["principal_dx"])
    principal = pc.if_else(wide, pa.array([None if s is None else s.translate(full_width)
                                           for s in principal.to_pylist()], pa.string()), principal)
    return (table.set_column(table.column_names.index("principal_dx"), "principal_dx", principal)
            .set_column(table.column_names.index("secondary_dx"), "secondary_dx",
                        pc.if_else(separators, pc.replace_substring(text["secondary_dx"], "|", ", "),
                                   text["secondary_dx"]))
            .set_column(table.column_names.index("procedures"), "procedures",
                        pc.if_else(separators, pc.replace_substring(text["procedures"], "|", "；"),
                                   text["procedures"])))


def measure_encoding(rows: int = 1_000_000, packs: tuple[str, ...] = PACKS) -> dict[str, float]:
    """Records/s per thread of encoding (codes formatted while encoded, as ``drg group`` does) and of the
    kernel, and ns per record of each part, for each pack; and the regional packs' speeds relative to 1.1."""
    import numba

    from grouper import Grouper
    from grouper.encode import encode
    from icd_tables.intake.codes import normalizer_for

    numba.set_num_threads(1)
    out: dict[str, float] = {}
    try:
        for name in packs:
            folder = SHARED / "drg-tables" / name
            if not folder.is_dir():
                continue
            grouper = Grouper(folder)
            cp = grouper.pack.compiled
            has_golden = (SHARED / "golden" / f"{name}.parquet").is_file()
            table = tiled(golden_table(name if has_golden else "chs-drg-1.1"), rows)
            workloads = {name: table}
            if name == "chs-drg-1.1":
                workloads[f"{name} messy"] = messy(table)
            for label, records in workloads.items():
                enc = encode(records, cp, normalize=True)  # JIT / cache load
                grouper.group_batch(enc.batch)
                out[f"{label}: encoding records/s (1 thread)"] = rows / _best(
                    lambda: encode(records, cp, normalize=True))
                out[f"{label}: kernel records/s (1 thread)"] = rows / _best(lambda: grouper.group_batch(enc.batch))
                codes = normalizer_for(cp)
                for column in CODE_COLUMNS:
                    cells = records.column(column).combine_chunks()
                    out[f"{label}: encoding {column} ns/record"] = 1e9 / rows * _best(
                        lambda: codes.encode_column(column, cells, rows))
                if not has_golden:
                    mapped = np.mean(np.concatenate([enc.batch.dx_ids, enc.batch.proc_ids]) >= 0)
                    out[f"{label}: share of codes mapped (1.1 golden records)"] = float(mapped)
        for name in packs[1:]:
            for part in ("encoding", "kernel"):
                key = f"{name}: {part} records/s (1 thread)"
                if key in out:
                    out[f"{name}: {part} speed / chs-drg-1.1"] = out[key] / out[f"chs-drg-1.1: {part} records/s (1 thread)"]
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    for key, value in measure_encoding(args.rows).items():
        print(f"{key:<60} {value:>14,.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
