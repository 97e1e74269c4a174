"""PASCAL-5i (Table 10): VOC2012 ``JPEGImages/`` + ``SegmentationClassAug/``, PFENet lists or HSNet splits."""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmseg.registry import DATASETS
from tqdm import tqdm

from .base import FewShotDataset, Sample, classes_present, read_label, require_dir, require_file

PASCAL_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
                  "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
                  "tvmonitor")
MIN_CLASS_PIXELS = 2 * 32 * 32  # PFENet: a class counts in an image from 2*32*32 pixels on


def fold_classes(fold: int, num_folds: int, num_classes: int) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """(base, novel) class ids (1-based) of a contiguous-fold split: fold i is novel = i*n+1 .. (i+1)*n."""
    if not 0 <= fold < num_folds:
        raise ValueError(f"fold must be in 0..{num_folds - 1}, got {fold}")
    per_fold = num_classes // num_folds
    novel = tuple(range(fold * per_fold + 1, (fold + 1) * per_fold + 1))
    return tuple(c for c in range(1, num_classes + 1) if c not in novel), novel


def read_pair_list(list_file: str, data_root: str) -> List[Tuple[str, str]]:
    """PFENet's list format: ``JPEGImages/x.jpg SegmentationClassAug/x.png`` per line, relative to the root."""
    pairs = []
    with open(require_file(list_file, "image list"), encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise ValueError(f"{list_file}:{number}: expected 'IMAGE LABEL', got {line.strip()!r}")
            pairs.append((os.path.join(data_root, parts[0]), os.path.join(data_root, parts[1])))
    return pairs


def read_hsnet_split(split_file: str) -> Dict[str, List[int]]:
    """HSNet's split files: ``2007_000033__01`` per line (image id, 1-based class) -> {image id: classes}."""
    images: Dict[str, List[int]] = OrderedDict()
    with open(require_file(split_file, "split file"), encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            name, sep, class_id = line.rpartition("__")
            if not sep or not class_id.isdigit():
                raise ValueError(f"{split_file}:{number}: expected 'IMAGEID__CLASS' such as "
                                 f"'2007_000033__01', got {line!r}")
            images.setdefault(name, []).append(int(class_id))
    return images


def index_pair_list(pairs: Sequence[Tuple[str, str]], classes: Sequence[int], min_pixels: int,
                    excluded: Sequence[int] = (), description: str = "") -> List[Sample]:
    """Read every label once: the classes of ``classes`` each image holds; images with any ``excluded`` class dropped."""
    samples = []
    for img_path, label_path in tqdm(pairs, desc=description or "indexing labels", disable=len(pairs) < 500,
                                     mininterval=5):
        label = read_label(label_path)
        if excluded and np.isin(label, excluded).any():
            continue
        samples.append(Sample(img_path, label_path, classes_present(label, classes, min_pixels)))
    return samples


@DATASETS.register_module()
class PascalFewShotDataset(FewShotDataset):
    """PASCAL-5i: 20 VOC classes in 4 folds of 5 (Table 10); fold i's novel classes are 5i+1..5i+5.

    Reading: training episodes use the base classes; novel-class pixels of a training image become
    background (PFENet) or, with ``novel_in_train='drop'``, such images are left out (OSLSM).

    Args:
        data_root (str): Folder with ``JPEGImages/`` and ``SegmentationClassAug/``.
        fold (int): 0..3.
        list_file (str, optional): PFENet list (e.g. ``lists/pascal/voc_sbd_merge_noduplicate.txt`` for
            training, ``lists/pascal/val.txt`` for testing); relative paths are read from ``data_root``.
        split_file (str, optional): HSNet split (e.g. ``splits/pascal/val/fold0.txt``), instead of a list.
        min_class_pixels (int): Pixels a class needs to count in an image. Default: 2*32*32.
        novel_in_train (str): 'background' or 'drop'. Default: 'background'.
        **kwargs: See :class:`FewShotDataset` (mode, shot, pipeline, num_episodes, seed, annotation,
            eval_label).
    """

    METAINFO = dict(classes=PASCAL_CLASSES)

    def __init__(self, data_root: str, fold: int = 0, list_file: Optional[str] = None,
                 split_file: Optional[str] = None, min_class_pixels: int = MIN_CLASS_PIXELS,
                 novel_in_train: str = "background", **kwargs):
        if (list_file is None) == (split_file is None):
            raise ValueError("PascalFewShotDataset needs exactly one of list_file (PFENet) or split_file (HSNet)")
        if novel_in_train not in ("background", "drop"):
            raise ValueError(f"novel_in_train must be 'background' or 'drop', got {novel_in_train!r}")
        self.data_root = require_dir(data_root, "PASCAL data_root")
        self.list_file, self.split_file = list_file, split_file
        self.fold, self.min_class_pixels, self.novel_in_train = fold, min_class_pixels, novel_in_train
        self.base_classes, self.novel_classes = fold_classes(fold, 4, len(PASCAL_CLASSES))
        super().__init__(**kwargs)

    @property
    def metainfo(self) -> dict:
        return dict(classes=tuple(PASCAL_CLASSES[c - 1] for c in self.classes), class_ids=self.classes)

    def _paths(self, image_id: str) -> Tuple[str, str]:
        return (os.path.join(self.data_root, "JPEGImages", f"{image_id}.jpg"),
                os.path.join(self.data_root, "SegmentationClassAug", f"{image_id}.png"))

    def load_samples(self) -> List[Sample]:
        require_dir(os.path.join(self.data_root, "JPEGImages"), "PASCAL image folder")
        require_dir(os.path.join(self.data_root, "SegmentationClassAug"), "PASCAL label folder")
        if self.split_file is not None:
            return [Sample(*self._paths(image_id), tuple(c for c in classes if c in self.classes))
                    for image_id, classes in read_hsnet_split(self.split_file).items()]
        excluded = self.novel_classes if self.mode == "train" and self.novel_in_train == "drop" else ()
        return index_pair_list(read_pair_list(self.list_file, self.data_root), self.classes,
                               self.min_class_pixels, excluded, f"PASCAL-5i fold {self.fold} {self.mode}")
