"""Region-global conditional module, Section 4.4, Figs. 4-6 and Eqs. 1-3."""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.checkpoint import checkpoint

from .layers import ResidualConvBlock, resize_to
from .pooling import masked_average_pool
from .registry import MODELS

FUSED_ATTENTION = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION]
CHUNK_SCORES = 2 ** 22  # similarity entries per query chunk when no fused kernel applies (16 MiB in fp32)


def memory_linear_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``softmax(query key^T) value`` (scale 1) of (..., Lq, K), (..., Lk, K), (..., Lk, C), never with Lq x Lk scores.

    Uses a fused kernel of ``scaled_dot_product_attention`` (on the CPU: contiguous inputs with K == C)
    and otherwise goes through the queries in chunks of at most ``CHUNK_SCORES`` scores each: without
    autograd in one reused buffer (fp32 or wider), so the peak does not depend on how the allocator
    reuses freed chunks; with autograd each chunk is recomputed in backward instead of kept.
    """
    query, key, value = query.contiguous(), key.contiguous(), value.contiguous()
    try:
        with sdpa_kernel(FUSED_ATTENTION), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the reasons a fused kernel does not apply
            return F.scaled_dot_product_attention(query, key, value, scale=1.0)
    except RuntimeError:  # no fused kernel for these inputs (or out of memory: chunks need less)
        batch_elements = query[..., 0, 0].numel()  # the scores of a chunk are rows x keys for every one of them
        rows = max(1, CHUNK_SCORES // (key.shape[-2] * batch_elements))
        if torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value)):
            return torch.cat([checkpoint(F.scaled_dot_product_attention, chunk, key, value, scale=1.0,
                                         use_reentrant=False) for chunk in query.split(rows, dim=-2)], dim=-2)
        return _attention_in_one_buffer(query, key, value, rows)


def _attention_in_one_buffer(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, rows: int) -> torch.Tensor:
    """Chunked attention without autograd: every chunk's scores go into the same buffer (fp32 or wider)."""
    dtype = torch.promote_types(query.dtype, torch.float32)
    key_t, value = key.to(dtype).transpose(-1, -2), value.to(dtype)
    out = value.new_empty(query.shape[:-1] + value.shape[-1:])
    scores = value.new_empty(query.shape[:-2] + (min(rows, query.shape[-2]), key.shape[-2]))
    for chunk, chunk_out in zip(query.split(rows, dim=-2), out.split(rows, dim=-2)):
        chunk_scores = scores[..., :chunk.shape[-2], :]
        torch.matmul(chunk.to(dtype), key_t, out=chunk_scores)
        chunk_scores.sub_(chunk_scores.amax(dim=-1, keepdim=True)).exp_()  # softmax numerator, stable
        torch.matmul(chunk_scores, value, out=chunk_out)
        chunk_out.div_(chunk_scores.sum(dim=-1, keepdim=True))
    return out.to(query.dtype)


@MODELS.register_module()
class GlobalConditional(nn.Module):
    """Global conditional module (Fig. 5): the category vector as a condition on a feature map.

    The category-relevant vector (foreground average pooling of the guiding image's features) is
    upsampled to the map's size (a broadcast of a 1x1 map), concatenated with the map, and processed
    by a residual convolution.

    Args:
        in_channels (int): Channels C of the feature map and of the category vector.
        channels (int): Output channels. Default: 256.
    """

    def __init__(self, in_channels: int = 256, channels: int = 256):
        super().__init__()
        self.out_channels = channels
        self.fuse = ResidualConvBlock(2 * in_channels, channels)

    def forward(self, feat: torch.Tensor, category_vector: torch.Tensor) -> torch.Tensor:
        """(F (B,C,H,W), v (B,C)) -> (B, channels, H, W)."""
        condition = category_vector[:, :, None, None].expand(-1, -1, feat.shape[2], feat.shape[3])
        return self.fuse(torch.cat([feat, condition], dim=1))


