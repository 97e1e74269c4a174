"""FSS-SAM3's own test episodes (``data/dataset_tool.py`` of ``WongKinYiu/FSS-SAM3``), replayed exactly: its pools,
its draws and its support boxes. Its supports are one instance's box, not a mask: a support's label here is the box's
filled rectangle, whose one component box is the box again (to the pixel for PASCAL's integer boxes; COCO's boxes
are floats, so there it is the box rounded outwards to whole pixels).

The rules (both datasets, per fold):
  - a target pool and a support pool per class of the fold; a class is kept when its target pool is not empty and
    its support pool holds more than ``shot`` images;
  - ``random.Random(seed + fold)`` draws 1000 episodes in turn: a class (``choice`` of the kept classes), a query
    (``choice`` of its target pool), then ``sample(k)`` of its support pool without the query;
  - queries are labelled 1 on the class and 0 elsewhere, nothing ignored (PASCAL's boundary and COCO's crowd
    regions count as background), and scored at their own size.

COCO-20i (``COCOFSSDataset``): the 2014 val instances json read by pycocotools; fold classes ``i % 4 == fold`` over
the sorted category ids; the pools in ``COCO.getImgIds(catIds=...)`` order: target = images with a non-crowd instance
of the class, support = images with a non-crowd instance of area > 1000. A support's box is ``random.choice`` of
those instances' boxes, drawn from Python's global ``random`` that ``setup_seed(seed)`` seeds once before fold 0 and
that the folds consume in order (one draw per support, fold 0's episodes first): replayed from fold 0 here.
PASCAL-5i (``PascalVOCFSSDataset``): VOC2012 ``ImageSets/Segmentation/val.txt`` with ``SegmentationClass``; classes
``5 fold + 1 .. 5 fold + 5``; target = files with a pixel of the class, support = files with more than 1000; a
support's box is that of its largest instance in ``SegmentationObject`` (``[x_min, y_min, x_max - x_min,
y_max - y_min]``).
Seeds: COCO 0, PASCAL 123 (``evaluate.py``'s defaults).
"""
from __future__ import annotations

import math
import os
import random
from typing import Dict, List, Sequence, Tuple

import numpy as np
from mmseg.registry import DATASETS, TRANSFORMS

from .base import FSS_SAM3_TEST_EPISODES, FewShotDataset, Sample
from .checks import require_dir
from .images import read_label
from .protocols import EpisodePlan

SUPPORT_MIN_AREA = 1000  # dataset_tool.py: a support instance (COCO) or class (PASCAL) covers > 1000 pixels
Box = List[float]  # x, y, w, h in the image's pixels
Episode = Tuple[int, object, List[object]]  # (class, query key, support keys) in FSS-SAM3's ids


def draw_fss_sam3_episodes(classes: Sequence[int], target_pools: Dict[int, list], support_pools: Dict[int, list],
                           shot: int, count: int, seed: int) -> List[Episode]:
    """FSS-SAM3's episodes of one fold: ``random.Random(seed)`` (its ``seed + fold``) draws a class, a query and
    ``shot`` supports in turn, ``count`` times (an attempt with too few supports is skipped, as there)."""
    if not classes:
        raise ValueError(f"no class of the fold has a query and {shot + 1} support images (objects of more than "
                         f"{SUPPORT_MIN_AREA} pixels): FSS-SAM3's protocol draws no episode")
    rng, episodes = random.Random(seed), []
    for _ in range(count):
        category = rng.choice(list(classes))
        query = rng.choice(target_pools[category])
        candidates = [key for key in support_pools[category] if key != query]
        if len(candidates) < shot:
            continue
        episodes.append((category, query, rng.sample(candidates, shot)))
    return episodes


def box_rectangle(box: Box, shape: Tuple[int, int]) -> np.ndarray:
    """The (H, W) uint8 label of a box ``[x, y, w, h]``: 1 on the pixels from ``floor(x)`` to ``ceil(x + w)`` (and
    likewise down), so its component box (max - min) is the box, rounded outwards for fractional corners."""
    x, y, w, h = box
    label = np.zeros(shape, np.uint8)
    x0, y0 = max(int(math.floor(x)), 0), max(int(math.floor(y)), 0)
    label[y0:min(int(math.ceil(y + h)), shape[0] - 1) + 1, x0:min(int(math.ceil(x + w)), shape[1] - 1) + 1] = 1
    return label


