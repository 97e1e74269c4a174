"""PASCAL VOC 2012 + SBD -> ``SegmentationClassAug`` class-index PNGs and PFENet-format lists.

``python tools/dataset_converters/voc_aug.py data/VOCdevkit data/benchmark_RELEASE [--nproc 4] [--prefer sbd]
[--overwrite]``

Inputs, as the official archives unpack:
  - VOC: ``VOCdevkit/VOC2012/{JPEGImages, SegmentationClass, ImageSets/Segmentation/{train,val}.txt}``
    (VOCtrainval_11-May-2012.tar); ``SegmentationClass/*.png`` are palette PNGs whose index is the class
    (0 background, 1..20, 255 the boundary band).
  - SBD: ``benchmark_RELEASE/dataset/{cls/*.mat, train.txt, val.txt}`` (benchmark.tgz); ``cls/x.mat`` is a
    MATLAB v5 file holding the struct ``GTcls`` whose field ``Segmentation`` is the class-index label
    (0 background, 1..20; SBD has no boundary band).

Outputs:
  - ``VOC2012/SegmentationClassAug/x.png``: grey uint8 PNGs, 0 background, 1..20 the classes, 255 where
    VOC's own label marks its boundary band.
  - ``LIST_DIR/train_aug.txt`` = VOC train + SBD train + SBD val, minus VOC val, no duplicates;
    ``LIST_DIR/val.txt`` = VOC val; lines ``JPEGImages/x.jpg SegmentationClassAug/x.png`` (PFENet's format).

Precedence: an image VOC labels (a ``SegmentationClass`` PNG exists) gets VOC's label, every other image
SBD's; ``--prefer sbd`` gives SBD's label wherever SBD has one. The usual archive holds 10582 train-aug +
1449 val = 12031 labels.

Refusals (:mod:`integrations.conversion`): an id that is not one plain file name (``../x``, an absolute path), output
that exists already (unless ``--overwrite``, which then says what it replaced); every file is written atomically. Id
lists are read whatever their byte-order mark (``integrations/text_files.py``).
"""
from __future__ import annotations

import argparse
import os
from collections import Counter
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from integrations.cli import run_tool
from integrations.conversion import (
    ConversionError,
    describe_replaced,
    existing_outputs,
    require_plain_name,
    run_jobs,
    write_atomically,
    write_text_atomically,
)
from integrations.text_files import read_text

NUM_CLASSES = 20
BOUNDARY = 255
PRECEDENCE = ("voc", "sbd")
REPRODUCE_NOTE = (
    "To reproduce PFENet / CRCNet numbers, train on PFENet's own list (lists/pascal/voc_sbd_merge_noduplicate.txt: "
    "VOC train + SBD's train_noval.txt, 5953 images, the configs' default; a subset of train_aug.txt, so these "
    "labels cover it) and test on lists/pascal/val.txt (VOC val); train_aug.txt is the usual 10582-image list.")


class LabelJob(NamedTuple):
    image_id: str
    source: str  # 'voc' or 'sbd'
    label_path: str
    image_path: str
    out_path: str


# ---- reading the two datasets ---------------------------------------------------------------------

def read_id_list(path: str) -> List[str]:
    """Image ids, one per line (VOC's ImageSets and SBD's train/val lists), in file order; each a plain file name."""
    try:
        text = read_text(path, "id list")
    except (FileNotFoundError, ValueError) as err:
        raise ConversionError(str(err)) from err
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    bad = [line for _, line in lines if len(line.split()) != 1]
    if not lines or bad:
        raise ConversionError(f"id list {path} " + (f"has lines that are not one image id: {bad[:3]}" if bad
                                                     else "is empty"))
    return [require_plain_name(line, f"id list {path} line {number}") for number, line in lines]


def read_voc_label(path: str) -> np.ndarray:
    """VOC's ``SegmentationClass`` palette PNG -> (H, W) uint8 class indices (255 boundary)."""
    try:
        with Image.open(path) as image:
            image.load()
            mode, indices = image.mode, np.asarray(image)
    except (OSError, SyntaxError) as err:
        raise ConversionError(f"cannot read VOC label {path}: {err}") from err
    if mode != "P":
        raise ConversionError(f"VOC label {path} is a {mode!r} PNG; VOC's SegmentationClass labels are palette ('P') "
                              f"PNGs whose index is the class")
    return check_values(indices, path, allowed_boundary=True)


def require_scipy():
    """scipy's ``loadmat``, or an error saying how to install it (scipy is an optional dependency: ``[convert]``)."""
    try:
        from scipy.io import loadmat
    except ImportError as err:
        raise ImportError("reading SBD's .mat labels needs scipy: pip install scipy (or the [convert] extra)") from err
    return loadmat


