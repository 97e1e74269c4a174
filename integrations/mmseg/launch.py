"""What tools/train.py and tools/test.py share: config set-up, CPU distributed, checkpoints and exported weights."""
from __future__ import annotations

import argparse
import os
import os.path as osp
from contextlib import contextmanager
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction

LAUNCHERS = ("none", "pytorch", "slurm", "mpi")
EXPORTED_WEIGHTS = "weights.pth"


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of mmseg's tools that train and test share."""
    parser.add_argument("config", help="config file, e.g. configs/crcnet_pascal_fold0.py")
    parser.add_argument("--work-dir", help="folder of logs and checkpoints (default: work_dirs/<config name>)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                        help="override config entries, e.g. model.model.refine_steps=5")
    parser.add_argument("--launcher", choices=LAUNCHERS, default="none", help="job launcher")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """Config with the command line's overrides, work dir and launcher."""
    if not osp.isfile(args.config):
        raise FileNotFoundError(f"config file not found: {args.config}")
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = osp.join("work_dirs", osp.splitext(osp.basename(args.config))[0])
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    return cfg


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
    cfg.model_wrapper_cfg = dict(type="MMDistributedDataParallel", device_ids=None, broadcast_buffers=False)


@contextmanager
def trusted_checkpoint_loading():
    """Let ``torch.load`` read MMEngine's own checkpoints (they pickle a message hub) inside the tools only.

    Torch 2.6+ loads with ``weights_only=True``; MMEngine 0.10.7's resume and ``load_from`` need the
    full unpickler. The override lives only while a tool runs, never at library import.
    """
    previous = os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")
    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"]
        else:
            os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = previous


def export_weights(model: torch.nn.Module, path: str, config_path: Optional[str] = None) -> str:
    """Save the model's weights alone (tensors and strings), loadable with ``torch.load(weights_only=True)``."""
    model = getattr(model, "module", model)
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    torch.save(dict(state_dict=state, meta=dict(config=str(config_path or ""))), path)
    return path
