"""A job's whole life in a real browser (headless Chromium through Selenium), through the HTML
pages' forms only: create, follow while it runs, open the result, delete (docs/uws.md,
Browsers). Screenshots of the list and of a job page go to build/screenshots/."""

from __future__ import annotations

import shutil
import urllib.parse
from collections.abc import Iterator

import pytest
import requests

from .conftest import ROOT, Server, running_server

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SHOTS = ROOT / "build" / "screenshots"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver (.ci/run)"
)


@pytest.fixture(scope="module")
def site() -> Iterator[Server]:
    with running_server() as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--window-size=1100,1300", "--disable-gpu"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def wait_for(browser, condition, seconds=20):
    """Until ``condition`` holds; a page reloading under it (the live follow) is no failure."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(browser, seconds, 0.2, ignored_exceptions=ignored).until(condition)


def by_css(browser, selector):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, selector)


def submit(browser, form_selector):
    by_css(browser, f"{form_selector} button").click()


def test_a_jobs_whole_life_through_the_forms(site, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.get(site.jobs)
    assert browser.title == "UWS jobs"
    form = "form[action$='/async'][method='post']"
    by_css(browser, f"{form} input[name='TEXT']").send_keys("hello, <b>browser</b>")
    by_css(browser, f"{form} input[name='DURATION']").send_keys("2")
    submit(browser, form)  # PHASE=RUN is ticked: the 303 lands on the running job's page
    wait_for(browser, lambda b: "/async/" in b.current_url)
    job = browser.current_url
    assert by_css(browser, "#phase").text in ("QUEUED", "EXECUTING")
    assert by_css(browser, "#following")
    # the page follows the job on its own (WAIT, then a reload) until it is done
    wait_for(browser, lambda b: by_css(b, "#phase").text == "COMPLETED", seconds=45)
    assert "hello, <b>browser</b>" in by_css(browser, "table").text  # escaped, shown as text
    browser.save_screenshot(str(SHOTS / "job.png"))
    # the result's link: a 303 to the file itself (a VOTable, which a browser saves rather
    # than shows, so its bytes are read here)
    href = by_css(browser, "a[href$='/results/result']").get_attribute("href")
    votable = requests.get(href, timeout=10)
    assert votable.history[0].status_code == 303
    assert "<VOTABLE" in votable.text and "hello, &lt;b&gt;browser" in votable.text
    browser.get(site.jobs)
    assert job.rsplit("/", 1)[1] in by_css(browser, "table").text
    browser.save_screenshot(str(SHOTS / "jobs.png"))
    assert all((SHOTS / name).stat().st_size > 10_000 for name in ("job.png", "jobs.png"))
    browser.get(job)
    submit(browser, "form[action$='" + urllib.parse.urlsplit(job).path + "']")  # Delete
    wait_for(browser, lambda b: b.current_url.rstrip("/").endswith("/async"))
    assert job.rsplit("/", 1)[1] not in browser.page_source
    assert requests.get(job, timeout=10).status_code == 404


def test_forms_change_a_pending_job_and_errors_are_pages(site, browser):
    browser.get(site.jobs)
    form = "form[action$='/async'][method='post']"
    by_css(browser, f"{form} input[name='PHASE']").click()  # untick "run at once"
    by_css(browser, f"{form} input[name='RUNID']").send_keys("browser-run")
    submit(browser, form)
    wait_for(browser, lambda b: "/async/" in b.current_url)
    job = browser.current_url
    assert by_css(browser, "#phase").text == "PENDING"
    params = f"form[action$='{urllib.parse.urlsplit(job).path}/parameters']"
    by_css(browser, f"{params} input[name='DURATION']").send_keys("soon")
    submit(browser, params)
    wait_for(browser, lambda b: "400" in b.title)
    assert "DURATION must be a number" in by_css(browser, "p.message").text
    browser.get(job)
    duration = f"form[action$='{urllib.parse.urlsplit(job).path}/executionduration']"
    field = by_css(browser, f"{duration} input")
    field.clear()
    field.send_keys("60")
    submit(browser, duration)
    wait_for(browser, lambda b: "60 s" in by_css(b, "dl").text)
    submit(browser, f"form[action$='{urllib.parse.urlsplit(job).path}/phase']")  # Run
    wait_for(browser, lambda b: by_css(b, "#phase").text == "COMPLETED", seconds=45)
    assert "browser-run" in by_css(browser, "dl").text


def test_another_site_cannot_drive_the_forms(site, browser):
    """A page elsewhere (here a data: URL, an opaque origin) posting to the service is refused,
    and creates nothing."""
    before = requests.get(site.jobs, timeout=10).text.count("<uws:jobref")
    page = (
        f"<form method=post action='{site.jobs}'><input name=PHASE value=RUN></form>"
        "<script>document.forms[0].submit()</script>"
    )
    browser.get("data:text/html," + urllib.parse.quote(page))
    wait_for(browser, lambda b: "403" in b.title)
    assert "another site" in by_css(browser, "p.message").text
    assert requests.get(site.jobs, timeout=10).text.count("<uws:jobref") == before


def test_the_pages_allow_nothing_from_elsewhere(site):
    page = requests.get(
        site.jobs, headers={"Accept": "text/html,application/xhtml+xml"}, timeout=10
    )
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "http" not in policy
    assert page.headers["Vary"] == "Accept"
    for client in ({}, {"Accept": "*/*"}, {"Accept": "application/xml"}):
        xml = requests.get(site.jobs, headers=client, timeout=10)
        assert xml.headers["Content-Type"].startswith("text/xml")
