"""Supports marked by a box, clicks or a scribble: the syntax, its checks, SAM2's prompt-to-mask step shared by every
family, what happens without SAM2, and naming what a weight file holds."""
import os
import subprocess
import sys
import warnings

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

import integrations.mmseg  # noqa: F401  (registers the host's types)
from integrations.foundation import prompt_masks
from integrations.foundation.prompt_masks import PromptMasker
from integrations.foundation.prompts import MAX_SCRIBBLE_POINTS, SupportPrompt, is_prompt_text, parse_prompt
from integrations.foundation.weight_files import describe_weights, read_model_file, sam2_size_of
from integrations.mmseg.apis.predictor import FewShotPredictor
from integrations.mmseg.engine.checkpoint import export_weights
from integrations.mmseg.models.segmentor import FewShotSegmentor
from tests.foundation_fixtures import tiny_sam2, write_meta_sam2_file
from tests.tool_modules import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "crcnet_generated.py")


def test_the_syntax_reads_boxes_clicks_and_both():
    assert parse_prompt("10,20,200,180") == SupportPrompt(box=(10, 20, 200, 180))
    assert parse_prompt("+120,80;-30,40") == SupportPrompt(points=((120, 80, 1), (30, 40, 0)))
    assert parse_prompt(" 10,20,200,180 ; -60,90 ") == SupportPrompt(box=(10, 20, 200, 180), points=((60, 90, 0),))
    assert all(is_prompt_text(text) for text in ("1,2,3,4", "+1,2", "-1,2;+3,4", "", ";", "1.5,2,3,4"))
    assert not any(is_prompt_text(text) for text in ("cat1.png", "masks/a,b.png", "+1,2;cat.png", "scribble:a.png"))


@pytest.mark.parametrize("text, message", [
    ("", r"s1: the point list '' is empty: give clicks as '\+x,y;-x,y' or a box"),
    (";", r"the point list ';' is empty"),
    ("1,2,3,4;5,6,7,8", r"give one box, got a second one '5,6,7,8'"),
    ("1.5,2,30,20", r"box of s1 must have whole-pixel coordinates, got '1.5,2,30,20'"),
    ("+1,2;3,4", r"'3,4' is neither a box 'x0,y0,x1,y1' nor a click"),
])
def test_malformed_prompts_are_refused_naming_the_support(text, message):
    with pytest.raises(ValueError, match=message):
        parse_prompt(text, "s1")


@pytest.mark.parametrize("prompt, message", [
    (SupportPrompt(box=(0, 0, 90, 10)), r"box \(0, 0, 90, 10\) of s1 is not inside its 80x60 image"),
    (SupportPrompt(box=(-1, 0, 9, 10)), r"box \(-1, 0, 9, 10\) of s1 is not inside"),
    (SupportPrompt(box=(5, 5, 5, 20)), r"box \(5, 5, 5, 20\) of s1 has zero area or is reversed"),
    (SupportPrompt(points=((80, 10, 1),)), r"click \(80, 10\) of s1 is not inside its 80x60 image"),
    (SupportPrompt(points=((8, 10, 0),)), r"s1 has only negative clicks: add a positive click"),
    (SupportPrompt(scribble=np.zeros((60, 80), np.uint8)), r"scribble of s1 is empty"),
    (SupportPrompt(mask=np.ones((20, 20), np.uint8)), r"mask of s1 is 20x20 but its image is 80x60"),
    (SupportPrompt(), r"s1 is not marked"),
])
def test_prompts_are_checked_against_their_image(prompt, message):
    with pytest.raises(ValueError, match=message):
        prompt.checked((60, 80), "s1")


