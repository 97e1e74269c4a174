"""FSSAM's iterative memory refinement (Xiong et al., ICML 2025, Sec. 3.3): the query's pseudo memory is moved,
step by step, towards the memory of its foreground prior where the query resembles both the support and itself.

Written from ``OneModel.mem_refine`` of ``model/FSSAM.py`` (``--ver_refine v1``, the released runs: the refinement
weight is not renormalised).
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import nn

from .priors import memory_prior, min_max


class QueryMemory(NamedTuple):
    """The query's pseudo memory (B, C_mem, h, w) and its prior (B, 1, h, w) at SAM 2's memory grid."""

    features: torch.Tensor
    prior: torch.Tensor


class IterativeMemoryRefinement(nn.Module):
    """``steps`` refinements of the absolute-foreground memory (``--num_refine``, 3 in every released run).

    Each step weighs the query positions by ``relu(sim(query, query's own refined foreground) + sim(query, support)
    - 1)``, both in SAM 2's memory features against masked prototypes (:func:`~.priors.memory_prior`), then mixes
    the foreground-prior memory into the refined memory and the foreground prior into its prior by that weight; the
    prior is min-max normalised again. The query-support similarity is computed once.
    """

    def __init__(self, steps: int = 3):
        super().__init__()
        self.steps = steps

    def forward(self, support_memory: torch.Tensor, support_masks: torch.Tensor, foreground: QueryMemory,
                absolute: QueryMemory) -> QueryMemory:
        """``support_memory`` (B, K, C_mem, h, w) with ``support_masks`` (B, K, 1, h, w); the query's memories from
        its foreground and absolute-foreground priors -> the refined absolute-foreground memory and prior."""
        to_support: Optional[torch.Tensor] = None
        features, prior = absolute
        for _ in range(self.steps):
            if to_support is None:
                to_support = memory_prior(foreground.features, support_memory, support_masks)
            to_itself = memory_prior(foreground.features, features[:, None], prior[:, None])
            weight = (to_itself + (to_support - 1.0)).clamp(min=0)
            features = foreground.features * weight + features * (1.0 - weight)
            prior = foreground.prior * weight + prior * (1.0 - weight)
            prior = min_max(prior.flatten(1)).view_as(prior)
        return QueryMemory(features, prior)
