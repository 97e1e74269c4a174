"""SANSA's training loss (``util/losses.py``, ``loss_masks``): sigmoid focal loss plus dice loss on mask logits.

Per episode, the focal loss is the mean over its pixels and the dice loss ``1 - (2|P*T| + 1) / (|P| + |T| + 1)``
with ``P`` the sigmoid; each is summed over the episodes and divided by their number.

Reading: SANSA's labels have no ignored pixels; here pixels labelled ``ignore_index`` count in neither loss.
"""
from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F

from crc_modules.labels import IGNORE_INDEX

FOCAL_ALPHA = 0.25  # sigmoid_focal_loss(alpha=0.25, gamma=2), RetinaNet's
FOCAL_GAMMA = 2.0


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean over episodes of the per-episode mean focal loss of (B, N) logits against {0, 1} targets."""
    probability = logits.sigmoid()
    cross_entropy = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = probability * targets + (1 - probability) * (1 - targets)
    alpha_t = FOCAL_ALPHA * targets + (1 - FOCAL_ALPHA) * (1 - targets)
    loss = alpha_t * cross_entropy * (1 - p_t) ** FOCAL_GAMMA * valid
    return (loss.sum(1) / valid.sum(1).clamp(min=1)).mean()


def dice_loss(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean over episodes of ``1 - (2 sum(P T) + 1) / (sum(P) + sum(T) + 1)`` over (B, N) logits."""
    probability = logits.sigmoid() * valid
    targets = targets * valid
    return (1 - (2 * (probability * targets).sum(1) + 1) / (probability.sum(1) + targets.sum(1) + 1)).mean()


def sansa_mask_loss(logits: torch.Tensor, labels: torch.Tensor,
                    ignore_index: int = IGNORE_INDEX) -> Dict[str, torch.Tensor]:
    """SANSA's ``loss_mask`` (focal) and ``loss_dice`` of (B, H, W) foreground logits against (B, H, W) labels."""
    logits = logits.flatten(1).float()
    valid = (labels != ignore_index).flatten(1).to(logits.dtype)
    targets = (labels == 1).flatten(1).to(logits.dtype)
    return {"loss_mask": sigmoid_focal_loss(logits, targets, valid), "loss_dice": dice_loss(logits, targets, valid)}
