"""Binary COPY (api/service/pgcopy.py): the Numba kernels against a plain-Python twin, and a round trip
through PostgreSQL."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.service.pgcopy import binary_copy, read_int8
from service_helpers import PG_URL, postgres_reason

TYPES = {"t": "TEXT NOT NULL", "i": "BIGINT", "ts": "TIMESTAMP", "m": "DECIMAL(18, 2)", "r": "DECIMAL(18, 6)",
         "z": "NUMERIC(10, 0)"}
SCALES = {"m": 2, "r": 6, "z": 0}
PG_2000 = datetime(2000, 1, 1)


def naive_numeric(value: Decimal, scale: int) -> bytes:
    """PostgreSQL's binary NUMERIC, from the decimal text: base-10000 digits grouped around the point."""
    units = int(value.scaleb(scale))
    text = f"{abs(units):0{scale + 1}d}"
    whole, fraction = (text[:-scale], text[-scale:]) if scale else (text, "")
    whole = whole.rjust(-(-len(whole) // 4) * 4, "0")
    fraction = fraction.ljust(-(-len(fraction) // 4) * 4, "0")
    digits = [int(whole[k:k + 4]) for k in range(0, len(whole), 4)] + \
             [int(fraction[k:k + 4]) for k in range(0, len(fraction), 4)]
    weight = len(whole) // 4 - 1
    while digits and digits[0] == 0:  # no leading zero digits: each one dropped lowers the weight
        digits.pop(0)
        weight -= 1
    while digits and digits[-1] == 0:
        digits.pop()
    if not digits:
        weight = 0
    sign = 0x4000 if units < 0 else 0
    return struct.pack(f">hhhh{len(digits)}h", len(digits), weight, sign, scale, *digits)


def naive_copy(rows: list[dict], types: dict[str, str]) -> bytes:
    """The binary COPY stream, one value at a time with ``struct``."""
    out = bytearray(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
    for row in rows:
        out += struct.pack(">h", len(types))
        for name, sql in types.items():
            value = row[name]
            if value is None:
                data = None
            elif sql.startswith("TEXT"):
                data = value.encode("utf-8")
            elif sql == "BIGINT":
                data = struct.pack(">q", value)
            elif sql == "TIMESTAMP":
                data = struct.pack(">q", (value - PG_2000) // timedelta(microseconds=1))
            else:
                data = naive_numeric(value, SCALES[name])
            out += struct.pack(">i", -1) if data is None else struct.pack(">i", len(data)) + data
    return bytes(out + struct.pack(">h", -1))


def decimals(scale: int, digits: int = 18):
    return st.integers(-(10 ** digits - 1), 10 ** digits - 1).map(lambda u: Decimal(u).scaleb(-scale))


rows = st.lists(st.fixed_dictionaries({
    "t": st.text(max_size=12),
    "i": st.none() | st.integers(-2 ** 63, 2 ** 63 - 1),
    "ts": st.none() | st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1)),
    "m": st.none() | decimals(2) | st.sampled_from([Decimal("0.00"), Decimal("10000.00"), Decimal("-0.01")]),
    "r": st.none() | decimals(6) | st.sampled_from([Decimal("1.000000"), Decimal("0.000100")]),
    "z": st.none() | decimals(0, 10),
}), max_size=30)


def arrow(records: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(records, schema=pa.schema([
        ("t", pa.string()), ("i", pa.int64()), ("ts", pa.timestamp("us")), ("m", pa.decimal128(18, 2)),
        ("r", pa.decimal128(18, 6)), ("z", pa.decimal128(10, 0))]))


@settings(max_examples=200, deadline=None)
@given(records=rows, chunk=st.integers(1, 7))
def test_binary_copy_equals_the_plain_python_twin(records, chunk):
    assert b"".join(binary_copy(arrow(records), TYPES, chunk_rows=chunk)) == naive_copy(records, TYPES)


def test_numeric_digits_by_hand():
    # 1234567.89 at 2 places: digits 123|4567|8900 in base 10000, the first of weight 10000**1
    assert naive_numeric(Decimal("1234567.89"), 2) == struct.pack(">hhhhhhh", 3, 1, 0, 2, 123, 4567, 8900)
    # 0.000100 at 6 places: 0.0001|00 → one digit 1 of weight 10000**-1
    assert naive_numeric(Decimal("0.000100"), 6) == struct.pack(">hhhhh", 1, -1, 0, 6, 1)
    table = arrow([{"t": "", "i": None, "ts": None, "m": Decimal("1234567.89"), "r": Decimal("0.000100"),
                    "z": None}])
    assert b"".join(binary_copy(table, TYPES)) == naive_copy(table.to_pylist(), TYPES)


def test_sliced_and_dictionary_columns_read_their_own_rows():
    table = arrow([{"t": f"v{k}", "i": k, "ts": None, "m": Decimal(k), "r": None, "z": None} for k in range(10)])
    part = table.slice(3, 4)
    part = part.set_column(0, "t", part.column("t").dictionary_encode())
    assert b"".join(binary_copy(part, TYPES)) == naive_copy(table.slice(3, 4).to_pylist(), TYPES)


def test_unsupported_types_are_refused_by_name():
    with pytest.raises(ValueError, match="REAL"):
        list(binary_copy(pa.table({"x": [1.5]}), {"x": "REAL"}))
    with pytest.raises(ValueError, match="18 digits"):
        list(binary_copy(pa.table({"x": [1]}), {"x": "DECIMAL(30, 2)"}))


@pytest.mark.skipif(postgres_reason() is not None, reason=postgres_reason() or "")
def test_round_trip_through_postgresql():
    import psycopg

    records = [{"t": "中文 tab\tline\nend", "i": -5, "ts": datetime(1999, 12, 31, 23, 59, 59, 999999),
                "m": Decimal("-1234567.89"), "r": Decimal("0.000001"), "z": Decimal("9999999999")},
               {"t": "", "i": None, "ts": datetime(2024, 2, 29), "m": Decimal("0.00"), "r": None, "z": Decimal(0)}]
    with psycopg.connect(PG_URL) as conn:
        conn.execute("CREATE TEMP TABLE copied (t TEXT NOT NULL, i BIGINT, ts TIMESTAMP, m DECIMAL(18, 2), "
                     "r DECIMAL(18, 6), z NUMERIC(10, 0))")
        with conn.cursor().copy("COPY copied (t, i, ts, m, r, z) FROM STDIN (FORMAT binary)") as copy:
            for part in binary_copy(arrow(records), TYPES, chunk_rows=1):
                copy.write(part)
        back = conn.execute("SELECT t, i, ts, m, r, z FROM copied").fetchall()
    assert back == [tuple(r.values()) for r in records]


def naive_int8_stream(rows: list[tuple[int | None, ...]]) -> bytes:
    """A binary COPY stream of BIGINT fields, one value at a time with ``struct`` (``None``: NULL)."""
    out = bytearray(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
    for row in rows:
        out += struct.pack(">h", len(row))
        for value in row:
            out += struct.pack(">i", -1) if value is None else struct.pack(">iq", 8, value)
    return bytes(out + struct.pack(">h", -1))


@settings(max_examples=200, deadline=None)
@given(rows=st.integers(1, 4).flatmap(lambda n: st.lists(st.tuples(*[st.integers(-2 ** 63, 2 ** 63 - 1)] * n),
                                                          max_size=30).map(lambda rows: (n, rows))))
def test_read_int8_gives_the_columns_written(rows):
    n, values = rows
    columns = read_int8(naive_int8_stream(values), n)
    assert [list(map(int, c)) for c in columns] == [[row[k] for row in values] for k in range(n)]


def test_read_int8_refuses_nulls_other_widths_and_damaged_streams():
    with pytest.raises(ValueError, match="non-null BIGINT"):
        read_int8(naive_int8_stream([(1, None)]), 2)
    with pytest.raises(ValueError, match="non-null BIGINT"):
        read_int8(naive_int8_stream([(1, 2)]), 1)
    with pytest.raises(ValueError, match="binary COPY"):
        read_int8(naive_int8_stream([(1,)])[:-1], 1)


@pytest.mark.skipif(postgres_reason() is not None, reason=postgres_reason() or "")
def test_integers_read_through_postgresql():
    from api.service.db import Database

    db = Database(PG_URL)
    try:
        with db.connect() as conn:
            empty = conn.integers("SELECT 1::bigint AS a, 2::bigint AS b WHERE FALSE", 2)
            a, b = conn.integers("SELECT g AS a, -g * 4294967296 AS b FROM generate_series(1::bigint, 5) g ORDER BY g", 2)
    finally:
        db.close()
    assert [len(c) for c in empty] == [0, 0]
    assert a.tolist() == [1, 2, 3, 4, 5] and b.tolist() == [-g * 4294967296 for g in range(1, 6)]
