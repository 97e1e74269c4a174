"""Mixed precision on the CPU for MMEngine's Runner (MMEngine's ``AmpOptimWrapper`` needs CUDA)."""
from __future__ import annotations

from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """bfloat16 autocast of the forward and loss on the CPU (``tools/train.py --amp``); bf16 needs no loss scaling.

    Fast only on CPUs with bf16 instructions (AMX / AVX512-BF16); elsewhere bf16 kernels are slower than fp32.
    """

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), torch.autocast("cpu", dtype=torch.bfloat16):
            yield
