"""FSSAM's SAM 2: Meta's 2024-07 SAM 2 from the ``sam2`` package at a 512-pixel input, and its mask decoding.

FSSAM's copy of the configs (``sam2_configs/sam2_hiera_{s,b+,l}.yaml``) differs from the package's
``configs/sam2/sam2_hiera_*.yaml`` in the input size (512, not 1024) and the memory attention's RoPE grid (32, not
64); the weights are Meta's files, names unchanged. It builds through ``build_sam2_video_predictor`` (the
post-processing overrides it adds act on point prompts and on the video predictor's outputs, which FSSAM does not
use).
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
from torch import nn

from integrations.foundation.meta_device import LinspaceOnTheCPU
from integrations.foundation.sam2_models import build_sam2_model

FSSAM_IMAGE_SIZE = 512
FSSAM_SAM2_OVERRIDES = (
    f"++model.image_size={FSSAM_IMAGE_SIZE}",
    "++model.memory_attention.layer.self_attention.feat_sizes=[32,32]",
    "++model.memory_attention.layer.cross_attention.feat_sizes=[32,32]",
)


def build_fssam_sam2(size: str, hydra_overrides: Sequence[str] = ()) -> nn.Module:
    """SAM 2 of ``size`` ('small', 'base_plus', 'large'; the 2024-07 configs) as FSSAM builds it: 512-pixel input.

    ``hydra_overrides`` change the package's config further (tests build tiny variants with them).
    """
    with LinspaceOnTheCPU():
        return build_sam2_model(size, hydra_overrides=(*FSSAM_SAM2_OVERRIDES, *hydra_overrides),
                                apply_postprocessing=False)


@contextlib.contextmanager
def without_object_gate(sam: nn.Module) -> Iterator[None]:
    """SAM 2's ``_forward_sam_heads`` without the hard no-object gate of its masks.

    Reading: FSSAM's copy comments out the ``torch.where(is_obj_appearing, masks, NO_OBJ_SCORE)`` of
    ``_forward_sam_heads``; the package's method runs with ``pred_obj_scores`` off, which gates only that and the
    object pointer's no-object mix (the pointer of this decoding is not used).
    """
    gated = sam.pred_obj_scores
    sam.pred_obj_scores = False
    try:
        yield
    finally:
        sam.pred_obj_scores = gated


def decode_masks(sam: nn.Module, embedding: torch.Tensor, high_res: Sequence[torch.Tensor]) -> torch.Tensor:
    """(B, 1, S, S) mask logits at SAM 2's input size from memory-conditioned (B, C, h, w) features, without prompts
    (``propagate_in_video_batch_final``: the multimask choice of a tracked frame, the best predicted IoU)."""
    with without_object_gate(sam):
        outputs = sam._forward_sam_heads(backbone_features=embedding, point_inputs=None, mask_inputs=None,
                                         high_res_features=list(high_res),
                                         multimask_output=sam._use_multimask(False, None))
    return outputs[4]
