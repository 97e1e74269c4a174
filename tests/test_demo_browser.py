"""tools/demo.py in a real browser (issue 26): Chromium driven by Selenium against the page on 127.0.0.1.

One page server for the module (tiny generated-data CRCNet, random weights). Nothing leaves the machine:
Chromium and the page server go through local proxies that refuse every request not for 127.0.0.1; the
server's proxy must see none, and every request the page makes (Chrome's network log of the page) must be
for the page server. Where Chromium, its driver or Selenium is missing the tests skip saying so; with
``CRC_REQUIRE_BROWSER=1`` (CI) they fail instead.
"""
import os
import shutil
import signal
import socketserver
import threading
import time
import zipfile

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from integrations.mmseg.engine.checkpoint import export_weights
from integrations.mmseg.models.segmentor import FewShotSegmentor
from tests.test_demo import png_declaring

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "crcnet_generated.py")


def _missing() -> str:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if not (shutil.which("chromedriver") and any(map(shutil.which, ("chromium", "chromium-browser",
                                                                     "google-chrome")))):
        return "Chromium and its driver are not installed (Debian: apt-get install chromium chromium-driver)"
    return ""


if _missing():
    if os.environ.get("CRC_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CRC_REQUIRE_BROWSER=1 but {_missing()}", pytrace=False)
    pytest.skip(f"browser tests skipped: {_missing()}", allow_module_level=True)

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from integrations.mmseg.apis.demo_page.browser import (  # noqa: E402
    WAIT_S,
    add_supports,
    start_page,
    text,
    upload_queries,
    wait_for,
)
from integrations.mmseg.apis.demo_page.browser import run as run_page  # noqa: E402
from tests.browser_driver import click_pixel, download, open_browser, page_requests  # noqa: E402
from tests.tool_modules import load_tool  # noqa: E402

infer = load_tool("infer")
DEMO = os.path.join(ROOT, "tools", "demo.py")


class RefusingProxy(socketserver.ThreadingTCPServer):
    """An HTTP proxy on 127.0.0.1 that answers every request 403 and keeps its first line (what would have left)."""

    daemon_threads, allow_reuse_address = True, True

    def __init__(self):
        self.requests = []

        class Handler(socketserver.StreamRequestHandler):
            def handle(handler):
                line = handler.rfile.readline(2048).decode("latin-1").strip()
                if line:
                    self.requests.append(line)
                handler.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _scene(seed, shape=(60, 80)):
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 255, (*shape, 3), dtype=np.uint8), (5, 5), 0)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    torch.manual_seed(0)
    export_weights(FewShotSegmentor.build(Config.fromfile(CONFIG)), str(root / "weights.pth"))
    for folder in ("a", "b"):
        (root / folder).mkdir()
    for index, name in enumerate(["s1.jpg", "s2.jpg", "a/q1.jpg", "a/q2.png", "a/q3.jpg", "b/p1.jpg", "b/p2.jpg"]):
        cv2.imwrite(str(root / name), _scene(index))
    for name, (y0, y1, x0, x1) in (("s1_mask.png", (15, 45, 20, 60)), ("s2_mask.png", (5, 30, 5, 40))):
        mask = np.zeros((60, 80), np.uint8)
        mask[y0:y1, x0:x1] = 255
        cv2.imwrite(str(root / name), mask)
    return root


@pytest.fixture(scope="module")
def page(files, tmp_path_factory):
    """The page server (1 MiB per upload; its temporary folder under ``tmp``), its URL, the proxy its own outbound
    calls would reach (``proxy``) and the one Chromium's reach (``browser_proxy``)."""
    tmp = tmp_path_factory.mktemp("page_tmp")
    proxy, browser_proxy = RefusingProxy(), RefusingProxy()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TMPDIR": str(tmp),
           "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
           "HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url, "ALL_PROXY": proxy.url,
           "NO_PROXY": "127.0.0.1,localhost"}
    server, url, log = start_page(DEMO, [CONFIG, str(files / "weights.pth"), "--max-file-mb", "1"], env)
    yield dict(url=url, proxy=proxy, browser_proxy=browser_proxy, tmp=tmp, server=server, log=log)
    if server.poll() is None:
        server.kill()
    proxy.shutdown()
    browser_proxy.shutdown()


def _browser(page, downloads):
    return open_browser(page["url"], page["browser_proxy"].url, str(downloads))


