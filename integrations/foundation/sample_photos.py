"""Photos for the measurement tools' runs without a dataset: the sample photos matplotlib (a dependency of MMEngine
and MMSegmentation) ships, read as BGR and resized to a square."""
from __future__ import annotations

import os
from typing import List

import cv2
import numpy as np

PHOTOS = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png", "logo2.png")


def sample_photos(side: int) -> List[np.ndarray]:
    """The three photos, each (side, side, 3) uint8 BGR."""
    import matplotlib

    folder = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data")
    return [cv2.resize(cv2.imread(os.path.join(folder, name), cv2.IMREAD_COLOR), (side, side)) for name in PHOTOS]
