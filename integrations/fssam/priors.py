"""FSSAM's similarity priors (Xiong et al., ICML 2025, Sec. 3.2 "pseudo prompt generator"): where a query resembles
a support's foreground prototype, in DINOv2's features (the pseudo masks that prompt SAM 2) and in SAM 2's memory
features (the weights of the iterative memory refinement).

Written from ``model/FSSAM.py`` and ``model/FSSAM5s.py`` (``Weighted_GAP``, ``cos_sim``, ``generate_prior_proto``,
``generate_prior_mem``): a k-shot prior is the mean of the k one-shot priors, each normalised on its own (FSSAM5s);
at one shot the two files compute the same.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-7  # FSSAM's cosine_eps / cos_eps
AREA_EPS = 5e-4  # Weighted_GAP's guard against an empty mask


def masked_average(features: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(N, C) prototype of (N, C, h, w) features weighted by (N, 1, h, w) soft masks (``Weighted_GAP``)."""
    area = masks.sum((-2, -1)) + AREA_EPS
    return (features * masks).sum((-2, -1)) / area


def min_max(values: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``values`` rescaled to [0, 1] along ``dim`` (min-max with FSSAM's epsilon)."""
    low, high = values.amin(dim, keepdim=True), values.amax(dim, keepdim=True)
    return (values - low) / (high - low + EPS)


def prototype_similarity(features: torch.Tensor, prototype: torch.Tensor) -> torch.Tensor:
    """(N, h*w) cosine similarity of each position of (N, C, h, w) ``features`` to a (N, C) ``prototype``
    (``cos_sim``: the norms' product plus epsilon in the denominator)."""
    tokens = features.flatten(2)  # (N, C, hw)
    dots = torch.einsum("nc,nck->nk", prototype, tokens)
    return dots / (prototype.norm(dim=1, keepdim=True) * tokens.norm(dim=1) + EPS)


def _upsample(maps: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=True)


class PseudoPromptGenerator(nn.Module):
    """The two pseudo masks of the query from DINOv2 features (``generate_prior_proto``, ``normalize=True``).

    Per shot: the cosine similarity of the query's features to the support's foreground and background prototypes,
    each min-max normalised over the query; the foreground prior is the first, the "absolute-foreground" prior the
    part where foreground beats background, ``relu(fg - bg)``, min-max normalised. Both are upsampled (bilinear,
    corners aligned) to ``size`` and averaged over the shots.
    """

    def forward(self, query: torch.Tensor, supports: torch.Tensor, support_masks: torch.Tensor,
                size: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
        """``query`` (B, C, h, w), ``supports`` (B, K, C, h, w), ``support_masks`` (B, K, 1, H, W) in [0, 1] ->
        (foreground prior, absolute-foreground prior), each ``(B, 1, *size)`` in [0, 1]."""
        batch, shots = supports.shape[:2]
        grid = query.shape[-2:]
        masks = _upsample(support_masks.flatten(0, 1).float(), grid)  # (BK, 1, h, w)
        features = supports.flatten(0, 1)
        queries = query.repeat_interleave(shots, dim=0)
        foreground = min_max(prototype_similarity(queries, masked_average(features, masks)))
        background = min_max(prototype_similarity(queries, masked_average(features, 1 - masks)))
        foreground = _upsample(foreground.view(-1, 1, *grid), size)
        background = _upsample(background.view(-1, 1, *grid), size)
        absolute = min_max((foreground - background).clamp(min=0).flatten(1)).view_as(foreground)
        return (foreground.view(batch, shots, *size).mean(1, keepdim=True),
                absolute.view(batch, shots, *size).mean(1, keepdim=True))


def memory_prior(query: torch.Tensor, references: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(B, 1, h, w) similarity of the query's memory features (B, C, h, w) to the prototypes of (B, K, C, h, w)
    reference memories under (B, K, 1, h, w) soft masks, min-max normalised per shot and averaged over shots
    (``generate_prior_mem``)."""
    batch, shots = references.shape[:2]
    prototypes = masked_average(references.flatten(0, 1), masks.flatten(0, 1))
    similarity = min_max(prototype_similarity(query.repeat_interleave(shots, dim=0), prototypes))
    return similarity.view(batch, shots, 1, *query.shape[-2:]).mean(1)
