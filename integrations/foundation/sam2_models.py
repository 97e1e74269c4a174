"""SAM2 from Meta's ``sam2`` package: the released sizes built through the package's own Hydra configs, and
the version of Meta's released files (``sam2_hiera_{tiny,small,base_plus,large}.pt``, ``{'model': state_dict}``).

The 2024-07 models (``configs/sam2/``) are the ones SANSA's adapters were trained on; the 2.1 models
(``configs/sam2.1/``, files with ``no_obj_embed_spatial``) serve the prompt step as well.
"""
from __future__ import annotations

from typing import Dict, Sequence

import torch

SAM2_CONFIGS = {
    "2": {"tiny": "configs/sam2/sam2_hiera_t.yaml", "small": "configs/sam2/sam2_hiera_s.yaml",
          "base_plus": "configs/sam2/sam2_hiera_b+.yaml", "large": "configs/sam2/sam2_hiera_l.yaml"},
    "2.1": {"tiny": "configs/sam2.1/sam2.1_hiera_t.yaml", "small": "configs/sam2.1/sam2.1_hiera_s.yaml",
            "base_plus": "configs/sam2.1/sam2.1_hiera_b+.yaml", "large": "configs/sam2.1/sam2.1_hiera_l.yaml"},
}
SAM2_SIZES = tuple(SAM2_CONFIGS["2"])


def check_sam2_size(size: str) -> str:
    if size not in SAM2_SIZES:
        raise ValueError(f"SAM2 size must be one of {SAM2_SIZES}, got {size!r}")
    return size


def build_sam2_model(size: str, version: str = "2", hydra_overrides: Sequence[str] = (), **kwargs):
    """An un-weighted ``sam2.modeling.sam2_base.SAM2Base`` of a released size, on the CPU in eval mode.

    ``hydra_overrides`` change the package's config (tests build tiny variants with them); ``kwargs`` go to
    ``sam2.build_sam.build_sam2`` (e.g. ``apply_postprocessing``).
    """
    from sam2.build_sam import build_sam2  # the sam2 package is imported only where SAM2 is built

    if version not in SAM2_CONFIGS:
        raise ValueError(f"SAM2 version must be one of {tuple(SAM2_CONFIGS)}, got {version!r}")
    return build_sam2(SAM2_CONFIGS[version][check_sam2_size(size)], ckpt_path=None,
                      device=torch.get_default_device(), mode="eval", hydra_overrides_extra=list(hydra_overrides),
                      **kwargs)


def sam2_version_of(state: Dict[str, torch.Tensor]) -> str:
    """'2.1' for a SAM 2.1 state dict (it has ``no_obj_embed_spatial``), else '2'."""
    return "2.1" if "no_obj_embed_spatial" in state else "2"


def sequence_first(feature_map: torch.Tensor) -> torch.Tensor:
    """(N, C, h, w) -> (h*w, N, C), the layout of SAM2's memory attention and memory encoder inputs."""
    return feature_map.flatten(2).permute(2, 0, 1)