def test_a_scribble_becomes_positive_points_at_most_the_limit_in_x_y_order():
    scribble = np.zeros((60, 80), np.uint8)
    scribble[10, 5:8] = 1
    coords, labels = SupportPrompt(scribble=scribble, points=((40, 30, 0),)).point_arrays()
    assert coords.tolist() == [[40, 30], [5, 10], [6, 10], [7, 10]] and labels.tolist() == [0, 1, 1, 1]
    scribble[20:50, 10:70] = 1  # a wide brush: thinned evenly
    coords, labels = SupportPrompt(scribble=scribble).point_arrays()
    assert len(coords) == MAX_SCRIBBLE_POINTS and labels.all()
    assert all(scribble[int(y), int(x)] for x, y in coords) and coords[0].tolist() == [5, 10]


@pytest.fixture(scope="module")
def sam2_model():
    return tiny_sam2()


def test_the_masker_gives_the_mask_sam2s_own_predictor_gives_and_embeds_an_image_once(sam2_model):
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    masker = PromptMasker(sam2_model)
    reference = SAM2ImagePredictor(sam2_model)
    reference._bb_feat_sizes = [(32, 32), (16, 16), (8, 8)]  # the 128-px model's feature sizes
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    reference.set_image(image)
    embeddings = []
    original = masker.predictor.set_image
    masker.predictor.set_image = lambda picture: (embeddings.append(1), original(picture))
    for text, multimask in (("10,10,50,40", False), ("+20,20", True), ("10,10,50,40;-5,5", False),
                            ("+20,20;-50,30", False)):
        prompt = parse_prompt(text).checked(image.shape, "s1")
        coords, labels = prompt.point_arrays()
        masks, scores, _ = reference.predict(coords, labels, None if prompt.box is None else np.array(prompt.box),
                                             multimask_output=multimask)
        assert np.array_equal(masker.mask(image, prompt), masks[int(np.argmax(scores))].astype(np.uint8)), text
    assert len(embeddings) == 1  # four prompts on one image: one embedding
    masker.mask(image[::-1].copy(), parse_prompt("+20,20").checked(image.shape, "s1"))
    assert len(embeddings) == 2


def test_without_sam2_a_box_is_a_rectangle_with_a_warning_and_clicks_are_refused(tmp_path):
    predictor = FewShotPredictor(FewShotSegmentor.build(Config.fromfile(CONFIG)), size=48)
    image = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    with pytest.warns(UserWarning, match=r"the box of s1 is used as a filled rectangle: give sam2_weights"):
        mask = predictor.support_mask(image, "10,20,30,50", "s1")
    assert mask.sum() == 20 * 30 and mask[20:50, 10:30].all()
    with pytest.raises(ValueError, match=r"s1 is marked by clicks or a scribble, which need SAM2: give Meta's SAM2 "
                                         r"file with --cfg-options sam2_weights=PATH"):
        predictor.support_mask(image, "+10,20", "s1")
    cv2.imwrite(str(tmp_path / "strokes.png"), np.pad(np.full((2, 9), 255, np.uint8), ((20, 38), (10, 61))))
    with pytest.raises(ValueError, match=r"s2 is marked by clicks or a scribble, which need SAM2"):
        predictor.support_mask(image, f"scribble:{tmp_path / 'strokes.png'}", "s2")


def test_with_sam2_every_marking_becomes_the_mask_sam2_predicts(sam2_model, tmp_path):
    predictor = FewShotPredictor(FewShotSegmentor.build(Config.fromfile(CONFIG)), size=48)
    predictor._masker = PromptMasker(sam2_model)
    image = np.random.default_rng(1).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "strokes.png"), np.pad(np.full((2, 9), 255, np.uint8), ((20, 38), (10, 61))))
    strokes = np.zeros((60, 80), np.uint8)
    strokes[20:22, 10:19] = 1
    marks = {"10,20,30,50": SupportPrompt(box=(10, 20, 30, 50)), "+15,30": SupportPrompt(points=((15, 30, 1),)),
             f"scribble:{tmp_path / 'strokes.png'}": SupportPrompt(scribble=strokes)}
    reference = PromptMasker(sam2_model)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no rectangle warning: SAM2 is at hand
        for mark, prompt in marks.items():
            expected = reference.mask(image, prompt.checked(image.shape, "s1"))
            assert np.array_equal(predictor.support_mask(image, mark, "s1"), expected), mark
    drawn = np.zeros((60, 80), np.uint8)
    drawn[5:9, 5:9] = 7
    assert np.array_equal(predictor.support_mask(image, drawn, "s1"), (drawn > 0).astype(np.uint8))


