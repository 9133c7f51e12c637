"""Formatting fixes for code cells before grouping: spaces, full width, separators, letter case.

Exports from hospital systems spell the same code in many ways: ``" K35.800X001 "``,
``"Ｋ３５.８００ｘ００１"``, ``"I10，E11.900；J18.900"``.  :func:`normalize_codes`
rewrites such cells to the pack's own spelling, vectorised over Arrow arrays, and
:meth:`CodeNormalizer.encode_column` does the same while splitting the cells into
codes and looking each up, in a Numba kernel over the Arrow buffers (cells with
non-ASCII characters are formatted by Arrow's Unicode kernels first):

1. full-width and compatibility characters become their plain forms (Unicode NFKC,
   only on cells that are not plain ASCII);
2. code lists (``secondary_dx``, ``procedures``) are split on ``,`` ``;`` ``|`` ``、``
   (and their full-width forms) with the spaces around them, and re-joined with ``|``;
   empty pieces are dropped, except a leading one in ``procedures``: the first
   procedure is the principal one, so an empty first slot stays empty rather than
   promoting the next code;
3. surrounding whitespace is removed;
4. a code the pack does not know as written, whose upper-cased form equals the
   upper-cased form of exactly one pack input code, is replaced by that code
   (``K35.800X001`` → ``K35.800x001``).  Where the case-folded form matches no
   pack code, or several, the code stays as written.

It never guesses: nothing is truncated, completed or looked up by prefix, so a
bare category such as ``R75`` or a procedure code in a diagnosis field stays
unmapped and the grouper reports the record ``invalid`` naming that code.  The
grouper's one-step mapping through the pack's map tables then applies unchanged.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from foundation.arrow_columns import plain_array
from foundation.background import worker_pool
from foundation.remembered import per_object
from icd_tables.intake import _kernels
from icd_tables.schema import CODE_LIST_SEPARATOR

#: Code columns the normaliser rewrites, and whether each holds a list of codes.
CODE_COLUMNS = {"principal_dx": False, "secondary_dx": True, "procedures": True}
FIELD_NAMES = {"principal_dx": "主要诊断", "secondary_dx": "其他诊断", "procedures": "手术操作"}
_SEPARATOR_RUN = r"[\s,;|、]*[,;|、][\s,;|、]*"
_WHITESPACE = " \t\r\n\v\f\u00a0\u3000"
#: Cells per chunk encoded in a thread of its own, at least (smaller columns are encoded in the caller's thread).
MIN_CHUNK_ROWS = 32_768


@dataclass(frozen=True)
class _CaseTable:
    """The pack's input codes, and the unambiguous upper-case key → pack spelling table."""

    inputs: pa.Array
    keys: pa.Array
    spellings: pa.Array

    @functools.cached_property
    def hashed(self) -> tuple[tuple, bool]:
        """The kernels' tables (exact codes: hash table, offsets, bytes; the same for the upper-case keys;
        key → input row), and whether some key's spelling has another length in bytes than the key."""
        inputs, keys = _buffers(self.inputs), _buffers(self.keys)
        spelling = pc.index_in(self.spellings, value_set=self.inputs).to_numpy(zero_copy_only=False)
        reshaped = not pc.all(pc.equal(pc.binary_length(self.spellings), pc.binary_length(self.keys))).as_py()
        return (_kernels.build_table(*inputs), *inputs, _kernels.build_table(*keys), *keys,
                spelling.astype(np.int32)), bool(reshaped)

    @classmethod
    def build(cls, inputs: pa.Array) -> "_CaseTable":
        inputs = inputs.cast(pa.string())
        folded = pc.utf8_upper(inputs)
        counts = folded.value_counts()
        unique = counts.field("values").filter(pc.equal(counts.field("counts"), 1))
        keep = pc.is_in(folded, value_set=unique)
        return cls(inputs, folded.filter(keep), inputs.filter(keep))

    def fix(self, codes: pa.Array) -> pa.Array:
        """``codes`` with every unknown code whose folded form is unambiguous spelled as the pack does."""
        if len(codes) == 0 or len(self.keys) == 0:
            return codes
        known = pc.is_in(codes, value_set=self.inputs)
        need = pc.and_(pc.invert(known), pc.greater(pc.binary_length(codes), 0))
        need = pc.fill_null(need, False)
        if not pc.any(need).as_py():
            return codes
        candidates = codes.filter(need)
        found = pc.index_in(pc.utf8_upper(candidates), value_set=self.keys)
        if found.null_count == len(found):
            return codes
        replacement = pc.coalesce(self.spellings.take(found), candidates)
        return pc.replace_with_mask(codes, need, replacement)


