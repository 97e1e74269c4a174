"""FSSAM against FSSAM's own code (``model/FSSAM.py``, ``model/FSSAM5s.py`` of a copy of ``Sam1224/FSSAM`` outside
this repository, never shipped), with the same random weights (SAM 2 small, DINOv2 ViT-B/14) and the same episodes at
512, 1 and 5 shots:

    python -m integrations.fssam.equivalence --reference /path/to/FSSAM --dinov2 /path/to/dinov2 [--episodes 2]

:mod:`.reference` runs the released code in a process of its own and writes its weights, episodes and logits; the
released state dict then loads strictly into :class:`~.model.FSSAM` (the checkpoint's names), which runs the same
episodes. Printed: the largest absolute logit difference and the masks' pixel agreement, per shot count; and, to show
that the comparison can fail (random weights let the query's own features set most of the mask), how far the logits
move when the support masks are inverted, the calibration is off or the DINOv2 priors are zero.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from typing import Dict, Iterator

import torch

from .model import FSSAM, FSSAM5s
from .priors import PseudoPromptGenerator

MEAN, STD = torch.tensor([0.485, 0.456, 0.406]) * 255, torch.tensor([0.229, 0.224, 0.225]) * 255


def normalised(images: torch.Tensor) -> torch.Tensor:
    """Raw 0-255 images (..., 3, H, W) normalised as the host's data preprocessor does."""
    shape = (3, 1, 1)
    return (images - MEAN.view(shape)) / STD.view(shape)


def logits_of(model: FSSAM, episodes: Dict[str, torch.Tensor], invert: bool = False) -> torch.Tensor:
    """(B, S, S) foreground logits of ``model`` on the reference's episodes."""
    masks = episodes["masks"][:, :, None]
    masks = 1 - masks if invert else masks
    outputs = [model(normalised(episodes["queries"][i:i + 1]), normalised(episodes["supports"][i:i + 1]),
                     masks[i:i + 1]).query_logits[:, 1] for i in range(len(masks))]
    return torch.cat(outputs)


@contextlib.contextmanager
def calibration_off(model: FSSAM) -> Iterator[None]:
    """The memory attention as SAM 2's own (no support masks reach it)."""
    import integrations.fssam.model as module

    calibrating = module.calibrating
    module.calibrating = lambda attention, masks: contextlib.nullcontext()
    try:
        yield
    finally:
        module.calibrating = calibrating


@contextlib.contextmanager
def priors_zero(model: FSSAM) -> Iterator[None]:
    """Both DINOv2 priors zero everywhere."""
    def zeros(query, supports, masks, size):
        blank = query.new_zeros(query.shape[0], 1, *size)
        return blank, blank

    model.pseudo_prompts.forward = zeros
    try:
        yield
    finally:
        model.pseudo_prompts.forward = PseudoPromptGenerator.forward.__get__(model.pseudo_prompts)


def compare(reference: dict) -> Dict[int, dict]:
    """Per shot count: largest logit difference, mask agreement, and the logits' movement under each change."""
    results = {}
    for shots, model_class in ((1, FSSAM), (5, FSSAM5s)):
        model = model_class().eval()
        model.load_state_dict(reference["state_dict"])  # strict: the released names
        episodes, expected = reference[shots], reference[shots]["logits"]
        with torch.no_grad():
            ours = logits_of(model, episodes)
            moved = {"support masks inverted": logits_of(model, episodes, invert=True)}
            with calibration_off(model):
                moved["calibration off"] = logits_of(model, episodes)
            with priors_zero(model):
                moved["DINOv2 priors zero"] = logits_of(model, episodes)
        results[shots] = dict(
            max_logit_difference=float((ours - expected).abs().max()),
            mask_agreement=float(((ours > 0) == (expected > 0)).float().mean()),
            moved={name: float((logits - ours).abs().max()) for name, logits in moved.items()})
    return results


def main(argv=None) -> Dict[int, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="a copy of Sam1224/FSSAM")
    parser.add_argument("--dinov2", required=True, help="a copy of facebookresearch/dinov2")
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "reference.pt")
        subprocess.run([sys.executable, "-m", "integrations.fssam.reference", "--reference", args.reference,
                        "--dinov2", args.dinov2, "--out", out, "--episodes", str(args.episodes),
                        "--seed", str(args.seed)], check=True)
        reference = torch.load(out, weights_only=True)
    results = compare(reference)
    print(f"{reference['redrawn']} constant tensors re-drawn; {args.episodes} episodes per shot count at 512")
    for shots, result in results.items():
        print(f"{shots}-shot: max |logit difference| {result['max_logit_difference']:.2e}, masks agree on "
              f"{100 * result['mask_agreement']:.3f}% of pixels; logits move by at most: "
              + ", ".join(f"{name} {value:.2g}" for name, value in result["moved"].items()))
    return results


if __name__ == "__main__":
    main()
