"""Check a config's data before training: ``python tools/analysis/check_dataset.py CONFIG [--fold N] [--split test]``.

``--cfg-options`` takes the tools' overrides (e.g. another list, or COCO's instances json with
``ann_file=``).

Builds the config's training and test datasets (no model, no training; ``--split`` one of them, e.g. a
cross-domain target alone) and prints, per split: the protocol and the list / split files read, the number
of test episodes, and per class of the split the images holding it, its support pool, its queries and its
mean object pixels. Every problem found (missing
files, label values that are no class of the dataset nor 255, a class of the split without any episode,
empty, truncated or unreadable images and labels, a dataset that cannot be built) is listed on one line
each at the end; the exit status is then 1.

Unlike a training run, which stops at the first bad file, the check reads on: the datasets are built inside
``collecting_data_problems()``, where their checks record what they find instead of raising.
"""
import argparse
import os
import sys
from typing import Dict, List, Optional

import numpy as np
from mmengine.config import Config, DictAction
from mmseg.registry import DATASETS
from prettytable import PrettyTable
from tqdm import tqdm

import integrations.mmseg  # noqa: F401  (registers the host's types)
from integrations.cli import run_tool
from integrations.mmseg.datasets.checks import DataProblems, collecting_data_problems
from integrations.mmseg.datasets.images import read_binary_mask
from integrations.mmseg.engine.run_options import resolve_config

IGNORE = 255
SHOWN = 5  # files named per problem line
SPLITS = (("train", "train_dataloader"), ("test", "test_dataloader"))


def problem_lines(problems: DataProblems, other: List[str]) -> List[str]:
    """One line per kind of problem and list file, however many files it concerns; then ``other``."""
    def shown(items: List[str], separator: str) -> str:
        return separator.join(items[:SHOWN]) + (" ..." if len(items) > SHOWN else "")

    lines = [f"{len(paths)} files listed by {source} are missing: {shown(paths, ', ')}"
             for source, paths in problems.missing.items()]
    if problems.bad_values:
        named = [f"{path} {values[:4]}" for path, values in problems.bad_values.items()]
        lines.append(f"{len(named)} labels hold values outside the dataset's classes and {IGNORE}: "
                     + shown(named, ", "))
    lines += [f"{len(found)} bad files among those listed by {source}: {shown(found, '; ')}"
              for source, found in problems.bad_files.items()]
    lines += list(problems.unreadable.values())
    return lines + other


def label_counts(label: np.ndarray, num_classes: Optional[int], path: str, problems: DataProblems) -> Dict[int, int]:
    """{class: pixels} of a class-index label; values above ``num_classes`` other than 255 are recorded."""
    values, pixels = np.unique(label, return_counts=True)
    if num_classes is not None:
        bad = [int(v) for v in values if (v < 0 or v > num_classes) and v != IGNORE]
        if bad:
            problems.bad_values[path] = bad
    top = IGNORE - 1 if num_classes is None else num_classes
    return {int(v): int(n) for v, n in zip(values, pixels) if 0 < v <= top}


def sample_counts(dataset, problems: DataProblems, other: List[str]) -> List[Dict[int, int]]:
    """{class: object pixels} of every sample (labels read at most once; unreadable ones count as empty)."""
    counts_of = problems.label_counts  # the labels the dataset read while built
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
            if path not in problems.reported:  # an empty or truncated file is already on a line
                other.append(str(err))
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


def check_split(cfg: Config, split: str, loader: str, problems: DataProblems, other: List[str]) -> None:
    dataset_cfg = (cfg.get(loader) or {}).get("dataset")
    if not dataset_cfg:
        print(f"\n== {split}: the config has no {loader}.dataset (not checked)")
        return
    try:
        with collecting_data_problems(problems):
            dataset = DATASETS.build(dataset_cfg)
    except Exception as err:  # the dataset's own message names the file and what is wrong
        other.append(f"{split} dataset ({dataset_cfg.get('type')}) cannot be built: {err}")
        return
    counts = sample_counts(dataset, problems, other)
    print(f"\n== {split}: {type(dataset).__name__}, {dataset.protocol}'s protocol, {dataset.shot}-shot")
    print(f"   read from: {dataset.source}")
    print(f"   {len(dataset.samples)} images, {dataset.plan.length} queries, {len(dataset)} episodes"
          + (" (the number a test runs)" if split == "test" else " an epoch"))
    print(class_table(dataset, counts).get_string())
    lost = [c for c in dataset.classes if not dataset.plan.pools.get(c) or (
        not dataset.plan.query_from_class_pool and not any(c in q.classes for q in dataset.plan.queries))]
    if lost:
        other.append(f"{split}: classes {lost} of the split have no episode (no query or support pool "
                     f"in {dataset.source})")


def main(argv=None) -> List[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--fold", type=int, help="check this fold (default: the config's)")
    parser.add_argument("--split", choices=[split for split, _ in SPLITS],
                        help="check this split alone (default: both)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                        help="override config entries as tools/train.py does, e.g. "
                             "train_dataloader.dataset.list_file=lists/pascal/train_aug.txt")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.config):
        sys.exit(f"config file not found: {args.config}")
    options = {**args.cfg_options, **({} if args.fold is None else {"fold": args.fold})}
    cfg = resolve_config(Config.fromfile(args.config), options)
    problems, other = DataProblems(), []
    splits = [(split, loader) for split, loader in SPLITS if args.split in (None, split)]
    if not any((cfg.get(loader) or {}).get("dataset") for _, loader in splits):
        other.append(f"the config has no {' nor '.join(loader for _, loader in splits)} dataset to check")
    for split, loader in splits:
        check_split(cfg, split, loader, problems, other)
    lines = problem_lines(problems, other)
    if lines:
        print(f"\n{len(lines)} problem(s):\n" + "\n".join(f"- {line}" for line in lines))
        sys.exit(1)
    print("\nno problem found")
    return lines


if __name__ == "__main__":
    run_tool(main)
