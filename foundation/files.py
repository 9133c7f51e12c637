"""Reading record files in batches and writing results, for the command line.

Inputs: Parquet, CSV (UTF-8 with or without BOM, GB18030/GBK, UTF-16; comma or
tab separated), XLSX (first sheet, first row the header), JSON Lines.  Every
format is read in batches, so memory stays bounded whatever the file's size.
Outputs: Parquet, CSV (UTF-8 with a BOM, so that Excel shows Chinese text),
XLSX (at most :data:`XLSX_MAX_ROWS` rows a sheet, the header included).

Text files take a fast Arrow reader; a row it cannot take (a CSV row with more
or fewer cells than the header, a JSON line that is not an object or whose
values change type) switches the rest of the file to a plain-Python reader
that keeps every row: short rows are padded with empty cells and the problem is
reported in the row's ``warnings`` (column :data:`ROW_WARNING` of the batch).
A CSV file holding any quote is read by :func:`foundation.csv_rows.csv_rows`
throughout, so that a quote left open or stray is a damaged row with its line
number, never a cell that swallows the lines after it.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import decimal
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from foundation.csv_rows import csv_rows
from foundation.xlsx import FIELDS_SHEET, write_xlsx

INPUT_FORMATS = {
    ".parquet": "parquet", ".pq": "parquet",
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
    ".xlsx": "xlsx", ".xlsm": "xlsx",
}
OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".xlsx": "xlsx"}
#: Rows of one XLSX sheet, the header row included.
XLSX_MAX_ROWS = 1_048_576
#: Batch column holding a reader's remark about a row (a ragged CSV row, a bad JSON line).
ROW_WARNING = "__row_warning__"
#: Bytes sampled (at the start, middle and end of a text file) to tell its encoding.
SAMPLE_BYTES = 1 << 20
#: Bytes the Arrow CSV and JSON readers parse at a time.
BLOCK_BYTES = 1 << 24
#: Rows of a Parquet output's first batch read to tell which columns are worth a dictionary, and the share of
#: them that must repeat a value (below :data:`DICTIONARY_SAMPLE` rows, every column gets one).
DICTIONARY_SAMPLE, DICTIONARY_REPEATS = 10_000, 0.5


class InputError(Exception):
    """An input file cannot be read (missing, unknown format, undecodable)."""


class OutputError(Exception):
    """The output cannot be written as asked (format, size)."""


def input_format(path: Path) -> str:
    fmt = INPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        hint = " (save it as .xlsx or .csv)" if path.suffix.lower() == ".xls" else ""
        raise InputError(f"{path}: unknown input format {path.suffix or '(no extension)'!r}{hint}; "
                         f"use one of {', '.join(sorted(INPUT_FORMATS))}")
    return fmt


def output_format(path: Path) -> str:
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(f"{path}: unknown output format {path.suffix or '(no extension)'!r}; "
                          f"use one of {', '.join(sorted(OUTPUT_FORMATS))}")
    return fmt


def _unique_names(names) -> list[str]:
    """Header names made unique and non-empty (``备注``, ``备注.2``; an empty one ``列3``)."""
    out, seen = [], set()
    for i, name in enumerate(names):
        name = "" if name is None else str(name).strip()
        name = name or f"列{i + 1}"
        candidate, k = name, 2
        while candidate in seen:
            candidate, k = f"{name}.{k}", k + 1
        seen.add(candidate)
        out.append(candidate)
    return out


# --- encodings ---------------------------------------------------------------------------

def detect_encoding(path: Path) -> str:
    """``utf-8``, ``utf-16`` or ``gb18030``, from the byte order mark or samples of the file.

    UTF-8 is tried first (GB18030 would accept almost any bytes); samples are
    taken at the start, the middle and the end so that a file whose first
    megabyte is plain ASCII is still told right.

    Raises
    ------
    InputError
        Binary data, or text in neither encoding.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(SAMPLE_BYTES)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        samples = [head]
        for start in (size // 2, size - SAMPLE_BYTES):
            if start > len(head):
                f.seek(start)
                samples.append(f.read(SAMPLE_BYTES))
    if any(b"\x00" in s for s in samples):
        raise InputError(f"{path}: binary data, not a text (CSV) file")

    def decodes(encoding: str) -> bool:
        # GB18030 characters cannot be told apart mid-stream: only the start is tried for it
        for k, sample in enumerate(samples if encoding == "utf-8" else samples[:1]):
            if k:  # a sample cut mid-character: drop the continuation bytes it starts with
                sample = sample.lstrip(bytes(range(0x80, 0xC0)))
            try:
                codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
            except UnicodeDecodeError:
                return False
        return True

    for encoding in ("utf-8", "gb18030"):
        if decodes(encoding):
            return encoding
    raise InputError(f"{path}: text is neither UTF-8 nor GB18030; give its encoding with --encoding")


def _arrow_encoding(encoding: str) -> str:
    return "utf8" if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig") else encoding


def _python_encoding(encoding: str) -> str:
    return "utf-8-sig" if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig") else encoding


def _sniff_delimiter(path: Path, encoding: str) -> str:
    with open(path, encoding=_python_encoding(encoding), errors="replace", newline="") as f:
        line = f.readline()
    counts = {d: line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=counts.get)
    return best if counts[best] > counts[","] else ","


# --- sources -----------------------------------------------------------------------------

class Source:
    """An input file: its header (:attr:`names`) and its records in batches.

    Use :func:`open_input`.
    """

    format = ""

    def __init__(self, path: Path):
        self.path = path
        self.names: list[str] = []

    def known_rows(self) -> int | None:
        """Row count when the file states it (Parquet metadata), else None."""
        return None

    def count_rows(self) -> int | None:
        """Exact row count, reading the file if need be; None when only the format's limit bounds it."""
        return self.known_rows()

    def batches(self, batch_size: int, columns: list[str] | None = None) -> Iterator[pa.Table]:
        """Tables of at most ``batch_size`` rows with (a subset of) :attr:`names` as columns."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.format


class ParquetSource(Source):
    format = "parquet"

    def __init__(self, path: Path):
        super().__init__(path)
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{path}: not a readable Parquet file: {exc}") from exc
        self._raw_names = self._file.schema_arrow.names
        self.names = _unique_names(self._raw_names)

    def known_rows(self) -> int:
        return self._file.metadata.num_rows

    def batches(self, batch_size, columns=None):
        project = None
        if columns is not None and self.names == list(self._raw_names):
            project = [c for c in self.names if c in set(columns)]
        try:
            # decoded in the reading thread alone: the commands read in a thread beside the work
            # (foundation.background.prefetched), where Arrow's own threads only took cores from it (drg group
            # 10M: 5.58 → 5.41 s median of 9 and 43 MiB less peak memory; 1M: 1.85 → 1.71 s median of 6)
            for batch in self._file.iter_batches(batch_size=batch_size, columns=project, use_threads=False):
                table = pa.Table.from_batches([batch])
                if project is None:
                    table = table.rename_columns(self.names)
                yield table
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{self.path}: cannot read: {exc}") from exc


class CsvSource(Source):
    format = "csv"

    def __init__(self, path: Path, encoding: str | None = None):
        super().__init__(path)
        self.encoding = encoding or detect_encoding(path)
        self.delimiter = "\t" if path.suffix.lower() == ".tsv" else _sniff_delimiter(path, self.encoding)
        try:
            with open(path, encoding=_python_encoding(self.encoding), newline="") as f:
                reader = csv.reader(f, delimiter=self.delimiter)
                header = next(reader, None)
                self._header_lines = reader.line_num  # a quoted header cell may hold line breaks
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not {self.encoding} text ({exc.reason} at byte {exc.start}); "
                             "give the encoding with --encoding") from exc
        except csv.Error as exc:
            raise InputError(f"{path}: cannot read the header: {exc}") from exc
        if not header or not any(h.strip() for h in header):
            raise InputError(f"{path}: empty file, or no header line")
        self.names = _unique_names(header)
        self._has_quote: bool | None = None

    def describe(self):
        delimiter = {"\t": "tab", ",": "comma", ";": "semicolon"}[self.delimiter]
        return f"csv, {self.encoding}, {delimiter}"

    def _arrow_reader(self, columns=None):
        read = pacsv.ReadOptions(column_names=self.names, skip_rows=1, block_size=BLOCK_BYTES,
                                 encoding=_arrow_encoding(self.encoding))
        parse = pacsv.ParseOptions(delimiter=self.delimiter, quote_char=False)  # only files without quotes come here
        convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in self.names},
                                       include_columns=columns, quoted_strings_can_be_null=False)
        return pacsv.open_csv(self.path, read_options=read, parse_options=parse, convert_options=convert)

    def _quoted(self) -> bool:
        """Whether the file holds a quote at all (then the careful reader reads it: see foundation.csv_rows)."""
        if self._has_quote is None:
            with open(self.path, "rb") as f:
                self._has_quote = any(b'"' in block for block in iter(lambda: f.read(BLOCK_BYTES), b""))
        return self._has_quote

    def count_rows(self):
        if self._quoted():
            return sum(1 for _ in self._python_rows(0))
        n = 0
        try:
            for batch in self._arrow_reader(self.names[:1]):
                n += batch.num_rows
            return n
        except (pa.ArrowException, UnicodeDecodeError):
            return sum(1 for _ in self._python_rows(0))

    def batches(self, batch_size, columns=None):
        columns = self.names if columns is None else [c for c in self.names if c in set(columns)]
        if self._quoted():
            yield from self._python_batches(0, batch_size, columns)
            return
        done = 0
        try:
            for batch in _rebatch(self._arrow_reader(columns), batch_size):
                done += batch.num_rows
                yield batch
            return
        except (pa.ArrowException, UnicodeDecodeError):
            pass  # a row the Arrow reader cannot take: go on with the Python reader from that point
        yield from self._python_batches(done, batch_size, columns)

    def _python_rows(self, skip: int) -> Iterator[tuple[list[str], str | None]]:
        try:
            with open(self.path, encoding=_python_encoding(self.encoding), newline="") as f:
                for _ in range(self._header_lines):
                    next(f, None)
                rows = csv_rows(f, self.delimiter, len(self.names), first_line=self._header_lines + 1)
                for k, (_, row, note) in enumerate(rows):
                    if k >= skip:
                        yield row, note
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.path}: not {self.encoding} text ({exc.reason} at byte {exc.start}); "
                             "give the encoding with --encoding") from exc

    def _python_batches(self, skip, batch_size, columns):
        positions = [self.names.index(c) for c in columns]
        rows, notes = [], []
        for row, note in self._python_rows(skip):
            rows.append(row)
            notes.append(note)
            if len(rows) == batch_size:
                yield _rows_table(rows, notes, columns, positions)
                rows, notes = [], []
        if rows:
            yield _rows_table(rows, notes, columns, positions)


def _rows_table(rows, notes, columns, positions) -> pa.Table:
    data = {c: pa.array([r[p] for r in rows], pa.string()) for c, p in zip(columns, positions)}
    if any(notes):
        data[ROW_WARNING] = pa.array(notes, pa.string())
    if not data:
        return pa.table({ROW_WARNING: pa.nulls(len(rows), pa.string())})
    return pa.table(data)


class JsonlSource(Source):
    format = "jsonl"

    def __init__(self, path: Path, encoding: str | None = None):
        super().__init__(path)
        self.encoding = encoding or detect_encoding(path)
        self._array_file = False
        keys: dict[str, None] = {}
        try:
            with open(path, encoding=_python_encoding(self.encoding)) as f:
                first = ""
                for line in f:
                    if line.strip():
                        first = line.strip()
                        break
                if first.startswith("["):  # a JSON array of objects rather than JSON Lines
                    self._array_file = True
                    f.seek(0)
                    self._records = json.load(f)
                    if not isinstance(self._records, list):
                        raise InputError(f"{path}: a JSON file must hold one object a line, or an array of objects")
                    for r in self._records[:1000]:
                        if isinstance(r, dict):
                            keys.update(dict.fromkeys(map(str, r)))
                else:
                    f.seek(0)
                    for k, line in enumerate(f):
                        if k >= 1000:
                            break
                        record = _json_object(line)
                        if isinstance(record, dict):
                            keys.update(dict.fromkeys(map(str, record)))
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not {self.encoding} text; give the encoding with --encoding") from exc
        except ValueError as exc:
            raise InputError(f"{path}: not JSON: {exc}") from exc
        if not keys:
            raise InputError(f"{path}: no JSON objects found (one object a line is expected)")
        self.names = list(keys)

    def describe(self):
        return f"{'json array' if self._array_file else 'jsonl'}, {self.encoding}"

    def count_rows(self):
        if self._array_file:
            return len(self._records)
        with open(self.path, encoding=_python_encoding(self.encoding), errors="replace") as f:
            return sum(1 for line in f if line.strip())

    def batches(self, batch_size, columns=None):
        columns = self.names if columns is None else [c for c in self.names if c in set(columns)]
        if self._array_file:
            yield from self._python_batches(iter(self._records), 0, batch_size, columns)
            return
        done = 0
        if _arrow_encoding(self.encoding) == "utf8":
            try:
                reader = pajson.open_json(self.path, read_options=pajson.ReadOptions(block_size=BLOCK_BYTES))
                if set(reader.schema.names) == set(self.names):
                    for batch in _rebatch(reader, batch_size):
                        done += batch.num_rows
                        yield batch.select(columns) if columns else _rows_table([[]] * batch.num_rows,
                                                                                [None] * batch.num_rows, [], [])
                    return
            except (pa.ArrowException, UnicodeDecodeError):
                pass  # a line the Arrow reader cannot take: go on with the Python reader from that point
        yield from self._python_batches(self._lines(), done, batch_size, columns)

    def _lines(self):
        try:
            with open(self.path, encoding=_python_encoding(self.encoding)) as f:
                for line in f:
                    if line.strip():
                        yield line
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.path}: not {self.encoding} text; give the encoding with --encoding") from exc

    def _python_batches(self, items, skip, batch_size, columns):
        known = set(self.names)
        rows, notes = [], []
        for k, item in enumerate(items):
            if k < skip:
                continue
            record = _json_object(item) if isinstance(item, str) else item
            note = None
            if not isinstance(record, dict):
                note = "不是JSON对象 (not a JSON object): " + (item if isinstance(item, str) else json.dumps(item))[:200]
                record = {}
            else:
                extra = [str(key) for key in record if str(key) not in known]
                if extra:
                    note = f"未读取的字段 (fields not read): {', '.join(extra)[:200]}"
            rows.append([_cell_text(record.get(c)) for c in columns])
            notes.append(note)
            if len(rows) == batch_size:
                yield _rows_table(rows, notes, columns, range(len(columns)))
                rows, notes = [], []
        if rows:
            yield _rows_table(rows, notes, columns, range(len(columns)))


def _json_object(line: str):
    try:
        return json.loads(line)
    except ValueError:
        return None


class XlsxSource(Source):
    """The first sheet; a workbook written by :func:`foundation.xlsx.write_xlsx`: every data sheet, with the
    field names of its hidden sheet (the round trip of a table)."""

    format = "xlsx"

    def __init__(self, path: Path):
        super().__init__(path)
        self._fields = None
        rows = self._rows()
        header = next(rows, None)
        if header is None:
            raise InputError(f"{path}: the first sheet is empty")
        width = len(header)
        while width and header[width - 1] is None:
            width -= 1
        if not width:
            raise InputError(f"{path}: the first row of the first sheet (the header) is empty")
        self._width = width
        self.names = self._fields or _unique_names(_cell_text(h) for h in header[:width])

    def _rows(self):
        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            book = load_workbook(self.path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile) as exc:
            raise InputError(f"{self.path}: not a readable XLSX workbook: {exc}") from exc
        except Exception as exc:  # openpyxl and its XML parser raise many kinds on damaged files
            raise InputError(f"{self.path}: not a readable XLSX workbook: {type(exc).__name__}: {exc}") from exc
        try:
            if not book.worksheets:
                raise InputError(f"{self.path}: the workbook has no sheet")
            if FIELDS_SHEET not in book.sheetnames:
                self._fields = None
                yield from book.worksheets[0].iter_rows(values_only=True)
                return
            # written by foundation.xlsx: field names in the hidden sheet, the data in every other sheet
            fields = list(book[FIELDS_SHEET].iter_rows(values_only=True))[1:]
            self._fields = [_cell_text(row[0]) for row in fields if row and row[0] is not None]
            data = [ws for ws in book.worksheets if ws.title != FIELDS_SHEET]
            for k, ws in enumerate(data):
                rows = ws.iter_rows(values_only=True)
                header = next(rows, None)
                if k == 0:
                    yield header
                yield from rows
        except InputError:
            raise
        except Exception as exc:  # damaged sheet XML
            raise InputError(f"{self.path}: cannot read the sheet: {type(exc).__name__}: {exc}") from exc
        finally:
            book.close()

    def describe(self):
        return "xlsx, first sheet" if not self._fields else "xlsx, every data sheet (field names from the hidden sheet)"

    def batches(self, batch_size, columns=None):
        columns = self.names if columns is None else [c for c in self.names if c in set(columns)]
        positions = [self.names.index(c) for c in columns]
        width = self._width
        rows, notes = [], []
        it = self._rows()
        next(it, None)
        for raw in it:
            if raw is None or all(v is None or (isinstance(v, str) and not v.strip()) for v in raw):
                continue  # an empty row is not a record
            cells = [_cell_text(v) for v in raw[:width]]
            cells += [None] * (width - len(cells))
            extra = [_cell_text(v) for v in raw[width:] if v is not None]
            rows.append(cells)
            notes.append(f"表头之外的单元格 (cells beyond the header): {'|'.join(extra)[:200]}" if extra else None)
            if len(rows) == batch_size:
                yield _rows_table(rows, notes, columns, positions)
                rows, notes = [], []
        if rows:
            yield _rows_table(rows, notes, columns, positions)


def _cell_text(value) -> str | None:
    """A cell or JSON value as text: numbers without a spurious ``.0``, dates in ISO form, lists joined with ``|``."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)) and all(not isinstance(v, (list, dict)) for v in value):
        return "|".join("" if v is None else _cell_text(v) for v in value)
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _rebatch(batches, batch_size: int) -> Iterator[pa.Table]:
    """Arrow record batches of any size → tables of exactly ``batch_size`` rows (the last one shorter)."""
    pending, size = [], 0
    for batch in batches:
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        while table.num_rows:
            take = min(batch_size - size, table.num_rows)
            pending.append(table.slice(0, take))
            size += take
            table = table.slice(take)
            if size == batch_size:
                yield pa.concat_tables(pending).combine_chunks()
                pending, size = [], 0
    if pending:
        yield pa.concat_tables(pending).combine_chunks()


def open_input(path: Path, encoding: str | None = None) -> Source:
    """Open an input file of any supported format.

    Parameters
    ----------
    path : Path
    encoding : str, optional
        Text encoding of a CSV or JSON file; detected when not given.

    Raises
    ------
    InputError
        Missing file, unknown format, unreadable or undecodable content.
    """
    path = Path(path)
    fmt = input_format(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: not readable (permission denied)")
    if fmt == "parquet":
        return ParquetSource(path)
    if fmt == "csv":
        return CsvSource(path, encoding)
    if fmt == "jsonl":
        return JsonlSource(path, encoding)
    return XlsxSource(path)


def read_text_table(path: Path, encoding: str | None = None) -> pa.Table:
    """A whole small file (a hospital list, a weight table) as one table of text columns, empty cells ``""``.

    Read by :func:`open_input`, so it accepts every input format and encoding the record files do.

    Raises
    ------
    InputError
        Missing file, unknown format, unreadable or undecodable content.
    """
    from foundation.arrow_columns import as_text, plain_array

    source = open_input(path, encoding)
    parts = [batch.drop_columns([c for c in batch.column_names if c == ROW_WARNING])
             for batch in source.batches(1 << 16)]
    columns = {}
    for k, name in enumerate(source.names):
        cells = [plain_array(part.column(name)) for part in parts if name in part.column_names]
        text = pa.concat_arrays([as_text(c) for c in cells]) if cells else pa.array([], pa.string())
        columns[name] = pc.fill_null(text, "")
    return pa.table(columns) if columns else pa.table({})


# --- writing -----------------------------------------------------------------------------

class ResultWriter:
    """Append Arrow tables to a Parquet, CSV or XLSX file, written to a temporary name then renamed.

    CSV is written as UTF-8 with a byte order mark (Excel then shows Chinese text).  XLSX is a
    workbook for people (:func:`foundation.xlsx.write_xlsx`: ``labels`` as headers, the sheet named
    ``sheet``, frozen header, filter, widths, money formats) written at :meth:`close`, with
    ``progress`` called as rows are written; past :data:`XLSX_MAX_ROWS` − 1 rows it is refused unless
    ``split`` spreads the rows over sheets.  Neither runs a formula: a text cell or header starting with
    one of :data:`FORMULA_STARTS` gets a leading ``'`` in CSV and is written as text in XLSX.
    """

    def __init__(self, path: Path, *, sheet: str = "数据 data", labels: dict[str, str] | None = None,
                 split: bool = False, progress=None):
        self.path = Path(path)
        self.sheet, self.labels, self.split, self.progress = sheet, labels, split, progress
        self.format = output_format(self.path)
        self._tmp = self.path.with_name(f".{self.path.name}.partial")
        self._writer = None
        self._file = None
        self._rows = 0
        self._schema = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._open(table)
        elif self._schema is not None:
            table = _conform(table, self._schema)
        if self.format == "parquet":
            self._writer.write_table(table)
        elif self.format == "csv":
            self._writer.write_table(_csv_ready(table))
        else:
            self._write_xlsx(table)
        self._rows += table.num_rows

    def _open(self, first: pa.Table) -> None:
        schema = first.schema
        if self.format == "parquet":
            # min/max statistics for the plain columns (ids, numbers, amounts) only: on the dictionary columns
            # (labels such as drg or status) they doubled the time to write a batch, measured
            plain = [f.name for f in schema if not pa.types.is_dictionary(f.type)]
            self._writer = pq.ParquetWriter(self._tmp, schema, write_statistics=plain,
                                            use_dictionary=_repeating(first))
            self._schema = self._writer.schema
        elif self.format == "csv":
            self._file = open(self._tmp, "wb")
            self._file.write(codecs.BOM_UTF8)
            self._writer = pacsv.CSVWriter(self._file, _csv_ready(schema.empty_table()).schema)
            self._schema = schema
        else:
            self._writer = []  # the tables, written at close by the workbook writer
            self._schema = schema

    def _write_xlsx(self, table: pa.Table) -> None:
        if self._rows + table.num_rows > XLSX_MAX_ROWS - 1 and not self.split:
            raise OutputError(f"{self.path}: an XLSX sheet holds at most {XLSX_MAX_ROWS - 1:,} records; "
                              "write .parquet or .csv instead, or give --xlsx-split to spread them over sheets")
        self._writer.append(table)

    def close(self) -> None:
        if self._writer is None:
            return
        try:
            if self.format == "xlsx":
                write_xlsx(pa.concat_tables(self._writer), self._tmp, sheet=self.sheet, labels=self.labels,
                           split=self.split, progress=self.progress)
            else:
                self._writer.close()
                if self._file is not None:
                    self._file.close()
        except BaseException:  # a full disk: nothing half-written stays, the error goes to the caller
            self.abort()
            raise
        self._tmp.replace(self.path)

    def abort(self) -> None:
        try:
            if self._writer is not None and self.format != "xlsx":  # an XLSX is only written at close
                self._writer.close()
            if self._file is not None:
                self._file.close()
        except (OSError, pa.ArrowException):
            pass
        self._writer = None
        self._tmp.unlink(missing_ok=True)


def _repeating(first: pa.Table) -> list[str] | bool:
    """The columns worth a Parquet dictionary, judged on the first batch: those whose values repeat.

    A column of mostly distinct values (ids, row numbers, amounts) gets none: Parquet would build one for
    every row group, find it too large and fall back to plain values (``drg group`` writing 1M results:
    20% less time and a 9% smaller file without them on ``case_id`` and ``row_no``, measured).
    """
    sample = first.slice(0, DICTIONARY_SAMPLE)
    if sample.num_rows < DICTIONARY_SAMPLE or any(pa.types.is_nested(t) for t in sample.schema.types):
        return True  # too few rows to judge; a nested column's dictionary is named by its leaves' paths
    return [name for name, column in zip(sample.column_names, sample.columns)
            if pa.types.is_dictionary(column.type)
            or pc.count_distinct(column).as_py() <= (1 - DICTIONARY_REPEATS) * sample.num_rows]


def write_table(table: pa.Table, path: Path, **xlsx) -> Path:
    """Write one whole table to ``path`` (format by extension), atomically: nothing is left on failure.

    ``xlsx``: ``sheet``, ``labels``, ``split``, ``progress`` of an XLSX (:class:`ResultWriter`).
    """
    writer = ResultWriter(path, **xlsx)
    try:
        writer.write(table)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    return path


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` cast to the schema of the first batch written (a column that cannot be cast becomes text)."""
    if table.schema.equals(schema):
        return table
    columns = []
    for field in schema:
        column = table.column(field.name) if field.name in table.column_names else pa.nulls(table.num_rows, field.type)
        try:
            column = column.cast(field.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            column = pa.nulls(table.num_rows, field.type)
        columns.append(column)
    return pa.table(columns, schema=schema)


#: First characters that make a spreadsheet read a cell as a formula (CSV / formula injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = "^[=+\\-@\t\r]"


def formula_like(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` as a formula."""
    return text.startswith(FORMULA_STARTS)


def _inert(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Text cells a spreadsheet would read as a formula, prefixed with ``'`` (shown as text, never run)."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    hit = pc.fill_null(pc.match_substring_regex(column, _FORMULA_START), False)
    if not pc.any(hit).as_py():
        return column
    return pc.if_else(hit, pc.binary_join_element_wise("'", column, ""), column)


def _csv_ready(table: pa.Table) -> pa.Table:
    """Nested columns as JSON text (Arrow's CSV writer takes flat types only); header and text cells a
    spreadsheet would take for a formula prefixed with ``'``."""
    columns = []
    for field, column in zip(table.schema, table.columns):
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if pa.types.is_nested(kind) or pa.types.is_null(kind):
            column = pa.array([None if v is None else _cell_text(v) for v in column.to_pylist()], pa.string())
        if pa.types.is_nested(kind) or pa.types.is_null(kind) or pa.types.is_string(kind) or \
                pa.types.is_large_string(kind):
            column = _inert(column)
        columns.append(column)
    names = [f"'{name}" if formula_like(name) else name for name in table.column_names]
    return pa.table(columns, names=names)


def inert_formulas(sheet) -> None:
    """Make every cell of an openpyxl worksheet that holds text starting with ``=`` a text cell."""
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


def _xlsx_values(column: pa.ChunkedArray, sheet) -> list:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    values = column.to_pylist()
    t = column.type
    if pa.types.is_nested(t):
        values = [None if v is None else _cell_text(v) for v in values]
    elif pa.types.is_timestamp(t) and t.tz is not None:
        values = [None if v is None else v.replace(tzinfo=None) for v in values]
    elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
        values = [None if v is None else v.decode("utf-8", "replace") for v in values]
    elif not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return values
    return [_xlsx_text(v, sheet) if isinstance(v, str) else v for v in values]


def _xlsx_text(value, sheet):
    """Text for a cell: characters XML cannot hold are dropped; text a spreadsheet would take for a formula
    (:data:`FORMULA_STARTS`) is a cell of the string type."""
    if not value:
        return value
    if not value.isprintable():
        value = "".join(c for c in value if ord(c) >= 32 or c in "\t\n\r")
    if formula_like(value):
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value
