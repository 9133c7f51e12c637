"""State of one executor's Python worker process: the groupers built from broadcast packs.

Spark's Python workers are separate, long-lived processes (``spark.python.worker.reuse``); each
deserialises the broadcast pack once and keeps the :class:`Grouper` built from it in
:data:`_GROUPERS`, keyed by the pack's ``name@digest`` — a module-level cache on purpose, as
this is the only place a worker can keep state between the partitions it is handed.
"""

from __future__ import annotations

from dataclasses import dataclass

from grouper import Grouper

_GROUPERS: dict[str, Grouper] = {}


@dataclass(frozen=True)
class PackRef:
    """A pack as shipped to the executors: its ``name@digest`` and the Spark broadcast holding it."""

    version: str
    broadcast: object

    def load(self):
        return self.broadcast.value


def worker_grouper(ref: PackRef) -> Grouper:
    """This worker's :class:`Grouper` for the pack of ``ref``, built on first use."""
    grouper = _GROUPERS.get(ref.version)
    if grouper is None:
        grouper = _GROUPERS[ref.version] = Grouper(ref.load())
    return grouper
