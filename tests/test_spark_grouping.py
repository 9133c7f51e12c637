"""Grouping on Spark (local[2]) is record-identical to the single-machine Grouper."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from grouper import RESULT_COLUMNS, Grouper
from icd_tables.intake.codes import normalize_codes
from icd_tables.pack import Pack
from icd_tables.sample import sample_records
from reference_data import GOLDEN, TABLES, VERSIONS_1X, require_shared
from spark_fixtures import collect_arrow, spark, spark_frame  # noqa: F401  (spark: the session fixture)

pytestmark = pytest.mark.spark


def _with_row_no(table: pa.Table) -> pa.Table:
    return table.append_column("row_no", pa.array(np.arange(1, table.num_rows + 1), pa.int64()))


def _assert_identical(got: pa.Table, want: pa.Table) -> None:
    """Every result column equal, record by record (dictionary columns compared as their text)."""
    assert got.num_rows == want.num_rows
    for name in RESULT_COLUMNS:
        left, right = got.column(name), want.column(name)
        if pa.types.is_dictionary(right.type):
            right = right.cast(right.type.value_type)
        left = left.cast(pa.int64() if name == "row_no" else pa.string())
        right = right.cast(pa.int64() if name == "row_no" else pa.string())
        differ = pc.invert(pc.fill_null(pc.equal(left, right), False))
        rows = np.flatnonzero(differ.to_numpy(zero_copy_only=False))
        assert not len(rows), f"{name}: {len(rows)} records differ, first row_no {got['row_no'][int(rows[0])]}"


@pytest.mark.golden
@pytest.mark.parametrize("version", VERSIONS_1X)
def test_golden_records_identical(spark, version):
    from scaleout import group_spark

    golden = pq.read_table(require_shared(GOLDEN) / f"{version}.parquet")
    pack = Pack.load(require_shared(TABLES) / version)
    records = _with_row_no(golden.drop_columns([c for c in golden.column_names if c.startswith("expected_")]))
    got = collect_arrow(group_spark(spark_frame(spark, records, 4), pack))
    _assert_identical(got, Grouper(pack).group_arrow(records))
    assert got.column("drg").to_pylist() == golden.column("expected_drg").to_pylist()


def test_example_pack_with_faults_and_formatting(spark):
    """Generated records with deliberate faults, some codes in full width and lower case: the Spark engine's
    normalisation and grouping equal ``normalize_codes`` + ``Grouper`` on one machine."""
    from scaleout import group_spark

    pack = Pack.load()
    frame = sample_records(pack.compiled, 3_000, seed=11)
    frame.loc[::7, "principal_dx"] = frame.loc[::7, "principal_dx"].map(
        lambda code: code.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}) if isinstance(code, str) else code)
    frame.loc[::5, "principal_dx"] = frame.loc[::5, "principal_dx"].str.lower()
    frame.loc[3, "principal_dx"] = "R75"  # a bare category: stays invalid, named in reason_detail
    records = _with_row_no(pa.Table.from_pandas(frame, preserve_index=False))
    got = collect_arrow(group_spark(spark_frame(spark, records), pack))
    want = Grouper(pack).group_arrow(normalize_codes(records, pack))
    _assert_identical(got, want)
    assert got.column("status").to_pylist()[3] == "invalid" and "R75" in got.column("reason_detail")[3].as_py()
    assert 0 < pc.sum(pc.equal(got.column("status"), "invalid")).as_py() < got.num_rows


def test_row_numbers_without_a_row_no_column_and_keep_input(spark):
    """Without ``row_no`` the records are numbered 1… in partition order; ``keep_input`` appends the input
    columns (``case_id`` again as ``case_id_input``), so nothing of a record is lost."""
    from scaleout import group_spark

    pack = Pack.load()
    records = pa.Table.from_pandas(sample_records(pack.compiled, 500, seed=3), preserve_index=False)
    frame = spark.createDataFrame(records)  # slices of the table in order: partition order = input order
    got = collect_arrow(group_spark(frame, pack, keep_input=True))
    assert got.column("row_no").to_pylist() == list(range(1, 501))
    _assert_identical(got, Grouper(pack).group_arrow(normalize_codes(records, pack)))
    assert got.column("case_id_input").to_pylist() == records.column("case_id").to_pylist()
    assert got.column("principal_dx").to_pylist() == records.column("principal_dx").to_pylist()


def test_empty_frame(spark):
    from scaleout import group_spark

    empty = spark_frame(spark, pa.table({"case_id": pa.array([], pa.string()), "sex": pa.array([], pa.int64()),
                                         "age_years": pa.array([], pa.int64()),
                                         "principal_dx": pa.array([], pa.string())}), 1)
    assert group_spark(empty).count() == 0


def test_drg_group_engine_spark(spark, tmp_path, capsys):
    """``drg group --engine spark`` writes a Parquet folder with the local engine's results; options it
    does not take are usage errors (exit 2)."""
    from api.cli import EXIT_OK, EXIT_USAGE, main

    pack = Pack.load()
    records = _with_row_no(pa.Table.from_pandas(sample_records(pack.compiled, 800, seed=5), preserve_index=False))
    source = tmp_path / "records.parquet"
    pq.write_table(records, source)
    out = tmp_path / "results.parquet"
    assert main(["group", str(source), "-o", str(out), "--engine", "spark", "--master", "local[2]"]) == EXIT_OK
    assert "800 records" in capsys.readouterr().err
    _assert_identical(pq.read_table(out).sort_by("row_no"), Grouper(pack).group_arrow(normalize_codes(records, pack)))
    assert main(["group", str(source), "-o", str(out), "--engine", "spark", "--columns", "map.toml"]) == EXIT_USAGE
    assert "--columns" in capsys.readouterr().err
