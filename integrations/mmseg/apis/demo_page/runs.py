"""A run of the page: a session's marked supports prepared once, each query segmented, the masks zipped.

Names and bytes are ``tools/infer.py``'s: :func:`~integrations.mmseg.apis.infer_outputs.output_names` name the
masks and :func:`~integrations.mmseg.apis.infer_outputs.write_image_atomically` writes them, so the zip holds the
files ``tools/infer.py`` writes for the same supports and queries. A query that fails is reported by name and the
others are still segmented.
"""
from __future__ import annotations

import os
import os.path as osp
import zipfile
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import cv2
import numpy as np

from integrations.mmseg.apis.infer_outputs import OUTPUT_SUFFIXES, output_names, write_image_atomically
from integrations.mmseg.apis.predictor import load_image

from .drawing import result_picture
from .model import PageModel, RunSettings
from .sessions import Session
from .supports import Support

MASK_SUFFIX = OUTPUT_SUFFIXES[0]
ZIP_NAME = "masks.zip"
Progress = Callable[[int, int, str], None]  # (done, total, what is being done)


@dataclass
class RunUpdate:
    """What a run has so far: gallery entries (picture path, caption), messages, and the zip once it is done."""

    gallery: List[Tuple[str, str]] = field(default_factory=list)
    messages: List[str] = field(default_factory=list)
    zip_path: Optional[str] = None

    def copy(self) -> "RunUpdate":
        return RunUpdate(list(self.gallery), list(self.messages), self.zip_path)


def marked_supports(supports: List[Support]) -> Tuple[List[Support], List[str]]:
    """The supports with a mask, and a message per support left out because nothing is marked on it."""
    marked = [support for support in supports if support.mask is not None]
    messages = [f"support {support.image.name} has nothing marked: left out of this run (paint the object, "
                f"draw a box or click on it)" for support in supports if support.mask is None]
    return marked, messages


def named(err: Exception, names: Dict[str, str]) -> str:
    """An error's text with the session's copies (``names``: path -> the user's file name) named as the user
    knows them."""
    text = str(err)
    for path, name in names.items():
        text = text.replace(path, name)
    return text


def zip_masks(paths: List[str], zip_path: str) -> str:
    """One zip of the mask files, each at the zip's top level under its own name (PNGs: stored, not deflated)."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as archive:
        for path in paths:
            archive.write(path, osp.basename(path))
    return zip_path


def run_queries(model: PageModel, session: Session, settings: RunSettings,
                progress: Progress = lambda done, total, what: None) -> Iterator[RunUpdate]:
    """Segment the session's queries with its marked supports; yields the update after each query, the last
    one with the zip. The session's previous results are removed when this run starts; the session's other
    events wait for the run (its lock is held throughout)."""
    with session.lock:
        yield from _run(model, session, settings, progress)


def _run(model: PageModel, session: Session, settings: RunSettings, progress: Progress) -> Iterator[RunUpdate]:
    update = RunUpdate()
    supports, update.messages = marked_supports(session.supports)
    queries = list(session.queries)
    if not session.supports:
        update.messages.append("nothing to run: upload support images first")
    elif not supports:
        update.messages.append("nothing to run: mark the object on at least one support")
    elif not queries:
        update.messages.append("nothing to run: upload query images (or a zip of them) first")
    if not (supports and queries):
        yield update.copy()
        return
    folder = session.new_run_folder()
    masks_folder, pictures_folder = osp.join(folder, "masks"), osp.join(folder, "pictures")
    os.makedirs(masks_folder)
    os.makedirs(pictures_folder)
    names = output_names([query.path for query in queries])
    mask_paths = []
    yield update.copy()  # the previous run's pictures are gone: the gallery empties at once
    with model.predictor_for(settings) as predictor:
        progress(0, len(queries), f"preparing {len(supports)} support{'s' * (len(supports) > 1)}")
        try:
            predictor.set_supports([(support.image.path, support.mask) for support in supports])
        except (OSError, ValueError, RuntimeError, MemoryError) as err:
            update.messages[:0] = [f"Run {session.runs}: no query segmented", "the supports could not be prepared: "
                                   + named(err, {support.image.path: support.image.name for support in supports})]
            yield update.copy()
            return
        for index, query in enumerate(queries):
            progress(index, len(queries), f"query {index + 1} of {len(queries)}: {query.name}")
            try:
                image, _ = load_image(query.path)  # BGR
                mask = predictor.predict(image[..., ::-1]).mask
            except (OSError, ValueError, RuntimeError, MemoryError) as err:  # torch's out-of-memory: RuntimeError
                update.messages.append(f"{query.name} is not segmented: {named(err, {query.path: query.name})}")
                yield update.copy()
                continue
            name = names[query.path]
            mask_path = osp.join(masks_folder, name + MASK_SUFFIX)
            picture_path = osp.join(pictures_folder, name + ".jpg")
            if not write_image_atomically(mask_path, mask * np.uint8(255)) or not cv2.imwrite(
                    picture_path, result_picture(image, mask)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90]):
                update.messages.append(f"{query.name}: its mask could not be written (disk full?)")
                continue
            mask_paths.append(mask_path)
            update.gallery.append((picture_path, f"{query.name} · {100 * mask.mean():.0f}% object"))
            yield update.copy()
    progress(len(queries), len(queries), "zipping the masks")
    if mask_paths:
        update.zip_path = zip_masks(mask_paths, osp.join(folder, ZIP_NAME))
    update.messages.insert(0, f"Run {session.runs}: {len(mask_paths)} of {len(queries)} queries segmented"
                           + (", their masks in the zip below" if mask_paths else ""))
    yield update.copy()
