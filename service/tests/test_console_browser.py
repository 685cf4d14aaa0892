"""The operator console in a real headless browser (Debian's chromium and chromium-driver, driven
by selenium) against ``jpki-fast serve`` on loopback with a synthetic store.

Screenshots of every page in both languages go to ``test-artifacts/console/`` at the top of the
checkout (gitignored; ``JPKI_FAST_ARTIFACTS`` moves it). The browser's own network log (Chrome's
performance log) must show no request to anywhere but the server.

``make test`` installs the browser (``make browser``); without it these tests are skipped, saying
so loudly.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from .console_helpers import Served, copy_world, make_one_partition_stale, revoked_serial

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("JPKI_FAST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts") / "console"

try:
    from selenium import webdriver
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.wait import WebDriverWait
except ImportError:  # pragma: no cover - selenium is in the service's dev extra
    webdriver = None

_MISSING = None
if webdriver is None:
    _MISSING = "selenium is not installed (pip install -e 'service[dev]')"
elif not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
    _MISSING = "chromium / chromedriver not found: run `make browser` (apt-get install -y chromium chromium-driver fonts-noto-cjk)"
if _MISSING:
    warnings.warn(f"CONSOLE BROWSER TESTS SKIPPED: {_MISSING}", stacklevel=1)
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"CONSOLE BROWSER TESTS SKIPPED: {_MISSING}")


class Browser:
    """One Chrome for the module, collecting its network log across pages."""

    def __init__(self, base: str) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1440,900",
                    "--no-first-run", "--disable-extensions", "--disable-background-networking", "--disable-sync",
                    "--disable-component-update", "--disable-default-apps", "--lang=en-US"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
        self.driver.set_page_load_timeout(30)
        self.base = base
        self.requests: list[str] = []

    def get(self, path: str) -> None:
        self.driver.get(self.base + path)
        self.drain()

    def drain(self) -> None:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"]["url"])

    def click_and_load(self, element) -> None:
        """Clicks ELEMENT (a submit button or a link) and waits until the page it leads to has
        replaced this one and finished loading: a click returns before the navigation it starts."""
        # A mark on this page's window: the page the click leads to has a new window object
        # without it. (Waiting for an element to go stale is not enough: chromedriver answers
        # "node does not belong to the document", not "stale element", while the page changes.)
        self.driver.execute_script("window.__jpkiLeaving = true")
        element.click()
        def arrived(driver) -> bool:
            try:
                return driver.execute_script("return !window.__jpkiLeaving && document.readyState === 'complete'")
            except WebDriverException:  # asked while the old page unloads
                return False

        self.wait(arrived, timeout=30)
        self.drain()

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait(self, condition, timeout: float = 10):
        return WebDriverWait(self.driver, timeout).until(condition)

    def screenshot(self, name: str) -> Path:
        """A full-page PNG (the page's whole height, up to 6,000 pixels)."""
        height = min(6000, self.driver.execute_script("return document.documentElement.scrollHeight"))
        width = self.driver.execute_script("return document.documentElement.clientWidth")
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        })
        import base64

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def quit(self) -> None:
        self.driver.quit()


@pytest.fixture(scope="module")
def world(console_world, tmp_path_factory):
    return copy_world(console_world, tmp_path_factory.mktemp("console-browser"))


@pytest.fixture(scope="module")
def served(world):
    server = Served(world)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(served):
    b = Browser(served.url)
    yield b
    b.quit()


def _sign_in(browser: Browser, key: str) -> None:
    browser.get("/ui/login?lang=en")
    field = browser.find("#api_key")
    field.clear()
    field.send_keys(key)
    browser.click_and_load(browser.find("form[action='/ui/login'] button[type=submit]"))


