"""GF-SAM's point selection (Section 3.2, "positive-negative alignment"; ``matcher/GFSAM.py`` ``find_points``).

The point prior (:func:`~integrations.gfsam.priors.point_prior`) decides both how many points there are (its sum)
and where they are (its largest cells); each point then prompts SAM from the corner of its patch cell.
"""
from __future__ import annotations

from typing import Tuple

import torch

MAX_POINTS = 128  # GFSAM.py find_points: "set maximum to 128 for efficiency"


def point_count(prior: torch.Tensor, max_points: int = MAX_POINTS) -> int:
    """``min(int(sum(prior)), max_points)``, and 1 when that is 0 but the prior is not all zero (GFSAM.py
    ``find_points``): a prior in [0, 1] asks for about one point per cell's worth of mass."""
    total = prior.sum()
    count = min(int(total), max_points)
    return 1 if count == 0 and total > 0 else count


def select_points(prior: torch.Tensor, max_points: int = MAX_POINTS) -> Tuple[torch.Tensor, torch.Tensor]:
    """The (N, 2) grid cells (x, y) of the N = :func:`point_count` largest values of an (h, w) prior, and the
    (h, w) bool map of those cells.

    GFSAM.py ``find_points``: ``topk`` over the flattened prior marks the cells; the points are listed as
    ``np.argwhere(hot.T)``, i.e. ordered by x, then y. Every later step indexes points in this order.
    """
    count = point_count(prior, max_points)
    hot = torch.zeros(prior.numel(), dtype=torch.bool, device=prior.device)
    hot[prior.flatten().topk(count)[1]] = True
    hot = hot.view(prior.shape)
    return torch.nonzero(hot.t()), hot


def prompt_coordinates(points: torch.Tensor, grid: Tuple[int, int], frame: Tuple[int, int]) -> torch.Tensor:
    """(N, 2) float pixel coordinates (x, y) in SAM's input frame (h_in, w_in) of grid cells (x, y).

    GFSAM.py: ``predictor.transform.apply_coords(points, grid)`` scales a cell index by frame / grid (the cell's
    top-left corner, not its centre) and ``generate_sam_masks`` truncates it to an integer pixel.
    """
    scale = torch.tensor([frame[1] / grid[1], frame[0] / grid[0]], dtype=torch.float64, device=points.device)
    return (points.double() * scale).floor().float()
