"""The workbench's files and the API docs are served by the service itself (offline intranets): no page
names an address outside it, the chart library ships with its licence inside the package, and only the
files of ``static/`` can be read.  (The browser walk is in test_service_browser.py.)"""

from __future__ import annotations

import json
import re

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from service_helpers import REPO

STATIC = REPO / "api" / "service" / "static"
OUTSIDE = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    from service_helpers import close_client, make_client

    c, schema = make_client(tmp_path_factory.mktemp("web"), "duckdb")
    yield c.client
    close_client(c, "duckdb", schema)


def test_workbench_page_loads_only_its_own_files(web):
    page = web.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert not OUTSIDE.search(page.text)
    assert "default-src 'self'" in page.headers["content-security-policy"]
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert scripts == ["/static/vendor/echarts/echarts.min.js", "/static/app.js", "/static/pages.js"]
    for path in [*scripts, "/static/style.css"]:
        r = web.get(path)
        assert r.status_code == 200 and r.content, path
    assert web.get("/static/vendor/echarts/echarts.min.js").headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize("path", ["/static/../app.py", "/static/%2e%2e/app.py", "/static/nope.js", "/static/vendor",
                                  "/static/vendor/echarts/VERSION"])
def test_only_static_files_are_served(web, path):
    r = web.get(path)
    assert r.status_code == 404 and r.json() == {"detail": "未找到 (not found)"}


def test_docs_and_redoc_use_bundled_assets(web):
    for path in ("/docs", "/redoc"):
        page = web.get(path)
        assert page.status_code == 200, path
        assert not OUTSIDE.search(page.text), path
        for asset in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert web.get(asset).status_code == 200, asset
    assert "fonts.googleapis" not in web.get("/redoc").text
    assert "cdn.redoc.ly" not in web.get("/static/redoc.standalone.js").text
    assert '"validatorUrl": null' in web.get("/docs").text


def test_chart_library_ships_with_its_licence():
    """ECharts, its licence and version travel in the package data (pip install users get them)."""
    folder = STATIC / "vendor" / "echarts"
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert (folder / "VERSION").read_text().strip() == "echarts 6.1.0 (Apache-2.0)"
    package = json.loads((REPO / "web" / "package.json").read_text())
    assert package["dependencies"]["echarts"] == "6.1.0"
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["api.service"]
    shipped = {p.relative_to(STATIC.parent).as_posix() for pattern in data for p in STATIC.parent.glob(pattern)}
    assert {"static/vendor/echarts/echarts.min.js", "static/vendor/echarts/LICENSE",
            "static/vendor/echarts/NOTICE", "static/app.js", "static/pages.js", "static/index.html"} <= shipped


def test_pages_say_every_label_in_chinese_and_english():
    """Each page title registered in pages.js carries Chinese then English."""
    titles = re.findall(r'title: "([^"]+)"', (STATIC / "pages.js").read_text())
    assert len(titles) >= 11
    for title in titles:
        assert re.search(r"[\u4e00-\u9fff]", title) and re.search(r"[A-Za-z]", title), title
