"""Segment your own images from a few annotated examples.

    python tools/infer.py --config configs/crcnet_generated.py --checkpoint work_dirs/crcnet_generated/weights.pth \
        --support cat1.jpg cat1.png --support cat2.jpg 10,20,200,180 --query photos/ --out masks/

Writes ``<name>_mask.png`` (0 / 255) and ``<name>_overlay.png`` per query. A query that cannot be read is
reported and skipped; what was written stays, and the exit status is 1 when any query failed.
"""
import argparse
import glob
import os
import os.path as osp
import sys

import cv2
import numpy as np
from tqdm import tqdm

from integrations.mmseg.predictor import FewShotPredictor, load_image
from integrations.mmseg.visualization import PREDICTION_COLOUR, overlay

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def expand_queries(patterns):
    """Files, folders (their images, sorted) and globs -> a list of image paths."""
    paths = []
    for pattern in patterns:
        if osp.isdir(pattern):
            paths += sorted(osp.join(pattern, f) for f in os.listdir(pattern) if f.lower().endswith(IMAGE_EXTENSIONS))
        elif any(c in pattern for c in "*?["):
            paths += sorted(glob.glob(pattern))
        else:
            paths.append(pattern)
    if not paths:
        raise FileNotFoundError(f"no query image found in {patterns}")
    return paths


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Few-shot segmentation of your own images")
    parser.add_argument("--config", required=True)
    parser.add_argument("--checkpoint", required=True, help="weights.pth written by tools/train.py")
    parser.add_argument("--support", nargs=2, action="append", metavar=("IMAGE", "MASK"), required=True,
                        help="an annotated example: its image and a mask image (nonzero = object) or a box x0,y0,x1,y1")
    parser.add_argument("--query", nargs="+", required=True, help="query images: files, folders or globs")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--kshot-mode", choices=("fusion", "finetune", "both"), help="k-shot inference (Table 4)")
    parser.add_argument("--size", type=int, help="longer side the images are resized to (default: the config's)")
    parser.add_argument("--device", default="cpu")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    predictor = FewShotPredictor.from_config(args.config, args.checkpoint, device=args.device,
                                             kshot_mode=args.kshot_mode, size=args.size)
    predictor.set_supports([tuple(pair) for pair in args.support])
    queries = expand_queries(args.query)
    os.makedirs(args.out, exist_ok=True)
    failures = []
    for path in tqdm(queries, desc="segmenting", unit="image"):
        try:
            result = predictor.predict(path)
            image, _ = load_image(path)
        except (OSError, ValueError) as err:
            failures.append(f"{path}: {err}")
            tqdm.write(f"skipped {path}: {err}", file=sys.stderr)
            continue
        stem = osp.splitext(osp.basename(path))[0]
        cv2.imwrite(osp.join(args.out, f"{stem}_mask.png"), (result.mask * 255).astype(np.uint8))
        cv2.imwrite(osp.join(args.out, f"{stem}_overlay.png"), overlay(image, result.mask, PREDICTION_COLOUR))
    print(f"{len(queries) - len(failures)} of {len(queries)} queries segmented into {args.out}")
    if failures:
        print("failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
