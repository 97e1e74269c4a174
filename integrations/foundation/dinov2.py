"""DINOv2 (Oquab et al., 2023) from ``timm`` in Meta's released sizes, shared by the families that use it.

Meta's ``dinov2`` ViTs (img_size 518, patch 14, LayerScale) are ``timm``'s ``vit_*_patch14_dinov2`` under nearly the
same names: timm builds no masked-image-modelling token, and names ViT-g's SwiGLU layers otherwise.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # timm is the [foundation] extra's: imported where a DINOv2 is built
    from timm.models.vision_transformer import VisionTransformer

# Meta's hub names (GF-SAM's --dinov2-size) -> timm's models (ViT-g is 'vit_giant2' in Meta's code, SwiGLU MLPs)
DINOV2_MODELS = {"vit_small": "vit_small_patch14_dinov2", "vit_base": "vit_base_patch14_dinov2",
                 "vit_large": "vit_large_patch14_dinov2", "vit_giant2": "vit_giant_patch14_dinov2"}
DINOV2_IMAGE_SIZE = 518  # Meta's models: the position embedding's grid is 518 / 14 = 37 patches a side


def build_dinov2(size: str, image_size: int = DINOV2_IMAGE_SIZE, **architecture) -> "VisionTransformer":
    """An un-weighted DINOv2 ViT of ``size`` ('vit_small' | 'vit_base' | 'vit_large' | 'vit_giant2') from timm,
    without a classifier; ``architecture`` overrides timm's arguments (``embed_dim``, ``depth``, ``num_heads``;
    tests build tiny ViTs this way)."""
    import timm  # only the DINOv2 families import timm

    if size not in DINOV2_MODELS:
        raise ValueError(f"dinov2 must be one of {sorted(DINOV2_MODELS)}, got {size!r}")
    return timm.create_model(DINOV2_MODELS[size], pretrained=False, num_classes=0, img_size=image_size,
                             **architecture)
