"""SANSA through the tools (issue 24): Meta's SAM2 file as the sam2_weights run option and adapter checkpoints read
strictly, bad files refused naming their keys, a tiny SANSA trained, tested with 2 shots and used by infer.py with a
mask, a box and clicks, and the configs' settings."""
import json
import os

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

import integrations.mmseg  # noqa: F401  (the host: registers the segmentor, lets mmseg import on mmcv-lite)
import integrations.sansa  # noqa: F401
from crc_modules.features import map_features
from integrations.foundation.sam2_models import build_sam2_model
from integrations.mmseg.engine.checkpoint import load_model_weights
from integrations.mmseg.models.segmentor import FewShotSegmentor
from tests.foundation_fixtures import write_support_and_query
from tests.test_tools import ROOT, _run
from tests.tool_modules import load_tool

CONFIG = os.path.join(ROOT, "configs", "sansa_generated.py")
FROZEN = ["model.model.freeze_sam2=True"]  # SANSA's training: SAM2 frozen, the adapters alone trained
SMALL = ["train_dataloader.dataset.images_per_class=1", "train_dataloader.dataset.num_episodes=8",
         "train_dataloader.dataset.image_size=48", "train_dataloader.batch_size=4",
         "val_dataloader.dataset.image_size=48", "val_dataloader.dataset.images_per_class=3",
         "val_dataloader.dataset.num_episodes=2", "test_dataloader.dataset.image_size=48",
         "test_dataloader.dataset.images_per_class=3", "test_dataloader.dataset.num_episodes=3", "max_epochs=1"]


@pytest.fixture(scope="module")
def sam2_file(tmp_path_factory):
    """Meta's layout ({'model': state_dict}, object-score head included) of the config's small SAM2, random weights."""
    path = tmp_path_factory.mktemp("sam2") / "sam2_small_variant.pt"
    torch.manual_seed(7)
    overrides = Config.fromfile(CONFIG).model.model.sam2_overrides
    torch.save({"model": build_sam2_model("tiny", hydra_overrides=overrides).state_dict()}, path)
    return str(path)


def _segmentor(sam2_file=None, **model):
    cfg = Config.fromfile(CONFIG)
    cfg.model.model.update(freeze_sam2=True, sam2_weights=sam2_file, **model)
    return FewShotSegmentor.build(cfg)


def _adapter_file(path, segmentor, shift=1.0, **edits):
    """A released-format adapter file ({'model': {'sam.image_encoder.trunk.blocks.N.adapter.*': ...}})."""
    state = {key[len("model."):]: value + shift for key, value in segmentor.state_dict().items() if ".adapter." in key}
    torch.save({"model": state}, path)
    return state


def test_a_released_adapter_file_and_metas_sam2_file_load_strictly_and_checkpoints_hold_the_adapters(sam2_file,
                                                                                                     tmp_path):
    segmentor = _segmentor(sam2_file)
    adapters = _adapter_file(tmp_path / "adapter_fss.pth", segmentor)
    load_model_weights(segmentor, str(tmp_path / "adapter_fss.pth"))
    meta = torch.load(sam2_file, weights_only=True)["model"]
    sam = segmentor.model.sam
    patch = "image_encoder.trunk.patch_embed.proj.weight"
    assert torch.equal(sam.get_parameter(patch), meta[patch])
    assert torch.equal(sam.memory_attention.norm.weight, meta["memory_attention.norm.weight"])
    key = next(iter(adapters))
    assert torch.equal(segmentor.model.state_dict()[key], adapters[key])
    assert set(segmentor.state_dict()) == {f"model.{key}" for key in adapters}  # what a checkpoint holds
    with pytest.raises(ValueError, match=r"adapter_fss\.pth holds no weights for the model's sam, which come from a "
                                         r"file: give it with --cfg-options sam2_weights=PATH"):
        load_model_weights(_segmentor(), str(tmp_path / "adapter_fss.pth"))


