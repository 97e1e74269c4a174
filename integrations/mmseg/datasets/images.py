"""Images, labels and masks: decoded from bytes or read from paths, with errors that name the file.

Images decode as mmseg loads them (BGR uint8, OpenCV, EXIF orientation applied); class-index labels keep
their values in any PNG mode; HSNet's binary masks are grey >= 128; a user's drawn mask is its nonzero
(or painted) pixels. Labels and masks are turned by their EXIF orientation as OpenCV turns images.
"""
from __future__ import annotations

import io
from typing import Optional

import cv2
import numpy as np
from mmengine import fileio
from PIL import Image, ImageOps

MASK_THRESHOLD = 128  # HSNet (data/fss.py): a mask pixel is the object when its grey value is >= 128
JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"
EXIF_ORIENTATION = 0x0112  # values 5-8 turn the image by 90 degrees (width and height swap)
INTEGER_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")


def read_bytes(path: str, what: str, backend_args: Optional[dict] = None) -> bytes:
    try:
        return fileio.get(path, backend_args=backend_args)
    except (FileNotFoundError, IsADirectoryError) as err:
        raise FileNotFoundError(f"{what} file not found: {path}") from err

def decode_image(data: bytes, path: str) -> np.ndarray:
    """BGR uint8 (H, W, 3), as mmseg loads images; a JPEG cut short (no end marker) must decode fully in PIL.

    OpenCV applies the EXIF orientation of any format; masks and labels are oriented alike (:func:`_open_png`).
    """
    if not data:
        raise ValueError(f"image {path} is an empty file (0 bytes)")
    if data.startswith(JPEG_START) and not data.rstrip(b"\x00\r\n ").endswith(JPEG_END):
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
        except (OSError, SyntaxError) as err:
            raise ValueError(f"image {path} is a truncated JPEG ({err}): re-download or re-extract it") from err
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as err:
        raise ValueError(f"cannot decode image {path}: {err}") from err
    if img is None:
        raise ValueError(f"cannot decode image {path}: not a readable image file")
    return img

def _open_png(data: bytes, path: str, what: str) -> Image.Image:
    """A label or mask (any format PIL reads), turned by its EXIF orientation as OpenCV turns images."""
    if not data:
        raise ValueError(f"{what} {path} is an empty file (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        return ImageOps.exif_transpose(image) if image.getexif().get(EXIF_ORIENTATION, 1) != 1 else image
    except (OSError, SyntaxError) as err:
        raise ValueError(f"cannot decode {what} {path}: {err}") from err

def painted_alpha(image: Image.Image) -> Optional[np.ndarray]:
    """The alpha channel (H, W) uint8 of a mask that uses transparency (some pixel not opaque), else None.

    Reading: a mask drawn on a transparent layer marks the object by what is painted, whatever the colour
    of the transparent pixels (often white), so where transparency is used it decides.
    """
    if image.mode in ("RGBA", "LA", "PA") or (image.mode in ("P", "L", "RGB") and "transparency" in image.info):
        alpha = np.asarray(image.convert("RGBA"))[..., 3] if image.mode != "LA" else np.asarray(image)[..., 1]
        return alpha if alpha.min() < 255 else None
    return None

def decode_class_label(data: bytes, path: str) -> np.ndarray:
    """Class-index label (H, W) as stored: uint8, or uint16 / int32 for 16-bit PNGs (never wrapped).

    HSNet (data/pascal.py) and PFENet read SegmentationClassAug's value per pixel (PFENet's PNGs are grey):
    a palette PNG keeps its indices, an alpha channel is dropped, any other mode (RGB) becomes PIL's grey,
    which keeps the value of a grey RGB label (a colour-coded label then fails the value check).
    """
    return _class_values(_open_png(data, path, "label"))

def _class_values(image: Image.Image) -> np.ndarray:
    if image.mode in ("P", "L", "1") + INTEGER_MODES:
        return np.asarray(image).astype(np.uint8) if image.mode == "1" else np.asarray(image)
    if image.mode in ("PA", "LA"):
        return np.asarray(image)[..., 0]
    return np.asarray(image.convert("L"))

def decode_binary_mask(data: bytes, path: str) -> np.ndarray:
    """HSNet (data/fss.py): the mask converted to grey, object where grey >= 128; (H, W) uint8 in {0, 1}.

    Any PNG mode: palette and RGB(A) through PIL's grey conversion, 1-bit as 0/255, 16/32-bit values
    clipped at 255 as PIL's grey conversion does. A mask that uses transparency is its painted pixels
    (alpha >= 128, :func:`painted_alpha`), where HSNet would drop the alpha and read a white transparent
    layer as object everywhere.
    """
    image = _open_png(data, path, "mask")
    alpha = painted_alpha(image)
    if alpha is not None:
        return (alpha >= MASK_THRESHOLD).astype(np.uint8)
    if image.mode in INTEGER_MODES:
        grey = np.clip(np.asarray(image), 0, 255)
    else:
        grey = np.asarray(image.convert("L"))
    return (grey >= MASK_THRESHOLD).astype(np.uint8)

def decode_drawn_mask(data: bytes, path: str) -> np.ndarray:
    """A user's mask image: (H, W) uint8, 1 where a pixel is nonzero, or painted where transparency is used.

    A JPEG mask is grey >= 128 (HSNet's rule): lossy compression leaves faint nonzero pixels around the object.
    """
    image = _open_png(data, path, "mask")
    alpha = painted_alpha(image)
    if alpha is not None:
        return (alpha >= MASK_THRESHOLD).astype(np.uint8)
    if data.startswith(JPEG_START):
        return (np.asarray(image.convert("L")) >= MASK_THRESHOLD).astype(np.uint8)
    return (_class_values(image) > 0).astype(np.uint8)

def read_image(path: str, backend_args: Optional[dict] = None) -> np.ndarray:
    """BGR uint8 (H, W, 3) from a path; clear errors for a missing, unreadable or truncated file."""
    return decode_image(read_bytes(path, "image", backend_args), path)

def read_label(path: str, backend_args: Optional[dict] = None) -> np.ndarray:
    """Class-index label (H, W) int32 from a PNG of any mode (see :func:`decode_class_label`)."""
    return decode_class_label(read_bytes(path, "label", backend_args), path).astype(np.int32)

def read_drawn_mask(path: str) -> np.ndarray:
    """A user's mask file (see :func:`decode_drawn_mask`)."""
    return decode_drawn_mask(read_bytes(path, "mask"), path)

def read_binary_mask(path: str, backend_args: Optional[dict] = None) -> np.ndarray:
    """HSNet's binary mask (H, W) uint8 from a PNG of any mode (see :func:`decode_binary_mask`)."""
    return decode_binary_mask(read_bytes(path, "mask", backend_args), path)
