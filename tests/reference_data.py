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
