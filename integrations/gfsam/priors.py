"""GF-SAM's similarity priors (Section 3.2 of the paper; ``matcher/GFSAM.py``: ``extract_img_feats``,
``generate_pixelwise_comparison``, ``generate_prior`` and the start of ``predict``).

DINOv2 patch tokens of the query are compared with those of each support; the support's object (positive)
and its background (negative) each give a prior over the query's patch grid, and their comparison gives the
map from which the point prompts are drawn. Tensors: tokens (L, C) or (K, L, C) with L = h * w patches.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F

COSINE_EPS = 1e-7  # GFSAM.py: the cosine's and the mask-area's epsilon (``cosine_eps``, ``+ 1e-7``)
MIN_MAX_EPS = 1e-6  # GFSAM.py predict(): ``/ (max - min + 1e-6)``


def normalise_over_tokens(tokens: torch.Tensor) -> torch.Tensor:
    """(N, L, C) tokens with each channel scaled to unit L2 norm over the image's L tokens (GFSAM.py
    ``extract_img_feats``: ``F.normalize(feats, dim=1, p=2)``).

    Reading: dim 1 of GF-SAM's (N, L, C) features is the token axis, so each channel is normalised over the
    image, not each token over its channels; the cosine that follows then compares the re-weighted channels.
    """
    return F.normalize(tokens, p=2, dim=1)


def pixelwise_cosine(query: torch.Tensor, supports: torch.Tensor) -> torch.Tensor:
    """(K, L_s, L_q) cosine similarity of every support token with every query token.

    GFSAM.py ``generate_pixelwise_comparison``: ``bmm(s, q^T) / (bmm(|s|, |q|^T) + 1e-7)``, norms over channels.

    Args:
        query: (L_q, C) query tokens.
        supports: (K, L_s, C) tokens of K images (supports, or the query itself for its self-similarity).
    """
    query_t = query.t()[None].expand(supports.shape[0], -1, -1)  # (K, C, L_q)
    query_norm = torch.norm(query_t, 2, 1, True)  # (K, 1, L_q)
    support_norm = torch.norm(supports, 2, 2, True)  # (K, L_s, 1)
    return torch.bmm(supports, query_t) / (torch.bmm(support_norm, query_norm) + COSINE_EPS)


def mask_on_grid(masks: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
    """(K, L) masks on the patch grid: (K, 1, H, W) resized bilinearly with ``align_corners=True`` and flattened
    (GFSAM.py ``generate_prior``: ``F.interpolate(mask, (h, w), mode='bilinear', align_corners=True)``)."""
    return F.interpolate(masks.float(), size=grid, mode="bilinear", align_corners=True).flatten(1)


def masked_similarity(similarity: torch.Tensor, grid_masks: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per image, the (max, mean) similarity of each query token to the tokens inside a mask: each (K, L_q).

    GFSAM.py ``generate_prior``: with ``s = similarity * mask``, the max prior is ``max_i s[i, q]`` and the
    mean prior ``mean_i s[i, q] / (sum(mask) / L + 1e-7)``, i.e. the mask-weighted mean similarity.

    Args:
        similarity: (K, L_s, L_q) from :func:`pixelwise_cosine`.
        grid_masks: (K, L_s) masks on the grid (:func:`mask_on_grid`), values in [0, 1].
    """
    masked = similarity * grid_masks[:, :, None]
    area = grid_masks.sum(1, keepdim=True) / similarity.shape[2]  # GF-SAM divides by the query's token count
    return masked.max(1)[0], masked.mean(1) / (area + COSINE_EPS)


def similarity_priors(similarity: torch.Tensor, grid_masks: torch.Tensor,
                      grid: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
    """The (max prior, mean prior) over the query grid, each (h, w), averaged over the K shots.

    GFSAM.py ``generate_prior``: each shot's priors (:func:`masked_similarity`) are averaged over the shots;
    this is how GF-SAM takes k shots (one set of priors, one set of points, one mask).
    """
    max_prior, mean_prior = masked_similarity(similarity, grid_masks)
    return max_prior.mean(0).view(grid), mean_prior.mean(0).view(grid)


def min_max_normalise(values: torch.Tensor) -> torch.Tensor:
    """``(v - min v) / (max v - min v + 1e-6)`` (GFSAM.py ``predict``)."""
    return (values - values.min()) / (values.max() - values.min() + MIN_MAX_EPS)


def point_prior(max_prior: torch.Tensor, mean_prior: torch.Tensor, negative_mean_prior: torch.Tensor) -> torch.Tensor:
    """The map the points are drawn from, (h, w) in [0, 1] (GFSAM.py ``predict``, before ``find_points``).

    ``P = norm(mean+ * max+)``, ``N = norm(mean-)`` with ``norm`` the min-max normalisation; cells where the
    negative prior wins (``N > P``) are set to 0: ``P * [N <= P]``.
    """
    positive = min_max_normalise(mean_prior * max_prior)
    negative = min_max_normalise(negative_mean_prior)
    return positive * ~(negative > positive)
