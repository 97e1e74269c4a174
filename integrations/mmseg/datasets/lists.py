"""Reading the list and split files of the few-shot layouts: PFENet's image lists, HSNet's splits, json.

Every error names the file and the line; a list that is empty or not text is refused when a dataset is built
(a byte-order mark is read: :mod:`integrations.text_files`).
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Sequence, Tuple

from integrations.text_files import read_text

from .checks import require_file
from .plain_pickle import load_plain_pickle


def read_list_lines(path: str, what: str) -> List[Tuple[int, str]]:
    """(line number, stripped text) of the non-empty lines; a byte-order mark is dropped; an empty file is an error."""
    lines = [(number, line.strip()) for number, line in enumerate(read_text(path, what).splitlines(), 1)
             if line.strip()]
    if not lines:
        raise ValueError(f"{what} {path} is empty: it lists nothing")
    return lines


def read_pair_list(list_file: str, data_root: str) -> List[Tuple[str, str]]:
    """PFENet's lists: ``JPEGImages/x.jpg SegmentationClassAug/x.png`` per line, relative to ``data_root``."""
    pairs = []
    for number, line in read_list_lines(list_file, "image list"):
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{list_file}:{number}: expected 'IMAGE LABEL', got {line!r}")
        pairs.append((os.path.join(data_root, parts[0]), os.path.join(data_root, parts[1])))
    return pairs

def read_hsnet_split(split_files: Sequence[str]) -> List[Tuple[str, int]]:
    """HSNet's PASCAL splits: ``2007_000033__01`` lines -> (image id, 1-based class), files then lines in order."""
    lines = []
    for split_file in split_files:
        for number, line in read_list_lines(split_file, "split file"):
            name, separator, class_id = line.rpartition("__")
            if not separator or not name or not class_id.isdigit():
                raise ValueError(f"{split_file}:{number}: expected 'IMAGEID__CLASS' such as '2007_000033__01', "
                                 f"got {line!r}")
            lines.append((name, int(class_id)))
    return lines

def read_hsnet_coco_split(path: str) -> Dict[int, List[str]]:
    """HSNet's ``splits/coco/{trn,val}/fold*.pkl``: {0-based class: ['train2014/COCO_train2014_x.jpg', ...]}."""
    split = load_plain_pickle(path, "COCO split file")
    if not isinstance(split, dict):
        raise ValueError(f"COCO split file {path} holds a {type(split).__name__}; expected a dict class -> image names")
    for class_index, names in split.items():
        if not isinstance(class_index, int) or not 0 <= class_index < 80:
            raise ValueError(f"COCO split file {path} has the key {class_index!r}; expected class indices 0..79")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"COCO split file {path}: class {class_index} maps to {type(names).__name__}; "
                             f"expected a list of image names")
    return split

def read_json(path: str, what: str) -> Any:
    with open(require_file(path, what), encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as err:
            raise ValueError(f"{what} {path} is not valid JSON: {err.msg} at line {err.lineno}, "
                             f"column {err.colno}") from err
