"""Cross-reference module and its co-occurrence head, Section 4.3 and Fig. 3."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from .layers import ASPP, conv_relu
from .registry import MODELS

CHANNEL_ACTIVATIONS = ("sigmoid", "relu", "softmax")


@MODELS.register_module()
class CrossReference(nn.Module):
    """Re-weights the support and query maps by their co-occurrent channels (Section 4.3, Fig. 3).

    Each map is globally average pooled and passed through its own two FC layers; an activation
    turns each vector into channel importances; the two vectors are multiplied element-wise, and
    that one fused vector re-weights both input maps: ``G_s = F_s * w``, ``G_q = F_q * w`` with
    ``w = act(fc_s(gap(F_s))) * act(fc_q(gap(F_q)))``.

    Reading of a vague passage: the hidden width of the FC pair is not given; it defaults to the
    input width (256 in the model), with ReLU between the two FC layers.

    Args:
        channels (int): Channels C of both input maps.
        hidden_channels (int, optional): Width of the first FC layer. Default: ``channels``.
        activation (str): 'sigmoid' (paper, importances in [0, 1]), 'relu' or 'softmax' over the
            channels (Table 6). Default: 'sigmoid'.
    """

    def __init__(self, channels: int = 256, hidden_channels: Optional[int] = None, activation: str = "sigmoid"):
        super().__init__()
        if activation not in CHANNEL_ACTIVATIONS:
            raise ValueError(f"activation must be one of {CHANNEL_ACTIVATIONS}, got {activation!r}")
        hidden_channels = hidden_channels or channels
        self.activation = activation
        self.support_fc = self._fc_pair(channels, hidden_channels)
        self.query_fc = self._fc_pair(channels, hidden_channels)

    @staticmethod
    def _fc_pair(channels: int, hidden_channels: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Linear(channels, hidden_channels), nn.ReLU(inplace=True), nn.Linear(hidden_channels, channels)
        )

    def _importance(self, logits: torch.Tensor) -> torch.Tensor:
        if self.activation == "sigmoid":
            return torch.sigmoid(logits)
        if self.activation == "relu":
            return torch.relu(logits)
        return torch.softmax(logits, dim=1)

    def channel_weights(self, support_feat: torch.Tensor, query_feat: torch.Tensor) -> torch.Tensor:
        """The fused importance vector w, (B, C)."""
        support_vec = self._importance(self.support_fc(support_feat.mean(dim=(2, 3))))  # (B, C)
        query_vec = self._importance(self.query_fc(query_feat.mean(dim=(2, 3))))  # (B, C)
        return support_vec * query_vec

    def forward(self, support_feat: torch.Tensor, query_feat: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(F_s (B,C,H_s,W_s), F_q (B,C,H_q,W_q)) -> (G_s, G_q) of the same shapes."""
        weights = self.channel_weights(support_feat, query_feat)[:, :, None, None]  # (B, C, 1, 1)
        return support_feat * weights, query_feat * weights


@MODELS.register_module()
class CoOccurrenceHead(nn.Module):
    """Predicts the co-occurrent object from a reinforced map G (Section 4.3): QM_sub and SM_sub.

    "The decoder is composed of several convolutional layers and ASPP layers. Finally, we generate a
    two-channel prediction with a convolutional layer." Reading: 3x3 conv, ASPP, 3x3 conv, 1x1
    classifier; one head shared by both branches. Used for the auxiliary loss in training only.

    Args:
        in_channels (int): Channels of G. Default: 256.
        channels (int): Width of the hidden layers. Default: 256.
        dilations (tuple[int]): ASPP dilations at 1/8 resolution. Default: (6, 12, 18).
    """

    def __init__(self, in_channels: int = 256, channels: int = 256, dilations: Tuple[int, ...] = (6, 12, 18)):
        super().__init__()
        self.decoder = nn.Sequential(
            conv_relu(in_channels, channels),
            ASPP(channels, channels, dilations),
            conv_relu(channels, channels),
        )
        self.classifier = nn.Conv2d(channels, 2, kernel_size=1)

    def forward(self, reinforced_feat: torch.Tensor) -> torch.Tensor:
        """G (B,C,H,W) -> background/foreground logits (B,2,H,W)."""
        return self.classifier(self.decoder(reinforced_feat))
