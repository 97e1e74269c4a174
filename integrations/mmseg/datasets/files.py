"""Reading the files of the few-shot layouts (lists, split files, images, labels, masks) and early checks.

Every error names the file and what was expected, so bad data stops a run when the dataset is built,
not at episode 700 of a test. Inside :func:`collecting_data_problems` the dataset checks record what they
find in a :class:`DataProblems` instead, so that a check of the data (tools/analysis/check_dataset.py)
lists every bad file at once.
"""
from __future__ import annotations

import codecs
import io
import json
import os
import pickle
from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

import cv2
import numpy as np
from mmengine import fileio
from PIL import Image, ImageOps
from tqdm import tqdm

from crc_modules.labels import IGNORE_INDEX

MASK_THRESHOLD = 128  # HSNet (data/fss.py): a mask pixel is the object when its grey value is >= 128
JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"
EXIF_ORIENTATION = 0x0112  # values 5-8 turn the image by 90 degrees (width and height swap)
INTEGER_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")
MISSING_SHOWN = 5


# ---- collecting problems instead of raising -------------------------------------------------------

class DataProblems:
    """What the dataset checks found while :func:`collecting_data_problems` was active, recorded not raised.

    A training run stops at the first bad file; a check of the whole data set reads on and reports every
    problem. Labels read by :func:`class_pixel_counts` keep their counts here, so that the check does not
    read them a second time.
    """

    def __init__(self):
        self.missing: Dict[str, List[str]] = defaultdict(list)  # list / split file -> missing paths
        self.bad_files: Dict[str, List[str]] = defaultdict(list)  # list / split file -> check_image_files' problems
        self.unreadable: Dict[str, str] = {}  # label path -> why it cannot be read, if not reported above
        self.reported: Set[str] = set()  # files already found missing or bad (not reported a second time)
        self.bad_values: Dict[str, List[int]] = {}  # label path -> values outside the classes and 255
        self.label_counts: Dict[str, Dict[int, int]] = {}  # label path -> {class: pixels}, {} when unreadable


_ACTIVE_PROBLEMS: ContextVar[Optional[DataProblems]] = ContextVar("active_data_problems", default=None)


@contextmanager
def collecting_data_problems(problems: Optional[DataProblems] = None) -> Iterator[DataProblems]:
    """Within it the checks below record into ``problems`` (a new one by default) instead of raising.

    Args:
        problems: the collector to fill, e.g. one shared by the training and test datasets of a config.
    """
    problems = DataProblems() if problems is None else problems
    token = _ACTIVE_PROBLEMS.set(problems)
    try:
        yield problems
    finally:
        _ACTIVE_PROBLEMS.reset(token)


def _record_or_raise(kind: str, what: str, entries: Sequence[str], paths: Iterable[str], error: Exception) -> None:
    """Record ``entries`` under the active collector's ``kind`` for list/split file ``what`` (and mark ``paths``
    reported), or raise ``error`` when no :func:`collecting_data_problems` is active."""
    collector = _ACTIVE_PROBLEMS.get()
    if collector is None:
        raise error
    getattr(collector, kind)[what].extend(entries)
    collector.reported.update(paths)


# ---- paths ----------------------------------------------------------------------------------------

def require_file(path: str, what: str) -> str:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def require_dir(path: str, what: str) -> str:
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def check_files_exist(paths: Iterable[str], what: str, backend_args: Optional[dict] = None) -> None:
    """One stat per file (no decoding); fails once, naming the first missing files and how many are missing."""
    paths = list(paths)
    if backend_args is None:
        missing = [p for p in paths if not os.path.isfile(p)]
    else:
        missing = [p for p in paths if not fileio.exists(p, backend_args=backend_args)]
    if missing:
        shown = ", ".join(missing[:MISSING_SHOWN])
        _record_or_raise("missing", what, missing, missing, FileNotFoundError(
            f"{len(missing)} of the {len(paths)} files listed by {what} are missing, first: {shown}"))


def header_size(path: str) -> Tuple[int, int]:
    """(width, height) as decoded, from the file's header (no pixel decoded), the EXIF orientation applied."""
    with Image.open(path) as image:
        width, height = image.size
        turned = image.getexif().get(EXIF_ORIENTATION, 1) in (5, 6, 7, 8)
    return (height, width) if turned else (width, height)


