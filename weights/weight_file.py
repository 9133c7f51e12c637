"""A weight table from whichever file the user gives: the ``.parquet`` of ``drg weights import``, or a published table."""

from __future__ import annotations

import os
from pathlib import Path

from weights.importer import read_published
from weights.table import WeightMeta, WeightTable


def read_weight_file(path: str | os.PathLike) -> WeightTable:
    """Read a weight table file.

    Parameters
    ----------
    path : str or path-like
        A ``.parquet``/``.pq`` weight table (:meth:`WeightTable.read`), or a published table
        (``.csv``, ``.xlsx`` …, :func:`weights.read_published`), named after the file's stem.

    Returns
    -------
    WeightTable

    Raises
    ------
    WeightTableError
        The file is not a readable weight table.
    """
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return WeightTable.read(path)
    return read_published(path, WeightMeta(path.stem))


__all__ = ["read_weight_file"]
