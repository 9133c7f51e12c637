"""Matching a file's column headers to known names, the same way for every kind of file.

Headers are compared in one form (:func:`header_key`): Unicode NFKC (full-width letters and
brackets folded), without whitespace, case-folded; a trailing unit in brackets may be dropped
(``新生儿出生体重（克）`` → ``新生儿出生体重``).  Each kind of file keeps its own alias table as data.
"""

from __future__ import annotations

import re
import unicodedata


def header_key(name: str) -> str:
    """The form headers are compared in: NFKC, no whitespace, case-folded."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(name))).casefold()


def without_unit(key: str) -> str:
    """A compared header without a trailing unit in brackets (``总费用(元)`` → ``总费用``)."""
    return re.sub(r"\([^()]*\)$", "", key)


def find_columns(headers, aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Canonical name → the first header naming it, by the canonical name itself or an alias.

    Parameters
    ----------
    headers : iterable of str
        A file's header, in file order.
    aliases : dict
        Canonical name → alias names (any spelling: compared by :func:`header_key`, with or without a unit).

    Returns
    -------
    dict
        Only the canonical names found.
    """
    index: dict[str, str] = {}
    for canonical, names in aliases.items():
        for alias in (canonical, *names):
            index.setdefault(header_key(alias), canonical)
    found: dict[str, str] = {}
    for header in headers:
        key = header_key(header)
        canonical = index.get(key) or index.get(without_unit(key))
        if canonical is not None and canonical not in found:
            found[canonical] = header
    return found


__all__ = ["find_columns", "header_key", "without_unit"]
