"""FSSAM's DINOv2: Meta's ViT from ``timm`` under the names of Meta's hub code, and its last layer's feature map.

The released checkpoints hold the ViT as ``torch.hub.load('facebookresearch/dinov2', 'dinov2_vitb14')`` names it:
timm's names, plus the masked-image-modelling token the network does not use (kept here so the files load strictly).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from integrations.foundation.dinov2 import build_dinov2

FSSAM_DINOV2_SIZE = 560  # FSSAM resizes every image to 560 (40 x 40 patches) for DINOv2
POSITION_OFFSET = 0.1  # Meta's ``interpolate_offset``: the scale factor of the position grid is (40 + 0.1) / 37


def build_fssam_dinov2(size: str = "vit_base", **architecture) -> VisionTransformer:
    """timm's DINOv2 ``size`` with Meta's ``mask_token`` (1, C) beside it, as in the hub model's state dict."""
    vit = build_dinov2(size, **architecture)
    vit.mask_token = nn.Parameter(torch.zeros(1, vit.embed_dim))
    return vit


def _positions(vit: VisionTransformer, rows: int, cols: int) -> torch.Tensor:
    """The position embedding for a ``rows`` x ``cols`` patch grid as Meta's ``interpolate_pos_encoding`` gives it:
    bicubic, no antialiasing, by the scale factor ``(n + 0.1) / M``."""
    embedding = vit.pos_embed.float()
    side = math.isqrt(embedding.shape[1] - 1)
    if (rows, cols) == (side, side):
        return embedding
    grid = embedding[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, mode="bicubic", antialias=False,
                         scale_factor=((rows + POSITION_OFFSET) / side, (cols + POSITION_OFFSET) / side))
    return torch.cat([embedding[:, :1], grid.permute(0, 2, 3, 1).flatten(1, 2)], dim=1)


def last_layer_features(vit: VisionTransformer, images: torch.Tensor, side: int = FSSAM_DINOV2_SIZE) -> torch.Tensor:
    """(N, C, 40, 40) features of (N, 3, H, W) normalised images: resized to ``side`` (bilinear, corners aligned), the
    last block's tokens after the final norm, without the class token (``get_intermediate_layers(..., reshape=True)
    [-1]``)."""
    images = F.interpolate(images, size=(side, side), mode="bilinear", align_corners=True)
    patches = vit.patch_embed.proj(images)
    rows, cols = patches.shape[-2:]
    tokens = torch.cat([vit.cls_token.expand(len(images), -1, -1), patches.flatten(2).transpose(1, 2)], dim=1)
    tokens = tokens + _positions(vit, rows, cols).to(tokens.dtype)
    tokens = vit.norm(vit.blocks(tokens))
    return tokens[:, 1:].transpose(1, 2).unflatten(2, (rows, cols))
