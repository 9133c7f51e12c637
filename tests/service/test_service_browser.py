"""End to end in headless Chromium (Debian's chromium + chromium-driver): the workbench walked as a
hospital (医保办), a coder (编码员) and a payer (经办机构), with assertions on the DOM against the API.
Every test fails if the browser sent any request to anything but the service on 127.0.0.1 (read from
Chrome's performance log), ``/docs`` and ``/redoc`` included.  Skips, saying why, when Chromium is not
installed.  With ``DRG_SCREENSHOT_DIR`` set, the main pages are saved there as PNG.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from datetime import date
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from service_helpers import month_records, records_json, write_test_weights, POLICY

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
SHOTS = os.environ.get("DRG_SCREENSHOT_DIR")
#: Two overlapping stays of one patient per hospital: the audit run flags each hospital.
OVERLAP = [dict(sex=1, age_years=67, principal_dx="J18.900", discharge_method=1, insurance_type="390", total_cost=9000.0,
                hospital_id=h, case_id=f"{h}-OV-{i}", patient_id=f"P-{h}", admit_date=a, discharge_date=d, los_days=n)
           for h in ("H001", "H002") for i, (a, d, n) in enumerate((("2024-03-10", "2024-03-20", 10),
                                                                     ("2024-03-15", "2024-03-18", 3)))]

#: The case the payer returns for correction (退回修改) before the walks.
RETURNED, RETURN_REASON = "H001-1-0010", "主要诊断与手术不符 (the principal diagnosis does not fit the operation)"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from api.service.app import create_app
    from api.service.auth import create_key
    from api.service.settings import Settings

    tmp = tmp_path_factory.mktemp("browser")
    # the walks happen on 2024-04-05, within March's upload window (a 2024 record uploaded today is refused as late)
    patch = pytest.MonkeyPatch()
    for name in ("api.service.lifecycle_store.today", "api.service.routers.lifecycle.today"):
        patch.setattr(name, lambda: date(2024, 4, 5))
    app = create_app(Settings(database_url=f"duckdb:///{tmp / 'db.duckdb'}", weights=write_test_weights(tmp / "w.parquet"),
                              policy=POLICY, job_dir=tmp / "jobs", rate_limit_per_s=0))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    service = app.state.service
    keys = {role: create_key(service.db, role, "H001" if role in ("hospital", "coder") else None)[1]
            for role in ("payer", "hospital", "coder")}
    base = f"http://127.0.0.1:{port}"
    payer = {"X-API-Key": keys["payer"]}
    for hospital, seed in (("H001", 1), ("H002", 2)):
        records = records_json(month_records(hospital, 40, seed)) + [r for r in OVERLAP if r["hospital_id"] == hospital]
        r = httpx.post(f"{base}/v1/batches?validate=true", json={"records": records}, headers=payer, timeout=60)
        assert r.status_code == 200, r.text
    # the case book: one case returned for correction, the others accepted on review and settled in March's run
    r = httpx.post(f"{base}/v1/lifecycle/returns", json={"hospital_id": "H001", "case_id": RETURNED, "reason": RETURN_REASON},
                   headers=payer, timeout=30)
    assert r.status_code == 200 and r.json()["submission"] == "returned", r.text
    for path, body, code in (("/v1/lifecycle/reviews", {}, 200), ("/v1/lifecycle/runs", {"kind": "month", "period": "2024-03"}, 201),
                             ("/v1/audit-runs", {"period": "2024-03"}, 201)):
        r = httpx.post(base + path, json=body, headers=payer, timeout=60)
        assert r.status_code == code, r.text
    yield base, keys
    server.should_exit = True
    thread.join(10)
    patch.undo()


@pytest.fixture(scope="module")
def chrome():
    if not (CHROMIUM and DRIVER):
        pytest.skip("Chromium or chromedriver not installed (apt-get install chromium chromium-driver; .ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
                 "--lang=zh-CN", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-features=Translate,OptimizationHints,MediaRouter",
                 # a request to anywhere else fails fast instead of hanging; the performance log still shows it
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chrome, server):
    """The browser, signed out; after the test, every request it made must have gone to the service."""
    base, _ = server
    chrome.set_window_size(1280, 900)
    chrome.get(base + "/")
    chrome.execute_script("sessionStorage.clear()")
    chrome.get(base + "/")
    chrome.get_log("performance")  # start the test's log afresh
    yield chrome
    requests = [json.loads(e["message"])["message"] for e in chrome.get_log("performance")]
    urls = {m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"}
    outside = sorted(u for u in urls if not u.startswith((base + "/", "data:", "blob:", "about:")))
    assert urls and not outside, f"requests left 127.0.0.1: {outside}"
    # refusals the test asks for (401, 403, 404) are logged by Chrome as failed loads; anything else is an error
    errors = [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"
              and not (e["source"] == "network" and "status of 40" in e["message"])]
    assert not errors, errors


def _wait(driver, condition, timeout=20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def _text(driver, selector) -> str:
    found = _css(driver, selector)
    return found[0].text if found else ""


def _ready(driver, selector="#page-body"):
    """Wait until the page part has loaded (data-state ready or error); return its state."""
    return _wait(driver, lambda d: (_css(d, selector) and _css(d, selector)[0].get_attribute("data-state")
                                    in ("ready", "error") and _css(d, selector)[0].get_attribute("data-state")))


def _open(driver, base, hash_, part="#page-body"):
    driver.execute_script("location.hash = arguments[0]", hash_)
    _wait(driver, lambda d: d.execute_script("return location.hash") == hash_)
    time.sleep(0.05)
    return _ready(driver, part)


def _sign_in(driver, base, key):
    from selenium.webdriver.common.by import By

    driver.get(base + "/")
    driver.find_element(By.ID, "api-key").send_keys(key)
    driver.find_element(By.ID, "sign-in-button").click()
    _wait(driver, lambda d: d.find_element(By.ID, "view").is_displayed())
    _ready(driver)


def _shot(driver, name):
    """The whole page as a PNG in DRG_SCREENSHOT_DIR (for people to look at; nothing is asserted on pixels)."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        size = driver.get_window_size()
        height = driver.execute_script("return document.documentElement.scrollHeight")
        # the window's height holds its frame too: a margin keeps the page's foot in the picture
        driver.set_window_size(size["width"], min(max(height + 160, size["height"]), 4000))
        time.sleep(0.3)
        driver.save_screenshot(str(Path(SHOTS) / f"{name}.png"))
        driver.set_window_size(size["width"], size["height"])


