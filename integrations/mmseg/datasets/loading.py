"""Loading steps of an episode's images, registered as mmcv transforms so that ``backend_args`` apply.

An episodic dataset runs ``LoadEpisodeImage`` and ``LoadEpisodeLabel`` on the query and on every support
before the config's ``pipeline``, as mmseg runs ``LoadImageFromFile`` and ``LoadAnnotations`` before its
augmentations; the label step needs the episode's class, which the dataset puts in ``results``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmseg.registry import TRANSFORMS

from crc_modules.labels import IGNORE_INDEX

from .checks import check_label_values
from .images import decode_binary_mask, decode_class_label, decode_image, read_bytes

LABEL_FORMATS = ("class_index", "mask")


def binary_label(label: np.ndarray, category: int) -> np.ndarray:
    """1 where ``label`` is ``category``, 255 where it is 255 (ignore), 0 elsewhere (other classes: PFENet, HSNet)."""
    return np.where(label == IGNORE_INDEX, IGNORE_INDEX, label == category).astype(np.uint8)


def check_same_size(img: np.ndarray, label: np.ndarray, img_path: str, label_path: str) -> None:
    if img.shape[:2] != label.shape:
        raise ValueError(f"image {img_path} is {img.shape[1]}x{img.shape[0]} but its label {label_path} is "
                         f"{label.shape[1]}x{label.shape[0]}")


@TRANSFORMS.register_module()
class LoadEpisodeImage(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` (BGR uint8, ``backend_args``) with errors that name the file.

    A missing file, an undecodable file and a truncated JPEG (which OpenCV would decode with a grey
    bottom and only a warning) each raise.
    """

    def transform(self, results: dict) -> dict:
        path = results["img_path"]
        img = decode_image(read_bytes(path, "image", self.backend_args), path)
        results["img"] = img.astype(np.float32) if self.to_float32 else img
        results["img_shape"] = results["ori_shape"] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadEpisodeLabel(BaseTransform):
    """The binary label of ``results['episode_class']``: 1 the class, 0 the rest, 255 ignored.

    Args:
        label_format (str): 'class_index' (PASCAL / COCO PNGs: one class id per pixel, 255 ignored) or
            'mask' (FSS-1000: HSNet's grey >= 128 is the object, no ignore region).
        num_classes (int, optional): Highest class id a class-index label may hold; other values than
            0..num_classes and 255 are an error naming the file. None: not checked.
        backend_args (dict, optional): MMEngine file backend arguments.
    """

    def __init__(self, label_format: str = "class_index", num_classes: Optional[int] = None,
                 backend_args: Optional[dict] = None):
        if label_format not in LABEL_FORMATS:
            raise ValueError(f"label_format must be one of {LABEL_FORMATS}, got {label_format!r}")
        self.label_format, self.num_classes = label_format, num_classes
        self.backend_args = None if backend_args is None else dict(backend_args)

    def transform(self, results: dict) -> dict:
        path = results["seg_map_path"]
        data = read_bytes(path, "label", self.backend_args)
        if self.label_format == "mask":
            binary = decode_binary_mask(data, path)
        else:
            label = decode_class_label(data, path)
            if self.num_classes is not None:
                check_label_values(label, self.num_classes, path)
            binary = binary_label(label, results["episode_class"])
        check_same_size(results["img"], binary, results["img_path"], path)
        results["gt_seg_map"] = binary
        results.setdefault("seg_fields", []).append("gt_seg_map")
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(label_format={self.label_format!r}, num_classes={self.num_classes})"
