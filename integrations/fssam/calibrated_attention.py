"""FSSAM's support-calibrated memory attention (Xiong et al., ICML 2025, Sec. 3.4), inserted into SAM 2's memory
attention from Meta's ``sam2`` package.

The query attends to a memory of K support frames, its own pseudo frame and the frames' object pointers. FSSAM
averages the K support frames' keys and values into one frame, and biases the scores of the query's own frame
towards the positions that look like the support's foreground: with ``s`` the query-to-own-memory scores min-max
normalised per query position and ``c`` the cosine similarity of each own-memory key to the support foreground's key
prototype (min-max normalised, averaged over shots), the bias is ``10 * min(s + c - 1, 0)``, not back-propagated.

Written from ``RoPEAttention.forward`` (``calibrate=True``) of the ``sam2`` copy in ``Sam1224/FSSAM``.
Reading: that method calls ``self.Weighted_GAP``, which its class lacks (the released code fails there, FSSAM's
issue #3); ``model/FSSAM.py``'s ``Weighted_GAP``, whose shapes fit the call, is taken (:func:`~.priors.masked_average`).
Reading: FSSAM and FSSAM5s both give it the first support's mask alone (``s_mask[:, 0]``), so with five shots the
first support is the averaged support frame and the second stands where the query's own frame stands at one shot;
the released 5-shot files were trained so, and :class:`~.model.FSSAM` does the same.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator, Optional

import torch
from sam2.modeling.sam.transformer import RoPEAttention, apply_rotary_enc
from torch import nn

from .priors import masked_average, min_max

BIAS_SCALE = 10.0  # the calibration bias spans [-10, 0]


def calibrated_attention(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, support_masks: torch.Tensor,
                         dropout: float = 0.0) -> torch.Tensor:
    """Attention of (B, heads, n, c) queries over K support frames, the query's own frame (n tokens each) and object
    pointer tokens, with the supports averaged and the own frame's scores calibrated.

    Args:
        queries: (B, heads, n, c) after position encoding.
        keys: (B, heads, (K + 1) n + p, c): the K support frames, the own frame, then p pointer tokens.
        values: as ``keys``.
        support_masks: (B, K, 1, h, w) with h w = n: each support's foreground at the memory grid.
        dropout: Dropout probability of the attention weights.
    """
    batch, heads, tokens, channels = queries.shape
    shots = support_masks.shape[1]
    grid = support_masks.shape[-2:]
    support_keys = keys[:, :, : shots * tokens].unflatten(2, (shots, tokens))  # (B, heads, K, n, c)
    own_keys = keys[:, :, shots * tokens:(shots + 1) * tokens]
    masks = support_masks.flatten(2)[:, None, :, :, None].expand(-1, heads, -1, -1, -1)  # (B, heads, K, n, 1)
    prototypes = masked_average(support_keys.transpose(-1, -2).unflatten(-1, grid).flatten(0, 2),
                                masks.transpose(-1, -2).unflatten(-1, grid).flatten(0, 2))  # (B heads K, c)
    prototypes = prototypes.view(batch, heads, shots, 1, channels)
    cosine = (prototypes @ own_keys[:, :, None].transpose(-1, -2)) / (
        prototypes.norm(dim=-1, keepdim=True) @ own_keys.norm(dim=-1, keepdim=True)[:, :, None].transpose(-1, -2)
        + 1e-7)  # (B, heads, K, 1, n)
    likeness = min_max(cosine).mean(2)  # (B, heads, 1, n)

    keys = torch.cat([support_keys.mean(2), keys[:, :, shots * tokens:]], dim=2)
    values = torch.cat([values[:, :, : shots * tokens].unflatten(2, (shots, tokens)).mean(2),
                        values[:, :, shots * tokens:]], dim=2)
    scores = queries @ keys.transpose(-2, -1) / math.sqrt(channels)
    to_support, to_own, to_pointers = scores.split([tokens, tokens, scores.shape[-1] - 2 * tokens], dim=-1)
    calibration = (min_max(to_own) + (likeness - 1.0)).detach()
    to_own = to_own + calibration.clamp(max=0) * BIAS_SCALE
    weights = torch.softmax(torch.cat([to_support, to_own, to_pointers], dim=-1), dim=-1)
    weights = torch.dropout(weights, dropout, train=True)
    return weights @ values


class SupportCalibratedAttention(RoPEAttention):
    """SAM 2's memory cross-attention (``RoPEAttention``, its parameters and names unchanged) that calibrates while
    :attr:`support_masks` is set (:func:`calibrating`) and pointer tokens are in the memory; otherwise SAM 2's own."""

    support_masks: Optional[torch.Tensor] = None

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_k_exclude_rope: int = 0) -> torch.Tensor:
        if self.support_masks is None or num_k_exclude_rope == 0:
            return super().forward(q, k, v, num_k_exclude_rope)
        q, k, v = (self._separate_heads(proj(x), self.num_heads)
                   for proj, x in ((self.q_proj, q), (self.k_proj, k), (self.v_proj, v)))
        side = math.sqrt(q.shape[-2])
        if self.freqs_cis.shape[0] != q.shape[-2]:
            self.freqs_cis = self.compute_cis(end_x=side, end_y=side)
        self.freqs_cis = self.freqs_cis.to(q.device)
        rotated = k.shape[-2] - num_k_exclude_rope
        q, rotated_keys = apply_rotary_enc(q, k[:, :, :rotated], freqs_cis=self.freqs_cis,
                                           repeat_freqs_k=self.rope_k_repeat)
        k = torch.cat([rotated_keys, k[:, :, rotated:]], dim=2)
        out = calibrated_attention(q, k, v, self.support_masks, self.dropout_p if self.training else 0.0)
        return self.out_proj(self._recombine_heads(out))


def insert_calibration(memory_attention: nn.Module) -> None:
    """Make each memory-attention layer's cross-attention a :class:`SupportCalibratedAttention` in place (same
    parameters, same state-dict names)."""
    for layer in memory_attention.layers:
        if type(layer.cross_attn_image) is RoPEAttention:
            layer.cross_attn_image.__class__ = SupportCalibratedAttention


@contextlib.contextmanager
def calibrating(memory_attention: nn.Module, support_masks: torch.Tensor) -> Iterator[None]:
    """Within the block, the memory attention calibrates by (B, K, 1, h, w) ``support_masks``."""
    attentions = [layer.cross_attn_image for layer in memory_attention.layers
                  if isinstance(layer.cross_attn_image, SupportCalibratedAttention)]
    for attention in attentions:
        attention.support_masks = support_masks
    try:
        yield
    finally:
        for attention in attentions:
            attention.support_masks = None
