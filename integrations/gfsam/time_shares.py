"""Where GF-SAM's time goes in one episode: DINOv2 (supports and query), SAM's image encoder, SAM's prompt decoding
(one mask per point prompt) and the rest (priors, graph, cluster classification, point selection), per query.

    python -m integrations.gfsam.time_shares configs/gfsam_small_pascal_fold0.py [--shot 1] [--size 1024] \\
        [--precision fp32|bf16] [--repeats 2] [--points-per-batch 64 128] [--cfg-options dinov2_weights=PATH ...]

Random weights unless the files are given; random weights place the most points (128). The median of
``--repeats`` runs after a warm-up run; one row per ``--points-per-batch`` (point prompts decoded together).
"""
import argparse
import time
from collections import defaultdict

import torch
from mmengine.config import Config, DictAction
from mmengine.utils import import_modules_from_strings

from crc_modules.precision import PRECISIONS
from integrations.cli import run_tool
from integrations.mmseg.engine.checkpoint import load_model_weights
from integrations.mmseg.engine.run_options import resolve_config
from integrations.mmseg.models.segmentor import FewShotSegmentor

PARTS = ("DINOv2", "SAM image encoder", "SAM prompt decoding", "priors, graph and selection")


def timed(seconds: defaultdict, part: str, function):
    """``function`` with its wall time added to ``seconds[part]`` at each call."""
    def run(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[part] += time.perf_counter() - start
    return run


def instrument(model, seconds: defaultdict, points: list) -> None:
    """Time GF-SAM's parts (DINOv2's forward, the encodings, the point masks, predict) and count the points."""
    point_masks = model.point_masks

    def counted_point_masks(embedding, grid_points, image_hw):
        points.append(grid_points.shape[0])
        return point_masks(embedding, grid_points, image_hw)

    model.dinov2.forward_intermediates = timed(seconds, "dinov2", model.dinov2.forward_intermediates)
    model.encode = timed(seconds, "encode", model.encode)
    model.point_masks = timed(seconds, "decoding", counted_point_masks)
    model.predict = timed(seconds, "predict", model.predict)


def uninstrument(model) -> None:
    for name in ("encode", "point_masks", "predict"):
        vars(model).pop(name)
    vars(model.dinov2).pop("forward_intermediates")


def shares(seconds: dict) -> dict:
    """The four parts' seconds from the timers (SAM's encoder = encoding - DINOv2; the rest = predict - decoding)."""
    return {PARTS[0]: seconds["dinov2"], PARTS[1]: seconds["encode"] - seconds["dinov2"],
            PARTS[2]: seconds["decoding"], PARTS[3]: seconds["predict"] - seconds["decoding"]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--shot", type=int, default=1)
    parser.add_argument("--size", type=int, default=1024, help="square input size (GF-SAM's: 1024)")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--points-per-batch", type=int, nargs="+", help="default: the config's (GF-SAM's 64)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={})
    args = parser.parse_args(argv)
    cfg = resolve_config(Config.fromfile(args.config), args.cfg_options)
    import_modules_from_strings(**cfg.get("custom_imports", dict(imports=[])))
    segmentor = FewShotSegmentor.build(cfg, precision=args.precision).eval()
    if any(part.path for part in segmentor.model.frozen_weights()):
        load_model_weights(segmentor, None)
    model = segmentor.model
    generator = torch.Generator().manual_seed(0)
    supports = torch.randn(args.shot, 3, args.size, args.size, generator=generator)
    labels = torch.zeros(args.shot, args.size, args.size, dtype=torch.long)
    labels[:, args.size // 4: 3 * args.size // 4, args.size // 4: 3 * args.size // 4] = 1
    query = torch.randn(1, 3, args.size, args.size, generator=generator)
    print(f"{args.config}, {args.shot}-shot at {args.size}, {args.precision}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats} after a warm-up; seconds per episode (share)")
    print("| points per batch | points | total | " + " | ".join(PARTS) + " |")
    print("| --- " * (3 + len(PARTS)) + "|")
    for batch in args.points_per_batch or [model.points_per_batch]:
        model.points_per_batch = batch
        runs = []
        for _ in range(args.repeats + 1):
            seconds, points = defaultdict(float), []
            instrument(model, seconds, points)
            start = time.perf_counter()
            with torch.no_grad():
                segmentor.prepare_supports(supports, labels).predict(query)
            runs.append((time.perf_counter() - start, shares(seconds), sum(points)))
            uninstrument(model)
        total, parts, count = sorted(runs[1:], key=lambda run: run[0])[len(runs[1:]) // 2]
        print(f"| {batch} | {count} | {total:.2f} | " +
              " | ".join(f"{parts[part]:.2f} ({100 * parts[part] / total:.0f}%)" for part in PARTS) + " |", flush=True)

if __name__ == "__main__":
    run_tool(main)