def _fake(*shape):
    return torch.empty(*shape)


@pytest.mark.parametrize("state, name", [
    ({"image_encoder.trunk.patch_embed.proj.weight": _fake(144, 3, 7, 7),
      **{f"image_encoder.trunk.blocks.{i}.norm1.weight": _fake(1) for i in range(48)}}, "SAM2 Hiera-L"),
    ({"image_encoder.trunk.patch_embed.proj.weight": _fake(96, 3, 7, 7), "no_obj_embed_spatial": _fake(1, 64),
      **{f"image_encoder.trunk.blocks.{i}.norm1.weight": _fake(1) for i in range(12)}}, "SAM2.1 Hiera-T"),
    ({"image_encoder.trunk.patch_embed.proj.weight": _fake(100, 3, 7, 7)},
     "SAM2 of no released size (Hiera width 100, 0 blocks)"),
    ({"image_encoder.patch_embed.proj.weight": _fake(1280, 3, 16, 16), "mask_decoder.iou_token.weight": _fake(1)},
     "SAM ViT-H"),
    ({"patch_embed.proj.weight": _fake(1024, 3, 14, 14), "cls_token": _fake(1, 1, 1024)}, "DINOv2 ViT-L/14"),
    ({"patch_embed.proj.weight": _fake(384, 3, 14, 14), "cls_token": _fake(1, 1, 384)}, "DINOv2 ViT-S/14"),
    ({"sam.image_encoder.trunk.blocks.30.adapter.down.weight": _fake(1)},
     "SANSA adapters (1 tensors, e.g. sam.image_encoder.trunk.blocks.30.adapter.down.weight)"),
    ({"conv1.weight": _fake(1), "fc.bias": _fake(1)}, "an unrecognised file of 2 tensors (first keys conv1.weight, "
                                                      "fc.bias)"),
])
def test_weight_files_are_named_by_what_they_hold(state, name):
    assert describe_weights(state) == name


def test_a_file_other_than_sam2_is_refused_for_the_prompt_step_saying_what_it_is(tmp_path):
    state = write_meta_sam2_file(tmp_path / "sam2_hiera_tiny.pt")
    assert sam2_size_of(state) == "tiny"
    assert read_model_file(str(tmp_path / "sam2_hiera_tiny.pt"), "sam2_weights", kind="SAM2").keys() == state.keys()
    torch.save({"model": {"patch_embed.proj.weight": torch.zeros(384, 3, 14, 14), "cls_token": torch.zeros(1)}},
               tmp_path / "dinov2.pth")
    with pytest.raises(ValueError, match=r"dinov2\.pth \(given as sam2_weights\) is not a released SAM2 model: it "
                                         r"holds DINOv2 ViT-S/14"):
        read_model_file(str(tmp_path / "dinov2.pth"), "sam2_weights", kind="SAM2")


