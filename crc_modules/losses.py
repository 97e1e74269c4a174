"""The loss every hosted model shares: cross-entropy of logits upsampled to the label (Eq. 4 and 5)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .labels import IGNORE_INDEX
from .layers import resize_to


def upsampled_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX,
                            align_corners: bool = False) -> torch.Tensor:
    """Cross-entropy of (B, 2, h, w) logits bilinearly upsampled to the (B, H, W) labels' size.

    On 2-class softmax logits this equals the binary cross-entropy of Eq. 4 on the foreground probability.
    """
    logits = resize_to(logits, labels.shape[-2:], align_corners=align_corners)
    return F.cross_entropy(logits.float(), labels.long(), ignore_index=ignore_index)
