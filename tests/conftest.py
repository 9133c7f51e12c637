"""Shared fixtures: the reference data folders in ../shared, skipped visibly when absent."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from reference_data import GOLDEN, TABLES, require_shared

# The tests choose the bundled example pack explicitly, as a user would with 'drg packs default';
# tests of the no-pack case remove DRG_PACK.  A private config folder keeps the user's default out.
os.environ["DRG_PACK"] = "example-mini"
os.environ["DRG_CONFIG_DIR"] = tempfile.mkdtemp(prefix="drg-config-")


@pytest.fixture(scope="session")
def tables_dir() -> Path:
    return require_shared(TABLES)


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return require_shared(GOLDEN)
