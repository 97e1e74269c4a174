"""FSSAM through the tools (issue 31): a checkpoint in the released format tested by tools/test.py and used by
tools/infer.py with no other file, the 5-shot release refused by a 1-shot config, Meta's files as run options beside
a full checkpoint, and the configs' settings."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

import integrations.mmseg  # noqa: F401  (the host: registers the segmentor, lets mmseg import on mmcv-lite)
from integrations.foundation.sam2_models import build_sam2_model
from integrations.mmseg.apis.predictor import FewShotPredictor
from integrations.mmseg.engine.checkpoint import load_model_weights
from integrations.mmseg.models.segmentor import FewShotSegmentor
from tests.foundation_fixtures import write_support_and_query
from tests.fssam_fixtures import GENERATED, ROOT, tiny_fssam
from tests.test_tools import _run

SMALL = ["test_dataloader.dataset.image_size=48", "test_dataloader.dataset.images_per_class=3",
         "test_dataloader.dataset.num_episodes=3"]


def released_file(folder, model, variant="FSSAM", name="train_epoch_12_0.6345.pth"):
    """A checkpoint as FSSAM's train.py writes it under DDP, in the release's folders."""
    path = folder / "exp" / "pascal" / variant / "split0" / "small" / "snapshot" / name
    path.parent.mkdir(parents=True)
    state = {f"module.{key}": value for key, value in model.state_dict().items()}
    torch.save({"epoch": 12, "state_dict": state, "optimizer": {"state": {}, "param_groups": []}}, path)
    return str(path)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    folder = tmp_path_factory.mktemp("release")
    return released_file(folder, tiny_fssam(seed=5)), folder


def test_a_released_checkpoint_is_tested_and_used_by_infer_with_no_other_file(release, tmp_path):
    path, _ = release
    _run(["tools/test.py", GENERATED, path, "--work-dir", str(tmp_path), "--shot", "2",
          "--out", str(tmp_path / "metrics.json"), "--cfg-options", *SMALL])
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert result["metrics"]["episodes"] == 3 and 0 <= result["metrics"]["mIoU"] <= 100

    support, query, support_mask = write_support_and_query(tmp_path)
    _run(["tools/infer.py", "--config", GENERATED, "--checkpoint", path, "--query", query,
          "--support", support, support_mask, "--out", str(tmp_path)])
    written = cv2.imread(str(tmp_path / "query_mask.png"), cv2.IMREAD_GRAYSCALE)
    predictor = FewShotPredictor.from_config(GENERATED, path)
    predictor.set_supports([(support, support_mask)])
    expected = predictor.predict(query).mask
    assert written.shape == (50, 70) and np.array_equal(written > 0, expected)
    prompted = []  # a box and clicks become the support's mask through FSSAM's own SAM 2: no other file
    masker = predictor.segmentor.model.prompt_masker()
    assert masker.model_name == "SAM2" and masker.predictor.model is predictor.segmentor.model.sam2
    for mark in ((5, 5, 60, 45), "+35,25;-2,2"):
        predictor.set_supports([(support, mark)])
        prompted.append(predictor.predict(query).mask.shape)
    assert prompted == [(50, 70), (50, 70)]
    released = torch.load(path, weights_only=True)["state_dict"]
    key = "sam2.memory_attention.layers.0.cross_attn_image.q_proj.weight"
    assert torch.equal(predictor.segmentor.model.state_dict()[key], released[f"module.{key}"])


def test_the_5_shot_release_a_sam2_file_or_a_sansa_adapter_is_refused_by_the_1_shot_config(release, tmp_path):
    path, folder = release
    five = released_file(folder, tiny_fssam(seed=5), variant="FSSAM5s", name="train5_epoch_3_0.7.pth")
    refused = subprocess.run([sys.executable, "tools/test.py", GENERATED, five, "--work-dir", str(tmp_path),
                              "--cfg-options", *SMALL], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0
    assert "is the 5-shot FSSAM (its folder says so), but the config builds the 1-shot model" in refused.stderr
    segmentor = FewShotSegmentor.build(Config.fromfile(GENERATED))
    torch.save({"model": build_sam2_model("tiny").state_dict()}, tmp_path / "sam2_hiera_tiny.pt")
    with pytest.raises(ValueError, match=r"sam2_hiera_tiny\.pt is not an FSSAM checkpoint \(no sam2\.\* entries\): "
                                         r"it holds SAM2 Hiera-T"):
        load_model_weights(segmentor, str(tmp_path / "sam2_hiera_tiny.pt"))
    torch.save({"model": {"image_encoder.trunk.blocks.0.adapter.up_proj.weight": torch.zeros(4, 2)}},
               tmp_path / "adapter_coco_fold0.pth")
    with pytest.raises(ValueError, match=r"adapter_coco_fold0\.pth is not an FSSAM checkpoint .*SANSA adapters"):
        load_model_weights(segmentor, str(tmp_path / "adapter_coco_fold0.pth"))


def test_metas_files_as_run_options_beside_a_full_checkpoint_fill_the_frozen_parts(release, tmp_path):
    path, _ = release
    cfg = Config.fromfile(GENERATED)
    source = tiny_fssam(seed=9)
    torch.save({"model": source.sam2.state_dict()}, tmp_path / "sam2.pt")
    torch.save(source.dino.state_dict(), tmp_path / "dinov2.pth")
    cfg.model.model.update(sam2_weights=str(tmp_path / "sam2.pt"), dinov2_weights=str(tmp_path / "dinov2.pth"))
    segmentor = FewShotSegmentor.build(cfg)
    load_model_weights(segmentor, path)
    released = torch.load(path, weights_only=True)["state_dict"]
    model = segmentor.model
    assert torch.equal(model.dino.blocks[0].attn.qkv.weight, source.dino.blocks[0].attn.qkv.weight)  # the file's
    frozen = "sam_prompt_encoder.not_a_point_embed.weight"
    assert torch.equal(model.sam2.get_parameter(frozen), source.sam2.get_parameter(frozen))
    for trained in ("sam_mask_decoder.iou_prediction_head.layers.0.weight",  # FSSAM's trained parts, and the image
                    "image_encoder.trunk.patch_embed.proj.weight"):  # encoder, trained in this config: the checkpoint's
        assert torch.equal(model.sam2.get_parameter(trained), released[f"module.sam2.{trained}"])

def test_fssam_configs_state_fssams_settings():
    for dataset in ("pascal", "coco"):
        for fold in range(4):
            one = Config.fromfile(os.path.join(ROOT, "configs", f"fssam_{dataset}_fold{fold}.py"))
            five = Config.fromfile(os.path.join(ROOT, "configs", f"fssam5s_{dataset}_fold{fold}.py"))
            for cfg, shots, model in ((one, 1, "FSSAM"), (five, 5, "FSSAM5s")):
                test = cfg.test_dataloader.dataset
                assert (test.fold, test.shot, test.num_episodes, test.seed) == (fold, shots, 1000, 321)
                assert test.pipeline == [dict(type="Resize", scale=(512, 512), keep_ratio=False)]
                assert test.eval_label == "original" and cfg.train_dataloader.dataset.fold == fold
                assert cfg.model.model.type == model and cfg.model.model.sam2_size == "small"
                assert cfg.optim_wrapper.optimizer == dict(type="AdamW", lr=1e-3, weight_decay=0.0)
                assert cfg.train_cfg.max_epochs == (300 if dataset == "pascal" else 75)
                assert cfg.custom_hooks[0].patience == (100 if dataset == "pascal" else 25)
