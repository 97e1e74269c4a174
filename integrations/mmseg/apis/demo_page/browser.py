"""Driving the page in headless Chromium with Selenium: the documentation's screenshot of the page
(``tools/analysis/demo_screenshot.py``) and the browser tests use this. Selenium comes with the ``[test]`` extra.

``start_page`` runs ``tools/demo.py`` in a process of its own and waits for its address; ``open_browser``
opens it in headless Chromium (``chromium_options`` and ``open_page``, its two steps, for a browser set up
otherwise); the other functions do what a person does on the page (choose files, run) and wait for the page to
show the result. The browser tests' own steps (a proxy, downloads, clicks on a support's pixels, the page's
network log) are theirs: ``tests/browser_driver.py``.
"""
from __future__ import annotations

import os.path as osp
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import List, Optional, Sequence, Tuple

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
WAIT_S = 180  # generous: the machines that run the tests are shared
# Chromium's own calls home (time, updates, hints, safe browsing) turned down; what remains (its updater, sign-in)
# is not the page's: the browser tests read the page's requests from Chrome's network log of the page
QUIET_CHROMIUM = ("--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync",
                  "--disable-default-apps", "--disable-extensions", "--no-pings", "--disable-breakpad",
                  "--disable-client-side-phishing-detection", "--disable-domain-reliability",
                  "--safebrowsing-disable-auto-update", "--metrics-recording-only",
                  "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,OptimizationHintsFetching,"
                  "OptimizationGuideModelDownloading,MediaRouter,Translate,AutofillServerCommunication,"
                  "CertificateTransparencyComponentUpdater,SignInProfileCreation,DialMediaRouteProvider")
ADD_SUPPORTS = "//button[@id='add-supports']/preceding-sibling::input[@type='file']"
PAGE_TEXTS = ("#support-status", "#messages-supports", "#query-status", "#messages-queries", "#messages-run")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_page(demo: str, arguments: Sequence[str], env: Optional[dict] = None,
               timeout: float = WAIT_S) -> Tuple[subprocess.Popen, str, List[str]]:
    """``python DEMO ARGUMENTS --port P`` (``demo``: a checkout's ``tools/demo.py``, run from the checkout's root)
    in a new process: (process, its address, its output lines so far)."""
    port, demo = free_port(), osp.abspath(demo)
    process = subprocess.Popen([sys.executable, demo, *arguments, "--port", str(port)],
                               cwd=osp.dirname(osp.dirname(demo)), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: List[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    url, started = f"http://127.0.0.1:{port}", time.monotonic()
    while not any(url in line for line in lines):
        if process.poll() is not None or time.monotonic() - started > timeout:
            process.kill()
            raise RuntimeError("the page did not start:\n" + "".join(lines[-40:]))
        time.sleep(0.2)
    return process, url, lines


def chromium_options(size: Tuple[int, int] = (1400, 1700), arguments: Sequence[str] = ()) -> webdriver.ChromeOptions:
    """Headless Chromium's options: a ``size`` window, its calls home turned down, and ``arguments``."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={size[0]},{size[1]}",
                     "--hide-scrollbars", *QUIET_CHROMIUM, *arguments):
        options.add_argument(argument)
    return options


def open_page(driver: webdriver.Chrome, url: str) -> webdriver.Chrome:
    """``driver`` on the page at ``url``, once the page has loaded."""
    driver.get(url)
    wait_for(driver, lambda: driver.find_elements(By.XPATH, ADD_SUPPORTS), "the page to load")
    return driver


def open_browser(url: str, size: Tuple[int, int] = (1400, 1700)) -> webdriver.Chrome:
    """Headless Chromium on the page."""
    return open_page(webdriver.Chrome(service=Service(CHROMEDRIVER), options=chromium_options(size)), url)


def wait_for(driver, condition, what: str, timeout: float = WAIT_S):
    """``condition()``'s first true value; on time-out an error saying what was awaited and what the page says."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2, ignored_exceptions=(
            StaleElementReferenceException, NoSuchElementException)).until(lambda _: condition())
    except Exception as err:
        texts = {css: text(driver, css) for css in PAGE_TEXTS}
        raise AssertionError(f"waiting for {what}: {type(err).__name__}; the page says {texts}") from None


def text(driver, css: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def choose_files(field, paths: Sequence) -> None:
    """Choose ``paths`` in a file field, as a file dialog does (ChromeDriver adds to an earlier choice otherwise)."""
    field.parent.execute_script("arguments[0].value = ''", field)
    field.send_keys("\n".join(map(str, paths)))


def add_supports(driver, paths: Sequence, expect: str) -> None:
    choose_files(driver.find_element(By.XPATH, ADD_SUPPORTS), paths)
    wait_for(driver, lambda: expect in text(driver, "#support-status"), f"'{expect}' among the supports")


def upload_queries(driver, paths: Sequence, expect: str) -> None:
    choose_files(driver.find_element(By.CSS_SELECTOR, "#queries input[type=file]"), paths)
    wait_for(driver, lambda: expect in text(driver, "#query-status"), f"'{expect}' among the queries")


def run(driver, number: int, results: int, click: bool = True) -> List[str]:
    """Run (the session's run ``number``) and wait for it to end with ``results`` pictures in the gallery and the
    zip offered; the gallery's captions."""
    if click:
        driver.find_element(By.CSS_SELECTOR, "#run").click()
    wait_for(driver, lambda: f"Run {number}: {results} of" in text(driver, "#messages-run")
             and driver.find_element(By.CSS_SELECTOR, "#download").is_displayed()
             and len(driver.find_elements(By.CSS_SELECTOR, "#results img")) == results,
             f"run {number}'s {results} results")
    return [caption.text for caption in driver.find_elements(By.CSS_SELECTOR, "#results .caption-label")]
