"""tools/test.py --seeds and the metric's bootstrap interval (issue 20, section 3)."""
import json
import os
import statistics

import numpy as np
import pytest
import torch
from mmengine.config import Config

import integrations.mmseg  # noqa: F401
from integrations.mmseg.engine.checkpoint import export_weights
from integrations.mmseg.engine.run_options import resolve_config
from integrations.mmseg.evaluation.metric import FewShotIoUMetric, bootstrap_interval
from integrations.mmseg.evaluation.seed_summary import summarize_seeds
from integrations.mmseg.models.segmentor import FewShotSegmentor
from tests.tool_modules import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "crcnet_generated.py")
MODEL = {"model.model.refine_steps": 1, "model.model.channels": 8}
TINY = [f"{k}={v}" for k, v in MODEL.items()] + [
    "test_dataloader.dataset.image_size=40", "test_dataloader.dataset.images_per_class=3",
    "test_dataloader.dataset.num_episodes=12"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Weights of an untrained tiny CRCNet (the seeds change its scores all the same)."""
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(MODEL)
    path = str(tmp_path_factory.mktemp("weights") / "weights.pth")
    return export_weights(FewShotSegmentor.build(cfg), path)


def _test(weights, out, *extra):
    """tools/test.py in this process (its start-up would dominate a subprocess), at this process's thread count."""
    load_tool("test").main([CONFIG, weights, "--work-dir", str(out.parent), "--out", str(out), *extra])
    return json.loads(out.read_text())


def test_per_seed_runs_equal_separate_runs_and_the_summary_is_their_mean_and_std(weights, tmp_path, capsys,
                                                                                  monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", str(torch.get_num_threads()))
    seeded = _test(weights, tmp_path / "seeds.json", "--seeds", "3", "5", "--cfg-options", *TINY)
    log = capsys.readouterr().out
    alone = _test(weights, tmp_path / "alone.json", "--cfg-options", *TINY, "test_dataloader.dataset.seed=5")
    runs = seeded["runs"]
    assert [run["seed"] for run in runs] == [3, 5]
    assert runs[1]["metrics"] == alone["metrics"] and runs[1]["class_IoU"] == alone["class_IoU"]
    assert runs[0]["metrics"] != runs[1]["metrics"]  # other episodes
    assert len(runs[1]["class_IoU"]) == 5 and runs[1]["metrics"]["episodes"] == 12
    summary = seeded["metrics"]
    for score in ("mIoU", "FB-IoU"):
        values = [run["metrics"][score] for run in runs]
        assert summary[f"{score}_mean"] == pytest.approx(np.mean(values), abs=0.006)
        assert summary[f"{score}_std"] == pytest.approx(np.std(values, ddof=1), abs=0.006)
        for run in runs:
            low, high = run["metrics"][f"{score}_ci95"]
            assert low <= run["metrics"][score] <= high
    for name, mean in summary["class_IoU_mean"].items():
        assert mean == pytest.approx(np.mean([run["class_IoU"][name] for run in runs]), abs=0.006)
    assert "test over seeds [3, 5]" in log and "IoU mean over seeds" in log


def test_a_single_seed_has_no_standard_deviation():
    runs = [dict(seed=0, metrics={"mIoU": 40.0, "FB-IoU": 60.0}, class_IoU={"a": 40.0})]
    summary = summarize_seeds(runs)
    assert summary["mIoU_mean"] == 40.0 and summary["mIoU_std"] is None
    assert statistics.fmean([40.0]) == summary["mIoU_mean"]


def _episode_rows(seed, episodes=200, classes=(1, 2, 3)):
    rng = np.random.default_rng(seed)
    union = rng.integers(50, 400, episodes)
    inter = (union * rng.random(episodes) * 0.8).astype(int)
    bg_union = rng.integers(500, 1000, episodes)
    return np.stack([rng.choice(classes, episodes), inter, union, bg_union - union // 2, bg_union], 1)


def _reference_interval(rows, classes, samples, seed):
    """The percentile bootstrap written out: per resample, summed areas per class, then quantiles."""
    rng = np.random.default_rng(seed)
    mious, fbs = [], []
    for _ in range(samples):
        pick = rows[rng.integers(len(rows), size=len(rows))]
        ious = []
        for c in classes:
            mine = pick[pick[:, 0] == c]
            ious.append(mine[:, 1].sum() / mine[:, 2].sum() if mine[:, 2].sum() else 0.0)
        mious.append(100 * np.mean(ious))
        fbs.append(100 * (pick[:, 1].sum() / pick[:, 2].sum() + pick[:, 3].sum() / pick[:, 4].sum()) / 2)
    return [np.quantile(mious, q) for q in (0.025, 0.975)], [np.quantile(fbs, q) for q in (0.025, 0.975)]


def test_bootstrap_interval_matches_a_written_out_reference_and_is_reproducible_from_its_seed():
    rows, classes = _episode_rows(0), (1, 2, 3, 4)  # class 4: no episode, IoU 0 in every resample
    interval = bootstrap_interval(rows, classes, samples=200, seed=7)
    miou_ref, fb_ref = _reference_interval(rows, classes, 200, 7)
    np.testing.assert_allclose(interval["mIoU"], miou_ref, atol=0.006)
    np.testing.assert_allclose(interval["FB-IoU"], fb_ref, atol=0.006)
    assert bootstrap_interval(rows, classes, samples=200, seed=7) == interval
    assert bootstrap_interval(rows, classes, samples=200, seed=8) != interval


def test_metric_reports_the_interval_around_its_point_estimate_and_the_class_ious():
    metric = FewShotIoUMetric(bootstrap_samples=300, bootstrap_seed=1)
    metric.dataset_meta = dict(classes=("a", "b", "c"), class_ids=(1, 2, 3))
    rows = _episode_rows(3)
    result = metric.compute_metrics(rows.tolist())
    assert result["mIoU_ci95"][0] <= result["mIoU"] <= result["mIoU_ci95"][1]
    assert result["FB-IoU_ci95"][0] <= result["FB-IoU"] <= result["FB-IoU_ci95"][1]
    assert result["mIoU_ci95"] == bootstrap_interval(rows, (1, 2, 3), 300, 1)["mIoU"]
    expected = {name: 100 * rows[rows[:, 0] == c, 1].sum() / rows[rows[:, 0] == c, 2].sum()
                for name, c in zip("abc", (1, 2, 3))}
    assert metric.class_iou == pytest.approx(expected, abs=0.006)
    assert result["mIoU"] == pytest.approx(np.mean(list(expected.values())), abs=0.006)
    assert "mIoU_ci95" not in FewShotIoUMetric(bootstrap_samples=0).compute_metrics(rows.tolist())


def test_a_seed_given_twice_is_refused_before_anything_runs(weights, tmp_path):
    with pytest.raises(ValueError, match=r"--seeds 0 0 1: seed 0 is given more than once, so its episodes would count "
                                         r"twice"):
        _test(weights, tmp_path / "dup.json", "--seeds", "0", "0", "1")
    assert not (tmp_path / "dup.json").exists()
    with pytest.raises(ValueError, match="seed 2 is given more than once"):
        summarize_seeds([dict(seed=2, metrics={"mIoU": 1.0, "FB-IoU": 1.0}, class_IoU={})] * 2)
    with pytest.raises(ValueError, match=r"--seeds 0 -1: seeds are 0 or more, got -1"):  # a traceback from numpy before
        _test(weights, tmp_path / "negative.json", "--seeds", "0", "-1")


@pytest.mark.parametrize("setting, message", [
    ({"bootstrap_samples": -5}, r"bootstrap_samples is a number of resamples, 0 or more \(0: no interval\), got -5"),
    ({"bootstrap_sample": 0}, r"FewShotIoUMetric has no setting 'bootstrap_sample' \(did you mean "
                              r"'bootstrap_samples'\?\)"),
])
def test_a_wrong_metric_setting_is_refused_when_the_metric_is_built(setting, message):
    """Before: -5 failed after the whole test with no metrics written; a misspelt key was a TypeError traceback."""
    from mmseg.registry import METRICS

    with pytest.raises(ValueError, match=message):
        METRICS.build(dict(type="FewShotIoUMetric", **setting))


def test_val_evaluator_bootstrap_samples_reaches_the_test_as_the_readme_writes_it(weights, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", str(torch.get_num_threads()))
    result = _test(weights, tmp_path / "no_ci.json", "--cfg-options", *TINY, "val_evaluator.bootstrap_samples=0")
    assert "mIoU" in result["metrics"] and "mIoU_ci95" not in result["metrics"]
    cfg = resolve_config(Config.fromfile(CONFIG), {"val_evaluator.bootstrap_samples": 0,
                                                   "test_evaluator.bootstrap_seed": 3})
    assert cfg.test_evaluator.bootstrap_samples == 0 and cfg.test_evaluator.bootstrap_seed == 3
    assert "bootstrap_seed" not in cfg.val_evaluator
    separate = Config.fromfile(CONFIG)
    separate.test_evaluator = dict(type="FewShotIoUMetric", bootstrap_samples=50)  # not the validation one
    assert resolve_config(separate, {"val_evaluator.bootstrap_samples": 0}).test_evaluator.bootstrap_samples == 50
