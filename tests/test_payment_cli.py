"""``drg settle``: run folders, byte-identical re-runs, versions and diffs, errors that write nothing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from api.cli import main
from reference_data import write_csv
from payment_helpers import weights

POLICY = """\
version = "cli-test-1"
region = "测试市"
average_cost = "10000.00"
hospitals = "hospitals.csv"

[[budget]]
insurance_type = "310"
amount = "{budget}"

[[budget]]
insurance_type = "390"
amount = "200000.00"

[monthly]
withhold = "0.10"

[assessment]
default_score = 100

[corridor]
bands = [ {{ upto = "0.9", fund_share = "0" }}, {{ upto = "1.1", fund_share = "0" }},
          {{ upto = "1.2", fund_share = "0.5" }}, {{ fund_share = "0" }} ]
"""
HEADER = ["case_id", "hospital_id", "drg", "status", "total_cost", "patient_paid", "los_days", "discharge_date",
          "insurance_type", "dept"]


def _rows():
    rows = []
    for i in range(30):
        drg = ("A01", "B01", "C01", "Z99")[i % 4]
        rows.append([f"K{i:03d}", ("H1", "H2", "H3")[i % 3], drg, "ok" if i % 7 else "ungroupable",
                     f"{8000 + 250 * i}.{i:02d}", f"{500 + i}.00", str(3 + i % 9), f"2024-{1 + i % 12:02d}-{1 + i:02d}",
                     ("310", "390")[i % 2], ("内科", "外科")[i % 2]])
    return rows


@pytest.fixture
def inputs(tmp_path):
    write_csv(tmp_path / "hospitals.csv", ["hospital_id", "level", "name"],
              [["H1", "3", "第一医院"], ["H2", "2", "第二医院"], ["H3", "一级", "第三医院"]])
    write_csv(tmp_path / "cases.csv", HEADER, _rows())
    (tmp_path / "policy.toml").write_text(POLICY.format(budget="300000.00"), encoding="utf-8")
    weights([("A01", "1.0", "10000.00"), ("B01", "2.0", None), ("C01", "0.5", "5000.00")]).write(
        tmp_path / "weights.parquet")
    return tmp_path


def settle(folder, kind, period, out, *extra):
    return main(["settle", kind, str(folder / "cases.csv"), "--weights", str(folder / "weights.parquet"),
                 "--policy", str(folder / "policy.toml"), "--period", period, "-o", str(out), *extra])


def test_year_run_folder_and_byte_identical_reruns(inputs, capsys):
    assert settle(inputs, "year", "2024", inputs / "run1") == 0
    assert settle(inputs, "year", "2024", inputs / "run2") == 0
    err = capsys.readouterr().err
    assert "= distributable" in err and "DRGs without a weight" in err and "Z99" in err
    names = sorted(p.name for p in (inputs / "run1").iterdir())
    for table in ("case_lines", "hospitals", "drgs", "reconciliation", "hospital_months"):
        assert f"{table}.parquet" in names and f"{table}.csv" in names
    for name in names:
        if name.endswith((".parquet", ".csv", ".json")):
            assert (inputs / "run1" / name).read_bytes() == (inputs / "run2" / name).read_bytes(), name
    statements = sorted(p.name for p in (inputs / "run1" / "statements").iterdir())
    assert statements == ["H1.html", "H2.html", "H3.html"]
    html = (inputs / "run1" / "statements" / "H1.html").read_text(encoding="utf-8")
    assert "第一医院" in html and "清算差额" in html and "计算示例" in html
    meta = json.loads((inputs / "run1" / "run.json").read_text(encoding="utf-8"))
    assert meta["policy"]["version"] == "cli-test-1" and len(meta["policy"]["sha256"]) == 64
    assert meta["weights"]["name"] == "test-weights" and len(meta["input_fingerprint"]) == 64
    assert all(f["drg_fund_fen"] == f["distributable_fen"] for f in meta["funds"])
    lines = (inputs / "run1" / "case_lines.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 31  # every case, plus the header
    assert "e-" not in "".join(lines) and "E+" not in "".join(lines)  # decimals, never float notation


def test_corrected_inputs_give_a_new_run_version_and_a_diff(inputs, capsys):
    assert settle(inputs, "year", "2024", inputs / "run1") == 0
    rows = _rows()
    rows[5][4] = "99999.00"  # a corrected cost
    write_csv(inputs / "cases.csv", HEADER, rows)
    assert settle(inputs, "year", "2024", inputs / "run2", "--previous", str(inputs / "run1")) == 0
    assert "changed" in capsys.readouterr().err
    first = json.loads((inputs / "run1" / "run.json").read_text(encoding="utf-8"))
    second = json.loads((inputs / "run2" / "run.json").read_text(encoding="utf-8"))
    assert first["run_version"] != second["run_version"]
    assert second["previous"]["run_version"] == first["run_version"] and second["previous"]["changed"] >= 1
    diff = (inputs / "run2" / "diff.csv").read_text(encoding="utf-8-sig")
    assert '"K005","changed"' in diff


def test_month_shadow_and_xlsx(inputs):
    assert settle(inputs, "month", "2024-03", inputs / "m", "--formats", "parquet,xlsx") == 0
    assert (inputs / "m" / "case_lines.xlsx").is_file() and not (inputs / "m" / "case_lines.csv").exists()
    assert settle(inputs, "shadow", "2024", inputs / "s", "--statements", "none") == 0
    assert (inputs / "s" / "shadow.html").is_file() and (inputs / "s" / "departments.parquet").is_file()
    import pyarrow.parquet as pq

    lines = pq.read_table(inputs / "s" / "case_lines.parquet")
    assert {"gain", "payment_ratio", "far_from_cost"} <= set(lines.column_names)
    assert all(isinstance(v, Decimal) for v in lines.column("standard").to_pylist())


@pytest.mark.parametrize("change, message", [
    ({"budget": "-100.00"}, "[[budget]] #1 amount: -100.00 must be positive"),
    ({"period": "2023"}, "period 2023: no cases with a discharge_date in it"),
    ({"hospital_level": "4"}, "hospital H2: unknown hospital level '4'"),
])
def test_bad_inputs_exit_3_and_write_nothing(inputs, capsys, change, message):
    (inputs / "policy.toml").write_text(POLICY.format(budget=change.get("budget", "300000.00")), encoding="utf-8")
    if "hospital_level" in change:
        write_csv(inputs / "hospitals.csv", ["hospital_id", "level"], [["H1", "3"], ["H2", "4"], ["H3", "1"]])
    before = sorted(p.name for p in inputs.iterdir())
    assert settle(inputs, "year", change.get("period", "2024"), inputs / "run") == 3
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in inputs.iterdir()) == before  # no run folder, no partial folder


def test_existing_run_folder_needs_force(inputs):
    assert settle(inputs, "year", "2024", inputs / "run") == 0
    assert settle(inputs, "year", "2024", inputs / "run") == 2
    assert settle(inputs, "year", "2024", inputs / "run", "--force") == 0
    assert settle(inputs, "month", "2024", inputs / "m") == 2  # a month run needs a month


def test_partial_folders_of_a_killed_run_are_removed_by_the_next_run(inputs, capsys):
    """Issue 16 finding 12: a run killed with SIGKILL leaves .NAME.partial-PID; the next run removes it once old,
    and leaves a live run's folder (its process still running) and a fresh one alone."""
    import os
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    old = {inputs / f".run.partial-{dead_pid}": "dir", inputs / f".run.old-{dead_pid}": "dir",
           inputs / ".run.k3j2.partial": "file"}
    kept = {inputs / f".run.partial-{os.getppid()}": "dir", inputs / ".other.partial-1": "dir"}
    for path, kind in {**old, **kept}.items():
        if kind == "dir":
            path.mkdir()
            (path / "case_lines.csv").write_text("x")
        else:
            path.write_text("x")
        os.utime(path, (0, 0))
    fresh = inputs / f".run.partial-{dead_pid + 100000}"
    fresh.mkdir()
    assert settle(inputs, "month", "2024-03", inputs / "run") == 0
    assert not any(p.exists() for p in old) and all(p.exists() for p in kept) and fresh.exists()
    assert "left by a killed run" in capsys.readouterr().err
    assert settle(inputs, "month", "2024-03", inputs / "run", "--force", "--stale-after", "0") == 0
    assert not fresh.exists()


