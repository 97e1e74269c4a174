"""Label and image transforms of the episodes: box supports (Table 14) and PFENet's test-time resizing."""
from __future__ import annotations

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from crc_modules.labels import IGNORE_INDEX


def box_label(label: np.ndarray) -> np.ndarray:
    """Weak annotation (Table 14): each object (8-connected foreground component) replaced by its box.

    Ignore pixels (``IGNORE_INDEX``) inside no box stay ignored; pixels inside a box become foreground.
    """
    foreground = (label == 1).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(foreground, connectivity=8)
    boxes = np.where(label == IGNORE_INDEX, IGNORE_INDEX, 0).astype(np.uint8)
    for x, y, w, h, _ in stats[1:count]:
        boxes[y:y + h, x:x + w] = 1
    return boxes


@TRANSFORMS.register_module()
class LongerSideResizePad(BaseTransform):
    """Resize so the longer side is ``size`` (keeping the aspect ratio), then pad bottom/right to size x size.

    Records ``valid_shape`` (the resized, unpadded size) so a prediction can be cropped back before
    it is resized to the original label (PFENet's test protocol). Labels are resized with nearest
    neighbours and padded with ``seg_pad_val`` (255 = ignored).

    Args:
        size (int): Side of the square output (473 for PFENet, 321 for CRCNet).
        pad_val (int): Image padding value. Default: 0.
        seg_pad_val (int): Label padding value. Default: 255.
    """

    def __init__(self, size: int, pad_val: int = 0, seg_pad_val: int = IGNORE_INDEX):
        self.size, self.pad_val, self.seg_pad_val = size, pad_val, seg_pad_val

    def _resize_pad(self, array: np.ndarray, shape, interpolation: int, value: int) -> np.ndarray:
        resized = cv2.resize(array, (shape[1], shape[0]), interpolation=interpolation)
        out = np.full((self.size, self.size) + resized.shape[2:], value, dtype=array.dtype)
        out[: shape[0], : shape[1]] = resized
        return out

    def transform(self, results: dict) -> dict:
        height, width = results["img"].shape[:2]
        scale = self.size / max(height, width)
        shape = (max(1, round(height * scale)), max(1, round(width * scale)))
        results["img"] = self._resize_pad(results["img"], shape, cv2.INTER_LINEAR, self.pad_val)
        for key in results.get("seg_fields", []):
            results[key] = self._resize_pad(results[key], shape, cv2.INTER_NEAREST, self.seg_pad_val)
        results["img_shape"] = results["pad_shape"] = (self.size, self.size)
        results["valid_shape"] = shape
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, pad_val={self.pad_val}, seg_pad_val={self.seg_pad_val})"
