"""Scenes of the generated few-shot data: classes of textured shapes, where only the support tells the target.

A class is a combination of four cues: shape, pattern, hue and outline; the 128 combinations are the
classes. Classes 1..20 are the test classes of the four folds (fold f: 5f+1..5f+5, as PASCAL-5i): within a
fold every value of every cue is shared by at least two classes and any two classes differ in at least two
cues, so no single cue names a class. A fold trains on the other 123 combinations, so a model learns to
match cues between support and query rather than to remember a few classes; every cue value of a test
class is seen in training, in other combinations. Each scene holds the target class and one or two other
classes of the same split that look alike (at most two cues differ), drawn in a random order (the target is
in front as often as behind) with sizes from one distribution (the target is not always the largest).
"""
from __future__ import annotations

import colorsys
import functools
import itertools
from typing import List, NamedTuple, Sequence, Tuple

import cv2
import numpy as np

SHAPES = ("disk", "square", "triangle", "cross")
PATTERNS = ("solid", "striped", "checked", "dotted")
HUES = (("red", 0.0), ("lime", 0.25), ("cyan", 0.5), ("violet", 0.75))
NUM_CLASSES = len(SHAPES) * len(PATTERNS) * len(HUES) * 2  # every combination, outlined or not
NUM_FOLDS, CLASSES_PER_FOLD = 4, 5
# The five codes (shape, pattern, hue, outline bits) of a fold: an even-weight binary code, so two classes
# differ in at least two cues, and each bit is 1 in exactly two codes, so every cue value is shared.
FOLD_CODES = ((0, 0, 0, 0), (0, 0, 1, 1), (0, 1, 0, 1), (1, 0, 1, 0), (1, 1, 0, 0))
RADIUS_RANGE = (0.10, 0.22)  # object radius as a fraction of the image side, the same for every object
DISTRACTOR_CUE_DIFFERENCE = 2  # distractors differ from the target in at most this many cues (when possible)


class Appearance(NamedTuple):
    """The four cues of a class."""

    shape: str
    pattern: str
    hue_name: str
    hue: float
    outlined: bool

    @property
    def name(self) -> str:
        return f"{self.hue_name} {self.pattern} {self.shape}" + (" outlined" if self.outlined else "")

    def difference(self, other: "Appearance") -> int:
        """How many of the four cues differ."""
        return sum(a != b for a, b in zip((self.shape, self.pattern, self.hue_name, self.outlined),
                                          (other.shape, other.pattern, other.hue_name, other.outlined)))


def _fold_class(fold: int, index: int) -> Appearance:
    shape_bit, pattern_bit, hue_bit, outline_bit = FOLD_CODES[index]
    hue_name, hue = HUES[(fold - hue_bit) % len(HUES)]
    return Appearance(SHAPES[(fold + shape_bit) % len(SHAPES)], PATTERNS[(fold + 2 * pattern_bit) % len(PATTERNS)],
                      hue_name, hue, bool(outline_bit))


@functools.lru_cache(maxsize=None)
def all_appearances() -> Tuple[Appearance, ...]:
    """Class ``c`` is entry ``c - 1``: the folds' test classes first (see FOLD_CODES), then the other combinations."""
    test_classes = [_fold_class(fold, index) for fold in range(NUM_FOLDS) for index in range(CLASSES_PER_FOLD)]
    others = [Appearance(shape, pattern, hue_name, hue, outlined)
              for shape, pattern, (hue_name, hue), outlined in itertools.product(SHAPES, PATTERNS, HUES, (False, True))]
    return tuple(test_classes + [look for look in others if look not in test_classes])


def class_appearance(class_id: int) -> Appearance:
    """The cues of class ``class_id`` (1..NUM_CLASSES)."""
    if not 1 <= class_id <= NUM_CLASSES:
        raise ValueError(f"generated class ids are 1..{NUM_CLASSES}, got {class_id}")
    return all_appearances()[class_id - 1]


