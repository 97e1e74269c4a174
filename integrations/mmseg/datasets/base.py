"""Episodic few-shot datasets: a query and k distinct supports of one class per item (Section 5.1)."""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.dataset import Compose
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample
from PIL import Image

IGNORE_INDEX = 255
MODES = ("train", "test")
ANNOTATIONS = ("mask", "box")
EVAL_LABELS = ("original", "transformed")
DEFAULT_TEST_EPISODES = 1000


@dataclass(frozen=True)
class Sample:
    """One annotated image: where it is and which classes it holds (enough pixels of)."""

    img_path: str
    label_path: str
    classes: Tuple[int, ...]


def read_image(path: str) -> np.ndarray:
    """BGR uint8 (H, W, 3), as mmseg loads images; a clear error for a missing or unreadable file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file not found: {path}")
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot decode image {path}: not a readable image file")
    return img


def read_label(path: str) -> np.ndarray:
    """Class-index label (H, W) uint8 from a PNG (palette indices are kept, not converted to grey)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"label file not found: {path}")
    try:
        with Image.open(path) as label:
            if label.mode not in ("P", "L", "I", "I;16", "1"):
                label = label.convert("L")
            return np.asarray(label).astype(np.uint8)
    except OSError as err:
        raise ValueError(f"cannot decode label {path}: {err}") from err


def require_file(path: str, what: str) -> str:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def require_dir(path: str, what: str) -> str:
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def classes_present(label: np.ndarray, candidates: Sequence[int], min_pixels: int) -> Tuple[int, ...]:
    """The candidate classes covering at least ``min_pixels`` pixels of ``label``."""
    counts = np.bincount(label.ravel(), minlength=256)
    return tuple(int(c) for c in candidates if counts[c] >= min_pixels)


def box_label(label: np.ndarray) -> np.ndarray:
    """Weak annotation (Table 14): each object (8-connected foreground component) replaced by its box.

    Ignore pixels (255) inside no box stay ignored; pixels inside a box become foreground.
    """
    foreground = (label == 1).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(foreground, connectivity=8)
    boxes = np.where(label == IGNORE_INDEX, IGNORE_INDEX, 0).astype(np.uint8)
    for x, y, w, h, _ in stats[1:count]:
        boxes[y:y + h, x:x + w] = 1
    return boxes


