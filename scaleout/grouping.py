"""Group a Spark DataFrame of records on the executors with the engine's own Numba kernels.

What runs where
---------------
* driver: :meth:`Pack.load` (compiled once, from the cache under ``DRG_CACHE_DIR``), then the
  loaded pack is broadcast — one copy per executor, a few MB;
* executors: ``mapInArrow`` hands each Python worker its partition as Arrow record batches; the
  worker builds one :class:`Grouper` per pack (cached in the worker process, keyed by the pack's
  ``name@digest``, see :mod:`scaleout._worker`), reads every batch through the one record intake
  (:class:`icd_tables.intake.reader.RecordIntake`: header aliases, value types, code formatting)
  and groups it with :meth:`Grouper.group_arrow`, as ``drg group`` does.  Numba's on-disk cache (``cache=True``) makes
  the JIT warm-up of later workers on the same machine cheap.

A record's result depends on that record alone, so how Spark splits the data changes nothing:
the results are record-identical to the single-machine engine.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from grouper import RESULT_COLUMNS
from icd_tables.pack import Pack

#: Spark schema of the result columns (the ``Grouper`` columns, texts plain strings).
RESULT_SCHEMA = ", ".join(f"{name} {'long' if name == 'row_no' else 'string'}" for name in RESULT_COLUMNS)


def _plain(results: pa.Table) -> pa.Table:
    """Dictionary columns as plain strings (Spark's Arrow reader does not take dictionaries)."""
    columns = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in results.columns]
    return pa.table(columns, names=results.column_names)


def group_batches(batches: Iterator[pa.RecordBatch], pack_ref, normalize: bool, keep: tuple[tuple[str, str], ...],
                  offsets: dict[int, int] | None) -> Iterator[pa.RecordBatch]:
    """The ``mapInArrow`` function: each batch of one partition → its result batch (same rows, same order).

    ``offsets`` maps a partition id to the ``row_no`` of its first record when the input has no
    ``row_no`` column; otherwise the input's ``row_no`` is kept.  ``keep`` lists the input columns
    appended to the results, as (input name, output name).
    """
    from icd_tables.intake.reader import RecordIntake
    from icd_tables.intake.values import without_unreadable
    from scaleout._worker import worker_grouper

    grouper = worker_grouper(pack_ref)
    next_row = offsets[_partition_id()] if offsets is not None else 1
    intake = None
    for batch in batches:
        table = pa.Table.from_batches([batch])
        if intake is None:  # one intake per partition, as for one input file
            intake = RecordIntake.for_table(table, grouper.pack if normalize else None)
        records = without_unreadable(intake(table, next_row).records)
        results = grouper.group_arrow(records, first_row_no=next_row)
        next_row += table.num_rows
        if offsets is None:
            results = results.set_column(results.column_names.index("row_no"), "row_no",
                                         table.column("row_no").cast(pa.int64()))
        results = _plain(results).cast(pa.schema([pa.field(c, pa.int64() if c == "row_no" else pa.string())
                                                  for c in RESULT_COLUMNS]))
        for name, out_name in keep:
            results = results.append_column(out_name, table.column(name))
        yield from results.to_batches()


def _partition_id() -> int:
    from pyspark import TaskContext

    return TaskContext.get().partitionId()


def _count_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    n = sum(b.num_rows for b in batches)
    yield pa.RecordBatch.from_pydict({"part": pa.array([_partition_id()], pa.int32()), "n": pa.array([n], pa.int64())})


def partition_offsets(frame) -> dict[int, int]:
    """``row_no`` of the first record of each partition: 1-based numbering in partition order.

    Counted by the tasks themselves (``TaskContext``), as ``spark_partition_id()`` may be folded
    into local data on the driver and read 0 everywhere.
    """
    counts = dict(frame.select(frame.columns[:1]).mapInArrow(_count_partition, "part int, n long").collect())
    offsets, row = {}, 1
    for part in range(max(counts, default=-1) + 1):
        offsets[part] = row
        row += counts.get(part, 0)
    return offsets


def group_spark(records, pack=None, *, normalize: bool = True, keep_input: bool = False):
    """Group the records of a Spark DataFrame on the executors.

    Parameters
    ----------
    records : pyspark.sql.DataFrame
        Records in the canonical schema (README, 病案首页字段); code lists joined with ``|``.
    pack : Pack, str or path-like
        The definition pack (loaded on the driver, broadcast once per executor).
    normalize : bool
        Fix the formatting of codes first, as ``drg group`` does (default on).
    keep_input : bool
        Append the input columns after the result columns (a name the results already use gets
        the suffix ``_input``), for ``settle_spark`` and calibration downstream.

    Returns
    -------
    pyspark.sql.DataFrame
        One row per input row with the columns of :meth:`Grouper.group_arrow` (``row_no`` taken
        from the input's ``row_no`` column when it has one, else numbered 1… in partition order).
    """
    from pyspark.sql.types import StructType

    from scaleout._worker import PackRef

    loaded = pack if isinstance(pack, Pack) else Pack.load(pack)
    ref = PackRef(loaded.version, records.sparkSession.sparkContext.broadcast(loaded))
    frame = records
    offsets = None if "row_no" in records.columns else partition_offsets(frame)
    schema = StructType.fromDDL(RESULT_SCHEMA)
    keep: list[tuple[str, str]] = []
    if keep_input:
        for field in records.schema.fields:
            if field.name != "row_no":
                name = field.name if field.name not in RESULT_COLUMNS else f"{field.name}_input"
                schema = schema.add(name, field.dataType, field.nullable)
                keep.append((field.name, name))

    def run(batches):
        return group_batches(batches, ref, normalize, tuple(keep), offsets)

    return frame.mapInArrow(run, schema)


__all__ = ["RESULT_SCHEMA", "group_batches", "group_spark", "partition_offsets"]
