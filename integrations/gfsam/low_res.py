"""GF-SAM's point masks read at SAM's low resolution: the graph and the selection read each mask only on DINOv2's
patch grid, so the full-size masks are evaluated at the few pixels those reads sample, and only the masks of the
answer are brought to full size.

SAM upsamples a point's 256x256 logits to its 1024 frame, crops the padding and resizes to the image, all bilinear
(``Sam.postprocess_masks``; SAM2: one resize to the image). Each step is linear and separable, so a full-size pixel's
logit is a row of one matrix times the low-resolution logits times a column of another; the grid reads (nearest, and
bilinear without antialiasing) sample known pixels. The values equal the full-size path's up to float rounding (a
pixel flips only where its logit is within that rounding of SAM's threshold, 0).
"""
from __future__ import annotations

from typing import Sequence, Tuple

import torch
import torch.nn.functional as F

Step = Tuple[str, Tuple[int, int]]  # ('resize', (h, w)): bilinear, corners not aligned; ('crop', (h, w)): the top-left


def bilinear_matrix(out_size: int, in_size: int, device=None) -> torch.Tensor:
    """(out, in) matrix of a 1-D bilinear resize as ``F.interpolate(mode='bilinear', align_corners=False)`` samples
    (no antialiasing; source coordinates below 0 clamped to 0)."""
    position = ((torch.arange(out_size, dtype=torch.float64, device=device) + 0.5) * (in_size / out_size) - 0.5)
    position = position.clamp(min=0)
    low = position.floor().long().clamp(max=in_size - 1)
    high = (low + 1).clamp(max=in_size - 1)
    weight = position - low
    matrix = torch.zeros(out_size, in_size, dtype=torch.float64, device=device)
    rows = torch.arange(out_size, device=device)
    matrix.index_put_((rows, low), 1 - weight, accumulate=True)
    matrix.index_put_((rows, high), weight, accumulate=True)
    return matrix.float()


def nearest_indices(out_size: int, in_size: int, device=None) -> torch.Tensor:
    """The source index of each output of a 1-D ``F.interpolate(mode='nearest')``."""
    scale = in_size / out_size
    return (torch.arange(out_size, device=device, dtype=torch.float32) * scale).floor().long().clamp(max=in_size - 1)


def resampling_matrices(steps: Sequence[Step], low_size: Tuple[int, int],
                        device=None) -> Tuple[torch.Tensor, torch.Tensor]:
    """(rows (H, h0), columns (W, w0)): the full-size logits are ``rows @ low @ columns.T`` after ``steps``."""
    rows = torch.eye(low_size[0], device=device)
    columns = torch.eye(low_size[1], device=device)
    for kind, (height, width) in steps:
        if kind == "resize":
            rows = bilinear_matrix(height, rows.shape[0], device) @ rows
            columns = bilinear_matrix(width, columns.shape[0], device) @ columns
        else:
            rows, columns = rows[:height], columns[:width]
    return rows, columns


def full_size(logits: torch.Tensor, steps: Sequence[Step]) -> torch.Tensor:
    """(N, 1, H, W) logits after ``steps``, the mask model's own resizing (``F.interpolate``)."""
    for kind, size in steps:
        logits = (F.interpolate(logits, size, mode="bilinear", align_corners=False) if kind == "resize"
                  else logits[..., :size[0], :size[1]])
    return logits


class LowResMasks:
    """N point masks kept as SAM's (N, 1, h0, w0) logits: what the graph and the selection read of them, and the
    full-size masks of the points the answer takes (``masks[index]``, as the full masks are indexed)."""

    def __init__(self, logits: torch.Tensor, steps: Sequence[Step], grid: Tuple[int, int], threshold: float = 0.0):
        self.logits, self.steps, self.grid, self.threshold = logits, list(steps), grid, threshold
        rows, columns = resampling_matrices(steps, logits.shape[-2:], logits.device)
        size = (rows.shape[0], columns.shape[0])
        self.shape = (logits.shape[0], 1, *size)
        # the pixels each grid read samples: nearest cells, and the two neighbours of each bilinear cell per axis
        self.down = [bilinear_matrix(cells, length, logits.device) for cells, length in zip(grid, size)]
        nearest = [nearest_indices(cells, length, logits.device) for cells, length in zip(grid, size)]
        sampled = [torch.unique(torch.cat([near, down.nonzero()[:, 1]])) for near, down in zip(nearest, self.down)]
        self.sampled = sampled
        self.nearest_at = [torch.searchsorted(samples, near) for samples, near in zip(sampled, nearest)]
        values = rows[sampled[0]] @ logits.float()[:, 0] @ columns[sampled[1]].T  # (N, r, c)
        self.binary = values > threshold

    def nearest(self) -> torch.Tensor:
        """(N, h, w) bool: the masks resized to the grid by nearest neighbours."""
        return self.binary[:, self.nearest_at[0]][:, :, self.nearest_at[1]]

    def _bilinear(self, binary: torch.Tensor) -> torch.Tensor:
        down_rows, down_columns = self.down[0][:, self.sampled[0]], self.down[1][:, self.sampled[1]]
        return down_rows @ binary.float() @ down_columns.T

    def bilinear(self) -> torch.Tensor:
        """(N, 1, h, w): the masks resized to the grid bilinearly (corners not aligned, no antialiasing)."""
        return self._bilinear(self.binary)[:, None]

    def unions(self, labels: torch.Tensor, count: int) -> torch.Tensor:
        """(C, h * w): each cluster's union of masks, resized to the grid bilinearly after the union."""
        unions = torch.stack([self.binary[labels == cluster].any(0) for cluster in range(count)])
        return self._bilinear(unions).flatten(1)

    def __getitem__(self, index) -> torch.Tensor:
        """The full-size bool masks of the points ``index`` selects, (n, 1, H, W) (or (1, H, W) for one point)."""
        selected = self.logits[index].float()
        one = selected.dim() == 3
        masks = full_size(selected[None] if one else selected, self.steps) > self.threshold
        return masks[0] if one else masks
