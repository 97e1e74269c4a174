"""Run options and ``--cfg-options`` checks: top-level config settings that the tools apply after reading a config.

A config's top-level variables (``fold = 0``, ``max_epochs = 200``) are expanded where they are used when
MMEngine reads the file, so changing the variable afterwards changes nothing. The tools therefore treat a
few of them as *run options*: each run option given with ``--cfg-options`` is written into the fields it
controls; explicit key paths on the command line are merged last and win. ``released_lr_x10`` is applied
here alone, whether the command line or the config file sets it (configs write ``lr=base_lr``). Any other
top-level key that the Runner does not read is refused, so a mistyped or already-expanded setting is an error instead of
silence.
"""
from __future__ import annotations

import copy
import inspect
import logging
import os
from typing import Callable, Dict, Iterable, Tuple

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import MODELS
from mmengine.runner import Runner

DATALOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
# top-level keys MMEngine's Runner reads besides its constructor arguments (runner.py, 0.10.7)
RUNNER_CONFIG_KEYS = ("model_wrapper_cfg", "sync_bn", "activation_checkpointing", "efficient_conv_bn_eval",
                      "compile")
_MISSING = object()


def _set_fold(cfg: Config) -> None:
    """``fold``: the fold of every dataset that has one (train, val and test)."""
    loaders = [name for name in DATALOADERS if "fold" in (cfg.get(name) or {}).get("dataset", {})]  # None: unused
    if not loaders:
        raise ValueError(f"fold={cfg.fold!r}: no dataset of this config has a fold")
    for name in loaders:
        cfg[name].dataset.fold = cfg.fold


def _set_max_epochs(cfg: Config) -> None:
    """``max_epochs``: the training length, and the end of every by-epoch schedule that lasted the whole run."""
    previous = cfg.train_cfg.max_epochs
    cfg.train_cfg.max_epochs = cfg.max_epochs
    schedulers = cfg.get("param_scheduler") or []
    for scheduler in [schedulers] if isinstance(schedulers, dict) else schedulers:
        if scheduler.get("by_epoch", True) and scheduler.get("end") == previous:
            scheduler.end = cfg.max_epochs


def _set_lr(cfg: Config) -> None:
    """``base_lr`` and ``released_lr_x10``: the optimizer's lr is ``base_lr``, x10 as PFENet's released code does."""
    optimizer = cfg.optim_wrapper.optimizer
    base_lr = cfg.get("base_lr", optimizer.lr)
    optimizer.lr = base_lr * (10 if cfg.get("released_lr_x10", False) else 1)


def _set_holdout_validation(cfg: Config) -> None:
    """``holdout_val`` (a fraction) and ``holdout_seed``: select checkpoints without the test classes.

    The training set leaves out ``holdout_val`` of its images (drawn from ``holdout_seed``, default 0); the
    validation set becomes episodes of the *training* classes on those images alone, with the former
    validation set's pipeline, episode count, seed and ``eval_label``; the checkpoint hook keeps the best
    checkpoint by its mIoU (``save_best``). Without this option the configs validate on the test fold, as
    PFENet and HSNet do.
    """
    if "holdout_val" not in cfg:
        raise ValueError("holdout_seed=S needs holdout_val=FRACTION (the share of training images held out)")
    fraction, seed = float(cfg.holdout_val), int(cfg.get("holdout_seed", 0))
    if not 0 < fraction < 1:
        raise ValueError(f"holdout_val must be a fraction in (0, 1), got {cfg.holdout_val!r}")
    if not cfg.get("val_dataloader") or not cfg.get("train_dataloader"):
        raise ValueError("holdout_val: the config needs a train_dataloader and a val_dataloader")
    train, former = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    validation = copy.deepcopy(train)
    validation.update(holdout_fraction=fraction, holdout_seed=seed, holdout="only", pipeline=former.get("pipeline", []),
                      num_episodes=former.get("num_episodes"), seed=former.get("seed", 0),
                      eval_label=former.get("eval_label", "original"))
    train.update(holdout_fraction=fraction, holdout_seed=seed, holdout="exclude")
    cfg.val_dataloader.dataset = validation
    cfg.default_hooks.checkpoint.update(save_best="mIoU", rule="greater")


def weight_options(cfg: Config) -> Dict[str, str]:
    """The run options naming frozen weight files that ``cfg`` takes, with what each file holds: those its model
    declares (:attr:`~crc_modules.EpisodeModel.weight_options`) and those of the steps every model shares
    (:data:`~integrations.foundation.SHARED_WEIGHT_OPTIONS`: the support prompt step's file)."""
    from integrations.foundation import SHARED_WEIGHT_OPTIONS

    return {**SHARED_WEIGHT_OPTIONS, **_model_weight_options(cfg)}


def _model_weight_options(cfg: Config) -> Dict[str, str]:
    """The weight options the config's hosted model (``model.model.type``) declares; none when the registry has no
    such class."""
    model_type = (cfg.get("model") or {}).get("model", {}).get("type")
    model_class = model_type if isinstance(model_type, type) else MODELS.get(model_type) if model_type else None
    return dict(getattr(model_class, "weight_options", {}))


def _set_frozen_weight_files(cfg: Config) -> None:
    """A frozen weight file's run option (:func:`weight_options`): a foundation model's released file.

    The file must exist. It is written into the hosted model's argument of that name when the model declares the
    option (its frozen part is then read from it, :class:`~crc_modules.episode_model.FrozenWeights`), and stays at
    the top level, where a shared step (the support prompt step) reads it.
    """
    model = cfg.get("model", {}).get("model", {})
    own = _model_weight_options(cfg)
    for option in weight_options(cfg):
        path = cfg.get(option)
        if path is None:
            continue
        if not isinstance(path, str) or not os.path.exists(path):
            raise FileNotFoundError(f"{option}={path}: no such file")
        if os.path.isdir(path):
            raise IsADirectoryError(f"{option}={path} is a folder: give the weight file itself")
        if option in own:
            model[option] = path


