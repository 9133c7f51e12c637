"""Every downstream command once on a regional golden set (haerbin-2022), and packs as a catalogue.

The settlement is the acceptance of issue 17: the Harbin golden records of 2022 grouped with the Harbin
pack and paid with Harbin's published 2022 weights hold at most 2% of their status-ok cases for a missing
weight (with the national 1.1 tables about 40% are held).
"""

from __future__ import annotations

import re

import pandas as pd
import pyarrow.parquet as pq
import pytest

from api.cli import main
from reference_data import GOLDEN, REPO, SHARED, TABLES, require_shared

PACK = "haerbin-2022"
POLICY = REPO / "payment" / "policies" / "harbin-example.toml"
OTHER_POLICY = REPO / "payment" / "policies" / "example.toml"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    require_shared(GOLDEN / f"{PACK}.parquet")
    folder = tmp_path_factory.mktemp("regional")
    weights = SHARED / "weights" / "harbin-2022.csv"
    assert main(["weights", "import", str(weights), "-o", str(folder / "harbin-2022.parquet"),
                 "--region", "harbin", "--year", "2022"]) == 0
    assert main(["weights", "import", str(weights), "-o", str(folder / "beijing.parquet"),
                 "--region", "北京", "--year", "2022"]) == 0
    return folder


def _settle(work, *extra, pack=TABLES / PACK, weights="harbin-2022.parquet", policy=POLICY, out="run"):
    return main(["settle", "year", str(GOLDEN / f"{PACK}.parquet"), "--pack", str(pack),
                 "--weights", str(work / weights), "--policy", str(policy), "--period", "2022",
                 "-o", str(work / out), *extra])


def test_group(work):
    out = work / "grouped.parquet"
    assert main(["group", str(GOLDEN / f"{PACK}.parquet"), "--pack", str(TABLES / PACK), "--keep-input",
                 "-o", str(out)]) == 0
    grouped = pd.read_parquet(out)
    golden = pd.read_parquet(GOLDEN / f"{PACK}.parquet")
    assert len(grouped) == len(golden)
    assert (grouped["drg"].to_numpy() == golden["expected_drg"].to_numpy()).all()
    assert (grouped["status"] == "qy").sum() == (golden["expected_status"] == "qy").sum() > 0


def test_validate_explains_regional_rules(work):
    out = work / "findings.parquet"
    explain = work / "explain.parquet"
    assert main(["validate", str(GOLDEN / f"{PACK}.parquet"), "--pack", str(TABLES / PACK),
                 "--weights", str(work / "harbin-2022.parquet"), "-o", str(out), "--explain", str(explain)]) == 0
    rows = pq.read_table(explain)
    assert rows.num_rows == 3000
    assert pq.read_table(out).num_rows > 0


def test_calibrate_gives_regional_weights(work):
    grouped = work / "grouped.parquet"
    if not grouped.is_file():
        assert main(["group", str(GOLDEN / f"{PACK}.parquet"), "--pack", str(TABLES / PACK), "--keep-input",
                     "-o", str(grouped)]) == 0
    out = work / "calibrated.parquet"
    assert main(["calibrate", str(grouped), "-o", str(out), "--min-cases", "1", "--no-report",
                 "--region", "haerbin", "--year", "2022"]) == 0
    drgs = set(pd.read_parquet(out)["drg"])
    national = set((TABLES / "chs-drg-1.1" / "DATA" / "DRG.dat").read_text(encoding="utf-8").split("\n"))
    national = {line.split(" ")[0] for line in national if line}
    assert drgs - national, "a Harbin calibration has Harbin's own DRGs"


def test_settle_year_holds_few_cases_for_missing_weights(work, capsys):
    assert _settle(work) == 0
    lines = pq.read_table(work / "run" / "case_lines.parquet").to_pandas()
    ok = lines["status"] == "ok"
    held = (lines["case_type"] == "held") & ok
    share = held.sum() / ok.sum()
    printed = re.search(r"(\d+) cases = ([\d.]+)% of the ([\d,]+) status-ok cases", capsys.readouterr().err)
    assert printed and int(printed.group(1)) == held.sum() and int(printed.group(3).replace(",", "")) == ok.sum()
    print(f"\nharbin 2022 with haerbin-2022: {held.sum()} of {ok.sum()} status-ok cases held ({100 * share:.2f}%)")
    assert share <= 0.02


def test_settle_refuses_another_region_unless_forced(work, capsys):
    assert _settle(work, policy=OTHER_POLICY, out="other") == 2
    err = capsys.readouterr().err
    assert "示例市" in err and "haerbin 哈尔滨" in err and "--force" in err
    assert not (work / "other").exists()
    assert _settle(work, weights="beijing.parquet", out="beijing") == 2
    assert "beijing 北京" in capsys.readouterr().err
    assert _settle(work, "--force", weights="beijing.parquet", out="beijing") == 0
    assert "used anyway (--force)" in capsys.readouterr().err


def test_national_pack_accepts_any_region(work, capsys):
    assert _settle(work, pack=TABLES / "chs-drg-1.1", out="national") == 0
    printed = re.search(r"= ([\d.]+)% of the", capsys.readouterr().err)
    assert printed and float(printed.group(1)) > 30  # the national tables lack most of Harbin's DRGs


def test_packs_import_skips_non_packs_and_lists_the_catalogue(tmp_path, monkeypatch, capsys):
    require_shared(TABLES / PACK)
    monkeypatch.setenv("DRG_PACKS_DIR", str(tmp_path / "packs"))
    sources = [TABLES / "README.md", TABLES / "chs-drg-3.0-rules", TABLES / PACK, TABLES / "chs-drg-1.1"]
    assert main(["packs", "import", *map(str, sources)]) == 0
    err = capsys.readouterr().err
    assert err.count("skipped") == 2 and "2 pack(s) imported" in err
    assert main(["packs", "import", str(TABLES / PACK)]) == 0  # the same pack again: nothing to do
    capsys.readouterr()
    assert main(["packs", "list"]) == 0
    listed = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert listed[PACK][1:6] == ["haerbin", "哈尔滨", "2022", "chs-drg-rules/2", "688"]
    assert listed["chs-drg-1.1"][1:6] == ["全国", "(national)", "1.1", "chs-drg-rules/1", "628"]
