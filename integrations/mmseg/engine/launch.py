"""What tools/train.py and tools/test.py share: flags, config, hook settings checked, CPU threads, distributed set-up,
a quiet Runner."""
from __future__ import annotations

import argparse
import difflib
import inspect
import logging
import os
import os.path as osp
import re

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.hooks import CheckpointHook
from mmengine.runner import Runner
from mmseg.registry import HOOKS
from torch.nn.parallel import DistributedDataParallel

from .checkpoint import UNSAFE_PICKLE_FLAG
from .run_options import HOST_RUN_OPTIONS, resolve_config

LAUNCHERS = ("none", "pytorch", "slurm", "mpi")
# what MMEngine logs that the console does not need (the log file keeps all of it; --verbose shows it)
CONSOLE_HIDDEN_PREFIXES = (
    "Config:",  # the full config
    "-" * 60,  # the system and runtime environment block
    "Hooks will be executed in the following order",
    "Distributed training is not used, all SyncBatchNorm",
    '"FileClient" will be deprecated',  # MMEngine's own CheckpointHook uses it; nothing a user can change
    '"HardDiskBackend" is the alias of "LocalBackend"',
)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of mmseg's tools that train and test share, and this project's checkpoint and log flags."""
    parser.add_argument("config", help="config file, e.g. configs/crcnet_pascal_fold0.py")
    parser.add_argument("--work-dir", help="folder of logs and checkpoints (default: work_dirs/<config name>)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                        help="override config entries, e.g. model.model.refine_steps=5, or the run options "
                             f"{', '.join(HOST_RUN_OPTIONS)} (e.g. fold=2 max_epochs=50), and the weight files the "
                             "config's model declares (an unknown key lists them)")
    parser.add_argument("--launcher", choices=LAUNCHERS, default="none", help="job launcher")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)
    parser.add_argument(UNSAFE_PICKLE_FLAG, action="store_true",
                        help="load a checkpoint that is not weights-only (a foreign or old full pickle) with the "
                             "full unpickler: this RUNS ANY CODE the file contains; only for files you trust")
    parser.add_argument("--verbose", action="store_true",
                        help="also print the full config, environment and hook order on the console "
                             "(always in the log file)")


def default_run_name(config_path: str, fold=None) -> str:
    """The config's file name; with a ``fold`` run option, that fold in place of the file's (runs never share a dir)."""
    name = osp.splitext(osp.basename(config_path))[0]
    if fold is None:
        return name
    return re.sub(r"fold\d+", f"fold{fold}", name) if re.search(r"fold\d+", name) else f"{name}_fold{fold}"


def load_config(args: argparse.Namespace) -> Config:
    """Config with the command line's overrides and run options, work dir and launcher."""
    if not osp.isfile(args.config):
        raise FileNotFoundError(f"config file not found: {args.config}")
    cfg = resolve_config(Config.fromfile(args.config), args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = osp.join("work_dirs", default_run_name(args.config, (args.cfg_options or {}).get("fold")))
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    return cfg


def physical_cores(cpuinfo: str = "/proc/cpuinfo") -> int:
    """Physical cores this process may run on (distinct core ids of its CPUs in ``cpuinfo``), else logical CPUs."""
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    cores = set()
    try:
        with open(cpuinfo) as handle:
            for block in handle.read().strip().split("\n\n"):
                fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
                fields = {key.strip(): value.strip() for key, value in fields.items()}
                if int(fields.get("processor", -1)) in allowed:
                    cores.add((fields.get("physical id"), fields.get("core id", fields.get("processor"))))
    except (OSError, ValueError):
        pass
    return len(cores) or len(allowed)


def configure_threads() -> str:
    """Set torch's CPU threads and return how they were chosen (for the log).

    ``OMP_NUM_THREADS`` when set; under torchrun, the physical cores divided among the local processes
    (torchrun's own default of 1 thread per process is replaced); otherwise the physical cores.
    Oversubscribed threads made training 10-16x slower per iteration on a busy 2-core machine.
    """
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    requested = os.environ.get("OMP_NUM_THREADS")
    torchrun_default = local_processes > 1 and requested == "1"
    if requested and not torchrun_default:
        threads, reason = int(requested), "OMP_NUM_THREADS"
    elif local_processes > 1:
        cores = physical_cores()
        threads, reason = max(1, cores // local_processes), f"{cores} physical cores / {local_processes} processes"
    else:
        threads, reason = physical_cores(), "physical cores"
    torch.set_num_threads(threads)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # so MMEngine neither overrides nor warns
        os.environ.setdefault(name, str(threads))
    return f"torch CPU threads: {threads} ({reason})"


def prepare_distributed(cfg: Config) -> None:
    """On CPUs, start a gloo process group before the Runner (which would ask CUDA for NCCL) and wrap without devices.

    On GPUs MMEngine's own set-up (NCCL, one device per process) is used unchanged.
    """
    if cfg.launcher == "none" or torch.cuda.is_available():
        return
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    cfg.env_cfg = cfg.get("env_cfg", {})
    cfg.env_cfg["dist_cfg"] = dict(backend="gloo")
    # no buffer broadcast at each forward; torch 2.14 renamed DDP's broadcast_buffers (now warning) forward_sync_buffers
    parameters = inspect.signature(DistributedDataParallel.__init__).parameters
    no_buffer_sync = "forward_sync_buffers" if "forward_sync_buffers" in parameters else "broadcast_buffers"
    cfg.model_wrapper_cfg = dict(type="MMDistributedDataParallel", device_ids=None, **{no_buffer_sync: False})


def finish_distributed() -> None:
    """Destroy the process group (gloo or NCCL) before exit, so no communication thread outlives the interpreter."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class _ConsoleNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().lstrip("\n").startswith(CONSOLE_HIDDEN_PREFIXES)


class QuietRunner(Runner):
    """MMEngine's Runner whose console leaves out the config, environment and hook order (the log file has them)."""

    def build_logger(self, *args, **kwargs):
        logger = super().build_logger(*args, **kwargs)
        for handler in logger.handlers:
            if not isinstance(handler, logging.FileHandler):
                handler.addFilter(_ConsoleNoise())
        return logger


def check_hook_settings(cfg: Config) -> None:
    """Refuse a hook setting its hook does not take, when the run is built (``default_hooks``, ``custom_hooks``).

    MMEngine's ``CheckpointHook`` keeps settings it does not know (``**kwargs``) and passes them to
    ``Runner.save_checkpoint`` at the end of the first epoch, which fails there and saves nothing: a misspelt
    ``intervall`` cost a whole epoch. Every hook's settings are checked against its constructor's named
    arguments (``priority`` is the Runner's); a hook that takes ``**kwargs`` for its own use is left alone.

    Raises:
        ValueError: names the setting (``default_hooks.checkpoint.intervall``), the close names and the hook's settings;
            or a hook given as text (``--cfg-options custom_hooks=[dict(...)]``, which MMEngine leaves a string).
    """
    hooks = [(f"default_hooks.{name}", hook) for name, hook in (cfg.get("default_hooks") or {}).items()]
    hooks += [(f"custom_hooks.{index}", hook) for index, hook in enumerate(cfg.get("custom_hooks") or [])]
    for where, hook in hooks:
        if isinstance(hook, str):  # --cfg-options writes no dict inside a list: the hook arrives as its text
            raise ValueError(f"{where} is the text {hook!r}, not a hook: --cfg-options cannot give a dict inside a "
                             f"list; set custom_hooks = [dict(type=...)] in a config file that inherits this one "
                             f"(_base_ = [...])")
        if not isinstance(hook, dict) or "type" not in hook:
            continue  # None turns a default hook off; a built hook object is already checked
        hook_class = hook["type"] if isinstance(hook["type"], type) else HOOKS.get(hook["type"])
        if hook_class is None:
            raise ValueError(f"{where}: no hook is registered as {hook['type']!r}")
        parameters = inspect.signature(hook_class.__init__).parameters.values()
        swallows = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
        if swallows and not issubclass(hook_class, CheckpointHook):
            continue
        named = [p.name for p in parameters if p.name != "self" and p.kind not in (inspect.Parameter.VAR_KEYWORD,
                                                                                  inspect.Parameter.VAR_POSITIONAL)]
        for key in sorted(set(hook) - set(named) - {"type", "priority"}):
            close = difflib.get_close_matches(key, named, n=2)
            hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            raise ValueError(f"{where}.{key}: {hook_class.__name__} has no setting {key!r}{hint}; its settings are "
                             f"{', '.join(named)}")


def build_runner(cfg: Config, verbose: bool = False) -> Runner:
    """A Runner for the tools: CPU threads chosen and logged; a quiet console unless ``verbose``."""
    check_hook_settings(cfg)
    threads = configure_threads()
    runner = (Runner if verbose else QuietRunner).from_cfg(cfg)
    runner.logger.info(threads)
    if not verbose:
        runner.logger.info(f"full config, environment and hooks: {osp.join(runner.log_dir, runner.timestamp)}.log")
    return runner
