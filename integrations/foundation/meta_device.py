"""Building the foundation models on the meta device (the meta-device test): the packages' few data-dependent steps
at construction run on the CPU."""
from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode


class LinspaceOnTheCPU(TorchFunctionMode):
    """Hiera and SAM 3's ViT read their drop-path rates with ``torch.linspace(...).item()``, which a meta tensor
    refuses: built under ``with torch.device('meta')``, that one linspace is computed on the CPU."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func is torch.linspace and kwargs.get("device") is None:
            kwargs["device"] = "cpu"
        return func(*args, **kwargs)
