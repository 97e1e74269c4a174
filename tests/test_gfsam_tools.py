"""A tiny GF-SAM through the tools with no checkpoint (issue 25): its weights come from tiny files in Meta's DINOv2
and SAM layouts, given as run options; tools/test.py on the generated data (2 shots), tools/infer.py on photos,
tools/train.py saying there is nothing to train, k-shot finetuning refused with the reason."""
import json
import os
import textwrap
import warnings

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

import integrations.mmseg  # noqa: F401  (registers the host's types)
from crc_modules import KShotPredictor
from integrations.mmseg.engine.checkpoint import load_model_weights
from integrations.mmseg.engine.run_options import resolve_config
from integrations.mmseg.models.segmentor import FewShotSegmentor
from tests.test_gfsam import TINY
from tests.test_gfsam_weights import dinov2_file_layout, sam_file_layout, write_file
from tests.test_tools import ROOT, _run

CONFIG = textwrap.dedent('''
    _base_ = [{models!r}, {data!r}]
    model = dict(model=dict(dinov2_image_size={dinov2_image_size}, dinov2_args={dinov2_args!r}, sam_args={sam_args!r}))
    test_dataloader = dict(dataset=dict(image_size=48, images_per_class=3, num_episodes=3))
    train_dataloader = val_dataloader = val_evaluator = None
''')


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory):
    """A config of a tiny GF-SAM on the generated data and its two files in Meta's layouts."""
    folder = tmp_path_factory.mktemp("gfsam")
    generator = torch.Generator().manual_seed(0)
    grid = TINY["dinov2_image_size"] // 14
    dinov2 = write_file(folder / "dinov2_vits14_pretrain.pth", dinov2_file_layout(32, 2, grid=grid), generator)
    sam = write_file(folder / "sam_vit_b_01ec64.pth", sam_file_layout(32, 2, 2, (1,), image=64, window=2, prompt=32,
                                                                       decoder_mlp=64), generator)
    config = folder / "gfsam_tiny_generated.py"
    config.write_text(CONFIG.format(models=os.path.join(ROOT, "configs", "_base_", "models", "gfsam_vits_samb.py"),
                                    data=os.path.join(ROOT, "configs", "_base_", "datasets", "generated.py"), **TINY))
    return str(config), [f"dinov2_weights={dinov2}", f"sam_weights={sam}"]


def test_a_tiny_gfsam_tests_with_no_checkpoint_from_files_given_as_run_options(tiny_project, tmp_path):
    config, files = tiny_project
    _run(["tools/test.py", config, "--work-dir", str(tmp_path), "--shot", "2", "--out", str(tmp_path / "metrics.json"),
          "--cfg-options", *files])
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert result["metrics"]["episodes"] == 3 and result["kshot_mode"] == "fusion"
    assert 0 <= result["metrics"]["mIoU"] <= 100


def test_a_tiny_gfsam_segments_photos_through_infer_with_no_checkpoint(tiny_project, tmp_path):
    config, files = tiny_project
    photos = np.random.default_rng(0).integers(0, 255, (2, 50, 70, 3), dtype=np.uint8)
    mask = np.zeros((50, 70), np.uint8)
    mask[10:40, 20:50] = 255
    for name, image in zip(("support", "query"), photos):
        cv2.imwrite(str(tmp_path / f"{name}.png"), image)
    cv2.imwrite(str(tmp_path / "support_mask.png"), mask)
    _run(["tools/infer.py", "--config", config, "--cfg-options", *files,
          "--support", str(tmp_path / "support.png"), str(tmp_path / "support_mask.png"),
          "--query", str(tmp_path / "query.png"), "--out", str(tmp_path / "out")])
    written = cv2.imread(str(tmp_path / "out" / "query_mask.png"), cv2.IMREAD_GRAYSCALE)
    assert written.shape == (50, 70) and set(np.unique(written)) <= {0, 255}


def test_the_files_fill_both_encoders_and_checkpoints_hold_nothing(tiny_project):
    config, files = tiny_project
    cfg = resolve_config(Config.fromfile(config), dict(option.split("=", 1) for option in files))
    segmentor = FewShotSegmentor.build(cfg)
    load_model_weights(segmentor, None)  # what tools/test.py CONFIG (no checkpoint) runs
    dinov2_file = torch.load(cfg.dinov2_weights, weights_only=True)
    sam_file = torch.load(cfg.sam_weights, weights_only=True)
    assert torch.equal(segmentor.model.dinov2.blocks[1].attn.qkv.weight, dinov2_file["blocks.1.attn.qkv.weight"])
    assert torch.equal(segmentor.model.sam.mask_decoder.iou_token.weight, sam_file["mask_decoder.iou_token.weight"])
    assert segmentor.state_dict() == {}


def test_training_says_there_is_nothing_to_train_and_finetuning_is_refused_with_the_reason(tiny_project, capsys):
    from tools.train import main as train

    config, files = tiny_project
    train([config, "--cfg-options", *files])
    assert "GFSAM has nothing to train (every weight is frozen)" in capsys.readouterr().out
    segmentor = FewShotSegmentor.build(resolve_config(Config.fromfile(config), {}))
    supports, labels = torch.randn(2, 3, 48, 48), torch.ones(2, 48, 48, dtype=torch.long)
    with pytest.raises(ValueError, match="k-shot mode 'finetune' finetunes, but GFSAM has no trainable parameters"):
        KShotPredictor("finetune").prepare(segmentor.model, supports, labels)


def test_an_empty_support_mask_file_is_refused_naming_it(tiny_project, tmp_path):
    from integrations.mmseg.apis.predictor import FewShotPredictor

    config, files = tiny_project
    predictor = FewShotPredictor.from_config(config, cfg_options=dict(option.split("=", 1) for option in files))
    cv2.imwrite(str(tmp_path / "support.png"), np.full((40, 50, 3), 128, np.uint8))
    cv2.imwrite(str(tmp_path / "support_mask.png"), np.zeros((40, 50), np.uint8))
    with pytest.raises(ValueError, match=r"support_mask\.png is empty: mark at least one object pixel"):
        predictor.set_supports([(str(tmp_path / "support.png"), str(tmp_path / "support_mask.png"))])


def test_a_box_or_a_click_becomes_the_mask_gfsams_own_sam_makes_with_no_other_file(tiny_project):
    from segment_anything import SamPredictor

    from integrations.mmseg.apis.predictor import FewShotPredictor

    config, files = tiny_project
    predictor = FewShotPredictor.from_config(config, cfg_options=dict(option.split("=", 1) for option in files))
    rgb = np.random.default_rng(1).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    reference = SamPredictor(predictor.segmentor.model.sam)  # segment-anything's own predictor, SAM's file loaded
    reference.set_image(rgb)
    boxed, _, _ = reference.predict(box=np.array([5, 5, 60, 45], np.float32), multimask_output=False)
    clicked, scores, _ = reference.predict(point_coords=np.array([[30.0, 20.0]], np.float32),
                                           point_labels=np.array([1]), multimask_output=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "filled rectangle" warning: GF-SAM's SAM is at hand
        assert np.array_equal(predictor.support_mask(rgb, "5,5,60,45", "s1"), boxed[0].astype(np.uint8))
        assert np.array_equal(predictor.support_mask(rgb, "+30,20", "s1"), clicked[scores.argmax()].astype(np.uint8))
    rectangle = np.zeros((50, 70), bool)
    rectangle[5:45, 5:60] = True
    assert predictor.prompt_masker.model_name == "SAM" and not np.array_equal(boxed[0], rectangle)
