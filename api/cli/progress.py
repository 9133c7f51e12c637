"""A one-line progress display for long commands."""

from __future__ import annotations

import sys
import time


class Progress:
    """A one-line progress display on stderr, only when stderr is a terminal."""

    def __init__(self, total: int | None, unit: str = "records"):
        self.total, self.unit = total, unit
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
        print(f"\r  {bar}{done:,} {self.unit}  {rate:,.0f}/s", end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.active:
            print(file=sys.stderr)


def writing(name: str):
    """A progress callback ``(done, total)`` for writing the file ``name``: a bar of its own, closed at the end."""
    bars = []

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(Progress(total, unit=f"rows → {name}"))
        bars[0].update(done)
        if done >= total:
            bars[0].finish()
    return update


__all__ = ["Progress", "writing"]
