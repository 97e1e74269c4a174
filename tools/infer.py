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
did not write itself (an earlier run's outputs, listed in ``--out``'s ``.infer_outputs``, are replaced; those of an
earlier run with the same config, checkpoint, supports and settings are kept, so a rerun completes a killed run). A
query that fails (unreadable, out of memory, ...) is reported by name and skipped; what was written stays, and the
exit status is 1 when any query failed. ``--launcher pytorch|slurm`` (``tools/dist_infer.sh CONFIG CHECKPOINT N
...``) shares the queries among processes, each preparing the supports once; one summary at the end.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List

import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.dist import all_gather_object, barrier, get_dist_info, init_dist
from torch import distributed as dist
from tqdm import tqdm

from crc_modules import FUSIONS, MULTI_SCALES
from crc_modules.kshot import KSHOT_MODES
from crc_modules.precision import PRECISIONS
from integrations.cli import run_tool
from integrations.foundation.prompts import looks_like_prompt_text
from integrations.mmseg.apis.infer_outputs import (
    completed_queries,
    expand_queries,
    output_names,
    outputs_of,
    record_run,
    refuse_overwriting_inputs,
    refuse_overwriting_others,
    remove_stale_temporaries,
    run_fingerprint,
    shard,
    write_image_atomically,
)
from integrations.mmseg.apis.predictor import SCRIBBLE_PREFIX, FewShotPredictor, load_image
from integrations.mmseg.engine.checkpoint import UNSAFE_PICKLE_FLAG
from integrations.mmseg.engine.launch import finish_distributed
from integrations.mmseg.visualization.visualization import PREDICTION_COLOUR, overlay


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
    parser.add_argument("--device", default="cpu",
                        help="cpu, cuda or cuda:N (with --launcher: each process its own GPU)")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none",
                        help="several processes share the queries (torchrun: tools/dist_infer.sh; slurm), each "
                             "preparing the supports once")
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
    device = start_processes(args.launcher, args.device)
    rank, world_size = get_dist_info()
    queries = expand_queries(args.query)
    outputs = outputs_of(output_names(queries), args.out)
    support_files = [mark[len(SCRIBBLE_PREFIX):] if mark.startswith(SCRIBBLE_PREFIX) else mark
                     for _, mark in args.support] + [image for image, _ in args.support]
    refuse_overwriting_inputs(outputs, queries + support_files)
    fingerprint = run_fingerprint(settings_of(args), [args.config, args.checkpoint or "", *support_files])
    done = set()
    if osp.isdir(args.out):
        refuse_overwriting_others(outputs, args.out)
        done = set(completed_queries(outputs, args.out, fingerprint))
    barrier()  # every process has read the folder before the first one writes to it
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        remove_stale_temporaries(args.out)
        record_run(args.out, fingerprint)
    barrier()
    mine = shard([query for query in queries if query not in done], rank, world_size)
    predictor = FewShotPredictor.from_config(args.config, args.checkpoint, device=device,
                                             kshot_mode=args.kshot_mode, kshot_fusion=args.kshot_fusion,
                                             size=args.size, precision=args.precision,
                                             scales=MULTI_SCALES if args.multi_scale else None,
                                             cfg_options=args.cfg_options,
                                             allow_full_pickle=args.unsafe_load_full_pickle)
    predictor.set_supports([tuple(pair) for pair in args.support])
    failures = [failure for query in tqdm(mine, desc="segmenting", unit="image", disable=rank != 0)
                for failure in segment(predictor, query, outputs[query], args.out)]
    failures = [failure for each in all_gather_object(failures) for failure in each] if world_size > 1 else failures
    if rank == 0:
        skipped = f"; {len(done)} already complete from an earlier run with the same settings" if done else ""
        print(f"{len(queries) - len(done) - len(failures)} of {len(queries)} queries segmented into {args.out}"
              f"{skipped}" + (f" ({world_size} processes)" if world_size > 1 else ""))
        if failures:
            print("failed:\n  " + "\n  ".join(failures), file=sys.stderr)
    finish_distributed()
    return 1 if failures else 0


def start_processes(launcher: str, device: str) -> str:
    """Join the processes of a ``--launcher`` run and return this process's device: on GPUs MMEngine's ``init_dist``
    (NCCL, each process its own GPU), on the CPU a gloo group from torchrun's variables."""
    if launcher == "none":
        return device
    if device.startswith("cuda"):
        init_dist(launcher, backend="nccl")
        return f"cuda:{torch.cuda.current_device()}"
    if launcher != "pytorch":
        raise ValueError(f"--launcher {launcher} needs GPUs (--device cuda); on the CPU use --launcher pytorch "
                         f"(tools/dist_infer.sh)")
    dist.init_process_group(backend="gloo")
    return device


def settings_of(args: argparse.Namespace) -> dict:
    """What, besides the files, the masks depend on (the run record's fingerprint)."""
    return dict(config=osp.abspath(args.config), checkpoint=args.checkpoint, cfg_options=args.cfg_options,
                supports=args.support, kshot_mode=args.kshot_mode, kshot_fusion=args.kshot_fusion,
                multi_scale=args.multi_scale, precision=args.precision, size=args.size)


def segment(predictor: FewShotPredictor, query: str, paths: List[str], out: str) -> List[str]:
    """Segment one query and write its mask and overlay atomically; the failures, by name (none when written)."""
    try:
        image, _ = load_image(query)  # BGR
        mask = predictor.predict(image[..., ::-1]).mask  # the full-size float probability is not kept
    except (OSError, ValueError, RuntimeError, MemoryError) as err:  # torch's out-of-memory is a RuntimeError
        tqdm.write(f"skipped {query}: {err}", file=sys.stderr)
        return [f"{query}: {type(err).__name__}: {err}"]
    mask_path, overlay_path = paths
    pictures = {mask_path: mask * np.uint8(255), overlay_path: overlay(image, mask, PREDICTION_COLOUR)}
    unwritten = [osp.basename(name) for name, picture in pictures.items() if not write_image_atomically(name, picture)]
    if unwritten:
        tqdm.write(f"could not write {', '.join(unwritten)} in {out}", file=sys.stderr)
        return [f"{query}: could not write {', '.join(unwritten)} in {out}"]
    return []


if __name__ == "__main__":
    run_tool(main)
