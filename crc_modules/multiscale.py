"""Multi-scale test, Section 5.3 and Table 2: an episode predicted at several input scales and averaged.

:class:`MultiScaleSupportSet` is a test-time wrapper in the spirit of mmseg's ``SegTTAModel``: one
:class:`~crc_modules.support_set.SupportSet` per scale (supports rescaled and encoded once), each query
rescaled to every scale, the probabilities averaged at the query's own size.
"""
from __future__ import annotations

from typing import Dict, Sequence, Tuple

import torch

from .layers import resize_to
from .support_set import SupportSet

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


class MultiScaleSupportSet:
    """A support set answered at several scales; the probabilities are averaged at the query's size.

    Args:
        support_sets (dict): Scale -> the :class:`SupportSet` of the supports rescaled by it (all with the
            same model, fusion and finetuned weights).
    """

    def __init__(self, support_sets: Dict[float, SupportSet]):
        self.support_sets = support_sets

    @classmethod
    def rescaled(cls, scales: Sequence[float], images: torch.Tensor, labels: torch.Tensor,
                 **support_set_args) -> "MultiScaleSupportSet":
        """One :class:`SupportSet` per scale of ``images`` (K, 3, H, W) and ``labels`` (K, H, W)."""
        return cls({scale: SupportSet(images=rescale_images(images, scale), labels=rescale_labels(labels, scale),
                                      **support_set_args) for scale in scales})

    @property
    def model(self):
        return next(iter(self.support_sets.values())).model

    @torch.no_grad()
    def predict(self, query_img: torch.Tensor) -> torch.Tensor:
        """Foreground probability (1, 1, H', W') of a (1, 3, H', W') query, averaged over the scales."""
        size = query_img.shape[-2:]
        total = sum(support_set.predict(rescale_images(query_img, scale), size)
                    for scale, support_set in self.support_sets.items())
        return total / len(self.support_sets)
