"""Does a few-shot model use its support? Its scores with right, wrong, empty and full supports, and two
baselines that never look at the support, on the same test episodes ("every object pixel" needs full
label maps at the evaluation label's size: original labels, or a pipeline that does not resize them).

A model that segments the target because it matched the support scores far lower with supports of
another class (whose images do not hold the target) and with an empty support mask; a model that
segments whatever is salient scores alike on every row, and near the "every object pixel" baseline.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import MMLogger
from mmseg.structures import SegDataSample
from tqdm import tqdm

from crc_modules.labels import IGNORE_INDEX

from ..datasets.base import FewShotDataset
from ..evaluation.metric import FewShotIoUMetric

CORRECT = "correct supports"
WRONG_CLASS = "supports of another class"
EMPTY = "empty support masks"
FULL = "full support masks"
ALL_FOREGROUND = "baseline: all foreground"
OBJECT_PIXELS = "baseline: every object pixel"
ROWS = (CORRECT, WRONG_CLASS, EMPTY, FULL, ALL_FOREGROUND, OBJECT_PIXELS)
MAX_CANDIDATES = 200  # images tried per episode when looking for supports that do not hold the target


@contextmanager
def _quiet_metric_logs() -> Iterator[None]:
    """The metric logs a per-class table per call; keep only warnings while the rows are scored."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _holds(dataset: FewShotDataset, sample: int, category: int) -> bool:
    """Whether an image holds ``category``: from its full label, or (binary-mask layouts such as FSS-1000,
    one class per image) only when it is in that class's pool."""
    label = dataset.class_label(dataset.samples[sample])
    if label is None:
        return sample in dataset.plan.pools.get(category, ())
    return bool((label == category).any())


def wrong_class_supports(dataset: FewShotDataset, index: int, query: int,
                         category: int) -> Optional[Tuple[int, List[int]]]:
    """(another class of the split, ``shot`` distinct images of it that hold no pixel of ``category``), or None.

    Drawn from ``(seed, index)``: the same supports on every run.
    """
    rng = np.random.default_rng((dataset.seed, index, 1))
    others = [c for c in dataset.plan.pool_classes if c != category]
    for other in rng.permutation(others).tolist():
        pool = [s for s in dict.fromkeys(dataset.plan.pools[other]) if s != query]
        chosen = []
        for sample in rng.permutation(pool)[:MAX_CANDIDATES].tolist():
            if not _holds(dataset, sample, category):
                chosen.append(sample)
                if len(chosen) == dataset.shot:
                    return other, chosen
    return None


class SupportSensitivity:
    """Scores one model on a dataset's test episodes under each row of ``ROWS``.

    Args:
        segmentor: A :class:`FewShotSegmentor` (any hosted model), in eval mode.
        dataset: The test dataset (its episodes, protocol and evaluation label).
    """

    def __init__(self, segmentor: torch.nn.Module, dataset: FewShotDataset):
        self.segmentor, self.dataset = segmentor, dataset
        self.metrics = {row: FewShotIoUMetric() for row in ROWS}
        for metric in self.metrics.values():
            metric.dataset_meta = dataset.metainfo
        self.skipped: Dict[str, int] = {row: 0 for row in ROWS}

    def _predict(self, episode: dict, supports: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        data = self.segmentor.data_preprocessor(dict(inputs=dict(
            query=[episode["inputs"]["query"]], supports=[supports], support_labels=[labels])))
        sample = SegDataSample(metainfo=episode["data_samples"].metainfo)
        sample.gt_sem_seg = episode["data_samples"].gt_sem_seg
        (sample,) = self.segmentor.predict(data["inputs"], [sample])
        return sample.pred_sem_seg.data

    def _score(self, row: str, episode: dict, prediction: Optional[torch.Tensor]) -> None:
        if prediction is None:
            self.skipped[row] += 1
            return
        sample = episode["data_samples"]
        self.metrics[row].process(None, [dict(class_id=sample.class_id, pred_sem_seg=dict(data=prediction),
                                              gt_sem_seg=dict(data=sample.gt_sem_seg.data))])

    @torch.no_grad()
    def add_episode(self, index: int) -> None:
        """Score episode ``index`` under every row."""
        episode = self.dataset[index]
        supports, labels = episode["inputs"]["supports"], episode["inputs"]["support_labels"]
        truth = episode["data_samples"].gt_sem_seg.data  # (1, H, W) at the evaluation label's size
        query, category, _ = self.dataset.episode(index)
        self._score(CORRECT, episode, self._predict(episode, supports, labels))
        wrong = wrong_class_supports(self.dataset, index, query, category)
        if wrong is not None:
            other, samples = wrong
            images, masks = zip(*(self.dataset.support_inputs(s, other) for s in samples))
            wrong = self._predict(episode, torch.stack(images), torch.stack(masks))
        self._score(WRONG_CLASS, episode, wrong)
        ignored = labels == IGNORE_INDEX
        self._score(EMPTY, episode, self._predict(episode, supports, torch.where(ignored, labels, 0)))
        self._score(FULL, episode, self._predict(episode, supports, torch.where(ignored, labels, 1)))
        self._score(ALL_FOREGROUND, episode, torch.ones_like(truth))
        full_label = self.dataset.class_label(self.dataset.samples[query])
        objects = None
        if full_label is not None and full_label.shape == truth.shape[-2:]:  # labels the pipeline left as they are
            objects = torch.from_numpy((full_label != 0) & (full_label != IGNORE_INDEX)).long()[None]
        self._score(OBJECT_PIXELS, episode, objects)

    def results(self) -> Dict[str, Optional[dict]]:
        """Row -> {mIoU, FB-IoU, episodes, skipped} (None for a row no episode could be scored on)."""
        table = {}
        with _quiet_metric_logs():
            for row, metric in self.metrics.items():
                if not metric.results:
                    table[row] = None
                    continue
                scores = metric.compute_metrics(metric.results)
                table[row] = dict(mIoU=scores["mIoU"], FB_IoU=scores["FB-IoU"], episodes=scores["episodes"],
                                  skipped=self.skipped[row])
        return table


def support_sensitivity(segmentor: torch.nn.Module, dataset: FewShotDataset,
                        num_episodes: Optional[int] = None, progress: bool = True) -> Dict[str, Optional[dict]]:
    """Every row of ``ROWS`` on the first ``num_episodes`` test episodes (default: all of them)."""
    analysis = SupportSensitivity(segmentor.eval(), dataset)
    count = len(dataset) if num_episodes is None else min(num_episodes, len(dataset))
    for index in tqdm(range(count), desc="support sensitivity", unit="episode", disable=not progress, mininterval=5):
        analysis.add_episode(index)
    return analysis.results()


def format_table(results: Dict[str, Optional[dict]]) -> str:
    """A Markdown table of the rows, with each mIoU as a share of the correct supports' mIoU."""
    reference = (results.get(CORRECT) or {}).get("mIoU")
    lines = ["| support | mIoU | FB-IoU | share of correct mIoU | episodes |", "| --- | --- | --- | --- | --- |"]
    for row, scores in results.items():
        if scores is None:
            lines.append(f"| {row} | n/a | n/a | n/a | 0 |")
            continue
        share = f"{100 * scores['mIoU'] / reference:.0f}%" if reference else "n/a"
        lines.append(f"| {row} | {scores['mIoU']:.2f} | {scores['FB_IoU']:.2f} | {share} | {scores['episodes']} |")
    return "\n".join(lines)
