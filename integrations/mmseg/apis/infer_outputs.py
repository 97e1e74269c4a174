"""The files of a folder inference (``tools/infer.py``): the queries, one output name per query, the refusals that
keep a user's files, atomic writes, and the run record that lets a rerun (one process or many) skip what is done.

Every output is written under a hidden temporary name and renamed, and its name added to the folder's list of this
tool's outputs (``.infer_outputs``): a reader, a second process or a rerun sees a whole file or none. The run record
(``.infer_run.json``) fingerprints what the masks depend on (config, run options, checkpoint, supports, settings);
a rerun with the same fingerprint skips the queries whose outputs are complete, so a run killed midway (``kill -9``
of one process of many) is completed by running it again; another fingerprint replaces the outputs.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import os.path as osp
import re
from collections import Counter
from typing import Dict, Iterable, List, Mapping, Sequence

import cv2
import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
OUTPUT_SUFFIXES = ("_mask.png", "_overlay.png")  # what this tool writes (and the documented support-mask naming)
WRITTEN_LIST = ".infer_outputs"  # in --out: the names of the files this tool wrote there
TEMPORARY_SUFFIX = ".crc-infer.tmp"
# .<one of this tool's output names>.<pid>.crc-infer.tmp: a name no user's file has by chance
TEMPORARY = re.compile(r"^\..+(?:_mask|_overlay)\.png\.(\d+)" + re.escape(TEMPORARY_SUFFIX) + "$")


def expand_queries(patterns: List[str]) -> List[str]:
    """Files, folders (their images, sorted) and globs -> a list of image paths, each once.

    A folder's ``*_mask.png`` and ``*_overlay.png`` (this tool's outputs, or support masks) and hidden files
    (temporaries) are left out; a file named on its own is kept whatever its name.
    """
    paths = []
    for pattern in patterns:
        if osp.isdir(pattern):
            paths += sorted(osp.join(pattern, f) for f in os.listdir(pattern)
                            if f.lower().endswith(IMAGE_EXTENSIONS) and not f.endswith(OUTPUT_SUFFIXES)
                            and not f.startswith("."))
        elif any(c in pattern for c in "*?["):
            paths += sorted(glob.glob(pattern))
        else:
            paths.append(pattern)
    if not paths:
        raise FileNotFoundError(f"no query image found in {patterns}")
    by_file = {}
    for path in paths:  # one entry per file, however its path is spelled
        by_file.setdefault(osp.realpath(path), path)
    return list(by_file.values())


def _name_candidates(path: str) -> List[str]:
    """Output names of one query, from short to unique: ``a``, ``a_jpg``, ``trip_a_jpg``, ``photos_trip_a_jpg`` ..."""
    *folders, filename = osp.normpath(osp.abspath(path)).split(os.sep)
    stem, extension = osp.splitext(filename)
    with_extension = f"{stem}_{extension.lstrip('.')}" if extension else stem
    return [stem, with_extension] + ["_".join(folders[-depth:] + [with_extension])
                                     for depth in range(1, len(folders)) if folders[-depth]]


def output_names(paths: List[str]) -> Dict[str, str]:
    """A distinct output name per query (distinct files): the shortest candidate no other query's name collides with."""
    candidates = {path: _name_candidates(path) for path in paths}
    level = {path: 0 for path in paths}
    while True:
        names = {path: candidates[path][level[path]] for path in paths}
        counts = Counter(names.values())
        clashing = [path for path in paths if counts[names[path]] > 1]
        if not clashing:
            return names
        for path in clashing:
            if level[path] + 1 == len(candidates[path]):
                raise ValueError(f"no distinct output name for {path} (its full path names another query too)")
            level[path] += 1


def outputs_of(names: Dict[str, str], out: str) -> Dict[str, List[str]]:
    """query path -> the paths of its two outputs in ``out``."""
    return {path: [osp.join(out, name + suffix) for suffix in OUTPUT_SUFFIXES] for path, name in names.items()}


def refuse_overwriting_inputs(outputs: Dict[str, List[str]], inputs: List[str]) -> None:
    """An output that is an input file (a support mask named ``<query>_mask.png`` next to it) stops the run."""
    input_files = {osp.realpath(path) for path in inputs if osp.isfile(path)}
    clashes = [path for paths in outputs.values() for path in paths if osp.realpath(path) in input_files]
    if clashes:
        raise SystemExit(f"error: --out would write over input files: {', '.join(clashes)}. "
                         f"Choose another --out folder.")


