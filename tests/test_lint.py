"""Pyflakes over the whole tree (``ruff check``, rules in pyproject.toml): an undefined or unused name fails the
suite, such as a call to a function that a merge renamed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_no_undefined_or_unused_names():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", str(REPO)],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
