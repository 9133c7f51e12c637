"""A one-line progress display for long commands."""

from __future__ import annotations

import sys
import time


class Progress:
    """A one-line progress display on stderr, only when stderr is a terminal."""

    def __init__(self, total: int | None):
        self.total = total
        self.active = sys.stderr.isatty()
        self.started = time.perf_counter()

    def update(self, done: int) -> None:
        if not self.active:
            return
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        if self.total:
            width = 30
            filled = int(width * done / max(self.total, 1))
            bar = f"[{'#' * filled}{'.' * (width - filled)}] {100 * done / self.total:5.1f}% "
        else:
            bar = ""
        print(f"\r  {bar}{done:,} records  {rate:,.0f}/s", end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.active:
            print(file=sys.stderr)


__all__ = ["Progress"]
