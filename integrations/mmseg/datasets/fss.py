"""FSS-1000: one folder per class holding ``1.jpg .. 10.jpg`` and ``1.png .. 10.png``; 520/240/240 split."""
from __future__ import annotations

import os
from typing import List, Tuple

from mmseg.registry import DATASETS

from .base import FewShotDataset, Sample
from .checks import require_dir
from .lists import read_list_lines
from .protocols import EpisodePlan, hsnet_line_plan


@DATASETS.register_module()
class FSS1000Dataset(FewShotDataset):
    """FSS-1000 with HSNet's class split (``splits/fss/{trn,val,test}.txt``) and HSNet's episodes.

    HSNet (data/fss.py): the split's class names are sorted (class id = 1 + position), each class
    folder's ``.jpg`` files in sorted order make the queries, episode i is image i, and supports are
    drawn independently among the other images of the folder (a 5-shot episode may repeat one). Masks
    are converted to grey and thresholded at 128, whatever the PNG mode. In testing there is one
    episode per test image by default (2400 for the test split). Only HSNet's protocol exists here.

    Args:
        data_root (str): Folder with one sub-folder per class.
        split_file (str): Class names, one per line.
        protocol (str): 'hsnet'.
        **kwargs: See :class:`FewShotDataset`.
    """

    PROTOCOLS = ("hsnet",)
    ONE_TEST_EPISODE_PER_IMAGE = True
    LABEL_FORMAT = "mask"

    def __init__(self, data_root: str, split_file: str, protocol: str = "hsnet", **kwargs):
        self.data_root = require_dir(data_root, "FSS-1000 data_root")
        self.split_file = split_file
        self.class_names = tuple(sorted(line for _, line in read_list_lines(split_file, "FSS-1000 split file")))
        self._lines: List[Tuple[int, int]] = []
        super().__init__(protocol=protocol, **kwargs)

    @property
    def classes(self) -> Tuple[int, ...]:
        return tuple(range(1, len(self.class_names) + 1))

    @property
    def metainfo(self) -> dict:
        return dict(classes=self.class_names, class_ids=self.classes)

    @property
    def source(self) -> str:
        return self.split_file

    def list_samples(self) -> List[Sample]:
        samples = []
        for class_id, name in enumerate(self.class_names, 1):
            folder = require_dir(os.path.join(self.data_root, name), f"FSS-1000 class folder of '{name}'")
            images = sorted(f for f in os.listdir(folder) if os.path.splitext(f)[1] == ".jpg")
            if not images:
                raise ValueError(f"FSS-1000 class folder {folder} has no .jpg image")
            for image in images:
                self._lines.append((len(samples), class_id))
                stem = os.path.splitext(image)[0]
                samples.append(Sample(os.path.join(folder, image), os.path.join(folder, f"{stem}.png")))
        return samples

    def plan_episodes(self) -> EpisodePlan:
        return hsnet_line_plan(self._lines)
