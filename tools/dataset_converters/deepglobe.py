"""Deepglobe land cover (the official download) -> PATNet's tiled, per-class layout of the cross-domain benchmark.

``python tools/dataset_converters/deepglobe.py DEEPGLOBE_DOWNLOAD data/cdfss [--nproc 4] [--overwrite]``

Input: the labelled training set as the challenge (land-train/) and its Kaggle mirror (train/) unpack it:
``<id>_sat.jpg`` (2448 x 2448 RGB) with ``<id>_mask.png``, whose colours are the classes (urban 0,255,255;
agriculture 255,255,0; rangeland 255,0,255; forest 0,255,0; water 0,0,255; barren 255,255,255; unknown 0,0,0).

The steps of PATNet's ``data/preprocess.py``, for each image and its mask:
  1. cut both into 6 x 6 tiles (rows ``int(i * H / 6)`` to ``int((i + 1) * H / 6)``, columns alike; 408 x 408),
     tile (i, j) named ``<id>_sat_<i><j>``; image tiles re-encoded as OpenCV's JPEG (quality 95) as PATNet's are;
  2. keep a tile when its mask has more than one colour and every colour covers more than 4.8% of it
     (PATNet: ``getcolors()``, each count over 166464 = 408 x 408);
  3. for each class k = 1..6 the kept tile holds, write its binary mask (255 where the mask's pixel is exactly
     PATNet's ``labelset[k - 1]``) to ``Deepglobe/k/test/groundtruth/<id>_sat_<i><j>.png`` and the image tile to
     ``Deepglobe/k/test/origin/<id>_sat_<i><j>.jpg`` (the name PATNet's data/deepglobe.py derives the mask from).
Reading: PATNet compares its labelset's triplets with OpenCV's BGR pixels, so folder 1 holds agriculture
(BGR 0,255,255), 2 urban, 3 rangeland, 4 forest, 5 water (BGR 255,0,0), 6 barren: the classes of
``integrations/mmseg/datasets/deepglobe.py``. Colours are compared exactly, as PATNet does (Deepglobe's
readme suggests thresholding at 128; a tile with off-palette pixels fails step 2's 4.8% rule unless they are many).

Refusals (:mod:`integrations.conversion`): a missing folder, an image without its mask or a mask without its image
(suffixes in any case), a folder with no image, a mask of another size, an unreadable file, and output that exists
already (unless ``--overwrite``: then the earlier run's files this run does not write again are removed once it is done,
and it says what it replaced); every file is written atomically.
"""
from __future__ import annotations

import argparse
import os
from collections import Counter
from typing import Dict, List, NamedTuple, Sequence, Tuple

import cv2
import numpy as np

from integrations.cli import run_tool
from integrations.conversion import (
    ConversionError,
    describe_replaced,
    existing_outputs,
    remove_stale,
    run_jobs,
    write_atomically,
    writing_output,
)

GRID = 6  # tiles per side
MIN_COLOUR_SHARE = 0.048  # step 2: every colour of a kept tile covers more than this share of it
# PATNet's labelset, compared with OpenCV's BGR pixels: folder k holds labelset[k - 1]
PATNET_LABELSET_BGR = ((0, 255, 255), (255, 255, 0), (255, 0, 255), (0, 255, 0), (255, 0, 0), (255, 255, 255))
IMAGE_SUFFIX, MASK_SUFFIX = "_sat.jpg", "_mask.png"


class TileJob(NamedTuple):
    image_path: str
    mask_path: str
    out_root: str  # .../Deepglobe


def find_images(download: str) -> str:
    """The folder of the ``<id>_sat.jpg`` + ``<id>_mask.png`` pairs: ``train/`` (Kaggle), ``land-train/`` or itself."""
    for candidate in (os.path.join(download, "train"), os.path.join(download, "land-train"), download):
        if os.path.isdir(candidate) and any(name.lower().endswith(MASK_SUFFIX) for name in os.listdir(candidate)):
            return candidate
    raise ConversionError(f"no <id>{MASK_SUFFIX} under {download} (nor in its train/ or land-train/): give the folder "
                          f"of Deepglobe's labelled training images")


