"""foundation.background: reading ahead and writing behind keep order, errors and clean-up."""

from __future__ import annotations

import sys
import threading

import pytest

from foundation.background import BackgroundWriter, prefetched


def test_prefetched_yields_every_item_in_order_from_another_thread():
    seen_threads = set()

    def items():
        for k in range(50):
            seen_threads.add(threading.current_thread().name)
            yield k

    assert list(prefetched(items(), depth=3)) == list(range(50))
    assert seen_threads == {"drg-reader"}


def test_prefetched_raises_the_producers_error_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise ValueError("row 3 unreadable")

    got = []
    with pytest.raises(ValueError, match="row 3 unreadable"):
        for item in prefetched(items()):
            got.append(item)
    assert got == [1, 2]


def test_prefetched_stops_and_closes_the_producer_when_the_consumer_stops():
    closed = threading.Event()

    def items():
        try:
            k = 0
            while True:
                yield k
                k += 1
        finally:
            closed.set()

    for item in prefetched(items()):
        if item == 3:
            break
    assert closed.wait(5)


class _Recorder:
    def __init__(self, fail_on=None):
        self.written, self.closed, self.aborted, self.fail_on = [], False, False, fail_on

    def write(self, table) -> None:
        if table == self.fail_on:
            raise OSError("disk full")
        self.written.append(table)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


def test_background_writer_writes_in_order_then_closes():
    recorder = _Recorder()
    writer = BackgroundWriter(recorder)
    for k in range(20):
        writer.write(k)
    writer.close()
    assert recorder.written == list(range(20)) and recorder.closed


def test_background_writer_raises_a_write_error_at_the_next_call_and_abort_cleans_up():
    recorder = _Recorder(fail_on=1)
    writer = BackgroundWriter(recorder)
    writer.write(0)
    writer.write(1)
    with pytest.raises(OSError, match="disk full"):
        writer.write(2)
    writer.abort()
    assert recorder.written == [0] and recorder.aborted and not recorder.closed


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="threads have a niceness of their own on Linux")
def test_helper_threads_run_behind_the_work():
    """The reading-ahead and writing-behind threads are HELPER_NICENESS steps nicer than the caller; the caller
    keeps its own priority."""
    import os

    from foundation.background import HELPER_NICENESS

    def niceness():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    caller = niceness()
    expected = min(19, caller + HELPER_NICENESS)
    assert list(prefetched(niceness() for _ in range(2))) == [expected, expected]

    seen = []

    class Probe:
        def write(self, table):
            seen.append(niceness())

        def close(self):
            pass

        def abort(self):
            pass

    writer = BackgroundWriter(Probe())
    writer.write("batch")
    writer.close()
    assert seen == [expected] and niceness() == caller
