"""Few-shot mIoU and FB-IoU (Section 5.1; the OSLSM / PFENet protocol), registered in mmseg's ``METRICS``."""
from __future__ import annotations

import difflib
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS
from prettytable import PrettyTable

from crc_modules.labels import IGNORE_INDEX


def episode_areas(pred: torch.Tensor, label: torch.Tensor) -> List[int]:
    """[fg intersection, fg union, bg intersection, bg union] of one binary prediction, ignoring 255."""
    if pred.shape != label.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and label {tuple(label.shape)} differ in size")
    valid = label != IGNORE_INDEX
    areas = []
    for value in (1, 0):
        predicted, annotated = (pred == value) & valid, (label == value) & valid
        areas += [int((predicted & annotated).sum()), int((predicted | annotated).sum())]
    return areas


def fold_scores(areas: np.ndarray, fold_classes: Sequence[int]) -> Tuple[float, float, Dict[int, float]]:
    """(mIoU, FB-IoU, {class: IoU}) as fractions from per-episode rows [class, fg I, fg U, bg I, bg U].

    IoU_c is class c's summed intersection over its summed union (0 for a class with no episode or a zero
    union); mIoU is their mean over ``fold_classes``; FB-IoU the mean of foreground and background IoU,
    each summed over every episode.
    """
    class_iou, fb_iou = _scores(_class_positions(areas, fold_classes), areas[:, 1:], len(fold_classes))
    return float(class_iou.mean()), fb_iou, dict(zip(fold_classes, class_iou.tolist()))


def _class_positions(areas: np.ndarray, fold_classes: Sequence[int]) -> np.ndarray:
    position = {c: i for i, c in enumerate(fold_classes)}
    return np.fromiter((position[c] for c in areas[:, 0].tolist()), np.int64, len(areas))


def _scores(positions: np.ndarray, values: np.ndarray, num_classes: int) -> Tuple[np.ndarray, float]:
    """(per-class IoU (C,), FB-IoU) from each episode's class position and [fg I, fg U, bg I, bg U]."""
    sums = np.stack([np.bincount(positions, values[:, k], num_classes) for k in range(4)], 1)  # (C, 4)
    class_iou = np.divide(sums[:, 0], sums[:, 1], out=np.zeros(num_classes), where=sums[:, 1] > 0)
    totals = sums.sum(0)
    present = [totals[i] / totals[i + 1] for i in (0, 2) if totals[i + 1]]
    return class_iou, float(np.mean(present)) if present else float("nan")


