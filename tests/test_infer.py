"""tools/infer.py and the FewShotPredictor API on images the test writes (issue 6)."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

import integrations.mmseg  # noqa: F401
from crc_modules.registry import MODELS
from integrations.mmseg.apis.predictor import FewShotPredictor
from integrations.mmseg.engine.checkpoint import export_weights
from integrations.mmseg.models.segmentor import FewShotSegmentor
from tests.tool_modules import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "crcnet_generated.py")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A config-built model's exported weights, two supports (mask image, box) and a folder of queries."""
    root = tmp_path_factory.mktemp("infer")
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
    with pytest.raises(FileNotFoundError, match=r"mask file of .*s1.jpg not found: .*missing_mask.png"):
        predictor.set_supports([(str(files / "s1.jpg"), str(tmp_path / "missing_mask.png"))])
    with pytest.raises(ValueError, match=r"box \(5, 5, 5, 20\) of .*s1.jpg has zero area or is reversed"):
        predictor.set_supports([(str(files / "s1.jpg"), "5,5,5,20")])
    with pytest.raises(ValueError, match=r"box \(30, 5, 10, 20\) of .*s1.jpg has zero area or is reversed"):
        predictor.set_supports([(str(files / "s1.jpg"), (30, 5, 10, 20))])
    with pytest.raises(ValueError, match=r"whole-pixel coordinates, got '1.5,2,30,20'"):
        predictor.set_supports([(str(files / "s1.jpg"), (1.5, 2, 30, 20))])
    with pytest.raises(ValueError, match=r"whole-pixel coordinates, got '1.5,2,30,20'"):
        predictor.set_supports([(str(files / "s1.jpg"), "1.5,2,30,20")])


def test_api_on_arrays_matches_the_segmentor():
    torch.manual_seed(0)
    predictor = FewShotPredictor(FewShotSegmentor.build(Config.fromfile(CONFIG)), size=48)  # arrays' own size
    rng = np.random.default_rng(1)
    support, query = rng.integers(0, 255, (48, 48, 3), dtype=np.uint8), rng.integers(0, 255, (48, 48, 3),
                                                                                       dtype=np.uint8)
    mask = np.zeros((48, 48), bool)
    mask[8:30, 8:30] = True
    result = predictor.predict(query, supports=[(support, mask)])
    assert result.mask.shape == result.probability.shape == (48, 48)
    segmentor = predictor.segmentor

    def to_input(array):
        return segmentor.data_preprocessor.normalize(torch.from_numpy(array[..., ::-1].copy()).permute(2, 0, 1))

    with torch.no_grad():
        logits = segmentor.model(to_input(query)[None], to_input(support)[None],
                                 torch.from_numpy(mask).float()[None, None]).query_logits
    logits = torch.nn.functional.interpolate(logits, size=(48, 48), mode="bilinear", align_corners=False)
    expected = torch.softmax(logits, 1)[0, 1].numpy()
    assert np.allclose(result.probability, expected, atol=1e-5)
    assert np.array_equal(result.mask, (expected > 0.5).astype(np.uint8))


def _arrays(count, shape=(48, 48, 3), seed=2):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, shape, dtype=np.uint8) for _ in range(count)]


def _square_mask(shape=(48, 48)):
    mask = np.zeros(shape, bool)
    mask[8:30, 10:36] = True
    return mask


def test_a_folder_is_finetuned_once_and_each_query_is_independent_of_those_before(files, monkeypatch):
    from crc_modules import kshot

    finetunes = []
    original = kshot.finetune_on_supports
    monkeypatch.setattr(kshot, "finetune_on_supports", lambda *a: finetunes.append(1) or original(*a))
    predictor = FewShotPredictor.from_config(CONFIG, str(files / "weights.pth"), kshot_mode="both")
    supports = [(image, _square_mask()) for image in _arrays(3)]
    predictor.set_supports(supports)
    queries = _arrays(4, seed=3)
    in_order = [predictor.predict(q).probability for q in queries]
    assert len(finetunes) == 1
    alone = FewShotPredictor.from_config(CONFIG, str(files / "weights.pth"), kshot_mode="both")
    assert np.array_equal(alone.predict(queries[3], supports=supports).probability, in_order[3])
    assert len(finetunes) == 2


