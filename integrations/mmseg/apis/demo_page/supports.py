"""A support of the page and the ways to mark its object: a mask file, painting, a box, clicks.

The page shows every support at preview size (see :func:`preview_of`); marks made on the preview are
mapped to the image's own pixels, so the run reads the full-size image and a full-size mask
as ``tools/infer.py`` does. A mask file is read as ``tools/infer.py`` reads one (any nonzero or painted pixel).
"""
from __future__ import annotations

import os.path as osp
from dataclasses import dataclass, field, replace
from typing import Callable, List, Optional, Tuple

import cv2
import numpy as np

from integrations.foundation import PROMPT_WEIGHTS_OPTION
from integrations.foundation.prompts import SupportPrompt
from integrations.mmseg.datasets.images import read_drawn_mask, read_image

from .limits import UploadLimits
from .uploads import UploadedImage, UploadProblem, store_images

PREVIEW_SIDE, MIN_PREVIEW_SIDE = 1024, 480
MASK_STEM_SUFFIX = "_mask"  # 'cat_mask.png' marks 'cat.jpg' (tools/infer.py's naming of masks)
TOOLS = ("box", "positive", "negative")  # what a click on the support does
Masker = Callable[[str, SupportPrompt, str], np.ndarray]  # (image path, prompt, name) -> its (H, W) mask by SAM2
NO_SAM2 = (f"clicks need SAM2, which this model does not have (a config's {PROMPT_WEIGHTS_OPTION} run option "
           "gives it): draw a box or paint the object")


def preview_of(image: np.ndarray) -> np.ndarray:
    """``image`` at a size the page can show and take clicks on: a longer side above :data:`PREVIEW_SIDE` is shrunk
    to it (area interpolation); one below :data:`MIN_PREVIEW_SIDE` is enlarged by a whole factor (every pixel a
    square block, so a click maps back to one pixel); others are kept."""
    longer = max(image.shape[:2])
    if longer > PREVIEW_SIDE:
        scale = PREVIEW_SIDE / longer
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    factor = -(-MIN_PREVIEW_SIDE // longer)
    if factor > 1:
        return cv2.resize(image, (image.shape[1] * factor, image.shape[0] * factor), interpolation=cv2.INTER_NEAREST)
    return image


def resized_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """A binary mask at (height, width), nearest neighbour (no new values)."""
    if mask.shape == (height, width):
        return mask
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)


def _read(read, path: str, name: str):
    try:
        return read(path)
    except (OSError, ValueError) as err:
        raise UploadProblem(str(err).replace(path, name)) from err


