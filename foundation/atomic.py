"""Atomic writes: a file appears whole at its name, or not at all (a temporary file renamed at the end)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
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


def remove_stale_partials(target: str | os.PathLike, max_age_s: float) -> list[Path]:
    """Remove what killed writers of ``target`` left beside it; returns what was removed.

    A writer killed with SIGKILL cannot clean up: its hidden ``.NAME.partial-PID`` or
    ``.NAME.old-PID`` folder (or ``.NAME.*.partial`` file of :func:`atomic_path`) stays.  Such an
    entry is removed once it is older than ``max_age_s`` seconds and, where its name carries a
    process id, that process is gone (a run still writing is never touched).
    """
    target = Path(target)
    if not target.parent.is_dir():
        return []
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(?:(?:partial|old)-(\d+)|.+\.partial)$")
    cutoff = time.time() - max_age_s
    removed = []
    for entry in target.parent.iterdir():
        found = pattern.match(entry.name)
        if not found or (found.group(1) and _alive(int(found.group(1)))):
            continue
        try:
            if entry.lstat().st_mtime >= cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:  # another run cleaned it first
            continue
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return pid != os.getpid()


__all__ = ["atomic_path", "remove_stale_partials", "write_text_atomic"]
