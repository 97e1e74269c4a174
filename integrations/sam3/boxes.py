"""A support's exemplar boxes from its mask: SAM 3 takes boxes, the hosts' supports are masks."""
from __future__ import annotations

from typing import List

import cv2
import numpy as np

BOX_MODES = ("components", "union")


def mask_box(mask: np.ndarray) -> List[float]:
    """``[x, y, w, h]`` of a (H, W) mask's pixels: the first pixel's corner and ``max - min`` as the size (the rule of
    FSS-SAM3's PASCAL-5i loader, ``data/dataset_tool.py``, for its largest instance)."""
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min()), float(ys.max() - ys.min())]


def support_boxes(mask: np.ndarray, mode: str = "components") -> List[List[float]]:
    """The exemplar boxes ``[[x, y, w, h], ...]`` of a (H, W) support mask (any nonzero pixel is the object).

    Reading: FSS-SAM3 prompts one instance's box; a support marked by a mask holds every instance of the class, so
    'components' gives one box per 8-connected component (each an instance where instances do not touch), in
    the order of their first pixel, and 'union' the one box around them all.

    Raises:
        ValueError: the mask has no object pixel.
    """
    if mode not in BOX_MODES:
        raise ValueError(f"support box mode must be one of {BOX_MODES}, got {mode!r}")
    binary = np.asarray(mask) > 0
    if not binary.any():
        raise ValueError("the support mask has no object pixel: SAM 3 needs a box of the object")
    if mode == "union":
        return [mask_box(binary)]
    _, _, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    return [[float(x), float(y), float(w - 1), float(h - 1)] for x, y, w, h, _ in stats[1:]]
