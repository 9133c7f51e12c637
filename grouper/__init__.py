"""Numba-compiled DRG grouping over columnar records.  Public entry point: :class:`Grouper`."""

from grouper.encode import RecordSchemaError
from grouper.grouper import RESULT_COLUMNS, Grouper

__all__ = ["Grouper", "RecordSchemaError", "RESULT_COLUMNS"]