HOST_RUN_OPTIONS: Dict[str, Callable[[Config], None]] = {
    "fold": _set_fold,
    "max_epochs": _set_max_epochs,
    "base_lr": _set_lr,
    "released_lr_x10": _set_lr,
    "holdout_val": _set_holdout_validation,
    "holdout_seed": _set_holdout_validation,
}


def run_options(cfg: Config) -> Dict[str, Callable[[Config], None]]:
    """The run options of ``cfg``: the host's and its weight files' (:func:`weight_options`)."""
    return {**HOST_RUN_OPTIONS, **{option: _set_frozen_weight_files for option in weight_options(cfg)}}


def applied_from_the_file(cfg: Config) -> Tuple[str, ...]:
    """Run options applied when the config file alone sets them: ``released_lr_x10`` and the weight files."""
    return ("released_lr_x10", *weight_options(cfg))


def describe_run_options(cfg: Config) -> str:
    """The run options of ``cfg``, weight files with what they hold: for help texts and refusals."""
    files = [f"{option} ({what})" for option, what in weight_options(cfg).items()]
    return ", ".join([*HOST_RUN_OPTIONS, *files])


def runner_keys() -> set:
    """Top-level keys MMEngine's Runner uses: its constructor's arguments and the few it reads from the config."""
    return set(inspect.signature(Runner.__init__).parameters) - {"self", "cfg"} | set(RUNNER_CONFIG_KEYS)


def check_key_paths(cfg: Config, paths: Iterable[str]) -> None:
    """Refuse key paths the run would ignore; log the ones that add a field the config did not have.

    Raises:
        ValueError: a top-level key that is neither read by the Runner nor a run option (for example a
            config variable that was expanded when the file was read), or a path below a missing field.
    """
    known_top_level = runner_keys() | set(run_options(cfg))
    for path in paths:
        parts = path.split(".")
        if parts[0] not in known_top_level:
            hint = (f"`{parts[0]}` is a variable of the config file, already expanded where it is used: set "
                    f"those fields instead" if parts[0] in cfg else f"the config has no `{parts[0]}`")
            raise ValueError(f"--cfg-options {path}: the run does not read this key ({hint}). Run options of this "
                             f"config: {describe_run_options(cfg)}.")
        node = cfg
        for depth, part in enumerate(parts[:-1]):
            node = _child(node, part)
            if node is _MISSING or node is None:
                raise ValueError(f"--cfg-options {path}: the config has no `{'.'.join(parts[:depth + 1])}`")
        if len(parts) > 1 and _child(node, parts[-1]) is _MISSING:
            print_log(f"--cfg-options {path} adds `{parts[-1]}`, which the config did not set; the component "
                      f"it configures must accept it", logger="current", level=logging.WARNING)


def _child(node, key: str):
    """``node[key]`` for a dict, ``node[int(key)]`` for a list; ``_MISSING`` when there is no such entry."""
    if isinstance(node, (list, tuple)):
        return node[int(key)] if key.isdigit() and int(key) < len(node) else _MISSING
    return node.get(key, _MISSING) if isinstance(node, (dict, Config)) else _MISSING


def shared_evaluator_paths(cfg: Config, paths: Dict[str, object]) -> Dict[str, object]:
    """``val_evaluator`` key paths repeated for ``test_evaluator`` where the config's test evaluator is its
    validation one (mmseg's ``test_evaluator = val_evaluator``, a copy once the file is read), so that
    ``val_evaluator.bootstrap_samples=0`` reaches tools/test.py too; a ``test_evaluator`` path given as well wins.
    """
    if not cfg.get("val_evaluator") or cfg.get("test_evaluator") != cfg.get("val_evaluator"):
        return {}
    shared = {}
    for key, value in paths.items():
        test_key = "test_evaluator" + key[len("val_evaluator"):]
        if (key == "val_evaluator" or key.startswith("val_evaluator.")) and test_key not in paths:
            shared[test_key] = value
            print_log(f"--cfg-options {key} also sets {test_key} (the config's test evaluator is its validation "
                      f"evaluator)", logger="current")
    return shared


def resolve_config(cfg: Config, overrides: Dict[str, object]) -> Config:
    """Merge ``--cfg-options``: run options first (then applied to their fields), explicit key paths last.

    Only the run options on the command line are applied (and ``released_lr_x10`` wherever it is set): a
    config file's own values were expanded where the file uses them, and its explicit fields (its own ``lr``,
    ``max_epochs``) stay as written. A ``val_evaluator`` path also sets the test evaluator that is the same
    (:func:`shared_evaluator_paths`).
    """
    known = run_options(cfg)
    options = {key: value for key, value in overrides.items() if key in known}
    paths = {key: value for key, value in overrides.items() if key not in known}
    check_key_paths(cfg, paths)
    paths.update(shared_evaluator_paths(cfg, paths))
    cfg.merge_from_dict(options)
    from_the_file = applied_from_the_file(cfg)
    given = [name for name in known if name in options or (name in from_the_file and cfg.get(name))]
    for apply in dict.fromkeys(known[name] for name in given):
        apply(cfg)
    cfg.merge_from_dict(paths)
    return cfg
