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
import zipfile
from typing import Callable, Dict, Optional, Sequence

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
        ValueError: the file is corrupt (a damaged or cut-short archive) or is not a torch checkpoint.
    """
    require_weight_file(path)
    with torch.serialization.safe_globals(list(safe_globals)):
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except Exception as err:  # a damaged file makes torch raise almost any type
            damage = archive_damage(path)
            if damage:
                raise ValueError(f"{path} is corrupt: {damage}. Copy or download it again.") from err
            if not (isinstance(err, pickle.UnpicklingError) and any(refusal in str(err)
                                                                    for refusal in WEIGHTS_ONLY_REFUSALS)):
                raise ValueError(f"{path} is not a readable torch checkpoint: {err!r}") from err
            reason = _refusal_reason(path, err)
    raise UnsafeCheckpointError(
        f"refused to load {path}: a weights-only load stopped at {reason}. Use a checkpoint saved by this "
        f"project's tools, or re-save the weights alone (a dict of tensors)."
    )


def archive_damage(path: str) -> Optional[str]:
    """What is wrong with a zip archive (torch's format since 1.6) that is damaged or cut short, else None (an
    intact archive, or a file of another format)."""
    with open(path, "rb") as handle:
        if handle.read(4) != b"PK\x03\x04":
            return None
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        return f"its zip archive is cut short or damaged ({err})"
    return f"the entry {broken} of its zip archive fails its checksum" if broken else None


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
        ValueError: ``checkpoint`` holds no dict of weights, or an entry of it is no tensor; the message names
            ``source``.
    """
    for container in CHECKPOINT_CONTAINERS:
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(container), dict):
            checkpoint = checkpoint[container]
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{source} holds a {type(checkpoint).__name__}, not a state dict")
    state = {}
    for key, value in checkpoint.items():
        if not torch.is_tensor(value):
            raise ValueError(f"{source} holds {type(value).__name__} {key!r} among its weights, not a tensor: it is "
                             f"not a weight file (or a damaged one)")
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


def shape_mismatch(module: nn.Module, state: StateDict) -> list:
    """[(key, shape in the file, shape in the module)] of the entries both have with different shapes, in order."""
    expected = module.state_dict()
    return [(key, tuple(value.shape), tuple(expected[key].shape)) for key, value in state.items()
            if key in expected and hasattr(value, "shape") and tuple(value.shape) != tuple(expected[key].shape)]


def describe_shape_mismatch(mismatch: Sequence, target: str = "the model") -> str:
    """'3 weights of other shapes than in the model (a: (64, 3) in the file, (32, 3) in the model; ...)'."""
    shown = "; ".join(f"{key}: {tuple(file_shape)} in the file, {tuple(model_shape)} in {target}"
                      for key, file_shape, model_shape in mismatch[:3])
    return f"{len(mismatch)} weights of other shapes than in {target} ({shown}{'; ...' if len(mismatch) > 3 else ''})"


def require_weight_file(path: str) -> None:
    """Refuse a weight file path that names a folder or nothing, saying which.

    Raises:
        IsADirectoryError: ``path`` is a folder.
        FileNotFoundError: nothing is at ``path``.
    """
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder, not a weight file: give the file itself")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")


def non_finite_tensors(state: StateDict) -> list:
    """Names of the floating-point tensors of ``state`` holding a NaN or an infinity (a diverged run's weights)."""
    return [key for key, value in state.items()
            if torch.is_tensor(value) and value.is_floating_point() and value.device.type != "meta"
            and not torch.isfinite(value).all()]


def check_released_file_is_finite(state: StateDict, path: str, option: str) -> None:
    """Refuse a released model's file (a frozen part's) with NaN or infinite values: it would give empty masks, not
    an error.

    Raises:
        ValueError: naming the file, its run option and the first such tensors.
    """
    non_finite = non_finite_tensors(state)
    if non_finite:
        raise ValueError(f"{path} (given as {option}) holds NaN or infinite values ({len(non_finite)} tensors, e.g. "
                         f"{', '.join(non_finite[:3])}): the file is damaged; download it again")


def load_frozen_weights(model: nn.Module) -> list:
    """Fill each frozen part of an :class:`~crc_modules.EpisodeModel` that names a file, from that file.

    The part's reader (``FrozenWeights.read``) reads the file weights-only and checks what it is; every entry of
    the part must then be in the file, except the part's trainable parameters (adapters, which a checkpoint
    gives), and have the part's shape. Returns the files read.

    Raises:
        ValueError: the file lacks entries of the part, has entries it lacks, or has other shapes; the message
            names the file, its run option and the first keys.
    """
    read = []
    for part in model.frozen_weights():
        if not part.path:
            continue
        module = model.get_submodule(part.module)
        state = part.read(part.path)
        trainable = {name for name, param in module.named_parameters(remove_duplicate=False) if param.requires_grad}
        missing, unexpected = key_mismatch(module, state, optional=trainable.__contains__)
        mismatch = shape_mismatch(module, state)
        if missing or unexpected or mismatch:
            problems = [describe_key_mismatch(missing, unexpected, f"the model's {part.module}")] if (
                missing or unexpected) else []
            problems += [describe_shape_mismatch(mismatch, f"the model's {part.module}")] if mismatch else []
            raise ValueError(f"{part.path} (given as {part.option}) does not fit the model: {'; '.join(problems)}")
        check_released_file_is_finite(state, part.path, part.option)
        module.load_state_dict(state, strict=False)
        read.append(part.path)
    return read


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