@pytest.fixture
def browser(page, tmp_path):
    driver = _browser(page, tmp_path / "downloads")
    yield driver
    driver.quit()


def _infer(files, out, support, mark, queries):
    """tools/infer.py's masks for one support and the queries, by name."""
    assert infer.main(["--config", CONFIG, "--checkpoint", str(files / "weights.pth"), "--support", str(support),
                       mark, "--query", *map(str, queries), "--out", str(out)]) == 0
    return {name: (out / name).read_bytes() for name in os.listdir(out) if name.endswith("_mask.png")}


def _outside_requests(driver, page):
    """The page's requests (scripts, styles, fonts, images, calls) not for the page server; data: and blob: URLs
    never leave the browser."""
    urls = page_requests(driver)
    assert any(url.startswith(page["url"] + "/assets/") for url in urls)  # the log holds the page's own loads
    return [url for url in urls if not url.startswith((page["url"] + "/", "data:", "blob:"))]


def test_the_page_gives_tools_infers_masks_and_a_changed_support_runs_again_on_the_same_queries(
        page, browser, files, tmp_path):
    add_supports(browser, [files / "s1.jpg", files / "s1_mask.png"], expect="s1.jpg: mask file")
    queries = [files / "a" / name for name in ("q1.jpg", "q2.png", "q3.jpg")]
    upload_queries(browser, queries, expect="3 queries ready")
    captions = run_page(browser, 1, 3)
    assert [caption.split(" · ")[0] for caption in captions] == ["q1.jpg", "q2.png", "q3.jpg"]
    assert download(browser, str(tmp_path / "downloads")) == _infer(
        files, tmp_path / "infer", files / "s1.jpg", str(files / "s1_mask.png"), queries)
    # another support's mask, the same queries: no second upload
    browser.find_element(By.CSS_SELECTOR, "#clear-marks").click()
    wait_for(browser, lambda: "nothing marked yet" in text(browser, "#support-status"), "the marks to be cleared")
    add_supports(browser, [files / "s2.jpg", files / "s2_mask.png"], expect="s2.jpg: mask file")
    run_page(browser, 2, 3)
    assert "support s1.jpg has nothing marked: left out of this run" in text(browser, "#messages-run")
    assert download(browser, str(tmp_path / "downloads")) == _infer(
        files, tmp_path / "infer2", files / "s2.jpg", str(files / "s2_mask.png"), queries)
    assert _outside_requests(browser, page) == []


def test_a_box_marks_a_support_as_a_rectangle_without_sam2_and_painting_adds_to_it(page, browser, files, tmp_path):
    add_supports(browser, [files / "s1.jpg"], expect="s1.jpg: nothing marked yet")
    assert "a box becomes a filled rectangle" in text(browser, "#clicks-help")
    click_pixel(browser, 12, 8, factor=6)
    wait_for(browser, lambda: "first corner at (12, 8)" in text(browser, "#messages-supports"), "the first corner")
    click_pixel(browser, 49, 41, factor=6)
    wait_for(browser, lambda: "box (filled rectangle: no SAM2)" in text(browser, "#support-status"), "the box")
    queries = [files / "a" / name for name in ("q1.jpg", "q2.png", "q3.jpg")]
    upload_queries(browser, queries, expect="3 queries ready")
    run_page(browser, 1, 3)
    with pytest.warns(UserWarning, match="used as a filled rectangle"):
        expected = _infer(files, tmp_path / "infer", files / "s1.jpg", "12,8,50,42", queries)
    assert download(browser, str(tmp_path / "downloads")) == expected
    # painting over the box: the editor opens on the support with its mask, a stroke adds to it
    browser.find_element(By.CSS_SELECTOR, "#tab-paint-button").click()
    canvas = wait_for(browser, lambda: [canvas for canvas in browser.find_elements(
        By.CSS_SELECTOR, "#support-editor canvas") if canvas.is_displayed()], "the editor")[-1]
    time.sleep(1)  # the editor draws the support in its canvas
    ActionChains(browser).move_to_element_with_offset(canvas, -150, 100).click_and_hold().move_by_offset(
        60, 0).release().perform()
    wait_for(browser, lambda: "box (filled rectangle: no SAM2), painted over" in text(browser, "#support-status"),
             "the stroke to join the mask")


