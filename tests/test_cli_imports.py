"""Start-up: a command imports only what it uses (the import set, never the time, is asserted).

``drg --help`` loads no engine at all; ``drg group`` loads the grouper but not scikit-learn,
FastAPI, openpyxl, PySpark, the service's databases, nor the calibration, payment and audit
packages.  (SciPy's top-level package comes with Numba, whose own start-up checks SciPy's version when it
is installed; ``scipy.linalg``, which Numba's BLAS probe would import, does not: see foundation/numba_options.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys

from reference_data import write_csv

HEAVY = ("sklearn", "fastapi", "uvicorn", "openpyxl", "pyspark", "duckdb", "psycopg", "rustpy_xlsxwriter",
         "calibration", "payment", "audit", "scaleout.settlement")
ENGINE = ("numpy", "pyarrow", "pandas", "numba", "grouper", "icd_tables")


def _modules_after(argv: list[str]) -> tuple[int, set[str]]:
    code = ("import json, sys\nfrom api.cli.main import main\n"
            f"rc = main({argv!r})\nprint(json.dumps([rc, sorted(sys.modules)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    rc, modules = json.loads(out.strip().splitlines()[-1])
    return rc, set(modules)


def test_help_loads_no_engine():
    code = ("import json, sys\nfrom api.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\nprint(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    modules = set(json.loads(out.strip().splitlines()[-1]))
    assert not modules & set(HEAVY + ENGINE)


def test_group_loads_the_grouper_only(tmp_path):
    records = write_csv(tmp_path / "r.csv", ["病案号", "性别", "年龄", "主要诊断编码"], [["A1", "1", "40", "A01"]])
    rc, modules = _modules_after(["group", str(records), "-o", str(tmp_path / "out.csv"), "--pack", "example-mini"])
    assert rc == 0
    assert {"grouper", "icd_tables", "numba", "pyarrow"} <= modules
    assert not {m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY}
    assert "scipy.linalg" not in modules
