"""Checkpoint selection without the test classes: validation on held-out training images (issue 20, section 3)."""
import os

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import DATASETS

import integrations.mmseg  # noqa: F401
from integrations.mmseg.datasets import EpisodeKey, PascalFewShotDataset
from integrations.mmseg.datasets.base import held_out_samples
from integrations.mmseg.engine.run_options import resolve_config
from tests.datasets_fixtures import voc_labels, write_voc
from tests.tool_modules import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATED = os.path.join(ROOT, "configs", "crcnet_generated.py")


@pytest.fixture
def voc(tmp_path):
    # fold 0: novel classes 1..5, base 6..20; class 1 images are in the training list too (as background)
    return str(tmp_path), write_voc(str(tmp_path), voc_labels([1, 6, 7, 8], per_class=8))


def _images(dataset, episode):
    query, category, supports = episode
    return category, {dataset.samples[i].img_path for i in [query, *supports]}


def test_held_out_images_never_enter_training_episodes_and_validation_uses_only_them_and_training_classes(voc):
    root, list_file = voc
    common = dict(data_root=root, fold=0, list_file=list_file, mode="train", shot=1, min_class_pixels=64,
                  holdout_fraction=0.25, holdout_seed=3)
    train = PascalFewShotDataset(**common)
    validation = PascalFewShotDataset(**common, holdout="only", num_episodes=40, seed=11)
    held = {train.samples[i].img_path for i in held_out_samples(train.samples, 0.25, 3)}
    assert len(held) == round(0.25 * 32)
    seen_in_training = set()
    for epoch in range(3):
        for index in range(len(train)):
            category, images = _images(train, train.episode(EpisodeKey(0, epoch, index)))
            assert not images & held and category in train.base_classes
            seen_in_training |= images
    base_images = {s.img_path for s in train.samples if not os.path.basename(s.img_path).startswith("2008_01")}
    assert seen_in_training == base_images - held  # every other image of a base class serves training
    for index in range(len(validation)):
        category, images = _images(validation, validation.episode(index))
        assert images <= held and category in train.base_classes and category not in train.novel_classes
    assert validation.metainfo["class_ids"] == train.base_classes
    other_seed = PascalFewShotDataset(**{**common, "holdout_seed": 4}, holdout="only")
    assert {other_seed.samples[q.sample].img_path for q in other_seed.plan.queries} != {
        validation.samples[q.sample].img_path for q in validation.plan.queries}


def test_validation_items_score_against_the_original_label_like_a_test_set(voc):
    root, list_file = voc
    validation = PascalFewShotDataset(root, fold=0, list_file=list_file, mode="train", min_class_pixels=64,
                                      holdout_fraction=0.25, holdout="only", num_episodes=3,
                                      pipeline=[dict(type="LongerSideResizePad", size=97)])
    item = validation[0]
    assert item["inputs"]["query"].shape[-2:] == (97, 97)
    assert tuple(item["data_samples"].gt_sem_seg.data.shape[-2:]) == (48, 64)  # the label at its original size


def test_the_run_option_builds_both_sides_of_the_split_and_keeps_the_best_checkpoint():
    cfg = resolve_config(Config.fromfile(GENERATED), {"holdout_val": 0.25, "holdout_seed": 2})
    val, train = cfg.val_dataloader.dataset, cfg.train_dataloader.dataset
    assert (val.mode, val.holdout, val.holdout_fraction, val.holdout_seed) == ("train", "only", 0.25, 2)
    assert (train.holdout, train.holdout_fraction, train.holdout_seed) == ("exclude", 0.25, 2)
    assert val.num_episodes == 100 and val.seed == 123 and val.pipeline == []  # the former validation settings
    assert cfg.default_hooks.checkpoint.save_best == "mIoU"
    small = dict(images_per_class=2, image_size=40)
    training = DATASETS.build({**train, **small})
    validation = DATASETS.build({**val, **small, "num_episodes": 30})
    train_images = {training.samples[i].img_path for i in range(len(training.samples))
                    if i not in held_out_samples(training.samples, 0.25, 2)}
    for index in range(len(validation)):
        category, images = _images(validation, validation.episode(index))
        assert not images & train_images and category in training.base_classes


@pytest.mark.parametrize("options, message", [({"holdout_seed": 1}, "holdout_seed=S needs holdout_val"),
                                              ({"holdout_val": 1.5}, r"fraction in \(0, 1\)")])
def test_the_run_option_refuses_a_seed_alone_or_a_fraction_out_of_range(options, message):
    with pytest.raises(ValueError, match=message):
        resolve_config(Config.fromfile(GENERATED), options)


def test_training_with_held_out_validation_saves_the_best_checkpoint_by_its_miou(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", str(torch.get_num_threads()))  # tools/train.py runs in this process
    tiny = ["train_dataloader.dataset.images_per_class=4", "train_dataloader.dataset.image_size=40",
            "train_dataloader.dataset.num_episodes=8", "train_dataloader.batch_size=4",
            "val_dataloader.dataset.num_episodes=4", "model.model.refine_steps=1", "model.model.channels=8",
            "train_cfg.val_interval=1", "train_cfg.max_epochs=1", "param_scheduler.0.end=1", "holdout_val=0.25"]
    load_tool("train").main([GENERATED, "--work-dir", str(tmp_path), "--cfg-options", *tiny])
    log = capsys.readouterr().out
    assert "samples held out (fraction 0.25, seed 0); this set uses only them" in log
    assert (tmp_path / "best_mIoU_epoch_1.pth").is_file()
