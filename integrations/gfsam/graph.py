"""GF-SAM's point-mask graph and its clustering (Section 3.3; ``matcher/GFSAM.py`` ``mask_cluster``).

Each point prompted one SAM mask. The graph has an edge from point i to point j when point i's mask covers
point j; points whose masks reach one another, in either direction, form one cluster (a weakly connected
component), the candidate regions of one object.
"""
from __future__ import annotations

from typing import Tuple

import torch


def point_mask_graph(grid_masks: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(N, N) bool adjacency: ``[i, j]`` is True when mask i covers point j.

    GFSAM.py ``mask_cluster``: the masks, resized to the grid with nearest-neighbour sampling, are read at
    the points' cells (``adjacent[:, y * w + x]``; the product with the selected cells changes nothing there).

    Args:
        grid_masks: (N, h, w) bool masks on the patch grid, mask i from point i.
        points: (N, 2) long grid cells (x, y).
    """
    return grid_masks[:, points[:, 1], points[:, 0]]


def weak_components(adjacency: torch.Tensor) -> Tuple[torch.Tensor, int]:
    """(labels (N,) long, count) of the weakly connected components of a directed graph.

    GFSAM.py ``mask_cluster`` uses ``scipy.sparse.csgraph.connected_components(connection='weak')``; its labels
    number the components in the order of their smallest node, as these do (the strong components it also
    computes are never used). Each node takes the smallest label among its neighbours, both directions, until
    nothing changes; the surviving labels (each component's smallest node) are then numbered 0, 1, ...
    """
    count = adjacency.shape[0]
    linked = adjacency | adjacency.t() | torch.eye(count, dtype=torch.bool, device=adjacency.device)
    labels = torch.arange(count, device=adjacency.device)
    while True:
        spread = torch.where(linked, labels[None, :], count).amin(1)
        if torch.equal(spread, labels):
            break
        labels = spread
    roots, labels = torch.unique(labels, return_inverse=True)
    return labels, roots.numel()
