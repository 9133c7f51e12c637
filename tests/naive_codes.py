"""Plain-Python twin of the code intake's kernel (``CodeNormalizer.encode_column``): one cell at a time.

Written from the rules in :mod:`icd_tables.intake.codes`, with Python's ``re`` and
``unicodedata`` instead of Arrow's kernels: full width (NFKC, non-ASCII cells only),
separator runs of list cells, whitespace at the ends, the case fix against the pack's
unambiguous upper-case keys, then the split on ``|`` and the lookup.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

#: The regular expression's ``\s`` as Arrow's RE2 reads it: ASCII space, tab, line feed, form feed, return.
_SPACE = "\t\n\f\r "
_SEPARATORS = ",;|、"
_RUN = re.compile(f"[{re.escape(_SPACE + _SEPARATORS)}]*[{re.escape(_SEPARATORS)}][{re.escape(_SPACE + _SEPARATORS)}]*")
_MESSY = re.compile(f"[{re.escape(_SPACE)},;、]|\\|\\||^\\||\\|$")
_WHITESPACE = " \t\r\n\v\f\u00a0\u3000"


def _upper(text: str) -> str:
    """Upper case character by character (simple case mapping: one character stays one)."""
    return "".join(u if len(u := c.upper()) == 1 else c for c in text)


class NaiveCodes:
    """The twin for one pack code list (``dx_inputs`` or ``proc_inputs`` as Python strings)."""

    def __init__(self, inputs: list[str]):
        self.row = {}
        for k, code in enumerate(inputs):
            self.row.setdefault(code, k)
        folded = Counter(_upper(c) for c in inputs)
        self.spelling = {_upper(c): c for c in inputs if folded[_upper(c)] == 1}

    def fix_case(self, code: str) -> str:
        if code in self.row or not code:
            return code
        return self.spelling.get(_upper(code), code)

    def format_cell(self, text: str | None, *, is_list: bool, keep_leading_empty: bool) -> str | None:
        """The cell's text after formatting (``|``-joined codes for a list cell)."""
        if text is None:
            return None
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
        if not is_list:
            return self.fix_case(text.strip(_WHITESPACE))
        if _MESSY.search(text):
            text = _RUN.sub("|", text)
            if keep_leading_empty:
                text = text.lstrip(_WHITESPACE).rstrip(_WHITESPACE + "|")
            else:
                text = text.strip(_WHITESPACE + "|")
        return "|".join(self.fix_case(code) for code in text.split("|"))

    def encode_cell(self, text: str | None, *, is_list: bool, keep_leading_empty: bool = False,
                    normalize: bool = True) -> tuple[list[str | None], list[int], bool]:
        """(codes, input rows with -1 for unknown, changed) of one cell."""
        after = self.format_cell(text, is_list=is_list, keep_leading_empty=keep_leading_empty) if normalize else text
        if not is_list:
            return [after], [self.row.get(after, -1) if after is not None else -1], after != text
        codes = after.split("|") if after else []
        return codes, [self.row.get(c, -1) for c in codes], after != text