def _money(text: str) -> str:
    """Decimal text with thousands separators, as the page writes it (by hand: 81390.06 → 81,390.06)."""
    whole, _, fraction = text.partition(".")
    return f"{int(whole):,}" + (f".{fraction}" if fraction else "")


def _api(base, key, path):
    return httpx.get(base + path, headers={"X-API-Key": key}, timeout=30)


def _rows(driver, table_id):
    """The cells' text of a table's rows, read in one step (the page may redraw the table meanwhile)."""
    return driver.execute_script("return [...document.querySelectorAll(arguments[0])].map((tr) => "
                                 "[...tr.querySelectorAll('td')].map((td) => td.innerText.trim()))", f"#{table_id} tbody tr")


def _column(driver, table_id, header):
    headers = [th.text for th in _css(driver, f"#{table_id} thead th")]
    index = next(i for i, h in enumerate(headers) if h.startswith(header))
    return [row[index] for row in _rows(driver, table_id)]


def test_hospital_walk(server, browser, tmp_path):
    """医保办: empty month → month → upload → invalid case → case page → statement → appeal, and the 404 case."""
    from selenium.webdriver.common.by import By

    base, keys = server
    key = keys["hospital"]
    _sign_in(browser, base, key)
    assert "医院 hospital · H001" in _text(browser, "#who")
    nav = [a.text for a in _css(browser, "#nav a")]
    assert "结算单 Statements" in nav and "疑点与申诉 Flags and appeals" in nav and "医院排名 Hospitals ranked" not in nav

    # an empty month: words, no chart, no stray legend
    assert _open(browser, base, "#/month?period=2023-01", "#month-result") == "ready"
    assert "没有病例 (no cases in this month)" in _text(browser, "#month-empty")
    assert not _css(browser, "#month-result .chart") and "■" not in _text(browser, "#view")
    assert _text(browser, "#m-cases") == "0"

    # the month: figures are the API's, money with thousands separators, charts drawn by ECharts (SVG)
    assert _open(browser, base, "#/month?period=2024-03", "#month-result") == "ready"
    summary = _api(base, key, "/v1/hospitals/H001/summary?period=2024-03").json()
    assert browser.find_element(By.ID, "month-form-hospital").get_attribute("readonly") == "true"
    assert _text(browser, "#m-cases") == str(summary["n_cases"]) == "42"
    assert _text(browser, "#m-cmi") == f"{summary['cmi']:.4f}"
    assert _text(browser, "#m-cost") == _money(summary["total_cost"]) and "," in _text(browser, "#m-cost")
    assert _text(browser, "#m-payment") == _money(summary["payment"])
    assert _column(browser, "drg-table", "DRG") == [d["drg"] for d in summary["drgs"]]
    assert _column(browser, "drg-table", "费用 cost") == [_money(d["total_cost"]) for d in summary["drgs"]]
    assert _css(browser, "#drg-chart svg") and _css(browser, "#trend-chart svg")
    assert [r[0] for r in _rows(browser, "findings-table")] == [f"{r['title_zh']} ({r['rule_id']})"
                                                                for r in summary["top_rules"]]
    _shot(browser, "hospital-month")

    # 404: another hospital's month, asked for by editing the fixed field, leaves none of H001's figures
    browser.execute_script("const h = document.getElementById('month-form-hospital'); h.readOnly = false; h.value = 'H002';")
    browser.find_element(By.ID, "month-form-submit").click()
    assert _ready(browser, "#month-result") == "error"
    assert _text(browser, "#month-result") == "未找到 (not found)"
    assert not _css(browser, "#m-cases") and not _css(browser, "#drg-table") and not _css(browser, "#month-result .chart")
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") is None

    # upload a file with progress: one record with an unknown principal diagnosis, one new version of a case
    frame = month_records("H001", 3, 1)
    frame.loc[0, "principal_dx"] = "ZZ9.999"
    frame.loc[0, "case_id"] = "H001-BAD-1"
    frame.loc[1, "total_cost"] = 12345.67
    path = tmp_path / "三月病案.csv"
    frame.to_csv(path, index=False)
    _open(browser, base, "#/upload")
    browser.find_element(By.ID, "upload-form-file").send_keys(str(path))
    browser.find_element(By.ID, "upload-form-submit").click()
    assert _ready(browser, "#upload-result") == "ready"
    assert browser.find_element(By.ID, "upload-progress").get_attribute("value") == "1"
    assert _text(browser, "#u-records") == "3" and _text(browser, "#u-replaced") == "2"
    _shot(browser, "hospital-upload")

    # the invalid case, with what to fix
    browser.find_element(By.ID, "to-invalid").click()
    _wait(browser, lambda d: "status=invalid" in d.current_url)
    assert _ready(browser, "#cases-result") == "ready"
    invalid = dict(zip(_column(browser, "case-table", "病案号"), _column(browser, "case-table", "需修改")))
    assert "ZZ9.999" in invalid["H001-BAD-1"]
    _shot(browser, "hospital-invalid")

    # the case page of the new version: grouping path, MCC/CC, what-if, earlier versions
    _open(browser, base, "#/case?hospital=H001&id=H001-1-0001")
    case = _api(base, key, "/v1/hospitals/H001/cases/H001-1-0001?explain=true").json()
    assert "第 2 版" in _text(browser, "#case-title")
    assert case["explanation"]["mdc_reason"] in _text(browser, "#grouping-path")
    assert (case["case"]["cc_dx"] or "–") in _text(browser, "#mcc-cc")
    assert len(_rows(browser, "whatif-table")) == len(case["alternatives"])
    assert [r[0] for r in _rows(browser, "versions-table")] == ["1"]
    assert "12,345.67" in _text(browser, "#case-facts")
    _shot(browser, "hospital-case")

    # the returned case, with the payer's reason and what to fix; its case page shows the history
    assert _open(browser, base, "#/returned", "#returned-result") == "ready"
    returned = _api(base, key, "/v1/lifecycle/cases?submission=returned").json()
    # returned by hand (RETURNED) and on review (the policy's return_severities: cases with fatal findings)
    shown = dict(zip(_column(browser, "returned-table", "病案号"), _rows(browser, "returned-table")))
    assert list(shown) == [r["case_id"] for r in returned] and len(shown) > 1
    assert RETURN_REASON in shown[RETURNED][4]
    assert all(row[5] for row in shown.values())  # each with what to fix
    _shot(browser, "hospital-returned")
    browser.find_element(By.LINK_TEXT, RETURNED).click()
    assert _ready(browser, "#case-history") == "ready"
    history = _api(base, key, f"/v1/lifecycle/cases/H001/{RETURNED}/history").json()
    assert [r[5] for r in _rows(browser, "history-table")] == [f"{e['to_zh']} {e['to_state']}" for e in history]
    assert "退回修改 returned" in _column(browser, "history-table", "到")
    _shot(browser, "hospital-case-history")

    # another hospital's case: 404 in words, nothing of the case before
    assert _open(browser, base, "#/case?hospital=H002&id=H002-2-0003") == "error"
    assert _text(browser, "#page-body") == "未找到 (not found)" and not _css(browser, "#case-facts")

    # the statement and its case lines
    assert _open(browser, base, "#/statements", "#statement-result") == "ready"
    run = _api(base, key, "/v1/settlements").json()[0]["run_id"]
    statement = _api(base, key, f"/v1/settlements/{run}/statements/H001").json()
    assert _column(browser, "statement-table", "拨付 paid") == [_money(line["paid"]) for line in statement["lines"]]
    lines = _api(base, key, f"/v1/settlements/{run}/lines?hospital_id=H001&limit=100").json()
    assert len(_rows(browser, "lines-table")) == lines["total"] < 42  # the returned cases are not settled
    assert RETURNED not in _column(browser, "lines-table", "病案号")
    _shot(browser, "hospital-statement")

    # appeal a flag, then follow it
    assert _open(browser, base, "#/appeals", "#flags-result") == "ready"
    rows = _css(browser, "#flag-table tbody tr")
    assert rows and all(r.find_elements(By.TAG_NAME, "td")[2].text == "H001" for r in rows)
    first = rows[0]
    flag_id = first.find_elements(By.TAG_NAME, "td")[0].text
    first.find_element(By.TAG_NAME, "textarea").send_keys("两次住院为不同疾病 (different conditions)")
    first.find_element(By.XPATH, ".//button[text()='申诉 appeal']").click()
    _wait(browser, lambda d: any(r[0] == flag_id and "申诉中" in r[-1] for r in _rows(d, "flag-table")))
    row = next(r for r in _css(browser, "#flag-table tbody tr") if r.text.startswith(flag_id))
    row.find_element(By.XPATH, ".//button[text()='跟进 follow']").click()
    _wait(browser, lambda d: "不同疾病" in _text(d, "#flag-table .record"))
    _shot(browser, "hospital-appeals")

    # deadlines, deductions and reconciliation: the API's figures, empty parts in words
    assert _open(browser, base, "#/deadlines?as_of=2024-06-30", "#deadlines-result") == "ready"
    deadlines = _api(base, key, "/v1/lifecycle/deadlines?as_of=2024-06-30").json()
    assert _column(browser, "deadline-months", "月份") == [m["month"] for m in deadlines["months"]] == ["2024-03"]
    assert _column(browser, "deadline-months", "申报截止") == [m["upload_deadline"] for m in deadlines["months"]]
    _shot(browser, "hospital-deadlines")
    assert _open(browser, base, "#/deductions", "#deductions-result") == "ready"
    assert "没有扣款 no deductions" in _text(browser, "#deductions-result")
    _shot(browser, "hospital-deductions")
    assert _open(browser, base, "#/reconciliation", "#reconciliation-result") == "ready"
    open_items = _api(base, key, "/v1/lifecycle/reconciliation").json()["open_items"]
    assert {r[2] for r in _rows(browser, "recon-open")} == {i["id"] for i in open_items} and RETURNED in {i["id"] for i in open_items}
    _shot(browser, "hospital-reconciliation")

    # 404: another hospital's deadlines, asked for by editing the fixed field, leave none of H001's
    _open(browser, base, "#/deadlines", "#deadlines-result")
    browser.execute_script("const h = document.getElementById('deadlines-form-hospital'); h.readOnly = false; h.value = 'H002';")
    browser.find_element(By.ID, "deadlines-form-submit").click()
    assert _ready(browser, "#deadlines-result") == "error"
    assert _text(browser, "#deadlines-result") == "未找到 (not found)" and not _css(browser, "#deadline-months")