def plan(download: str, out_root: str) -> List[TileJob]:
    """One job per labelled image, in name order; every image must have its mask and every mask its image (the
    suffixes in any case: ``_sat.JPG`` too).

    Raises:
        ConversionError: an image without its mask, a mask without its image, or no image at all; the message names
            the first file and the folder.
    """
    folder = find_images(download)
    names = sorted(os.listdir(folder))
    stems = {kind: {name[:-len(suffix)].lower(): name for name in names if name.lower().endswith(suffix)}
             for kind, suffix in (("image", IMAGE_SUFFIX), ("mask", MASK_SUFFIX))}
    for kind, other, suffix in (("image", "mask", MASK_SUFFIX), ("mask", "image", IMAGE_SUFFIX)):
        unmatched = sorted(name for stem, name in stems[kind].items() if stem not in stems[other])
        if unmatched:
            raise ConversionError(f"{len(unmatched)} {kind}s in {folder} have no {suffix}, first: "
                                  f"{os.path.join(folder, unmatched[0])}")
    if not stems["image"]:
        raise ConversionError(f"no <id>{IMAGE_SUFFIX} image in {folder}: give Deepglobe's labelled training images")
    return [TileJob(os.path.join(folder, image), os.path.join(folder, stems["mask"][stem]),
                    os.path.join(out_root, "Deepglobe")) for stem, image in sorted(stems["image"].items())]


def tile_bounds(size: int) -> List[Tuple[int, int]]:
    """PATNet's cuts of one side: ``(int(i * size / 6), int((i + 1) * size / 6))``."""
    return [(int(i * size / GRID), int((i + 1) * size / GRID)) for i in range(GRID)]


def keeps_tile(mask_tile: np.ndarray) -> bool:
    """Step 2: more than one colour, and every colour on more than 4.8% of the tile."""
    _, counts = np.unique(mask_tile.reshape(-1, 3), axis=0, return_counts=True)
    return len(counts) > 1 and counts.min() / counts.sum() > MIN_COLOUR_SHARE


def class_masks(mask_tile: np.ndarray) -> Dict[int, np.ndarray]:
    """Step 3: folder k -> binary mask (0 / 255) of the pixels equal to ``PATNET_LABELSET_BGR[k - 1]``, if any."""
    masks = {}
    for folder, colour in enumerate(PATNET_LABELSET_BGR, 1):
        hit = np.all(mask_tile == np.array(colour, np.uint8), axis=-1)
        if hit.any():
            masks[folder] = hit.astype(np.uint8) * 255
    return masks


def tile_paths(deepglobe_root: str, tile: str, folder: int) -> Tuple[str, str]:
    """(image, mask) paths of a tile in class folder ``folder``."""
    base = os.path.join(deepglobe_root, str(folder), "test")
    return os.path.join(base, "origin", f"{tile}.jpg"), os.path.join(base, "groundtruth", f"{tile}.png")


def read(path: str, what: str, flags: int) -> np.ndarray:
    picture = cv2.imread(path, flags)
    if picture is None:
        raise ConversionError(f"cannot read the {what} {path}: not an image OpenCV decodes")
    return picture


def tile_one(job: TileJob) -> Tuple[int, Dict[int, List[str]]]:
    """Tiles of one image: (tiles cut, {folder: tile names written there})."""
    image = read(job.image_path, "image", cv2.IMREAD_COLOR)
    mask = read(job.mask_path, "mask", cv2.IMREAD_COLOR)  # BGR, as PATNet reads it
    if mask.shape[:2] != image.shape[:2]:
        raise ConversionError(f"mask {job.mask_path} is {mask.shape[1]}x{mask.shape[0]} but its image "
                              f"{job.image_path} is {image.shape[1]}x{image.shape[0]}")
    stem = os.path.basename(job.image_path)[:-len(".jpg")]
    written: Dict[int, List[str]] = {}
    for i, (top, bottom) in enumerate(tile_bounds(image.shape[0])):
        for j, (left, right) in enumerate(tile_bounds(image.shape[1])):
            mask_tile = mask[top:bottom, left:right]
            if not keeps_tile(mask_tile):
                continue
            tile = f"{stem}_{i}{j}"
            encoded = cv2.imencode(".jpg", image[top:bottom, left:right])[1].tobytes()
            for folder, binary in class_masks(mask_tile).items():
                image_out, mask_out = tile_paths(job.out_root, tile, folder)
                write_atomically(image_out, lambda path, data=encoded: _write_bytes(path, data))
                write_atomically(mask_out, lambda path, data=binary: _write_png(path, data))
                written.setdefault(folder, []).append(tile)
    return GRID * GRID, written


