"""SAM 3's image model from Meta's ``sam3`` package (``build_sam3_image_model``), built with nothing downloaded, run on
a CPU as well, and Meta's ``sam3.pt`` read for it.

Three facts of ``sam3`` 0.1.4 handled here without changing the package:

- Its wheel lacks the BPE vocabulary its text encoder's tokenizer reads (``bpe_simple_vocab_16e6.txt.gz``, CLIP's).
  MMSegmentation ships the same file (``mmseg/utils/``); it is used after its SHA-256 is checked.
- Two places create tensors with ``device="cuda"`` (the position encoding's cache and the decoder's coordinates, both
  at build time) and the geometry encoder calls ``pin_memory()`` on each box forward, so the package does not run
  on a machine without CUDA as published. :class:`~integrations.foundation.meta_device.CudaToDefaultDevice` (a
  ``TorchFunctionMode``, shared with FSSAM's reference run) sends those tensors to the default device and makes
  ``pin_memory`` a no-op where there is no CUDA; it is active while the model is built and around the calls that
  prompt boxes. The two build-time caches are dropped when the model
  moves (:func:`drop_device_caches`): the package refills them on the device of its inputs.
- ``build_sam3_image_model(load_from_HF=True)`` downloads ``sam3.pt``; it is always called with
  ``load_from_HF=False`` and no checkpoint, and Meta's file is read by :func:`read_sam3_weights`.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from functools import partial
from typing import Dict, Iterator, Optional

import torch
from mmengine.logging import print_log
from torch import nn

from integrations.foundation.meta_device import LinspaceOnTheCPU, on_this_machine
from integrations.foundation.weight_files import read_model_file, what_file

BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"
BPE_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"  # CLIP's vocabulary, as SAM 3 ships it
DETECTOR, TRACKER = "detector.", "tracker."  # Meta's sam3.pt: the image model's tensors and the video tracker's


def bpe_vocabulary() -> str:
    """The path of CLIP's BPE vocabulary that SAM 3's tokenizer reads: the package's own file when it has one, else
    MMSegmentation's copy, checked by its SHA-256.

    Raises:
        FileNotFoundError: neither has the file, or MMSegmentation's is not the expected one.
    """
    import sam3

    packaged = os.path.join(os.path.dirname(sam3.__file__), "..", "assets", BPE_FILE)
    if os.path.isfile(packaged):
        return packaged
    import mmseg

    copy = os.path.join(os.path.dirname(mmseg.__file__), "utils", BPE_FILE)
    if not os.path.isfile(copy):
        raise FileNotFoundError(f"SAM 3's tokenizer needs {BPE_FILE}, which neither the sam3 package nor mmseg "
                                f"({copy}) has: pip install -e '.[mmseg,foundation]'")
    with open(copy, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    if digest != BPE_SHA256:
        raise FileNotFoundError(f"{copy} is not CLIP's BPE vocabulary that SAM 3 reads (SHA-256 {digest}, expected "
                                f"{BPE_SHA256})")
    return copy


@contextlib.contextmanager
def overridden_arguments(**overrides: Dict[str, object]) -> Iterator[None]:
    """While a model is built, the classes ``sam3.model_builder`` builds its parts from (``ViT``, ``VETextEncoder``,
    ...) take these keyword arguments over the builder's own: tests build tiny SAM 3 variants of the package's own
    modules through its own builder this way (``overridden_arguments(ViT=dict(depth=2))``)."""
    import sam3.model_builder as builder

    previous = {name: getattr(builder, name) for name in overrides}
    try:
        for name, arguments in overrides.items():
            setattr(builder, name, partial(_with_overrides, previous[name], dict(arguments)))
        yield
    finally:
        for name, original in previous.items():
            setattr(builder, name, original)


def _with_overrides(cls, overrides: dict, *args, **kwargs):
    return cls(*args, **{**kwargs, **overrides})


def build_sam3(overrides: Optional[Dict[str, dict]] = None) -> nn.Module:
    """SAM 3's image model (``sam3.model.sam3_image.Sam3Image``) with un-set weights, on the default device, in eval
    mode, every weight frozen; ``overrides`` change its parts' arguments (:func:`overridden_arguments`)."""
    from sam3.model_builder import build_sam3_image_model

    with overridden_arguments(**(overrides or {})), on_this_machine(), LinspaceOnTheCPU():
        model = build_sam3_image_model(bpe_path=bpe_vocabulary(), device=str(torch.get_default_device()),
                                       eval_mode=True, checkpoint_path=None, load_from_HF=False,
                                       enable_segmentation=True, enable_inst_interactivity=False)
    return model.requires_grad_(False)


def drop_device_caches(model: nn.Module) -> None:
    """Forget the tensors the package caches outside parameters and buffers (the position encodings' and the
    decoder's coordinates), which do not follow ``model.to(device)``; the package recomputes them on use."""
    for module in model.modules():
        if isinstance(getattr(module, "cache", None), dict):
            module.cache.clear()
        if hasattr(module, "compilable_cord_cache"):
            module.compilable_cord_cache, module.compilable_stored_size = None, None
            module.coord_cache = {}


def read_sam3_weights(path: str, sam3: nn.Module, option: str = "sam3_weights") -> Dict[str, torch.Tensor]:
    """The image model's entries of Meta's ``sam3.pt`` (``detector.*``, flat or under ``model``, as Meta's loader
    takes it), read weights-only; the video tracker's entries (``tracker.*``) are left out and counted in the log.

    Raises:
        ValueError: the file is no SAM 3 file (SAM2, SAM, DINOv2, a SANSA adapter...) or of another size than the
            model; the message says what it holds.
    """
    built = what_file({DETECTOR + key: value for key, value in sam3.state_dict().items()})
    state = read_model_file(path, option, expected=built, hint=": give Meta's sam3.pt (or a file of the config's "
                                                                "SAM 3)")
    tracker = sum(key.startswith(TRACKER) for key in state)
    if tracker:
        print_log(f"{path}: {tracker} tracker tensors (SAM 3's video model) left out; the image model reads "
                  f"{sum(key.startswith(DETECTOR) for key in state)} detector tensors", logger="current",
                  level=logging.INFO)
    return {key[len(DETECTOR):]: value for key, value in state.items() if key.startswith(DETECTOR)}


EMPTY_PARAMETERS = ("positional_embedding", "text_projection")  # the text encoder's, made by torch.empty


def initialise_unset_tensors(model: nn.Module, generator: Optional[torch.Generator] = None) -> None:
    """Give random values to the parameters a random-weight build leaves uninitialised (``torch.empty``: the text
    encoder's ``positional_embedding`` and ``text_projection``, whatever the memory held: NaN, or huge numbers), so a
    model with no file runs the same each time (tests, benchmarks): CLIP's initialisation (normal, std 0.01 and
    ``width ** -0.5``). Buffers are left alone (the text encoder's causal mask holds -inf on purpose)."""
    with torch.no_grad():
        for module in model.modules():
            for name in EMPTY_PARAMETERS:
                parameter = getattr(module, name, None)
                if isinstance(parameter, nn.Parameter) and parameter.device.type != "meta":
                    std = 0.01 if name == "positional_embedding" else parameter.shape[0] ** -0.5
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)
