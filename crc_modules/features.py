"""Helpers over the features an :class:`~crc_modules.episode_model.EpisodeModel` encodes, and the shots axis.

Features are a tensor, or a tuple/list/NamedTuple of tensors, whose first axis is the image. Supports
carry a shots axis: (B, K, ...); this file is the one place that reshapes it.
"""
from __future__ import annotations

from typing import Callable, Sequence, Tuple, Union

import torch

# What ``EpisodeModel.encode`` returns: a tensor, or a tuple/list/NamedTuple of tensors, first axis the image.
Features = Union[torch.Tensor, Sequence[torch.Tensor]]


def _rebuild(like: Sequence, parts: list) -> Sequence:
    """A container of ``like``'s type (tuple, list or NamedTuple) holding ``parts``."""
    return type(like)(*parts) if hasattr(like, "_fields") else type(like)(parts)


def map_features(function: Callable[[torch.Tensor], torch.Tensor], features: Features) -> Features:
    """Apply ``function`` to every tensor of ``features`` (a tensor or a tuple/list/NamedTuple of them)."""
    if isinstance(features, torch.Tensor):
        return function(features)
    return _rebuild(features, [function(tensor) for tensor in features])


def stack_features(features: Sequence[Features], dim: int) -> Features:
    """Stack several images' features (each a tensor or a tuple/list of tensors) along a new axis ``dim``."""
    if isinstance(features[0], torch.Tensor):
        return torch.stack(list(features), dim)
    return _rebuild(features[0], [torch.stack(parts, dim) for parts in zip(*features)])


def binary_mask(labels: torch.Tensor) -> torch.Tensor:
    """Labels (..., H, W) in {0, 1, 255} -> float object masks (..., 1, H, W): 1 where the label is 1."""
    return (labels == 1).unsqueeze(-3).float()


def select_shots(features: Features, index) -> Features:
    """The images ``index`` of (N, ...) features as one shot each: (len(index), 1, ...)."""
    return map_features(lambda tensor: tensor[index][:, None], features)


def as_one_shot_episodes(per_query: Sequence[Features], per_shot: Sequence[Features]) -> Tuple[list, list]:
    """B episodes of K shots as B*K one-shot episodes: what a model that does not fuse shots trains and predicts on.

    Args:
        per_query: Tensors or features of the queries, (B, ...) each: repeated K times, episode by episode.
        per_shot: Tensors or features of the supports, (B, K, ...) each: become (B*K, 1, ...).

    Returns:
        (per_query, per_shot) in the same order as given.
    """
    shots = (per_shot[0] if isinstance(per_shot[0], torch.Tensor) else per_shot[0][0]).shape[1]
    repeated = [map_features(lambda t: t.repeat_interleave(shots, 0), item) for item in per_query]
    flattened = [map_features(lambda t: t.flatten(0, 1)[:, None], item) for item in per_shot]
    return repeated, flattened
