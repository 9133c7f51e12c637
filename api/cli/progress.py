"""A one-line progress display for long commands."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: Said when loading the kernels takes longer than loading them from the cache does.
COMPILING = ("drg: 首次运行，正在编译分组内核（约一分钟；编译结果会缓存，以后的运行不再等待）"
             "first run: compiling the kernels, about a minute; they are cached for later runs")


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


@contextmanager
def compile_notice(after: float = 2.0) -> Iterator[None]:
    """Print :data:`COMPILING` on stderr if the block runs longer than ``after`` seconds.

    Around :meth:`grouper.Grouper.warm_up`: loading cached kernels takes well under a second, compiling
    them tens of seconds, which would otherwise look like a hang (and as a low records/s figure).
    """
    timer = threading.Timer(after, lambda: print(COMPILING, file=sys.stderr, flush=True))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


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


__all__ = ["COMPILING", "Progress", "compile_notice", "writing"]
