"""End to end in headless Chromium (Debian's chromium + chromium-driver): a hospital signs in and the
month's figures on the page are the API's.  Skips, saying why, when Chromium is not installed."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import httpx
import pytest

from service_helpers import month_records, records_json, write_test_weights, POLICY

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from api.service.app import create_app
    from api.service.auth import create_key
    from api.service.settings import Settings

    tmp = tmp_path_factory.mktemp("browser")
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
    keys = {"payer": create_key(service.db, "payer")[1], "hospital": create_key(service.db, "hospital", "H001")[1]}
    base = f"http://127.0.0.1:{port}"
    for hospital, seed in (("H001", 1), ("H002", 2)):
        r = httpx.post(f"{base}/v1/batches?validate=true", json={"records": records_json(month_records(hospital, 40, seed))},
                       headers={"X-API-Key": keys["payer"]}, timeout=60)
        assert r.status_code == 200, r.text
    yield base, keys
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip("Chromium or chromedriver not installed (apt-get install chromium chromium-driver; .ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_hospital_month_page_matches_api(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    base, keys = server
    browser.get(base + "/")
    wait = WebDriverWait(browser, 20)
    browser.find_element(By.ID, "api-key").send_keys(keys["hospital"])
    browser.find_element(By.ID, "sign-in-button").click()
    wait.until(EC.visibility_of_element_located((By.ID, "month-panel")))
    assert browser.find_element(By.ID, "hospital").get_attribute("value") == "H001"
    browser.execute_script("document.getElementById('period').value = '2024-03'")
    browser.find_element(By.ID, "show").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "H001/2024-03")

    summary = httpx.get(f"{base}/v1/hospitals/H001/summary?period=2024-03", headers={"X-API-Key": keys["hospital"]}).json()
    assert browser.find_element(By.ID, "m-cases").text == str(summary["n_cases"]) == "40"
    assert browser.find_element(By.ID, "m-cmi").text == f"{summary['cmi']:.4f}"
    assert browser.find_element(By.ID, "m-cost").text == summary["total_cost"]
    assert browser.find_element(By.ID, "m-payment").text == summary["payment"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#drg-table tbody tr")
    shown = [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]
    assert shown == [[d["drg"], d["drg_name"], str(d["n_cases"]), d["rw"] or "–", d["total_cost"], d["payment"] or "–"]
                     for d in summary["drgs"]]
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart rect[data-kind='payment']")
    assert len(bars) == len(summary["drgs"])
    findings = browser.find_elements(By.CSS_SELECTOR, "#findings-table tbody tr")
    assert len(findings) == len(summary["top_rules"]) > 0
    # the page cannot show another hospital: the field is fixed to the key's hospital, and the API says 404
    assert browser.find_element(By.ID, "hospital").get_attribute("readonly") == "true"
    other = browser.execute_async_script(
        "const done = arguments[0]; fetch('/v1/hospitals/H002/summary?period=2024-03', {headers: "
        "{Authorization: 'Bearer ' + sessionStorage.getItem('drg-token')}}).then(r => done(r.status));")
    assert other == 404


def test_bad_key_shows_error(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, _ = server
    browser.get(base + "/")
    browser.execute_script("sessionStorage.clear()")
    browser.get(base + "/")
    browser.find_element(By.ID, "api-key").send_keys("drg_wrong_key")
    browser.find_element(By.ID, "sign-in-button").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "sign-in-error").text)
    assert browser.find_element(By.ID, "sign-in-error").text == "API 密钥无效 (invalid API key)"