def test_ledger_half_yearly_release_and_a_contradicting_rerun(inputs, capsys):
    policy = POLICY.format(budget="300000.00").replace("default_score = 100", 'default_score = 100\nschedule = "half"')
    (inputs / "policy.toml").write_text(policy, encoding="utf-8")
    write_csv(inputs / "scores-H1.csv", ["hospital_id", "score"], [["H1", "95"], ["H2", "70"], ["H3", "50"]])
    ledger = inputs / "ledger.csv"
    for m in range(1, 6):
        assert settle(inputs, "month", f"2024-{m:02d}", inputs / f"m{m}", "--ledger", str(ledger)) == 0
    assert settle(inputs, "month", "2024-06", inputs / "m6", "--ledger", str(ledger),
                  "--scores", str(inputs / "scores-H1.csv")) == 0
    releases = (inputs / "m6" / "releases.csv").read_text(encoding="utf-8-sig")
    assert "2024-01..2024-06" in releases
    recorded = ledger.read_bytes()
    assert recorded.decode().count("\n2024-06,") >= 1
    # June again: the same figures, the ledger unchanged byte for byte
    assert settle(inputs, "month", "2024-06", inputs / "m6", "--ledger", str(ledger), "--force",
                  "--scores", str(inputs / "scores-H1.csv")) == 0
    assert ledger.read_bytes() == recorded
    # March with a corrected cost after it was paid and released: stops, names the entry, writes nothing
    rows = _rows()
    rows[2][4] = "99999.00"  # K002: H3, March
    write_csv(inputs / "cases.csv", HEADER, rows)
    capsys.readouterr()
    assert settle(inputs, "month", "2024-03", inputs / "m3b", "--ledger", str(ledger)) == 3
    assert "entry run 2024-03 hospital H3" in capsys.readouterr().err
    assert ledger.read_bytes() == recorded and not (inputs / "m3b").exists()