@dataclass
class Support:
    """One support: its image (a BGR preview kept in memory), its mask at full size and how it was marked.

    ``box`` is (x0, y0, x1, y1) with x1, y1 exclusive and ``points`` (x, y, 1 positive | 0 negative), both in the
    image's own pixels; ``corner`` is the first click of a box being drawn; ``paint_base`` is the mask (and how
    it was made) that the editor shows under the user's strokes.
    """

    image: UploadedImage
    preview: np.ndarray
    mask: Optional[np.ndarray] = None
    how: str = ""
    box: Optional[Tuple[int, int, int, int]] = None
    corner: Optional[Tuple[int, int]] = None
    points: List[Tuple[int, int, int]] = field(default_factory=list)
    paint_base: Tuple[Optional[np.ndarray], str] = (None, "")

    @classmethod
    def read(cls, image: UploadedImage) -> "Support":
        """Decode the upload (a bad file: :class:`UploadProblem` naming it); its size is the decoded one."""
        decoded = _read(read_image, image.path, image.name)
        return cls(replace(image, height=decoded.shape[0], width=decoded.shape[1]), preview_of(decoded))

    @property
    def scale(self) -> float:
        """Preview pixels per image pixel."""
        return self.preview.shape[0] / self.image.height

    def preview_mask(self) -> np.ndarray:
        """The mask at preview size (zeros when nothing is marked)."""
        if self.mask is None:
            return np.zeros(self.preview.shape[:2], np.uint8)
        return resized_mask(self.mask, *self.preview.shape[:2])

    def to_image_pixels(self, x: float, y: float) -> Tuple[int, int]:
        """A preview pixel -> the image pixel under it, inside the image."""
        return (min(self.image.width - 1, int(x / self.scale)), min(self.image.height - 1, int(y / self.scale)))

    def _set_mask(self, mask: Optional[np.ndarray], how: str) -> None:
        self.mask = mask if mask is not None and mask.any() else None
        self.how = how if self.mask is not None else ""

    def use_mask_file(self, path: str) -> None:
        """The mask in an uploaded file (``NAME_mask.png`` beside ``NAME.jpg``), checked against the image."""
        name = osp.basename(path)
        mask = _read(read_drawn_mask, path, name)
        if mask.shape != (self.image.height, self.image.width):
            raise UploadProblem(f"{name} is {mask.shape[1]}x{mask.shape[0]} but its image {self.image.name} is "
                                f"{self.image.width}x{self.image.height}")
        if not mask.any():
            raise UploadProblem(f"{name} marks nothing (no nonzero pixel): mark {self.image.name} in the page")
        self.clear()
        self._set_mask(mask, "mask file")

    def start_painting(self) -> None:
        """The page shows the support in the editor with its mask as it is now: strokes are relative to that."""
        self.paint_base = (self.mask, self.how)

    def paint(self, added: np.ndarray, removed: np.ndarray) -> bool:
        """Strokes of the editor (preview size, nonzero where painted) since :meth:`start_painting`: ``added``
        pixels become object, ``removed`` ones background, the rest keeps the mask it had (at full size).
        Returns False when the mask does not change (the editor reports back what the page sets too)."""
        if added.shape != self.preview.shape[:2] or removed.shape != added.shape:
            raise ValueError(f"painting of {added.shape[1]}x{added.shape[0]} does not fit the preview of "
                             f"{self.image.name} ({self.preview.shape[1]}x{self.preview.shape[0]})")
        base, base_how = self.paint_base
        mask = np.zeros((self.image.height, self.image.width), np.uint8) if base is None else base.copy()
        mask[resized_mask((added > 0).astype(np.uint8), *mask.shape) > 0] = 1
        mask[resized_mask((removed > 0).astype(np.uint8), *mask.shape) > 0] = 0
        if np.array_equal(mask, self.mask if self.mask is not None else np.zeros_like(mask)):
            return False
        self._set_mask(mask, f"{base_how}, painted over" if base is not None else "painted")
        return True

    def click(self, x: float, y: float, tool: str, masker: Optional[Masker] = None) -> str:
        """A click at preview pixel (x, y): a box corner, or a positive / negative point; returns what it did.

        Two corners make a box. The box and points become the mask at once: ``masker``'s (SAM2) where there is
        one; without, a box is a filled rectangle and points are refused.
        """
        if tool not in TOOLS:
            raise ValueError(f"tool must be one of {TOOLS}, got {tool!r}")
        x, y = self.to_image_pixels(x, y)
        if tool == "box":
            if self.corner is None:
                self.corner = (x, y)
                return f"{self.image.name}: first corner at ({x}, {y}); click the opposite corner"
            (x0, y0), self.corner = self.corner, None
            box, points = (min(x0, x), min(y0, y), max(x0, x) + 1, max(y0, y) + 1), self.points
        elif masker is None:
            return f"{self.image.name}: {NO_SAM2}"
        else:
            box, points = self.box, self.points + [(x, y, int(tool == "positive"))]
        shape = (self.image.height, self.image.width)
        try:
            prompt = SupportPrompt(box=box, points=tuple(points)).checked(shape, self.image.name)
            mask = masker(self.image.path, prompt, self.image.name) if masker else prompt.rectangle(shape)
        except ValueError as err:  # only negative clicks; SAM2 finds no object
            return str(err)
        self.box, self.points = box, list(points)
        self._set_mask(mask, " + ".join(what for what, given in (("box", box), ("clicks", points)) if given)
                       + (" (SAM2)" if masker else " (filled rectangle: no SAM2)"))
        return f"{self.image.name}: {self.how}"

    def clear(self) -> None:
        self.mask, self.how, self.box, self.corner, self.points = None, "", None, None, []

    def status(self) -> str:
        """'cat.jpg: painted, 12.5% of the image' or 'cat.jpg: nothing marked yet'."""
        if self.mask is None:
            return f"{self.image.name}: **nothing marked yet**"
        return f"{self.image.name}: {self.how}, {100 * self.mask.mean():.1f}% of the image"


def mask_partner(name: str) -> Optional[str]:
    """'cat_mask.png' -> 'cat' (the stem of the image it marks, as the inference guide names support masks)."""
    stem = osp.splitext(name)[0]
    if stem.endswith(MASK_STEM_SUFFIX) and len(stem) > len(MASK_STEM_SUFFIX):
        return stem[:-len(MASK_STEM_SUFFIX)]
    return None


def add_supports(supports: List[Support], uploads: List[str], folder: str, limits: UploadLimits) -> List[str]:
    """Add the uploaded support images to ``supports`` (at most ``limits.max_supports`` in all), each with its
    mask when a ``NAME_mask.*`` file comes with it or after it; returns a message per file left out."""
    image_uploads = [path for path in uploads if mask_partner(osp.basename(path)) is None]
    accepted, messages = store_images(image_uploads, folder, limits, limits.max_supports - len(supports),
                                      f"the page takes at most {limits.max_supports} supports")
    for image in accepted:
        try:
            supports.append(Support.read(image))
        except UploadProblem as problem:
            messages.append(str(problem))
    by_stem = {osp.splitext(support.image.name)[0]: support for support in supports}
    for path in uploads:
        stem = mask_partner(osp.basename(path))
        if stem is None:
            continue
        if stem not in by_stem:
            messages.append(f"{osp.basename(path)} is named as the mask of {stem}.*, which is not among the "
                            f"supports: upload it with its image")
            continue
        try:
            by_stem[stem].use_mask_file(path)
        except UploadProblem as problem:
            messages.append(str(problem))
    return messages
