"""Segment your own images from a few marked examples.

    python tools/infer.py --config configs/crcnet_generated.py --checkpoint work_dirs/crcnet_generated/weights.pth \
        --support cat1.jpg cat1.png --support cat2.jpg 10,20,200,180 --support cat3.jpg '+120,80;-30,40' \
        --query photos/ --out masks/ [--cfg-options sam2_weights=sam2_hiera_large.pt]

A support is marked by a mask image, a box ``x0,y0,x1,y1``, clicks ``+x,y;-x,y`` (with a box: ``x0,y0,x1,y1;-x,y``)
or ``scribble:FILE``; boxes, clicks and scribbles become masks through SAM2 (the model's own, or Meta's file named
by ``sam2_weights``); without SAM2 a box is a filled rectangle. The supports are prepared once (and, with
``--kshot-mode finetune|both``, finetuned once); every query is resized to the working size and its result mapped
back to its own size. Writes ``<name>_mask.png`` (0 / 255) and ``<name>_overlay.png`` per query; queries whose
names collide keep their extension (``a_jpg``) or their folders in the name. The run never writes over a file it
did not write itself (an earlier run's outputs, listed in ``--out``'s ``.infer_outputs``, are replaced). A query
that fails (unreadable, out of memory, ...) is reported by name and skipped; what was written stays, and the exit
status is 1 when any query failed.
"""
import argparse
import glob
import os
import os.path as osp
import re
import sys
from collections import Counter
from typing import Dict, List

import cv2
import numpy as np
from mmengine.config import DictAction
from tqdm import tqdm

from crc_modules import FUSIONS, MULTI_SCALES
from crc_modules.kshot import KSHOT_MODES
from crc_modules.precision import PRECISIONS
from integrations.cli import run_tool
from integrations.foundation.prompts import looks_like_prompt_text
from integrations.mmseg.apis.predictor import SCRIBBLE_PREFIX, FewShotPredictor, load_image
from integrations.mmseg.engine.checkpoint import UNSAFE_PICKLE_FLAG
from integrations.mmseg.visualization.visualization import PREDICTION_COLOUR, overlay

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
OUTPUT_SUFFIXES = ("_mask.png", "_overlay.png")  # what this tool writes (and the README's support-mask naming)
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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Few-shot segmentation of your own images")
    parser.add_argument("--config", required=True)
    parser.add_argument("--checkpoint",
                        help="weights.pth written by tools/train.py, or a hosted model's released checkpoint (SANSA's "
                             "adapters); none for a model with nothing trained (GF-SAM)")
    parser.add_argument("--support", nargs=2, action="append", metavar=("IMAGE", "MARK"), required=True,
                        help="a marked example: its image and a mask image (nonzero = object), a box x0,y0,x1,y1, "
                             "clicks '+x,y;-x,y' (a box and clicks: 'x0,y0,x1,y1;-x,y') or scribble:FILE (a picture "
                             "of strokes on the object); boxes, clicks and scribbles need SAM2 (sam2_weights=), "
                             "without which a box is a filled rectangle")
    parser.add_argument("--query", nargs="+", required=True, help="query images: files, folders or globs")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--kshot-mode", choices=KSHOT_MODES, help="k-shot inference (Table 4)")
    parser.add_argument("--kshot-fusion", choices=FUSIONS,
                        help="how k one-shot predictions are fused: mean of probabilities (the paper), or HSNet's vote")
    parser.add_argument("--multi-scale", action="store_true", help=f"average over scales {MULTI_SCALES}")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="fp32, bf16 or fp16 autocast, or auto: bf16 on CPUs with bf16 instructions and on "
                             "CUDA, fp32 on other CPUs (default: the config's, else fp32)")
    parser.add_argument("--size", type=int, help="longer side images are resized to (default: the config's test "
                                                 "size, else its image size, else 473)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                        help="override config entries or give run options, e.g. sam2_weights=PATH (Meta's SAM2 file: "
                             "prompts to masks, SANSA's frozen SAM2), dinov2_weights=PATH sam_weights=PATH (GF-SAM)")
    parser.add_argument(UNSAFE_PICKLE_FLAG, action="store_true",
                        help="load a checkpoint that is not weights-only (a foreign or old full pickle) with the "
                             "full unpickler: this RUNS ANY CODE the file contains; only for files you trust")
    return parser.parse_args(marks_as_values(sys.argv[1:] if argv is None else list(argv)))


def marks_as_values(argv: List[str]) -> List[str]:
    """The MARK of each ``--support IMAGE MARK`` kept a value when it starts with '-' (a negative click '-x,y', a box
    at a negative coordinate), which argparse would take for a flag: a leading space, which the prompt syntax allows."""
    argv = list(argv)
    for index, token in enumerate(argv[:-2]):
        mark = argv[index + 2]
        if token == "--support" and mark.startswith("-") and looks_like_prompt_text(mark):
            argv[index + 2] = " " + mark
    return argv


def main(argv=None) -> int:
    args = parse_args(argv)
    if osp.exists(args.out) and not osp.isdir(args.out):  # before the model loads, not when the first mask is written
        raise NotADirectoryError(f"--out {args.out} is a file: give a folder (it is made if missing)")
    queries = expand_queries(args.query)
    outputs = outputs_of(output_names(queries), args.out)
    support_files = [mark[len(SCRIBBLE_PREFIX):] if mark.startswith(SCRIBBLE_PREFIX) else mark
                     for _, mark in args.support] + [image for image, _ in args.support]
    refuse_overwriting_inputs(outputs, queries + support_files)
    if osp.isdir(args.out):
        refuse_overwriting_others(outputs, args.out)
        remove_stale_temporaries(args.out)
    predictor = FewShotPredictor.from_config(args.config, args.checkpoint, device=args.device,
                                             kshot_mode=args.kshot_mode, kshot_fusion=args.kshot_fusion,
                                             size=args.size, precision=args.precision,
                                             scales=MULTI_SCALES if args.multi_scale else None,
                                             cfg_options=args.cfg_options,
                                             allow_full_pickle=args.unsafe_load_full_pickle)
    predictor.set_supports([tuple(pair) for pair in args.support])
    os.makedirs(args.out, exist_ok=True)
    failures = []
    for path in tqdm(queries, desc="segmenting", unit="image"):
        try:
            image, _ = load_image(path)  # BGR
            mask = predictor.predict(image[..., ::-1]).mask  # the full-size float probability is not kept
        except (OSError, ValueError, RuntimeError, MemoryError) as err:  # torch's out-of-memory is a RuntimeError
            failures.append(f"{path}: {type(err).__name__}: {err}")
            tqdm.write(f"skipped {path}: {err}", file=sys.stderr)
            continue
        mask_path, overlay_path = outputs[path]
        pictures = {mask_path: mask * np.uint8(255), overlay_path: overlay(image, mask, PREDICTION_COLOUR)}
        unwritten = [osp.basename(name) for name, picture in pictures.items()
                     if not write_image_atomically(name, picture)]
        if unwritten:
            failures.append(f"{path}: could not write {', '.join(unwritten)} in {args.out}")
            tqdm.write(f"could not write {', '.join(unwritten)} in {args.out}", file=sys.stderr)
    print(f"{len(queries) - len(failures)} of {len(queries)} queries segmented into {args.out}")
    if failures:
        print("failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run_tool(main)