@MODELS.register_module()
class LocalConditional(nn.Module):
    """Local conditional module (Fig. 6, Eqs. 1-3): every query position attends to support positions.

    ``M_sim = theta(F_q)^T delta(F_s)`` (Eq. 1), ``M'_sim = softmax_row(M_sim * Phi(mask))`` (Eq. 2),
    ``F'_q = F_s M'_sim^T`` (Eq. 3); theta and delta are 1x1 conv + ReLU.
    The mask multiplies the similarities of Eq. 2, it does not add -inf: background support
    positions keep score 0 (the literal equation). Because Phi(mask) is constant along each column,
    ``M_sim * Phi(mask) = theta(F_q)^T (delta(F_s) * mask)``, so Eqs. 1-3 are a dot-product attention
    with scale 1, computed by :func:`memory_linear_attention` without an (HW)x(HW) matrix.

    Args:
        in_channels (int): Channels C of the query and support maps.
        key_channels (int): Output channels of theta and delta. Default: 256.
        use_mask (bool): Multiply the similarities by the support mask (Eq. 2); False is the
            "w/o mask" row of Table 7. Default: True.
    """

    def __init__(self, in_channels: int = 256, key_channels: int = 256, use_mask: bool = True):
        super().__init__()
        self.out_channels = in_channels
        self.use_mask = use_mask
        self.theta = nn.Sequential(nn.Conv2d(in_channels, key_channels, 1), nn.ReLU(inplace=True))
        self.delta = nn.Sequential(nn.Conv2d(in_channels, key_channels, 1), nn.ReLU(inplace=True))

    def forward(self, query_feat: torch.Tensor, support_feat: torch.Tensor, support_mask: torch.Tensor) -> torch.Tensor:
        """(F_q (B,C,Hq,Wq), F_s (B,C,Hs,Ws), mask (B,1,h,w)) -> F'_q (B,C,Hq,Wq)."""
        batch, channels, height, width = query_feat.shape
        query = self.theta(query_feat).flatten(2).transpose(1, 2)  # (B, HqWq, K)
        key = self.delta(support_feat)  # (B, K, Hs, Ws)
        if self.use_mask:
            key = key * resize_to(support_mask.to(key.dtype), key.shape[-2:])
        key = key.flatten(2).transpose(1, 2)  # (B, HsWs, K)
        value = support_feat.flatten(2).transpose(1, 2)  # (B, HsWs, C)
        attended = memory_linear_attention(query, key, value)  # (B, HqWq, C)
        return attended.transpose(1, 2).reshape(batch, channels, height, width)


@MODELS.register_module()
class RegionGlobalConditional(nn.Module):
    """The conditional module of Fig. 4: concatenation of the global and the local conditional outputs.

    The category vector is the foreground average pooling of the guiding (annotated) image's
    features; either part can be switched off for Table 3 (at least one must stay on).

    Args:
        in_channels (int): Channels C of the feature maps.
        channels (int): Output channels of the global part. Default: 256.
        use_global (bool): Include :class:`GlobalConditional`. Default: True.
        use_local (bool): Include :class:`LocalConditional`. Default: True.
        local_use_mask (bool): ``use_mask`` of the local part (Table 7). Default: True.
    """

    def __init__(
        self,
        in_channels: int = 256,
        channels: int = 256,
        use_global: bool = True,
        use_local: bool = True,
        local_use_mask: bool = True,
    ):
        super().__init__()
        if not (use_global or use_local):
            raise ValueError("RegionGlobalConditional needs use_global or use_local")
        self.global_conditional = GlobalConditional(in_channels, channels) if use_global else None
        self.local_conditional = LocalConditional(in_channels, channels, local_use_mask) if use_local else None
        self.out_channels = sum(
            part.out_channels for part in (self.global_conditional, self.local_conditional) if part is not None
        )

    def forward(self, target_feat: torch.Tensor, guide_feat: torch.Tensor, guide_mask: torch.Tensor) -> torch.Tensor:
        """(target map (B,C,H,W), guiding map (B,C,H',W'), guiding mask (B,1,h,w)) -> (B, out_channels, H, W)."""
        outputs = []
        if self.global_conditional is not None:
            outputs.append(self.global_conditional(target_feat, masked_average_pool(guide_feat, guide_mask)))
        if self.local_conditional is not None:
            outputs.append(self.local_conditional(target_feat, guide_feat, guide_mask))
        return torch.cat(outputs, dim=1)
