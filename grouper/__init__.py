"""Numba-compiled DRG grouping over columnar records.  Public entry point: :class:`Grouper`."""

from grouper._kernels import Batch, Outputs
from grouper.encode import RecordSchemaError
from grouper.grouper import RESULT_COLUMNS, Grouper

__all__ = ["Batch", "Grouper", "Outputs", "RecordSchemaError", "RESULT_COLUMNS"]