def _jpeg_is_cut_short(path: str, size: int) -> bool:
    """A JPEG whose last bytes hold no end marker, and which PIL cannot decode to its end (read only then)."""
    with open(path, "rb") as handle:
        start = handle.read(2)
        handle.seek(max(0, size - 32))
        tail = handle.read()
    if start != JPEG_START or tail.rstrip(b"\x00\r\n ").endswith(JPEG_END):
        return False
    try:  # data after the end marker (some cameras append some) is rare: decode to be sure
        with Image.open(path) as image:
            image.load()
        return False
    except (OSError, SyntaxError):
        return True


def check_image_files(pairs: Sequence[Tuple[str, Optional[str]]], what: str) -> None:
    """Cheap checks of local (image, label or None) files when a dataset is built; one error for all problems.

    Per file a stat (empty file) and a header read (sizes, with the EXIF orientation), per JPEG its last
    bytes (the end marker): a 0-byte file, a truncated JPEG, an unreadable header, or a label whose size
    differs from its image's are found here rather than mid-run. Pixels are not decoded, so a file with a
    valid header and corrupt data is still found only when it is read.
    """
    problems, bad_paths = [], set()
    for img_path, label_path in tqdm(pairs, desc="checking image headers", disable=len(pairs) < 2000, mininterval=5):
        sizes = {}
        for kind, path in (("image", img_path), ("label", label_path)):
            if path is None or not os.path.isfile(path):  # a missing file is check_files_exist's to report
                continue
            size = os.path.getsize(path)
            if size == 0:
                problems.append(f"{kind} {path} is an empty file (0 bytes)")
                bad_paths.add(path)
            elif _jpeg_is_cut_short(path, size):
                problems.append(f"{kind} {path} is a truncated JPEG (no end marker)")
                bad_paths.add(path)
            else:
                try:
                    sizes[kind] = header_size(path)
                except (OSError, SyntaxError) as err:
                    problems.append(f"{kind} {path} has no readable image header ({err})")
                    bad_paths.add(path)
        if len(sizes) == 2 and sizes["image"] != sizes["label"]:
            problems.append(f"image {img_path} is {sizes['image'][0]}x{sizes['image'][1]} but its label "
                            f"{label_path} is {sizes['label'][0]}x{sizes['label'][1]}")
    if problems:
        shown = "; ".join(problems[:MISSING_SHOWN])
        _record_or_raise("bad_files", what, problems, bad_paths, ValueError(
            f"{len(problems)} bad files among those listed by {what}, first: {shown}"))


def read_bytes(path: str, what: str, backend_args: Optional[dict] = None) -> bytes:
    try:
        return fileio.get(path, backend_args=backend_args)
    except (FileNotFoundError, IsADirectoryError) as err:
        raise FileNotFoundError(f"{what} file not found: {path}") from err


# ---- lists and split files ------------------------------------------------------------------------

def read_list_lines(path: str, what: str) -> List[Tuple[int, str]]:
    """(line number, stripped text) of the non-empty lines; an empty or BOM-prefixed file is an error."""
    with open(require_file(path, what), "rb") as handle:
        data = handle.read()
    if data.startswith(codecs.BOM_UTF8):
        raise ValueError(f"{what} {path} starts with a UTF-8 byte-order mark, which would become part of its "
                         f"first entry: save it as UTF-8 without BOM")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{what} {path} is not UTF-8 text: {err}") from err
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise ValueError(f"{what} {path} is empty: it lists nothing")
    return lines


def read_pair_list(list_file: str, data_root: str) -> List[Tuple[str, str]]:
    """PFENet's lists: ``JPEGImages/x.jpg SegmentationClassAug/x.png`` per line, relative to ``data_root``."""
    pairs = []
    for number, line in read_list_lines(list_file, "image list"):
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{list_file}:{number}: expected 'IMAGE LABEL', got {line!r}")
        pairs.append((os.path.join(data_root, parts[0]), os.path.join(data_root, parts[1])))
    return pairs


def read_hsnet_split(split_files: Sequence[str]) -> List[Tuple[str, int]]:
    """HSNet's PASCAL splits: ``2007_000033__01`` lines -> (image id, 1-based class), files then lines in order."""
    lines = []
    for split_file in split_files:
        for number, line in read_list_lines(split_file, "split file"):
            name, separator, class_id = line.rpartition("__")
            if not separator or not name or not class_id.isdigit():
                raise ValueError(f"{split_file}:{number}: expected 'IMAGEID__CLASS' such as '2007_000033__01', "
                                 f"got {line!r}")
            lines.append((name, int(class_id)))
    return lines


class _PlainDataUnpickler(pickle.Unpickler):
    """Builds only what pickle builds without a global (dict, list, tuple, str, int, float): no code runs."""

    def __init__(self, handle, path: str):
        super().__init__(handle)
        self.path = path

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"{self.path} asks for the global {module}.{name}; only plain containers, "
                                     f"strings and numbers are admitted")


