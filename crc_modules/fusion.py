"""Fusion of k one-shot predictions into one (Section 4.6, Table 4; HSNet's k-shot vote).

Reading: the paper's k-shot fusion averages the k foreground probabilities ('mean'). 'vote' is HSNet's
rule (its ``predict_mask_nshot``): each shot's argmax mask is summed, divided by max(largest vote, 1) and
kept where it is at least 0.5; it gives a mask, so its fused "probability" is that mask in {0, 1}.
"""
from __future__ import annotations

import torch

FUSIONS = ("mean", "vote")


def check_fusion(fusion: str) -> str:
    if fusion not in FUSIONS:
        raise ValueError(f"k-shot fusion must be one of {FUSIONS}, got {fusion!r}")
    return fusion


def mean_fusion(probabilities: torch.Tensor) -> torch.Tensor:
    """(K, 1, H, W) foreground probabilities -> their mean (1, 1, H, W)."""
    return probabilities.mean(dim=0, keepdim=True)


def vote_fusion(probabilities: torch.Tensor) -> torch.Tensor:
    """(K, 1, H, W) foreground probabilities -> HSNet's vote (1, 1, H, W) in {0, 1}.

    A shot votes for a pixel where its foreground wins the argmax (probability > 0.5; a tie is background,
    as argmax takes the first class); the votes are divided by the largest vote of the image (at least 1).
    """
    votes = (probabilities > 0.5).sum(dim=0, keepdim=True).float()
    largest = votes.amax().clamp(min=1)
    return (votes / largest >= 0.5).to(probabilities.dtype)


def fuse_shots(probabilities: torch.Tensor, fusion: str) -> torch.Tensor:
    """(K, 1, H, W) one-shot probabilities -> (1, 1, H, W) by ``fusion`` ('mean' or 'vote')."""
    return {"mean": mean_fusion, "vote": vote_fusion}[check_fusion(fusion)](probabilities)
