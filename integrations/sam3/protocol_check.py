"""The ``fss_sam3`` protocol's episodes against FSS-SAM3's own dataset classes (``data/dataset_tool.py`` of a copy of
``WongKinYiu/FSS-SAM3`` outside this repository, never shipped), on the same data:

    python -m integrations.sam3.protocol_check --reference /path/to/FSS-SAM3 --voc VOCdevkit/VOC2012 \\
        --coco MSCOCO2014 [--shots 1 5]

For each fold and shot it counts the episodes (of 1000) whose class, query, supports and support boxes are identical,
running FSS-SAM3's datasets as its ``evaluate.py`` runs them (Python's ``random`` seeded once, the folds in order).
"""
from __future__ import annotations

import argparse
import os
import random

import numpy as np

from integrations.mmseg.datasets import FssSam3CocoDataset, FssSam3PascalDataset

SEEDS = dict(pascal=123, coco=0)  # evaluate.py's defaults


def stem(path: str) -> str:
    """A file's name without folder and extension (FSS-SAM3 names PASCAL files by their stem)."""
    return os.path.splitext(os.path.basename(path))[0]


def reference_episodes(module, dataset: str, root: str, shot: int):
    """{fold: [(class id, query file, [support files], [boxes])]} of FSS-SAM3's dataset, in evaluate.py's order."""
    random.seed(SEEDS[dataset])  # setup_seed: the global stream the COCO boxes draw from
    np.random.seed(SEEDS[dataset])
    episodes = {}
    for fold in range(4):
        if dataset == "pascal":
            data = module.PascalVOCFSSDataset(data_root=root, fold=fold, k_shot=shot, mode="val",
                                              seed=SEEDS[dataset])
        else:
            data = module.COCOFSSDataset(lists_root=None, data_root=root, fold=fold, k_shot=shot, mode="val",
                                         seed=SEEDS[dataset])
        episodes[fold] = []
        for index in range(len(data)):
            refs, targets, category, _ = data[index]
            episodes[fold].append((category, stem(targets[0]["name"]), [stem(ref["name"]) for ref in refs],
                                   [[float(v) for v in ref["box"]] for ref in refs]))
    return episodes


def our_episodes(dataset: str, root: str, shot: int, fold: int):
    """The same of this project's ``fss_sam3`` dataset of ``fold`` (its COCO class ids back to COCO's)."""
    if dataset == "pascal":
        data = FssSam3PascalDataset(data_root=root, fold=fold, shot=shot)
        category_of = int
    else:
        data = FssSam3CocoDataset(data_root=root, fold=fold, shot=shot, ann_file="annotations/instances_val2014.json")
        category_of = data.category_ids.__getitem__  # class c is COCO's c-th category
    episodes = []
    for index in range(len(data)):
        query, category, supports = data.episode(index)
        episodes.append((category_of(category - 1) if dataset == "coco" else category_of(category),
                         stem(data.samples[query].img_path), [stem(data.samples[s].img_path) for s in supports],
                         data.support_boxes(index)))
    return episodes


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="root of a copy of FSS-SAM3 (holds data/dataset_tool.py)")
    parser.add_argument("--voc", help="VOC2012 folder (JPEGImages, SegmentationClass, SegmentationObject, ImageSets)")
    parser.add_argument("--coco", help="folder of val2014/ and annotations/instances_val2014.json")
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5])
    args = parser.parse_args(argv)
    import importlib.util
    import sys

    sys.path.append(args.reference)
    spec = importlib.util.spec_from_file_location("fss_sam3_reference_dataset_tool",
                                                  os.path.join(args.reference, "data", "dataset_tool.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print("| dataset | shots | fold | identical episodes (class, query, supports, boxes) |")
    print("| --- | --- | --- | --- |")
    for dataset, root in (("pascal", args.voc), ("coco", args.coco)):
        if not root:
            continue
        for shot in args.shots:
            theirs = reference_episodes(module, dataset, root, shot)
            for fold in range(4):
                ours = our_episodes(dataset, root, shot, fold)
                same = sum(a == b for a, b in zip(ours, theirs[fold]))
                print(f"| {dataset} | {shot} | {fold} | {same} of {len(theirs[fold])} (ours {len(ours)}) |",
                      flush=True)


if __name__ == "__main__":
    main()
