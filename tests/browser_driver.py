"""The browser tests' own steps on the page, beside the steps they share with the README's screenshot
(``integrations.mmseg.apis.demo_page.browser``): Chromium opened with a proxy, a downloads folder and the page's
network log; clicks on a support's pixels; the masks zip downloaded; the page's requests. Import it after checking
that Selenium is installed (``tests/test_demo_browser.py`` skips first)."""
from __future__ import annotations

import json
import os
import os.path as osp
import zipfile
from typing import Dict, List, Optional, Tuple

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from integrations.mmseg.apis.demo_page.browser import CHROMEDRIVER, chromium_options, open_page, wait_for


def open_browser(url: str, proxy: Optional[str] = None, downloads: Optional[str] = None,
                 size: Tuple[int, int] = (1400, 1700)) -> webdriver.Chrome:
    """Headless Chromium on the page (its network log kept; all but 127.0.0.1 through ``proxy`` when given)."""
    options = chromium_options(size, [f"--proxy-server={proxy}"] if proxy else [])
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # the page's network events
    if downloads:
        options.add_experimental_option("prefs", {"download.default_directory": downloads,
                                                  "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    if downloads:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    return open_page(driver, url)


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
