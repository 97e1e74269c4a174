"""COCO-20i: COCO 2014 with PFENet's converted PNGs and lists, the instances json, or HSNet's split files."""
from __future__ import annotations

import os
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np
from mmseg.registry import DATASETS

from crc_modules.labels import IGNORE_INDEX

from .base import FewShotDataset, Sample
from .checks import class_pixel_counts, require_dir
from .folds import fold_classes
from .lists import read_hsnet_coco_split, read_json, read_pair_list
from .loading import binary_label
from .pascal import require_source
from .protocols import MIN_CLASS_PIXELS, EpisodePlan, hsnet_class_pool_plan, pfenet_plan

NUM_COCO_CLASSES = 80
NUM_FOLDS = 4  # fold i's novel classes are {4k + i + 1} (PFENet, HSNet)
SETTINGS = ("fold", "canet")
CANET_SPLITS = {"train": range(1, 41), "val": range(41, 61), "test": range(61, 81)}


@DATASETS.register_module()
class CocoFewShotDataset(FewShotDataset):
    """COCO-20i in the 4-fold setting, or CANet's 40 train / 20 val / 20 test classes (Section 5.1).

    Class ids are 1..80 in the order of COCO's category ids. ``protocol='pfenet'`` reads PFENet's list of
    image / converted PNG pairs (``list_file``; every label read once) or the instances json
    (``ann_file``, needs ``pip install crc-modules[coco]``; a class's pixels are read from the annotation
    areas, so an object hidden by a later one may leave an episode's class without pixels; crowd regions
    are ignored (255)). ``protocol='hsnet'`` reads HSNet's
    ``splits/coco/{trn,val}/fold{fold}.pkl`` (class -> image names, e.g. ``train2014/x.jpg``; masks at
    ``annotations/train2014/x.png``) through a loader that admits only plain data.

    Args:
        data_root (str): Folder with ``train2014/``, ``val2014/`` (and ``annotations/``).
        setting (str): 'fold' or 'canet'.
        fold (int): 0..3 in the 'fold' setting.
        canet_test_split (str): 'test' (classes 61-80) or 'val' (41-60) for testing in the 'canet' setting.
        list_file (str, optional): PFENet list of image / converted PNG pairs.
        ann_file (str, optional): ``annotations/instances_{train,val}2014.json``, instead of a list.
        split_file (str, optional): HSNet's pkl, or a template with ``{fold}`` filled with ``fold``.
        img_dir (str): Image folder under ``data_root`` for ``ann_file``. Default: 'train2014' in
            training, 'val2014' in testing.
        min_class_pixels (int): Pixels a class needs to count in an image (PFENet). Default: 2*32*32.
        protocol (str): 'pfenet' (default) or 'hsnet'.
        **kwargs: See :class:`FewShotDataset`.
    """

    NUM_LABEL_CLASSES = NUM_COCO_CLASSES
    PFENET_TEST_EPISODES = 20000  # PFENet test.py: test_num = 20000 for COCO

    def __init__(self, data_root: str, setting: str = "fold", fold: int = 0, canet_test_split: str = "test",
                 list_file: Optional[str] = None, ann_file: Optional[str] = None, split_file: Optional[str] = None,
                 img_dir: Optional[str] = None, min_class_pixels: int = MIN_CLASS_PIXELS, protocol: str = "pfenet",
                 **kwargs):
        if setting not in SETTINGS:
            raise ValueError(f"COCO setting must be one of {SETTINGS}, got {setting!r}")
        if canet_test_split not in ("val", "test"):
            raise ValueError(f"canet_test_split must be 'val' or 'test', got {canet_test_split!r}")
        if protocol == "hsnet" and setting != "fold":
            raise ValueError("HSNet's COCO split files are for the 'fold' setting, not 'canet'")
        pfenet_source = ("list_file or ann_file", ann_file if list_file is None else list_file)
        if list_file is not None and ann_file is not None:
            raise ValueError("CocoFewShotDataset: give list_file (converted PNGs) or ann_file (json), not both")
        require_source(type(self).__name__, protocol, dict(pfenet=pfenet_source, hsnet=("split_file", split_file)))
        self.data_root = require_dir(data_root, "COCO data_root")
        self.list_file, self.ann_file, self.img_dir, self.fold = list_file, ann_file, img_dir, fold
        self.split_file = None if split_file is None else split_file.format(fold=fold)
        self.min_class_pixels = min_class_pixels
        if setting == "fold":
            self.base_classes, self.novel_classes = fold_classes(fold, NUM_FOLDS, NUM_COCO_CLASSES, interleaved=True)
        else:
            self.base_classes = tuple(CANET_SPLITS["train"])
            self.novel_classes = tuple(CANET_SPLITS[canet_test_split])
        self._annotations: Dict[int, List[dict]] = {}
        self._image_id_of: Dict[str, int] = {}
        self._category_to_class: Dict[int, int] = {}
        self._class_pixels: List[Dict[int, int]] = []
        self._pools: Dict[int, List[int]] = {}
        super().__init__(protocol=protocol, **kwargs)

    @property
    def source(self) -> str:
        return self.split_file or self.list_file or self.ann_file

    def list_samples(self) -> List[Sample]:
        if self.split_file is not None:
            return self._samples_from_hsnet_split()
        if self.list_file is not None:
            return [Sample(*pair) for pair in read_pair_list(self.list_file, self.data_root)]
        return self._samples_from_json()

    def plan_episodes(self) -> EpisodePlan:
        if self.protocol == "hsnet":
            return hsnet_class_pool_plan(self._pools)
        if self.list_file is not None:
            self._class_pixels = class_pixel_counts([s.label_path for s in self.samples], NUM_COCO_CLASSES,
                                                    f"COCO {self.mode}", self.backend_args)
        return pfenet_plan(self._class_pixels, self.classes, self.min_class_pixels)

    def _samples_from_hsnet_split(self) -> List[Sample]:
        """HSNet: the pkl's 0-based class c holds images of class c + 1; only the fold's classes are drawn."""
        samples, index_of = [], {}
        for class_index, names in sorted(read_hsnet_coco_split(self.split_file).items()):
            if class_index + 1 not in self.classes:
                continue
            pool = self._pools.setdefault(class_index + 1, [])
            for name in names:
                if name not in index_of:
                    index_of[name] = len(samples)
                    stem = os.path.splitext(name)[0]
                    samples.append(Sample(os.path.join(self.data_root, name),
                                          os.path.join(self.data_root, "annotations", f"{stem}.png")))
                pool.append(index_of[name])
        return samples

    def _samples_from_json(self) -> List[Sample]:
        coco = read_json(self.ann_file, "COCO annotation file")
        for key in ("images", "annotations", "categories"):
            if not isinstance(coco, dict) or key not in coco:
                raise ValueError(f"{self.ann_file} is not a COCO instances file: no '{key}' entry")
        category_ids = sorted(c["id"] for c in coco["categories"])
        if len(category_ids) != NUM_COCO_CLASSES:
            raise ValueError(f"{self.ann_file} has {len(category_ids)} categories; COCO-20i needs 80")
        self._category_to_class = {cid: index + 1 for index, cid in enumerate(category_ids)}
        areas: Dict[int, Dict[int, float]] = defaultdict(lambda: defaultdict(float))
        for ann in coco["annotations"]:
            if ann["category_id"] not in self._category_to_class:
                raise ValueError(f"{self.ann_file}: annotation {ann.get('id')} of image {ann['image_id']} has "
                                 f"category_id {ann['category_id']}, which is not among the file's categories")
            self._annotations.setdefault(ann["image_id"], []).append(ann)
            if not ann.get("iscrowd", 0):
                areas[ann["image_id"]][self._category_to_class[ann["category_id"]]] += ann["area"]
        img_dir = os.path.join(self.data_root, self.img_dir or ("train2014" if self.mode == "train" else "val2014"))
        require_dir(img_dir, "COCO image folder")
        samples = [Sample(os.path.join(img_dir, image["file_name"]), None) for image in coco["images"]]
        self._image_id_of = {s.img_path: image["id"] for s, image in zip(samples, coco["images"])}
        self._class_pixels = [dict(areas[image["id"]]) for image in coco["images"]]
        return samples

    def load(self, sample: Sample, category: int) -> dict:
        if self.ann_file is None:
            return super().load(sample, category)
        results = self.loading.transforms[0](dict(img_path=sample.img_path, seg_fields=[], reduce_zero_label=False))
        label = self._rasterise(self._image_id_of[sample.img_path], results["img"].shape[:2])
        results["gt_seg_map"] = binary_label(label, category)
        results["seg_fields"].append("gt_seg_map")
        return results

    def class_label(self, sample: Sample) -> Optional[np.ndarray]:
        if self.ann_file is None:
            return super().class_label(sample)
        img = self.loading.transforms[0](dict(img_path=sample.img_path))["img"]
        return self._rasterise(self._image_id_of[sample.img_path], img.shape[:2])

    def _rasterise(self, image_id: int, shape) -> np.ndarray:
        """Class-index label from the instance polygons / RLEs; crowd regions become 255."""
        try:
            from pycocotools import mask as mask_utils
        except ImportError as err:
            raise ImportError("reading COCO masks from the instances json needs pycocotools: "
                              "pip install 'crc-modules[coco]'") from err
        height, width = shape
        label = np.zeros(shape, dtype=np.int32)
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
