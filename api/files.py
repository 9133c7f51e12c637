"""Reading record files in batches and writing results, for the command line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

INPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


class InputError(Exception):
    """An input file cannot be read (missing, unknown format, undecodable)."""


def _format(path: Path, formats: dict[str, str], what: str) -> str:
    fmt = formats.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown {what} format {path.suffix!r}; use one of {', '.join(sorted(formats))}")
    return fmt


def count_rows(path: Path) -> int | None:
    """Row count when the format knows it without a scan (Parquet), else None."""
    if _format(path, INPUT_FORMATS, "input") == "parquet":
        return pq.ParquetFile(path).metadata.num_rows
    return None


def read_batches(path: Path, batch_size: int) -> Iterator[pa.Table]:
    """Yield the records of ``path`` as Arrow tables of at most ``batch_size`` rows.

    Text columns are read as text (codes such as ``310`` or ``00.5500`` keep
    their spelling).
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    fmt = _format(path, INPUT_FORMATS, "input")
    try:
        if fmt == "parquet":
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
                yield pa.Table.from_batches([batch])
        elif fmt == "csv":
            header = pacsv.open_csv(path).schema.names
            convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in header})
            reader = pacsv.open_csv(
                path, read_options=pacsv.ReadOptions(block_size=1 << 24), convert_options=convert
            )
            yield from _rebatch((pa.Table.from_batches([b]) for b in reader), batch_size)
        else:
            yield from _rebatch([pajson.read_json(path)], batch_size)
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc


def _rebatch(tables, batch_size: int) -> Iterator[pa.Table]:
    for table in tables:
        for start in range(0, table.num_rows, batch_size):
            yield table.slice(start, batch_size)


class ResultWriter:
    """Append Arrow tables to a Parquet or CSV file, written to a temporary name then renamed."""

    def __init__(self, path: Path):
        self.path = path
        self.format = _format(path, OUTPUT_FORMATS, "output")
        self._tmp = path.with_name(f".{path.name}.partial")
        self._writer = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.format == "parquet":
                self._writer = pq.ParquetWriter(self._tmp, table.schema)
            else:
                self._writer = pacsv.CSVWriter(self._tmp, table.schema)
        if self.format == "parquet":
            table = table.cast(self._writer.schema)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._tmp.replace(self.path)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._tmp.unlink(missing_ok=True)
