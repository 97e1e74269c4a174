"""DINOv2 (Oquab et al., 2023) from ``timm`` in Meta's released sizes, and the patch tokens GF-SAM compares.

GF-SAM builds Meta's own ``dinov2`` ViTs (``matcher/GFSAM.py`` ``build_model``: img_size 518, patch 14,
LayerScale 1e-5); ``timm``'s ``vit_*_patch14_dinov2`` are the same networks under nearly the same names
(:func:`~integrations.gfsam.weights.meta_dinov2_to_timm` maps Meta's files onto them).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer

from integrations.foundation.dinov2 import DINOV2_IMAGE_SIZE, DINOV2_MODELS, build_dinov2

__all__ = ["DINOV2_IMAGE_SIZE", "DINOV2_MODELS", "build_dinov2", "dinov2_patch_tokens"]


def dinov2_patch_tokens(model: VisionTransformer, images: torch.Tensor, image_size: int) -> torch.Tensor:
    """(N, L, C) patch tokens of the last block, before the final norm, without the class token.

    GFSAM.py ``extract_img_feats``: ``Resize(518)`` of the image tensor (bilinear; no antialiasing in torchvision
    0.14.1, which GF-SAM's requirements.txt pins; torchvision 0.17+ antialiases by default, which moves a few of
    the 128 points when the released code runs on a current install), then
    ``forward_features(x)['x_prenorm'][:, 1:]``. The images come normalised with ImageNet's mean and std, which
    GF-SAM applies after resizing (the two commute).

    Reading: GF-SAM resizes the shorter side to 518 and assumes a square image (its 1024x1024 inputs); any
    image is resized here to 518x518, so the grid is always square.
    """
    resized = F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False)
    return model.forward_intermediates(resized, indices=1, norm=False, output_fmt="NLC", intermediates_only=True)[0]