def written_before(out: str) -> set:
    """Names of the files earlier runs of this tool wrote in ``out`` (its ``.infer_outputs`` list)."""
    path = osp.join(out, WRITTEN_LIST)
    if not osp.isfile(path):
        return set()
    with open(path, encoding="utf-8") as handle:
        return {line.rstrip("\n") for line in handle if line.strip()}


def refuse_overwriting_others(outputs: Dict[str, List[str]], out: str) -> None:
    """An output path holding a file this tool did not write (a hand-drawn ``cat2_mask.png``) stops the run."""
    ours = written_before(out)
    foreign = [path for paths in outputs.values() for path in paths
               if osp.exists(path) and osp.basename(path) not in ours]
    if foreign:
        raise SystemExit(f"error: --out holds files this tool did not write, which the run would replace: "
                         f"{', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}. Choose another --out folder "
                         f"or move them.")


def remove_stale_temporaries(out: str) -> None:
    """Remove the temporaries of this tool's runs that were killed while writing (their process is gone): only names
    of :data:`TEMPORARY`'s form, which a user's own hidden files do not have."""
    for name in os.listdir(out):
        match = TEMPORARY.match(name)
        if match and not process_alive(int(match.group(1))):
            os.remove(osp.join(out, name))


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def write_image_atomically(path: str, picture: np.ndarray) -> bool:
    """Write ``picture`` under a hidden temporary name in the same folder, then rename: a reader (or a second run into
    the same folder) sees the old file or the new one, never a half-written one; the temporary's name is no image's,
    so no later run takes it for a query. The file's name is added to the folder's list of this tool's outputs."""
    folder, name = osp.split(path)
    temporary = osp.join(folder, f".{name}.{os.getpid()}{TEMPORARY_SUFFIX}")
    try:
        encoded, data = cv2.imencode(osp.splitext(name)[1], picture)
        if not encoded:
            return False
        with open(temporary, "wb") as handle:
            handle.write(data.tobytes())
        os.replace(temporary, path)
    except OSError:
        return False
    finally:
        if osp.exists(temporary):
            os.remove(temporary)
    with open(osp.join(folder, WRITTEN_LIST), "a", encoding="utf-8") as handle:
        handle.write(name + "\n")
    return True


RUN_RECORD = ".infer_run.json"  # in --out: the fingerprint of the run whose outputs the folder holds


def _file_identity(path: str) -> object:
    """A file's identity for the fingerprint: its absolute path, size and modification time (None: not a file)."""
    if not osp.isfile(path):
        return None
    status = os.stat(path)
    return [osp.abspath(path), status.st_size, status.st_mtime_ns]


def run_fingerprint(settings: Mapping[str, object], files: Iterable[str]) -> str:
    """SHA-256 of what a run's masks depend on: ``settings`` (JSON-able: config, run options, marks, k-shot settings,
    size, precision) and the identity of ``files`` (config, checkpoint, support images and masks)."""
    content = json.dumps({"settings": settings, "files": [_file_identity(path) for path in files]}, sort_keys=True,
                         default=str)
    return hashlib.sha256(content.encode()).hexdigest()


def recorded_fingerprint(out: str) -> str:
    """The fingerprint of the run whose outputs ``out`` holds ('' when none is recorded)."""
    try:
        with open(osp.join(out, RUN_RECORD), encoding="utf-8") as handle:
            return str(json.load(handle).get("fingerprint", ""))
    except (OSError, ValueError):
        return ""


def record_run(out: str, fingerprint: str) -> None:
    """Write the run record atomically (a temporary file, then a rename)."""
    temporary = osp.join(out, f"{RUN_RECORD}.{os.getpid()}{TEMPORARY_SUFFIX}")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump({"fingerprint": fingerprint}, handle)
    os.replace(temporary, osp.join(out, RUN_RECORD))


def completed_queries(outputs: Mapping[str, Sequence[str]], out: str, fingerprint: str) -> List[str]:
    """The queries whose outputs an earlier run with this ``fingerprint`` wrote in full (all of them are files this
    tool listed, written after the query's image last changed); none when the folder holds another run's outputs."""
    if fingerprint != recorded_fingerprint(out):
        return []
    ours = written_before(out)
    return [query for query, paths in outputs.items()
            if all(osp.isfile(path) and osp.basename(path) in ours and osp.getmtime(path) >= osp.getmtime(query)
                   for path in paths)]


def shard(items: Sequence[str], rank: int, world_size: int) -> List[str]:
    """Rank ``rank``'s share of ``items`` out of ``world_size``: every ``world_size``-th item from ``rank`` (each
    item in exactly one share; the shares differ in length by one at most)."""
    return list(items[rank::world_size])
