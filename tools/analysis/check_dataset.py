"""Check a config's data before training: ``python tools/analysis/check_dataset.py CONFIG [--fold N]``.

``--cfg-options`` takes the tools' overrides (e.g. another list, or COCO's instances json with
``ann_file=``).

Builds the config's training and test datasets (no model, no training) and prints, per split: the
protocol and the list / split files read, the number of test episodes, and per class of the split the
images holding it, its support pool, its queries and its mean object pixels. Every problem found (missing
files, label values that are no class of the dataset nor 255, a class of the split without any episode,
a dataset that cannot be built) is listed on one line each at the end; the exit status is then 1.

Unlike a training run, which stops at the first bad file, the check reads on: missing files and bad
labels are collected (the datasets' own readers are swapped for collecting ones while they are built).
"""
import argparse
import os
import sys
from collections import defaultdict
from contextlib import contextmanager
from typing import Dict, List, Optional
from unittest import mock

import numpy as np
from mmengine.config import Config, DictAction
from mmseg.registry import DATASETS
from prettytable import PrettyTable
from tqdm import tqdm

import integrations.mmseg  # noqa: F401  (registers the host's types)
from integrations.mmseg.datasets import base, coco, pascal
from integrations.mmseg.datasets.files import read_binary_mask, read_label
from integrations.mmseg.engine.run_options import resolve_config

IGNORE = 255
SHOWN = 5  # files named per problem line
SPLITS = (("train", "train_dataloader"), ("test", "test_dataloader"))


class Problems:
    """Problems found, grouped so that each kind is one line however many files it concerns."""

    def __init__(self):
        self.missing: Dict[str, List[str]] = defaultdict(list)  # list / split file -> missing paths
        self.bad_values: Dict[str, List[int]] = {}  # label path -> values outside the classes
        self.other: List[str] = []

    def lines(self) -> List[str]:
        lines = [f"{len(paths)} files listed by {source} are missing: {', '.join(paths[:SHOWN])}"
                 + (" ..." if len(paths) > SHOWN else "") for source, paths in self.missing.items()]
        if self.bad_values:
            named = [f"{path} {values[:4]}" for path, values in list(self.bad_values.items())[:SHOWN]]
            lines.append(f"{len(self.bad_values)} labels hold values outside the dataset's classes and {IGNORE}: "
                         + ", ".join(named) + (" ..." if len(self.bad_values) > SHOWN else ""))
        return lines + self.other


def label_counts(label: np.ndarray, num_classes: Optional[int], path: str, problems: Problems) -> Dict[int, int]:
    """{class: pixels} of a class-index label; values above ``num_classes`` other than 255 are recorded."""
    values, pixels = np.unique(label, return_counts=True)
    if num_classes is not None:
        bad = [int(v) for v in values if (v < 0 or v > num_classes) and v != IGNORE]
        if bad:
            problems.bad_values[path] = bad
    top = IGNORE - 1 if num_classes is None else num_classes
    return {int(v): int(n) for v, n in zip(values, pixels) if 0 < v <= top}


@contextmanager
def collecting_readers(problems: Problems, counts_of: Dict[str, Dict[int, int]]):
    """While datasets are built: missing files and bad label values are recorded instead of raised."""

    def check_files_exist(paths, what, backend_args=None):
        for path in paths:
            if not os.path.isfile(path):
                problems.missing[what].append(path)

    def class_pixel_counts(label_paths, num_classes, description, backend_args=None):
        counts = []
        for path in tqdm(label_paths, desc=f"reading labels ({description})", mininterval=2,
                         disable=len(label_paths) < 200):
            if path not in counts_of:
                try:
                    counts_of[path] = label_counts(read_label(path, backend_args), num_classes, path, problems)
                except FileNotFoundError:
                    counts_of[path] = {}  # recorded as missing
                except ValueError as err:
                    problems.other.append(str(err))
                    counts_of[path] = {}
            counts.append(counts_of[path])
        return counts

    with mock.patch.object(base, "check_files_exist", check_files_exist), \
            mock.patch.object(pascal, "class_pixel_counts", class_pixel_counts), \
            mock.patch.object(coco, "class_pixel_counts", class_pixel_counts):
        yield


