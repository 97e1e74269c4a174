"""A generated few-shot dataset: textured shapes of 20 classes on textured backgrounds, no download."""
from __future__ import annotations

import colorsys
from typing import List, Tuple

import cv2
import numpy as np
from mmseg.registry import DATASETS

from .base import FewShotDataset, Sample
from .loading import binary_label
from .pascal import fold_classes
from .protocols import EpisodePlan, pfenet_plan

NUM_CLASSES = 20
SHAPES = ("disk", "square", "triangle", "ring", "cross")
PATTERNS = ("solid", "stripes", "checker", "dots")
GOLDEN_RATIO = 0.6180339887


def class_appearance(class_id: int) -> Tuple[str, str, float]:
    """(shape, pattern, hue) of a class; the folds mix shapes, patterns and hues (no fold owns one)."""
    index = class_id - 1
    return SHAPES[index % 5], PATTERNS[(index + index // 5) % 4], (index * GOLDEN_RATIO) % 1.0


def _shape_mask(shape: str, size: int, center, radius: float, angle: float) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = xs - center[0], ys - center[1]
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    distance = np.hypot(u, v)
    if shape == "disk":
        return distance < radius
    if shape == "ring":
        return (distance < radius) & (distance > 0.55 * radius)
    if shape == "square":
        return (np.abs(u) < 0.8 * radius) & (np.abs(v) < 0.8 * radius)
    if shape == "cross":
        arm = radius / 3
        return ((np.abs(u) < arm) & (np.abs(v) < radius)) | ((np.abs(v) < arm) & (np.abs(u) < radius))
    # triangle: three half-planes of an equilateral triangle
    inside = np.ones_like(u, dtype=bool)
    for k in range(3):
        theta = 2 * np.pi * k / 3
        inside &= u * np.cos(theta) + v * np.sin(theta) < radius / 2
    return inside


def _pattern(pattern: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A (size, size) map in [0, 1] that modulates an object's colour."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    period = rng.uniform(5, 9)
    if pattern == "solid":
        return np.ones((size, size), np.float32)
    if pattern == "stripes":
        angle = rng.uniform(0, np.pi)
        return (np.sin(2 * np.pi * (xs * np.cos(angle) + ys * np.sin(angle)) / period) > 0).astype(np.float32)
    if pattern == "checker":
        return ((np.floor(xs / period) + np.floor(ys / period)) % 2).astype(np.float32)
    return ((np.hypot((xs % period) - period / 2, (ys % period) - period / 2) < period / 3.5)).astype(np.float32)


def _hsv(hue: float, saturation: float, value: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value), np.float32) * 255


def render_episode_image(seed: int, primary: int, instance: int, split: int, size: int,
                         distractor_classes: Tuple[int, ...]) -> Tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 image, class-index label) of one generated image, a pure function of its arguments.

    One or two objects of ``primary`` on a smooth random background, drawn after zero to two
    distractors from ``distractor_classes`` (labelled with their own class; background in an episode
    of ``primary``).
    """
    rng = np.random.default_rng((seed, primary, instance, split))
    coarse = rng.uniform(40, 215, size=(4, 4, 3)).astype(np.float32)
    img = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_LINEAR)
    img += rng.normal(0, 12, size=img.shape).astype(np.float32)
    label = np.zeros((size, size), np.uint8)
    objects = [int(c) for c in rng.choice(distractor_classes, size=rng.integers(0, 3))] if distractor_classes else []
    objects += [primary] * int(rng.integers(1, 3))
    for class_id in objects:
        shape, pattern, hue = class_appearance(class_id)
        radius = rng.uniform(0.12, 0.24) * size
        center = rng.uniform(radius, size - radius, size=2)
        mask = _shape_mask(shape, size, center, radius, rng.uniform(0, np.pi))
        bright = _hsv(hue + rng.normal(0, 0.015), 0.85, rng.uniform(0.8, 1.0))
        dark = _hsv(hue + 0.5, 0.6, 0.25)
        modulation = _pattern(pattern, size, rng)[..., None]
        img[mask] = (modulation * bright + (1 - modulation) * dark)[mask]
        label[mask] = class_id
    return np.clip(img, 0, 255).astype(np.uint8), label


@DATASETS.register_module()
class GeneratedFewShotDataset(FewShotDataset):
    """Textured shapes of 20 classes (5 shapes x 4 patterns, one hue each) in 4 folds of 5, from a seed.

    Fold i's novel classes are 5i+1..5i+5, as in PASCAL-5i; training images are drawn only for base
    classes, test images only for novel classes, and distractor objects come from the split's other
    classes. Episodes follow PFENet's rules (a class counts in an image from ``min_class_pixels``).
    The data of the built-in default run: a small model learns it on a CPU in minutes. Images are
    rendered, not read, so no loading transform runs.

    Args:
        fold (int): 0..3.
        images_per_class (int): Images generated per class. Default: 40.
        image_size (int): Side of the square images. Default: 96.
        data_seed (int): Seed of the images (``seed`` is the seed of the test episodes). Default: 0.
        min_class_pixels (int): Pixels a class needs to count in an image. Default: 64.
        **kwargs: See :class:`FewShotDataset`.
    """

    PROTOCOLS = ("pfenet",)

    def __init__(self, fold: int = 0, images_per_class: int = 40, image_size: int = 96, data_seed: int = 0,
                 min_class_pixels: int = 64, **kwargs):
        self.fold, self.images_per_class, self.image_size = fold, images_per_class, image_size
        self.data_seed, self.min_class_pixels = data_seed, min_class_pixels
        self.base_classes, self.novel_classes = fold_classes(fold, 4, NUM_CLASSES)
        super().__init__(**kwargs)

    @property
    def metainfo(self) -> dict:
        names = tuple("{}-{}".format(*class_appearance(c)[:2]) + f"-{c}" for c in self.classes)
        return dict(classes=names, class_ids=self.classes)

    @property
    def source(self) -> str:
        return f"generated data (seed {self.data_seed}, fold {self.fold}, {self.mode})"

    def _render(self, sample: Sample) -> Tuple[np.ndarray, np.ndarray]:
        _, primary, instance = sample.img_path.rsplit("/", 2)
        img, label = render_episode_image(self.data_seed, int(primary), int(instance), self.mode == "test",
                                          self.image_size, self.classes)
        return img[..., ::-1].copy(), label  # BGR, as mmseg loads images

    def list_samples(self) -> List[Sample]:
        return [Sample(f"generated://seed{self.data_seed}/{self.mode}/{class_id}/{instance}", None)
                for class_id in self.classes for instance in range(self.images_per_class)]

    def files_to_check(self) -> List[str]:
        return []

    def plan_episodes(self) -> EpisodePlan:
        pixels = []
        for sample in self.samples:
            counts = np.bincount(self._render(sample)[1].ravel(), minlength=NUM_CLASSES + 1)
            pixels.append({c: int(counts[c]) for c in range(1, NUM_CLASSES + 1) if counts[c]})
        return pfenet_plan(pixels, self.classes, self.min_class_pixels)

    def load(self, sample: Sample, category: int) -> dict:
        img, label = self._render(sample)
        return dict(img=img, gt_seg_map=binary_label(label, category), seg_fields=["gt_seg_map"],
                    img_path=sample.img_path, seg_map_path=None, img_shape=img.shape[:2], ori_shape=img.shape[:2],
                    reduce_zero_label=False)
