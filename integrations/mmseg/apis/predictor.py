"""Segment your own images from a few annotated examples: the Python API behind tools/infer.py.

A support set is prepared once (read, resized, encoded and, for k-shot finetuning, finetuned once); each
query then costs one query encoding and the model's head.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config

from crc_modules import MultiScaleSupportSet, SupportSet

from ..datasets.images import read_drawn_mask, read_image
from ..datasets.transforms import LongerSideResizePad
from ..models.segmentor import FewShotSegmentor

ImageLike = Union[str, np.ndarray]
MaskLike = Union[str, np.ndarray, Sequence[int]]
DEFAULT_WORKING_SIZE = 473  # PFENet's test size, for configs that name none
_BOX = re.compile(r"^\s*-?[\d.]+\s*(,\s*-?[\d.]+\s*){3}$")


@dataclass
class Prediction:
    """A query's ``mask`` (H, W) uint8 in {0, 1} and foreground ``probability`` (H, W) float32, at its own size."""

    mask: np.ndarray
    probability: np.ndarray


def check_box(box: Sequence, name: str = "support") -> Tuple[int, int, int, int]:
    """(x0, y0, x1, y1) in whole pixels with x1 > x0 and y1 > y0 (x1, y1 exclusive); errors say what is wrong."""
    if len(box) != 4:
        raise ValueError(f"box of {name} must be 'x0,y0,x1,y1' in pixels, got {tuple(box)}")
    if not all(isinstance(value, (int, np.integer)) for value in box):
        raise ValueError(f"box of {name} must have whole-pixel coordinates, got {tuple(box)}")
    x0, y0, x1, y1 = (int(value) for value in box)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {(x0, y0, x1, y1)} of {name} is empty or reversed: it needs x1 > x0 and y1 > y0")
    return x0, y0, x1, y1


def parse_box(text: str, name: str = "support") -> Tuple[int, int, int, int]:
    """'x0,y0,x1,y1' -> a checked box (see :func:`check_box`)."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.lstrip("-").isdigit() for part in parts):
        raise ValueError(f"box of {name} must have whole-pixel coordinates, got {text!r}")
    return check_box([int(part) for part in parts], name)


def load_image(image: ImageLike, name: str = "image") -> Tuple[np.ndarray, str]:
    """(BGR uint8 (H, W, 3), name) from a path, or from an RGB array as the user holds it."""
    if isinstance(image, str):
        return read_image(image), image
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"{name} must be an (H, W, 3) uint8 RGB array, got {array.dtype} {array.shape}")
    return np.ascontiguousarray(array[..., ::-1]), name


def load_mask(mask: MaskLike, shape: Tuple[int, int], name: str) -> np.ndarray:
    """A binary (H, W) uint8 mask from a mask file or array (any nonzero pixel = object) or a box; checked.

    A mask file that uses transparency is its painted pixels (alpha >= 128); a file's EXIF orientation is
    applied as to images. A string is a box when it reads ``x0,y0,x1,y1``, else the path of a mask image.
    """
    if isinstance(mask, str) and _BOX.match(mask):
        mask = parse_box(mask, name)
    elif isinstance(mask, str):
        if not os.path.isfile(mask):
            raise FileNotFoundError(f"mask file of {name} not found: {mask}")
        mask, name = read_drawn_mask(mask), mask
    if isinstance(mask, (tuple, list)):
        x0, y0, x1, y1 = check_box(mask, name)
        if not (0 <= x0 and 0 <= y0 and x1 <= shape[1] and y1 <= shape[0]):
            raise ValueError(f"box {(x0, y0, x1, y1)} of {name} is not inside its {shape[1]}x{shape[0]} image")
        box = np.zeros(shape, np.uint8)
        box[y0:y1, x0:x1] = 1
        return box
    mask = np.asarray(mask)
    if mask.shape[:2] != tuple(shape):
        raise ValueError(f"mask of {name} is {mask.shape[1]}x{mask.shape[0]} but its image is {shape[1]}x{shape[0]}")
    binary = (mask.reshape(mask.shape[0], mask.shape[1], -1).max(axis=2) > 0).astype(np.uint8)
    if not binary.any():
        raise ValueError(f"mask of {name} is empty: annotate at least one object pixel")
    return binary


def working_size(cfg: Config) -> int:
    """The longer side images are resized to: the config's test ``LongerSideResizePad``, its ``Resize`` scale,
    its dataset's ``image_size``, else :data:`DEFAULT_WORKING_SIZE`."""
    dataset = cfg.test_dataloader.dataset
    for transform in dataset.get("pipeline", []):
        if transform.get("type") == "LongerSideResizePad":
            return int(transform["size"])
        if transform.get("type") == "Resize" and transform.get("scale"):
            return int(max(transform["scale"]))
    return int(dataset.get("image_size", DEFAULT_WORKING_SIZE))


