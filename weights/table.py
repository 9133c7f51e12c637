"""The weight-table format (DRG 相对权重表): one Parquet file, values exact, metadata inside.

Columns
-------
``drg`` (string, unique), ``rw`` (decimal128(18, 6): relative weight 相对权重),
optional ``drg_name``, ``mean_cost`` (decimal128(18, 2), 元: the DRG's historical
average cost 例均费用), ``mean_los`` (decimal128(18, 2), days), and any further
per-DRG statistics a calibration adds (``n_cases``, ``cv``, ...).

Metadata (the Parquet key ``drg_weights``, JSON): ``name``, ``region``,
``year``, ``pack_version`` (the pack the table was made for), ``source``,
``source_sha256``, ``base_rates`` (insurance type → base rate in 元, as text),
``format`` (``drg-weights/1``).  Decimals are kept as :class:`decimal.Decimal`
so that a value read back is the value written, digit for digit.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from foundation.atomic import atomic_path

FORMAT = "drg-weights/1"
METADATA_KEY = b"drg_weights"
RW_TYPE = pa.decimal128(18, 6)
MONEY_TYPE = pa.decimal128(18, 2)
DECIMAL_COLUMNS = {"rw": RW_TYPE, "mean_cost": MONEY_TYPE, "mean_los": MONEY_TYPE,
                   "rw_raw": RW_TYPE, "median_cost": MONEY_TYPE}


class WeightTableError(ValueError):
    """A weight table is malformed; the message names the row or the file."""


@dataclass(frozen=True)
class WeightMeta:
    """Who published a weight table, for where and when, and for which pack."""

    name: str
    region: str = ""
    year: int | None = None
    pack_version: str = ""
    source: str = ""
    source_sha256: str = ""
    base_rates: dict[str, str] = field(default_factory=dict)
    format: str = FORMAT

    def base_rate(self, insurance_type: str) -> Decimal | None:
        """Base rate (费率, 元) for an insurance type (``310`` 职工, ``390`` 居民), if published."""
        value = self.base_rates.get(str(insurance_type))
        return None if value is None else Decimal(value)


@dataclass(frozen=True)
class WeightTable:
    """Relative weights per DRG with their metadata.

    Attributes
    ----------
    meta : WeightMeta
    frame : pandas.DataFrame
        One row per DRG; ``rw``, ``mean_cost`` and ``mean_los`` hold
        :class:`decimal.Decimal` values (or None).
    """

    meta: WeightMeta
    frame: pd.DataFrame

    def __post_init__(self) -> None:
        validate(self.frame)

    @property
    def drgs(self) -> list[str]:
        return self.frame["drg"].tolist()

    def rw(self) -> dict[str, Decimal]:
        """DRG → relative weight."""
        return dict(zip(self.frame["drg"], self.frame["rw"]))

    def to_arrow(self) -> pa.Table:
        columns = {}
        for name in self.frame.columns:
            values = self.frame[name].tolist()
            if name in DECIMAL_COLUMNS:
                columns[name] = pa.array(values, type=DECIMAL_COLUMNS[name])
            else:
                columns[name] = pa.array(values)
        table = pa.table(columns)
        meta = json.dumps(asdict(self.meta), ensure_ascii=False, sort_keys=True).encode()
        return table.replace_schema_metadata({METADATA_KEY: meta})

    def write(self, path: str | os.PathLike) -> Path:
        """Write the table as Parquet, atomically (a temporary file renamed at the end)."""
        with atomic_path(path) as tmp:
            pq.write_table(self.to_arrow(), tmp)
        return Path(path)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "WeightTable":
        """Read a table written by :meth:`write`."""
        path = Path(path)
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise WeightTableError(f"{path}: not a readable weight table ({exc})") from exc
        raw = (table.schema.metadata or {}).get(METADATA_KEY)
        if raw is None:
            raise WeightTableError(f"{path}: no weight-table metadata; import the file with 'drg weights import'")
        meta = WeightMeta(**json.loads(raw))
        if meta.format != FORMAT:
            raise WeightTableError(f"{path}: unknown weight-table format {meta.format!r}")
        frame = pd.DataFrame({name: table.column(name).to_pylist() for name in table.column_names})
        return cls(meta, frame)


def validate(frame: pd.DataFrame) -> None:
    """Check a weight frame: unique non-empty DRG codes, positive finite Decimal RWs.

    Raises
    ------
    WeightTableError
        Naming the first offending row (1-based, as in the source file after its header).
    """
    for column in ("drg", "rw"):
        if column not in frame.columns:
            raise WeightTableError(f"weight table lacks the {column!r} column")
    seen: dict[str, int] = {}
    for row_no, (drg, rw) in enumerate(zip(frame["drg"], frame["rw"]), start=1):
        if not isinstance(drg, str) or not drg.strip():
            raise WeightTableError(f"row {row_no}: empty DRG code")
        if drg in seen:
            raise WeightTableError(f"row {row_no}: DRG {drg} listed twice (first at row {seen[drg]})")
        seen[drg] = row_no
        if not isinstance(rw, Decimal) or not rw.is_finite() or rw <= 0:
            raise WeightTableError(f"row {row_no}: DRG {drg} has RW {rw!r}; a relative weight must be a positive number")
