"""Segment your own images from a few annotated examples: the Python API behind tools/infer.py."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmseg.structures import SegDataSample

from crc_modules.registry import MODELS
from .checkpoint import read_model_state
from .datasets.base import read_image, read_label
from .transforms import LongerSideResizePad

ImageLike = Union[str, np.ndarray]
MaskLike = Union[str, np.ndarray, Sequence[int]]


@dataclass
class Prediction:
    """A query's ``mask`` (H, W) uint8 in {0, 1} and foreground ``probability`` (H, W) float32, at its own size."""

    mask: np.ndarray
    probability: np.ndarray


def parse_box(text: str) -> Tuple[int, int, int, int]:
    """'x0,y0,x1,y1' -> a box (x1, y1 exclusive)."""
    parts = text.split(",")
    if len(parts) != 4 or not all(p.strip().lstrip("-").isdigit() for p in parts):
        raise ValueError(f"a box must be 'x0,y0,x1,y1' in pixels, got {text!r}")
    return tuple(int(p) for p in parts)


def load_image(image: ImageLike, name: str = "image") -> Tuple[np.ndarray, str]:
    """(BGR uint8 (H, W, 3), name) from a path, or from an RGB array as the user holds it."""
    if isinstance(image, str):
        return read_image(image), image
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"{name} must be an (H, W, 3) uint8 RGB array, got {array.dtype} {array.shape}")
    return np.ascontiguousarray(array[..., ::-1]), name


def load_mask(mask: MaskLike, shape: Tuple[int, int], name: str) -> np.ndarray:
    """A binary (H, W) uint8 mask from a mask image / array (any nonzero pixel = object) or a box; checked."""
    if isinstance(mask, str) and os.path.isfile(mask):
        mask, name = read_label(mask) > 0, mask
    elif isinstance(mask, str):
        mask = parse_box(mask)
    if isinstance(mask, (tuple, list)):
        x0, y0, x1, y1 = mask
        if not (0 <= x0 < x1 <= shape[1] and 0 <= y0 < y1 <= shape[0]):
            raise ValueError(f"box {tuple(mask)} for {name} is not inside its {shape[1]}x{shape[0]} image")
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


class FewShotPredictor:
    """Masks for new images from k annotated supports, with a trained model (Section 4.6 for k > 1).

    Example::

        predictor = FewShotPredictor.from_config('configs/crcnet_generated.py', 'work_dirs/.../weights.pth')
        predictor.set_supports([('cat1.jpg', 'cat1.png'), ('cat2.jpg', (10, 20, 200, 180))])
        result = predictor.predict('query.jpg')   # result.mask, result.probability

    Args:
        segmentor (nn.Module): A :class:`FewShotSegmentor` (any model it hosts).
        size (int, optional): Images are resized so the longer side is ``size`` and padded (PFENet's
            protocol); default: the config's test size, else each query's own longer side.
        device (str): 'cpu' or 'cuda'.
    """

    def __init__(self, segmentor: torch.nn.Module, size: Optional[int] = None, device: str = "cpu"):
        self.segmentor = segmentor.to(device).eval()
        self.size, self.device = size, device
        self.supports: Optional[Tuple[list, list]] = None

    @classmethod
    def from_config(cls, config: str, checkpoint: Optional[str] = None, device: str = "cpu",
                    kshot_mode: Optional[str] = None, size: Optional[int] = None) -> "FewShotPredictor":
        cfg = Config.fromfile(config)
        model_cfg = cfg.model.copy()
        if kshot_mode:
            model_cfg.setdefault("test_cfg", {})["kshot_mode"] = kshot_mode
        segmentor = MODELS.build(model_cfg)
        if checkpoint:
            segmentor.load_state_dict(read_model_state(checkpoint))
        if size is None:
            sizes = [t.get("size") for t in cfg.test_dataloader.dataset.get("pipeline", [])
                     if t.get("type") == "LongerSideResizePad"]
            size = sizes[0] if sizes else None
        return cls(segmentor, size=size, device=device)

    def _resize(self, image: np.ndarray, mask: np.ndarray, size: int) -> dict:
        return LongerSideResizePad(size)(dict(img=image, gt_seg_map=mask, seg_fields=["gt_seg_map"]))

    def set_supports(self, supports: Sequence[Tuple[ImageLike, MaskLike]]) -> None:
        """Read and check the k annotated examples once: ``[(image, mask or box), ...]``."""
        if not supports:
            raise ValueError("give at least one support: an image and its mask or box")
        loaded = []
        for index, (image, mask) in enumerate(supports):
            image, name = load_image(image, f"support {index + 1}")
            loaded.append((image, load_mask(mask, image.shape[:2], name)))
        self.supports = ([image for image, _ in loaded], [mask for _, mask in loaded])

    @torch.no_grad()
    def predict(self, query: ImageLike, supports: Optional[Sequence[Tuple[ImageLike, MaskLike]]] = None) -> Prediction:
        """The query's mask and probability at the query's original size."""
        if supports is not None:
            self.set_supports(supports)
        if self.supports is None:
            raise ValueError("no supports: call set_supports() or pass supports=")
        query_img, _ = load_image(query, "query")
        height, width = query_img.shape[:2]
        size = self.size or max(height, width)
        query_in = self._resize(query_img, np.zeros((height, width), np.uint8), size)
        support_in = [self._resize(img, mask, size) for img, mask in zip(*self.supports)]
        as_tensor = lambda array: torch.from_numpy(np.ascontiguousarray(array))  # noqa: E731
        data = dict(inputs=dict(
            query=[as_tensor(query_in["img"].transpose(2, 0, 1))],
            supports=[torch.stack([as_tensor(s["img"].transpose(2, 0, 1)) for s in support_in])],
            support_labels=[torch.stack([as_tensor(s["gt_seg_map"]) for s in support_in])],
        ))
        data = self.segmentor.data_preprocessor(data)
        sample = SegDataSample(metainfo=dict(valid_shape=query_in["valid_shape"]))
        (sample,) = self.segmentor.predict(data["inputs"], [sample])
        probability = torch.nn.functional.interpolate(sample.seg_logits.data[None].float(), size=(height, width),
                                                      mode="bilinear", align_corners=False)[0, 0]
        probability = probability.cpu().numpy().astype(np.float32)
        return Prediction(mask=(probability > self.segmentor.threshold).astype(np.uint8), probability=probability)
