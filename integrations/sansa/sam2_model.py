"""SANSA's SAM2: Meta's 2024-07 SAM2 from the ``sam2`` package with the object-score head off, and Meta's files read
for it.

SANSA's copy of the configs (``models/sam2/sam2_configs/sam2_hiera_{t,b+,l}.yaml``) differs from the package's
``configs/sam2/sam2_hiera_*.yaml`` in three model settings, all ``true`` in Meta's: ``pred_obj_scores``,
``pred_obj_scores_mlp`` and ``fixed_no_obj_ptr`` (``build_sansa`` in ``models/sansa/sansa.py`` sets them false again
after composing); the RoPE ``feat_sizes`` there (32) are recomputed at the first 1024-px input, so they do not
matter. SANSA builds with Hydra's ``instantiate`` alone, without the package's ``apply_postprocessing`` overrides
(dynamic multimask via stability), and loads Meta's file with ``strict=False``: the object-score head's weights in
the file are left unused.
"""
from __future__ import annotations

import logging
from typing import Dict, Sequence

import torch
from mmengine.logging import print_log
from torch import nn

from integrations.foundation.meta_device import LinspaceOnTheCPU
from integrations.foundation.sam2_models import build_sam2_model
from integrations.foundation.weight_files import read_model_file

SANSA_SAM2_OVERRIDES = (
    "++model.pred_obj_scores=false",
    "++model.pred_obj_scores_mlp=false",
    "++model.fixed_no_obj_ptr=false",
)
# Meta's file entries of the object-score head (pred_obj_scores, pred_obj_scores_mlp, fixed_no_obj_ptr)
OBJECT_SCORE_KEYS = ("no_obj_ptr", "sam_mask_decoder.obj_score_token.", "sam_mask_decoder.pred_obj_score_head.")


def build_sansa_sam2(size: str, hydra_overrides: Sequence[str] = ()) -> nn.Module:
    """SAM2 as SANSA builds it: the package's config of ``size`` with the object-score head off, every weight frozen.

    ``hydra_overrides`` change the package's config further (tests build tiny variants with them).
    """
    with LinspaceOnTheCPU():
        sam = build_sam2_model(size, hydra_overrides=(*SANSA_SAM2_OVERRIDES, *hydra_overrides),
                               apply_postprocessing=False)
    return sam.requires_grad_(False)


def read_sam2_for_sansa(path: str, sam: nn.Module, size: str, option: str = "sam2_weights") -> Dict[str, torch.Tensor]:
    """The state dict of Meta's SAM2 file (``{'model': state_dict}``) for SANSA's ``sam``, read weights-only.

    The object-score head's entries (:data:`OBJECT_SCORE_KEYS`), which SANSA does not build, are dropped and named
    once in the log. Adapters are not in Meta's files; they come from the checkpoint.

    Raises:
        ValueError: the file holds no SAM2 (the message says what it holds), or a SAM2 of another size or version
            than the model's (both named).
    """
    state = read_model_file(path, option, built=sam, hint=f" (sam2_size='{size}'): give that model's file, or set "
                                                            f"the config's sam2_size to the file's")
    dropped = [key for key in state if key.startswith(OBJECT_SCORE_KEYS)]
    if dropped:
        print_log(f"{path}: SANSA builds no object-score head; leaving out {len(dropped)} entries of the file: "
                  f"{', '.join(dropped)}", logger="current", level=logging.INFO)
    return {key: value for key, value in state.items() if key not in dropped}
