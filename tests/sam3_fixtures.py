"""Tiny SAM 3 models for the tests: the package's own classes through its own builder with fewer, narrower layers
(``integrations.sam3.equivalence.TINY_SAM3_ARGS``), on a 336 canvas."""
from __future__ import annotations

import torch

from integrations.sam3.equivalence import TINY_CANVAS, TINY_SAM3_ARGS

TINY = dict(sam3_args=TINY_SAM3_ARGS, canvas_size=TINY_CANVAS)


def tiny_fss_sam3(seed: int = 0, **settings):
    """An FSSSAM3 on a tiny SAM 3 whose every tensor is drawn from ``seed``."""
    from integrations.sam3 import FSSSAM3

    torch.manual_seed(seed)
    return FSSSAM3(**TINY, **settings).eval()
