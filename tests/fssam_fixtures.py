"""A tiny FSSAM for tests: the generated-data config's small SAM 2 and DINOv2, every constant tensor re-drawn so that
every part affects the output (as the equivalence run does)."""
import os

import torch
from mmengine.config import Config

from integrations.fssam.model import FSSAM
from integrations.fssam.reference import redraw_constants

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATED = os.path.join(ROOT, "configs", "fssam_generated.py")
TINY_ARGS = {key: value for key, value in Config.fromfile(GENERATED).model.model.items() if key != "type"}


def tiny_fssam(seed: int = 0, model_class=FSSAM, **settings) -> FSSAM:
    torch.manual_seed(seed)
    model = model_class(**{**TINY_ARGS, **settings}).eval()
    redraw_constants(model, torch.Generator().manual_seed(seed))
    return model


def episode(seed: int = 0, shots: int = 1, side: int = 64):
    """Random normalised images with blob masks: query (1, 3, S, S), supports (1, K, 3, S, S), masks (1, K, 1, S, S)."""
    generator = torch.Generator().manual_seed(seed)
    query = torch.randn(1, 3, side, side, generator=generator)
    supports = torch.randn(1, shots, 3, side, side, generator=generator)
    masks = torch.zeros(1, shots, 1, side, side)
    for shot in range(shots):
        top, left = torch.randint(0, side // 2, (2,), generator=generator).tolist()
        masks[0, shot, 0, top:top + side // 3, left:left + side // 2] = 1
    return query, supports, masks
