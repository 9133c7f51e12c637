"""The layer rules of the developers' guide, executable.

* The import-linter contracts of ``pyproject.toml`` ([tool.importlinter]): foundation < icd_tables < grouper
  < weights < calibration | payment | audit (siblings) < scaleout < api, and the ground floor imports no
  DRG package.  import-linter sees modules, not names, so:
* a walk over the source checks that no package uses another package's ``_private`` module or name
  (``from payment._kernels import …``, ``from calibration.estimator import _pack_version``,
  ``engine._standards(…)`` on an imported module).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The top-level packages of the project, and the benchmarks (not a layer, but held to the same rule).
PACKAGES = ("foundation", "icd_tables", "grouper", "weights", "calibration", "payment", "audit", "scaleout", "api")
CHECKED = (*PACKAGES, "benchmarks")
#: Private modules of other projects that may be imported, with the reason.  ``tests/`` is not walked: the
#: tests compare private kernels with their plain-Python twins on purpose.
ALLOWED = {
    "sklearn.utils._param_validation": "scikit-learn's own way to declare an estimator's _parameter_constraints "
                                       "(Interval, StrOptions); it has no public module",
}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _top(module: str) -> str:
    return module.split(".")[0]


def _uses(source: str, where: str, own: str) -> list[str]:
    """The uses of another package's private module or name in the source of one module of package ``own``.

    Returns ``where:line: what`` for each: an import of a private module or name (other projects' too,
    but for :data:`ALLOWED`), and a private attribute of another package's module, class or function
    bound by an import.
    """
    tree = ast.parse(source, filename=where)
    found = []
    bound: dict[str, str] = {}  # local name → the module (or name) of another package it stands for

    def foreign(module: str) -> bool:
        return module not in ALLOWED and _top(module) != own

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not foreign(alias.name):
                    continue
                if any(_private(part) for part in alias.name.split(".")):
                    found.append(f"{where}:{node.lineno}: import {alias.name}")
                bound[alias.asname or _top(alias.name)] = alias.name if alias.asname else _top(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if not foreign(node.module):
                continue
            if any(_private(part) for part in node.module.split(".")):
                found.append(f"{where}:{node.lineno}: from {node.module} import …")
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{where}:{node.lineno}: from {node.module} import {alias.name}")
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in bound and _top(bound[base.id]) in CHECKED:
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)} ({bound[base.id]})")
    return found


def test_import_contracts_hold():
    """The layers and the ground floor of [tool.importlinter], checked by import-linter itself."""
    try:
        from importlinter.cli import lint_imports
    except ImportError:  # pragma: no cover - the test extra installs it
        pytest.fail("import-linter is missing: pip install -e '.[test]' (it checks the layer rules)")
    import io
    from contextlib import redirect_stdout

    report = io.StringIO()
    with redirect_stdout(report):
        code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert code == 0, f"a layer rule is broken (import-linter):\n{report.getvalue()}"
    assert "2 kept, 0 broken" in report.getvalue()


def test_no_package_uses_another_packages_private_names():
    uses = [use for top in CHECKED for path in sorted((ROOT / top).rglob("*.py"))
            for use in _uses(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)), top)]
    assert not uses, ("private modules or names of another package (make them public there, documented, "
                      "or move the code down a layer):\n" + "\n".join(uses))


@pytest.mark.parametrize("source, expected", [
    ("from payment._kernels import CAT_DRG", ["from payment._kernels import"]),
    ("from calibration.estimator import _pack_version", ["from calibration.estimator import _pack_version"]),
    ("import grouper._kernels as k", ["import grouper._kernels"]),
    ("from payment import engine\nengine._standards(1)", ["engine._standards (payment.engine)"]),
    ("import payment.engine\npayment.engine._withhold(1)", ["payment.engine._withhold (payment)"]),
    ("from grouper import Grouper\nGrouper._results", ["Grouper._results (grouper.Grouper)"]),
    ("from numpy import _NoValue", ["from numpy import _NoValue"]),
    ("from api import _x\nimport api._y", []),              # the package's own private names
    ("from ._z import w", []),                               # relative: the same package
    ("from sklearn.utils._param_validation import Interval", []),   # ALLOWED
    ("import numpy as np\nnp._NoValue", []),                # other projects' attributes: out of scope
    ("from payment.engine import classify\nclassify(1).__class__", []),
])
def test_the_private_name_check_sees_what_it_should(source, expected):
    found = _uses(source, "api/probe.py", "api")
    assert len(found) == len(expected), found
    for use, part in zip(found, expected):
        assert use.startswith("api/probe.py:") and part in use, (use, part)
