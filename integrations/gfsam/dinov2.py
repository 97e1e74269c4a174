"""DINOv2 (Oquab et al., 2023) from ``timm`` in Meta's released sizes, and the patch tokens GF-SAM compares.

GF-SAM builds Meta's own ``dinov2`` ViTs (``matcher/GFSAM.py`` ``build_model``: img_size 518, patch 14,
LayerScale 1e-5); ``timm``'s ``vit_*_patch14_dinov2`` are the same networks under nearly the same names
(:func:`~integrations.gfsam.weights.meta_dinov2_to_timm` maps Meta's files onto them).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer

# GF-SAM's --dinov2-size names -> timm's models (ViT-g is 'vit_giant2' in Meta's code, SwiGLU MLPs)
DINOV2_MODELS = {"vit_small": "vit_small_patch14_dinov2", "vit_base": "vit_base_patch14_dinov2",
                 "vit_large": "vit_large_patch14_dinov2", "vit_giant2": "vit_giant_patch14_dinov2"}
DINOV2_IMAGE_SIZE = 518  # GFSAM.py: ``img_size = 518``, the encoder's input and its position embedding's size


def build_dinov2(size: str, image_size: int = DINOV2_IMAGE_SIZE, **architecture) -> VisionTransformer:
    """An un-weighted DINOv2 ViT of ``size`` ('vit_small' | 'vit_base' | 'vit_large' | 'vit_giant2') from timm,
    without a classifier; ``architecture`` overrides timm's arguments (``embed_dim``, ``depth``, ``num_heads``;
    tests build tiny ViTs this way)."""
    import timm  # only GF-SAM imports timm

    if size not in DINOV2_MODELS:
        raise ValueError(f"dinov2 must be one of {sorted(DINOV2_MODELS)}, got {size!r}")
    return timm.create_model(DINOV2_MODELS[size], pretrained=False, num_classes=0, img_size=image_size,
                             **architecture)


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
