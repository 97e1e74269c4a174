"""Multi-scale test, Section 5.3 and Table 2: predict at several input scales and average the probabilities."""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from .layers import resize_to

EpisodePredictor = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _scaled(size: Sequence[int], scale: float):
    return [max(1, int(round(side * scale))) for side in size]


def multi_scale_probability(
    predict: EpisodePredictor,
    support_imgs: torch.Tensor,
    support_labels: torch.Tensor,
    query_img: torch.Tensor,
    scales: Sequence[float] = (0.75, 1.0, 1.25),
) -> torch.Tensor:
    """Resize supports and query to each scale, predict, resize back bilinearly and average.

    Args:
        predict: ``(support_imgs, support_labels, query_img) -> (1, 1, h, w)`` probability, e.g.
            ``functools.partial(KShotPredictor(...), model)``.
        support_imgs: (K, 3, H, W). support_labels: (K, H, W) in {0, 1, 255} (resized by nearest).
        query_img: (1, 3, H', W').
        scales: Scale factors of both images (Section 5.3 uses 0.75, 1, 1.25).

    Returns:
        (1, 1, H', W') mean foreground probability.
    """
    total = None
    for scale in scales:
        supports = resize_to(support_imgs, _scaled(support_imgs.shape[-2:], scale))
        labels = resize_to(support_labels[:, None].float(), _scaled(support_labels.shape[-2:], scale), "nearest")
        query = resize_to(query_img, _scaled(query_img.shape[-2:], scale))
        probability = resize_to(predict(supports, labels[:, 0].long(), query), query_img.shape[-2:])
        total = probability if total is None else total + probability
    return total / len(scales)
