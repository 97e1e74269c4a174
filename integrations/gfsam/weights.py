"""Meta's released DINOv2 and SAM files, read into GF-SAM's timm DINOv2 and segment-anything SAM.

``dinov2_vit{s,b,l,g}14_pretrain.pth`` hold the state dict of Meta's ``dinov2`` ViT; timm's DINOv2 has the same
entries under the same names, except the masked-image-modelling token (unused by the network) and, for ViT-g,
the SwiGLU layers ``mlp.w12`` / ``mlp.w3`` (timm's ``mlp.fc1`` / ``mlp.fc2``). ``sam_vit_{b,l,h}_*.pth`` are the
state dict of segment-anything's ``Sam`` as it is. A file of another kind (a SAM file given as the DINOv2
weights, or the reverse) or of another size than the config's model is refused, saying what it is.
"""
from __future__ import annotations

import logging
import re
from typing import Dict

import torch
from torch import nn

from integrations.foundation.weight_files import read_model_file

logger = logging.getLogger(__name__)
StateDict = Dict[str, torch.Tensor]
HINT = ": give the file of that kind and size, or change the config's model to the file's"
DINOV2_UNUSED = ("mask_token",)  # Meta's DINOv2 entries timm's network does not build (masked-image training only)
DINOV2_SWIGLU = {"mlp.w12.": "mlp.fc1.", "mlp.w3.": "mlp.fc2."}  # Meta's ViT-g MLP -> timm's SwiGLUPacked


def meta_dinov2_to_timm(state: StateDict) -> StateDict:
    """Meta's DINOv2 entries under timm's names (timm's ``_convert_dinov2``): the mask token left out, ViT-g's
    ``mlp.w12`` / ``mlp.w3`` renamed ``mlp.fc1`` / ``mlp.fc2``."""
    renamed = {}
    for key, value in state.items():
        if key in DINOV2_UNUSED:
            continue
        for meta, timm_name in DINOV2_SWIGLU.items():
            key = re.sub(rf"^(blocks\.\d+\.){re.escape(meta)}", rf"\g<1>{timm_name}", key)
        renamed[key] = value
    return renamed


def read_dinov2_weights(path: str, dinov2: nn.Module, option: str = "dinov2_weights") -> StateDict:
    """The entries of ``dinov2`` (timm's DINOv2) from Meta's ``dinov2_vit*14_pretrain.pth``; refuses another kind
    or size of file naming it (:func:`~integrations.foundation.weight_files.read_model_file`) and logs the file's
    entries the network does not use."""
    state = read_model_file(path, option, built=dinov2, hint=HINT)
    unused = [key for key in DINOV2_UNUSED if key in state]
    if unused:
        logger.info("%s: %s left out (DINOv2's masked-image training token; timm's network has none)",
                    path, ", ".join(unused))
    return meta_dinov2_to_timm(state)


def read_sam_weights(path: str, sam: nn.Module, option: str = "sam_weights") -> StateDict:
    """The entries of ``sam`` (segment-anything's ``Sam``) from Meta's ``sam_vit_*.pth``, as published; refuses
    another kind or size of file naming it (:func:`~integrations.foundation.weight_files.read_model_file`)."""
    return read_model_file(path, option, built=sam, hint=HINT)