def test_two_sessions_at_once_see_their_own_results_and_their_folders_go_with_them(page, files, tmp_path):
    folder = next(page["tmp"].glob("crc-demo-*/sessions"))
    first, second = _browser(page, tmp_path / "a"), _browser(page, tmp_path / "b")
    try:
        add_supports(first, [files / "s1.jpg", files / "s1_mask.png"], expect="s1.jpg: mask file")
        add_supports(second, [files / "s2.jpg", files / "s2_mask.png"], expect="s2.jpg: mask file")
        upload_queries(first, [files / "a" / name for name in ("q1.jpg", "q2.png", "q3.jpg")], expect="3 queries")
        upload_queries(second, [files / "b" / "p1.jpg", files / "b" / "p2.jpg"], expect="2 queries ready")
        first.find_element(By.CSS_SELECTOR, "#run").click()  # both runs asked for at once; the page runs one
        assert [caption.split(" · ")[0] for caption in run_page(second, 1, 2)] == ["p1.jpg", "p2.jpg"]
        captions = run_page(first, 1, 3, click=False)
        assert [caption.split(" · ")[0] for caption in captions] == ["q1.jpg", "q2.png", "q3.jpg"]
        assert "s2.jpg" not in text(first, "#support-status") and "s1.jpg" not in text(second, "#support-status")
        assert set(download(second, str(tmp_path / "b"))) == {"p1_mask.png", "p2_mask.png"}
        assert set(download(first, str(tmp_path / "a"))) == {"q1_mask.png", "q2_mask.png", "q3_mask.png"}
        assert len(list(folder.iterdir())) >= 2
    finally:
        first.quit()
        second.quit()
    waited = time.monotonic()
    while list(folder.iterdir()) and time.monotonic() - waited < WAIT_S:  # closed tabs: their folders go
        time.sleep(0.5)
    assert list(folder.iterdir()) == []


def test_bad_files_are_named_in_the_page_and_the_good_queries_are_still_segmented(page, browser, files, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "notes.jpg").write_text("not an image")
    (bad / "empty.png").write_bytes(b"")
    (bad / "huge.png").write_bytes(png_declaring(12000, 9000))
    (bad / "big.jpg").write_bytes(os.urandom(1_200_000))  # above this server's 1 MiB per upload
    with zipfile.ZipFile(bad / "more.zip", "w") as archive:
        archive.write(files / "b" / "p1.jpg", "trip/p1.jpg")
        archive.writestr("trip/readme.txt", "not an image")
    add_supports(browser, [files / "s1.jpg", files / "s1_mask.png", bad / "notes.jpg", files / "s2.jpg"],
                 expect="s2.jpg: nothing marked yet")
    assert "notes.jpg is not an image the page can read" in text(browser, "#messages-supports")
    add_supports(browser, [bad / "big.jpg"], expect="s2.jpg")  # refused by Gradio before it reaches the page
    wait_for(browser, lambda: 'exceed the maximum allowed size of 1.0 Mb: "big.jpg"' in browser.find_element(
        By.TAG_NAME, "body").text, "the upload's refusal naming the file")
    upload_queries(browser, [files / "a" / "q1.jpg", bad / "empty.png", bad / "huge.png", bad / "more.zip"],
                   expect="2 queries ready")
    messages = text(browser, "#messages-queries")
    for expected in ("empty.png is an empty file (0 bytes)", "huge.png is 12000x9000 (108 megapixels), above the "
                     "page's 64 megapixels per image", "more.zip/trip/readme.txt is not an image (left out)"):
        assert expected in messages
    captions = run_page(browser, 1, 2)
    assert [caption.split(" · ")[0] for caption in captions] == ["q1.jpg", "more.zip/trip/p1.jpg"]
    assert "support s2.jpg has nothing marked: left out of this run" in text(browser, "#messages-run")


def test_stopping_the_page_removes_its_temporary_folder(page):
    roots = list(page["tmp"].glob("crc-demo-*"))
    assert len(roots) == 1 and (roots[0] / "sessions").is_dir()
    # no empty tmpXXXXXXXX per uploaded file, as Gradio's upload preprocessing leaves (the page's upload events take
    # their files unprocessed); no upload is in progress now
    assert [path.name for path in roots[0].glob("tmp*") if path.is_file()] == []
    page["server"].send_signal(signal.SIGTERM)
    page["server"].wait(WAIT_S)
    assert not roots[0].exists()
    assert page["proxy"].requests == []  # nor did the server call out, from start to stop
