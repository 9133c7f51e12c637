"""Benchmark workloads: the golden records tiled to any size, or synthetic records from a pack."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DRG_SHARED_DIR", REPO.parent / "shared"))
GOLDEN_11 = SHARED / "golden" / "chs-drg-1.1.parquet"
TABLES_11 = SHARED / "drg-tables" / "chs-drg-1.1"


def have_golden() -> bool:
    return GOLDEN_11.is_file() and TABLES_11.is_dir()


def golden_table(name: str = "chs-drg-1.1") -> pa.Table:
    """The input columns of a golden set (default 1.1; a regional ``<region-year>`` too), expected columns dropped."""
    table = pq.read_table(SHARED / "golden" / f"{name}.parquet")
    return table.select([c for c in table.column_names if not c.startswith("expected_")])


def tiled(table: pa.Table, rows: int) -> pa.Table:
    """``table`` repeated until it has ``rows`` rows (case ids made unique)."""
    reps = -(-rows // table.num_rows)
    copies = []
    for k in range(reps):
        ids = pc.binary_join_element_wise(table.column("case_id").cast(pa.string()), f"{k:04d}", "~")
        copies.append(table.set_column(table.column_names.index("case_id"), "case_id", ids))
    return pa.concat_tables(copies).slice(0, rows).combine_chunks()


def write_tiled_parquet(path: Path, rows: int, row_group: int = 1_000_000) -> Path:
    """Write the golden records tiled to ``rows`` rows without holding them all in memory."""
    if path.is_file() and pq.ParquetFile(path).metadata.num_rows == rows:
        return path
    block = tiled(golden_table(), min(rows, row_group))
    with pq.ParquetWriter(path, block.schema) as writer:
        written = 0
        while written < rows:
            part = block.slice(0, min(block.num_rows, rows - written))
            ids = pc.binary_join_element_wise(part.column("case_id"), f"b{written // row_group}", "~")
            writer.write_table(part.set_column(0, "case_id", ids), row_group_size=row_group)
            written += part.num_rows
    return path
