"""Early checks of a dataset's files, and the collection of what they find instead of raising.

Every error names the file and what was expected, so bad data stops a run when the dataset is built,
not at episode 700 of a test. Inside :func:`collecting_data_problems` the checks record what they find
in a :class:`DataProblems` instead, so that a check of the data (tools/analysis/check_dataset.py) lists
every bad file at once.
"""
from __future__ import annotations

import os
from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

import numpy as np
from mmengine import fileio
from PIL import Image
from tqdm import tqdm

from crc_modules.labels import IGNORE_INDEX
from integrations.conversion_marker import CONVERSION_MARKER

from .images import EXIF_ORIENTATION, JPEG_END, JPEG_START, decode_class_label, read_bytes

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


# ---- paths and file headers -----------------------------------------------------------------------

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

def check_conversion_finished(paths: Iterable[str], what: str, levels: int = 4) -> None:
    """Refuse files in a tree that a dataset converter is writing or was stopped writing: the marker it leaves there
    until it finishes (:data:`CONVERSION_MARKER`) in a folder of theirs, or up to ``levels`` folders above.

    Raises:
        ValueError: naming the marker and what it says (which converter, to run again).
    """
    folders = {os.path.dirname(os.path.abspath(path)) for path in paths}
    for _ in range(levels):
        folders |= {os.path.dirname(folder) for folder in folders}
    for folder in sorted(folders):
        marker = os.path.join(folder, CONVERSION_MARKER)
        if os.path.isfile(marker):
            with open(marker, encoding="utf-8", errors="replace") as handle:
                said = handle.read().strip()
            raise ValueError(f"the files of {what} are in a tree whose conversion did not finish ({marker}: {said})")


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


# ---- label values ---------------------------------------------------------------------------------

def check_label_values(label: np.ndarray, num_classes: int, path: str) -> None:
    """Every value is 0 (background), a class id 1..num_classes or 255 (ignore)."""
    bad = ((label < 0) | (label > num_classes)) & (label != IGNORE_INDEX)
    if bad.any():
        _refuse_label_values(np.unique(label[bad]), num_classes, path)

def _refuse_label_values(values: np.ndarray, num_classes: int, path: str) -> None:
    raise ValueError(f"label {path} holds values {values[:8].tolist()} that are neither a class of the dataset "
                     f"(0..{num_classes}) nor {IGNORE_INDEX} (ignore)")

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
