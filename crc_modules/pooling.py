"""Foreground (masked) average pooling, Section 4.4 (after CANet, ref. [63])."""
from __future__ import annotations

import torch
from torch import nn

from .layers import resize_to
from .registry import MODELS


def masked_average_pool(features: torch.Tensor, mask: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Average of ``features`` over the foreground of ``mask``.

    The mask is resized bilinearly to the feature size, so its values act as soft weights.
    An all-background mask gives the zero vector (documented, finite; never NaN).

    Args:
        features (Tensor): (B, C, H, W) feature maps.
        mask (Tensor): (B, 1, h, w) foreground mask in [0, 1]; any spatial size.
        eps (float): Added to the mask area so that an empty mask divides by eps, not zero.

    Returns:
        Tensor: (B, C) pooled vectors.
    """
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"mask must have shape (B, 1, h, w), got {tuple(mask.shape)}")
    if mask.shape[0] != features.shape[0]:
        raise ValueError(f"mask batch {mask.shape[0]} does not match features batch {features.shape[0]}")
    mask = resize_to(mask.to(features.dtype), features.shape[-2:])  # (B, 1, H, W)
    area = mask.sum(dim=(2, 3))  # (B, 1)
    return (features * mask).sum(dim=(2, 3)) / (area + eps)


@MODELS.register_module()
class MaskedAveragePool(nn.Module):
    """Module form of :func:`masked_average_pool`: (features (B,C,H,W), mask (B,1,h,w)) -> (B,C)."""

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return masked_average_pool(features, mask, self.eps)
