"""The centre-pivot 4D convolution of HSNet (Min et al., ICCV 2021, "center-pivot 4D convolution").

A 4D correlation tensor (B, C, Hq, Wq, Hs, Ws) is convolved with a 4D kernel whose support is limited to
two 2D "pivot" planes through its centre: one over the query positions at the centre support position,
one over the support positions at the centre query position. It is therefore the sum of two 2D
convolutions, one sliding over (Hq, Wq) for every support position and one over (Hs, Ws) for every
query position.
"""
from __future__ import annotations

import torch
from torch import nn


class CenterPivotConv4d(nn.Module):
    """Centre-pivot 4D convolution with a kernel of side ``kernel_size`` and stride ``support_stride`` on (Hs, Ws).

    ``conv1`` slides over the query plane (Hq, Wq) at the strided support positions; ``conv2`` slides
    over the support plane (Hs, Ws) with ``support_stride`` at every query position; their outputs add.
    Padding is ``kernel_size // 2`` on all four axes, so the query plane keeps its size and the support
    plane shrinks to ceil(H / stride). (``conv1``/``conv2`` are the released module names.)

    Args:
        in_channels (int): Channels C of the input tensor.
        out_channels (int): Channels of the output tensor.
        kernel_size (int): Side of the kernel on every axis (odd).
        support_stride (int): Stride on the two support axes; the query axes have stride 1. Default: 1.
        bias (bool): Biases of the two 2D convolutions. Default: True.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, support_stride: int = 1,
                 bias: bool = True):
        super().__init__()
        padding = kernel_size // 2
        self.support_stride = support_stride
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=bias)
        self.conv2 = nn.Conv2d(in_channels, out_channels, kernel_size, stride=support_stride, padding=padding,
                               bias=bias)

    def forward(self, correlation: torch.Tensor) -> torch.Tensor:
        """(B, C, Hq, Wq, Hs, Ws) -> (B, out_channels, Hq, Wq, ceil(Hs / stride), ceil(Ws / stride))."""
        batch, channels, query_h, query_w = correlation.shape[:4]
        pivots = correlation[..., ::self.support_stride, ::self.support_stride]  # support positions kept
        support_h, support_w = pivots.shape[-2:]
        # conv1 over the query plane, one 2D image per kept support position
        over_query = pivots.permute(0, 4, 5, 1, 2, 3).reshape(-1, channels, query_h, query_w)
        over_query = self.conv1(over_query).view(batch, support_h, support_w, -1, query_h, query_w)
        over_query = over_query.permute(0, 3, 4, 5, 1, 2)  # (B, out, Hq, Wq, Hs', Ws')
        # conv2 over the support plane, one 2D image per query position
        over_support = correlation.permute(0, 2, 3, 1, 4, 5).reshape(-1, channels, *correlation.shape[-2:])
        over_support = self.conv2(over_support).view(batch, query_h, query_w, -1, support_h, support_w)
        over_support = over_support.permute(0, 3, 1, 2, 4, 5)  # (B, out, Hq, Wq, Hs', Ws')
        return (over_query + over_support).contiguous()
