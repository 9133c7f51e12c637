"""Shared fixtures: the reference data folders in ../shared, skipped visibly when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_data import GOLDEN, TABLES, require_shared


@pytest.fixture(scope="session")
def tables_dir() -> Path:
    return require_shared(TABLES)


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return require_shared(GOLDEN)
