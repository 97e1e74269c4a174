"""The generated few-shot dataset of the built-in default run: scenes of textured shapes, no download."""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
from mmseg.registry import DATASETS

from .base import FewShotDataset, Sample
from .folds import fold_classes
from .generated_scenes import CLASSES_PER_FOLD, NUM_CLASSES, NUM_FOLDS, class_appearance, render_scene
from .loading import binary_label
from .protocols import EpisodePlan, pfenet_plan


@DATASETS.register_module()
class GeneratedFewShotDataset(FewShotDataset):
    """Scenes of textured shapes (see ``generated_scenes.py``) with 4 folds of 5 test classes, from a seed.

    Fold i's novel classes are 5i+1..5i+5, as in PASCAL-5i; its base classes are the other 123 cue
    combinations. Training scenes hold base classes only, test scenes novel classes only; every scene
    holds one or two look-alike classes of the split besides the one it was drawn for, so only the
    support tells which object is the target. Episodes follow PFENet's
    rules (a class enters a support pool from ``min_class_pixels``). Images are rendered, not read, so
    no loading transform runs.

    Args:
        fold (int): 0..3.
        images_per_class (int): Images generated per class. Default: 40.
        image_size (int): Side of the square images. Default: 80.
        data_seed (int): Seed of the images (``seed`` is the seed of the test episodes). Default: 0.
        min_class_pixels (int): Pixels a class needs to count in an image. Default: 64.
        **kwargs: See :class:`FewShotDataset`.
    """

    PROTOCOLS = ("pfenet",)

    def __init__(self, fold: int = 0, images_per_class: int = 40, image_size: int = 80, data_seed: int = 0,
                 min_class_pixels: int = 64, **kwargs):
        self.fold, self.images_per_class, self.image_size = fold, images_per_class, image_size
        self.data_seed, self.min_class_pixels = data_seed, min_class_pixels
        self.base_classes, self.novel_classes = fold_classes(fold, NUM_FOLDS, NUM_CLASSES, CLASSES_PER_FOLD)
        super().__init__(**kwargs)

    @property
    def metainfo(self) -> dict:
        names = tuple(class_appearance(c).name for c in self.classes)
        return dict(classes=names, class_ids=self.classes)

    @property
    def source(self) -> str:
        return f"generated data (seed {self.data_seed}, fold {self.fold}, {self.mode})"

    def _render(self, sample: Sample) -> Tuple[np.ndarray, np.ndarray]:
        _, primary, instance = sample.img_path.rsplit("/", 2)
        img, label = render_scene(self.data_seed, int(primary), int(instance), self.mode == "test",
                                  self.image_size, self.classes)
        return img[..., ::-1].copy(), label  # BGR, as mmseg loads images

    def list_samples(self) -> List[Sample]:
        return [Sample(f"generated://seed{self.data_seed}/{self.mode}/{class_id}/{instance}", None)
                for class_id in self.classes for instance in range(self.images_per_class)]

    def files_to_check(self) -> List[str]:
        return []

    def class_label(self, sample: Sample) -> Optional[np.ndarray]:
        return self._render(sample)[1]

    def plan_episodes(self) -> EpisodePlan:
        pixels = []
        for sample in self.samples:
            counts = np.bincount(self._render(sample)[1].ravel(), minlength=NUM_CLASSES + 1)
            pixels.append({c: int(counts[c]) for c in range(1, NUM_CLASSES + 1) if counts[c]})
        return pfenet_plan(pixels, self.classes, self.min_class_pixels)

    def load(self, sample: Sample, category: int) -> dict:
        img, label = self._render(sample)
        return dict(img=img, gt_seg_map=binary_label(label, category), seg_fields=["gt_seg_map"],
                    img_path=sample.img_path, seg_map_path=None, img_shape=img.shape[:2], ori_shape=img.shape[:2],
                    reduce_zero_label=False)
