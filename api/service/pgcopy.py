"""Arrow tables as PostgreSQL binary ``COPY`` data (``COPY … FROM STDIN (FORMAT binary)``).

The server reads binary fields without parsing text, and the rows are laid out by Numba kernels
straight from Arrow's buffers (:mod:`api.service._kernels`), so a million stored cases cost about
what the server takes to write them.  Column types are the table's SQL types:

* ``TEXT`` — any Arrow string (dictionary columns decoded);
* ``BIGINT`` — any Arrow integer;
* ``TIMESTAMP`` — an Arrow timestamp without zone (microseconds);
* ``DECIMAL(p, s)`` — an Arrow decimal or integer, sent exactly with ``s`` places (at most 18 digits).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.service._kernels import _numeric_sizes, _put_field_counts, _put_int8, _put_numeric, _put_text

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
TRAILER = b"\xff\xff"
#: Microseconds from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's).
PG_EPOCH_US = 946_684_800_000_000
#: Rows laid out at a time (bounds the memory of one piece of the stream).
CHUNK_ROWS = 100_000
#: Rows whose fields are written column by column in one go (about a megabyte of output).
BLOCK_ROWS = 4096


def _kind(sql_type: str) -> tuple[str, int]:
    """(``text`` | ``int8`` | ``timestamp`` | ``numeric``, decimal places) of a column's SQL type."""
    base = sql_type.upper().replace(" NOT NULL", "").strip()
    numeric = re.fullmatch(r"(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", base)
    if numeric:
        if int(numeric.group(1)) > 18:
            raise ValueError(f"binary COPY sends decimals of at most 18 digits, not {sql_type}")
        return "numeric", int(numeric.group(2))
    kinds = {"TEXT": "text", "BIGINT": "int8", "TIMESTAMP": "timestamp"}
    if base not in kinds:
        raise ValueError(f"binary COPY of a {sql_type} column is not supported")
    return kinds[base], 0


class _Field:
    """One column of a chunk ready for its kernel: size of each field and a writer."""

    def __init__(self, column: pa.Array, sql_type: str):
        kind, scale = _kind(sql_type)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        n = len(column)
        self.valid = np.ascontiguousarray(column.is_valid().to_numpy(zero_copy_only=False))
        if kind == "text":
            column = column if pa.types.is_large_string(column.type) else column.cast(pa.string())
            _, offsets, data = column.buffers()
            width = np.int64 if pa.types.is_large_string(column.type) else np.int32
            self.offsets = np.frombuffer(offsets, dtype=width)[column.offset:column.offset + n + 1] \
                if offsets is not None else np.zeros(n + 1, dtype=width)
            self.data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
            self.sizes = 4 + np.where(self.valid, np.diff(self.offsets).astype(np.int64), 0)
        elif kind == "numeric":
            fixed = column.cast(pa.decimal128(18, scale))  # exact: refuses a value that would lose digits
            words = np.frombuffer(fixed.buffers()[1], dtype=np.int64).reshape(-1, 2)
            self.values = np.ascontiguousarray(words[fixed.offset:fixed.offset + n, 0])  # low word: |value| < 10**18
            self.sizes = _numeric_sizes(self.values, self.valid, scale)
        else:
            if kind == "timestamp":
                if not pa.types.is_timestamp(column.type) or column.type.tz is not None:
                    raise ValueError(f"a TIMESTAMP column needs an Arrow timestamp without zone, not {column.type}")
                column = column.cast(pa.timestamp("us"))
            values = pc.fill_null(column.cast(pa.int64()), 0).to_numpy(zero_copy_only=False).astype(np.int64)
            self.values = values - PG_EPOCH_US if kind == "timestamp" else values
            self.sizes = 4 + 8 * self.valid.astype(np.int64)
        self.kind, self.scale = kind, scale

    def write(self, out: np.ndarray, pos: np.ndarray, start: int, stop: int) -> None:
        if self.kind == "text":
            _put_text(out, pos, self.offsets, self.data, self.valid, start, stop)
        elif self.kind == "numeric":
            _put_numeric(out, pos, self.values, self.valid, self.scale, start, stop)
        else:
            _put_int8(out, pos, self.values, self.valid, start, stop)


def _rows(table: pa.Table, types: dict[str, str]) -> np.ndarray:
    fields = [_Field(table.column(name).combine_chunks(), types[name]) for name in table.column_names]
    sizes = np.full(table.num_rows, 2, dtype=np.int64)
    for field in fields:
        sizes += field.sizes
    pos = np.zeros(table.num_rows, dtype=np.int64)
    np.cumsum(sizes[:-1], out=pos[1:])
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    for start in range(0, table.num_rows, BLOCK_ROWS):  # whole rows a block at a time: its output stays in cache
        stop = min(start + BLOCK_ROWS, table.num_rows)
        _put_field_counts(out, pos, len(fields), start, stop)
        for field in fields:
            field.write(out, pos, start, stop)
    return out


def binary_copy(table: pa.Table, types: dict[str, str], chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes | memoryview]:
    """The ``COPY … (FORMAT binary)`` stream of ``table``, in pieces of ``chunk_rows`` rows.

    Parameters
    ----------
    table : pyarrow.Table
        Its columns, in order, are the columns copied into.
    types : dict
        Column name → its SQL type in the target table (e.g. :data:`api.service.db.CASE_COLUMNS`).
    chunk_rows : int

    Yields
    ------
    bytes or memoryview
        The header, the rows of each chunk (a view of the bytes laid out, not copied again), and the trailer.
    """
    yield HEADER
    for start in range(0, table.num_rows, chunk_rows):
        yield memoryview(_rows(table.slice(start, chunk_rows), types))
    yield TRAILER


def read_int8(data: bytes, n_columns: int) -> list[np.ndarray]:
    """The columns of a ``COPY … TO STDOUT (FORMAT binary)`` stream of ``n_columns`` non-null ``BIGINT`` fields.

    Parameters
    ----------
    data : bytes
        The whole stream, header to trailer.
    n_columns : int

    Returns
    -------
    list of numpy.ndarray
        One int64 array per column.
    """
    if not (data.startswith(HEADER) and data.endswith(TRAILER)):
        raise ValueError("not a binary COPY stream without header extension")
    row = np.dtype([("n", ">i2")] + [(f"{kind}{k}", ">i4" if kind == "size" else ">i8")
                                     for k in range(n_columns) for kind in ("size", "value")])
    rows = np.frombuffer(data, dtype=row, count=(len(data) - len(HEADER) - len(TRAILER)) // row.itemsize,
                         offset=len(HEADER))
    if len(HEADER) + rows.nbytes + len(TRAILER) != len(data) or np.any(rows["n"] != n_columns) or \
            any(np.any(rows[f"size{k}"] != 8) for k in range(n_columns)):
        raise ValueError(f"a binary COPY stream of {n_columns} non-null BIGINT fields was expected")
    return [rows[f"value{k}"].astype(np.int64) for k in range(n_columns)]


__all__ = ["BLOCK_ROWS", "CHUNK_ROWS", "PG_EPOCH_US", "binary_copy", "read_int8"]
