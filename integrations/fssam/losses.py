"""FSSAM's training loss: ``WeightedDiceLoss`` of ``model/FSSAM.py`` (the only term; its auxiliary losses are 0)."""
from __future__ import annotations

import torch

DICE_EPS = 1e-8


def weighted_dice_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``1 - 2 sum(p t) / (sum(p^2) + sum(t^2))``, p the sigmoid of (B, H, W) ``logits``, t
    the labels' foreground (B, H, W); ignored pixels (255) count as background, as in FSSAM's loss."""
    probability = torch.sigmoid(logits).flatten(1)
    target = (labels == 1).float().flatten(1)
    denominator = (probability ** 2).sum(-1) + (target ** 2).sum(-1)
    dice = 1 - 2 * (target * probability).sum(-1) / denominator.clamp(min=DICE_EPS)
    return dice.mean()
