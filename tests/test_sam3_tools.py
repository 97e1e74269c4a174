"""A tiny FSS-SAM3 through the tools with no checkpoint (issue 30): SAM 3's weights from a tiny file in Meta's sam3.pt
layout given as the sam3_weights run option; tools/test.py on the generated data, tools/infer.py with a mask and with
a box (the box as given) and clicks (exemplar points), tools/train.py saying there is nothing to train, another kind
of file refused in one line."""
import json
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import torch

from integrations.sam3.equivalence import TINY_CANVAS, TINY_SAM3_ARGS
from tests.sam3_fixtures import tiny_fss_sam3
from tests.test_sam3 import meta_file
from tests.test_tools import ROOT, _run

CONFIG = textwrap.dedent('''
    _base_ = [{models!r}, {data!r}]
    model = dict(model=dict(sam3_args={args!r}, canvas_size={canvas}, score_threshold={threshold}))
    test_dataloader = dict(dataset=dict(image_size=48, images_per_class=3, num_episodes=3))
    train_dataloader = val_dataloader = val_evaluator = None
''')


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory):
    """A config of a tiny FSS-SAM3 on the generated data, and its SAM 3 file in Meta's layout."""
    folder = tmp_path_factory.mktemp("sam3")
    model = tiny_fss_sam3()
    model.score_threshold = 0.0
    image = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    scores = model.segment(image, [image], [[[4.0, 4.0, 30.0, 30.0]]]).scores.sort().values
    threshold = float(scores[len(scores) // 2])  # random weights: keep about half of the instances
    weights = meta_file(model, folder / "sam3.pt")
    config = folder / "sam3_tiny_generated.py"
    config.write_text(CONFIG.format(models=os.path.join(ROOT, "configs", "_base_", "models", "sam3.py"),
                                    data=os.path.join(ROOT, "configs", "_base_", "datasets", "generated.py"),
                                    args=TINY_SAM3_ARGS, canvas=TINY_CANVAS, threshold=threshold))
    return str(config), f"sam3_weights={weights}"


def test_a_tiny_fss_sam3_tests_with_no_checkpoint_from_metas_file_layout(tiny_project, tmp_path):
    config, weights = tiny_project
    _run(["tools/test.py", config, "--work-dir", str(tmp_path), "--shot", "2", "--out", str(tmp_path / "metrics.json"),
          "--cfg-options", weights])
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert result["metrics"]["episodes"] == 3 and 0 <= result["metrics"]["mIoU"] <= 100


def test_a_box_support_is_the_box_as_given_and_gives_what_its_rectangle_mask_gives(tiny_project, tmp_path):
    config, weights = tiny_project
    photos = np.random.default_rng(2).integers(0, 255, (2, 50, 70, 3), dtype=np.uint8)
    rectangle = np.zeros((50, 70), np.uint8)
    rectangle[10:41, 20:51] = 255  # the box 20,10,50,40: its pixels, corners included
    for name, image in zip(("support", "query"), photos):
        cv2.imwrite(str(tmp_path / f"{name}.png"), image)
    cv2.imwrite(str(tmp_path / "support_mask.png"), rectangle)
    for mark, out in ((str(tmp_path / "support_mask.png"), "by_mask"), ("20,10,50,40", "by_box")):
        _run(["tools/infer.py", "--config", config, "--cfg-options", weights, "--support",
              str(tmp_path / "support.png"), mark, "--query", str(tmp_path / "query.png"),
              "--out", str(tmp_path / out)])
    by_mask = cv2.imread(str(tmp_path / "by_mask" / "query_mask.png"), cv2.IMREAD_GRAYSCALE)
    by_box = cv2.imread(str(tmp_path / "by_box" / "query_mask.png"), cv2.IMREAD_GRAYSCALE)
    assert by_mask.shape == (50, 70) and 0 < (by_mask > 0).sum() < by_mask.size
    assert np.array_equal(by_mask, by_box)


def test_clicks_reach_sam3_as_exemplar_points_and_only_negative_ones_are_refused(tiny_project, monkeypatch):
    from integrations.mmseg.apis.predictor import FewShotPredictor

    config, weights = tiny_project
    predictor = FewShotPredictor.from_config(config, cfg_options=dict([weights.split("=", 1)]))
    model, calls = predictor.segmentor.model, []
    segment = type(model).segment

    def recording(self, *args):
        calls.append((args, segment(self, *args)))
        return calls[-1][1]
    monkeypatch.setattr(type(model), "segment", recording)
    rng = np.random.default_rng(6)
    support, query = rng.integers(0, 256, (2, 40, 40, 3), dtype=np.uint8)
    model.score_threshold = 0.0  # every instance's score, to compare
    predictor.predict(query, [(support, "+8,8")])
    predictor.predict(query, [(support, "+30,25;-5,30")])
    (first, first_result), (second, second_result) = calls
    # the support at its own size (FSS-SAM3 stretches it into its cell): the clicks as given
    assert first[2] == [[]] and np.allclose(first[3], [[[8, 8, 1]]])
    assert np.allclose(second[3], [[[30, 25, 1], [5, 30, 0]]])
    assert (first_result.scores - second_result.scores).abs().max() > 1e-5
    with pytest.raises(ValueError, match="support 1 has only negative clicks: add a positive click"):
        predictor.set_supports([(support, "-20,20")])


def test_the_predictor_gives_the_model_each_image_at_its_own_size_as_fss_sam3_pastes_it(tiny_project):
    """The mask tools/infer.py writes is the model's segment() of the photos as they are (which
    integrations/sam3/equivalence.py compares with FSS-SAM3's run_episode); two supports are stretched to one size."""
    from integrations.mmseg.apis.predictor import FewShotPredictor
    from integrations.sam3.boxes import support_boxes

    config, weights = tiny_project
    predictor = FewShotPredictor.from_config(config, cfg_options=dict([weights.split("=", 1)]))
    model = predictor.segmentor.model
    model.score_threshold = 0.0  # every instance: a mask of 8% of the query here
    rng = np.random.default_rng(8)
    support, query = rng.integers(0, 256, (70, 90, 3), dtype=np.uint8), rng.integers(0, 256, (65, 45, 3), np.uint8)
    mask = np.zeros((70, 90), np.uint8)
    mask[10:40, 20:60] = 1
    direct = model.segment(query, [support], [support_boxes(mask)]).mask.numpy()
    assert 0 < direct.sum() < direct.size
    assert np.array_equal(predictor.predict(query, [(support, mask)]).mask, direct.astype(np.uint8))
    other = rng.integers(0, 256, (50, 50, 3), dtype=np.uint8)
    predictor.set_supports([(support, mask), (other, "5,5,30,30")])
    assert tuple(predictor.support_set.images.shape[-2:]) == (predictor.size, predictor.size)


def test_training_says_there_is_nothing_to_train(tiny_project, capsys):
    from tools.train import main as train

    config, weights = tiny_project
    train([config, "--cfg-options", weights])
    assert "FSSSAM3 has nothing to train (every weight is frozen)" in capsys.readouterr().out


def test_a_dinov2_file_given_as_sam3_weights_is_a_one_line_refusal_naming_it(tiny_project, tmp_path):
    config, _ = tiny_project
    torch.save({"patch_embed.proj.weight": torch.zeros(384, 3, 14, 14), "cls_token": torch.zeros(1)},
               tmp_path / "dinov2_vits14_pretrain.pth")
    result = subprocess.run([sys.executable, "tools/test.py", config, "--work-dir", str(tmp_path), "--cfg-options",
                             f"sam3_weights={tmp_path / 'dinov2_vits14_pretrain.pth'}"], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (f"error: {tmp_path / 'dinov2_vits14_pretrain.pth'} (given as sam3_weights) holds DINOv2 ViT-S/14, but "
            f"the config builds SAM 3 of no released size (ViT width 32, 2 blocks)") in result.stderr