def test_special_list_and_per_diem_file_are_recorded_with_the_run(inputs, capsys):
    """The 特病单议 list a run used (file name, SHA-256, count) in run.json and on the statements; a per-diem rate
    file's SHA-256 with the inputs; the summary shows per diem paid from the budget beside Σ DRG fund."""
    import hashlib

    write_csv(inputs / "special.csv", ["case_id"], [["K003"]])
    write_csv(inputs / "rates.csv", ["drg", "fund", "rate"], [["C01", "310", "200.00"]])
    (inputs / "policy.toml").write_text(POLICY.format(budget="300000.00") + '[tracks.per_diem]\nfile = "rates.csv"\n'
                                        'paid_from = "budget"\n', encoding="utf-8")
    assert settle(inputs, "year", "2024", inputs / "run", "--special", str(inputs / "special.csv")) == 0
    err = capsys.readouterr().err
    meta = json.loads((inputs / "run" / "run.json").read_text(encoding="utf-8"))
    digest = hashlib.sha256((inputs / "special.csv").read_bytes()).hexdigest()
    assert meta["special_list"] == {"version": "special.csv", "sha256": digest, "cases": 1}
    assert meta["files_sha256"]["[tracks.per_diem] file"] == hashlib.sha256(
        (inputs / "rates.csv").read_bytes()).hexdigest()
    html = (inputs / "run" / "statements" / "H1.html").read_text(encoding="utf-8")
    assert "特病单议名单" in html and digest in html
    fund = next(f for f in meta["funds"] if f["insurance_type"] == "310")
    assert fund["budget_tracks_fen"] > 0 and fund["drg_fund_fen"] + fund["budget_tracks_fen"] == fund["distributable_fen"]
    assert "预算内床日/单病种" in err and "= distributable" in err
