"""The README's picture of the page: tools/demo.py after a run on the generated data, in headless Chromium.

    python tools/analysis/demo_screenshot.py configs/crcnet_generated.py work_dirs/crcnet_generated/weights.pth \
        [--out docs/en/_static/demo_page.jpg] [--shots 2] [--queries 8] [--class-index 3] [--scale 3]

Renders scenes of one novel class of the config's generated test fold (its ``fold`` and ``data_seed``):
``--shots`` supports, each with its ``NAME_mask.png`` (the class's pixels), and ``--queries`` queries, at
``--scale`` times the config's image size. Starts the page on a free port of 127.0.0.1, adds the supports
with their mask files, uploads the queries, runs with the config's k-shot settings and saves the whole
page. Needs Chromium, its driver and Selenium (``pip install -e '.[test]'``; Debian: chromium chromium-driver).
"""
import argparse
import os
import os.path as osp
import tempfile

import cv2
import numpy as np
from mmengine.config import Config

from integrations.cli import run_tool
from integrations.mmseg.apis.demo_page.browser import (
    add_supports,
    open_browser,
    run,
    start_page,
    upload_queries,
    wait_for,
)
from integrations.mmseg.datasets.folds import fold_classes
from integrations.mmseg.datasets.generated_scenes import (
    CLASSES_PER_FOLD,
    NUM_CLASSES,
    NUM_FOLDS,
    class_appearance,
    render_scene,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def write_scenes(cfg: Config, folder: str, shots: int, queries: int, class_index: int, scale: int):
    """Support images with their masks and query images of one novel class; (supports, queries) paths."""
    dataset = cfg.test_dataloader.dataset
    _, novel = fold_classes(dataset.get("fold", 0), NUM_FOLDS, NUM_CLASSES, CLASSES_PER_FOLD)
    class_id, size = novel[class_index], dataset.get("image_size", 80) * scale
    name = class_appearance(class_id).name.replace(" ", "_")
    supports, photos = [], []
    for instance in range(shots + queries):
        image, label = render_scene(dataset.get("data_seed", 0), class_id, instance, True, size, novel)
        path = osp.join(folder, f"{name}_{instance + 1}.png")
        cv2.imwrite(path, image[..., ::-1])
        if instance < shots:
            cv2.imwrite(path.replace(".png", "_mask.png"), (label == class_id).astype("uint8") * 255)
            supports += [path, path.replace(".png", "_mask.png")]
        else:
            photos.append(path)
    return supports, photos


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("checkpoint")
    parser.add_argument("--out", default=osp.join(ROOT, "docs", "en", "_static", "demo_page.jpg"), help=".jpg or .png")
    parser.add_argument("--shots", type=int, default=2)
    parser.add_argument("--queries", type=int, default=8)
    parser.add_argument("--class-index", type=int, default=3, help="which of the fold's novel classes (fold 0: "
                                                                   "3 is the violet solid square)")
    parser.add_argument("--scale", type=int, default=3, help="scenes at this many times the config's image size")
    parser.add_argument("--width", type=int, default=1400, help="browser window width")
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    with tempfile.TemporaryDirectory() as folder:
        supports, queries = write_scenes(cfg, folder, args.shots, args.queries, args.class_index, args.scale)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
        server, url, _ = start_page(osp.join(ROOT, "tools", "demo.py"), [args.config, args.checkpoint], env)
        driver = open_browser(url, size=(args.width, 1600))
        try:
            add_supports(driver, supports, expect=f"{osp.basename(supports[-2])}: mask file")
            upload_queries(driver, queries, expect=f"{len(queries)} queries ready")
            run(driver, 1, len(queries))
            for _ in range(3):  # the window's view as tall as the page (its gallery's pictures load once in view)
                driver.set_window_size(args.width, driver.execute_script(
                    "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight"))
                wait_for(driver, lambda: driver.execute_script(
                    "return [...document.images].every(image => image.complete)"), "the pictures")
            os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
            picture = cv2.imdecode(np.frombuffer(driver.get_screenshot_as_png(), np.uint8), cv2.IMREAD_COLOR)
            cv2.imwrite(args.out, picture, [cv2.IMWRITE_JPEG_QUALITY, 88])  # .jpg: a tenth of the PNG's bytes
        finally:
            driver.quit()
            server.terminate()
            server.wait(60)
    print(f"page after a run of {args.shots} supports and {len(queries)} queries saved to {args.out}")


if __name__ == "__main__":
    run_tool(main)
