"""Reading weight files: weights-only loading, the state dict inside a checkpoint, and checking its keys.

Every file is read with ``torch.load(weights_only=True)``: tensors, numbers, strings and containers, plus
the types a caller allows by name. A file that needs anything else (an object whose unpickling could run
code) is refused with :class:`UnsafeCheckpointError`, which names the file and the types.
"""
from __future__ import annotations

import logging
import os
import pickle
import pickletools
import re
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import torch
import torchvision
from torch import nn

logger = logging.getLogger(__name__)

StateDict = Dict[str, torch.Tensor]
TORCHVISION_PREFIX = "torchvision://"
CHECKPOINT_CONTAINERS = ("state_dict", "model")  # where checkpoints keep their weights


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint whose pickle holds types outside the allow-list: loading it fully could run code."""


WEIGHTS_ONLY_REFUSALS = ("WeightsUnpickler error", "Weights only load failed")  # torch's wordings across versions


def _refusal_reason(path: str, error: pickle.UnpicklingError) -> str:
    """What a weights-only load of ``path`` refused: the globals outside the allow-list, an opcode it cannot
    read (old pickle protocols), else torch's reason."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except (ValueError, RuntimeError, pickle.UnpicklingError):  # legacy or unreadable files keep torch's reason
        names = []
    if names:
        return "the types " + ", ".join(sorted(names)) + " (unsafe: unpickling them could run code from the file)"
    reason = str(error).split("WeightsUnpickler error:")[-1]
    named = re.search(r"GLOBAL ([\w.]+)", reason)
    if named:
        return f"the type {named.group(1)} (unsafe: unpickling it could run code from the file)"
    opcode = re.search(r"Unsupported operand (\d+)", reason)
    if opcode:
        name = getattr(pickletools.code2op.get(chr(int(opcode.group(1)))), "name", "unknown")
        return (f"the pickle opcode {name} ({opcode.group(1)}), which a weights-only load cannot read (written with "
                f"pickle protocol 0 or 1, or a plain pickle rather than torch.save), so whether it would run code "
                f"cannot be checked")
    return next((line.strip() for line in reason.splitlines() if line.strip()), type(error).__name__)


def load_weights_only(path: str, map_location="cpu", safe_globals: Sequence = ()) -> object:
    """``torch.load(path, weights_only=True)`` with ``safe_globals`` allowed; never runs code from the file.

    Args:
        path (str): A local file.
        map_location: As for :func:`torch.load`.
        safe_globals (Sequence): Extra allowed globals: classes/functions, or ``(object, "module.name")`` pairs.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        UnsafeCheckpointError: the file's pickle needs a type outside the allow-list; the message names it.
        ValueError: the file is not a torch checkpoint.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    with torch.serialization.safe_globals(list(safe_globals)):
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as err:
            if not any(refusal in str(err) for refusal in WEIGHTS_ONLY_REFUSALS):
                raise ValueError(f"{path} is not a readable torch checkpoint: {err}") from err
            reason = _refusal_reason(path, err)
        except (RuntimeError, KeyError, EOFError) as err:  # what torch raises for files it cannot parse
            raise ValueError(f"{path} is not a readable torch checkpoint: {err!r}") from err
    raise UnsafeCheckpointError(
        f"refused to load {path}: a weights-only load stopped at {reason}. Use a checkpoint saved by this "
        f"project's tools, or re-save the weights alone (a dict of tensors)."
    )


def non_finite_tensors(state: Mapping[str, object]) -> List[str]:
    """Names of the floating-point (or complex) tensors of ``state`` that hold a NaN or an infinity, in order.

    A diverged training run leaves such weights; exporting, testing or inferring with them gives empty or
    random masks with normal-looking scores, so the tools refuse them naming these entries.
    """
    return [key for key, value in state.items()
            if isinstance(value, torch.Tensor) and (value.is_floating_point() or value.is_complex())
            and not bool(torch.isfinite(value).all())]


def resolve_weights_source(source: str) -> str:
    """Map ``torchvision://resnet50`` to the URL of torchvision's ImageNet weights; other sources unchanged."""
    if not source.startswith(TORCHVISION_PREFIX):
        return source
    name = source[len(TORCHVISION_PREFIX):]
    try:
        return torchvision.models.get_model_weights(name).DEFAULT.url
    except (ValueError, KeyError) as err:
        raise ValueError(f"unknown torchvision model in {source!r}") from err