class FssSam3Dataset(FewShotDataset):
    """What FSS-SAM3's two datasets share: its episodes replayed in order, its supports as box rectangles.

    A layout sets ``self.samples`` and the episodes in :meth:`list_samples` (:func:`draw_fss_sam3_episodes`).

    Reading: FSS-SAM3 retries an episode whose query or support fails to load with the next one; on VOC2012 and
    COCO 2014 val no listed episode fails (each query and support holds its class), so none is retried here, and
    a file that would fail is an error naming it.

    Reading: FSS-SAM3 stretches each image into its cell of the canvas from its own size; the k supports of an
    episode must stack here, so with more than one shot each support is first stretched to ``support_size`` square
    (PIL's bilinear filter, its box rectangle by nearest), then into its cell; one support and the query keep their
    own size (an empty pipeline: FSS-SAM3's pixels exactly).

    Args:
        fold (int): 0..3.
        shot (int): Supports per episode (FSS-SAM3 evaluates 1 and 5).
        support_size (int): The side k > 1 supports are stretched to. Default: 1008 (SAM 3's canvas).
        **kwargs: See :class:`FewShotDataset` (test only; ``num_episodes`` at most the protocol's 1000).
    """

    PROTOCOLS = ("fss_sam3",)

    def __init__(self, fold: int = 0, mode: str = "test", protocol: str = "fss_sam3", support_size: int = 1008,
                 **kwargs):
        if fold not in range(4):
            raise ValueError(f"{type(self).__name__}: fold must be 0..3, got {fold!r}")
        self.fold = fold
        self.stretch_supports = TRANSFORMS.build(dict(type="Resize", scale=(support_size, support_size),
                                                      keep_ratio=False, backend="pillow"))
        self._episodes: List[Tuple[int, int, List[int]]] = []  # (query sample, class, support samples)
        self._boxes: List[List[Box]] = []  # each episode's support boxes
        self._pending_boxes: List[Box] = []
        super().__init__(mode=mode, protocol=protocol, **kwargs)

    @property
    def base_classes(self) -> Tuple[int, ...]:
        return ()

    def plan_episodes(self) -> EpisodePlan:
        """The episodes' queries by class (for their counts and classes; the episodes themselves are replayed)."""
        pools: Dict[int, List[int]] = {}
        for query, category, _ in self._episodes:
            pools.setdefault(category, []).append(query)
        return EpisodePlan([], pools, supports_may_repeat=True, query_from_class_pool=True)

    def keep_episodes(self, episodes: Sequence[Episode], boxes: Sequence[List[Box]], class_of, sample_of) -> None:
        """Index FSS-SAM3's episodes (its class ids and file keys) by this dataset's classes and samples."""
        self._episodes = [(sample_of(query), class_of(category), [sample_of(key) for key in supports])
                          for category, query, supports in episodes]
        self._boxes = [list(episode_boxes) for episode_boxes in boxes]

    def replay_episodes(self) -> List[Tuple[int, int, List[int]]]:
        if self.num_episodes > len(self._episodes):
            raise ValueError(f"{type(self).__name__}: FSS-SAM3's protocol has {len(self._episodes)} episodes for "
                             f"fold {self.fold}, fewer than num_episodes={self.num_episodes}")
        return self._episodes

    def support_boxes(self, index: int) -> List[Box]:
        """The support boxes ``[x, y, w, h]`` of episode ``index``, in its supports' pixels."""
        return list(self._boxes[index])

    def _draw(self, key):
        index, rng, episode = super()._draw(key)
        self._pending_boxes = self.support_boxes(index)
        return index, rng, episode

    def _transform(self, sample: Sample, category: int, support: bool):
        """A query as the base class loads it; a support with its box's rectangle as its label."""
        if not support:
            return super()._transform(sample, category, support)
        results = self.loading.transforms[0](dict(img_path=sample.img_path, seg_fields=[], reduce_zero_label=False))
        label = box_rectangle(self._pending_boxes.pop(0), results["img"].shape[:2])
        results.update(gt_seg_map=label, seg_fields=[*results["seg_fields"], "gt_seg_map"])
        if self.shot > 1:
            results = self.stretch_supports(results)
        return self.pipeline(results), label


