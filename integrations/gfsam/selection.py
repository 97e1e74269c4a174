"""GF-SAM's cluster classification, point consistency and triplet selection (Section 3.4; ``matcher/GFSAM.py``
``cluster_classification``, ``point_consistency_dis``, ``triplet_selection_b``).

Tensors: N points, each with its SAM mask; C clusters of points (:mod:`~integrations.gfsam.graph`); maps on
the (h, w) patch grid.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F

from .priors import masked_similarity

SCORE_EPS = 1e-6  # GFSAM.py cluster_classification: mask scores ``/ (area + 1e-6)``
SELECTED, UNDECIDED, REJECTED = 1, 2, 0  # the point labels of point_consistency_dis


def mask_on_patch_grid(masks: torch.Tensor, grid: Tuple[int, int], mode: str) -> torch.Tensor:
    """(N, 1, h, w) float: (N, 1, H, W) masks resized to the grid with ``mode`` ('nearest' for the graph,
    'bilinear' with ``align_corners=False`` for the scores; GFSAM.py ``mask_cluster``, ``cluster_classification``)."""
    if mode == "nearest":
        return F.interpolate(masks.float(), size=grid, mode="nearest")
    return F.interpolate(masks.float(), size=grid, mode="bilinear", align_corners=False)


def classify_clusters(grid_masks: torch.Tensor, labels: torch.Tensor, count: int, positive: torch.Tensor,
                      negative: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Which masks are foreground, (N,) bool, and each point's cluster score, (N,) float ("mask growth").

    GFSAM.py ``cluster_classification``: a cell is positive where ``positive > negative`` (GF-SAM passes
    ``mean+^2`` and ``mean- * (max mean+ + min mean+) / 2``). In each cluster the masks are taken in the order
    of their mean ``positive - negative`` over the mask (descending); a mask's part not yet covered is
    accepted when it holds more positive than negative cells, and is then added to the covered region. Every
    point of the cluster gets the last mask's ``positive - negative`` cell count as its score.

    Args:
        grid_masks: (N, 1, h, w) masks on the grid, bilinear (:func:`mask_on_patch_grid`).
        labels: (N,) cluster of each point; ``count`` clusters.
        positive, negative: (h, w) maps.
    """
    foreground = torch.zeros(labels.shape[0], dtype=torch.bool, device=labels.device)
    scores = torch.zeros(labels.shape[0], device=labels.device)
    positive_cells = (positive > negative).float()
    for cluster in range(count):
        members = torch.where(labels == cluster)[0]
        masks = grid_masks[members]  # (n, 1, h, w)
        mask_scores = (masks * (positive - negative)[None, None]).sum(dim=(-1, -2, -3))
        mask_scores = mask_scores / (masks.sum(dim=(-1, -2, -3)) + SCORE_EPS)
        covered = torch.zeros_like(masks[0])
        for index in mask_scores.argsort(descending=True):
            uncovered = masks[index] * (1 - covered)
            positive_score = (positive_cells * uncovered).sum()
            negative_score = ((1 - positive_cells) * uncovered).sum()
            if positive_score > negative_score:
                covered += uncovered
                foreground[members[index]] = True
        scores[members] = positive_score - negative_score
    return foreground, scores


def cluster_unions(masks: torch.Tensor, labels: torch.Tensor, count: int, grid: Tuple[int, int]) -> torch.Tensor:
    """(C, h * w): each cluster's union of full-size masks, resized to the grid bilinearly (GFSAM.py
    ``point_consistency_dis``: the union is taken before resizing)."""
    unions = torch.cat([masks[labels == cluster].any(0, keepdim=True) for cluster in range(count)])
    return mask_on_patch_grid(unions, grid, "bilinear").flatten(1)


def point_consistency(self_similarity: torch.Tensor, union_masks: torch.Tensor, points: torch.Tensor,
                      labels: torch.Tensor, foreground: torch.Tensor, grid_width: int) -> torch.Tensor:
    """Each point's label: 1 selected, 2 undecided, 0 rejected, (N,) long (GFSAM.py ``point_consistency_dis``).

    A point's affinity to a cluster is the query's mean self-similarity to the cluster's union mask, read at
    the point, divided by the distance from the point to the cluster's nearest point (1 for its own cluster).
    A point is consistent when its own cluster has the highest affinity; a cluster with fewer consistent than
    inconsistent points has none. Consistent foreground points are selected; points that are consistent or
    foreground, not both, are undecided; the others are rejected.

    Args:
        self_similarity: (L, L) :func:`~integrations.gfsam.priors.pixelwise_cosine` of the query with itself.
        union_masks: (C, L) :func:`cluster_unions`.
        points: (N, 2) long grid cells (x, y).
        labels: (N,) cluster of each point.
        foreground: (N,) :func:`classify_clusters`.
        grid_width: w, of the grid of ``L = h * w`` cells (x fastest).
    """
    count = union_masks.shape[0]
    affinity = torch.stack([masked_similarity(self_similarity[None], union_masks[cluster:cluster + 1])[1][0]
                            for cluster in range(count)])  # (C, L)
    affinity = affinity[:, points[:, 1] * grid_width + points[:, 0]]  # (C, N)
    distance = torch.cdist(points.float(), points.float())  # (N, N)
    nearest = torch.stack([distance[:, labels == cluster].amin(1) for cluster in range(count)])  # (C, N)
    nearest[nearest == 0] = 1
    consistent = affinity.div(nearest).max(dim=0)[1] == labels
    for cluster in range(count):
        members = labels == cluster
        agreeing = consistent[members].sum()
        if agreeing < members.sum() - agreeing:
            consistent[members] = False
    point_labels = (consistent | foreground).long() * UNDECIDED
    point_labels[consistent & foreground] = SELECTED
    return point_labels


def final_mask(masks: torch.Tensor, point_labels: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """(H, W) bool: the union of the selected points' masks, or, when that is empty, the mask of the undecided
    point with the highest cluster score (GFSAM.py ``triplet_selection_b``; its probability map is not part of
    the mask and is not computed here).

    Reading: when no point is undecided every score counts as 0 and GF-SAM's ``max`` takes the first point's mask.
    """
    selected = masks[point_labels == SELECTED].any(0)[0]  # all False when no point is selected
    if selected.any():
        return selected
    undecided_scores = torch.where(point_labels == UNDECIDED, scores, torch.zeros_like(scores))
    return masks[undecided_scores.max(dim=0)[1]][0]
