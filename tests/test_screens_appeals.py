"""Appeal records of audit flags (申诉复议): states, transitions and validation; and the drg audit command."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pyarrow.parquet as pq
import pytest

from api.cli import main
from audit.appeals import Appeal, AppealError, open_appeal
from audit.screens.synthetic import synthetic_month

T0 = datetime(2024, 7, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))


def test_appeal_upheld_and_round_trip():
    a = open_appeal("SPLIT_READMISSION:C1#2", "H1", at=T0)
    assert (a.status, a.status_zh, a.allowed()) == ("open", "待申诉", ("appealed", "upheld", "withdrawn"))
    b = a.submit(hospital_id="H1", reason="两次住院为不同疾病", at=T0 + timedelta(days=3))
    assert b.status_zh == "申诉中" and a.status == "open"  # records are immutable
    c = b.decide(status="upheld", outcome="病历显示为同一疾病", by="auditor-7", at=T0 + timedelta(days=9))
    assert c.final and c.status_zh == "维持"
    assert Appeal.from_dict(c.to_dict()) == c


def test_open_flag_withdrawn_directly():
    a = open_appeal("BED_BLOCKING:C9#9", "H2", at=T0)
    assert a.decide(status="withdrawn", outcome="复核无误", by="a1", at=T0).status_zh == "撤销"


@pytest.mark.parametrize("step, message", [
    (lambda a: a.submit(hospital_id="H2", reason="x", at=T0), "cannot appeal a flag of 'H1'"),
    (lambda a: a.submit(hospital_id="H1", reason="  ", at=T0), "reason is required"),
    (lambda a: a.submit(hospital_id="H1", reason="x", at=datetime(2024, 7, 2)), "timezone-aware"),
    (lambda a: a.submit(hospital_id="H1", reason="x", at=T0 - timedelta(days=1)), "before opened_at"),
    (lambda a: a.decide(status="appealed", outcome="x", by="a", at=T0), "upheld 维持 or withdrawn 撤销"),
    (lambda a: a.decide(status="upheld", outcome="", by="a", at=T0), "outcome is required"),
    (lambda a: a.decide(status="upheld", outcome="x", by="a", at=T0).submit(hospital_id="H1", reason="x", at=T0),
     "cannot go from upheld 维持 to appealed"),
])
def test_invalid_steps(step, message):
    with pytest.raises(AppealError, match=message):
        step(open_appeal("R:C1#1", "H1", at=T0))


def test_invalid_records():
    with pytest.raises(AppealError, match="unknown status"):
        Appeal("R:C1#1", "H1", status="closed")
    with pytest.raises(AppealError, match="needs outcome"):
        Appeal("R:C1#1", "H1", status="upheld")
    with pytest.raises(AppealError, match="unknown appeal field"):
        Appeal.from_dict({"flag_id": "R", "hospital_id": "H1", "colour": "red"})


def test_drg_audit_command_writes_flags_queue_and_reports_identically(tmp_path, capsys):
    cases, history, weights, planted = synthetic_month(5_000, n_history=3_000, n_each=5, seed=3)
    pq.write_table(cases, tmp_path / "cases.parquet")
    pq.write_table(history, tmp_path / "history.parquet")
    weights.write(tmp_path / "w.parquet")
    args = [str(tmp_path / "cases.parquet"), "--history", str(tmp_path / "history.parquet"),
            "--weights", str(tmp_path / "w.parquet"), "--top", "20", "--sample", "5"]
    assert main(["audit", *args, "-o", str(tmp_path / "a.parquet")]) == 0
    assert main(["audit", *args, "-o", str(tmp_path / "b.parquet")]) == 0
    flags = pq.read_table(tmp_path / "a.parquet")
    assert set(planted.rule_id) <= set(flags.column("rule_id").to_pylist())
    assert flags.equals(pq.read_table(tmp_path / "b.parquet"))
    assert (tmp_path / "a-report.html").read_bytes() == (tmp_path / "b-report.html").read_bytes()
    assert (tmp_path / "a-queue.csv").read_bytes() == (tmp_path / "b-queue.csv").read_bytes()
    assert "医保智能审核月度报告" in (tmp_path / "a-report.html").read_text(encoding="utf-8")
    assert (tmp_path / "a-report.xlsx").stat().st_size > 0 and (tmp_path / "a-hospitals.csv").is_file()
    assert "money at stake" in capsys.readouterr().err


def test_drg_audit_exit_codes(tmp_path):
    cases, _, _, _ = synthetic_month(200, n_each=2, seed=1)
    pq.write_table(cases, tmp_path / "cases.parquet")
    assert main(["audit", str(tmp_path / "cases.parquet"), "-o", str(tmp_path / "f.csv"), "--rate", "abc"]) == 2
    pq.write_table(cases.drop_columns(["status"]), tmp_path / "raw.parquet")
    assert main(["audit", str(tmp_path / "raw.parquet"), "-o", str(tmp_path / "f.csv")]) == 3
    assert main(["audit", str(tmp_path / "cases.parquet"), "-o", str(tmp_path / "f.txt")]) == 2


def test_drg_audit_on_a_month_without_flags(tmp_path):
    """Issue 16 finding 5: a one-record month has no flags; the queue is the random sample, exit 0."""
    cases, _, weights, _ = synthetic_month(200, n_each=2, seed=1)
    one = cases.slice(0, 1)
    pq.write_table(one, tmp_path / "one.parquet")
    weights.write(tmp_path / "w.parquet")
    assert main(["audit", str(tmp_path / "one.parquet"), "--weights", str(tmp_path / "w.parquet"),
                 "-o", str(tmp_path / "f.csv"), "--top", "5", "--sample", "3"]) == 0
    queue = pd.read_csv(tmp_path / "f-queue.csv", dtype=str)
    assert len(queue) == 1 and queue["selection"].tolist() == ["random"]
