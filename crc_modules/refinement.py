"""Mask refinement module with a probability cache, Section 4.5 and Fig. 7."""
from __future__ import annotations

from typing import List, Optional

import torch
from torch import nn

from .layers import GlobalConvBlock, conv_relu
from .registry import MODELS


@MODELS.register_module()
class MaskRefinement(nn.Module):
    """Recurrently refines a 2-channel mask prediction from features and the cached last probability map.

    Per step: combined block ``relu(conv3x3(cat(features, cache)))`` plus a residual convolution,
    the global convolution block (two groups of 1x7/7x1 kernels) with a skip connection, and a
    3x3 conv + 1x1 classifier to background/foreground logits; the cache then holds the new
    foreground probability. The cache starts at zero (Section 4.5).
    Reading: the conv over ``cat(features, cache)`` is computed as ``W_f * features + W_c * cache``
    (the same linear map), so the feature half is evaluated once per forward, not once per step.
    With ``use_cache=False`` the cache branch is removed and the module runs once (Table 2 baseline).
    ``backprop_steps`` (None: all) limits back-propagation to the last steps, the earlier ones only
    producing the cache (truncated back-propagation through the steps, e.g. for cheap k-shot finetuning).

    Args:
        in_channels (int): Channels of the input features (conditional and cross-reference outputs).
        channels (int): Width of the module. Default: 256.
        num_steps (int): Refinement steps; 10 in Section 5.1. Ignored (1) without the cache.
        use_cache (bool): Feed the last probability map back (Table 2, "Mask Refine"). Default: True.
    """

    def __init__(self, in_channels: int, channels: int = 256, num_steps: int = 10, use_cache: bool = True):
        super().__init__()
        if num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {num_steps}")
        self.use_cache = use_cache
        self.num_steps = num_steps if use_cache else 1
        self.backprop_steps: Optional[int] = None
        self.feature_proj = conv_relu(in_channels, channels)
        self.combine_feature = nn.Conv2d(channels, channels, 3, padding=1)
        self.combine_cache = nn.Conv2d(1, channels, 3, padding=1, bias=False) if use_cache else None
        self.combine_residual = nn.Sequential(
            conv_relu(channels, channels), nn.Conv2d(channels, channels, 3, padding=1)
        )
        self.global_conv = GlobalConvBlock(channels)
        self.classifier = nn.Sequential(conv_relu(channels, channels), nn.Conv2d(channels, 2, kernel_size=1))

    def step(self, feature_term: torch.Tensor, cache: Optional[torch.Tensor]) -> torch.Tensor:
        """One refinement step from the precomputed feature term and the cache (B,1,H,W) -> logits (B,2,H,W)."""
        combined = feature_term if cache is None else feature_term + self.combine_cache(cache)
        combined = torch.relu(combined)
        combined = torch.relu(combined + self.combine_residual(combined))
        refined = torch.relu(combined + self.global_conv(combined))
        return self.classifier(refined)

    def forward(self, features: torch.Tensor, num_steps: Optional[int] = None, return_all: bool = False):
        """(B, in_channels, H, W) -> logits (B, 2, H, W) of the last step, or the list of every step's."""
        steps = 1 if not self.use_cache else (num_steps or self.num_steps)
        feature_term = self.combine_feature(self.feature_proj(features))  # (B, channels, H, W), once
        cache = feature_term.new_zeros(features.shape[0], 1, *features.shape[2:]) if self.use_cache else None
        all_logits: List[torch.Tensor] = []
        first_tracked = 0 if self.backprop_steps is None else steps - self.backprop_steps
        for index in range(steps):
            with torch.set_grad_enabled(torch.is_grad_enabled() and index >= first_tracked):
                logits = self.step(feature_term, cache)
            all_logits.append(logits)
            if self.use_cache:
                cache = torch.softmax(logits, dim=1)[:, 1:2]
        return all_logits if return_all else all_logits[-1]