def test_an_adapter_file_for_other_stages_or_widths_is_refused_naming_the_mismatching_keys(sam2_file, tmp_path):
    _adapter_file(tmp_path / "stages_1_2_3.pth", _segmentor(adapter_stages=(1, 2, 3)))
    with pytest.raises(ValueError, match=r"stages_1_2_3\.pth does not fit the config's model: 6 weights the model does "
                                         r"not have \(sam\.image_encoder\.trunk\.blocks\.1\.adapter\."):
        load_model_weights(_segmentor(sam2_file), str(tmp_path / "stages_1_2_3.pth"))
    _adapter_file(tmp_path / "generalist.pth", _segmentor(adapter_ratio=0.8))
    with pytest.raises(ValueError, match=r"generalist\.pth does not fit the config's model: \d+ weights of other "
                                         r"shapes than in the model \(sam\.image_encoder\.trunk\.blocks\.2\.adapter\."
                                         r"down_proj\.weight: \(25, 64\) in the file, \(9, 64\) in the model"):
        load_model_weights(_segmentor(sam2_file), str(tmp_path / "generalist.pth"))
    with pytest.raises(ValueError, match=r"sam2_small_variant\.pt \(given as sam2_weights\) holds SAM2 of no released "
                                         r"size \(Hiera width 16, 5 blocks\), but the config builds SAM2 Hiera-T "
                                         r"\(sam2_size='tiny'\)"):
        load_model_weights(_released_tiny(sam2_file))


def _released_tiny(sam2_file):
    """SANSA with the released Hiera-T (12 blocks), on the meta device (its size is all that is read here)."""
    with torch.device("meta"):
        return FewShotSegmentor(model=dict(type="SANSA", sam2_size="tiny", sam2_weights=sam2_file))


def test_a_tiny_sansa_trains_its_adapters_tests_with_two_shots_and_segments_photos_from_a_mask_box_and_clicks(
        sam2_file, tmp_path, monkeypatch):
    options = [*SMALL, *FROZEN, f"sam2_weights={sam2_file}"]
    log = _run(["tools/train.py", CONFIG, "--work-dir", str(tmp_path), "--cfg-options", *options])
    assert "loss_mask" in log and "loss_dice" in log and "Epoch(train) [1][2/2]" in log
    assert "SANSA builds no object-score head; leaving out 8 entries" in log
    exported = torch.load(tmp_path / "weights.pth", weights_only=True)["state_dict"]
    assert exported and all(".adapter." in key for key in exported)  # the frozen SAM2 comes from its file
    weights = str(tmp_path / "weights.pth")
    _run(["tools/test.py", CONFIG, weights, "--work-dir", str(tmp_path), "--shot", "2",
          "--out", str(tmp_path / "metrics.json"), "--cfg-options", *options])
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert result["metrics"]["episodes"] == 3 and 0 <= result["metrics"]["mIoU"] <= 100

    support, query, support_mask = write_support_and_query(tmp_path)
    args = ["--config", CONFIG, "--checkpoint", weights, "--query", query,
            "--support", support]
    _run(["tools/infer.py", *args, support_mask, "--out", str(tmp_path / "from_mask"),
          "--cfg-options", *FROZEN, f"sam2_weights={sam2_file}"])
    assert cv2.imread(str(tmp_path / "from_mask" / "query_mask.png"), cv2.IMREAD_GRAYSCALE).shape == (50, 70)

    from integrations.foundation import prompt_masks
    from integrations.sansa import SANSA

    monkeypatch.setattr(prompt_masks, "sam2_masker_from_file",  # SANSA takes the prompts on its own SAM2
                        lambda path, option: pytest.fail("SANSA's supports must be prompted on its own SAM2, "
                                                         "with adapters"))
    monkeypatch.setattr(SANSA, "prompt_masker", lambda model: pytest.fail("SANSA takes prompts, not masks of them"))
    prompted, own = [], SANSA.encode_prompts
    monkeypatch.setattr(SANSA, "encode_prompts",
                        lambda model, *args: prompted.append(args[2].tolist()) or own(model, *args))
    infer = load_tool("infer")
    for prompt in ("+35,25;-2,2", "5,5,65,45"):
        assert infer.main([*args, prompt, "--out", str(tmp_path / "from_prompt"), "--cfg-options", *FROZEN,
                           f"sam2_weights={sam2_file}"]) == 0
        assert cv2.imread(str(tmp_path / "from_prompt" / "query_mask.png"), cv2.IMREAD_GRAYSCALE).shape == (50, 70)
    assert prompted == [[[1, 0]], [[2, 3]]]  # SANSA's promptable path: clicks (positive, negative), a box's corners


