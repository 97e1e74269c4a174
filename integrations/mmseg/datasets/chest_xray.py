"""Chest X-ray lungs as PATNet reads them: ``LungSegmentation/{CXR_png,masks}``, the pool built from the masks."""
from __future__ import annotations

import os
from typing import List, Tuple

from mmengine.logging import print_log
from mmseg.registry import DATASETS

from .checks import require_dir
from .cross_domain import CrossDomainDataset, patnet_glob

MASK_SUFFIX = "_mask.png"  # PATNet data/lung.py: the image of 'x_mask.png' is 'CXR_png/x.png' (name[:-9] + '.png')
SHOWN = 3


@DATASETS.register_module()
class ChestXrayDataset(CrossDomainDataset):
    """Chest X-ray (Candemir et al., 2013; Jaeger et al., 2013) in PATNet's layout: Kaggle's "Chest Xray Masks and
    Labels" unpacked as ``LungSegmentation/``.

    PATNet (``data/lung.py``): one category, lungs; the pool is ``LungSegmentation/masks/*.png`` in sorted
    order, and the image of ``<id>_mask.png`` is ``LungSegmentation/CXR_png/<id>.png``. Reading: the download
    also holds Montgomery masks named like their image (``MCUCXR_0001_0.png``), from which PATNet's rule
    derives no image (its loader would fail on the first one drawn); they are left out of the pool, and the
    log says how many, leaving the Shenzhen masks (``CHNCXR_<n>_<label>_mask.png``).

    Args: see :class:`CrossDomainDataset`.
    """

    LAYOUT = os.path.join("LungSegmentation", "masks")
    CATEGORIES = ("1",)
    CLASS_NAMES = ("lungs",)

    def category_files(self, category: str) -> List[Tuple[str, str]]:
        root = os.path.join(self.data_root, "LungSegmentation")
        masks = patnet_glob(require_dir(os.path.join(root, "masks"), "Chest X-ray mask folder"), "png")
        paired = [m for m in masks if os.path.basename(m).endswith(MASK_SUFFIX)]
        unpaired = [os.path.basename(m) for m in masks if not os.path.basename(m).endswith(MASK_SUFFIX)]
        if unpaired:
            print_log(f"{type(self).__name__}: {len(unpaired)} masks in {os.path.join(root, 'masks')} are not named "
                      f"<id>{MASK_SUFFIX} ({', '.join(unpaired[:SHOWN])}{' ...' if len(unpaired) > SHOWN else ''}): "
                      f"PATNet's rule finds no image for them, so they are left out", logger="current", level=30)
        images = os.path.join(root, "CXR_png")
        return [(os.path.join(images, os.path.basename(mask)[:-len(MASK_SUFFIX)] + ".png"), mask) for mask in paired]
