"""tools/analysis/support_sensitivity.py (issue 11): can the report tell a model that uses its support from one that
does not?"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import integrations.mmseg  # noqa: F401
from crc_modules import EpisodeModel, EpisodeOutput, upsampled_cross_entropy
from crc_modules.layers import resize_to
from crc_modules.registry import MODELS
from integrations.mmseg.apis.support_sensitivity import (
    ALL_FOREGROUND,
    CORRECT,
    EMPTY,
    FULL,
    OBJECT_PIXELS,
    ROWS,
    WRONG_CLASS,
    support_sensitivity,
)
from integrations.mmseg.datasets import GeneratedFewShotDataset
from integrations.mmseg.engine.checkpoint import export_weights
from integrations.mmseg.models.segmentor import FewShotSegmentor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@MODELS.register_module()
class QueryOnlyModel(EpisodeModel):
    """Segments from the query alone: the supports never reach its output."""

    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 2, 3, padding=1)

    def encode(self, images, masks=None):
        return images

    def predict(self, query, supports, support_masks, query_masks=None):
        return EpisodeOutput(self.head(query))

    def loss(self, output, query_labels, support_labels):
        return {"loss_query": upsampled_cross_entropy(output.query_logits, query_labels)}


@MODELS.register_module()
class SupportMaskModel(EpisodeModel):
    """Predicts the support's mask as the query's: its output is all support."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(10.0))

    def encode(self, images, masks=None):
        return images

    def predict(self, query, supports, support_masks, query_masks=None):
        mask = resize_to(support_masks[:, 0], query.shape[-2:])
        return EpisodeOutput(self.scale * torch.cat([1 - mask, mask], dim=1))

    def loss(self, output, query_labels, support_labels):
        return {"loss_query": upsampled_cross_entropy(output.query_logits, query_labels)}


@pytest.fixture(scope="module")
def dataset():
    return GeneratedFewShotDataset(fold=0, mode="test", images_per_class=6, image_size=48, num_episodes=8, seed=5)


def test_a_model_that_ignores_the_support_scores_alike_on_every_support_row(dataset):
    torch.manual_seed(0)
    results = support_sensitivity(FewShotSegmentor(dict(type="QueryOnlyModel")), dataset, progress=False)
    assert results[CORRECT]["episodes"] == results[WRONG_CLASS]["episodes"] == 8
    for row in (WRONG_CLASS, EMPTY, FULL):
        assert results[row]["mIoU"] == results[CORRECT]["mIoU"] and results[row]["FB_IoU"] == results[CORRECT]["FB_IoU"]


def test_every_row_of_a_crcnet_is_finite_and_the_baselines_are_the_label_maps(dataset):
    torch.manual_seed(0)
    model = dict(type="CRCNet", encoder=dict(backbone="resnet10"), channels=16, refine_steps=2)
    results = support_sensitivity(FewShotSegmentor(model), dataset, progress=False)
    assert set(results) == set(ROWS)
    assert all(np.isfinite(results[row]["mIoU"]) and np.isfinite(results[row]["FB_IoU"]) for row in ROWS)
    intersections, unions = {}, {}
    for index in range(8):  # "every object pixel" by hand: IoU of (label != 0) with the target, per class
        query, category, _ = dataset.episode(index)
        label = dataset.class_label(dataset.samples[query])
        target, objects = label == category, label > 0
        intersections[category] = intersections.get(category, 0) + (target & objects).sum()
        unions[category] = unions.get(category, 0) + (target | objects).sum()
    expected = np.mean([intersections.get(c, 0) / unions[c] if c in unions else 0.0 for c in dataset.classes])
    assert results[OBJECT_PIXELS]["mIoU"] == round(100 * expected, 2)
    assert results[ALL_FOREGROUND]["mIoU"] < results[OBJECT_PIXELS]["mIoU"]


def test_a_model_that_only_reads_the_support_is_told_apart_row_by_row(dataset):
    results = support_sensitivity(FewShotSegmentor(dict(type="SupportMaskModel")), dataset, progress=False)
    assert results[EMPTY]["mIoU"] == 0 < results[CORRECT]["mIoU"]
    assert results[FULL]["mIoU"] == results[ALL_FOREGROUND]["mIoU"]


def test_wrong_class_supports_do_not_hold_the_target(dataset):
    from integrations.mmseg.apis.support_sensitivity import wrong_class_supports

    for index in range(8):
        query, category, _ = dataset.episode(index)
        other, samples = wrong_class_supports(dataset, index, query, category)
        assert other != category and query not in samples
        for sample in samples:
            label = dataset.class_label(dataset.samples[sample])
            assert not (label == category).any() and (label == other).any()


def test_the_tool_prints_the_table_and_writes_json(tmp_path):
    config = os.path.join(ROOT, "configs", "crcnet_generated.py")
    options = ["test_dataloader.dataset.images_per_class=4", "test_dataloader.dataset.image_size=48",
               "test_dataloader.dataset.num_episodes=3", "model.model.channels=16", "model.model.refine_steps=2"]
    from mmengine.config import Config

    cfg = Config.fromfile(config)
    cfg.merge_from_dict(dict(model=dict(model=dict(channels=16, refine_steps=2))))
    export_weights(MODELS.build(cfg.model), str(tmp_path / "weights.pth"))
    result = subprocess.run([sys.executable, "tools/analysis/support_sensitivity.py", config,
                             str(tmp_path / "weights.pth"), "--shot", "2", "--out", str(tmp_path / "rows.json"),
                             "--cfg-options", *options], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| supports of another class |" in result.stdout
    written = json.loads((tmp_path / "rows.json").read_text())
    assert written["shot"] == 2 and written["rows"][CORRECT]["episodes"] == 3


def test_wrong_class_supports_on_a_binary_mask_layout_come_from_other_class_folders(tmp_path):
    from integrations.mmseg.apis.support_sensitivity import wrong_class_supports
    from integrations.mmseg.datasets import FSS1000Dataset
    from tests.datasets_fixtures import write_fss

    split = write_fss(str(tmp_path), ["abacus", "yak", "zebra"], images=3)
    fss = FSS1000Dataset(str(tmp_path), split, mode="test", shot=2)
    for index in range(len(fss)):
        query, category, _ = fss.episode(index)
        other, samples = wrong_class_supports(fss, index, query, category)
        assert other != category and len(samples) == 2
        assert all(sample in fss.plan.pools[other] and sample not in fss.plan.pools[category] for sample in samples)