def _in_chunks(encode_rows, n: int, threads: int):
    """``encode_rows(0, n)``, computed as row chunks in up to ``threads`` parallel threads (the kernel releases
    the GIL) and joined."""
    chunks = max(1, min(threads, n // MIN_CHUNK_ROWS))
    if chunks == 1:
        return encode_rows(0, n)
    bounds = np.arange(chunks + 1) * n // chunks
    parts = list(worker_pool("encode").map(encode_rows, bounds[:-1], bounds[1:]))
    pieces = np.cumsum([0] + [len(part[1]) for part in parts])
    sizes = np.cumsum([0] + [len(part[3]) for part in parts]).astype(np.int32)
    return (np.concatenate([part[0][:-1] + pieces[k] for k, part in enumerate(parts)] + [pieces[-1:]]),
            np.concatenate([part[1] for part in parts]),
            np.concatenate([part[2][:-1] + sizes[k] for k, part in enumerate(parts)] + [sizes[-1:]]),
            np.concatenate([part[3] for part in parts]),
            np.concatenate([part[4] for part in parts]))


def _buffers(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (int32, or int64 for ``large_string``) and bytes of a string array, without copying."""
    n = len(text)
    width = 8 if pa.types.is_large_string(text.type) else 4
    _, offsets_buf, data_buf = text.buffers()[:3]
    offsets = np.frombuffer(offsets_buf, dtype=np.int64 if width == 8 else np.int32, count=n + 1,
                            offset=width * text.offset)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return offsets, data


def _ascii_bytes(text: pa.Array) -> bool:
    """Whether the bytes of every cell of a string array are ASCII (one pass over the bytes: a tenth of the time of
    Arrow's test of each cell)."""
    offsets, data = _buffers(text)
    cells = data[offsets[0]:offsets[-1]]
    return len(cells) == 0 or cells.max() < 0x80


@dataclass(frozen=True)
class CodeCells:
    """The codes of one column, split, formatted and looked up (:meth:`CodeNormalizer.encode_column`).

    Cell ``i`` holds the codes ``cell_start[i]:cell_start[i + 1]`` of ``codes``
    (as formatted; a null single cell is one null code); ``ids`` is each code's
    row in the pack's input codes (or the target there, see :meth:`CodeNormalizer.encode_column`),
    -1 where the pack does not know it;
    ``changed`` marks the cells whose text formatting changed.
    """

    cell_start: np.ndarray
    ids: np.ndarray
    codes: pa.StringArray
    changed: np.ndarray


def _as_text(column) -> pa.Array:
    """A plain ``string`` array from a text, dictionary, large-string, number or list column."""
    column = plain_array(column)
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        lists = column.cast(pa.list_(pa.string()))
        values = pc.fill_null(lists.values, "")
        return pc.binary_join(pa.ListArray.from_arrays(lists.offsets, values, mask=lists.is_null()),
                              CODE_LIST_SEPARATOR)
    if not pa.types.is_string(column.type):
        column = column.cast(pa.string())
    return column


def _unicode_plain(text: pa.Array) -> pa.Array:
    """NFKC on the cells that are not plain ASCII (full-width digits, letters and punctuation)."""
    ascii_ = pc.fill_null(pc.string_is_ascii(text), True)
    if pc.all(ascii_).as_py():
        return text
    wide = pc.invert(ascii_)
    return pc.replace_with_mask(text, wide, pc.utf8_normalize(text.filter(wide), "NFKC"))


def _format_cell(text: pa.Array, *, is_list: bool, keep_leading_empty: bool) -> pa.Array:
    """Whitespace and separators of whole cells (before the per-code case fix)."""
    text = _unicode_plain(text)
    if not is_list:
        return pc.utf8_trim(text, _WHITESPACE)
    messy = pc.fill_null(pc.match_substring_regex(text, r"[\s,;、]|\|\||^\||\|$"), False)
    if not pc.any(messy).as_py():
        return text
    sub = pc.replace_substring_regex(text.filter(messy), _SEPARATOR_RUN, CODE_LIST_SEPARATOR)
    if keep_leading_empty:
        # trailing separators go; a leading one (an empty principal procedure) stays, unless nothing follows
        sub = pc.utf8_rtrim(pc.utf8_ltrim(sub, _WHITESPACE), _WHITESPACE + CODE_LIST_SEPARATOR)
    else:
        sub = pc.utf8_trim(sub, _WHITESPACE + CODE_LIST_SEPARATOR)
    return pc.replace_with_mask(text, messy, sub)


def _fix_list_case(text: pa.Array, table: _CaseTable) -> pa.Array:
    """Split ``|``-joined cells, fix each code's case, re-join (only when something changed)."""
    lists = pc.split_pattern(text, CODE_LIST_SEPARATOR)
    flat = lists.values
    fixed = table.fix(flat)
    if fixed is flat:
        return text
    rebuilt = pa.ListArray.from_arrays(lists.offsets, fixed, mask=lists.is_null())
    return pc.binary_join(rebuilt, CODE_LIST_SEPARATOR)


class CodeNormalizer:
    """Formatting fixes for one pack's codes (build once, apply to every batch).

    Parameters
    ----------
    pack : Pack or CompiledPack
        The pack whose input codes define the spelling (``dx_inputs``, ``proc_inputs``).
    """

    def __init__(self, pack):
        compiled = getattr(pack, "compiled", pack)
        self._dx = _CaseTable.build(compiled.dx_inputs)
        self._proc = _CaseTable.build(compiled.proc_inputs)

    def normalize_column(self, name: str, column) -> pa.Array:
        """One code column (``principal_dx``, ``secondary_dx`` or ``procedures``) normalised."""
        is_list = CODE_COLUMNS[name]
        text = _format_cell(_as_text(column), is_list=is_list, keep_leading_empty=name == "procedures")
        table = self._proc if name == "procedures" else self._dx
        return _fix_list_case(text, table) if is_list else table.fix(text)

    def encode_columns(self, columns, n: int, *, normalize: bool = True) -> list[CodeCells]:
        """:meth:`encode_column` of several columns, in parallel threads that share Numba's thread count.

        Parameters
        ----------
        columns : list of (str, pyarrow.Array or None, numpy.ndarray or None)
            Each column's ``name``, cells and ``targets``, as :meth:`encode_column` takes them.
        n : int
            The number of records.
        normalize : bool
            As :meth:`encode_column`.

        Returns
        -------
        list of CodeCells
            In the order of ``columns``.  Fewer than :data:`MIN_CHUNK_ROWS` records are encoded in
            the caller's thread; a column is split into row chunks only where the threads outnumber
            the columns: joining chunks copies their output.
        """
        threads = numba.get_num_threads()  # the caller's setting (Numba's is per thread)
        share = max(1, threads // len(columns)) if columns else 1

        def encode(spec):
            name, column, targets = spec
            return self.encode_column(name, column, n, normalize=normalize, targets=targets, threads=share)

        if threads == 1 or len(columns) < 2 or n < MIN_CHUNK_ROWS:
            return [encode(spec) for spec in columns]
        # a pool of their own: each column waits on the chunks' pool
        return list(worker_pool("encode-column").map(encode, columns))

    def encode_column(self, name: str, column, n: int, *, normalize: bool = True,
                      targets: np.ndarray | None = None, threads: int | None = None) -> CodeCells:
        """Split, format (with ``normalize``) and look up one code column in a kernel over its buffers.

        Parameters
        ----------
        name : str
            ``principal_dx`` (one code per cell), ``secondary_dx`` or ``procedures`` (``|``-joined lists,
            or list cells).
        column : pyarrow.Array, pyarrow.ChunkedArray or None
            The cells; None for a column the input lacks.
        n : int
            The number of records.
        normalize : bool
            Format each cell as :meth:`normalize_column` does; otherwise take the codes as written.
        targets : numpy.ndarray, optional
            int32 per pack input code (``dx_input_target``, ``proc_input_target``): the ids given
            instead of the input codes' rows.
        threads : int, optional
            Threads for row chunks of at least :data:`MIN_CHUNK_ROWS` cells; default Numba's thread count.

        Returns
        -------
        CodeCells
            The codes of each cell, equal to splitting :meth:`normalize_column`'s text (with
            ``normalize``) on ``|`` and looking each code up in the pack's input codes.
        """
        is_list = CODE_COLUMNS[name]
        table = self._proc if name == "procedures" else self._dx
        column = pa.nulls(n, pa.string()) if column is None else plain_array(column)
        if targets is None:
            targets = np.arange(len(table.inputs), dtype=np.int32)
        threads = numba.get_num_threads() if threads is None else threads
        if not normalize and (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
            return self._encode_lists(column, table, targets, threads)
        text = column if pa.types.is_large_string(column.type) else _as_text(column)
        verbatim = changed = None
        if normalize:
            if table.hashed[1]:  # a case fix could change a code's length: all cells formatted by Arrow
                wide = pc.fill_null(pc.is_valid(text), False)
            elif _ascii_bytes(text):  # the usual case, told from the bytes at once, without a look at each cell
                wide = None
            else:
                wide = pc.invert(pc.fill_null(pc.string_is_ascii(text), True))
            # full-width and other non-ASCII cells: formatted by Arrow's Unicode kernels
            if wide is not None and pc.any(wide).as_py():
                before = text.filter(wide)
                after = self.normalize_column(name, before)
                text = pc.replace_with_mask(text, wide, after.cast(text.type))
                verbatim = wide.to_numpy(zero_copy_only=False)
                changed = np.zeros(n, dtype=bool)
                changed[verbatim] = pc.fill_null(pc.not_equal(before, after), False).to_numpy(zero_copy_only=False)
        cells = self._encode_text(text, table, targets, is_list=is_list, keep_leading_empty=name == "procedures",
                                  normalize=normalize, verbatim=verbatim, threads=threads)
        if changed is not None:
            cells.changed[:] |= changed
        return cells

    @staticmethod
    def _encode_text(text: pa.Array, table: _CaseTable, targets: np.ndarray, *, is_list: bool,
                     keep_leading_empty: bool, normalize: bool, verbatim: np.ndarray | None, threads: int) -> CodeCells:
        n = len(text)
        offsets, data = _buffers(text)
        valid = (np.ones(n, dtype=bool) if text.null_count == 0
                 else text.is_valid().to_numpy(zero_copy_only=False))
        if verbatim is None:
            verbatim = np.zeros(n, dtype=bool)
        hashed = table.hashed[0]
        targets = np.ascontiguousarray(targets, dtype=np.int32)

        def encode_rows(lo: int, hi: int):
            cells = offsets[lo:hi + 1]
            size = int(cells[-1] - cells[0])  # every code of a list cell but its first follows a separator byte
            pieces = hi - lo + (size if is_list else 0)
            cell_start, rows = np.empty(hi - lo + 1, dtype=np.int64), np.empty(pieces, dtype=np.int32)
            piece_offsets, out = np.empty(pieces + 1, dtype=np.int32), np.empty(size + 16, dtype=np.uint8)
            changed = np.zeros(hi - lo, dtype=bool)
            p, w = _kernels.encode_cells(cells, data, valid[lo:hi], verbatim[lo:hi], is_list, keep_leading_empty,
                                         normalize, *hashed, targets, cell_start, rows, piece_offsets, out, changed,
                                         np.empty(size + 16, dtype=np.uint8))
            return cell_start, rows[:p], piece_offsets[:p + 1], out[:w], changed

        cell_start, ids, piece_offsets, piece_data, changed = _in_chunks(encode_rows, n, threads)
        mask = None
        if not is_list and text.null_count:
            mask = pa.py_buffer(np.packbits(valid, bitorder="little"))
        codes = pa.StringArray.from_buffers(len(ids), pa.py_buffer(piece_offsets), pa.py_buffer(piece_data), mask)
        return CodeCells(cell_start, ids, codes, changed)

    def _encode_lists(self, column: pa.Array, table: _CaseTable, targets: np.ndarray, threads: int) -> CodeCells:
        """List cells taken as written: each element one code (a null element an empty one)."""
        lists = column.cast(pa.list_(pa.string()))
        lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
        cell_start = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum(lengths, out=cell_start[1:])
        flat = self._encode_text(pc.fill_null(pc.list_flatten(lists), "").cast(pa.string()), table, targets,
                                 is_list=False, keep_leading_empty=False, normalize=False, verbatim=None,
                                 threads=threads)
        return CodeCells(cell_start, flat.ids, flat.codes, np.zeros(len(lists), dtype=bool))

    def __call__(self, table: pa.Table) -> pa.Table:
        return self.normalize(table)[0]

    def normalize(self, table: pa.Table) -> tuple[pa.Table, np.ndarray]:
        """The normalised table and a boolean mask of the rows whose code columns changed."""
        changed = np.zeros(table.num_rows, dtype=bool)
        for name in CODE_COLUMNS:
            if name in table.column_names:
                index = table.column_names.index(name)
                before = _as_text(table.column(index))
                after = self.normalize_column(name, before)
                if after is not before:
                    differs = pc.fill_null(pc.not_equal(before, after), False)
                    changed |= differs.to_numpy(zero_copy_only=False)
                table = table.set_column(index, name, after)
        return table, changed


def formatting_notes(before: pa.Table, after: pa.Table, rows: np.ndarray) -> list[str]:
    """What formatting changed in each of ``rows``: ``Ｋ３５．８００ → K35.800：全角字符 (full width)``.

    ``before`` and ``after`` hold the code columns as read and as normalised; ``rows`` index
    the rows that changed.  One note per changed cell, ``; ``-joined per row.
    """
    notes = []
    columns = [c for c in CODE_COLUMNS if c in before.column_names]
    cells = {c: (_as_text(before.column(c)).take(pa.array(rows)).to_pylist(),
                 _as_text(after.column(c)).take(pa.array(rows)).to_pylist()) for c in columns}
    for k in range(len(rows)):
        parts = []
        for name in columns:
            old, new = cells[name][0][k], cells[name][1][k]
            if old != new:
                parts.append(f"{FIELD_NAMES[name]} {old} → {new}：{'、'.join(_reasons(old or '', new or ''))}")
        notes.append("; ".join(parts))
    return notes


def _reasons(old: str, new: str) -> list[str]:
    """Why formatting turned ``old`` into ``new``, in words (Chinese, English in brackets)."""
    reasons = []
    folded = unicodedata.normalize("NFKC", old)
    if folded != old:
        reasons.append("全角字符 (full width)")
    if any(ch in _WHITESPACE for ch in folded):
        reasons.append("空格 (spaces)")
    if re.search(r"[,;、]", folded) or re.search(r"\|\||^\||\|$", folded.strip()):
        reasons.append("分隔符 (separators)")
    cleaned = re.sub(_SEPARATOR_RUN, CODE_LIST_SEPARATOR, folded.strip(_WHITESPACE))
    if cleaned != new and cleaned.upper() == new.upper():
        reasons.append("大小写 (letter case)")
    return reasons or ["格式 (formatting)"]


def normalize_codes(table: pa.Table, pack) -> pa.Table:
    """Fix the formatting of ``principal_dx``, ``secondary_dx`` and ``procedures``.

    Parameters
    ----------
    table : pyarrow.Table
        Records in the canonical schema; other columns are returned unchanged,
        and absent code columns stay absent.
    pack : Pack or CompiledPack
        The pack the records will be grouped with.

    Returns
    -------
    pyarrow.Table
        The same columns, the code columns as ``string`` arrays in the pack's
        spelling where formatting alone made the difference.

    Examples
    --------
    >>> normalize_codes(pa.table({"principal_dx": [" k35.800X001 "]}), "chs-drg-1.1")  # doctest: +SKIP
    principal_dx: ["K35.800x001"]
    """
    compiled = getattr(pack, "compiled", pack)
    if isinstance(compiled, (str, bytes)) or hasattr(compiled, "__fspath__"):
        from icd_tables.pack import Pack

        compiled = Pack.load(compiled).compiled
    return normalizer_for(compiled)(table)


def normalizer_for(compiled) -> CodeNormalizer:
    """The :class:`CodeNormalizer` of a compiled pack, built once (the last few packs are kept)."""
    return per_object("code normalizer", (compiled,), lambda: CodeNormalizer(compiled))
