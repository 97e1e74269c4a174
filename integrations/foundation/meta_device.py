"""Device redirections for the foundation packages: their few data-dependent steps at construction run on the CPU
when a model is built on the meta device (the meta-device test), and their calls that assume CUDA run where the
tensors are on a machine without it."""
from __future__ import annotations

import contextlib

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


def _is_cuda(device) -> bool:
    """Whether ``device`` (any argument) names a CUDA device: ``torch.device('cuda...')``, ``'cuda'``, ``'cuda:N'``."""
    if isinstance(device, torch.device):
        return device.type == "cuda"
    return isinstance(device, str) and (device == "cuda" or device.startswith("cuda:"))


class CudaToDefaultDevice(TorchFunctionMode):
    """Where CUDA is not available: tensors asked for on ``"cuda"`` (a ``device=`` argument, or ``"cuda"`` given to
    ``.to``) go to the default device (the CPU, or the meta device while a model is built on it), and ``.cuda()``
    and ``.pin_memory()`` leave a tensor where it is (SAM 3's builder and box encoder; FSSAM's released code)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if torch.cuda.is_available():
            return func(*args, **kwargs)
        if func in (torch.Tensor.pin_memory, torch.Tensor.cuda):
            return args[0]
        if _is_cuda(kwargs.get("device")):
            kwargs["device"] = torch.get_default_device()
        args = tuple(torch.get_default_device() if isinstance(arg, str) and _is_cuda(arg) else arg for arg in args)
        return func(*args, **kwargs)


def on_this_machine() -> contextlib.AbstractContextManager:
    """:class:`CudaToDefaultDevice` where CUDA is not available; nothing where it is."""
    return contextlib.nullcontext() if torch.cuda.is_available() else CudaToDefaultDevice()
