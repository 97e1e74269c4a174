"""COCO-20i: COCO 2014 with masks from the instances json or PFENet's converted PNGs, both class settings."""
from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmseg.registry import DATASETS

from .base import IGNORE_INDEX, FewShotDataset, Sample, read_image, require_dir, require_file
from .pascal import MIN_CLASS_PIXELS, index_pair_list, read_pair_list

NUM_COCO_CLASSES = 80
SETTINGS = ("fold", "canet")
CANET_SPLITS = {"train": range(1, 41), "val": range(41, 61), "test": range(61, 81)}


def coco_fold_classes(fold: int) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """(base, novel) of the 4-fold setting (PFENet/HSNet): fold i's novel classes are {4k + i + 1 : k = 0..19}."""
    if not 0 <= fold < 4:
        raise ValueError(f"COCO-20i fold must be in 0..3, got {fold}")
    novel = tuple(4 * k + fold + 1 for k in range(20))
    return tuple(c for c in range(1, NUM_COCO_CLASSES + 1) if c not in novel), novel


@DATASETS.register_module()
class CocoFewShotDataset(FewShotDataset):
    """COCO-20i in the 4-fold setting, or CANet's 40 train / 20 val / 20 test classes (Section 5.1).

    Class ids are 1..80 in the order of COCO's category ids. Masks come from PFENet's converted PNGs
    (``list_file`` of ``train2014/x.jpg annotations/train2014/x.png`` lines) or from the instances json
    (``ann_file``; needs ``pip install crc-modules[coco]``); crowd regions are ignored (255).

    Args:
        data_root (str): Folder with ``train2014/`` and ``val2014/``.
        setting (str): 'fold' or 'canet'.
        fold (int): 0..3 in the 'fold' setting.
        canet_test_split (str): 'test' (classes 61-80) or 'val' (41-60) for testing in the 'canet' setting.
        list_file (str, optional): PFENet list of image / converted PNG pairs.
        ann_file (str, optional): ``annotations/instances_{train,val}2014.json``, instead of a list.
        img_dir (str): Image folder under ``data_root`` for ``ann_file``. Default: 'train2014' in
            training, 'val2014' in testing.
        min_class_pixels (int): Pixels a class needs to count in an image. Default: 2*32*32.
        **kwargs: See :class:`FewShotDataset`.
    """

    def __init__(self, data_root: str, setting: str = "fold", fold: int = 0, canet_test_split: str = "test",
                 list_file: Optional[str] = None, ann_file: Optional[str] = None, img_dir: Optional[str] = None,
                 min_class_pixels: int = MIN_CLASS_PIXELS, **kwargs):
        if setting not in SETTINGS:
            raise ValueError(f"COCO setting must be one of {SETTINGS}, got {setting!r}")
        if (list_file is None) == (ann_file is None):
            raise ValueError("CocoFewShotDataset needs exactly one of list_file (converted PNGs) or ann_file (json)")
        if canet_test_split not in ("val", "test"):
            raise ValueError(f"canet_test_split must be 'val' or 'test', got {canet_test_split!r}")
        self.data_root = require_dir(data_root, "COCO data_root")
        self.list_file, self.ann_file, self.img_dir = list_file, ann_file, img_dir
        self.min_class_pixels = min_class_pixels
        if setting == "fold":
            self.base_classes, self.novel_classes = coco_fold_classes(fold)
        else:
            self.base_classes = tuple(CANET_SPLITS["train"])
            self.novel_classes = tuple(CANET_SPLITS[canet_test_split])
        self._annotations: Dict[int, List[dict]] = {}
        self._category_to_class: Dict[int, int] = {}
        super().__init__(**kwargs)

    def load_samples(self) -> List[Sample]:
        if self.list_file is not None:
            return index_pair_list(read_pair_list(self.list_file, self.data_root), self.classes,
                                   self.min_class_pixels, description=f"COCO {self.mode}")
        return self._samples_from_json()

    def _samples_from_json(self) -> List[Sample]:
        with open(require_file(self.ann_file, "COCO annotation file"), encoding="utf-8") as handle:
            coco = json.load(handle)
        for key in ("images", "annotations", "categories"):
            if key not in coco:
                raise ValueError(f"{self.ann_file} is not a COCO instances file: no '{key}' entry")
        category_ids = sorted(c["id"] for c in coco["categories"])
        if len(category_ids) != NUM_COCO_CLASSES:
            raise ValueError(f"{self.ann_file} has {len(category_ids)} categories; COCO-20i needs 80")
        self._category_to_class = {cid: index + 1 for index, cid in enumerate(category_ids)}
        areas: Dict[int, Dict[int, float]] = defaultdict(lambda: defaultdict(float))
        for ann in coco["annotations"]:
            self._annotations.setdefault(ann["image_id"], []).append(ann)
            if not ann.get("iscrowd", 0):
                areas[ann["image_id"]][self._category_to_class[ann["category_id"]]] += ann["area"]
        img_dir = os.path.join(self.data_root, self.img_dir or ("train2014" if self.mode == "train" else "val2014"))
        require_dir(img_dir, "COCO image folder")
        samples = []
        for image in coco["images"]:
            present = tuple(c for c in self.classes if areas[image["id"]].get(c, 0) >= self.min_class_pixels)
            samples.append(Sample(os.path.join(img_dir, image["file_name"]), f"{self.ann_file}#{image['id']}",
                                  present))
        return samples

    def load_image_and_label(self, sample: Sample) -> Tuple[np.ndarray, np.ndarray]:
        if self.ann_file is None:
            return super().load_image_and_label(sample)
        img = read_image(sample.img_path)
        return img, self._rasterise(int(sample.label_path.rsplit("#", 1)[1]), img.shape[:2])

    def _rasterise(self, image_id: int, shape) -> np.ndarray:
        """Class-index label from the instance polygons / RLEs; crowd regions become 255."""
        try:
            from pycocotools import mask as mask_utils
        except ImportError as err:
            raise ImportError("reading COCO masks from the instances json needs pycocotools: "
                              "pip install 'crc-modules[coco]'") from err
        height, width = shape
        label = np.zeros(shape, dtype=np.uint8)
        for ann in self._annotations.get(image_id, []):
            segmentation = ann["segmentation"]
            if isinstance(segmentation, list):
                rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
            elif isinstance(segmentation["counts"], list):
                rle = mask_utils.frPyObjects(segmentation, height, width)
            else:
                rle = segmentation
            value = IGNORE_INDEX if ann.get("iscrowd", 0) else self._category_to_class[ann["category_id"]]
            label[mask_utils.decode(rle).astype(bool)] = value
        return label