def test_sansa_takes_a_box_and_clicks_as_its_prompts_beside_a_mask_marked_support(sam2_file, monkeypatch):
    from integrations.mmseg.apis.predictor import FewShotPredictor

    torch.manual_seed(0)
    segmentor = _segmentor(sam2_file)
    predictor, model = FewShotPredictor(segmentor, size=64), segmentor.model
    rng = np.random.default_rng(0)
    support, query = (rng.integers(0, 255, (50, 70, 3), dtype=np.uint8) for _ in range(2))
    mask = np.zeros((50, 70), np.uint8)
    mask[10:40, 20:50] = 1
    predictor.set_supports([(support, mask), (support, "5,5,65,45;+35,25")])
    encoded, masks = predictor.support_set.encoded()

    support_in, label, (height, width) = predictor._to_input(np.ascontiguousarray(support[..., ::-1]), mask)
    scale = torch.tensor([width / 70, height / 50])  # the working input's pixels per the photo's
    corners_and_click = torch.tensor([[[5.0, 5.0], [65.0, 45.0], [35.0, 25.0]]]) * scale
    with torch.no_grad():
        from_prompt, logits = model.encode_prompts(support_in, corners_and_click, torch.tensor([[2, 3, 1]]))
        from_mask = model.encode(support_in, (label == 1)[:, None].float())
    for shot, expected in enumerate((from_mask, from_prompt)):
        assert all(torch.allclose(got[shot], want[0], atol=1e-6) for got, want in zip(encoded, expected))
    decoded = F.interpolate(logits, (64, 64), mode="bilinear", align_corners=False)[0, 0] > 0
    assert torch.equal(masks[1, 0, :height, :width].bool(), decoded[:height, :width]) and not masks[1, 0, height:].any()

    query_in, _, _ = predictor._to_input(np.ascontiguousarray(query[..., ::-1]))
    with torch.no_grad():
        supports = map_features(lambda tensor: tensor[None], encoded)
        expected = model.predict(model.encode(query_in), supports, masks[None]).query_logits
        expected = F.interpolate(expected, (64, 64), mode="bilinear", align_corners=False).softmax(1)[:, 1:]
        assert torch.allclose(predictor.support_set.predict(query_in), expected, atol=1e-6)

    monkeypatch.setattr(type(model), "encode_prompts", lambda self, *args: (from_prompt, torch.full_like(logits, -5.0)))
    with pytest.raises(ValueError, match="found no object for the prompt of support 2 at the working size 64"):
        predictor.set_supports([(support, mask), (support, "5,5,65,45")])


def test_sansa_configs_state_sansas_settings():
    for name, side, episodes in (("sansa_coco_fold2", 640, 1000), ("sansa_fss1000", 518, None)):
        cfg = Config.fromfile(os.path.join(ROOT, "configs", f"{name}.py"))
        assert "integrations.sansa" in cfg.custom_imports.imports
        assert cfg.model.model == dict(type="SANSA", sam2_size="large", sam2_weights=None, adapter_stages=(2, 3),
                                       adapter_ratio=0.3)
        assert cfg.optim_wrapper.optimizer == dict(type="AdamW", lr=1e-4, weight_decay=0.0, betas=(0.9, 0.999))
        assert cfg.optim_wrapper.clip_grad == dict(max_norm=0.1) and cfg.train_cfg.max_epochs == 5
        assert cfg.param_scheduler[0].type == "CosineAnnealingLR" and cfg.param_scheduler[0].convert_to_iter_based
        assert cfg.train_dataloader.batch_size == 32 and cfg.train_dataloader.dataset.shot == 1
        for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
            assert loader.dataset.protocol == "hsnet"
            assert loader.dataset.pipeline == [dict(type="Resize", scale=(side, side), keep_ratio=False)]
        for loader in (cfg.val_dataloader, cfg.test_dataloader):  # SANSA validates on its test episodes
            assert (loader.dataset.get("num_episodes"), loader.dataset.seed) == (episodes, 0)
            assert loader.dataset.eval_label == "transformed"
    assert Config.fromfile(os.path.join(ROOT, "configs", "sansa_coco_fold2.py")).test_dataloader.dataset.fold == 2
    generalist = Config.fromfile(os.path.join(ROOT, "configs", "sansa_generalist_coco.py"))
    assert generalist.model.model.adapter_ratio == 0.8 and generalist.test_dataloader.dataset.num_episodes == 1000