def test_coder_sees_no_payment(server, browser):

    base, keys = server
    _sign_in(browser, base, keys["coder"])
    nav = [a.text for a in _css(browser, "#nav a")]
    assert "结算单 Statements" not in nav and "上传病案 Upload" in nav and "无效病例 Invalid cases" in nav
    assert _open(browser, base, "#/month?period=2024-03", "#month-result") == "ready"
    n_cases = _api(base, keys["coder"], "/v1/hospitals/H001/summary?period=2024-03").json()["n_cases"]
    assert _text(browser, "#m-cases") == str(n_cases) and _text(browser, "#m-cost")
    assert not _css(browser, "#m-payment")
    page = _text(browser, "#view")
    assert "支付" not in page and "payment" not in page.lower()
    _shot(browser, "coder-month")
    _open(browser, base, "#/case?hospital=H001&id=H001-1-0002")
    assert _css(browser, "#grouping-path li") and "预计" not in _text(browser, "#view")
    _shot(browser, "coder-case")
    assert _open(browser, base, "#/appeals", "#flags-result") == "ready"
    assert "涉及金额" not in _text(browser, "#view") and not _css(browser, "#flag-table textarea")
    # the returned cases and the case history: no money; the money pages are not in the menu
    assert "扣款 Deductions" not in nav and "对账 Reconciliation" not in nav and "截止日期 Deadlines" in nav
    # deadlines of upload and review, none of payment
    assert _open(browser, base, "#/deadlines?as_of=2024-06-30", "#deadlines-result") == "ready"
    assert _column(browser, "deadline-months", "申报截止") == ["2024-04-05"]  # March's: by the 5th of April
    assert "拨付" not in _text(browser, "#view") and not _css(browser, "#overdue-payments")
    _shot(browser, "coder-deadlines")
    assert _open(browser, base, "#/returned", "#returned-result") == "ready"
    assert RETURNED in _column(browser, "returned-table", "病案号")
    _open(browser, base, f"#/case?hospital=H001&id={RETURNED}")
    assert _ready(browser, "#case-history") == "ready" and _rows(browser, "history-table")
    page = _text(browser, "#view")
    assert "金额" not in page and "预计" not in page and "支付" not in page
    _shot(browser, "coder-returned-case")
    # a statement asked for by address: refused in words
    assert _open(browser, base, "#/statements") in ("ready", "error")
    assert browser.execute_script("return document.getElementById('view').dataset.page") == "month"


