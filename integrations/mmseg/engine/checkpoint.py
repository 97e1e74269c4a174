"""The tools' checkpoint policy: every checkpoint loads weights-only with an allow-list, strictly; weights export.

MMEngine 0.10.7 calls ``torch.load(filename)`` for ``load_from`` and ``--resume``. Its checkpoints pickle,
besides tensors and plain containers, exactly these (read from a real run of this project): the message
hub's ``HistoryBuffer`` logs, whose statistics methods are pickled as ``getattr(HistoryBuffer, 'min')``,
numpy arrays (``_reconstruct``, ``ndarray``, ``dtype`` with its ``Float64DType`` / ``Int64DType``) and numpy
scalars (``scalar``, e.g. the ETA). :data:`MMENGINE_CHECKPOINT_GLOBALS` allows those, under numpy 1's and 2's
module names, with every numeric dtype class (never the object dtype), and nothing else; ``getattr`` is
replaced by a function that resolves only HistoryBuffer's own statistics methods.
"""
from __future__ import annotations

import logging
import os
import pickle
from contextlib import contextmanager
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner.checkpoint import CheckpointLoader

from crc_modules.checkpoint import (
    UnsafeCheckpointError,
    describe_key_mismatch,
    describe_shape_mismatch,
    download_to_cache,
    key_mismatch,
    load_frozen_weights,
    load_weights_only,
    non_finite_tensors,
    shape_mismatch,
    state_dict_in,
)
from crc_modules.episode_model import EpisodeModel

EXPORTED_WEIGHTS = "weights.pth"
UNSAFE_PICKLE_FLAG = "--unsafe-load-full-pickle"
HISTORY_BUFFER_STATISTICS = ("min", "max", "current", "mean")


def _history_buffer_statistic(owner: type, name: str):
    """Stands for ``getattr`` while unpickling: only ``HistoryBuffer``'s statistics methods resolve."""
    if owner is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(owner, name)
    raise pickle.UnpicklingError(f"getattr({owner!r}, {name!r}) is outside the allow-list of MMEngine checkpoints")


def _numpy_globals() -> list:
    """numpy's array and scalar rebuilders under numpy 2's and numpy 1's module names, and numeric dtypes."""
    multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    rebuilders = [(function, f"{module}.multiarray.{function.__name__}")
                  for function in (multiarray._reconstruct, multiarray.scalar)
                  for module in ("numpy._core", "numpy.core")]
    numeric_dtypes = [type(np.dtype(code)) for code in "?bhilqBHILQefd"]
    return [np.ndarray, np.dtype, *numeric_dtypes, *rebuilders]


MMENGINE_CHECKPOINT_GLOBALS = [HistoryBuffer, (_history_buffer_statistic, "builtins.getattr"), *_numpy_globals()]


def load_checkpoint_file(path: str, map_location=None, allow_full_pickle: bool = False) -> dict:
    """Read a checkpoint of this project or of MMEngine weights-only; refuse any other pickled type.

    Args:
        path (str): A local file.
        map_location: As for :func:`torch.load`.
        allow_full_pickle (bool): Read it with the full unpickler (``UNSAFE_PICKLE_FLAG``), which runs any
            code the file holds; for foreign or old checkpoints the user trusts.

    Raises:
        UnsafeCheckpointError: the file needs a type outside the allow-list; the message names the file and type.
    """
    if allow_full_pickle:
        print_log(f"loading {path} with the full unpickler ({UNSAFE_PICKLE_FLAG}): this runs any code the file "
                  f"contains", logger="current", level=logging.WARNING)
        return torch.load(path, map_location=map_location, weights_only=False)
    try:
        return load_weights_only(path, map_location, MMENGINE_CHECKPOINT_GLOBALS)
    except UnsafeCheckpointError as err:
        raise UnsafeCheckpointError(f"{err} If you trust this file, {UNSAFE_PICKLE_FLAG} loads it fully and runs "
                                    f"its code.") from None