class FewShotDataset(torch.utils.data.Dataset):
    """Base of the episodic datasets; subclasses list the samples and the fold's classes.

    Training episodes draw the query uniformly over the samples that hold a class of the split and
    the class among the query's; test episodes are a pure function of ``(seed, index)``, so they do
    not depend on the number of workers or processes. The supports are ``shot`` distinct images of
    the class, all different from the query. Labels become 1 for the episode's class, 0 for
    everything else (other classes included) and 255 where the dataset says ignore.

    Args:
        mode (str): 'train' (base classes) or 'test' (novel classes).
        shot (int): Supports per episode (1, 5, 10).
        pipeline (list[dict]): mmseg/mmcv transforms applied to the query and, independently drawn,
            to every support.
        num_episodes (int, optional): Episodes per epoch; default: one per image holding a class of the
            split in training, 1000 in testing (one per test image for FSS-1000).
        seed (int): Seed of the test episodes.
        annotation (str): 'mask', or 'box' for supports annotated by object boxes (Table 14).
        eval_label (str): Test label the metric reads: 'original' (PFENet: the label at the image's
            original size; predictions are resized back) or 'transformed' (HSNet: the label after the
            pipeline, e.g. 400x400).
    """

    ONE_TEST_EPISODE_PER_IMAGE = False

    def __init__(
        self,
        mode: str = "train",
        shot: int = 1,
        pipeline: Sequence[dict] = (),
        num_episodes: Optional[int] = None,
        seed: int = 0,
        annotation: str = "mask",
        eval_label: str = "original",
    ):
        for name, value, allowed in (("mode", mode, MODES), ("annotation", annotation, ANNOTATIONS),
                                     ("eval_label", eval_label, EVAL_LABELS)):
            if value not in allowed:
                raise ValueError(f"{type(self).__name__}: {name} must be one of {allowed}, got {value!r}")
        if shot < 1:
            raise ValueError(f"{type(self).__name__}: shot must be >= 1, got {shot}")
        self.mode, self.shot, self.seed = mode, shot, seed
        self.annotation, self.eval_label = annotation, eval_label
        self.pipeline = Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline])
        self.samples: List[Sample] = self._drop_classes_too_rare_for_an_episode(self.load_samples())
        self.class_samples: Dict[int, List[int]] = {}
        for index, sample in enumerate(self.samples):
            for c in sample.classes:
                self.class_samples.setdefault(c, []).append(index)
        self.query_indices = [i for i, s in enumerate(self.samples) if s.classes]
        if not self.query_indices:
            raise ValueError(f"{type(self).__name__}: no image holds any of the classes {self.classes}")
        one_per_image = mode == "train" or self.ONE_TEST_EPISODE_PER_IMAGE
        default_episodes = len(self.query_indices) if one_per_image else DEFAULT_TEST_EPISODES
        self.num_episodes = num_episodes if num_episodes is not None else default_episodes
        self._test_order = np.random.default_rng(seed).permutation(len(self.query_indices))
        print_log(f"{type(self).__name__} ({mode}, {shot}-shot): {len(self.query_indices)} images of "
                  f"{len(self.classes)} classes, {self.num_episodes} episodes", logger="current")

    # ---- what a subclass provides ---------------------------------------------------------------
    @property
    def classes(self) -> Tuple[int, ...]:
        """The classes episodes are drawn from: ``base_classes`` in training, ``novel_classes`` in testing."""
        return self.base_classes if self.mode == "train" else self.novel_classes

    def load_samples(self) -> List[Sample]:
        raise NotImplementedError

    def load_image_and_label(self, sample: Sample) -> Tuple[np.ndarray, np.ndarray]:
        """(BGR image (H, W, 3), class-index label (H, W)) of a sample, checked against each other."""
        img, label = read_image(sample.img_path), read_label(sample.label_path)
        if img.shape[:2] != label.shape:
            raise ValueError(f"image {sample.img_path} is {img.shape[1]}x{img.shape[0]} but its label "
                             f"{sample.label_path} is {label.shape[1]}x{label.shape[0]}")
        return img, label

    @property
    def metainfo(self) -> dict:
        return dict(classes=tuple(str(c) for c in self.classes), class_ids=self.classes)

    # ---- episodes ---------------------------------------------------------------------------------
    def _drop_classes_too_rare_for_an_episode(self, samples: List[Sample]) -> List[Sample]:
        """A class in at most ``shot`` images cannot make an episode: it is left out, with a warning."""
        counts = Counter(c for s in samples for c in s.classes)
        rare = sorted(c for c, n in counts.items() if n <= self.shot)
        if not rare:
            return samples
        print_log(f"{type(self).__name__}: classes {rare} are in at most {self.shot} image(s), fewer than a "
                  f"{self.shot}-shot episode needs ({self.shot + 1}); they get no episode", logger="current", level=30)
        return [Sample(s.img_path, s.label_path, tuple(c for c in s.classes if c not in rare)) for s in samples]

    def __len__(self) -> int:
        return self.num_episodes

    def episode(self, index: int) -> Tuple[int, int, List[int]]:
        """(query sample, class, support samples) of an episode."""
        if self.mode == "train":
            rng = np.random.default_rng(np.random.randint(2 ** 31))
            query = self.query_indices[rng.integers(len(self.query_indices))]
        else:
            rng = np.random.default_rng((self.seed, index))
            query = self.query_indices[self._test_order[index % len(self.query_indices)]]
        category = int(rng.choice(self.samples[query].classes))
        candidates = [i for i in self.class_samples[category] if i != query]
        supports = rng.choice(candidates, size=self.shot, replace=False).tolist()
        return query, category, supports

    def _binary_label(self, label: np.ndarray, category: int, sample: Sample) -> np.ndarray:
        binary = np.where(label == IGNORE_INDEX, IGNORE_INDEX, (label == category)).astype(np.uint8)
        if not (binary == 1).any():
            raise ValueError(f"label {sample.label_path} has no pixel of class {category}, "
                             f"which the list says {sample.img_path} holds")
        return binary

    def _transform(self, sample: Sample, category: int, support: bool) -> Tuple[dict, np.ndarray]:
        img, label = self.load_image_and_label(sample)
        binary = self._binary_label(label, category, sample)
        seg = box_label(binary) if support and self.annotation == "box" else binary
        results = dict(img=img, gt_seg_map=seg, seg_fields=["gt_seg_map"], img_path=sample.img_path,
                       seg_map_path=sample.label_path, img_shape=img.shape[:2], ori_shape=img.shape[:2],
                       reduce_zero_label=False)
        return self.pipeline(results), binary

    @staticmethod
    def _to_tensor(results: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        img = torch.from_numpy(np.ascontiguousarray(results["img"].transpose(2, 0, 1)))
        return img, torch.from_numpy(np.ascontiguousarray(results["gt_seg_map"])).long()

    def __getitem__(self, index: int) -> dict:
        query, category, supports = self.episode(index)
        query_results, query_original = self._transform(self.samples[query], category, support=False)
        query_img, query_label = self._to_tensor(query_results)
        support_imgs, support_labels = zip(*(self._to_tensor(self._transform(self.samples[i], category, True)[0])
                                             for i in supports))
        if self.mode == "test" and self.eval_label == "original":
            query_label = torch.from_numpy(query_original).long()
        data_sample = SegDataSample(metainfo=dict(
            class_id=category, episode=index, img_path=self.samples[query].img_path,
            support_paths=[self.samples[i].img_path for i in supports],
            ori_shape=tuple(query_original.shape), img_shape=tuple(query_img.shape[-2:]),
            valid_shape=tuple(query_results.get("valid_shape", query_img.shape[-2:])),
        ))
        data_sample.gt_sem_seg = PixelData(data=query_label[None])
        inputs = dict(query=query_img, supports=_stack(support_imgs, "support images", self.samples, supports),
                      support_labels=_stack(support_labels, "support labels", self.samples, supports))
        return dict(inputs=inputs, data_samples=data_sample)


def _stack(tensors: Sequence[torch.Tensor], what: str, samples: List[Sample], indices: List[int]) -> torch.Tensor:
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        names = ", ".join(samples[i].img_path for i in indices)
        raise ValueError(f"{what} of one episode must share a size after the pipeline (add a Resize/Pad): "
                         f"got {sorted(shapes)} for {names}")
    return torch.stack(list(tensors))
