"""SAM2 (Ravi et al., 2024) from Meta's ``sam2`` as GF-SAM's mask generator instead of SAM: the query's image
features and one mask per point prompt, as ``SAM2ImagePredictor.set_image`` and ``_predict`` compute them.

Reading: GF-SAM's release prompts SAM only; with SAM2 the same points (SAM's pixel coordinates in SAM2's
1024x1024 frame) give one mask each (``multimask_output=False``), thresholded at 0 as SAM2's predictor does.
"""
from __future__ import annotations

from typing import Iterator, Sequence, Tuple

import torch
import torch.nn.functional as F

from integrations.foundation.sam2_models import build_sam2_model

from .points import prompt_coordinates

__all__ = ["build_sam2", "sam2_image_embedding", "sam2_point_logits", "sam2_resize_steps"]


def build_sam2(size: str, hydra_overrides: Sequence[str] = ()) -> torch.nn.Module:
    """An un-weighted SAM2 of ``size`` ('tiny' | 'small' | 'base_plus' | 'large'), the ``sam2`` package's 2024-07
    configs (:func:`integrations.foundation.sam2_models.build_sam2_model`); ``hydra_overrides`` for tiny tests."""
    return build_sam2_model(size, hydra_overrides=tuple(hydra_overrides)).eval()


def sam2_image_embedding(sam2, images: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """(image embedding (N, 256, 64, 64), high-resolution features...) of normalised images.

    ``SAM2ImagePredictor.set_image``: the image resized to SAM2's square input (torchvision's ``Resize`` on
    tensors: bilinear, antialiased), normalised with ImageNet's mean and std (the host did), the backbone's
    features with the no-memory embedding added to the last level, each reshaped to (N, C, h, w).
    """
    size = sam2.image_size
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    _, features, _, feature_sizes = sam2._prepare_backbone_features(sam2.forward_image(images))
    if sam2.directly_add_no_mem_embed:
        features[-1] = features[-1] + sam2.no_mem_embed
    maps = [feature.permute(1, 2, 0).reshape(images.shape[0], -1, *hw) for feature, hw in zip(features, feature_sizes)]
    return (maps[-1], *maps[:-1])


def sam2_resize_steps(sam2, image_hw: Tuple[int, int]) -> list:
    """SAM2's resizing of its low-resolution logits to the image (``SAM2Transforms.postprocess_masks``: bilinear,
    corners not aligned; :mod:`.low_res` steps)."""
    return [("resize", tuple(image_hw))]


def sam2_point_logits(sam2, embedding: Sequence[torch.Tensor], grid_points: torch.Tensor, grid: Tuple[int, int],
                      image_hw: Tuple[int, int], batch_size: int) -> Iterator[torch.Tensor]:
    """One (B, 1, 256, 256) low-resolution logit map per point prompt, ``batch_size`` points at a time
    (``SAM2ImagePredictor._predict`` with one positive point per prompt and ``multimask_output=False``); the mask is
    these resized by :func:`sam2_resize_steps`, > 0."""
    image_embedding, *high_res = embedding
    coordinates = prompt_coordinates(grid_points, grid, (sam2.image_size, sam2.image_size))
    dense_pe = sam2.sam_prompt_encoder.get_dense_pe()
    for start in range(0, coordinates.shape[0], batch_size):
        batch = coordinates[start:start + batch_size, None, :]  # (B, 1, 2)
        labels = torch.ones(batch.shape[:2], dtype=torch.int, device=batch.device)
        sparse, dense = sam2.sam_prompt_encoder(points=(batch, labels), boxes=None, masks=None)
        yield sam2.sam_mask_decoder(image_embeddings=image_embedding, image_pe=dense_pe,
                                    sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                    multimask_output=False, repeat_image=batch.shape[0] > 1,
                                    high_res_features=high_res or None)[0]