def download_to_cache(url: str) -> str:
    """The local copy of ``url`` in torch's hub cache, downloaded once; a clear error when it cannot be fetched."""
    folder = os.path.join(torch.hub.get_dir(), "checkpoints")
    path = os.path.join(folder, os.path.basename(url))
    if not os.path.isfile(path):
        os.makedirs(folder, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, path, progress=False)
        except OSError as err:  # URLError and socket errors are OSErrors
            raise FileNotFoundError(f"could not download {url}: {err}. Download it on a machine with network "
                                    f"access and put it at {path}, or use a local file.") from err
    return path


def state_dict_in(checkpoint: object, source: str, strip_prefixes: Sequence[str] = ("module.",)) -> StateDict:
    """The weights a loaded checkpoint holds, with leading ``strip_prefixes`` removed from each key, in order.

    Accepts a bare state dict or one under ``state_dict`` / ``model`` (MMEngine's and this project's files,
    PFENet's ``{'epoch', 'state_dict', 'optimizer'}``); ``module.`` is DataParallel's prefix.

    Raises:
        ValueError: ``checkpoint`` holds no dict of weights; the message names ``source``.
    """
    for container in CHECKPOINT_CONTAINERS:
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(container), dict):
            checkpoint = checkpoint[container]
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{source} holds a {type(checkpoint).__name__}, not a state dict")
    state = {}
    for key, value in checkpoint.items():
        for prefix in strip_prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
        state[key] = value
    return state


def key_mismatch(module: nn.Module, state: StateDict, optional: Callable[[str], bool] = lambda key: False):
    """(missing, unexpected): sorted keys of ``module`` that ``state`` lacks (unless ``optional``), and the reverse."""
    expected = set(module.state_dict())
    missing = sorted(key for key in expected - set(state) if not optional(key))
    return missing, sorted(set(state) - expected)


def describe_key_mismatch(missing: Sequence[str], unexpected: Sequence[str], target: str = "the model") -> str:
    """'2 weights missing from the file (a, b); 4 weights the model does not have (c, d, e, ...)'."""
    return "; ".join(f"{len(keys)} {what} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})"
                     for what, keys in (("weights missing from the file", missing),
                                        (f"weights {target} does not have", unexpected)) if keys)


def read_state_dict(source: str, strip_prefixes: Sequence[str] = ("module.", "backbone.")) -> StateDict:
    """A state dict from a file path, a URL or ``torchvision://NAME``, read weights-only (:func:`state_dict_in`).

    By default ``module.`` and ``backbone.`` prefixes are stripped (DataParallel and mmseg backbone files).
    """
    url = resolve_weights_source(source)
    path = download_to_cache(url) if "://" in url else url
    return state_dict_in(load_weights_only(path), source, strip_prefixes)


def load_backbone_weights(backbone: nn.Module, source: str,
                          rename: Optional[Callable[[StateDict], StateDict]] = None, hint: str = "") -> None:
    """Load pretrained weights into ``backbone``; every backbone parameter must be covered.

    Args:
        backbone (nn.Module): The module to fill.
        source (str): A file, a URL or ``torchvision://NAME``.
        rename (callable, optional): Maps the file's keys to the backbone's (e.g. a deep stem's ``conv1`` ->
            ``layer0.0``).
        hint (str): How to obtain the file when it is missing; added to the error.

    Raises:
        FileNotFoundError: the file is missing or cannot be downloaded.
        ValueError: the file leaves backbone parameters or buffers unset (``num_batches_tracked`` may be
            missing); entries the backbone lacks (a classifier) are only logged.
    """
    try:
        state = read_state_dict(source)
    except FileNotFoundError as err:
        advice = (f"pretrained weights unavailable ({err}).", hint, "Or set `pretrained=None` to train from scratch.")
        raise FileNotFoundError(" ".join(part for part in advice if part)) from err
    if rename is not None:
        state = rename(state)
    missing, unexpected = key_mismatch(backbone, state, optional=lambda key: key.endswith("num_batches_tracked"))
    if missing:
        raise ValueError(f"backbone weights {source} do not cover the backbone: "
                         f"{describe_key_mismatch(missing, [])}")
    if unexpected:
        logger.info("backbone weights %s: %d unused entries, e.g. %s", source, len(unexpected), unexpected[:5])
    backbone.load_state_dict(state, strict=False)
