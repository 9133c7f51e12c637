"""Import of externally published weight tables (CSV or XLSX, English or Chinese headers)."""

from __future__ import annotations

import hashlib
import os
from decimal import Decimal
from pathlib import Path

import pandas as pd

from foundation.files import InputError, read_text_table
from foundation.headers import find_columns
from foundation.text_values import exact_decimal
from weights.table import DECIMAL_COLUMNS, WeightMeta, WeightTable, WeightTableError

#: Header aliases as regions publish them → canonical column.
HEADER_ALIASES = {
    "drg": ("drg", "drg_code", "drg编码", "drg代码", "drg组", "病组编码", "病组代码", "分组编码", "drg分组编码"),
    "rw": ("rw", "weight", "relative_weight", "权重", "相对权重", "rw值", "病组权重"),
    "drg_name": ("drg_name", "name", "drg名称", "病组名称", "分组名称"),
    "mean_cost": ("mean_cost", "例均费用", "平均费用", "次均费用"),
    "mean_los": ("mean_los", "平均住院日", "平均住院天数"),
}
MAX_DECIMALS = {"rw": 6, "mean_cost": 2, "mean_los": 2}


def _read_text_table(path: Path) -> pd.DataFrame:
    try:
        return read_text_table(path).to_pandas()
    except InputError as exc:
        raise WeightTableError(str(exc)) from None


def _decimal(text: str, column: str, row_no: int, drg: str) -> Decimal | None:
    text = str(text).strip()
    if text in ("", "nan", "None"):
        return None
    try:
        value = exact_decimal(text)
    except ValueError:
        raise WeightTableError(f"row {row_no}: DRG {drg}: {column} {text!r} is not a number") from None
    if value < 0:
        raise WeightTableError(f"row {row_no}: DRG {drg}: {column} {text} is negative")
    if -value.as_tuple().exponent > MAX_DECIMALS[column]:
        raise WeightTableError(
            f"row {row_no}: DRG {drg}: {column} {text} has more than {MAX_DECIMALS[column]} decimals"
        )
    return value


def read_published(path: str | os.PathLike, meta: WeightMeta) -> WeightTable:
    """Read a published weight table into a :class:`WeightTable`.

    Parameters
    ----------
    path : path-like
        CSV (any encoding the record files may have), XLSX, JSON or Parquet with at least a DRG column and an RW
        column (``drg``/``病组编码``/``DRG编码`` and ``rw``/``权重``/``相对权重``).
    meta : WeightMeta
        Name, region, year, base rates; ``source`` and ``source_sha256`` are
        filled in from the file.

    Raises
    ------
    WeightTableError
        Naming the row of a duplicate DRG, a non-numeric, negative or zero RW,
        or the missing columns.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightTableError(f"{path}: no such file")
    raw = _read_text_table(path)
    columns = find_columns(raw.columns, HEADER_ALIASES)
    missing = [c for c in ("drg", "rw") if c not in columns]
    if missing:
        raise WeightTableError(
            f"{path}: no column for {', '.join(missing)}; headers found: {', '.join(map(str, raw.columns))}. "
            "Expected e.g. 'drg'/'病组编码'/'DRG编码' and 'rw'/'权重'/'相对权重'."
        )
    frame = pd.DataFrame({c: raw[h].astype(str).str.strip() for c, h in columns.items()})
    for column in DECIMAL_COLUMNS:
        if column in frame:
            frame[column] = [
                _decimal(v, column, row_no, drg)
                for row_no, (v, drg) in enumerate(zip(frame[column], frame["drg"]), start=1)
            ]
    frame = frame.astype({c: object for c in frame.columns})
    source = {"source": str(path), "source_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return WeightTable(WeightMeta(**{**meta.__dict__, **source}), frame)


def parse_rates(text: str | None) -> dict[str, str]:
    """``"310=12252.70,390=9649.24"`` → ``{"310": "12252.70", "390": "9649.24"}`` (validated)."""
    rates: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        try:
            number = exact_decimal(value.strip())
        except ValueError:
            number = None
        if not sep or not key.strip() or number is None or number <= 0:
            raise WeightTableError(f"base rate {part!r}: expected INSURANCE_TYPE=AMOUNT, e.g. 310=12252.70")
        rates[key.strip()] = value.strip()
    return rates
