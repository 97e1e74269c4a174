"""What the page shows: a support with its marks, the editor's layers of a mask, and the overlays of results.

Pictures are RGB (what Gradio shows) at preview size; the object is tinted as ``tools/infer.py``'s overlays
and ``tools/test.py --show-dir`` pictures tint it (supports green, predictions red).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from integrations.mmseg.visualization.visualization import PREDICTION_COLOUR, SUPPORT_COLOUR, overlay

from .supports import Support, preview_of

ADD_RGB, REMOVE_RGB = (40, 220, 40), (230, 30, 30)  # the editor's two brushes: object, and not object
ADD_HEX, REMOVE_HEX = ("#{:02x}{:02x}{:02x}".format(*rgb) for rgb in (ADD_RGB, REMOVE_RGB))
BRUSH_OPACITY = 0.7
BOX_RGB, POSITIVE_RGB, NEGATIVE_RGB = (255, 210, 0), (0, 230, 0), (230, 0, 0)


def _dot(picture: np.ndarray, x: int, y: int, colour) -> None:
    radius = max(4, max(picture.shape[:2]) // 90)
    cv2.circle(picture, (x, y), radius + 2, (255, 255, 255), -1, cv2.LINE_AA)
    cv2.circle(picture, (x, y), radius, colour, -1, cv2.LINE_AA)


def marks_picture(support: Support) -> np.ndarray:
    """The support's preview (RGB) with its mask tinted green, its box, a box's first corner and its points."""
    picture = np.ascontiguousarray(overlay(support.preview, support.preview_mask(), SUPPORT_COLOUR)[..., ::-1])
    scale = support.scale
    thickness = max(2, max(picture.shape[:2]) // 300)
    if support.box is not None:
        x0, y0, x1, y1 = (round(value * scale) for value in support.box)
        cv2.rectangle(picture, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), BOX_RGB, thickness, cv2.LINE_AA)
    if support.corner is not None:
        _dot(picture, round(support.corner[0] * scale), round(support.corner[1] * scale), BOX_RGB)
    for x, y, positive in support.points:
        _dot(picture, round(x * scale), round(y * scale), POSITIVE_RGB if positive else NEGATIVE_RGB)
    return picture


def editor_value(support: Support) -> dict:
    """The image editor's value: the support with its mask tinted, to paint on (no layer: Gradio 6.31's editor
    places a layer it is handed by the size of the picture shown before, so a layer lands off the picture).

    Strokes in :data:`ADD_HEX` add to the mask, strokes in :data:`REMOVE_HEX` take away from it (:func:`strokes`).
    """
    return {"background": np.ascontiguousarray(overlay(support.preview, support.preview_mask(), SUPPORT_COLOUR)[
        ..., ::-1]), "layers": [], "composite": None}


def strokes(layers: Sequence[Optional[np.ndarray]], shape) -> Tuple[np.ndarray, np.ndarray]:
    """(added, removed): (H, W) uint8 masks of the editor's strokes in the adding and the removing colour (the
    nearer of the two, where a layer is painted: alpha > 0); zeros without layers."""
    added, removed = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    for layer in layers:
        if layer is None or layer.ndim != 3 or layer.shape[2] != 4:
            continue
        if layer.shape[:2] != tuple(shape):
            raise ValueError(f"a painted layer of {layer.shape[1]}x{layer.shape[0]} does not fit the "
                             f"{shape[1]}x{shape[0]} support")
        painted = layer[..., 3] > 0
        colour = layer[..., :3].astype(np.int32)
        nearer_remove = (np.abs(colour - REMOVE_RGB).sum(-1) < np.abs(colour - ADD_RGB).sum(-1))
        removed[painted & nearer_remove] = 1
        added[painted & ~nearer_remove] = 1
    return added, removed


def result_picture(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A query (BGR, any size) with its predicted mask tinted red, as an RGB preview for the gallery."""
    small = preview_of(image)
    return np.ascontiguousarray(overlay(small, mask, PREDICTION_COLOUR)[..., ::-1])