def test_infer_turns_clicks_and_a_box_into_a_sam2_mask_for_crcnet(tmp_path, monkeypatch, sam2_model):
    torch.manual_seed(0)
    export_weights(FewShotSegmentor.build(Config.fromfile(CONFIG)), str(tmp_path / "weights.pth"))
    rng = np.random.default_rng(0)
    for name in ("support.png", "query.png"):
        cv2.imwrite(str(tmp_path / name), rng.integers(0, 255, (40, 56, 3), dtype=np.uint8))
    args = ["--config", CONFIG, "--checkpoint", str(tmp_path / "weights.pth"), "--query", str(tmp_path / "query.png"),
            "--out", str(tmp_path / "out"), "--support", str(tmp_path / "support.png")]

    refused = subprocess.run([sys.executable, "tools/infer.py", *args, "+20,20"], cwd=ROOT, capture_output=True,
                             text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert refused.returncode != 0
    assert "which need SAM2: give Meta's SAM2 file with --cfg-options sam2_weights=PATH" in refused.stderr

    # sam2_weights reaches the prompt step (the tiny SAM2 stands for the file's model; reading files is tested above)
    sam2_file = tmp_path / "sam2_hiera_tiny.pt"
    sam2_file.write_bytes(b"read by the stand-in below")
    masks = []
    masker = PromptMasker(sam2_model)
    monkeypatch.setattr(prompt_masks, "sam2_masker_from_file",
                        lambda path, option: masks.append(path) or masker)
    monkeypatch.setattr(masker, "mask", lambda image, prompt, name: masks.append(prompt) or np.pad(
        np.ones((20, 30), np.uint8), ((5, 15), (10, 16))))
    infer = load_tool("infer")
    assert infer.main([*args, "+20,20;5,5,40,30", "--cfg-options", f"sam2_weights={sam2_file}"]) == 0
    assert masks == [str(sam2_file), SupportPrompt(box=(5, 5, 40, 30), points=((20, 20, 1),))]
    assert cv2.imread(str(tmp_path / "out" / "query_mask.png"), cv2.IMREAD_GRAYSCALE).shape == (40, 56)


def test_a_sam2_file_with_nan_values_is_refused_before_the_prompt_step_is_built(tmp_path):
    state = write_meta_sam2_file(tmp_path / "sam2_hiera_tiny.pt")
    key = "sam_mask_decoder.iou_token.weight"
    state[key] = torch.full_like(state[key], float("inf"))
    torch.save({"model": state}, tmp_path / "sam2_hiera_tiny.pt")
    with pytest.raises(ValueError, match=r"sam2_hiera_tiny\.pt \(given as sam2_weights\) holds NaN or infinite values "
                                         r"\(1 tensors, e\.g\. sam_mask_decoder\.iou_token\.weight\)"):
        prompt_masks.sam2_masker_from_file(str(tmp_path / "sam2_hiera_tiny.pt"))


@pytest.mark.parametrize("mark", ["10,20", "120,80;30,40", "10,20,30"])
def test_a_mistyped_prompt_shows_the_syntax_not_a_missing_mask_file(mark, tmp_path):
    """Before: '10,20' (a click without its sign) was 'mask file of s1 not found: 10,20'."""
    from integrations.mmseg.apis.predictor import support_prompt

    with pytest.raises(ValueError, match=r"s1: '.*' is neither a box 'x0,y0,x1,y1' nor a click '\+x,y' / '-x,y'"):
        support_prompt(mark, (50, 60), "s1")
    with pytest.raises(FileNotFoundError, match="mask file of s1 not found"):
        support_prompt(str(tmp_path / "s1_mask.png"), (50, 60), "s1")


def test_a_mark_starting_with_minus_reaches_infer_as_a_mark_not_a_flag():
    """Before: '--support s.png -10,20' was an argparse error (the negative click taken for a flag)."""
    from integrations.mmseg.apis.predictor import support_prompt

    infer = load_tool("infer")
    args = infer.parse_args(["--config", "c.py", "--support", "s.png", "-10,20;+30,30", "--support", "t.png",
                             "-5,5,40,40", "--query", "q.png", "--out", "out"])
    marks = [mark for _, mark in args.support]
    assert parse_prompt(marks[0], "s").points == ((10, 20, 0), (30, 30, 1))
    with pytest.raises(ValueError, match=r"box \(-5, 5, 40, 40\) of t is not inside its 60x50 image"):
        support_prompt(marks[1], (50, 60), "t")
