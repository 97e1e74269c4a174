"""ISIC 2018 task 1 (the official training download) -> PATNet's layout: the images in one folder per diagnosis.

``python tools/dataset_converters/isic.py data/cdfss/ISIC class_id.csv [--copy] [--overwrite]``

Input, as the challenge's zips unpack into ``ISIC/``: ``ISIC2018_Task1-2_Training_Input/ISIC_<n>.jpg`` (2594
images) and ``ISIC2018_Task1_Training_GroundTruth/ISIC_<n>_segmentation.png``; and PATNet's
``data/isic/class_id.csv`` (``ID,Class`` rows: nevus, seborrheic_keratosis or melanoma; 1867 / 208 / 519).

Output: ``ISIC2018_Task1-2_Training_Input/{1,2,3}/ISIC_<n>.jpg``, the folders of PATNet's ``data/isic.py`` (1 nevus,
2 seborrheic keratosis, 3 melanoma: ``integrations/mmseg/datasets/isic.py``, whose reading this is), as hard links
to the images (a copy where the file system has no links, or with ``--copy``); the masks stay where they are.

Refusals (:mod:`integrations.conversion`): a csv that is not ``ID,Class`` rows or lists no image, an id that is not a
plain file name or is listed twice, a class PATNet does not name, an image or mask the csv lists that is missing, and
output that exists already (unless ``--overwrite``: then the earlier run's files this run does not write again are
removed, and it says so).
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
from collections import Counter
from typing import List, NamedTuple, Sequence

from integrations.cli import run_tool
from integrations.conversion import (
    ConversionError,
    describe_replaced,
    existing_outputs,
    remove_stale,
    require_plain_name,
    run_jobs,
    write_atomically,
    writing_output,
)
from integrations.mmseg.datasets.isic import IMAGE_FOLDER, ISIC_CLASSES, MASK_FOLDER
from integrations.text_files import read_text

SHOWN = 3


class LinkJob(NamedTuple):
    image: str
    out: str
    copy: bool


def read_classes(csv_path: str) -> List[tuple]:
    """(image id, class folder 1..3) per row of PATNet's ``class_id.csv``, in file order."""
    try:
        rows = list(csv.reader(read_text(csv_path, "class file").splitlines()))
    except (FileNotFoundError, ValueError) as err:
        raise ConversionError(str(err)) from err
    if not rows or [cell.strip() for cell in rows[0]] != ["ID", "Class"]:
        raise ConversionError(f"class file {csv_path} does not start with the header 'ID,Class' of PATNet's "
                              f"data/isic/class_id.csv (got {rows[0] if rows else 'an empty file'})")
    classes, first_line = [], {}
    for number, row in enumerate(rows[1:], 2):
        if not row:
            continue
        if len(row) != 2 or row[1].strip() not in ISIC_CLASSES:
            raise ConversionError(f"class file {csv_path} line {number}: expected 'ISIC_<n>,CLASS' with CLASS one of "
                                  f"{', '.join(ISIC_CLASSES)}, got {','.join(row)!r}")
        image_id = require_plain_name(row[0].strip(), f"class file {csv_path} line {number}")
        if image_id in first_line:  # it would land in two class folders
            line, label = first_line[image_id]
            raise ConversionError(f"class file {csv_path} lists {image_id} twice: line {line} ({label}) and line "
                                  f"{number} ({row[1].strip()}); keep one row per image")
        first_line[image_id] = (number, row[1].strip())
        classes.append((image_id, ISIC_CLASSES.index(row[1].strip()) + 1))
    if not classes:
        raise ConversionError(f"class file {csv_path} lists no image under its header 'ID,Class': use PATNet's "
                              f"data/isic/class_id.csv (2594 rows)")
    return classes


def link_one(job: LinkJob) -> str:
    def place(temporary: str) -> None:
        if not job.copy:
            try:
                os.link(job.image, temporary)
                return
            except OSError:  # another file system, or none with links: copy instead
                pass
        shutil.copyfile(job.image, temporary)

    write_atomically(job.out, place)
    return job.out


def convert(isic_root: str, csv_path: str, copy: bool = False, overwrite: bool = False, nproc: int = 1) -> dict:
    """Place every image the csv lists in its class folder; returns the summary (images per class folder)."""
    images, masks = os.path.join(isic_root, IMAGE_FOLDER), os.path.join(isic_root, MASK_FOLDER)
    classes = read_classes(csv_path)
    for folder, what, suffix in ((images, "image", ".jpg"), (masks, "mask", "_segmentation.png")):
        missing = [os.path.join(folder, f"{image_id}{suffix}") for image_id, _ in classes
                   if not os.path.isfile(os.path.join(folder, f"{image_id}{suffix}"))]
        if missing:
            raise ConversionError(f"{len(missing)} of the {len(classes)} {what}s {csv_path} lists are missing, first: "
                                  f"{', '.join(missing[:SHOWN])}")
    jobs = [LinkJob(os.path.join(images, f"{image_id}.jpg"), os.path.join(images, str(folder), f"{image_id}.jpg"), copy)
            for image_id, folder in classes]
    earlier = [os.path.join(images, str(k), name) for k in range(1, len(ISIC_CLASSES) + 1)
               if os.path.isdir(os.path.join(images, str(k)))
               for name in sorted(os.listdir(os.path.join(images, str(k)))) if not name.startswith(".")]
    replaced = existing_outputs(earlier, overwrite, "ISIC class folders")
    for k in range(1, len(ISIC_CLASSES) + 1):
        os.makedirs(os.path.join(images, str(k)), exist_ok=True)
    with writing_output(images, "tools/dataset_converters/isic.py"):
        written = run_jobs(link_one, jobs, nproc, "ISIC class folders", "image")
        removed = remove_stale(replaced, written)
    counts = Counter(folder for _, folder in classes)
    return dict(per_folder={k: counts[k] for k in range(1, len(ISIC_CLASSES) + 1)}, images=images,
                replaced=replaced, removed=removed)


def parse_args(argv: Sequence[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="ISIC 2018 task 1 training images -> PATNet's class folders ISIC2018_Task1-2_Training_Input/"
                    "{1,2,3} (1 nevus, 2 seborrheic keratosis, 3 melanoma) from PATNet's data/isic/class_id.csv, "
                    "as hard links (or copies).")
    parser.add_argument("isic_root", help="the folder holding ISIC2018_Task1-2_Training_Input/ and "
                                          "ISIC2018_Task1_Training_GroundTruth/, e.g. data/cdfss/ISIC")
    parser.add_argument("class_csv", help="PATNet's data/isic/class_id.csv")
    parser.add_argument("--copy", action="store_true", help="copy the images instead of hard-linking them")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the class folders of an earlier run (without it, existing output stops the run)")
    parser.add_argument("--nproc", type=int, default=1, help="worker processes (default: 1)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] = None) -> dict:
    args = parse_args(argv)
    summary = convert(args.isic_root, args.class_csv, args.copy, args.overwrite, max(1, args.nproc))
    if summary["replaced"]:
        print(describe_replaced(summary["replaced"], summary["removed"]))
    folders = ", ".join(f"{k} ({ISIC_CLASSES[k - 1]}): {n}" for k, n in summary["per_folder"].items())
    print(f"images per class folder in {summary['images']}: {folders}")
    return summary


if __name__ == "__main__":
    run_tool(main, always=(ConversionError,))
