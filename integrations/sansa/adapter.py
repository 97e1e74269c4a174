"""SANSA's adapter (AdaptFormer, Chen et al. NeurIPS 2022) and its insertion into the blocks of SAM2's Hiera trunk.

SANSA (``models/sansa/adapter.py``, ``models/sam2/modeling/backbones/hieradet.py``) adds to each block of the
adapted stages a bottleneck branch beside the block's MLP::

    x = x + attention(norm1(x))                      # the block's attention residual, unchanged
    x = x + mlp(norm2(x)) + adapter(x)               # adapter(x) = 0.1 * up(relu(down(layer_norm(x))))

:func:`insert_adapters` adds an :class:`Adapter` as the block's ``adapter`` submodule (so state-dict keys are
SANSA's ``image_encoder.trunk.blocks.N.adapter.*``) and two hooks on the block's own ``norm2`` and ``mlp``, so
the ``sam2`` package's block runs unchanged: the input of ``norm2`` is the adapter's input, and the adapter's
output is added to the MLP's output.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import nn

from crc_modules.registry import MODELS

ADAPTER_STAGES = (2, 3)  # SANSA's --adaptformer_stages 2 3: Hiera's last two stages (0-based)
ADAPTER_RATIO = 0.3  # SANSA's --channel_factor (0.8 for the generalist adapter)
ADAPTER_SCALE = 0.1  # SANSA's Adapter(adapter_scalar=0.1)


@MODELS.register_module()
class Adapter(nn.Module):
    """AdaptFormer's bottleneck as SANSA builds it: ``scale * up(relu(down(layer_norm(x))))`` over the last axis.

    Initialisation as SANSA's: the down-projection Kaiming-uniform (``a=sqrt(5)``, PyTorch's Linear default) with a
    zero bias, the up-projection all zeros, so an inserted adapter starts as no change. The layer norm has
    PyTorch's default eps (1e-5), not Hiera's 1e-6.

    Args:
        width (int): Channels of the block's output, where the adapter reads and adds.
        bottleneck (int): Channels of the down-projection.
        scale (float): Factor of the output. Default: 0.1.
    """

    def __init__(self, width: int, bottleneck: int, scale: float = ADAPTER_SCALE):
        super().__init__()
        if bottleneck < 1:
            raise ValueError(f"adapter bottleneck must be at least 1 channel, got {bottleneck} (width {width})")
        self.scale = scale
        self.adapter_layer_norm_before = nn.LayerNorm(width)
        self.down_proj = nn.Linear(width, bottleneck)
        self.non_linear_func = nn.ReLU()
        self.up_proj = nn.Linear(bottleneck, width)
        with torch.no_grad():
            nn.init.kaiming_uniform_(self.down_proj.weight, a=math.sqrt(5))
            nn.init.zeros_(self.down_proj.bias)
            nn.init.zeros_(self.up_proj.weight)
            nn.init.zeros_(self.up_proj.bias)
        self._block_input: Optional[torch.Tensor] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., width) -> (..., width)."""
        return self.up_proj(self.non_linear_func(self.down_proj(self.adapter_layer_norm_before(x)))) * self.scale

    def remember_block_input(self, norm: nn.Module, args: Tuple[torch.Tensor]) -> None:
        """Forward pre-hook of the block's ``norm2``: its input is the residual stream the adapter reads."""
        self._block_input = args[0]

    def add_to_mlp_output(self, mlp: nn.Module, args: Tuple[torch.Tensor], output: torch.Tensor) -> torch.Tensor:
        """Forward hook of the block's ``mlp``: its output plus the adapter's output of the remembered input."""
        block_input, self._block_input = self._block_input, None
        if block_input is None:
            raise RuntimeError("the adapter's block ran its mlp without its norm2: the block is not Hiera's")
        return output + self(block_input)


def block_stages(trunk: nn.Module) -> Tuple[int, ...]:
    """The 0-based stage of each block of a Hiera trunk, from its ``stage_ends`` (as SANSA's Hiera counts them)."""
    return tuple(sum(end < index for end in trunk.stage_ends) for index in range(len(trunk.blocks)))


def adapter_bottleneck(block: nn.Module, ratio: float) -> int:
    """``int(ratio * block.dim)``: SANSA sizes the bottleneck from the block's *input* width (``dim``), so the first
    block of a stage, which doubles the width, gets ``ratio`` times the previous stage's width."""
    return int(block.dim * ratio)


def insert_adapters(trunk: nn.Module, stages: Sequence[int] = ADAPTER_STAGES, ratio: float = ADAPTER_RATIO,
                    scale: float = ADAPTER_SCALE) -> Dict[int, Adapter]:
    """Insert an :class:`Adapter` beside the MLP of every block of ``stages`` of a ``sam2`` Hiera trunk, in place.

    Args:
        trunk: ``sam2.modeling.backbones.hieradet.Hiera`` (``sam.image_encoder.trunk``).
        stages: 0-based Hiera stages to adapt (SANSA's ``--adaptformer_stages``). Default: (2, 3).
        ratio: Bottleneck width over the block's input width (SANSA's ``--channel_factor``). Default: 0.3.
        scale: Factor of the adapter's output. Default: 0.1.

    Returns:
        Block index -> its adapter.

    Raises:
        ValueError: a stage the trunk does not have, a block that already has an adapter, or a block with
            stochastic depth (SANSA adds the adapter outside the MLP's drop-path; every SAM2 config has none).
    """
    per_block = block_stages(trunk)
    unknown = sorted(set(stages) - set(per_block))
    if unknown:
        raise ValueError(f"adapter stages {unknown} are not stages of this Hiera trunk (0..{max(per_block)})")
    adapters = {}
    for index, (block, stage) in enumerate(zip(trunk.blocks, per_block)):
        if stage not in stages:
            continue
        if hasattr(block, "adapter"):
            raise ValueError(f"Hiera block {index} already has an adapter")
        if not isinstance(block.drop_path, nn.Identity):
            raise ValueError(f"Hiera block {index} has stochastic depth (drop_path_rate > 0): SANSA adds its adapter "
                             f"outside it, which these hooks cannot; build the trunk with drop_path_rate=0")
        adapter = Adapter(block.dim_out, adapter_bottleneck(block, ratio), scale)
        block.add_module("adapter", adapter)
        block.norm2.register_forward_pre_hook(adapter.remember_block_input)
        block.mlp.register_forward_hook(adapter.add_to_mlp_output)
        adapters[index] = adapter
    return adapters