def test_payer_walk(server, browser):
    """经办机构: runs (start an audit run), hospitals ranked, the review queue, a decision on an appeal."""
    from selenium.webdriver.common.by import By

    base, keys = server
    key = keys["payer"]
    _sign_in(browser, base, key)
    assert _open(browser, base, "#/runs?period=2024-03") == "ready"
    before = len(_rows(browser, "audit-table"))
    browser.find_element(By.ID, "audit-form-submit").click()
    _wait(browser, lambda d: "已完成 done" in _text(d, "#run-started"))
    _wait(browser, lambda d: len(_rows(d, "audit-table")) == before + 1)
    assert _rows(browser, "settlement-table")[0][1] == "settle-month"
    _shot(browser, "payer-runs")

    assert _open(browser, base, "#/ranking?period=2024-03", "#ranking-result") == "ready"
    ranked = _api(base, key, "/v1/hospitals?period=2024-03").json()
    assert _column(browser, "ranking-table", "医院") == [r["hospital_id"] for r in ranked]
    assert _column(browser, "ranking-table", "CMI") == [f"{r['cmi']:.4f}" for r in ranked]
    assert _css(browser, "#ranking-chart svg")
    _shot(browser, "payer-ranking")
    assert _open(browser, base, "#/ranking?period=2023-01", "#ranking-result") == "ready"
    assert "没有病例" in _text(browser, "#ranking-result") and not _css(browser, "#ranking-result .chart")

    assert _open(browser, base, "#/queue", "#queue-result") == "ready"
    run = _api(base, key, "/v1/audit-runs").json()[0]["run_id"]
    queue = _api(base, key, f"/v1/audit-runs/{run}/queue?top=200&sample=0").json()["entries"]
    assert _column(browser, "queue-table", "病例") == [e["case_id"] for e in queue] and queue
    _shot(browser, "payer-queue")

    # the decision on the hospital's appeal (of the first audit run)
    first_run = _api(base, key, "/v1/audit-runs").json()[-1]["run_id"]
    assert _open(browser, base, f"#/decisions?run={first_run}", "#flags-result") == "ready"
    appealed = _css(browser, "#flag-table tbody tr")
    assert len(appealed) == 1 and "申诉中" in appealed[0].text
    flag_id = appealed[0].find_elements(By.TAG_NAME, "td")[0].text
    appealed[0].find_element(By.TAG_NAME, "textarea").send_keys("申诉理由成立 (the appeal holds)")
    _shot(browser, "payer-decision")
    appealed[0].find_element(By.XPATH, ".//button[text()='复议 decide']").click()
    _wait(browser, lambda d: "没有疑点" in _text(d, "#flags-result"))
    appeal = _api(base, key, f"/v1/flags/{quote(flag_id, safe='')}/appeal?run_id={first_run}")
    assert appeal.json()["status"] == "withdrawn", appeal.text

    # the submissions waiting for review: return one with a reason, settle the month of the case book
    assert _open(browser, base, "#/review", "#review-result") == "ready"
    # waiting: the hospital's upload of the walk (a new case, two corrections after payment, one unchanged)
    waiting = {(r[1], r[0]) for r in _rows(browser, "review-table")}
    assert ("H001", "H001-BAD-1") in waiting and ("H001", RETURNED) not in waiting
    row = next(r for r in _css(browser, "#review-table tbody tr") if r.text.startswith("H001-BAD-1"))
    row.find_element(By.TAG_NAME, "input").send_keys("缺少手术记录 (no operation record)")
    _shot(browser, "payer-review")
    row.find_element(By.XPATH, ".//button[text()='退回 return']").click()
    _wait(browser, lambda d: "已退回 returned: H001 H001-BAD-1" in _text(d, "#review-notice"))
    _wait(browser, lambda d: _css(d, "#review-result")[0].get_attribute("data-state") == "ready")
    assert ("H001", "H001-BAD-1") not in {(r[1], r[0]) for r in _rows(browser, "review-table")}
    returned = _api(base, key, "/v1/lifecycle/cases?hospital_id=H001&submission=returned").json()
    assert {"H001-BAD-1", RETURNED} <= {r["case_id"] for r in returned}
    browser.find_element(By.ID, "review-form-submit").click()
    _wait(browser, lambda d: "已初审 reviewed" in _text(d, "#review-notice"))
    browser.find_element(By.ID, "cycle-form-period").clear()
    browser.find_element(By.ID, "cycle-form-period").send_keys("2024-04")  # March is closed: corrections go to April
    browser.find_element(By.ID, "cycle-form-submit").click()
    _wait(browser, lambda d: "已结算 settled 2024-04" in _text(d, "#review-notice") or "error" in (
        _css(d, "#review-notice")[0].get_attribute("class") or ""))
    assert "已结算 settled 2024-04" in _text(browser, "#review-notice"), _text(browser, "#review-notice")

    # late uploads, overdue reviews and payments of every hospital; the reconciliation of the month run
    assert _open(browser, base, "#/deadlines?as_of=2024-06-30", "#deadlines-result") == "ready"
    deadlines = _api(base, key, "/v1/lifecycle/deadlines?as_of=2024-06-30").json()
    assert len(_rows(browser, "overdue-payments")) == len(deadlines["overdue_payments"]) > 0
    _shot(browser, "payer-deadlines")
    assert _open(browser, base, "#/reconciliation", "#reconciliation-result") == "ready"
    rows = _api(base, key, "/v1/lifecycle/reconciliation").json()["rows"]
    assert _column(browser, "recon-table", "已拨付") == [_money(r["paid_out"]) for r in rows]
    assert _column(browser, "recon-table", "应付") == [_money(r["due"]) for r in rows] and any("," in _money(r["due"]) for r in rows)
    # March of H001: every case returned (by hand, on review, in this walk) counted, none of them sent again yet
    march = next(r for r in _rows(browser, "recon-table") if r[:2] == ["H001", "2024-03"])
    headers = [th.text for th in _css(browser, "#recon-table thead th")]
    assert int(march[headers.index("退回 returned")]) == len(returned) >= 2
    _shot(browser, "payer-reconciliation")

    # the withdrawn appeal beside its decision: nothing to deduct
    assert _open(browser, base, "#/deductions", "#deductions-result") == "ready"
    decided = {r[0]: r for r in _rows(browser, "deduction-decisions")}
    assert decided[flag_id][4] == "撤销 withdrawn" and decided[flag_id][7] == "不扣款 none"
    _shot(browser, "payer-deductions")


