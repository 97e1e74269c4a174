"""Uploaded files -> checked images in a session's folder, or a message naming the file (issue 26, bad input).

Every check reads the file's header only (size, format, pixels), so a file that is not an image, an empty
file or a photo above the pixel bound is refused before anything is decoded; a file whose header is good
and whose data is not is found when it is read, by name, as ``tools/infer.py`` finds it.
"""
from __future__ import annotations

import os
import os.path as osp
import shutil
import warnings
from dataclasses import dataclass
from typing import List, Sequence, Tuple

from PIL import Image

from integrations.mmseg.datasets.checks import header_size

from .limits import UploadLimits

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class UploadProblem(ValueError):
    """A file the page leaves out; the message names it and says what is wrong."""


@dataclass(frozen=True)
class UploadedImage:
    """An accepted image: its copy in the session's folder, the name the user knows it by, its size."""

    path: str
    name: str
    height: int
    width: int


def check_image(path: str, name: str, limits: UploadLimits) -> Tuple[int, int]:
    """(height, width) of an image file from its header; :class:`UploadProblem` naming ``name`` otherwise."""
    try:
        size = osp.getsize(path)
    except OSError as err:  # another session's upload of the same file, removed at that moment
        raise UploadProblem(f"{name} could not be read ({type(err).__name__}): upload it again") from err
    if size == 0:
        raise UploadProblem(f"{name} is an empty file (0 bytes)")
    if size > limits.max_file_bytes:
        raise UploadProblem(f"{name} is {size / 2 ** 20:.0f} MiB, above the page's {limits.max_file_megabytes:.0f} "
                            f"MiB per file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the pixel bound below decides
            with Image.open(path) as image:
                width, height = image.size  # the header alone (reading a PNG's EXIF would decode it)
            if width * height > limits.max_pixels:
                raise UploadProblem(f"{name} is {width}x{height} ({width * height / 1e6:.0f} megapixels), above the "
                                    f"page's {limits.max_megapixels:.0f} megapixels per image (tools/demo.py "
                                    f"--max-megapixels): make it smaller, or segment it with tools/infer.py")
            width, height = header_size(path)  # turned by its EXIF orientation, as it is decoded
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        if isinstance(err, UploadProblem):
            raise
        raise UploadProblem(f"{name} is not an image the page can read ({type(err).__name__})") from err
    return height, width


def unused_path(folder: str, name: str) -> str:
    """``folder/name``, or ``folder/<n>/name`` for the first n from 2 where it is free (two uploads of one name
    keep their name, as output names come from it); the folders are made."""
    path, index = osp.join(folder, name), 1
    while osp.exists(path):
        index += 1
        path = osp.join(folder, str(index), name)
    os.makedirs(osp.dirname(path), exist_ok=True)
    return path


def store_images(uploads: Sequence[str], folder: str, limits: UploadLimits, room: int,
                 bound: str) -> Tuple[List[UploadedImage], List[str]]:
    """Copy each uploaded image file (Gradio's copy, named as the user's file) into ``folder``.

    At most ``room`` images are taken (``bound`` says why, e.g. "the page takes at most 10 supports");
    returns the accepted images and one message per file left out.
    """
    images, problems = [], []
    for upload in uploads:
        name = osp.basename(upload)
        try:
            height, width = check_image(upload, name, limits)
        except UploadProblem as problem:
            problems.append(str(problem))
            continue
        if len(images) == room:
            problems.append(f"{name} is left out: {bound}")
            continue
        path = unused_path(folder, name)
        shutil.copyfile(upload, path)
        images.append(UploadedImage(path, name, height, width))
    return images, problems