def bootstrap_interval(areas: np.ndarray, fold_classes: Sequence[int], samples: int, seed: int,
                       level: float = 0.95) -> Dict[str, List[float]]:
    """Percentile bootstrap over episodes: mIoU and FB-IoU (percent) of ``samples`` resamples with replacement.

    Each resample draws as many episodes as the run had, uniformly with replacement, from
    ``np.random.default_rng(seed)``, and recomputes both scores as :func:`fold_scores` does; the interval is
    the (1 - level) / 2 and (1 + level) / 2 quantiles. Reading: the episodes are taken as independent draws
    (the interval says how much the score moves with the episodes drawn, not with the training run).
    """
    rng = np.random.default_rng(seed)
    positions, values = _class_positions(areas, fold_classes), areas[:, 1:]
    scores = np.empty((samples, 2))
    for b in range(samples):
        pick = rng.integers(len(areas), size=len(areas))
        class_iou, fb_iou = _scores(positions[pick], values[pick], len(fold_classes))
        scores[b] = class_iou.mean(), fb_iou
    low, high = np.quantile(100 * scores, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return {"mIoU": [round(float(low[0]), 2), round(float(high[0]), 2)],
            "FB-IoU": [round(float(low[1]), 2), round(float(high[1]), 2)]}


@METRICS.register_module()
class FewShotIoUMetric(BaseMetric):
    """mIoU over the fold's classes and FB-IoU, from areas summed over episodes, with bootstrap intervals.

    Per class c: IoU_c = (sum of foreground intersections) / (sum of foreground unions) over the
    episodes of class c; mIoU is the mean of IoU_c over the fold's classes (``dataset_meta['class_ids']``,
    else the classes that had episodes). As in PFENet (test.py: per-class IoU over a fixed number of
    classes, intersection / (union + 1e-10)) and HSNet (common/logger.py: intersection / max(union, 1)
    over the fold's class ids), a class with no episode, or with a zero summed union, counts as IoU 0;
    the log names it. FB-IoU is the mean of the background and foreground IoU, each summed over all
    episodes. Under distributed evaluation MMEngine gathers the per-episode areas from every process
    before :meth:`compute_metrics`, so the result does not depend on it.

    The per-episode areas are kept, so the results also hold ``mIoU_ci95`` and ``FB-IoU_ci95``: 95%
    percentile-bootstrap intervals over the episodes (:func:`bootstrap_interval`). After
    :meth:`compute_metrics`, ``class_iou`` holds {class name: IoU in percent} of the last evaluation.

    Args:
        bootstrap_samples (int): Resamples of the bootstrap interval; 0 leaves the interval out. Default: 1000.
        bootstrap_seed (int): Seed of the resampling, so an interval is reproducible. Default: 0.
        collect_device (str): 'cpu' or 'gpu', where results are gathered. Default: 'cpu'.
        prefix (str, optional): Prefix of the metric names.
    """

    default_prefix = ""

    def __init__(self, bootstrap_samples: int = 1000, bootstrap_seed: int = 0, collect_device: str = "cpu",
                 prefix: Optional[str] = None, collect_dir: Optional[str] = None, **unknown):
        settings = ("bootstrap_samples", "bootstrap_seed", "collect_device", "prefix", "collect_dir")
        for key in unknown:  # refused when the run is built, not after the whole test
            close = difflib.get_close_matches(key, settings, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"FewShotIoUMetric has no setting {key!r}{hint}; its settings are {', '.join(settings)}")
        if isinstance(bootstrap_samples, bool) or not isinstance(bootstrap_samples, int) or bootstrap_samples < 0:
            raise ValueError(f"FewShotIoUMetric: bootstrap_samples is a number of resamples, 0 or more (0: no "
                             f"interval), got {bootstrap_samples!r}")
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.bootstrap_samples, self.bootstrap_seed = bootstrap_samples, bootstrap_seed
        self.class_iou: Dict[str, float] = {}

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample["pred_sem_seg"]["data"].squeeze().cpu()
            label = sample["gt_sem_seg"]["data"].squeeze().cpu()
            self.results.append([int(sample["class_id"])] + episode_areas(pred, label))

    def compute_metrics(self, results: List[list]) -> Dict[str, object]:
        areas = np.asarray(results, dtype=np.int64).reshape(-1, 5)
        fold_classes = tuple((self.dataset_meta or {}).get("class_ids", ())) or tuple(sorted(set(areas[:, 0])))
        strangers = sorted(set(areas[:, 0].tolist()) - set(fold_classes))
        if strangers:
            raise ValueError(f"episodes of classes {strangers} are not among the fold's classes {fold_classes}")
        miou, fb_iou, class_iou = fold_scores(areas, fold_classes)
        episodes = {c: int((areas[:, 0] == c).sum()) for c in fold_classes}
        unions = {c: int(areas[areas[:, 0] == c, 2].sum()) for c in fold_classes}
        self._warn_zero_classes(episodes, unions)
        self._log_table(class_iou, episodes)
        names = self._class_names()
        self.class_iou = {str(names.get(c, c)): round(100 * iou, 2) for c, iou in class_iou.items()}
        metrics = {
            "mIoU": round(100 * miou, 2) if fold_classes else float("nan"),
            "FB-IoU": round(100 * fb_iou, 2),
            "episodes": int(len(areas)),
        }
        if self.bootstrap_samples and len(areas):
            interval = bootstrap_interval(areas, fold_classes, self.bootstrap_samples, self.bootstrap_seed)
            metrics.update({"mIoU_ci95": interval["mIoU"], "FB-IoU_ci95": interval["FB-IoU"]})
        return metrics

    def _class_names(self) -> Dict[int, str]:
        meta = self.dataset_meta or {}
        return dict(zip(meta.get("class_ids", ()), meta.get("classes", ())))

    def _warn_zero_classes(self, episodes: Dict[int, int], unions: Dict[int, int]) -> None:
        names = self._class_names()
        for what, classes in (("got no episode", [c for c, n in episodes.items() if not n]),
                              ("have a zero union (no object, none predicted)",
                               [c for c, n in episodes.items() if n and not unions[c]])):
            if classes:
                named = ", ".join(f"{names.get(c, c)} ({c})" for c in classes)
                print_log(f"classes {named} {what}: IoU 0 in mIoU, as PFENet and HSNet count them",
                          logger="current", level=30)

    def _log_table(self, class_iou: Dict[int, float], episodes: Dict[int, int]) -> None:
        names = self._class_names()
        table = PrettyTable(["class", "id", "episodes", "IoU"])
        for class_id, iou in class_iou.items():
            table.add_row([names.get(class_id, str(class_id)), class_id, episodes[class_id], f"{100 * iou:.2f}"])
        print_log("per-class IoU:\n" + table.get_string(), logger="current")
