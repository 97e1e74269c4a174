"""Training episodes differ across ranks, epochs and workers and come back with the seed (issue 10)."""
import hashlib

import pytest
import torch
from mmengine.dataset import pseudo_collate

import integrations.mmseg  # noqa: F401
from integrations.mmseg.datasets import EpisodeKey, EpisodeSampler, GeneratedFewShotDataset

EPOCHS = 2


@pytest.fixture(scope="module")
def dataset():
    return GeneratedFewShotDataset(fold=0, images_per_class=2, image_size=32, num_episodes=12, shot=2,
                                   pipeline=[dict(type="RandomFlip", prob=0.5)])


def _sampler(dataset, seed, rank=0, world_size=1, monkeypatch=None):
    if monkeypatch is not None:
        monkeypatch.setattr("mmengine.dataset.sampler.get_dist_info", lambda: (rank, world_size))
    return EpisodeSampler(dataset, shuffle=True, seed=seed)


def _fingerprint(inputs, sample) -> tuple:
    """What makes an episode: its index, query, class, supports, and the pixels after the random flip."""
    pixels = hashlib.sha1(inputs["query"].numpy().tobytes() + inputs["supports"].numpy().tobytes()).hexdigest()
    return sample.episode, sample.img_path, sample.class_id, tuple(sample.support_paths), pixels


def _epochs(dataset, sampler, workers, persistent=False):
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, sampler=sampler, num_workers=workers,
                                         collate_fn=pseudo_collate, persistent_workers=persistent)
    epochs = []
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)  # what MMEngine's DistSamplerSeedHook does before each epoch
        epochs.append([_fingerprint(inputs, sample) for batch in loader
                       for inputs, sample in zip(_unbatch(batch["inputs"]), batch["data_samples"])])
    return epochs


def _unbatch(inputs):
    return [dict(zip(inputs, values)) for values in zip(*inputs.values())]


def test_the_sampler_keys_each_index_with_its_seed_and_epoch(dataset):
    sampler = _sampler(dataset, seed=5)
    sampler.set_epoch(3)
    keys = list(sampler)
    assert sorted(k.index for k in keys) == list(range(len(dataset)))
    assert {(k.seed, k.epoch) for k in keys} == {(5, 3)}


@pytest.mark.parametrize("workers, persistent", [(0, False), (2, False), (2, True)])
def test_episodes_differ_across_epochs_and_do_not_depend_on_workers(dataset, workers, persistent):
    reference = _epochs(dataset, _sampler(dataset, seed=7), workers=0)
    epochs = _epochs(dataset, _sampler(dataset, seed=7), workers, persistent)
    assert epochs == reference  # reproducible from the seed, whatever the workers
    by_index = [dict((e[0], e[1:]) for e in episodes) for episodes in epochs]
    assert by_index[0].keys() == by_index[1].keys()
    assert sum(by_index[0][i] != by_index[1][i] for i in by_index[0]) >= len(dataset) // 2
    assert len({e[1:] for e in epochs[0]} & {e[1:] for e in epochs[1]}) <= len(dataset) // 2  # not a replay


def test_two_ranks_get_different_episodes_in_every_epoch(dataset, monkeypatch):
    ranks = [_epochs(dataset, _sampler(dataset, 7, rank, 2, monkeypatch), workers=0) for rank in (0, 1)]
    for epoch in range(EPOCHS):
        first, second = ranks[0][epoch], ranks[1][epoch]
        assert len(first) == len(second) == len(dataset) // 2
        assert not {e[1:] for e in first} & {e[1:] for e in second}  # no episode drawn twice
        assert {e[0] for e in first} | {e[0] for e in second} == set(range(len(dataset)))


def test_a_training_episode_is_a_function_of_seed_epoch_and_index(dataset):
    def episode(seed, epoch, index):
        item = dataset[EpisodeKey(seed, epoch, index)]
        return _fingerprint(item["inputs"], item["data_samples"])

    assert episode(1, 2, 3) == episode(1, 2, 3)
    assert len({episode(seed, epoch, 3) for seed in (1, 2) for epoch in range(4)}) >= 6