def sample_counts(dataset, counts_of: Dict[str, Dict[int, int]], problems: Problems) -> List[Dict[int, int]]:
    """{class: object pixels} of every sample (labels read at most once; unreadable ones count as empty)."""
    if getattr(dataset, "ann_file", None) and len(getattr(dataset, "_class_pixels", ())) == len(dataset.samples):
        return dataset._class_pixels  # COCO json: the annotation areas (pixels) the dataset planned with
    class_of = {s: c for c, pool in dataset.plan.pools.items() for s in pool}  # mask layouts: one class per image
    result = []
    for index, sample in enumerate(tqdm(dataset.samples, desc=f"reading labels ({dataset.mode})", mininterval=2,
                                        disable=len(dataset.samples) < 200)):
        path = sample.label_path
        if path in counts_of:
            result.append(counts_of[path])
            continue
        try:
            if dataset.LABEL_FORMAT == "mask":
                pixels = int(read_binary_mask(path, dataset.backend_args).sum())
                counts = {class_of[index]: pixels} if index in class_of and pixels else {}
            else:
                label = dataset.class_label(sample)
                counts = {} if label is None else label_counts(label, dataset.NUM_LABEL_CLASSES, path or "", problems)
        except FileNotFoundError:
            counts = {}  # recorded as missing when the dataset was built
        except ValueError as err:
            problems.other.append(str(err))
            counts = {}
        if path is not None:
            counts_of[path] = counts
        result.append(counts)
    return result


def class_table(dataset, counts: List[Dict[int, int]]) -> PrettyTable:
    names = dict(zip(dataset.metainfo["class_ids"], dataset.metainfo["classes"]))
    plan = dataset.plan
    table = PrettyTable(["class", "id", "images", "support pool", "queries", "mean object pixels"])
    for class_id in dataset.classes:
        pixels = [c[class_id] for c in counts if c.get(class_id)]
        queries = (len(set(plan.pools.get(class_id, ()))) if plan.query_from_class_pool
                   else sum(class_id in q.classes for q in plan.queries))
        table.add_row([names.get(class_id, class_id), class_id, len(pixels), len(set(plan.pools.get(class_id, ()))),
                       queries, f"{np.mean(pixels):.0f}" if pixels else "-"])
    return table


def check_split(cfg: Config, split: str, loader: str, problems: Problems, counts_of: Dict[str, Dict[int, int]]) -> None:
    dataset_cfg = cfg.get(loader, {}).get("dataset")
    if not dataset_cfg:
        problems.other.append(f"{split}: the config has no {loader}.dataset")
        return
    try:
        with collecting_readers(problems, counts_of):
            dataset = DATASETS.build(dataset_cfg)
    except Exception as err:  # the dataset's own message names the file and what is wrong
        problems.other.append(f"{split} dataset ({dataset_cfg.get('type')}) cannot be built: {err}")
        return
    counts = sample_counts(dataset, counts_of, problems)
    print(f"\n== {split}: {type(dataset).__name__}, {dataset.protocol}'s protocol, {dataset.shot}-shot")
    print(f"   read from: {dataset.source}")
    print(f"   {len(dataset.samples)} images, {dataset.plan.length} queries, {len(dataset)} episodes"
          + (" (the number a test runs)" if split == "test" else " an epoch"))
    print(class_table(dataset, counts).get_string())
    lost = [c for c in dataset.classes if not dataset.plan.pools.get(c) or (
        not dataset.plan.query_from_class_pool and not any(c in q.classes for q in dataset.plan.queries))]
    if lost:
        problems.other.append(f"{split}: classes {lost} of the split have no episode (no query or support pool "
                              f"in {dataset.source})")


def main(argv=None) -> List[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--fold", type=int, help="check this fold (default: the config's)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                        help="override config entries as tools/train.py does, e.g. "
                             "train_dataloader.dataset.list_file=lists/pascal/train_aug.txt")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.config):
        sys.exit(f"config file not found: {args.config}")
    options = {**args.cfg_options, **({} if args.fold is None else {"fold": args.fold})}
    cfg = resolve_config(Config.fromfile(args.config), options)
    problems, counts_of = Problems(), {}
    for split, loader in SPLITS:
        check_split(cfg, split, loader, problems, counts_of)
    lines = problems.lines()
    if lines:
        print(f"\n{len(lines)} problem(s):\n" + "\n".join(f"- {line}" for line in lines))
        sys.exit(1)
    print("\nno problem found")
    return lines


if __name__ == "__main__":
    main()