class FewShotPredictor:
    """Masks for new images from k annotated supports, with a trained model (Section 4.6 for k > 1).

    Example::

        predictor = FewShotPredictor.from_config('configs/crcnet_generated.py', 'work_dirs/.../weights.pth')
        predictor.set_supports([('cat1.jpg', 'cat1.png'), ('cat2.jpg', (10, 20, 200, 180))])
        result = predictor.predict('query.jpg')   # result.mask, result.probability

    Every image (supports and queries) is resized so its longer side is ``size`` and padded (PFENet's
    test protocol); a query's result is mapped back to its own size, so memory does not grow with it.

    Args:
        segmentor (nn.Module): A :class:`FewShotSegmentor` (any model it hosts); its ``test_cfg`` sets the
            k-shot mode and fusion, scales and precision.
        size (int): The working size (longer side). Default: :data:`DEFAULT_WORKING_SIZE`.
        device (str): 'cpu' or 'cuda'.
    """

    def __init__(self, segmentor: torch.nn.Module, size: int = DEFAULT_WORKING_SIZE, device: str = "cpu"):
        self.segmentor = segmentor.to(device).eval()
        self.size, self.device = size, device
        self.support_set: Optional[Union[SupportSet, MultiScaleSupportSet]] = None

    @classmethod
    def from_config(cls, config: str, checkpoint: Optional[str] = None, device: str = "cpu",
                    kshot_mode: Optional[str] = None, kshot_fusion: Optional[str] = None, size: Optional[int] = None,
                    precision: Optional[str] = None, scales: Optional[Sequence[float]] = None) -> "FewShotPredictor":
        """A predictor of a config's model with a checkpoint's weights (read weights-only)."""
        cfg = Config.fromfile(config)
        segmentor = FewShotSegmentor.from_config(cfg, checkpoint, kshot_mode=kshot_mode, kshot_fusion=kshot_fusion,
                                                 precision=precision, scales=scales)
        return cls(segmentor, size=size or working_size(cfg), device=device)

    def _to_input(self, image: np.ndarray,
                  mask: Optional[np.ndarray] = None) -> Tuple[torch.Tensor, Optional[torch.Tensor], Tuple[int, int]]:
        """(normalised (1, 3, S, S), label (1, S, S) or None, valid (h, w)) at the working size S."""
        results = dict(img=image, seg_fields=[])
        if mask is not None:
            results.update(gt_seg_map=mask, seg_fields=["gt_seg_map"])
        resized = LongerSideResizePad(self.size)(results)
        image = torch.from_numpy(np.ascontiguousarray(resized["img"].transpose(2, 0, 1))).to(self.device)
        label = None
        if mask is not None:
            label = torch.from_numpy(np.ascontiguousarray(resized["gt_seg_map"])).long().to(self.device)[None]
        return self.segmentor.data_preprocessor.normalize(image)[None], label, resized["valid_shape"]

    @torch.no_grad()
    def set_supports(self, supports: Sequence[Tuple[ImageLike, MaskLike]]) -> None:
        """Read, check and prepare the k annotated examples once: ``[(image, mask or box), ...]``.

        With k-shot finetuning (``finetune`` / ``both``) the model is finetuned here, once for all queries.
        """
        if not supports:
            raise ValueError("give at least one support: an image and its mask or box")
        images, labels = [], []
        for index, (image, mask) in enumerate(supports):
            image, name = load_image(image, f"support {index + 1}")
            support_img, support_label, _ = self._to_input(image, load_mask(mask, image.shape[:2], name))
            images.append(support_img)
            labels.append(support_label)
        self.support_set = self.segmentor.prepare_supports(torch.cat(images), torch.cat(labels))

    @torch.no_grad()
    def predict(self, query: ImageLike, supports: Optional[Sequence[Tuple[ImageLike, MaskLike]]] = None) -> Prediction:
        """The query's mask and probability at the query's own size (``supports`` replaces the support set)."""
        if supports is not None:
            self.set_supports(supports)
        if self.support_set is None:
            raise ValueError("no supports: call set_supports() or pass supports=")
        query_img, _ = load_image(query, "query")
        height, width = query_img.shape[:2]
        query_in, _, valid_shape = self._to_input(query_img)
        del query_img  # a full-size copy: not kept while the full-size probability is made
        probability, mask = self.segmentor.postprocess(self.support_set.predict(query_in), (height, width), valid_shape)
        return Prediction(mask=mask[0].to(torch.uint8).cpu().numpy(), probability=probability[0].float().cpu().numpy())
