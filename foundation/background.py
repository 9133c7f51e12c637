"""Overlapping a command's reading and writing with its work: one background thread each.

Reading, Arrow kernels, Numba kernels and file writes release the GIL for most of their time, so on
two cores a batch can be read while the one before it is worked on, and written while the next one is.
The helper threads run at a lower priority (:func:`lower_thread_priority`), so that the work the caller
waits for gets the cores first and the helpers take what is left.

>>> writer = BackgroundWriter(ResultWriter("out.parquet"))   # doctest: +SKIP
>>> for batch in prefetched(source.batches(250_000)):         # doctest: +SKIP
...     writer.write(work(batch))
>>> writer.close()                                            # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import queue
import sys
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, TypeVar

T = TypeVar("T")
#: How much lower than the caller's a helper thread's scheduling priority is (Linux ``nice`` steps).
HELPER_NICENESS = 10


def lower_thread_priority() -> None:
    """Lower the calling thread's scheduling priority by :data:`HELPER_NICENESS` (Linux; elsewhere nothing).

    For a thread that helps the work rather than being waited on at each step (reading ahead, writing behind,
    warnings worked out beside the grouping): when the cores are busy the work's own threads run first, and the
    helper uses what they leave (``drg group`` on 10M records: 5.18 → 4.83 s, median of 5 on two cores).  Linux
    gives each thread its own niceness; on other systems the same call would name a process, so it is not made.
    """
    if sys.platform.startswith("linux"):
        thread = threading.get_native_id()
        try:
            niceness = os.getpriority(os.PRIO_PROCESS, thread) + HELPER_NICENESS
            os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness))
        except OSError:  # not permitted here: the thread keeps its priority
            pass


@functools.cache
def worker_pool(name: str, workers: int | None = None) -> ThreadPoolExecutor:
    """The process's thread pool ``drg-NAME`` for work its caller waits on (made once, so no call starts a
    thread; normal priority, unlike the helpers): ``workers`` threads, by default as many as
    :class:`~concurrent.futures.ThreadPoolExecutor` gives."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"drg-{name}")


def prefetched(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Iterate ``items`` in a background thread, ``depth`` items ahead of the consumer.

    An exception raised while producing an item is raised to the consumer at that item.  When the
    consumer stops early (``break``, an error), the producer stops too and ``items.close()`` is called
    where it has one (a generator's ``finally`` blocks run).
    """
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work():
        lower_thread_priority()
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    close = getattr(items, "close", None)
                    if close is not None:
                        close()
                    return
            box.put((done, None))
        except BaseException as exc:  # handed to the consumer, raised there
            box.put((done, exc))

    thread = threading.Thread(target=work, name="drg-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, error = box.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


class Writer(Protocol):
    """What :class:`BackgroundWriter` wraps (e.g. :class:`foundation.files.ResultWriter`)."""

    def write(self, table) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class BackgroundWriter:
    """Writes each batch in a worker thread while the caller goes on (one batch in flight).

    Parameters
    ----------
    writer : Writer
        Called from the worker thread only, one batch at a time, in order; an error it raises is
        raised by the next :meth:`write`, :meth:`close` or :meth:`abort`.
    """

    def __init__(self, writer: Writer):
        self.writer = writer
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="drg-writer", initializer=lower_thread_priority)
        self._pending: Future | None = None

    def write(self, table) -> None:
        self.wait()
        self._pending = self._pool.submit(self.writer.write, table)

    def wait(self) -> None:
        """Until the batch in flight is written."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown()
        self.writer.close()

    def abort(self) -> None:
        try:
            self.wait()
        except BaseException:  # the abort's reason is already being raised
            pass
        self._pool.shutdown()
        self.writer.abort()


__all__ = ["BackgroundWriter", "HELPER_NICENESS", "lower_thread_priority", "prefetched"]
