"""Inference precision: fp32 (the reference), bf16 or fp16 autocast, and 'auto' that picks by hardware."""
from __future__ import annotations

import contextlib
import functools
from typing import ContextManager

import torch

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
FAST_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")  # without them bf16 kernels run far slower than fp32


@functools.lru_cache(maxsize=None)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has bf16 instructions (AMX or AVX512-BF16); read from /proc/cpuinfo (Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            flags = next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), [])
    except OSError:
        return False
    return any(flag in flags for flag in FAST_BF16_CPU_FLAGS)


def resolve_precision(precision: str, device: torch.device) -> str:
    """'fp32', 'bf16' or 'fp16' for ``device``; 'auto' is bf16 on CPUs with bf16 instructions and on
    CUDA devices that support it, fp16 on other CUDA devices, and fp32 on other CPUs."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


def autocast(precision: str, device: torch.device) -> ContextManager:
    """An autocast context for a resolved precision on ``device`` (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(torch.device(device).type, dtype=dtype)
