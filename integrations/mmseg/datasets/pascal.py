"""PASCAL-5i (Table 10): VOC2012 ``JPEGImages/`` + ``SegmentationClassAug/``, PFENet's lists or HSNet's splits."""
from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple, Union

from mmseg.registry import DATASETS

from .base import FewShotDataset, Sample
from .checks import class_pixel_counts, require_dir
from .folds import fold_classes
from .lists import read_hsnet_split, read_pair_list
from .protocols import MIN_CLASS_PIXELS, EpisodePlan, hsnet_line_plan, pfenet_plan

PASCAL_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
                  "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
                  "tvmonitor")
NUM_FOLDS = 4


def fold_split_files(split_file: Union[str, Sequence[str]], fold: int, mode: str) -> List[str]:
    """HSNet: testing reads ``val/fold{f}.txt``, training the ``trn/fold*.txt`` of the three other folds.

    A template with ``{fold}`` is filled accordingly; a path or a list of paths is taken as given.
    """
    if isinstance(split_file, str) and "{fold}" in split_file:
        folds = [fold] if mode == "test" else [f for f in range(NUM_FOLDS) if f != fold]
        return [split_file.format(fold=f) for f in folds]
    return [split_file] if isinstance(split_file, str) else list(split_file)


def require_source(owner: str, protocol: str, sources: dict) -> None:
    """Exactly the file argument of ``protocol`` is given (``sources``: protocol -> (argument name, value))."""
    if protocol not in sources:
        return  # the base class names the valid protocols
    name, value = sources[protocol]
    others = [n for p, (n, v) in sources.items() if p != protocol and v is not None]
    if value is None or others:
        raise ValueError(f"{owner}: protocol '{protocol}' reads {name}; got {name}={value!r}"
                         + (f" and {', '.join(others)}" if others else ""))


@DATASETS.register_module()
class PascalFewShotDataset(FewShotDataset):
    """PASCAL-5i: 20 VOC classes in 4 folds of 5 (Table 10); fold i's novel classes are 5i+1..5i+5.

    ``protocol='pfenet'`` reads PFENet's image list and indexes every label once (pixels per class);
    ``protocol='hsnet'`` reads HSNet's split files (``IMAGEID__CLASS`` lines). Novel-class pixels of a
    training image become background (PFENet, HSNet) or, with ``novel_in_train='drop'``, such images
    are left out (OSLSM; PFENet's protocol only).

    Args:
        data_root (str): Folder with ``JPEGImages/`` and ``SegmentationClassAug/``.
        fold (int): 0..3, or 4: no class held out (PATNet's ``--fold 4``, the source of the cross-domain
            benchmark: training on all 20 classes; HSNet's splits then read every ``trn/fold*.txt``).
        list_file (str, optional): PFENet list (``lists/pascal/voc_sbd_merge_noduplicate.txt`` for training,
            ``lists/pascal/val.txt`` for testing); its paths are relative to ``data_root``.
        split_file (str | list[str], optional): HSNet split file(s), or a template such as
            ``'splits/pascal/trn/fold{fold}.txt'`` (see :func:`fold_split_files`).
        min_class_pixels (int): Pixels a class needs to count in an image (PFENet). Default: 2*32*32.
        novel_in_train (str): 'background' or 'drop'. Default: 'background'.
        protocol (str): 'pfenet' (default) or 'hsnet'.
        **kwargs: See :class:`FewShotDataset` (mode, shot, pipeline, num_episodes, seed, annotation,
            eval_label, backend_args).
    """

    METAINFO = dict(classes=PASCAL_CLASSES)
    NUM_LABEL_CLASSES = len(PASCAL_CLASSES)
    PFENET_TEST_EPISODES = 5000  # PFENet test.py: test_num = 5000 for PASCAL

    def __init__(self, data_root: str, fold: int = 0, list_file: Optional[str] = None,
                 split_file: Union[str, Sequence[str], None] = None, min_class_pixels: int = MIN_CLASS_PIXELS,
                 novel_in_train: str = "background", protocol: str = "pfenet", **kwargs):
        require_source(type(self).__name__, protocol, dict(pfenet=("list_file", list_file),
                                                           hsnet=("split_file", split_file)))
        if novel_in_train not in ("background", "drop") or (novel_in_train == "drop" and protocol == "hsnet"):
            raise ValueError(f"novel_in_train must be 'background' or 'drop' ('drop': PFENet's protocol only), "
                             f"got {novel_in_train!r} with protocol {protocol!r}")
        self.data_root = require_dir(data_root, "PASCAL data_root")
        require_dir(os.path.join(data_root, "JPEGImages"), "PASCAL image folder")
        require_dir(os.path.join(data_root, "SegmentationClassAug"), "PASCAL label folder")
        self.fold, self.min_class_pixels, self.novel_in_train = fold, min_class_pixels, novel_in_train
        self.base_classes, self.novel_classes = fold_classes(fold, NUM_FOLDS, len(PASCAL_CLASSES))
        self.list_file, self.split_file = list_file, split_file
        self._lines: List[Tuple[int, int]] = []
        super().__init__(protocol=protocol, **kwargs)

    @property
    def metainfo(self) -> dict:
        return dict(classes=tuple(PASCAL_CLASSES[c - 1] for c in self.classes), class_ids=self.classes)

    @property
    def split_files(self) -> List[str]:
        return fold_split_files(self.split_file, self.fold, self.mode)

    @property
    def source(self) -> str:
        return self.list_file if self.protocol == "pfenet" else ", ".join(self.split_files)

    def list_samples(self) -> List[Sample]:
        if self.protocol == "pfenet":
            return [Sample(*pair) for pair in read_pair_list(self.list_file, self.data_root)]
        samples, index_of = [], {}
        for image_id, class_id in read_hsnet_split(self.split_files):
            if class_id not in self.classes:
                raise ValueError(f"{self.source} lists {image_id} with class {class_id}, not one of the {self.mode} "
                                 f"classes {self.classes} of fold {self.fold}")
            if image_id not in index_of:
                index_of[image_id] = len(samples)
                samples.append(Sample(os.path.join(self.data_root, "JPEGImages", f"{image_id}.jpg"),
                                      os.path.join(self.data_root, "SegmentationClassAug", f"{image_id}.png")))
            self._lines.append((index_of[image_id], class_id))
        return samples

    def plan_episodes(self) -> EpisodePlan:
        if self.protocol == "hsnet":
            return hsnet_line_plan(self._lines)
        counts = class_pixel_counts([s.label_path for s in self.samples], self.NUM_LABEL_CLASSES,
                                    f"PASCAL-5i fold {self.fold} {self.mode}", self.backend_args)
        if self.mode == "train" and self.novel_in_train == "drop":
            counts = [{} if any(c in self.novel_classes for c in pixels) else pixels for pixels in counts]
        return pfenet_plan(counts, self.classes, self.min_class_pixels)
