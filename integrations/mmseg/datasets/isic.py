"""ISIC 2018 skin lesions as PATNet reads them: images in one folder per diagnosis, the task-1 masks in one folder."""
from __future__ import annotations

import os
from typing import List, Sequence, Tuple

from mmseg.registry import DATASETS

from .checks import require_dir
from .cross_domain import CrossDomainDataset, image_stem, patnet_glob

IMAGE_FOLDER, MASK_FOLDER = "ISIC2018_Task1-2_Training_Input", "ISIC2018_Task1_Training_GroundTruth"  # under ISIC/
# Reading: PATNet's data/isic/class_id.csv names each image's diagnosis but not the folder of each; folders
# 1, 2, 3 are nevus, seborrheic keratosis and melanoma as IFA's data/preprocess_isic.py (Nie et al., CVPR 2024)
# splits them, whose authors say their data is PATNet's
ISIC_CLASSES = ("nevus", "seborrheic_keratosis", "melanoma")


@DATASETS.register_module()
class ISICDataset(CrossDomainDataset):
    """ISIC 2018 task 1 (Codella et al., 2019) in PATNet's layout, prepared by ``tools/dataset_converters/isic.py``.

    PATNet (``data/isic.py``): category k's pool is ``ISIC/ISIC2018_Task1-2_Training_Input/k/*.jpg`` (the 2594
    training images split by diagnosis: 1867 / 208 / 519), each with the mask
    ``ISIC/ISIC2018_Task1_Training_GroundTruth/<id>_segmentation.png``.

    Args:
        categories (Sequence[str]): The class folders in the order whose episode i is of class i mod 3. PATNet's
            ``('1', '2', '3')`` by default; GF-SAM's ``data/isic.py`` numbers the diagnoses nevus, melanoma,
            seborrheic keratosis (its ``cls_dict`` over ``class_id.csv``), which is ``('1', '3', '2')`` here.
        **kwargs: See :class:`CrossDomainDataset`.
    """

    LAYOUT = os.path.join("ISIC", IMAGE_FOLDER, "{1,2,3}")
    CATEGORIES = ("1", "2", "3")
    CLASS_NAMES = ISIC_CLASSES

    def __init__(self, *args, categories: Sequence[str] = CATEGORIES, **kwargs):
        if sorted(categories) != sorted(ISICDataset.CATEGORIES):
            raise ValueError(f"ISICDataset: categories must order the class folders {ISICDataset.CATEGORIES}, "
                             f"got {tuple(categories)}")
        name_of = dict(zip(ISICDataset.CATEGORIES, ISIC_CLASSES))
        self.CATEGORIES, self.CLASS_NAMES = tuple(categories), tuple(name_of[folder] for folder in categories)
        super().__init__(*args, **kwargs)

    def category_files(self, category: str) -> List[Tuple[str, str]]:
        folder = require_dir(os.path.join(self.data_root, "ISIC", IMAGE_FOLDER, category),
                             f"ISIC class {category} image folder")
        masks = require_dir(os.path.join(self.data_root, "ISIC", MASK_FOLDER), "ISIC mask folder")
        return [(image, os.path.join(masks, f"{image_stem(image)}_segmentation.png"))
                for image in patnet_glob(folder, "jpg")]
