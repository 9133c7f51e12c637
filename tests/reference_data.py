"""Where the third-party reference data lives, if it is there, and small helpers the tests share.

A module of its own (not ``conftest``), so that ``from reference_data import ...`` works whatever
other ``conftest.py`` files pytest has loaded."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DRG_SHARED_DIR", REPO.parent / "shared"))
TABLES = SHARED / "drg-tables"
GOLDEN = SHARED / "golden"
VERSIONS_1X = ("chs-drg-1.1", "chs-drg-1.0")


def golden_schemes() -> list[str]:
    """Every ``<name>`` with a golden file ``GOLDEN/<name>.parquet`` and a table folder ``TABLES/<name>``.

    National and regional alike, found on disk: a new pack with its golden set needs no code.
    Empty when ../shared is absent (the tests that use it then skip visibly).
    """
    if not GOLDEN.is_dir():
        return []
    return sorted(p.stem for p in GOLDEN.glob("*.parquet") if (TABLES / p.stem / "rules.json").is_file())


def regional_schemes() -> list[str]:
    """The golden schemes that are regional packs (``rules.json`` schema ``chs-drg-rules/2``)."""
    return [name for name in golden_schemes() if name not in VERSIONS_1X]


def require_shared(path: Path) -> Path:
    """Return ``path``, or skip the test visibly when ../shared is not beside the checkout."""
    if not path.exists():
        pytest.skip(f"reference data not found: {path} (set DRG_SHARED_DIR)")
    return path


def write_csv(path: Path, header, rows, encoding: str = "utf-8") -> Path:
    """Write a small CSV test file (header + rows) and return its path."""
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path
