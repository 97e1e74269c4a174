"""Naming what a weight file holds (SAM 3, SAM2, SAM, DINOv2, SANSA's adapters), and the one check of a foundation
model's file against the slot it is given for (:func:`read_model_file`), so a file given for the wrong slot is refused
with what it is. Recognised by the key layouts and shapes of Meta's releases and SANSA's adapter files."""
from __future__ import annotations

from functools import partial
from typing import Dict, Optional

import torch
from torch import nn

from crc_modules.checkpoint import load_weights_only, state_dict_in

# Hiera trunk (embed dim, blocks) -> SAM2 size; the sam2 package's configs/sam2/sam2_hiera_{t,s,b+,l}.yaml
SAM2_TRUNKS = {(96, 12): "tiny", (96, 16): "small", (112, 24): "base_plus", (144, 48): "large"}
SAM2_SIZE_NAMES = {"tiny": "Hiera-T", "small": "Hiera-S", "base_plus": "Hiera-B+", "large": "Hiera-L"}
SAM_NAMES = {768: "ViT-B", 1024: "ViT-L", 1280: "ViT-H"}  # image-encoder width -> SAM (v1) size
SAM3_PATCH_KEY = "detector.backbone.vision_backbone.trunk.patch_embed.proj.weight"  # Meta's sam3.pt
SAM3_BLOCKS, SAM3_RELEASE = "detector.backbone.vision_backbone.trunk.blocks.", (1024, 32)  # its ViT: width, blocks
DINOV2_NAMES = {384: "ViT-S/14", 768: "ViT-B/14", 1024: "ViT-L/14", 1536: "ViT-g/14"}


BLOCK_PREFIXES = ("image_encoder.trunk.blocks.", "image_encoder.blocks.", "blocks.")  # SAM2, SAM, DINOv2


def _blocks(state: Dict[str, torch.Tensor], prefix: str) -> int:
    """How many ``prefix{N}.`` blocks the keys hold."""
    return len({key[len(prefix):].split(".", 1)[0] for key in state if key.startswith(prefix)})


def sam2_size_of(state: Dict[str, torch.Tensor]) -> Optional[str]:
    """'tiny' | 'small' | 'base_plus' | 'large' for a SAM2 state dict in Meta's key layout, else None."""
    patch = state.get("image_encoder.trunk.patch_embed.proj.weight")
    if patch is None:
        return None
    return SAM2_TRUNKS.get((patch.shape[0], _blocks(state, "image_encoder.trunk.blocks.")))


def describe_weights(state: Dict[str, torch.Tensor]) -> str:
    """What a state dict is: 'SAM 3', 'SAM2 Hiera-L', 'SAM2.1 Hiera-T', 'SAM ViT-H', 'DINOv2 ViT-L/14', 'SANSA adapters
    (...)', or 'an unrecognised file of N tensors (first keys ...)'. Sizes outside Meta's releases are named by
    their width."""
    keys = list(state)
    sam3_patch = state.get(SAM3_PATCH_KEY)
    if sam3_patch is not None:
        blocks = _blocks(state, SAM3_BLOCKS)
        return "SAM 3" if (sam3_patch.shape[0], blocks) == SAM3_RELEASE else (
            f"SAM 3 of no released size (ViT width {sam3_patch.shape[0]}, {blocks} blocks)")
    if keys and all(".adapter." in key for key in keys):
        return f"SANSA adapters ({len(keys)} tensors, e.g. {keys[0]})"
    trunk = state.get("image_encoder.trunk.patch_embed.proj.weight")
    if trunk is not None:
        version = "SAM2.1" if "no_obj_embed_spatial" in state else "SAM2"
        size = sam2_size_of(state)
        blocks = _blocks(state, "image_encoder.trunk.blocks.")
        return f"{version} {SAM2_SIZE_NAMES[size]}" if size else (
            f"{version} of no released size (Hiera width {trunk.shape[0]}, {blocks} blocks)")
    sam_patch = state.get("image_encoder.patch_embed.proj.weight")
    if sam_patch is not None and any(key.startswith("mask_decoder.") for key in keys):
        return f"SAM {SAM_NAMES.get(sam_patch.shape[0], f'of no released size (ViT width {sam_patch.shape[0]})')}"
    patch = state.get("patch_embed.proj.weight")
    if patch is not None and "cls_token" in state and tuple(patch.shape[-2:]) == (14, 14):
        return f"DINOv2 {DINOV2_NAMES.get(patch.shape[0], f'of no released size (ViT width {patch.shape[0]})')}"
    return f"an unrecognised file of {len(keys)} tensors (first keys {', '.join(keys[:3])})"


def what_file(state: Dict[str, torch.Tensor]) -> str:
    """:func:`describe_weights` with the ViT's block count where the name does not say it: 'SAM ViT-H (32 blocks)',
    'DINOv2 ViT-L/14 (24 blocks)', 'SAM2 Hiera-L'."""
    name = describe_weights(state)
    blocks = next((count for count in map(partial(_blocks, state), BLOCK_PREFIXES) if count), 0)
    return f"{name} ({blocks} blocks)" if blocks and "blocks" not in name and not name.startswith("SAM2") else name


def read_model_file(path: str, option: str, built: Optional[nn.Module] = None, kind: Optional[str] = None,
                    hint: str = "", expected: Optional[str] = None) -> Dict[str, torch.Tensor]:
    """Meta's released file at ``path`` (a state dict, bare or under ``model``), read weights-only and checked against
    the slot it is given for: the model ``built`` (the same kind, size and version, :func:`what_file`), or any
    released model of ``kind`` ('SAM2', its versions too) where the file itself says which model to build. A model
    whose file names its entries otherwise than its module gives what the file must hold as ``expected``.

    Raises:
        ValueError: the file holds another kind, size or version of model; the message names the file, its run
            option, what it holds and what the slot takes (``hint`` says what to do).
    """
    state = state_dict_in(load_weights_only(path), path, strip_prefixes=())
    found = what_file(state)
    if built is not None or expected is not None:
        expected = expected or what_file(built.state_dict())
        if found != expected:
            raise ValueError(f"{path} (given as {option}) holds {found}, but the config builds {expected}{hint}")
    elif kind is not None and (not (found == kind or found.startswith((f"{kind} ", f"{kind}.")))
                               or "no released size" in found):
        raise ValueError(f"{path} (given as {option}) is not a released {kind} model: it holds {found}")
    return state
