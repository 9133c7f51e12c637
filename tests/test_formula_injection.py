"""Spreadsheet formula injection (issue 16 finding 8): no CSV or XLSX output runs a formula, header included."""

from __future__ import annotations

import csv

import pyarrow as pa
import pytest
from openpyxl import load_workbook

from api.cli import main
from foundation.files import FORMULA_STARTS, write_table

ATTACKS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def _read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


@pytest.mark.parametrize("dictionary", [False, True])
def test_csv_cells_and_headers_start_with_an_apostrophe(tmp_path, dictionary):
    text = pa.array(ATTACKS + ["safe", None])
    table = pa.table({"=cmd": text.dictionary_encode() if dictionary else text, "n": pa.array(range(-4, 4))})
    rows = _read_csv(write_table(table, tmp_path / "out.csv"))
    assert rows[0] == ["'=cmd", "n"]
    assert [r[0] for r in rows[1:]] == ["'" + a for a in ATTACKS] + ["safe", ""]
    assert [r[1] for r in rows[1:]] == [str(k) for k in range(-4, 4)]  # numbers stay numbers


def test_xlsx_cells_and_headers_are_text_cells(tmp_path):
    table = pa.table({"=HYPERLINK(\"http://x\")": pa.array(ATTACKS)})
    sheet = load_workbook(write_table(table, tmp_path / "out.xlsx")).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert all(c.data_type == "s" for c in cells)
    assert [c.value for c in cells] == ["=HYPERLINK(\"http://x\")"] + [a.replace("\r", "\n") if a.startswith("\r")
                                                                       else a for a in ATTACKS]


def test_drg_group_keep_input_neutralises_an_input_header(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("case_id,sex,age_years,principal_dx,=HYPERLINK(\"http://evil\")\n"
                    "=1+1,1,60,I21.000,@cmd\n", encoding="utf-8")
    for suffix in ("csv", "xlsx"):
        out = tmp_path / f"out.{suffix}"
        assert main(["group", str(path), "-o", str(out), "--keep-input"]) == 0
        if suffix == "csv":
            rows = _read_csv(out)
            cells = rows[0] + rows[1]
            assert "'=HYPERLINK(\"http://evil\")" in rows[0] and "'=1+1" in rows[1] and "'@cmd" in rows[1]
            assert not any(c.startswith(FORMULA_STARTS) for c in cells)
        else:
            sheet = load_workbook(out).active
            assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_xlsx_on_a_full_disk_fails_cleanly(tmp_path):
    """Issue 16 finding 12: a full disk (here a file-size limit) raises OSError once; no stray "Exception ignored"
    traceback, no partial file left."""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "import pyarrow as pa\n"
        "from foundation.files import write_table\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))\n"
        "t = pa.table({'a': [f'text {i} ' * 5 for i in range(100_000)]})\n"
        "try:\n"
        "    write_table(t, sys.argv[1])\n"
        "except OSError as exc:\n"
        "    print('refused', exc.errno)\n"
    )
    out = tmp_path / "out.xlsx"
    done = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.stdout.strip() == "refused 27", done.stderr
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []
