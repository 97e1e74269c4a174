"""FSS-1000: one folder per class holding ``1.jpg .. 10.jpg`` and ``1.png .. 10.png``; 520/240/240 split."""
from __future__ import annotations

import os
from typing import List, Tuple

import numpy as np
from mmseg.registry import DATASETS

from .base import FewShotDataset, Sample, require_dir, require_file

MASK_THRESHOLD = 128


@DATASETS.register_module()
class FSS1000Dataset(FewShotDataset):
    """FSS-1000 with the class split of the user's split file (HSNet's ``trn.txt``/``val.txt``/``test.txt``).

    Class ids are the 1-based line numbers of the split file. Masks are thresholded at 128. In
    testing there is one episode per test image by default (2400 for the test split).

    Args:
        data_root (str): Folder with one sub-folder per class.
        split_file (str): Class names, one per line.
        **kwargs: See :class:`FewShotDataset`.
    """

    ONE_TEST_EPISODE_PER_IMAGE = True

    def __init__(self, data_root: str, split_file: str, **kwargs):
        self.data_root = require_dir(data_root, "FSS-1000 data_root")
        with open(require_file(split_file, "FSS-1000 split file"), encoding="utf-8") as lines:
            self.class_names = tuple(line.strip() for line in lines if line.strip())
        if not self.class_names:
            raise ValueError(f"FSS-1000 split file {split_file} lists no class")
        super().__init__(**kwargs)

    @property
    def classes(self) -> Tuple[int, ...]:
        return tuple(range(1, len(self.class_names) + 1))

    @property
    def metainfo(self) -> dict:
        return dict(classes=self.class_names, class_ids=self.classes)

    def load_samples(self) -> List[Sample]:
        samples = []
        for class_id, name in enumerate(self.class_names, 1):
            folder = require_dir(os.path.join(self.data_root, name), f"FSS-1000 class folder of '{name}'")
            images = sorted((f for f in os.listdir(folder) if f.lower().endswith(".jpg")),
                            key=lambda f: (len(f), f))
            if not images:
                raise ValueError(f"FSS-1000 class folder {folder} has no .jpg image")
            for image in images:
                stem = os.path.splitext(image)[0]
                samples.append(Sample(os.path.join(folder, image), os.path.join(folder, f"{stem}.png"), (class_id,)))
        return samples

    def load_image_and_label(self, sample: Sample) -> Tuple[np.ndarray, np.ndarray]:
        img, mask = super().load_image_and_label(sample)
        return img, np.where(mask >= MASK_THRESHOLD, sample.classes[0], 0).astype(np.uint8)
