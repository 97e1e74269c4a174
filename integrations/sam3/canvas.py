"""FSS-SAM3's canvas (``model/evaluate.py``, ``PairwiseSam3Evaluator`` and ``Parameterized5ShotEvaluator``): the
supports and the query pasted onto one square image, each stretched into its own cell, so that SAM 3 finds the
supports' objects in the query's cell from the supports' boxes.

Cells are ``(x0, y0, w, h)`` in canvas pixels; they tile the canvas. Images are resized into their cells with PIL's
bilinear filter (antialiased when shrinking), masks are resized back with PIL's nearest filter, as FSS-SAM3 does.
"""
from __future__ import annotations

from typing import List, NamedTuple, Sequence, Tuple

import numpy as np
from PIL import Image

CANVAS_SIZE = 1008  # SAM 3's input size
ORIENTATIONS = ("vertical", "horizontal")
LAYOUTS = ("l_shape", "vertical_strip", "horizontal_strip")
ONE_SHOT_SHARE, FEW_SHOT_SHARE = 0.6, 0.3  # evaluate.py: --ratio defaults for 1 and 5 shots


class Cell(NamedTuple):
    """A rectangle of the canvas: top-left corner and size, in pixels."""

    x0: int
    y0: int
    w: int
    h: int


def one_shot_cells(size: int = CANVAS_SIZE, orientation: str = "vertical", share: float = ONE_SHOT_SHARE,
                   swap: bool = False) -> Tuple[Cell, Cell]:
    """(support cell, query cell) of the 1-shot canvas: the support takes ``int(size * share)`` of the side along
    the split (top or left), the query the rest; ``swap`` puts the query first (top or left).
    """
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")
    check_share(share)
    support, query = int(size * share), size - int(size * share)
    starts = (query, 0) if swap else (0, support)  # (support's start, query's start) along the split
    if orientation == "vertical":
        return Cell(0, starts[0], size, support), Cell(0, starts[1], size, query)
    return Cell(starts[0], 0, support, size), Cell(starts[1], 0, query, size)


def few_shot_cells(shots: int, size: int = CANVAS_SIZE, layout: str = "l_shape",
                   share: float = FEW_SHOT_SHARE) -> Tuple[List[Cell], Cell]:
    """(support cells, query cell) of the k-shot canvas: the supports in a band ``round(size * share)`` thick.

    'l_shape' (5 shots): three supports along the top, two down the left, the query the square at the bottom right;
    'vertical_strip': the supports stacked in a column on the left, the query on the right; 'horizontal_strip': the
    supports in a row along the top, the query below.

    Reading: FSS-SAM3 draws its layouts for 5 shots only; the strips here take any number of shots (each support
    ``size // shots`` along the band, the last the remainder, which is FSS-SAM3's geometry at 5), and 'l_shape',
    which has 5 places, is refused for another number of shots.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if shots < 2:
        raise ValueError(f"the k-shot canvas takes 2 or more supports, got {shots}: use one_shot_cells")
    check_share(share)
    band = int(round(size * share))
    rest = size - band
    if layout == "l_shape":
        if shots != 5:
            raise ValueError(f"the 'l_shape' canvas holds 5 supports, got {shots}: use layout='vertical_strip' or "
                             f"'horizontal_strip'")
        top, left = size // 3, rest // 2
        cells = [Cell(0, 0, top, band), Cell(top, 0, top, band), Cell(2 * top, 0, size - 2 * top, band),
                 Cell(0, band, band, left), Cell(0, band + left, band, rest - left)]
        return cells, Cell(band, band, rest, rest)
    step = size // shots
    spans = [(index * step, step if index < shots - 1 else size - index * step) for index in range(shots)]
    if layout == "vertical_strip":
        return [Cell(0, start, band, length) for start, length in spans], Cell(band, 0, rest, size)
    return [Cell(start, 0, length, band) for start, length in spans], Cell(0, band, size, rest)


def check_share(share: float) -> None:
    if not 0 < share < 1:
        raise ValueError(f"the supports' share of the canvas must be in (0, 1), got {share!r}")


def paste(images: Sequence[np.ndarray], cells: Sequence[Cell], size: int = CANVAS_SIZE) -> np.ndarray:
    """The (size, size, 3) uint8 canvas with each (H, W, 3) uint8 RGB image stretched into its cell (PIL bilinear),
    pasted in order on black."""
    canvas = Image.new("RGB", (size, size), (0, 0, 0))
    for image, cell in zip(images, cells):
        canvas.paste(Image.fromarray(image).resize((cell.w, cell.h), Image.BILINEAR), (cell.x0, cell.y0))
    return np.array(canvas)


def box_on_canvas(box: Sequence[float], image_hw: Tuple[int, int], cell: Cell,
                  size: int = CANVAS_SIZE) -> List[float]:
    """An image's box ``(x, y, w, h)`` in its pixels -> SAM 3's box prompt on the canvas: ``[cx, cy, w, h]``
    normalised by the canvas size, the image stretched into ``cell`` (no clamping, as FSS-SAM3)."""
    scale_x, scale_y = cell.w / image_hw[1], cell.h / image_hw[0]
    x, y, w, h = (float(value) for value in box)
    return [(x * scale_x + cell.x0 + w * scale_x / 2) / size, (y * scale_y + cell.y0 + h * scale_y / 2) / size,
            w * scale_x / size, h * scale_y / size]


def point_on_canvas(point: Sequence[float], image_hw: Tuple[int, int], cell: Cell,
                    size: int = CANVAS_SIZE) -> List[float]:
    """An image's point ``(x, y, label)`` in its pixels -> ``[x, y, label]`` with x, y normalised on the canvas (the
    image stretched into ``cell``; a pixel's centre, as SAM 3 samples its features there)."""
    x, y, label = point
    return [((x + 0.5) * cell.w / image_hw[1] + cell.x0) / size, ((y + 0.5) * cell.h / image_hw[0] + cell.y0) / size,
            float(label)]


def crop_back(canvas_mask: np.ndarray, cell: Cell, image_hw: Tuple[int, int]) -> np.ndarray:
    """The (H, W) uint8 mask of the image in ``cell``: the cell's part of the (size, size) canvas mask resized to the
    image's size by PIL's nearest filter."""
    part = np.ascontiguousarray(canvas_mask[cell.y0:cell.y0 + cell.h, cell.x0:cell.x0 + cell.w].astype(np.uint8))
    return np.asarray(Image.fromarray(part).resize((image_hw[1], image_hw[0]), Image.NEAREST))
