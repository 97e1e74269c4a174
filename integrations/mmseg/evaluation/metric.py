"""Few-shot mIoU and FB-IoU (Section 5.1; the OSLSM / PFENet protocol), registered in mmseg's ``METRICS``."""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Sequence

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


@METRICS.register_module()
class FewShotIoUMetric(BaseMetric):
    """mIoU over the fold's classes and FB-IoU, from areas summed over episodes.

    Per class c: IoU_c = (sum of foreground intersections) / (sum of foreground unions) over the
    episodes of class c; mIoU is the mean of IoU_c over the fold's classes (``dataset_meta['class_ids']``,
    else the classes that had episodes). As in PFENet (test.py: per-class IoU over a fixed number of
    classes, intersection / (union + 1e-10)) and HSNet (common/logger.py: intersection / max(union, 1)
    over the fold's class ids), a class with no episode, or with a zero summed union, counts as IoU 0;
    the log names it. FB-IoU is the mean of the background and foreground IoU, each summed over all
    episodes. Under distributed evaluation MMEngine gathers the per-episode areas from every process
    before :meth:`compute_metrics`, so the result does not depend on it.

    Args:
        collect_device (str): 'cpu' or 'gpu', where results are gathered. Default: 'cpu'.
        prefix (str, optional): Prefix of the metric names.
    """

    default_prefix = ""

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample["pred_sem_seg"]["data"].squeeze().cpu()
            label = sample["gt_sem_seg"]["data"].squeeze().cpu()
            self.results.append([int(sample["class_id"])] + episode_areas(pred, label))

    def compute_metrics(self, results: List[list]) -> Dict[str, float]:
        areas = np.asarray(results, dtype=np.int64).reshape(-1, 5)
        per_class: Dict[int, np.ndarray] = defaultdict(lambda: np.zeros(4, np.int64))
        for class_id, *episode in areas.tolist():
            per_class[class_id] += np.asarray(episode)
        fold_classes = tuple((self.dataset_meta or {}).get("class_ids", ())) or tuple(sorted(per_class))
        strangers = sorted(set(per_class) - set(fold_classes))
        if strangers:
            raise ValueError(f"episodes of classes {strangers} are not among the fold's classes {fold_classes}")
        class_iou = {c: per_class[c][0] / per_class[c][1] if per_class[c][1] else 0.0 for c in fold_classes}
        episodes = {c: int((areas[:, 0] == c).sum()) for c in fold_classes}
        self._warn_zero_classes(episodes, {c: int(per_class[c][1]) for c in fold_classes})
        totals = areas[:, 1:].sum(axis=0)
        fg_iou = totals[0] / totals[1] if totals[1] else float("nan")
        bg_iou = totals[2] / totals[3] if totals[3] else float("nan")
        self._log_table(class_iou, episodes)
        return {
            "mIoU": round(100 * float(np.mean(list(class_iou.values()))), 2) if class_iou else float("nan"),
            "FB-IoU": round(100 * float(np.nanmean([fg_iou, bg_iou])), 2),
            "episodes": int(len(areas)),
        }

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
