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
from torch.overrides import TorchFunctionMode

from crc_modules.checkpoint import load_weights_only, state_dict_in

SANSA_SAM2_OVERRIDES = (
    "++model.pred_obj_scores=false",
    "++model.pred_obj_scores_mlp=false",
    "++model.fixed_no_obj_ptr=false",
)
# Meta's file entries of the object-score head (pred_obj_scores, pred_obj_scores_mlp, fixed_no_obj_ptr)
OBJECT_SCORE_KEYS = ("no_obj_ptr", "sam_mask_decoder.obj_score_token.", "sam_mask_decoder.pred_obj_score_head.")
SAM2_CONFIGS = {"tiny": "configs/sam2/sam2_hiera_t.yaml", "small": "configs/sam2/sam2_hiera_s.yaml",
                "base_plus": "configs/sam2/sam2_hiera_b+.yaml", "large": "configs/sam2/sam2_hiera_l.yaml"}
TRUNK_PATCH_KEY = "image_encoder.trunk.patch_embed.proj.weight"
# Hiera trunk (first width, blocks) -> size, and the sizes' names (configs/sam2/sam2_hiera_{t,s,b+,l}.yaml)
SAM2_TRUNKS = {(96, 12): "tiny", (96, 16): "small", (112, 24): "base_plus", (144, 48): "large"}
SAM2_SIZE_NAMES = {"tiny": "Hiera-T", "small": "Hiera-S", "base_plus": "Hiera-B+", "large": "Hiera-L"}


class _LinspaceOnTheCPU(TorchFunctionMode):
    """Hiera reads its drop-path rates with ``torch.linspace(...).item()``, which a meta tensor refuses: built under
    ``with torch.device('meta')`` (the meta-device test), that one linspace is computed on the CPU."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func is torch.linspace and kwargs.get("device") is None:
            kwargs["device"] = "cpu"
        return func(*args, **kwargs)


def _build_sam2_model(size: str, hydra_overrides: Sequence[str] = ()) -> nn.Module:
    """An un-weighted ``SAM2Base`` of a released size through the package's own builder, without its post-processing
    overrides, on the default device (the CPU, or meta under ``with torch.device('meta')``).
    (Stands in for ``integrations.foundation.sam2_models.build_sam2_model`` until that lands.)"""
    from sam2.build_sam import build_sam2  # the sam2 package is imported only where SAM2 is built

    if size not in SAM2_CONFIGS:
        raise ValueError(f"SAM2 size must be one of {tuple(SAM2_CONFIGS)}, got {size!r}")
    with _LinspaceOnTheCPU():
        return build_sam2(SAM2_CONFIGS[size], ckpt_path=None, device=torch.empty(0).device, mode="eval",
                          hydra_overrides_extra=list(hydra_overrides), apply_postprocessing=False)


def build_sansa_sam2(size: str, hydra_overrides: Sequence[str] = ()) -> nn.Module:
    """SAM2 as SANSA builds it: the package's config of ``size`` with the object-score head off, every weight frozen.

    ``hydra_overrides`` change the package's config further (tests build tiny variants with them).
    """
    sam = _build_sam2_model(size, (*SANSA_SAM2_OVERRIDES, *hydra_overrides))
    return sam.requires_grad_(False)


def trunk_geometry(state: Dict[str, torch.Tensor]) -> tuple:
    """(Hiera's first width, its number of blocks) of a SAM2 state dict, or None when it has no Hiera trunk."""
    patch = state.get(TRUNK_PATCH_KEY)
    if patch is None:
        return None
    blocks = {key.split(".")[3] for key in state if key.startswith("image_encoder.trunk.blocks.")}
    return patch.shape[0], len(blocks)


def describe_geometry(geometry: tuple) -> str:
    """'SAM2 Hiera-L (width 144, 48 blocks)', or 'SAM2 of no released size (width 8, 5 blocks)'."""
    name = SAM2_SIZE_NAMES.get(SAM2_TRUNKS.get(geometry), "of no released size")
    return f"SAM2 {name} (Hiera width {geometry[0]}, {geometry[1]} blocks)"


def read_sam2_for_sansa(path: str, sam: nn.Module, size: str, option: str = "sam2_weights") -> Dict[str, torch.Tensor]:
    """The state dict of Meta's SAM2 file (``{'model': state_dict}``) for SANSA's ``sam``, read weights-only.

    The object-score head's entries (:data:`OBJECT_SCORE_KEYS`), which SANSA does not build, are dropped and named
    once in the log. Adapters are not in Meta's files; they come from the checkpoint.

    Raises:
        ValueError: the file holds no SAM2 (the message says what it holds), or a SAM2 of another size than the
            model's (both sizes named).
    """
    state = state_dict_in(load_weights_only(path), path)
    found, built = trunk_geometry(state), trunk_geometry(sam.state_dict())
    if found is None:
        raise ValueError(f"{path} (given as {option}) is not a SAM2 model: it has no {TRUNK_PATCH_KEY} "
                         f"({len(state)} tensors, first keys {', '.join(list(state)[:3])})")
    if found != built:
        raise ValueError(f"{path} (given as {option}) holds {describe_geometry(found)}, but the config builds "
                         f"{describe_geometry(built)} (sam2_size='{size}'): give that size's file, or set the config's "
                         f"sam2_size to the file's")
    dropped = [key for key in state if key.startswith(OBJECT_SCORE_KEYS)]
    if dropped:
        print_log(f"{path}: SANSA builds no object-score head; leaving out {len(dropped)} entries of the file: "
                  f"{', '.join(dropped)}", logger="current", level=logging.INFO)
    return {key: value for key, value in state.items() if key not in dropped}
