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

    def write(self, out: np.ndarray, pos: np.ndarray) -> None:
        if self.kind == "text":
            _put_text(out, pos, self.offsets, self.data, self.valid)
        elif self.kind == "numeric":
            _put_numeric(out, pos, self.values, self.valid, self.scale)
        else:
            _put_int8(out, pos, self.values, self.valid)


def _rows(table: pa.Table, types: dict[str, str]) -> bytes:
    fields = [_Field(table.column(name).combine_chunks(), types[name]) for name in table.column_names]
    sizes = np.full(table.num_rows, 2, dtype=np.int64)
    for field in fields:
        sizes += field.sizes
    pos = np.zeros(table.num_rows, dtype=np.int64)
    np.cumsum(sizes[:-1], out=pos[1:])
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    _put_field_counts(out, pos, len(fields))
    for field in fields:
        field.write(out, pos)
    return out.tobytes()


def binary_copy(table: pa.Table, types: dict[str, str], chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
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
    bytes
        The header with the first rows, further rows, and the trailer.
    """
    yield HEADER
    for start in range(0, table.num_rows, chunk_rows):
        yield _rows(table.slice(start, chunk_rows), types)
    yield TRAILER


__all__ = ["CHUNK_ROWS", "PG_EPOCH_US", "binary_copy"]
