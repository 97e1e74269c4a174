"""Multi-scale test, Section 5.3 and Table 2: an episode is predicted at several input scales and averaged.

:class:`~crc_modules.kshot.KShotPredictor` runs the scales (``scales=MULTI_SCALES``); these helpers
rescale an episode's images and labels.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import torch

from .layers import resize_to

MULTI_SCALES = (0.75, 1.0, 1.25)  # Section 5.1: "a multi-scale strategy with scales [0.75, 1.25]"


def scaled_size(size: Sequence[int], scale: float) -> Tuple[int, int]:
    """(H, W) multiplied by ``scale`` and rounded, at least 1 pixel each."""
    return tuple(max(1, int(round(side * scale))) for side in size)


def rescale_images(images: torch.Tensor, scale: float) -> torch.Tensor:
    """(N, C, H, W) images bilinearly resized by ``scale`` (unchanged at 1)."""
    return resize_to(images, scaled_size(images.shape[-2:], scale))


def rescale_labels(labels: torch.Tensor, scale: float) -> torch.Tensor:
    """(N, H, W) labels resized by ``scale`` with nearest neighbours, so the values stay in {0, 1, 255}."""
    resized = resize_to(labels[:, None].float(), scaled_size(labels.shape[-2:], scale), mode="nearest")
    return resized[:, 0].to(labels.dtype)