def load_plain_pickle(path: str, what: str) -> Any:
    """A pickle of plain data (HSNet's COCO splits), refusing any object that would need a class or function.

    A malformed pickle can fail in the unpickler with almost any exception (``AttributeError`` from a BUILD
    opcode on a dict, ``TypeError``, ``IndexError`` ...); each becomes a ``ValueError`` naming the file.
    """
    with open(require_file(path, what), "rb") as handle:
        try:
            return _PlainDataUnpickler(handle, path).load()
        except Exception as err:  # noqa: BLE001  (any failure of a malformed pickle, named with its file)
            raise ValueError(f"cannot read {what} {path}: {type(err).__name__}: {err}") from err


def read_hsnet_coco_split(path: str) -> Dict[int, List[str]]:
    """HSNet's ``splits/coco/{trn,val}/fold*.pkl``: {0-based class: ['train2014/COCO_train2014_x.jpg', ...]}."""
    split = load_plain_pickle(path, "COCO split file")
    if not isinstance(split, dict):
        raise ValueError(f"COCO split file {path} holds a {type(split).__name__}; expected a dict class -> image names")
    for class_index, names in split.items():
        if not isinstance(class_index, int) or not 0 <= class_index < 80:
            raise ValueError(f"COCO split file {path} has the key {class_index!r}; expected class indices 0..79")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"COCO split file {path}: class {class_index} maps to {type(names).__name__}; "
                             f"expected a list of image names")
    return split


def read_json(path: str, what: str) -> Any:
    with open(require_file(path, what), encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as err:
            raise ValueError(f"{what} {path} is not valid JSON: {err.msg} at line {err.lineno}, "
                             f"column {err.colno}") from err


# ---- images, labels and masks ---------------------------------------------------------------------

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


def check_label_values(label: np.ndarray, num_classes: int, path: str) -> None:
    """Every value is 0 (background), a class id 1..num_classes or 255 (ignore)."""
    bad = ((label < 0) | (label > num_classes)) & (label != IGNORE_INDEX)
    if bad.any():
        _refuse_label_values(np.unique(label[bad]), num_classes, path)


def _refuse_label_values(values: np.ndarray, num_classes: int, path: str) -> None:
    raise ValueError(f"label {path} holds values {values[:8].tolist()} that are neither a class of the dataset "
                     f"(0..{num_classes}) nor {IGNORE_INDEX} (ignore)")


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


def class_pixel_counts(label_paths: Sequence[str], num_classes: int, description: str,
                       backend_args: Optional[dict] = None) -> List[Dict[int, int]]:
    """Read every label once: {class id: pixels} of the classes 1..num_classes present in each (values checked).

    While collecting (:func:`collecting_data_problems`), a label that cannot be read counts as {} and one
    with values outside the classes counts its valid classes; both are recorded, and labels already
    counted are not read again.
    """
    collector = _ACTIVE_PROBLEMS.get()
    counts = []
    for path in tqdm(label_paths, desc=description, disable=len(label_paths) < 500, mininterval=5):
        if collector is not None and path in collector.label_counts:
            counts.append(collector.label_counts[path])
            continue
        try:
            pixels = _label_class_pixels(path, num_classes, backend_args, collector)
        except (FileNotFoundError, ValueError) as err:
            if collector is None:
                raise
            if path not in collector.reported:
                collector.unreadable[path] = str(err)
            pixels = {}
        if collector is not None:
            collector.label_counts[path] = pixels
        counts.append(pixels)
    return counts


def _label_class_pixels(path: str, num_classes: int, backend_args: Optional[dict],
                        collector: Optional[DataProblems]) -> Dict[int, int]:
    """{class id: pixels} of one label; values outside 0..num_classes and 255 raise, or are recorded."""
    values = decode_class_label(read_bytes(path, "label", backend_args), path).ravel()
    negative = np.unique(values[values < 0]) if values.dtype.kind == "i" else values[:0]
    histogram = np.bincount(values[values >= 0] if negative.size else values)
    unknown = np.flatnonzero(histogram[num_classes + 1:]) + num_classes + 1
    bad = np.concatenate([negative, unknown[unknown != IGNORE_INDEX]])
    if bad.size and collector is None:
        _refuse_label_values(bad, num_classes, path)
    elif bad.size:
        collector.bad_values[path] = bad.tolist()
    present = np.flatnonzero(histogram[1:num_classes + 1]) + 1
    return {int(c): int(histogram[c]) for c in present}
