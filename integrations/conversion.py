"""What the dataset converters share: their refusals, ids that stay inside the output, atomic writes, workers.

A converter reads an official download and writes a layout the datasets read. Each input file is named in
the error it causes; an id from a list becomes a file name only when it is one plain name (no folder, no
``..``); a run that would replace earlier output stops unless ``--overwrite`` is given, and then says what it
replaces; every file is written under a temporary name in its folder and renamed, so a killed run leaves
whole files or none (the temporaries are hidden files, which no layout's glob takes).
"""
from __future__ import annotations

import contextlib
import os
import re
import time
from multiprocessing import Pool
from typing import Callable, Iterable, Iterator, List, Sequence, TypeVar

from tqdm import tqdm

from integrations.conversion_marker import CONVERSION_MARKER

Job = TypeVar("Job")
SHOWN = 3  # files named in a message


class ConversionError(ValueError):
    """A missing or malformed input, or output that a run would lose; the message names the file."""


def require_plain_name(name: str, where: str) -> str:
    """``name`` as one file name: not empty, no folder separator (so no absolute path), not ``.`` or ``..``.

    Args:
        name: An image id from a list, used to build input and output paths.
        where: The list and line it comes from, for the message.
    """
    separators = [s for s in (os.sep, os.altsep, "/", "\\") if s]
    if not name or name in (".", "..") or "\x00" in name or any(s in name for s in separators):
        raise ConversionError(f"{where}: {name!r} is not a plain image id (a file name without folders): an id "
                              f"with a folder, '..' or an absolute path would read or write outside the dataset")
    return name


def existing_outputs(paths: Iterable[str], overwrite: bool, what: str) -> List[str]:
    """The files among ``paths`` that exist; without ``overwrite`` any of them stops the run.

    Args:
        paths: Every file the run will write.
        overwrite: Whether the user allowed replacing them (``--overwrite``).
        what: The output, for the message (e.g. 'SegmentationClassAug labels and lists').

    Raises:
        ConversionError: some exist and ``overwrite`` is False; the message names the count and the first ones.
    """
    existing = [path for path in paths if os.path.lexists(path)]
    if existing and not overwrite:
        raise ConversionError(f"{len(existing)} files of the {what} already exist (first: "
                              f"{', '.join(existing[:SHOWN])}): pass --overwrite to replace them, or write elsewhere")
    return existing


def describe_replaced(existing: Sequence[str], removed: Sequence[str] = ()) -> str:
    """'replaced 3 existing files (first: a, b, c)[, of which 1 were not written again and are removed]', or ''."""
    if not existing:
        return ""
    stale = f", of which {len(removed)} were not written again and are removed" if removed else ""
    return f"replaced {len(existing)} existing files (first: {', '.join(existing[:SHOWN])}){stale}"


def remove_stale(existing: Sequence[str], written: Iterable[str]) -> List[str]:
    """Remove the files of an earlier run (``existing``) that this run did not write again; returns them.

    Called once a run with ``--overwrite`` is done, so that its output is what this run wrote and nothing
    else (a layout read by globs would take a stale file in), while a failed run leaves the earlier output.
    """
    written = set(written)
    stale = [path for path in existing if path not in written]
    for path in stale:
        os.remove(path)
    return stale


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """``write(temporary)``, then rename the temporary to ``path``: ``path`` is the old file or the whole new one.

    The temporary is ``.NAME.partial-PID`` plus ``path``'s extension (writers choose the format by it), in
    ``path``'s folder; it is removed when ``write`` fails.
    """
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, f".{name}.partial-{os.getpid()}{os.path.splitext(name)[1]}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


PARTIAL = re.compile(r"^\..+\.partial-\d+(?:\.[^.]*)?$")  # write_atomically's temporaries


@contextlib.contextmanager
def writing_output(root: str, converter: str) -> Iterator[None]:
    """Mark ``root`` incomplete while a converter writes into it: the marker (:data:`CONVERSION_MARKER`) is removed
    only when the writing ends without error, so a killed or failed run leaves a tree the datasets and
    ``tools/analysis/check_dataset.py`` call incomplete; temporaries of an earlier killed run (``.NAME.partial-PID``,
    names no other file has) are removed first."""
    os.makedirs(root, exist_ok=True)
    for folder, _, names in os.walk(root):
        for name in names:
            if PARTIAL.match(name):
                os.remove(os.path.join(folder, name))
    marker = os.path.join(root, CONVERSION_MARKER)
    with open(marker, "w", encoding="utf-8") as handle:
        handle.write(f"{converter} started writing here at {time.strftime('%Y-%m-%d %H:%M:%S')} and has not "
                     f"finished: run it again (with --overwrite)\n")
    yield
    os.remove(marker)


def write_text_atomically(path: str, text: str) -> None:
    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_atomically(path, write)


def run_jobs(function: Callable[[Job], object], jobs: Sequence[Job], nproc: int, desc: str, unit: str) -> list:
    """``function(job)`` for every job, in ``nproc`` worker processes when above 1, with a progress bar.

    Results come in completion order with workers. An error in a worker reaches the caller as the same
    exception (a :class:`ConversionError` keeps its message).
    """
    progress = dict(total=len(jobs), desc=desc, unit=unit, mininterval=1)
    if nproc > 1:
        with Pool(nproc) as pool:
            return list(tqdm(pool.imap_unordered(function, jobs, chunksize=max(1, min(16, len(jobs) // nproc))),
                             **progress))
    return [function(job) for job in tqdm(jobs, **progress)]