def test_a_4000x3000_photo_is_resized_to_the_working_size_and_mapped_back(files):
    predictor = FewShotPredictor.from_config(CONFIG, str(files / "weights.pth"))
    assert predictor.size == 80  # the generated config's image size
    predictor.set_supports([(_arrays(1)[0], _square_mask())])
    seen = []
    predictor.segmentor.model.encoder.register_forward_hook(lambda module, args, out: seen.append(args[0].shape))
    small = cv2.resize(_arrays(1, seed=5)[0], (80, 60), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (5, 5), 0)  # smooth, so resizing it up and down again changes little
    large = cv2.resize(small, (4000, 3000), interpolation=cv2.INTER_LINEAR)
    result = predictor.predict(large)
    assert result.mask.shape == result.probability.shape == (3000, 4000)
    assert max(max(shape[-2:]) for shape in seen) == 80  # the encoder never saw more than the working size
    expected = cv2.resize(predictor.predict(small).probability, (4000, 3000), interpolation=cv2.INTER_LINEAR)
    assert np.abs(result.probability - expected).mean() < 0.02


def test_bf16_fast_mode_is_close_to_fp32(files):
    supports = [(_arrays(1)[0], _square_mask())]
    query = _arrays(1, seed=4)[0]
    reference = FewShotPredictor.from_config(CONFIG, str(files / "weights.pth"), size=48)
    fast = FewShotPredictor.from_config(CONFIG, str(files / "weights.pth"), size=48, precision="bf16")
    expected = reference.predict(query, supports=supports).probability
    got = fast.predict(query, supports=supports).probability
    assert np.abs(got - expected).max() < 0.05 and not np.array_equal(got, expected)
    convolutions = [m.weight for m in fast.segmentor.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in convolutions)  # the fast layout
    assert all(m.weight.is_contiguous() for m in reference.segmentor.modules() if isinstance(m, torch.nn.Conv2d))


def test_colliding_query_names_keep_both_outputs(files, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    image = cv2.imread(str(files / "queries" / "q1.jpg"))
    cv2.imwrite(str(folder / "a.jpg"), image)
    cv2.imwrite(str(folder / "a.png"), image[:, ::-1])
    result = _infer(files, "--support", str(files / "s1.jpg"), str(files / "s1_mask.png"), "--query", str(folder),
                    "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(os.listdir(tmp_path / "out")) == [".infer_outputs", ".infer_run.json", "a_jpg_mask.png",
                                                    "a_jpg_overlay.png", "a_png_mask.png", "a_png_overlay.png"]


def test_a_file_named_twice_is_segmented_once_and_distinct_files_get_distinct_names(tmp_path, monkeypatch):
    infer = load_tool("infer")
    for folder in ("photos", "photos/trip", "other/trip"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    for name in ("photos/a.jpg", "photos/a.png", "photos/trip/a.jpg", "other/trip/a.jpg"):
        (tmp_path / name).touch()
    monkeypatch.chdir(tmp_path)
    queries = infer.expand_queries(["photos/a.jpg", "./photos/../photos/a.jpg", "photos",
                                    str(tmp_path / "photos/a.png"),
                                    "photos/trip/a.jpg", "other/trip/a.jpg"])
    assert queries == ["photos/a.jpg", "photos/a.png", "photos/trip/a.jpg", "other/trip/a.jpg"]
    assert infer.output_names(queries) == {"photos/a.jpg": "photos_a_jpg", "photos/a.png": "a_png",
                                           "photos/trip/a.jpg": "photos_trip_a_jpg",
                                           "other/trip/a.jpg": "other_trip_a_jpg"}
