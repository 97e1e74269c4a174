"""HSNet's learner: 4D squeezing of each stage's hypercorrelation, coarse-to-fine mixing, a 2D decoder."""
from __future__ import annotations

from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .conv4d import CenterPivotConv4d

SQUEEZE_CHANNELS = (16, 64, 128)  # the three 4D layers of every building block
GROUPS = 4  # GroupNorm groups after each 4D convolution


def squeeze_block(in_channels: int, out_channels: Sequence[int], kernel_sizes: Sequence[int],
                  support_strides: Sequence[int]) -> nn.Sequential:
    """(centre-pivot 4D conv, GroupNorm, ReLU) x len(out_channels): shrinks the support axes by the strides."""
    layers = []
    for out, kernel, stride in zip(out_channels, kernel_sizes, support_strides):
        layers += [CenterPivotConv4d(in_channels, out, kernel, stride), nn.GroupNorm(GROUPS, out),
                   nn.ReLU(inplace=True)]
        in_channels = out
    return nn.Sequential(*layers)


def resize_query_axes(correlation: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinearly resize (align_corners=True) the query axes (Hq, Wq) of a (B, C, Hq, Wq, Hs, Ws) tensor."""
    batch, channels, _, _, support_h, support_w = correlation.shape
    planes = correlation.permute(0, 4, 5, 1, 2, 3).reshape(-1, channels, *correlation.shape[2:4])
    planes = F.interpolate(planes, size, mode="bilinear", align_corners=True)
    return planes.view(batch, support_h, support_w, channels, *size).permute(0, 3, 4, 5, 1, 2).contiguous()


class HypercorrelationLearner(nn.Module):
    """The learner of HSNet (its ``HPNLearner``, module names and shapes as released).

    Squeezing blocks turn each stage's (B, layers, Hq, Wq, Hs, Ws) correlation into 128 channels with the
    support axes strided down to a few positions (layer4: kernels 3/3/3, strides 2/2/2; layer3: 5/3/3,
    4/2/2; layer2: 5/5/3, 4/4/2); mixing blocks add a deeper stage, resized to the shallower stage's query
    size, and convolve again; the support axes are then averaged out, leaving a 2-D map (B, 128, Hq, Wq)
    at the shallowest stage's resolution, which the decoder turns into 2-class logits at twice that size.

    Reading: the released decoder upsamples to (2W, 2W), which assumes square inputs (HSNet tests at
    400x400); here the map goes to (2H, 2W), identical on square inputs.

    Args:
        layers_per_stage (Sequence[int]): Correlation channels of the stages, deepest first (ResNet-50:
            3, 6, 4).
    """

    def __init__(self, layers_per_stage: Sequence[int]):
        super().__init__()
        deep, middle, shallow = layers_per_stage
        width = SQUEEZE_CHANNELS[-1]
        self.encoder_layer4 = squeeze_block(deep, SQUEEZE_CHANNELS, (3, 3, 3), (2, 2, 2))
        self.encoder_layer3 = squeeze_block(middle, SQUEEZE_CHANNELS, (5, 3, 3), (4, 2, 2))
        self.encoder_layer2 = squeeze_block(shallow, SQUEEZE_CHANNELS, (5, 5, 3), (4, 4, 2))
        self.encoder_layer4to3 = squeeze_block(width, (width,) * 3, (3, 3, 3), (1, 1, 1))
        self.encoder_layer3to2 = squeeze_block(width, (width,) * 3, (3, 3, 3), (1, 1, 1))
        self.decoder1 = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(width, SQUEEZE_CHANNELS[1], 3, padding=1), nn.ReLU())
        self.decoder2 = nn.Sequential(nn.Conv2d(SQUEEZE_CHANNELS[1], SQUEEZE_CHANNELS[1], 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(SQUEEZE_CHANNELS[1], 2, 3, padding=1))

    def squeeze(self, pyramid: Sequence[torch.Tensor]) -> torch.Tensor:
        """Correlations [layer4, layer3, layer2] (B, n_i, Hq_i, Wq_i, Hs_i, Ws_i) -> 2-D map (B, 128, Hq_2, Wq_2)."""
        deep, middle, shallow = (block(correlation) for block, correlation in
                                 zip((self.encoder_layer4, self.encoder_layer3, self.encoder_layer2), pyramid))
        mixed = self.encoder_layer4to3(resize_query_axes(deep, middle.shape[2:4]) + middle)
        mixed = self.encoder_layer3to2(resize_query_axes(mixed, shallow.shape[2:4]) + shallow)
        return mixed.flatten(4).mean(dim=4)  # the support axes averaged out

    def decode(self, feature_map: torch.Tensor) -> torch.Tensor:
        """(B, 128, h, w) -> logits (B, 2, 2h, 2w)."""
        decoded = self.decoder1(feature_map)
        decoded = F.interpolate(decoded, (2 * decoded.shape[-2], 2 * decoded.shape[-1]), mode="bilinear",
                                align_corners=True)
        return self.decoder2(decoded)

    def forward(self, pyramid: Sequence[torch.Tensor]) -> torch.Tensor:
        """Correlations [layer4, layer3, layer2] -> logits (B, 2, 2 Hq_2, 2 Wq_2)."""
        return self.decode(self.squeeze(pyramid))
