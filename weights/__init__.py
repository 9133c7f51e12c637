"""Weight tables (相对权重表): the format, import of published tables, and lookup."""

from weights.importer import parse_rates, read_published
from weights.lookup import RW_UNITS, WeightReport, attach_weights, lookup_units, weight_report
from weights.table import WeightMeta, WeightTable, WeightTableError
from weights.weight_file import read_weight_file

__all__ = [
    "RW_UNITS", "WeightMeta", "WeightReport", "WeightTable", "WeightTableError", "attach_weights",
    "lookup_units", "parse_rates", "read_published", "read_weight_file", "weight_report",
]