@DATASETS.register_module()
class FssSam3PascalDataset(FssSam3Dataset):
    """PASCAL-5i as FSS-SAM3 tests it (``PascalVOCFSSDataset``; see the module's docstring).

    Args:
        data_root (str): ``VOCdevkit/VOC2012``: ``JPEGImages/``, ``SegmentationClass/``, ``SegmentationObject/`` and
            ``ImageSets/Segmentation/val.txt``.
        seed (int): FSS-SAM3's seed; each fold draws from ``seed + fold``. Default: 123 (its PASCAL default).
        **kwargs: See :class:`FssSam3Dataset`.
    """

    NUM_LABEL_CLASSES = 20

    def __init__(self, data_root: str, seed: int = 123, **kwargs):
        self.data_root = require_dir(data_root, "VOC2012 data_root")
        self.split = os.path.join(data_root, "ImageSets", "Segmentation", "val.txt")
        super().__init__(seed=seed, **kwargs)

    @property
    def novel_classes(self) -> Tuple[int, ...]:
        return tuple(range(5 * self.fold + 1, 5 * self.fold + 6))

    @property
    def source(self) -> str:
        return self.split

    def _path(self, folder: str, name: str, extension: str = ".png") -> str:
        return os.path.join(self.data_root, folder, name + extension)

    def list_samples(self) -> List[Sample]:
        if not os.path.isfile(self.split):
            raise FileNotFoundError(f"FSS-SAM3's PASCAL split file not found: {self.split}")
        with open(self.split) as handle:
            names = [line.strip() for line in handle]
        target_pools: Dict[int, List[str]] = {c: [] for c in self.novel_classes}
        support_pools: Dict[int, List[str]] = {c: [] for c in self.novel_classes}
        for name in names:
            label_path = self._path("SegmentationClass", name)
            if not os.path.isfile(label_path):
                continue  # dataset_tool.py skips a listed file without its mask
            label = read_label(label_path, self.backend_args)
            for category in self.novel_classes:
                pixels = int((label == category).sum())
                if pixels:
                    target_pools[category].append(name)
                if pixels > SUPPORT_MIN_AREA:
                    support_pools[category].append(name)
        classes = [c for c in self.novel_classes if target_pools[c] and len(support_pools[c]) >= self.shot + 1]
        episodes = draw_fss_sam3_episodes(classes, target_pools, support_pools, self.shot, FSS_SAM3_TEST_EPISODES,
                                          self.seed + self.fold)
        used = sorted({name for _, query, supports in episodes for name in (query, *supports)})
        index_of = {name: index for index, name in enumerate(used)}
        boxes = [[self.largest_instance_box(name, category) for name in supports]
                 for category, _, supports in episodes]
        self.keep_episodes(episodes, boxes, int, index_of.__getitem__)
        return [Sample(self._path("JPEGImages", name, ".jpg"), self._path("SegmentationClass", name)) for name in used]

    def largest_instance_box(self, name: str, category: int) -> Box:
        """The box ``[x_min, y_min, x_max - x_min, y_max - y_min]`` of the largest instance of ``category`` in the
        file's ``SegmentationObject`` (instances counted over the whole image, the first of equal counts)."""
        object_path = self._path("SegmentationObject", name)
        if not os.path.isfile(object_path):
            raise FileNotFoundError(f"FSS-SAM3's PASCAL support {name} needs its instances: {object_path} not found")
        objects = read_label(object_path, self.backend_args)
        semantic = read_label(self._path("SegmentationClass", name), self.backend_args) == category
        instances = [i for i in np.unique(objects[semantic]) if i not in (0, 255)]
        if not instances:
            raise ValueError(f"{object_path} has no instance on the pixels of class {category}")
        largest = max(instances, key=lambda instance: int((objects == instance).sum()))
        ys, xs = np.nonzero((objects == largest) & semantic)
        return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min()), float(ys.max() - ys.min())]

    def load(self, sample: Sample, category: int) -> dict:
        """The query's label: 1 on the class, 0 elsewhere (VOC's 255 boundary too, as FSS-SAM3 scores it)."""
        results = self.loading.transforms[0](dict(img_path=sample.img_path, seg_fields=[], reduce_zero_label=False))
        label = read_label(sample.label_path, self.backend_args)
        results.update(gt_seg_map=(label == category).astype(np.uint8), seg_fields=["gt_seg_map"])
        return results