def read_sbd_label(path: str) -> np.ndarray:
    """SBD's ``cls/x.mat`` (MATLAB v5, struct ``GTcls``, field ``Segmentation``) -> (H, W) uint8 class indices."""
    loadmat = require_scipy()
    try:
        content = loadmat(path)
    except Exception as err:  # scipy raises ValueError, TypeError, OSError... for a broken file
        raise ConversionError(f"cannot read SBD label {path} as a MATLAB file: {err}") from err
    gt = content.get("GTcls")
    if gt is None or gt.dtype.names is None or "Segmentation" not in gt.dtype.names:
        raise ConversionError(f"SBD label {path} has no struct GTcls with a field Segmentation "
                              f"(variables: {sorted(k for k in content if not k.startswith('__'))})")
    segmentation = np.asarray(gt.flat[0]["Segmentation"])
    if segmentation.ndim != 2 or segmentation.dtype.kind not in "ui":
        raise ConversionError(f"SBD label {path}: GTcls.Segmentation is a {segmentation.dtype} array of shape "
                              f"{segmentation.shape}; expected a 2-D integer label")
    return check_values(segmentation, path, allowed_boundary=False)


def check_values(label: np.ndarray, path: str, allowed_boundary: bool) -> np.ndarray:
    allowed = (label >= 0) & (label <= NUM_CLASSES)
    if allowed_boundary:
        allowed |= label == BOUNDARY
    if not allowed.all():
        values = np.unique(label[~allowed])[:8].tolist()
        raise ConversionError(f"label {path} holds values {values}: expected 0..{NUM_CLASSES}"
                              + (f" or {BOUNDARY}" if allowed_boundary else ""))
    return label.astype(np.uint8)


def image_size(path: str) -> Tuple[int, int]:
    """(height, width) from the image header."""
    try:
        with Image.open(path) as image:
            return image.height, image.width
    except (OSError, SyntaxError) as err:
        raise ConversionError(f"cannot read image {path}: {err}") from err


def convert_one(job: LabelJob) -> Tuple[str, str]:
    """Write one ``SegmentationClassAug`` PNG; returns (image id, source)."""
    label = read_voc_label(job.label_path) if job.source == "voc" else read_sbd_label(job.label_path)
    height, width = image_size(job.image_path)
    if label.shape != (height, width):
        raise ConversionError(f"label {job.label_path} is {label.shape[1]}x{label.shape[0]} but its image "
                              f"{job.image_path} is {width}x{height}")
    write_atomically(job.out_path, Image.fromarray(label, mode="L").save)
    return job.image_id, job.source


# ---- planning ------------------------------------------------------------------------------------

def find_voc(voc_root: str) -> str:
    """``VOCdevkit/VOC2012``, given ``VOCdevkit`` or ``VOC2012`` itself."""
    for candidate in (os.path.join(voc_root, "VOC2012"), voc_root):
        if os.path.isdir(os.path.join(candidate, "JPEGImages")):
            return candidate
    raise ConversionError(f"no VOC2012/JPEGImages under {voc_root}: give the VOCdevkit folder of "
                          f"VOCtrainval_11-May-2012.tar")


def find_sbd(sbd_root: str) -> str:
    """SBD's ``dataset`` folder, given ``benchmark_RELEASE``, ``benchmark_RELEASE/dataset`` or its parent."""
    for candidate in (os.path.join(sbd_root, "benchmark_RELEASE", "dataset"), os.path.join(sbd_root, "dataset"),
                      sbd_root):
        if os.path.isdir(os.path.join(candidate, "cls")):
            return candidate
    raise ConversionError(f"no dataset/cls under {sbd_root}: give the benchmark_RELEASE folder of SBD's benchmark.tgz")


