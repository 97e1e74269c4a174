"""How a support image is marked: a mask, or prompts for SAM2 (a box, positive / negative clicks, a scribble).

The command-line syntax of a prompt (``tools/infer.py --support IMAGE SPEC``, the predictor's strings):
``x0,y0,x1,y1`` is a box in pixels (x1, y1 exclusive), ``+x,y`` a positive and ``-x,y`` a negative click, and
items join with ``;`` (``+120,80;-30,40`` two clicks, ``10,20,200,180;-60,90`` a box and a click).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

Box = Tuple[int, int, int, int]
Point = Tuple[int, int, int]  # (x, y, 1 positive | 0 negative)

_NUMBER = r"-?\d+(?:\.\d*)?"
_BOX = re.compile(rf"^\s*{_NUMBER}\s*(?:,\s*{_NUMBER}\s*){{3}}$")
_POINT = re.compile(r"^\s*([+-])\s*(\d+)\s*,\s*(\d+)\s*$")
MAX_SCRIBBLE_POINTS = 256


_PROMPT_CHARACTERS = re.compile(r"^[\s\d.,;+-]*\d[\s\d.,;+-]*$")


def looks_like_prompt_text(text: str) -> bool:
    """Whether ``text`` is made of the prompt syntax's characters alone (digits, signs, commas, semicolons), so a
    string that is no file is a mistyped prompt ('10,20', a click without its sign), not a missing mask file."""
    return bool(_PROMPT_CHARACTERS.match(text))


def is_prompt_text(text: str) -> bool:
    """Whether ``text`` is written in the prompt syntax (a box, clicks or both) rather than naming a file."""
    items = [item for item in text.split(";") if item.strip()]
    return all(_BOX.match(item) or _POINT.match(item) for item in items)  # no item ('', ';'): an empty list


@dataclass(frozen=True)
class SupportPrompt:
    """A support's marking: a ``mask`` (H, W) in {0, 1}; or a ``box`` (x0, y0, x1, y1), ``points`` ((x, y, 1 | 0),
    ...) and / or a ``scribble`` (H, W) of painted stroke pixels, which SAM2 turns into a mask."""

    mask: Optional[np.ndarray] = None
    box: Optional[Box] = None
    points: Tuple[Point, ...] = ()
    scribble: Optional[np.ndarray] = None

    @property
    def needs_sam2(self) -> bool:
        """Whether only SAM2 can make this marking a mask (clicks or a scribble; a box can be a filled rectangle)."""
        return self.mask is None and (bool(self.points) or self.scribble is not None)

    def checked(self, shape: Sequence[int], name: str) -> "SupportPrompt":
        """This prompt, checked against its (H, W) image; errors name the support and what is wrong."""
        height, width = shape[:2]
        for what, array in (("mask", self.mask), ("scribble", self.scribble)):
            if array is not None:
                if array.shape[:2] != (height, width):
                    raise ValueError(f"{what} of {name} is {array.shape[1]}x{array.shape[0]} but its image is "
                                     f"{width}x{height}")
                if not array.any():
                    raise ValueError(f"{what} of {name} is empty: mark at least one object pixel")
        if self.mask is None and self.box is None and not self.points and self.scribble is None:
            raise ValueError(f"{name} is not marked: give a mask, a box, clicks or a scribble")
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            if x1 <= x0 or y1 <= y0:
                raise ValueError(f"box {self.box} of {name} has zero area or is reversed: it needs x1 > x0 and y1 > y0")
            if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
                raise ValueError(f"box {self.box} of {name} is not inside its {width}x{height} image")
        for x, y, _ in self.points:
            if not (0 <= x < width and 0 <= y < height):
                raise ValueError(f"click ({x}, {y}) of {name} is not inside its {width}x{height} image")
        if self.points and self.box is None and self.scribble is None and not any(p[2] for p in self.points):
            raise ValueError(f"{name} has only negative clicks: add a positive click (+x,y) or a box on the object")
        return self

    def point_arrays(self) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """SAM2's point prompt: coordinates (N, 2) as (x, y) float32 and labels (N,) int32 (1 positive, 0 negative),
        or (None, None). A scribble's pixels are positive points, as SANSA's promptable training makes them
        (``util/promptable_utils.py``).

        Reading: a painted stroke wider than SANSA's one-pixel scribbles is thinned to at most
        :data:`MAX_SCRIBBLE_POINTS` of its pixels, evenly spaced in raster order, so a wide brush costs no more.
        """
        points = [(x, y, positive) for x, y, positive in self.points]
        if self.scribble is not None:
            ys, xs = np.nonzero(self.scribble)
            keep = np.linspace(0, len(xs) - 1, min(len(xs), MAX_SCRIBBLE_POINTS)).round().astype(int)
            points += [(int(xs[i]), int(ys[i]), 1) for i in keep]
        if not points:
            return None, None
        array = np.asarray(points)
        return array[:, :2].astype(np.float32), array[:, 2].astype(np.int32)

    def sam2_points(self) -> Tuple[np.ndarray, np.ndarray]:
        """The whole prompt as SAM2's point input, coordinates (N, 2) float32 and labels (N,) int32: a box as its
        corners labelled 2 and 3, first (where SAM2's image predictor puts them), then :meth:`point_arrays`."""
        coords, labels = self.point_arrays()
        parts = [] if coords is None else [(coords, labels)]
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            parts.insert(0, (np.asarray([[x0, y0], [x1, y1]], np.float32), np.asarray([2, 3], np.int32)))
        return np.concatenate([c for c, _ in parts]), np.concatenate([labels for _, labels in parts])

    def rectangle(self, shape: Sequence[int]) -> np.ndarray:
        """The box as a filled (H, W) uint8 rectangle: the support mask where SAM2 is not at hand."""
        mask = np.zeros(shape[:2], np.uint8)
        x0, y0, x1, y1 = self.box
        mask[y0:y1, x0:x1] = 1
        return mask


def parse_prompt(text: str, name: str = "support") -> SupportPrompt:
    """A box and / or clicks from the syntax of this module's docstring; errors name the support."""
    box, points = None, []
    for item in (part.strip() for part in text.split(";")):
        if not item:
            continue
        point = _POINT.match(item)
        if point:
            points.append((int(point.group(2)), int(point.group(3)), int(point.group(1) == "+")))
            continue
        values = [value.strip() for value in item.split(",")]
        if len(values) != 4 or not _BOX.match(item):
            raise ValueError(f"{name}: {item!r} is neither a box 'x0,y0,x1,y1' nor a click '+x,y' / '-x,y'")
        if not all(value.lstrip("-").isdigit() for value in values):
            raise ValueError(f"box of {name} must have whole-pixel coordinates, got {item!r}")
        if box is not None:
            raise ValueError(f"{name}: give one box, got a second one {item!r}")
        box = tuple(int(value) for value in values)
    if box is None and not points:
        raise ValueError(f"{name}: the point list {text!r} is empty: give clicks as '+x,y;-x,y' or a box "
                         f"'x0,y0,x1,y1'")
    return SupportPrompt(box=box, points=tuple(points))
