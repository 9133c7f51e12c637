"""Atomic writes: a file appears whole at its name, or not at all (a temporary file renamed at the end)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, mode: int = 0o644) -> Iterator[Path]:
    """A temporary path beside ``path``; renamed to ``path`` when the block ends without an error.

    The parent folder is created; on any error the temporary file is removed and ``path`` is
    left as it was.  The file gets ``mode`` (outputs are shared, not private like mkstemp's).

    Examples
    --------
    >>> with atomic_path("out/report.html") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("<html>…</html>", encoding="utf-8")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


__all__ = ["atomic_path", "write_text_atomic"]
