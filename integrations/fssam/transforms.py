"""FSSAM's training augmentations that mmseg lacks (``util/transform_new.py``, PFENet's): a random scale of the image's
own size and a random Gaussian blur. Registered in mmseg's ``TRANSFORMS``."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomScale(BaseTransform):
    """Scale image and label by one factor drawn uniformly from ``ratio_range`` of their own size (``RandScale``:
    bilinear image, nearest label, the aspect ratio kept), unlike mmcv's ``RandomResize``, which scales a fixed
    target size."""

    def __init__(self, ratio_range: Sequence[float] = (0.9, 1.1)):
        low, high = ratio_range
        if not 0 < low <= high:
            raise ValueError(f"ratio_range must be 0 < low <= high, got {ratio_range}")
        self.ratio_range = (float(low), float(high))

    def transform(self, results: dict) -> dict:
        factor = np.random.uniform(*self.ratio_range)
        results["img"] = cv2.resize(results["img"], None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
        for key in results.get("seg_fields", []):
            results[key] = cv2.resize(results[key], None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
        results["img_shape"] = results["img"].shape[:2]
        return results


@TRANSFORMS.register_module()
class RandomGaussianBlur(BaseTransform):
    """With probability ``prob``, blur the image with a ``kernel`` x ``kernel`` Gaussian (sigma from the kernel size,
    cv2's rule); labels unchanged (``RandomGaussianBlur(radius=5)``, p 0.5)."""

    def __init__(self, kernel: int = 5, prob: float = 0.5):
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"kernel must be an odd positive size, got {kernel}")
        self.kernel, self.prob = kernel, prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            results["img"] = cv2.GaussianBlur(results["img"], (self.kernel, self.kernel), 0)
        return results
