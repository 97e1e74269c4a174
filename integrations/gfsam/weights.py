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
from functools import partial
from typing import Dict

import torch
from torch import nn

from crc_modules.checkpoint import load_weights_only, state_dict_in
from integrations.foundation.weight_files import describe_weights

logger = logging.getLogger(__name__)
StateDict = Dict[str, torch.Tensor]
DINOV2_UNUSED = ("mask_token",)  # Meta's DINOv2 entries timm's network does not build (masked-image training only)
BLOCK_PREFIXES = ("image_encoder.trunk.blocks.", "image_encoder.blocks.", "blocks.")  # SAM2, SAM, DINOv2
DINOV2_SWIGLU = {"mlp.w12.": "mlp.fc1.", "mlp.w3.": "mlp.fc2."}  # Meta's ViT-g MLP -> timm's SwiGLUPacked


def block_count(state: StateDict, prefix: str) -> int:
    """How many ``prefix{N}.`` blocks the entries hold."""
    return len({key[len(prefix):].split(".", 1)[0] for key in state if key.startswith(prefix)})


def what_file(state: StateDict) -> str:
    """:func:`~integrations.foundation.weight_files.describe_weights` with the ViT's block count: 'SAM ViT-H (32
    blocks)', 'DINOv2 ViT-L/14 (24 blocks)'."""
    blocks = next((count for count in map(partial(block_count, state), BLOCK_PREFIXES) if count), 0)
    return f"{describe_weights(state)} ({blocks} blocks)" if blocks else describe_weights(state)


def read_weight_file(path: str) -> StateDict:
    """The state dict in ``path``, read weights-only (a bare state dict, as Meta publishes them)."""
    return state_dict_in(load_weights_only(path), path, strip_prefixes=())


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


def _refuse_other_weights(path: str, option: str, state: StateDict, module: nn.Module, kind: str,
                          width_key: str, blocks_prefix: str) -> None:
    """Raise naming the file and what it is when ``state`` is not ``kind`` weights of the module's width and depth."""
    expected = module.state_dict()
    built, found = what_file(expected), what_file(state)
    if width_key not in state:
        raise ValueError(f"{path} (given as {option}) is {found}, not {kind} weights: the config's model takes "
                         f"{built} here")
    if (state[width_key].shape[0], block_count(state, blocks_prefix)) != (
            expected[width_key].shape[0], block_count(expected, blocks_prefix)):
        raise ValueError(f"{path} (given as {option}) is {found}, but the config builds {built}: give the file of "
                         f"that size, or change the config's model to the file's")


def read_dinov2_weights(path: str, dinov2: nn.Module, option: str = "dinov2_weights") -> StateDict:
    """The entries of ``dinov2`` (timm's DINOv2) from Meta's ``dinov2_vit*14_pretrain.pth``; refuses another kind
    or size of file naming it (:func:`what_file`) and logs the file's entries the network does not use."""
    state = read_weight_file(path)
    _refuse_other_weights(path, option, state, dinov2, "DINOv2", "patch_embed.proj.weight", "blocks.")
    unused = [key for key in DINOV2_UNUSED if key in state]
    if unused:
        logger.info("%s: %s left out (DINOv2's masked-image training token; timm's network has none)",
                    path, ", ".join(unused))
    return meta_dinov2_to_timm(state)


def read_sam_weights(path: str, sam: nn.Module, option: str = "sam_weights") -> StateDict:
    """The entries of ``sam`` (segment-anything's ``Sam``) from Meta's ``sam_vit_*.pth``, as published; refuses
    another kind or size of file naming it (:func:`what_file`)."""
    state = read_weight_file(path)
    _refuse_other_weights(path, option, state, sam, "SAM", "image_encoder.patch_embed.proj.weight",
                          "image_encoder.blocks.")
    return state
