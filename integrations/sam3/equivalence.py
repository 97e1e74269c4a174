"""FSSSAM3 against FSS-SAM3's own ``run_episode`` (``model/evaluate.py`` of a copy of ``WongKinYiu/FSS-SAM3`` outside
this repository, never shipped), on the same SAM 3 weights written as Meta's ``sam3.pt`` and the same images:

    python -m integrations.sam3.equivalence --reference /path/to/FSS-SAM3 [--full-size] [--episodes 3]

Both sides read one random-weight file in Meta's layout (``{'model': {'detector.*': ...}}``): FSSSAM3 through its
``sam3_weights`` reader, the reference through ``sam3``'s own builder and loader and ``Sam3Processor``. Each episode is
random images with one box per support, run at 1 shot and at 5 shots: first with every instance kept (the largest
difference of the scores of all of them), then with the threshold in the widest gap between scores near the median
(random weights score every instance about alike, so about half are kept), on both sides: whether the same
instances were kept and the pixel agreement of the query masks.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from typing import List, Tuple

import numpy as np
import torch
from PIL import Image

from .model import FSSSAM3
from .sam3_model import DETECTOR, bpe_vocabulary, on_this_machine, overridden_arguments

# the comparison's small SAM 3 (also the tests'): the package's classes with fewer, narrower layers, on a 336 canvas
TINY_CANVAS = 336  # 24 x 24 patches of 14 pixels
TINY_SAM3_ARGS = {
    "ViT": dict(img_size=TINY_CANVAS, pretrain_img_size=TINY_CANVAS, embed_dim=32, depth=2, num_heads=2,
                global_att_blocks=(1,), window_size=12, drop_path_rate=0.0),
    "VETextEncoder": dict(width=32, heads=2, layers=1),
}


def threshold_near_the_median(scores: torch.Tensor, window: int = 20) -> float:
    """Midway across the widest gap between adjacent scores among the ``window`` around the median: random weights
    score every instance about alike, and a threshold within float error of a score would keep it on one side only."""
    ranked = scores.sort().values
    middle = ranked[max(0, len(ranked) // 2 - window // 2): len(ranked) // 2 + window // 2]
    gap = int((middle[1:] - middle[:-1]).argmax())
    return float((middle[gap] + middle[gap + 1]) / 2)


def load_reference(source: str):
    """FSS-SAM3's ``model/evaluate.py`` as a module of its own name (its packages ``model`` and ``data`` are generic
    names); the installed ``sam3`` serves both sides (FSS-SAM3's vendored copy is the same image code)."""
    path = os.path.join(source, "model", "evaluate.py")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model/evaluate.py under {source}: give the root of a copy of FSS-SAM3")
    sys.path.append(source)  # its `data.dataset_tool`
    spec = importlib.util.spec_from_file_location("fss_sam3_reference_evaluate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def episode(rng: np.random.Generator, shots: int) -> Tuple[np.ndarray, List[np.ndarray], List[List[float]]]:
    """A random query, ``shots`` random supports of other sizes and one box ``[x, y, w, h]`` inside each."""
    query = rng.integers(0, 256, (int(rng.integers(200, 400)), int(rng.integers(200, 400)), 3), dtype=np.uint8)
    supports, boxes = [], []
    for _ in range(shots):
        height, width = int(rng.integers(150, 450)), int(rng.integers(150, 450))
        supports.append(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        x, y = float(rng.integers(0, width // 2)), float(rng.integers(0, height // 2))
        boxes.append([x, y, float(rng.integers(20, width - x)), float(rng.integers(20, height - y))])
    return query, supports, boxes


def reference_mask(evaluator, query: np.ndarray, supports: List[np.ndarray], boxes: List[List[float]]):
    """(mask, kept scores) of FSS-SAM3's ``run_episode``: its prediction is what it gives its metric."""
    captured = {}
    update = evaluator.metric.update
    evaluator.metric.update = lambda prediction, *args: captured.setdefault("mask", prediction) is None or update(
        prediction, *args)
    refs = [{"image": Image.fromarray(image), "box": box} for image, box in zip(supports, boxes)]
    target = [{"image": Image.fromarray(query), "mask": np.zeros(query.shape[:2], np.uint8)}]
    original = evaluator.processor._forward_grounding

    def keep_scores(state):
        state = original(state)
        captured["scores"] = state["scores"].detach().clone()
        return state
    evaluator.processor._forward_grounding = keep_scores
    with on_this_machine():
        evaluator.run_episode(refs[0] if len(refs) == 1 else refs, target, cat_id=1)
    evaluator.processor._forward_grounding = original
    evaluator.metric.update = update
    return captured["mask"].astype(bool), captured["scores"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="root of a copy of FSS-SAM3 (holds model/evaluate.py)")
    parser.add_argument("--full-size", action="store_true", help="SAM 3 as released (ViT-L, 1008 canvas); default: "
                                                                 "the tests' tiny SAM 3 on a 336 canvas")
    parser.add_argument("--episodes", type=int, default=3)
    args = parser.parse_args(argv)
    reference = load_reference(args.reference)
    from sam3.model.sam3_image_processor import Sam3Processor
    from sam3.model_builder import build_sam3_image_model

    parts, canvas = ({}, 1008) if args.full_size else (TINY_SAM3_ARGS, TINY_CANVAS)
    torch.manual_seed(0)
    ours = FSSSAM3(sam3_args=parts, canvas_size=canvas).eval()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "sam3.pt")
        torch.save({"model": {DETECTOR + key: value for key, value in ours.sam3.state_dict().items()}}, path)
        ours = FSSSAM3(sam3_weights=path, sam3_args=parts, canvas_size=canvas).eval()
        ours.init_weights()
        with overridden_arguments(**parts), on_this_machine():
            theirs = build_sam3_image_model(bpe_path=bpe_vocabulary(), device="cpu", checkpoint_path=path,
                                            load_from_HF=False)
    rng = np.random.default_rng(0)
    print(f"{'full-size' if args.full_size else 'tiny'} SAM 3, canvas {canvas}, fp32, {args.episodes} episodes each")
    print("| shots | episode | threshold | kept (ours / theirs) | same kept | largest score difference (all "
          "instances) | mask pixels agreeing |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for shots in (1, 5):
        for index in range(args.episodes):
            query, supports, boxes = episode(rng, shots)
            exemplars = [[box] for box in boxes]
            every = {}
            for threshold in (0.0, None):  # every instance, then about half of them
                if threshold is None:
                    threshold = threshold_near_the_median(every["ours"])
                ours.score_threshold = threshold
                processor = Sam3Processor(theirs, resolution=canvas, device="cpu", confidence_threshold=threshold)
                evaluator = (reference.PairwiseSam3Evaluator(processor, split_ratio=0.6, canvas_size=canvas,
                                                             use_text=False)
                             if shots == 1 else reference.Parameterized5ShotEvaluator(
                                 processor, layout_type="l_shape", split_ratio=0.3, canvas_size=canvas,
                                 use_text=False))
                with torch.no_grad():
                    mine = ours.segment(query, supports, exemplars)
                their_mask, their_scores = reference_mask(evaluator, query, supports, boxes)
                every.setdefault("ours", mine.scores)
                every.setdefault("theirs", their_scores)
            difference = (every["ours"] - every["theirs"]).abs().max().item()
            same = mine.scores.shape == their_scores.shape and torch.allclose(mine.scores, their_scores, atol=1e-5)
            agreement = (mine.mask.cpu().numpy() == their_mask).mean()
            print(f"| {shots} | {index} | {threshold:.6f} | {len(mine.scores)} / {len(their_scores)} | {same} | "
                  f"{difference:.2e} | {100 * agreement:.4f}% |", flush=True)

if __name__ == "__main__":
    main()