def test_phone_width(server, browser):
    base, keys = server
    browser.set_window_size(390, 844)
    _sign_in(browser, base, keys["hospital"])
    for hash_, part in (("#/month?period=2024-03", "#month-result"), ("#/statements", "#statement-result"),
                        ("#/case?hospital=H001&id=H001-1-0002", "#page-body"), ("#/returned", "#returned-result"),
                        ("#/deadlines", "#deadlines-result"), ("#/reconciliation", "#reconciliation-result")):
        assert _open(browser, base, hash_, part) == "ready"
        # nothing wider than the screen: wide tables scroll inside their own box
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"), hash_
    assert _open(browser, base, "#/month?period=2024-03", "#month-result") == "ready"
    chart = _css(browser, "#drg-chart")[0]
    assert 300 <= chart.size["width"] <= 390
    _shot(browser, "hospital-month-phone")


def test_docs_and_redoc_load_from_the_service(server, browser):
    base, _ = server
    browser.get(base + "/docs")
    _wait(browser, lambda d: _css(d, ".swagger-ui .info .title"))
    assert "DRG 分组与支付服务" in _text(browser, ".swagger-ui .info .title")
    _shot(browser, "docs")
    browser.get(base + "/redoc")
    _wait(browser, lambda d: _css(d, ".api-info h1, .api-content h1"))
    assert "DRG 分组与支付服务" in _text(browser, ".api-content h1")
    _shot(browser, "redoc")


def test_bad_key_shows_error(server, browser):
    from selenium.webdriver.common.by import By

    base, _ = server
    browser.find_element(By.ID, "api-key").send_keys("drg_wrong_key")
    browser.find_element(By.ID, "sign-in-button").click()
    _wait(browser, lambda d: d.find_element(By.ID, "sign-in-error").text)
    assert browser.find_element(By.ID, "sign-in-error").text == "API 密钥无效 (invalid API key)"