@DATASETS.register_module()
class FssSam3CocoDataset(FssSam3Dataset):
    """COCO-20i as FSS-SAM3 tests it (``COCOFSSDataset``; see the module's docstring). Needs pycocotools.

    Class ids are 1..80 in the order of COCO's category ids (fold ``f``'s are ``f + 1, f + 5, ...``, as every COCO-20i
    layout here).

    Args:
        data_root (str): The folder of ``val2014/`` and ``annotations/``.
        ann_file (str): The instances json, under ``data_root``. Default: 'annotations/instances_val2014.json'.
        img_dir (str): The image folder under ``data_root``. Default: 'val2014'.
        seed (int): FSS-SAM3's seed: each fold's episodes draw from ``seed + fold``, the boxes from ``seed`` over the
            folds in order. Default: 0 (its COCO default).
        **kwargs: See :class:`FssSam3Dataset`.
    """

    NUM_LABEL_CLASSES = 80

    def __init__(self, data_root: str, ann_file: str = "annotations/instances_val2014.json",
                 img_dir: str = "val2014", seed: int = 0, **kwargs):
        self.data_root = require_dir(data_root, "COCO data_root")
        self.ann_file, self.img_dir = os.path.join(data_root, ann_file), os.path.join(data_root, img_dir)
        self._coco = None
        super().__init__(seed=seed, **kwargs)

    @property
    def novel_classes(self) -> Tuple[int, ...]:
        return tuple(range(self.fold + 1, 81, 4))

    @property
    def source(self) -> str:
        return self.ann_file

    def list_samples(self) -> List[Sample]:
        try:
            from pycocotools.coco import COCO
        except ImportError as err:
            raise ImportError("FSS-SAM3's COCO episodes read the instances json with pycocotools: "
                              "pip install 'crc-modules[coco]'") from err
        if not os.path.isfile(self.ann_file):
            raise FileNotFoundError(f"COCO annotation file not found: {self.ann_file}")
        require_dir(self.img_dir, "COCO image folder")
        self._coco = coco = COCO(self.ann_file)
        category_ids = sorted(coco.getCatIds())
        if len(category_ids) != 80:
            raise ValueError(f"{self.ann_file} has {len(category_ids)} categories; COCO-20i needs 80")
        boxes_stream = random.Random(self.seed)  # the global `random` setup_seed(seed) seeds before fold 0
        for fold in range(self.fold + 1):
            classes, target_pools, support_pools = self._pools(coco, category_ids, fold)
            episodes = draw_fss_sam3_episodes(classes, target_pools, support_pools, self.shot,
                                              FSS_SAM3_TEST_EPISODES, self.seed + fold)
            boxes = [[boxes_stream.choice(self._support_instances(coco, image, category))["bbox"]
                      for image in supports] for category, _, supports in episodes]
        used = sorted({image for _, query, supports in episodes for image in (query, *supports)})
        index_of = {image: index for index, image in enumerate(used)}
        class_of = {category: index + 1 for index, category in enumerate(category_ids)}
        self.keep_episodes(episodes, [[[float(v) for v in box] for box in shots] for shots in boxes],
                           class_of.__getitem__, index_of.__getitem__)
        samples = [Sample(os.path.join(self.img_dir, coco.imgs[image]["file_name"]), None) for image in used]
        self.category_ids = category_ids
        self.image_id_of = {sample.img_path: image for sample, image in zip(samples, used)}
        return samples

    @staticmethod
    def _support_instances(coco, image: int, category: int) -> List[dict]:
        return [a for a in coco.loadAnns(coco.getAnnIds(imgIds=image, catIds=category))
                if a["area"] > SUPPORT_MIN_AREA and not a.get("iscrowd", 0)]

    def _pools(self, coco, category_ids: Sequence[int], fold: int):
        """(kept classes, target pools, support pools) of ``fold``, in FSS-SAM3's orders."""
        classes, target_pools, support_pools = [], {}, {}
        for category in [c for index, c in enumerate(category_ids) if index % 4 == fold]:
            targets, supports = [], []
            for image in coco.getImgIds(catIds=category):
                anns = coco.loadAnns(coco.getAnnIds(imgIds=image, catIds=category))
                if any(not a.get("iscrowd", 0) for a in anns):
                    targets.append(image)
                if any(a["area"] > SUPPORT_MIN_AREA and not a.get("iscrowd", 0) for a in anns):
                    supports.append(image)
            if targets and len(supports) >= self.shot + 1:
                classes.append(category)
                target_pools[category], support_pools[category] = targets, supports
        return classes, target_pools, support_pools

    def load(self, sample: Sample, category: int) -> dict:
        """The query's label: the union of the class's non-crowd instances (crowd regions are background)."""
        results = self.loading.transforms[0](dict(img_path=sample.img_path, seg_fields=[], reduce_zero_label=False))
        coco = self._coco
        image, category_id = self.image_id_of[sample.img_path], self.category_ids[category - 1]
        info = coco.imgs[image]
        label = np.zeros((info["height"], info["width"]), np.uint8)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image, catIds=category_id)):
            if not ann.get("iscrowd", 0):
                label = np.maximum(label, coco.annToMask(ann))
        results.update(gt_seg_map=label, seg_fields=["gt_seg_map"])
        return results
