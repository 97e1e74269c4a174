"""tools/infer.py and the FewShotPredictor API on images the test writes (issue 6)."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

import integrations.mmseg  # noqa: F401
from crc_modules.registry import MODELS
from integrations.mmseg.launch import export_weights
from integrations.mmseg.predictor import FewShotPredictor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "crcnet_generated.py")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A config-built model's exported weights, two supports (mask image, box) and a folder of queries."""
    root = tmp_path_factory.mktemp("infer")
    from mmengine.config import Config

    torch.manual_seed(0)
    export_weights(MODELS.build(Config.fromfile(CONFIG).model), str(root / "weights.pth"))
    rng = np.random.default_rng(0)
    os.makedirs(root / "queries")
    for path in ("s1.jpg", "s2.jpg", "queries/q1.jpg", "queries/q2.jpg", "queries/q3.jpg"):
        cv2.imwrite(str(root / path), rng.integers(0, 255, (40, 56, 3), dtype=np.uint8))
    mask = np.zeros((40, 56), np.uint8)
    mask[10:30, 12:40] = 255
    cv2.imwrite(str(root / "s1_mask.png"), mask)
    return root


def _infer(root, *extra):
    return subprocess.run([sys.executable, "tools/infer.py", "--config", CONFIG, "--checkpoint",
                           str(root / "weights.pth"), *extra], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_infer_writes_a_mask_and_an_overlay_per_query(files, tmp_path):
    result = _infer(files, "--support", str(files / "s1.jpg"), str(files / "s1_mask.png"), "--support",
                    str(files / "s2.jpg"), "5,5,30,25", "--query", str(files / "queries"), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("q1", "q2", "q3"):
        mask = cv2.imread(str(tmp_path / f"{name}_mask.png"), cv2.IMREAD_GRAYSCALE)
        assert mask.shape == (40, 56) and set(np.unique(mask)) <= {0, 255}
        assert cv2.imread(str(tmp_path / f"{name}_overlay.png")).shape == (40, 56, 3)


def test_a_bad_query_is_reported_and_earlier_outputs_remain(files, tmp_path):
    broken = tmp_path / "z_broken.jpg"
    broken.write_bytes(b"not an image")
    result = _infer(files, "--support", str(files / "s1.jpg"), str(files / "s1_mask.png"), "--query",
                    str(files / "queries" / "q1.jpg"), str(broken), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "cannot decode image" in result.stderr and "z_broken.jpg" in result.stderr
    assert (tmp_path / "out" / "q1_mask.png").exists()


def test_support_errors_name_the_file(files, tmp_path):
    empty = np.zeros((40, 56), np.uint8)
    cv2.imwrite(str(tmp_path / "empty.png"), empty)
    cv2.imwrite(str(tmp_path / "small.png"), np.full((20, 20), 255, np.uint8))
    predictor = FewShotPredictor.from_config(CONFIG, str(files / "weights.pth"))
    with pytest.raises(ValueError, match=r"mask of .*s1.jpg is empty|mask of .*empty.png is empty"):
        predictor.set_supports([(str(files / "s1.jpg"), str(tmp_path / "empty.png"))])
    with pytest.raises(ValueError, match=r"small.png is 20x20 but its image is 56x40"):
        predictor.set_supports([(str(files / "s1.jpg"), str(tmp_path / "small.png"))])
    with pytest.raises(ValueError, match=r"box \(0, 0, 90, 10\) .* not inside"):
        predictor.set_supports([(str(files / "s1.jpg"), "0,0,90,10")])
    with pytest.raises(FileNotFoundError, match="image file not found: .*nope.jpg"):
        predictor.set_supports([(str(tmp_path / "nope.jpg"), "0,0,9,9")])


def test_api_on_arrays_matches_the_segmentor():
    torch.manual_seed(0)
    predictor = FewShotPredictor.from_config(CONFIG)
    rng = np.random.default_rng(1)
    support, query = rng.integers(0, 255, (48, 48, 3), dtype=np.uint8), rng.integers(0, 255, (48, 48, 3),
                                                                                       dtype=np.uint8)
    mask = np.zeros((48, 48), bool)
    mask[8:30, 8:30] = True
    result = predictor.predict(query, supports=[(support, mask)])
    assert result.mask.shape == result.probability.shape == (48, 48)
    segmentor = predictor.segmentor
    to_input = lambda a: segmentor.data_preprocessor.normalize(torch.from_numpy(a[..., ::-1].copy()).permute(2, 0, 1))
    with torch.no_grad():
        logits = segmentor.model(to_input(support)[None], torch.from_numpy(mask).float()[None, None],
                                 to_input(query)[None]).query_logits
    logits = torch.nn.functional.interpolate(logits, size=(48, 48), mode="bilinear", align_corners=False)
    expected = torch.softmax(logits, 1)[0, 1].numpy()
    assert np.allclose(result.probability, expected, atol=1e-5)
    assert np.array_equal(result.mask, (expected > 0.5).astype(np.uint8))