def _shape_mask(shape: str, grid: Tuple[np.ndarray, np.ndarray], center, radius: float, angle: float) -> np.ndarray:
    xs, ys = grid
    dx, dy = xs - center[0], ys - center[1]
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    if shape == "disk":
        return np.hypot(u, v) < radius
    if shape == "square":
        return (np.abs(u) < 0.8 * radius) & (np.abs(v) < 0.8 * radius)
    if shape == "cross":
        arm = radius / 3
        return ((np.abs(u) < arm) & (np.abs(v) < radius)) | ((np.abs(v) < arm) & (np.abs(u) < radius))
    inside = np.ones_like(u, dtype=bool)  # triangle: three half-planes of an equilateral triangle
    for k in range(3):
        theta = 2 * np.pi * k / 3
        inside &= u * np.cos(theta) + v * np.sin(theta) < radius / 2
    return inside


def _pattern(pattern: str, grid: Tuple[np.ndarray, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """A map in {0, 1} choosing between an object's bright and dark colour."""
    xs, ys = grid
    period = rng.uniform(5, 8)
    if pattern == "solid":
        return np.ones_like(xs)
    if pattern == "striped":
        angle = rng.uniform(0, np.pi)
        return (np.sin(2 * np.pi * (xs * np.cos(angle) + ys * np.sin(angle)) / period) > 0).astype(np.float32)
    if pattern == "checked":
        return ((np.floor(xs / period) + np.floor(ys / period)) % 2).astype(np.float32)
    return (np.hypot((xs % period) - period / 2, (ys % period) - period / 2) < period / 3.5).astype(np.float32)


def _rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value), np.float32) * 255


def _grid(size: int) -> Tuple[np.ndarray, np.ndarray]:
    """(xs, ys) pixel coordinates of a size x size image."""
    return tuple(np.mgrid[0:size, 0:size][::-1].astype(np.float32))


def scene_objects(seed: int, primary: int, instance: int, split: int, size: int,
                  split_classes: Sequence[int]) -> Tuple[np.random.Generator, List[Tuple[int, np.ndarray]]]:
    """(the scene's generator, [(class id, mask), ...] in drawing order) of one scene.

    One or two objects of ``primary`` and one or two objects of each of one or two other classes of
    ``split_classes`` that look alike (see DISTRACTOR_CUE_DIFFERENCE), shuffled, each with a radius from
    :data:`RADIUS_RANGE`, anywhere in the image.
    """
    rng = np.random.default_rng((seed, primary, instance, split))
    others = [c for c in split_classes if c != primary]
    alike = [c for c in others
             if class_appearance(c).difference(class_appearance(primary)) <= DISTRACTOR_CUE_DIFFERENCE]
    others = alike or others
    distractors = rng.choice(others, size=min(len(others), int(rng.integers(1, 3))), replace=False) if others else []
    classes = [primary] * int(rng.integers(1, 3))
    for class_id in distractors:
        classes += [int(class_id)] * int(rng.integers(1, 3))
    grid = _grid(size)
    objects = []
    for class_id in rng.permutation(classes).tolist():
        radius = rng.uniform(*RADIUS_RANGE) * size
        center = rng.uniform(radius, size - radius, size=2)
        objects.append((class_id, _shape_mask(class_appearance(class_id).shape, grid, center, radius,
                                              rng.uniform(0, np.pi))))
    return rng, objects


def render_scene(seed: int, primary: int, instance: int, split: int, size: int,
                 split_classes: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 (size, size, 3), class-index label) of one scene, a pure function of its arguments.

    The objects of :func:`scene_objects` painted in order on a smooth random background; each object is
    labelled with its class where it is visible.
    """
    rng, objects = scene_objects(seed, primary, instance, split, size, split_classes)
    coarse = rng.uniform(40, 215, size=(4, 4, 3)).astype(np.float32)
    img = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_LINEAR)
    img += rng.normal(0, 12, size=img.shape).astype(np.float32)
    label = np.zeros((size, size), np.int32)
    grid = _grid(size)
    for class_id, mask in objects:
        look = class_appearance(class_id)
        bright = _rgb(look.hue + rng.normal(0, 0.015), 0.85, rng.uniform(0.8, 1.0))
        dark = _rgb(look.hue, 0.6, 0.3)
        modulation = _pattern(look.pattern, grid, rng)[..., None]
        img[mask] = (modulation * bright + (1 - modulation) * dark)[mask]
        if look.outlined:
            rim = mask & ~cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2).astype(bool)
            img[rim] = 250.0
        label[mask] = class_id
    return np.clip(img, 0, 255).astype(np.uint8), label
