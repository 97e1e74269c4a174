"""GF-SAM's point masks read at SAM's resolution (``mask_resolution='low'``) against the full-size path ('full',
GF-SAM's code), on the same model, photos and supports: pixel agreement of the answers and seconds per query.

    python -m integrations.gfsam.low_res_check [configs/gfsam_small_pascal_fold0.py] [--episodes 5] [--precision bf16]

The model has random weights from a fixed seed, DINOv2's LayerScales re-drawn so that every block counts (random
weights place the most points, 128); the photos are those matplotlib ships, at 1024x1024, each support marked by an
ellipse on it.
"""
from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.utils import import_modules_from_strings

from crc_modules.precision import PRECISIONS
from integrations.cli import run_tool
from integrations.foundation.sample_photos import sample_photos
from integrations.mmseg.models.segmentor import FewShotSegmentor

SIDE = 1024


def photos() -> list:
    images = sample_photos(SIDE)
    return images + [image[:, ::-1] for image in images]


def ellipse(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros((SIDE, SIDE), np.uint8)
    centre = tuple(int(v) for v in rng.integers(SIDE // 3, 2 * SIDE // 3, 2))
    axes = tuple(int(v) for v in rng.integers(SIDE // 8, SIDE // 4, 2))
    return cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, -1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="configs/gfsam_small_pascal_fold0.py")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32")
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    import_modules_from_strings(**cfg.get("custom_imports", dict(imports=[])))
    torch.manual_seed(0)
    segmentor = FewShotSegmentor.build(cfg, precision=args.precision).eval()
    with torch.no_grad():
        for name, parameter in segmentor.model.dinov2.named_parameters():
            if name.endswith(".gamma"):  # LayerScale: 1e-5 at initialisation would silence every block
                parameter.uniform_(0.5, 1.5)
    images = photos()
    agreement, seconds = [], {"full": 0.0, "low": 0.0}
    print(f"{args.config}, {args.precision}, {torch.get_num_threads()} threads")
    print("| episode | pixels agreeing | full (s) | low (s) |")
    print("| --- | --- | --- | --- |")
    for episode in range(args.episodes):
        support, query = images[episode % len(images)], images[(episode + 1) % len(images)]
        tensor = segmentor.data_preprocessor.normalize
        support_image = tensor(torch.from_numpy(np.ascontiguousarray(support[..., ::-1].transpose(2, 0, 1))))[None]
        query_image = tensor(torch.from_numpy(np.ascontiguousarray(query[..., ::-1].transpose(2, 0, 1))))[None]
        labels = torch.from_numpy(ellipse(episode)).long()[None]
        masks, times = {}, {}
        for resolution in ("full", "low"):
            segmentor.model.mask_resolution = resolution
            with torch.no_grad():
                support_set = segmentor.prepare_supports(support_image, labels)
                start = time.perf_counter()
                masks[resolution] = support_set.predict(query_image)[0, 0] > 0.5
                times[resolution] = time.perf_counter() - start
            seconds[resolution] += times[resolution]
        agreement.append(float((masks["full"] == masks["low"]).float().mean()))
        print(f"| {episode} | {100 * agreement[-1]:.4f}% | {times['full']:.2f} | {times['low']:.2f} |", flush=True)
    print(f"mean agreement {100 * np.mean(agreement):.4f}% (lowest {100 * min(agreement):.4f}%); seconds per query: "
          f"full {seconds['full'] / args.episodes:.2f}, low {seconds['low'] / args.episodes:.2f}")


if __name__ == "__main__":
    run_tool(main)
