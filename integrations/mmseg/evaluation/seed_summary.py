"""Test runs over several episode seeds: per-seed scores, their mean and standard deviation, per-class means.

``tools/test.py --seeds 0 1 2 3 4`` tests once per seed (the test episodes drawn from that seed) and
reports the table this module makes; each run also carries the metric's 95% bootstrap interval.
"""
from __future__ import annotations

import statistics
from typing import Dict, List, Optional, Sequence

from prettytable import PrettyTable

SCORES = ("mIoU", "FB-IoU")


def _std(values: Sequence[float]) -> Optional[float]:
    """Sample standard deviation (n - 1 in the denominator); None for a single run."""
    return round(statistics.stdev(values), 2) if len(values) > 1 else None


def require_distinct_seeds(seeds: Sequence[int]) -> None:
    """Refuse a negative seed (numpy's generators take none) and a seed given twice: its run would count twice in the
    mean and the standard deviation."""
    negative = [seed for seed in seeds if seed < 0]
    if negative:
        raise ValueError(f"--seeds {' '.join(map(str, seeds))}: seeds are 0 or more, got "
                         f"{', '.join(map(str, negative))}")
    repeated = sorted({seed for seed in seeds if list(seeds).count(seed) > 1})
    if repeated:
        raise ValueError(f"--seeds {' '.join(map(str, seeds))}: seed {', '.join(map(str, repeated))} is given more "
                         f"than once, so its episodes would count twice in the mean and standard deviation; give each "
                         f"seed once")


def summarize_seeds(runs: Sequence[dict]) -> dict:
    """Mean and sample standard deviation of each score over runs, and each class's IoU averaged over runs.

    Args:
        runs (list[dict]): One per seed: ``seed``, ``metrics`` (the metric's results: mIoU, FB-IoU, ...)
            and ``class_IoU`` ({class name: IoU in percent}).

    Returns:
        dict: ``seeds``, ``{score}_mean``, ``{score}_std`` for mIoU and FB-IoU, ``class_IoU_mean``.
    """
    if not runs:
        raise ValueError("no test run to summarize")
    require_distinct_seeds([run["seed"] for run in runs])
    summary: Dict[str, object] = {"seeds": [run["seed"] for run in runs]}
    for score in SCORES:
        values = [run["metrics"][score] for run in runs]
        summary[f"{score}_mean"] = round(statistics.fmean(values), 2)
        summary[f"{score}_std"] = _std(values)
    classes = list(runs[0]["class_IoU"])
    summary["class_IoU_mean"] = {c: round(statistics.fmean(run["class_IoU"][c] for run in runs), 2)
                                 for c in classes}
    return summary


def _interval(metrics: dict, score: str) -> str:
    interval = metrics.get(f"{score}_ci95")
    return f"{interval[0]:.2f}-{interval[1]:.2f}" if interval else "-"


def format_seed_table(runs: Sequence[dict], summary: dict) -> str:
    """Per-seed mIoU / FB-IoU with their 95% bootstrap intervals, then the mean and standard deviation rows,
    then the per-class IoU averaged over seeds."""
    table = PrettyTable(["seed", "mIoU", "mIoU 95% CI", "FB-IoU", "FB-IoU 95% CI", "episodes"])
    for run in runs:
        metrics = run["metrics"]
        table.add_row([run["seed"], f"{metrics['mIoU']:.2f}", _interval(metrics, "mIoU"), f"{metrics['FB-IoU']:.2f}",
                       _interval(metrics, "FB-IoU"), metrics.get("episodes", "-")])
    std: List[str] = [("-" if summary[f"{s}_std"] is None else f"{summary[f'{s}_std']:.2f}") for s in SCORES]
    table.add_row(["mean", f"{summary['mIoU_mean']:.2f}", "", f"{summary['FB-IoU_mean']:.2f}", "", ""])
    table.add_row(["std", std[0], "", std[1], "", ""])
    classes = PrettyTable(["class", "IoU mean over seeds"])
    for name, iou in summary["class_IoU_mean"].items():
        classes.add_row([name, f"{iou:.2f}"])
    return f"{table.get_string()}\n{classes.get_string()}"
