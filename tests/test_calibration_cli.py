"""``drg calibrate`` and ``drg indices`` end to end: outputs, byte-identical re-runs, exit codes, golden set."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from api.cli import main
from reference_data import SHARED, require_shared, write_csv
from weights import WeightTable


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from grouper import Grouper
    from icd_tables.sample import sample_records

    path = tmp_path_factory.mktemp("cal") / "history.parquet"
    sample_records(Grouper().pack.compiled, 4000, seed=2).to_parquet(path)
    return path


def test_calibrate_and_indices_are_byte_identical_on_rerun(records, tmp_path):
    outputs = {}
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        args = [str(records), "--pack", "example-mini"]
        assert main(["calibrate", *args, "-o", str(folder / "w.parquet"), "--year-weights", "1,2"]) == 0
        assert main(["calibrate", *args, "-o", str(folder / "w.csv"), "--no-report"]) == 0
        assert main(["indices", *args, "--weights", str(folder / "w.parquet"), "-o", str(folder / "i.parquet")]) == 0
        assert main(["indices", *args, "--weights", str(folder / "w.parquet"), "-o", str(folder / "i.csv")]) == 0
        outputs[run] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert sorted(outputs["a"]) == ["i.csv", "i.html", "i.parquet", "i.top.csv", "i.top.parquet", "w.csv", "w.html",
                                    "w.parquet"]
    assert outputs["a"] == outputs["b"]
    table = WeightTable.read(tmp_path / "a" / "w.parquet")
    assert table.drgs == sorted(table.drgs) and table.meta.pack_version.startswith("example-mini@")
    assert {"drg", "drg_name", "n_cases", "n_used", "mean_cost", "cv", "rw"} <= set(table.frame.columns)
    assert "费用分布" in (tmp_path / "a" / "w.html").read_text(encoding="utf-8")


def test_grouped_input_is_used_as_it_is(records, tmp_path):
    grouped = tmp_path / "grouped.parquet"
    assert main(["group", str(records), "-o", str(grouped), "--keep-input"]) == 0
    assert main(["calibrate", str(grouped), "-o", str(tmp_path / "a.parquet"), "--no-report"]) == 0
    assert main(["calibrate", str(records), "--pack", "example-mini", "-o", str(tmp_path / "b.parquet"),
                 "--no-report"]) == 0
    a, b = WeightTable.read(tmp_path / "a.parquet"), WeightTable.read(tmp_path / "b.parquet")
    assert a.rw() == b.rw()


def test_exit_codes(records, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "w.parquet")
    assert main(["calibrate", str(records), "--pack", "example-mini", "-o", out, "--trim", "median"]) == 2
    assert main(["calibrate", str(records), "--pack", "example-mini", "-o", out, "--year-weights", "2,x"]) == 2
    assert main(["calibrate", str(records), "--pack", "example-mini", "-o", out, "--year-weights", "2,3,5"]) == 3
    assert "3 year weights given but the history has 2 years (2024, 2025)" in capsys.readouterr().err
    assert main(["calibrate", str(records), "--pack", "example-mini", "-o", out, "--base-year", "2024"]) == 3
    bad = write_csv(tmp_path / "cpi.csv", ["年份", "价格"], [[2024, 100]])
    assert main(["calibrate", str(records), "--pack", "example-mini", "-o", out, "--inflation", str(bad)]) == 3
    assert "year (年份) and index (价格指数)" in capsys.readouterr().err
    monkeypatch.delenv("DRG_PACK")
    assert main(["calibrate", str(records), "-o", out]) == 2  # raw records, no --pack and no default pack
    assert "no pack chosen" in capsys.readouterr().err
    assert not (tmp_path / "w.parquet").exists()


def test_inflation_file(records, tmp_path):
    cpi = write_csv(tmp_path / "cpi.csv", ["年份", "价格指数"], [[2023, "100"], [2024, "104"]])
    out = tmp_path / "w.parquet"
    assert main(["calibrate", str(records), "--pack", "example-mini", "-o", str(out), "--inflation", str(cpi),
                 "--base-year", "2023", "--no-report"]) == 0
    # discharges of 2024 are deflated by 100/104; those of 2025 (not in the index) are excluded
    plain = tmp_path / "plain.parquet"
    assert main(["calibrate", str(records), "--pack", "example-mini", "-o", str(plain), "--no-report",
                 "--year-weights", "2024=1"]) == 0  # the same cases (2024 only), not deflated
    deflated, same = WeightTable.read(out).frame, WeightTable.read(plain).frame
    ratio = [float(a / b) for a, b in zip(deflated["mean_cost"], same["mean_cost"])]
    assert all(abs(r - 100 / 104) < 0.01 / 50 + 1e-4 for r in ratio)


@pytest.mark.golden
def test_golden_11_end_to_end(tmp_path):
    golden = require_shared(SHARED / "golden" / "chs-drg-1.1.parquet")
    pack = require_shared(SHARED / "drg-tables" / "chs-drg-1.1")
    out = tmp_path / "w.parquet"
    assert main(["calibrate", str(golden), "--pack", str(pack), "-o", str(out), "--trim", "none",
                 "--min-cases", "1", "--max-los", "1000", "--min-cost", "0"]) == 0
    table = WeightTable.read(out)
    from grouper import Grouper

    frame = pd.read_parquet(golden)
    results = Grouper(pack).group(frame)
    ok = frame[(results["status"] == "ok").to_numpy()].assign(drg=results.loc[results["status"] == "ok", "drg"]
                                                               .astype(str).to_numpy())
    reference = ok.groupby("drg")["total_cost"].mean() / ok["total_cost"].mean()
    assert table.rw() == {d: Decimal(repr(v)).quantize(Decimal("0.000001"), ROUND_HALF_UP)
                          for d, v in reference.items()}
    indices = tmp_path / "i.parquet"
    assert main(["indices", str(golden), "--pack", str(pack), "--weights", str(out), "-o", str(indices)]) == 0
    frame = pd.read_parquet(indices)
    region = frame[frame["level"] == "region"].iloc[0]
    assert region["n_cases"] == 20000 and region["cost_index"] == 1.0
    assert set(frame["level"]) == {"region", "hospital", "hospital_month", "hospital_dept", "hospital_dept_month"}
