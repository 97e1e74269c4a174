"""HSNet's hypercorrelation pyramid: cosine correlations of many layers, stacked per backbone stage."""
from __future__ import annotations

from typing import List, Sequence

import torch

NORM_EPS = 1e-5  # added to each feature vector's norm before the cosine


def cosine_correlation(query_feat: torch.Tensor, support_feat: torch.Tensor) -> torch.Tensor:
    """ReLU of the cosine similarity of every query position with every support position.

    (B, C, Hq, Wq), (B, C, Hs, Ws) -> (B, Hq, Wq, Hs, Ws); negative similarities are set to 0.
    """
    batch, _, query_h, query_w = query_feat.shape
    support_h, support_w = support_feat.shape[-2:]
    query = query_feat.flatten(2)
    support = support_feat.flatten(2)
    query = query / (query.norm(dim=1, keepdim=True) + NORM_EPS)
    support = support / (support.norm(dim=1, keepdim=True) + NORM_EPS)
    similarity = torch.bmm(query.transpose(1, 2), support)  # (B, HqWq, HsWs)
    return similarity.clamp(min=0).view(batch, query_h, query_w, support_h, support_w)


def hypercorrelation_pyramid(query_feats: Sequence[torch.Tensor], support_feats: Sequence[torch.Tensor],
                             group_sizes: Sequence[int]) -> List[torch.Tensor]:
    """Correlations of matching layers, each stage's stacked as channels; deepest stage first.

    Args:
        query_feats (Sequence[Tensor]): The query's intermediate features, shallow to deep.
        support_feats (Sequence[Tensor]): The (masked) support's features of the same layers.
        group_sizes (Sequence[int]): How many consecutive layers make each stage, shallow to deep
            (ResNet-50: 4, 6, 3 for layer2..layer4); they must add up to the number of features.

    Returns:
        list[Tensor]: One (B, layers of the stage, Hq, Wq, Hs, Ws) tensor per stage, deepest first.
    """
    if sum(group_sizes) != len(query_feats) or len(query_feats) != len(support_feats):
        raise ValueError(f"{len(query_feats)} query and {len(support_feats)} support features do not make "
                         f"stages of {list(group_sizes)} layers")
    correlations = [cosine_correlation(query, support) for query, support in zip(query_feats, support_feats)]
    pyramid, start = [], 0
    for size in group_sizes:
        pyramid.append(torch.stack(correlations[start:start + size], dim=1))
        start += size
    return pyramid[::-1]
