"""Small building blocks shared by the CRC modules.

Section 5.1: "All the convolutional layers in our proposed modules have the kernel size of 3x3 and
generate features of 256 channels, followed by the ReLU activation function." The helpers below
default to exactly that; the few layers the paper specifies otherwise (1x1 transforms of Eq. 1, the
1x7/7x1 kernels of the global convolution block, the 2-channel classifiers) say so where they are used.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def conv_relu(in_channels: int, out_channels: int = 256, kernel_size: int = 3, dilation: int = 1) -> nn.Sequential:
    """A ``kernel_size`` convolution with 'same' padding followed by ReLU (Section 5.1)."""
    padding = dilation * (kernel_size // 2)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation),
        nn.ReLU(inplace=True),
    )


class ResidualConvBlock(nn.Module):
    """Projection to ``channels`` then ``x + conv(relu(conv(x)))``, the "residual convolution" of Fig. 5.

    Args:
        in_channels (int): Channels of the input.
        channels (int): Channels of the projection and of the output. Default: 256.
    """

    def __init__(self, in_channels: int, channels: int = 256):
        super().__init__()
        self.project = conv_relu(in_channels, channels)
        self.residual = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.project(x)
        return F.relu(x + self.residual(x))


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (DeepLab, ref. [4] of the paper): parallel dilated 3x3
    convolutions, a 1x1 branch and an image-pooling branch, concatenated and fused by a 1x1 conv.

    Args:
        in_channels (int): Channels of the input.
        channels (int): Channels of every branch and of the output. Default: 256.
        dilations (Sequence[int]): Dilations of the 3x3 branches. Default: (6, 12, 18).
    """

    def __init__(self, in_channels: int, channels: int = 256, dilations: Sequence[int] = (6, 12, 18)):
        super().__init__()
        self.branches = nn.ModuleList(
            [conv_relu(in_channels, channels, kernel_size=1)]
            + [conv_relu(in_channels, channels, dilation=d) for d in dilations]
        )
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), conv_relu(in_channels, channels, kernel_size=1))
        self.fuse = conv_relu(channels * (len(dilations) + 2), channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.image_pool(x).expand(-1, -1, x.shape[2], x.shape[3])
        return self.fuse(torch.cat([branch(x) for branch in self.branches] + [pooled], dim=1))


class GlobalConvBlock(nn.Module):
    """Global convolution block of Peng et al. (ref. [41]), used in the mask refinement (Section 4.5).

    "Two groups of 1x7 and 7x1 convolutional kernels": one path applies 1x7 then 7x1, the other 7x1
    then 1x7, and the two are summed; a large field of view with few parameters.

    Args:
        channels (int): Input and output channels. Default: 256.
        kernel_size (int): Length k of the 1xk / kx1 kernels. Default: 7.
    """

    def __init__(self, channels: int = 256, kernel_size: int = 7):
        super().__init__()
        pad = kernel_size // 2
        self.row_then_column = nn.Sequential(
            nn.Conv2d(channels, channels, (1, kernel_size), padding=(0, pad)),
            nn.Conv2d(channels, channels, (kernel_size, 1), padding=(pad, 0)),
        )
        self.column_then_row = nn.Sequential(
            nn.Conv2d(channels, channels, (kernel_size, 1), padding=(pad, 0)),
            nn.Conv2d(channels, channels, (1, kernel_size), padding=(0, pad)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.row_then_column(x) + self.column_then_row(x)


def resize_to(x: torch.Tensor, size: Sequence[int], mode: str = "bilinear",
              align_corners: bool = False) -> torch.Tensor:
    """Resize a (B, C, H, W) map to ``size``; a no-op when it already has that size.

    ``align_corners`` applies to bilinear resizing (PFENet resizes with ``align_corners=True``).
    """
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode == "nearest":
        return F.interpolate(x, size=tuple(size), mode="nearest")
    return F.interpolate(x, size=tuple(size), mode=mode, align_corners=align_corners)