def plan(voc: str, sbd: str, prefer: str = "voc") -> Tuple[List[LabelJob], List[str], List[str]]:
    """The label jobs, the train-aug ids and the val ids (inputs checked to exist, each failure naming the file)."""
    voc_train = read_id_list(os.path.join(voc, "ImageSets", "Segmentation", "train.txt"))
    voc_val = read_id_list(os.path.join(voc, "ImageSets", "Segmentation", "val.txt"))
    sbd_ids = read_id_list(os.path.join(sbd, "train.txt")) + read_id_list(os.path.join(sbd, "val.txt"))
    val_set = set(voc_val)
    train = list(dict.fromkeys(i for i in voc_train + sbd_ids if i not in val_set))
    sources: Dict[str, Dict[str, str]] = {}
    for image_id in voc_train + voc_val:
        sources.setdefault(image_id, {})["voc"] = os.path.join(voc, "SegmentationClass", f"{image_id}.png")
    for image_id in sbd_ids:
        sources.setdefault(image_id, {})["sbd"] = os.path.join(sbd, "cls", f"{image_id}.mat")
    out_dir = os.path.join(voc, "SegmentationClassAug")
    jobs = []
    for image_id in train + voc_val:
        candidates = sources[image_id]
        missing = [p for p in candidates.values() if not os.path.isfile(p)]
        if missing:  # a dataset lists the image, so its label file must be there
            raise ConversionError(f"label of {image_id} not found: {missing[0]}")
        order = PRECEDENCE if prefer == "voc" else PRECEDENCE[::-1]
        if image_id in val_set:
            order = ("voc",)  # the test images keep VOC's own label (with its boundary band), whatever --prefer
        source = next(s for s in order if s in candidates)
        image_path = os.path.join(voc, "JPEGImages", f"{image_id}.jpg")
        if not os.path.isfile(image_path):
            raise ConversionError(f"image of {image_id} not found: {image_path}")
        jobs.append(LabelJob(image_id, source, candidates[source], image_path,
                             os.path.join(out_dir, f"{image_id}.png")))
    return jobs, train, voc_val


def write_list(path: str, ids: Sequence[str]) -> None:
    write_text_atomically(path, "".join(f"JPEGImages/{i}.jpg SegmentationClassAug/{i}.png\n" for i in ids))


def convert(voc_root: str, sbd_root: str, list_dir: Optional[str] = None, prefer: str = "voc",
            nproc: int = 1, overwrite: bool = False) -> dict:
    """Write the labels and the two lists; returns the summary (counts per list and per label source).

    Raises:
        ConversionError: a missing or malformed input, or existing output without ``overwrite``.
    """
    voc, sbd = find_voc(voc_root), find_sbd(sbd_root)
    jobs, train, val = plan(voc, sbd, prefer)
    if any(job.source == "sbd" for job in jobs):
        require_scipy()  # here rather than in every worker process
    list_dir = list_dir or os.path.join(voc, "lists")
    train_list, val_list = os.path.join(list_dir, "train_aug.txt"), os.path.join(list_dir, "val.txt")
    replaced = existing_outputs([job.out_path for job in jobs] + [train_list, val_list], overwrite,
                                "SegmentationClassAug labels and lists")
    os.makedirs(os.path.join(voc, "SegmentationClassAug"), exist_ok=True)
    done = run_jobs(convert_one, jobs, nproc, "SegmentationClassAug", "label")
    write_list(train_list, train)
    write_list(val_list, val)
    by_source = Counter(source for _, source in done)
    return dict(labels=len(done), from_voc=by_source["voc"], from_sbd=by_source["sbd"], train=len(train),
                val=len(val), train_list=train_list, val_list=val_list,
                label_dir=os.path.join(voc, "SegmentationClassAug"), replaced=replaced)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="PASCAL VOC 2012 + SBD -> SegmentationClassAug class-index PNGs and PFENet-format lists. "
                    "Precedence: VOC's own SegmentationClass label (palette index = class id, 255 boundary) for "
                    "every image VOC labels, SBD's cls/*.mat (GTcls.Segmentation) for the others; --prefer sbd "
                    "takes SBD's label wherever SBD has one (VOC val keeps VOC's). Lists: train_aug.txt = VOC "
                    "train + SBD train/val - VOC val (no duplicates), val.txt = VOC val. " + REPRODUCE_NOTE)
    parser.add_argument("voc_root", help="VOCdevkit (holding VOC2012/) from VOCtrainval_11-May-2012.tar")
    parser.add_argument("sbd_root", help="benchmark_RELEASE (holding dataset/cls/) from SBD's benchmark.tgz")
    parser.add_argument("--list-dir", help="where train_aug.txt and val.txt go (default: VOC2012/lists)")
    parser.add_argument("--prefer", choices=PRECEDENCE, default="voc",
                        help="whose label wins where both label an image (default: voc)")
    parser.add_argument("--nproc", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace labels and lists of an earlier run (without it, existing output stops the run)")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    summary = convert(args.voc_root, args.sbd_root, args.list_dir, args.prefer, max(1, args.nproc), args.overwrite)
    if summary["replaced"]:
        print(describe_replaced(summary["replaced"]))
    print(f"{summary['labels']} labels in {summary['label_dir']} ({summary['from_voc']} from VOC, "
          f"{summary['from_sbd']} from SBD)\n{summary['train']} train-aug images -> {summary['train_list']}\n"
          f"{summary['val']} val images -> {summary['val_list']}\n"
          f"(the usual archive: 10582 train-aug + 1449 val = 12031 labels)\n{REPRODUCE_NOTE}")
    return summary


if __name__ == "__main__":
    run_tool(main, always=(ConversionError,))