def load_model_weights(model: torch.nn.Module, path: Optional[str] = None, allow_full_pickle: bool = False) -> None:
    """Fill a segmentor's model from the frozen files its run options name, then load a checkpoint strictly.

    The frozen files (a foundation model's release, :meth:`EpisodeModel.frozen_weights`) are read first. ``path``
    is this project's ``weights.pth``, an MMEngine checkpoint (``epoch_N.pth``), or a checkpoint as a hosted
    model's authors released it: a state dict, bare or under ``state_dict`` / ``model`` (PFENet's
    ``{'epoch', 'state_dict', 'optimizer'}``, adapters trained into a frozen model), whose keys after a leading
    ``module.`` (DataParallel; HSNet's ``best_model.pt``) are those of the hosted model (the segmentor's ``model``),
    which then receives them. Entries of frozen parts whose files the run options name are taken from those files
    (a released checkpoint that holds its frozen parts too). A weight the file lacks, one it has that the
    model lacks, or one of another shape is an error naming the file and the keys: a checkpoint trained with other
    model options (an ablation's
    ``--cfg-options``) would otherwise test with some modules at their random initial weights. Without ``path``,
    every weight must come from the frozen files (a model with nothing trained).

    Raises:
        ValueError: the weights do not fit, hold NaN or infinite values (a diverged run), or a checkpoint or a run
            option is needed; the message says which.
    """
    segmentor = getattr(model, "module", model)
    hosted = getattr(segmentor, "model", None)
    frozen = hosted.frozen_weights() if isinstance(hosted, EpisodeModel) else ()
    if frozen:
        load_frozen_weights(hosted)
    unset = [part for part in frozen if not part.path]
    if path is None:
        if unset or segmentor.state_dict():
            raise ValueError(_weights_needed(segmentor, unset))
        return
    state = state_dict_in(load_checkpoint_file(path, "cpu", allow_full_pickle), path, strip_prefixes=("module.",))
    target = segmentor
    if isinstance(hosted, torch.nn.Module) and len(state.keys() & hosted.state_dict().keys()) > len(
            state.keys() & segmentor.state_dict().keys()):
        target = hosted  # a released checkpoint: the hosted model's own keys
    prefix = "" if target is hosted else "model."
    if isinstance(hosted, EpisodeModel):
        hosted.check_checkpoint(path, {key[len(prefix):] if key.startswith(prefix) else key: value
                                       for key, value in state.items()})
    from_files = {prefix + key for key in hosted.file_weights()} & state.keys() if frozen else set()
    if from_files:
        print_log(f"{path}: {len(from_files)} entries come from the frozen files the run options name instead (a "
                  f"released checkpoint holding its frozen parts too)", logger="current", level=logging.INFO)
        state = {key: value for key, value in state.items() if key not in from_files}
    missing, unexpected = key_mismatch(target, state)
    for part in unset:
        if any(key.startswith(f"{prefix}{part.module}.") for key in missing):
            raise ValueError(f"{path} holds no weights for the model's {part.module}, which come from a file: give it "
                             f"with --cfg-options {part.option}=PATH")
    mismatch = shape_mismatch(target, state)
    if missing or unexpected or mismatch:
        problems = [describe_key_mismatch(missing, unexpected)] if missing or unexpected else []
        problems += [describe_shape_mismatch(mismatch)] if mismatch else []
        raise ValueError(f"{path} does not fit the config's model: {'; '.join(problems)}. Was it trained with other "
                         f"model options (pass the same --cfg-options to this tool), or for another model or config?")
    non_finite = non_finite_tensors(state)
    if non_finite:
        raise ValueError(f"{path} holds NaN or infinite weights ({len(non_finite)} tensors, e.g. "
                         f"{', '.join(non_finite[:3])}): the run that wrote it diverged. Use an earlier checkpoint.")
    target.load_state_dict(state)


def _weights_needed(segmentor: torch.nn.Module, unset: list) -> str:
    """Why a segmentor cannot run without a checkpoint: what a checkpoint would give, which run options are unset."""
    frozen_prefixes = tuple(f"model.{part.module}." for part in unset)
    trainable = {name for name, param in segmentor.named_parameters(remove_duplicate=False) if param.requires_grad}
    trained = [key for key in segmentor.state_dict() if key in trainable or not key.startswith(frozen_prefixes)]
    name = type(getattr(segmentor, "model", segmentor)).__name__
    needs = []
    if trained:
        needs.append(f"a checkpoint of its trained weights ({len(trained)} tensors, e.g. {', '.join(trained[:2])})")
    if unset:
        needs.append("its frozen weight files: " + " ".join(f"--cfg-options {part.option}=PATH" for part in unset))
    return f"{name} needs " + " and ".join(needs)


@contextmanager
def checkpoint_policy(allow_full_pickle: bool = False):
    """While a tool runs, MMEngine reads local and http(s) checkpoints through :func:`load_checkpoint_file`.

    Without ``allow_full_pickle``, every other ``torch.load`` in the process is forced to ``weights_only``
    too (``TORCH_FORCE_WEIGHTS_ONLY_LOAD``). Everything is restored on exit.
    """
    def load_from_local(filename, map_location=None):  # named like MMEngine's: it logs "by local backend"
        return load_checkpoint_file(os.path.expanduser(filename), map_location, allow_full_pickle)

    def load_from_http(url, map_location=None):
        rank, world_size = get_dist_info()
        path = download_to_cache(url) if rank == 0 else None  # one download (as MMEngine's own loader)
        if world_size > 1:
            torch.distributed.barrier()
        return load_checkpoint_file(path or download_to_cache(url), map_location, allow_full_pickle)

    loaders = {"": load_from_local, "http://": load_from_http, "https://": load_from_http}
    previous_loaders = {prefix: CheckpointLoader._schemes[prefix] for prefix in loaders}
    previous_env = {name: os.environ.pop(name, None)
                    for name in ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")}
    if not allow_full_pickle:
        os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    for prefix, loader in loaders.items():
        CheckpointLoader.register_scheme(prefix, loader, force=True)
    try:
        yield
    finally:
        for prefix, loader in previous_loaders.items():
            CheckpointLoader.register_scheme(prefix, loader, force=True)
        for name, value in previous_env.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def export_weights(model: torch.nn.Module, path: str, config_path: Optional[str] = None) -> str:
    """Save the model's weights alone (tensors and strings), loadable with ``torch.load(weights_only=True)``.

    Weights holding a NaN or an infinity (a diverged run) are refused (:func:`non_finite_tensors`), naming them.

    Written under a temporary name in the same folder, then renamed: ``path`` is the old file or the whole
    new one, never a partial write.
    """
    model = getattr(model, "module", model)
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    non_finite = non_finite_tensors(state)
    if non_finite:
        raise ValueError(f"refused to export {path}: {len(non_finite)} weights hold NaN or infinite values "
                         f"({', '.join(non_finite[:3])}{', ...' if len(non_finite) > 3 else ''}); the training "
                         f"diverged, and a model with them predicts nothing useful")
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        torch.save(dict(state_dict=state, meta=dict(config=str(config_path or ""))), temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path
