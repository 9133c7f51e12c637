"""``drg serve`` options: keys printed once, listed without the secret, revoked; DuckDB refuses several workers."""

from __future__ import annotations

import os

import pytest

from api.cli import main


@pytest.fixture(autouse=True)
def restore_environment():
    """``drg serve`` hands its options to workers through DRG_SERVICE_* variables: undo them after the test."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_keys_and_usage(tmp_path, capsys):
    db = ["--database", f"duckdb:///{tmp_path / 'k.duckdb'}"]
    assert main(["serve", *db, "--create-key", "hospital", "--hospital", "H001", "--label", "HIS"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("drg_") and len(key) > 30
    assert main(["serve", *db, "--list-keys"]) == 0
    listing = capsys.readouterr().out
    key_id = key.split("_")[1]
    assert key_id in listing and "hospital" in listing and "H001" in listing and key not in listing
    assert main(["serve", *db, "--revoke-key", key_id]) == 0
    assert main(["serve", *db, "--revoke-key", key_id]) == 2
    assert main(["serve", *db, "--create-key", "coder"]) == 2
    assert "a coder key belongs to one hospital" in capsys.readouterr().err
    assert main(["serve", *db, "--workers", "2"]) == 2
    assert "--workers above 1 needs PostgreSQL" in capsys.readouterr().err


def test_serve_without_a_pack_stops_naming_the_packs(tmp_path, capsys):
    """No --pack and no default: exit 2 before the server starts (the example pack is never a silent default)."""
    del os.environ["DRG_PACK"]
    assert main(["serve", "--database", f"duckdb:///{tmp_path / 's.duckdb'}"]) == 2
    err = capsys.readouterr().err
    assert "no pack chosen" in err and "drg packs default" in err and "example-mini" in err
