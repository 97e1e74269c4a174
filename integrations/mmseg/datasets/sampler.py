"""Training episodes keyed by (seed, epoch, index): different on every rank, worker and epoch, reproducible."""
from __future__ import annotations

from typing import Iterator, NamedTuple

from mmengine.dataset import DefaultSampler
from mmseg.registry import DATA_SAMPLERS


class EpisodeKey(NamedTuple):
    """What a training episode is drawn from: the run's seed, the epoch and the dataset index."""

    seed: int
    epoch: int
    index: int


@DATA_SAMPLERS.register_module()
class EpisodeSampler(DefaultSampler):
    """MMEngine's ``DefaultSampler`` whose indices carry its seed and epoch as an :class:`EpisodeKey`.

    The seed is the one the Runner gives every sampler (the config's ``randomness.seed``, the same on
    every rank; with ``randomness.diff_rank_seed=True`` MMEngine passes none and the sampler draws one,
    so episodes are then not reproducible from the config) and the epoch is set by ``DistSamplerSeedHook``.
    Each rank already receives its own slice of the shuffled indices; carrying the epoch with the index lets
    every dataloader worker, persistent or not, draw the episode from ``(seed, epoch, index)`` alone, with no
    state shared with the main process. (Round-up padding may repeat an index on two ranks, as with ``DefaultSampler``.)

    Args: see :class:`mmengine.dataset.DefaultSampler` (dataset, shuffle, seed, round_up).
    """

    def __iter__(self) -> Iterator[EpisodeKey]:
        return (EpisodeKey(self.seed, self.epoch, index) for index in super().__iter__())