def test_signing_in_with_an_unknown_key_fails_and_with_a_known_key_opens_the_overview(browser, world):
    browser.get("/ui")
    assert urlsplit(browser.driver.current_url).path == "/ui/login"  # no session: the login form
    assert browser.driver.switch_to.active_element.get_attribute("id") == "api_key"  # the key field has the focus
    _sign_in(browser, "jpkf_not-a-key")
    assert browser.find("[data-testid=login-error]").is_displayed()
    _sign_in(browser, world.keys["ops"])
    browser.wait(lambda d: urlsplit(d.current_url).path == "/ui")
    assert browser.find("[data-testid=key-id]").text == "ops"
    assert world.keys["ops"] not in browser.driver.current_url
    cookie = browser.driver.get_cookie("jpkf_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert world.keys["ops"] not in cookie["value"]
    browser.get("/ui")
    ActionChains(browser.driver).send_keys(Keys.TAB).perform()  # the keyboard's first stop: the link past the header
    assert browser.driver.switch_to.active_element.get_attribute("class") == "skip"
    ActionChains(browser.driver).send_keys(Keys.ENTER).perform()
    assert browser.driver.switch_to.active_element.get_attribute("id") == "main"


def test_the_overview_numbers_match_v1_snapshot(browser, served, world):
    browser.get("/ui?lang=en")
    snapshot = httpx.get(served.url + "/v1/snapshot", headers={"X-API-Key": world.keys["ops"]}).json()
    assert int(browser.find("[data-testid=generation]").text) == snapshot["generation"] == world.days
    assert browser.find("[data-testid=entries]").text == f"{snapshot['entries']:,}"
    fresh_and_kept = int(browser.find("[data-testid=fresh]").text.split()[-1].replace(",", "")) + int(
        browser.find("[data-testid=carried]").text.split()[-1].replace(",", ""))
    assert fresh_and_kept == snapshot["freshness"]["fresh"]
    assert int(browser.find("[data-testid=stale]").text.split()[-1]) == snapshot["freshness"]["stale"] == 0
    for issuer in snapshot["issuers"]:
        row = browser.find(f"tr[data-issuer='{issuer['alias']}'] [data-testid=issuer-entries]")
        assert row.text == f"{issuer['entries']:,}"
    assert browser.find("[data-testid=readiness]").text == "ready"
    assert browser.find("[data-testid=no-alerts]").is_displayed()
    browser.screenshot("overview-healthy-en")


def test_filtering_the_partitions_to_a_prefecture(browser, served, world):
    browser.get("/ui/partitions?lang=en")
    rows = browser.find_all("#partitions tbody tr[data-state]")
    listed = httpx.get(served.url + "/v1/partitions", headers={"X-API-Key": world.keys["ops"]}).json()["partitions"]
    assert len(rows) == len(listed)
    Select(browser.find("#prefecture")).select_by_value("Tokyo")  # the script filters at once
    visible = [r for r in rows if r.is_displayed()]
    tokyo = [p for p in listed if ", OU=Tokyo, CN=" in p["partition"]]
    assert tokyo and len(visible) == len(tokyo)
    assert {r.get_attribute("data-pref") for r in visible} == {"Tokyo"}
    assert browser.find("[data-testid=shown]").text == f"Showing {len(tokyo)} of {len(listed)} partitions."
    assert "prefecture=Tokyo" in browser.driver.current_url  # the filter is kept in the address
    browser.screenshot("partitions-tokyo-en")
    # Sorting by a column's header reorders the rows in the page.
    def header(css):  # every prefecture's table has the header row: the one in view
        return next(e for e in browser.find_all(css) if e.is_displayed())

    header("a[data-sort='entries']").click()
    header("a[data-sort='entries']").click()
    entries = [int(r.get_attribute("data-e")) for r in browser.find_all("#partitions tbody tr[data-state]") if r.is_displayed()]
    assert entries == sorted(entries, reverse=True)
    assert header("th[aria-sort]").text.startswith("Entries")


def test_a_partition_published_with_an_old_next_update_raises_the_stale_alert(browser, served, world):
    browser.get("/ui?lang=en&refresh=2")  # the page's script reloads its numbers every 2 s
    assert not browser.find_all("[data-alert=stale]")
    held = make_one_partition_stale(world)
    served.wait_for_generation(world.keys["ops"], held["generation"])
    alert = browser.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-alert=stale]"), timeout=15)[0]  # no reload
    assert "Updated" in browser.find("#refreshed").text
    browser.drain()
    municipality = held["name"].split("CN=")[1].removesuffix(" CRLDP")
    assert "1 partition is stale" in alert.text and municipality in alert.text
    assert browser.find("[data-testid=readiness]").text == "not ready"
    assert int(browser.find("[data-testid=stale]").text.split()[-1]) == 1
    browser.screenshot("overview-stale-en")
    browser.click_and_load(alert.find_element(By.LINK_TEXT, "Show stale partitions"))
    rows = [r for r in browser.find_all("#partitions tbody tr[data-state]") if r.is_displayed()]
    assert len(rows) == 1 and rows[0].get_attribute("data-state") == "stale"


def test_checking_a_revoked_serial_shows_its_reason(browser, world):
    serial, reason = revoked_serial(world, "auth_ca_2023")
    browser.get("/ui/check?lang=en")
    Select(browser.find("#issuer")).select_by_value("auth_ca_2023")
    browser.find("#serials").send_keys(f"{serial}\n05A00001\nnot-hex")
    browser.click_and_load(browser.find("#serials-form button[type=submit]"))
    row = browser.find("[data-testid=results] tbody tr[data-status=revoked]")
    assert row.find_element(By.CSS_SELECTOR, "th").text == serial
    assert reason in row.find_element(By.CSS_SELECTOR, "[data-testid=reason]").text
    statuses = [r.get_attribute("data-status") for r in browser.find_all("[data-testid=results] tbody tr")]
    assert statuses == ["revoked", "good", "malformed"]
    browser.screenshot("check-en")


def test_a_screenshot_of_every_page_in_both_languages(browser, world):
    serial, _ = revoked_serial(world, "auth_ca_2023")
    for lang in ("en", "ja"):
        for name, path in (("overview", "/ui"), ("partitions", "/ui/partitions"), ("changes", "/ui/changes"), ("audit", "/ui/audit")):
            browser.get(f"{path}?lang={lang}")
            assert browser.driver.execute_script("return document.documentElement.lang") == lang, browser.driver.page_source[:500]
            assert browser.find("h1").text
            browser.screenshot(f"{name}-{lang}")
        browser.get(f"/ui/check?lang={lang}")
        browser.find("#serials").send_keys(f"{serial}\n05A00001")
        browser.click_and_load(browser.find("#serials-form button[type=submit]"))
        browser.screenshot(f"check-{lang}")
    assert browser.find("h1").text == "照会"
    browser.click_and_load(browser.find("form.logout button"))
    for lang in ("en", "ja"):
        browser.get(f"/ui/login?lang={lang}")
        browser.screenshot(f"login-{lang}")
    assert len(list(ARTIFACTS.glob("*.png"))) >= 12


def test_no_request_from_any_page_leaves_the_server(browser, served):
    browser.drain()
    assert len(browser.requests) > 20
    origin = served.url + "/"
    outside = [u for u in browser.requests if not u.startswith((origin, "data:"))]  # data: URLs are inline, never fetched
    assert outside == []
    assert any(u.startswith(origin + "ui/static/console.css") for u in browser.requests)
