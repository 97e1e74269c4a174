"""Deepglobe land cover as PATNet tiles it: ``Deepglobe/{1..6}/test/{origin,groundtruth}``, one folder per class."""
from __future__ import annotations

import os
from typing import List, Tuple

from mmseg.registry import DATASETS

from .checks import require_dir
from .cross_domain import CrossDomainDataset, image_stem, patnet_glob

# PATNet's folder k holds the tiles where preprocess.py's labelset[k - 1] appears; it compares those triplets
# with OpenCV's BGR pixels, so folder 1 is Deepglobe's agriculture (RGB 255,255,0), folder 2 urban (0,255,255)
DEEPGLOBE_CLASSES = ("agriculture", "urban", "rangeland", "forest", "water", "barren")


@DATASETS.register_module()
class DeepglobeDataset(CrossDomainDataset):
    """Deepglobe (Demir et al., CVPR-W 2018) in PATNet's layout, written by ``tools/dataset_converters/deepglobe.py``.

    PATNet (``data/deepglobe.py``): category k's pool is ``Deepglobe/k/test/origin/*.jpg`` (408 x 408 tiles of
    the 2448 x 2448 training images), each with the binary mask ``Deepglobe/k/test/groundtruth/<id>.png``
    (white where the tile shows class k). A tile holding several classes is in several folders. Reading: the
    class of each folder follows from preprocess.py's colour comparison in BGR (see ``DEEPGLOBE_CLASSES``).

    Args: see :class:`CrossDomainDataset`.
    """

    LAYOUT = os.path.join("Deepglobe", "{1..6}", "test", "origin")
    CATEGORIES = tuple(str(k) for k in range(1, 7))
    CLASS_NAMES = DEEPGLOBE_CLASSES

    def category_files(self, category: str) -> List[Tuple[str, str]]:
        folder = os.path.join(self.data_root, "Deepglobe", category, "test")
        images = patnet_glob(require_dir(os.path.join(folder, "origin"), f"Deepglobe class {category} image folder"),
                             "jpg")
        return [(image, os.path.join(folder, "groundtruth", image_stem(image) + ".png")) for image in images]