def _write_bytes(path: str, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)


def _write_png(path: str, picture: np.ndarray) -> None:
    if not cv2.imwrite(path, picture):
        raise ConversionError(f"could not write {path}")


def existing_tiles(out_root: str) -> List[str]:
    """Files already in the class folders (``Deepglobe/<k>/test/{origin,groundtruth}``) of an earlier run."""
    found = []
    for folder in range(1, len(PATNET_LABELSET_BGR) + 1):
        for kind in ("origin", "groundtruth"):
            path = os.path.join(out_root, "Deepglobe", str(folder), "test", kind)
            if os.path.isdir(path):
                found += sorted(os.path.join(path, name) for name in os.listdir(path) if not name.startswith("."))
    return found


def convert(download: str, out_root: str, nproc: int = 1, overwrite: bool = False) -> dict:
    """Tile, filter and sort by class; returns the summary (images, tiles cut and kept, tiles per class folder)."""
    jobs = plan(download, out_root)
    replaced = existing_outputs(existing_tiles(out_root), overwrite, "Deepglobe class folders")
    for folder in range(1, len(PATNET_LABELSET_BGR) + 1):
        for kind in ("origin", "groundtruth"):
            os.makedirs(os.path.join(out_root, "Deepglobe", str(folder), "test", kind), exist_ok=True)
    with writing_output(os.path.join(out_root, "Deepglobe"), "tools/dataset_converters/deepglobe.py"):
        done = run_jobs(tile_one, jobs, nproc, "Deepglobe tiles", "image")
        per_folder, kept, written_paths = Counter(), set(), set()
        for _, written in done:
            for folder, tiles in written.items():
                per_folder[folder] += len(tiles)
                kept.update(tiles)
                for tile in tiles:
                    written_paths.update(tile_paths(os.path.join(out_root, "Deepglobe"), tile, folder))
        stale = remove_stale(replaced, written_paths)
    return dict(images=len(jobs), tiles=sum(cut for cut, _ in done), kept=len(kept),
                per_folder={folder: per_folder[folder] for folder in range(1, len(PATNET_LABELSET_BGR) + 1)},
                out=os.path.join(out_root, "Deepglobe"), replaced=replaced, removed=stale)


def parse_args(argv: Sequence[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Deepglobe land cover (<id>_sat.jpg + <id>_mask.png) -> PATNet's layout Deepglobe/{1..6}/test/"
                    "{origin,groundtruth}: 6 x 6 tiles of 408 x 408, kept when their mask has more than one colour "
                    "and every colour covers more than 4.8%%, one folder per class (1 agriculture, 2 urban, "
                    "3 rangeland, 4 forest, 5 water, 6 barren), as PATNet's data/preprocess.py.")
    parser.add_argument("download", help="the unpacked download: the folder holding train/ (Kaggle) or land-train/, "
                                         "or that folder itself")
    parser.add_argument("out_root", help="PATNet's --datapath, e.g. data/cdfss (Deepglobe/ is written in it)")
    parser.add_argument("--nproc", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the tiles of an earlier run (without it, existing output stops the run)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] = None) -> dict:
    args = parse_args(argv)
    summary = convert(args.download, args.out_root, max(1, args.nproc), args.overwrite)
    if summary["replaced"]:
        print(describe_replaced(summary["replaced"], summary["removed"]))
    folders = ", ".join(f"{folder}: {count}" for folder, count in summary["per_folder"].items())
    print(f"{summary['images']} images -> {summary['tiles']} tiles, {summary['kept']} kept (more than one colour, each "
          f"on more than 4.8%) -> {summary['out']}\ntiles per class folder: {folders}")
    return summary


if __name__ == "__main__":
    run_tool(main, always=(ConversionError,))
