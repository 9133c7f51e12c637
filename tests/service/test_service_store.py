"""Storing uploads (api/service/store.py): versions from the keys-only read, across batches of one upload,
repeats within a batch and a version stored before, on each backend."""

from __future__ import annotations

import secrets
from types import SimpleNamespace

import pytest

from api.service.auth import Principal
from api.service.db import Database
from api.service.engine import Engine
from api.service.store import UploadError, prepare, store
from api.service.uploads import json_batch, process
from service_helpers import BACKENDS, PG_URL, month_records, postgres_reason, records_json


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    if request.param == "postgresql":
        if postgres_reason():
            pytest.skip(postgres_reason())
        schema = f"t_{secrets.token_hex(5)}"
        database = Database(PG_URL, schema)
    else:
        database = Database(f"duckdb:///{tmp_path / 'store.duckdb'}")
    database.migrate()
    yield database
    if request.param == "postgresql":
        with database.connect() as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    database.close()


def test_versions_across_batches_repeats_and_earlier_uploads(db):
    engine, principal = Engine("example-mini"), Principal("k", "hospital", "H001")
    records = records_json(month_records("H001", 4, 1))  # cases H001-1-0000 … H001-1-0003
    a, b, c, d = records
    read = lambda rows: next(json_batch(rows, engine.grouper.pack))  # noqa: E731

    with db.connect(write=True) as conn:  # an earlier upload: d at version 1
        assert store(conn, prepare(engine, read([d]), principal, "run-0", validate=True)) == \
            {"stored": 1, "replaced": 0, "repeated_in_upload": 0}
    with db.connect(write=True) as conn:  # one upload of two batches
        # batch 1: a, b, a again → a at versions 1 and 2 (2 current), b at 1
        first = store(conn, prepare(engine, read([a, b, {**a, "total_cost": 1.5}]), principal, "run-1",
                                    validate=True))
        # batch 2: a (→ 3, replacing 2), c (→ 1), d (→ 2, replacing the earlier upload's 1)
        second = store(conn, prepare(engine, read([{**a, "total_cost": 2.5}, c, d]), principal, "run-1",
                                     validate=True))
    assert first == {"stored": 2, "replaced": 0, "repeated_in_upload": 1}
    assert second == {"stored": 3, "replaced": 2, "repeated_in_upload": 0}
    with db.connect() as conn:
        current = {r["case_id"]: (r["version"], str(r["total_cost"]))
                   for r in conn.rows("SELECT case_id, version, total_cost FROM cases")}
        history = sorted((r["case_id"], r["version"]) for r in conn.rows("SELECT case_id, version FROM case_history"))
        findings = {(r["case_id"], r["version"]) for r in conn.rows("SELECT case_id, version FROM findings")}
    assert current[a["case_id"]] == (3, "2.50") and current[b["case_id"]][0] == 1
    assert current[c["case_id"]][0] == 1 and current[d["case_id"]][0] == 2
    assert history == sorted([(a["case_id"], 1), (a["case_id"], 2), (d["case_id"], 1)])
    # findings belong to current versions only (a replaced version's are removed with it)
    assert findings <= {(case, version) for case, (version, _) in current.items()}


def test_an_upload_of_several_batches_is_one_transaction(db):
    """The batches' counts and progress add up in order, and a batch refused after earlier ones were stored
    leaves nothing of the upload."""
    engine, principal = Engine("example-mini"), Principal("k", "hospital", "H001")
    service = SimpleNamespace(engine=engine, db=db)
    records = records_json(month_records("H001", 6, 2))
    parts = lambda *batches: (next(json_batch(rows, engine.grouper.pack)) for rows in batches)  # noqa: E731
    progress = []
    done = process(service, principal, parts(records[:2], records[2:], records[:1]), "run-a", validate=False,
                   on_progress=progress.append)
    assert progress == [2, 6, 7]
    assert (done["stored"], done["replaced"], done["n_records"]) == (7, 1, 7)
    other = {**records[5], "hospital_id": "H002"}
    with pytest.raises(UploadError, match="H002"):
        process(service, principal, parts(records[3:], [records[0], other]), "run-b", validate=False)
    with db.connect() as conn:
        versions = {r["case_id"]: r["version"] for r in conn.rows("SELECT case_id, version FROM cases")}
        history = conn.rows("SELECT case_id, version FROM case_history")
        runs = [r["run_id"] for r in conn.rows("SELECT run_id FROM runs")]
    assert versions == {r["case_id"]: 2 if r is records[0] else 1 for r in records}
    assert [(h["case_id"], h["version"]) for h in history] == [(records[0]["case_id"], 1)]
    assert runs == ["run-a"]
