"""Driving the page in Chromium with Selenium: the browser tests and the README's screenshot use this.

``start_page`` runs ``tools/demo.py`` in a process of its own and waits for its address; ``open_browser``
opens it in headless Chromium; the other functions do what a person does on the page (choose files, click a
support's pixel, run, download the zip) and wait for the page to show the result.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from typing import Dict, List, Optional, Sequence, Tuple

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

TOOLS = osp.dirname(osp.dirname(osp.abspath(__file__)))
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
WAIT_S = 180  # generous: the machines that run the tests are shared
# Chromium's own calls home (time, updates, hints, safe browsing) turned down; what remains (its updater, sign-in)
# is not the page's: the page's requests are read from Chrome's network log of the page (page_requests)
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


def start_page(arguments: Sequence[str], env: Optional[dict] = None,
               timeout: float = WAIT_S) -> Tuple[subprocess.Popen, str, List[str]]:
    """``tools/demo.py ARGUMENTS --port P`` in a new process: (process, its address, its output lines so far)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, osp.join(TOOLS, "demo.py"), *arguments, "--port", str(port)],
                               cwd=osp.dirname(TOOLS), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    lines: List[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    url, started = f"http://127.0.0.1:{port}", time.monotonic()
    while not any(url in line for line in lines):
        if process.poll() is not None or time.monotonic() - started > timeout:
            process.kill()
            raise RuntimeError("the page did not start:\n" + "".join(lines[-40:]))
        time.sleep(0.2)
    return process, url, lines


def open_browser(url: str, proxy: Optional[str] = None, downloads: Optional[str] = None,
                 size: Tuple[int, int] = (1400, 1700)) -> webdriver.Chrome:
    """Headless Chromium on the page (its network log kept; all but 127.0.0.1 through ``proxy`` when given)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={size[0]},{size[1]}",
                     "--hide-scrollbars", *QUIET_CHROMIUM, *([f"--proxy-server={proxy}"] if proxy else [])):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # the page's network events
    if downloads:
        options.add_experimental_option("prefs", {"download.default_directory": downloads,
                                                  "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    if downloads:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    driver.get(url)
    wait_for(driver, lambda: driver.find_elements(By.XPATH, ADD_SUPPORTS), "the page to load")
    return driver


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


def download(driver, folder: str) -> Dict[str, bytes]:
    """Click the zip's button (the browser saves it in ``folder``); the masks it holds, by name."""
    for name in os.listdir(folder) if osp.isdir(folder) else []:
        os.remove(osp.join(folder, name))
    driver.find_element(By.CSS_SELECTOR, "#download").click()
    done = wait_for(driver, lambda: [name for name in os.listdir(folder) if name.endswith(".zip")]
                    if osp.isdir(folder) and not any(name.endswith(".crdownload") for name in os.listdir(folder))
                    else None, "the zip to download")
    with zipfile.ZipFile(osp.join(folder, done[0])) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def click_pixel(driver, x: int, y: int, factor: int) -> None:
    """Click image pixel (x, y) of the support shown for clicks (its preview is enlarged ``factor`` times)."""
    picture = driver.find_element(By.CSS_SELECTOR, "#support-clicks img")
    wait_for(driver, lambda: driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0",
                                                   picture), "the support's picture")
    natural_w, natural_h = driver.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]",
                                                 picture)
    width, height = picture.size["width"], picture.size["height"]
    shown = min(width / natural_w, height / natural_h, 1)  # Gradio's own mapping of a click to a pixel
    at_x = (width - natural_w * shown) / 2 + (x * factor + factor / 2) * shown
    at_y = (height - natural_h * shown) / 2 + (y * factor + factor / 2) * shown
    ActionChains(driver).move_to_element_with_offset(picture, round(at_x - width / 2),
                                                     round(at_y - height / 2)).click().perform()


def page_requests(driver) -> List[str]:
    """The URLs the page has requested since the last call (Chrome's network log of the page)."""
    events = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    return [event["params"]["request"]["url"] for event in events if event["method"] == "Network.requestWillBeSent"]
