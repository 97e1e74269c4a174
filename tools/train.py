"""Train a few-shot model with MMEngine's Runner: ``python tools/train.py configs/crcnet_pascal_fold0.py``."""
import argparse
import os.path as osp
from typing import Optional

import torch

from crc_modules.registry import MODELS
from integrations.cli import run_tool
from integrations.mmseg.engine.checkpoint import EXPORTED_WEIGHTS, checkpoint_policy, export_weights
from integrations.mmseg.engine.launch import (
    add_common_arguments,
    build_runner,
    finish_distributed,
    load_config,
    prepare_distributed,
)
from integrations.mmseg.models.segmentor import NonFiniteLossError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train a few-shot segmentation model")
    add_common_arguments(parser)
    parser.add_argument("--resume", nargs="?", const="auto", default=None,
                        help="resume from a checkpoint, or from the work dir's last one when no path is given")
    parser.add_argument("--amp", action="store_true",
                        help="mixed precision: fp16 with loss scaling on CUDA, bf16 autocast on the CPU")
    return parser.parse_args(argv)


def divergence_message(runner, error: NonFiniteLossError) -> str:
    """Where training stopped (1-based iteration and epoch), what is kept, and what to try."""
    last = runner.message_hub.get_info("last_ckpt")
    kept = (f"the last checkpoint before it is kept: {last} (continue from it with --resume {last})" if last
            else "no checkpoint was saved before it")
    return (f"training diverged at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): {error}. It stopped "
            f"there and exported no weights; {kept}. Try a lower learning rate (--cfg-options base_lr=...), "
            f"gradient clipping (clip_grad=dict(max_norm=10) in the config's optim_wrapper), or fp32 instead of --amp")


def has_trainable_parameters(cfg) -> bool:
    """Whether the config's model has a parameter to train (built on the meta device: no memory, no weights)."""
    with torch.device("meta"):
        model = MODELS.build(cfg.model)
    return any(param.requires_grad for param in model.parameters())


def main(argv=None) -> Optional[str]:
    args = parse_args(argv)
    cfg = load_config(args)
    if not has_trainable_parameters(cfg):
        print(f"{args.config}: {cfg.model.model.type} has nothing to train (every weight is frozen); test it with "
              f"tools/test.py {args.config} (no checkpoint)")
        return None
    if args.amp:
        on_gpu = torch.cuda.is_available()
        cfg.optim_wrapper.type = "AmpOptimWrapper" if on_gpu else "CPUAutocastOptimWrapper"
        if on_gpu:
            cfg.optim_wrapper.loss_scale = "dynamic"
    if args.resume == "auto":
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    prepare_distributed(cfg)
    with checkpoint_policy(allow_full_pickle=args.unsafe_load_full_pickle):
        runner = build_runner(cfg, verbose=args.verbose)
        try:
            runner.train()  # pretrained weights are applied here (init_weights), then load_from / resume
        except NonFiniteLossError as err:
            raise NonFiniteLossError(divergence_message(runner, err)) from None
    weights = osp.join(cfg.work_dir, EXPORTED_WEIGHTS)
    if runner.rank == 0:
        export_weights(runner.model, weights, args.config)
        runner.logger.info(f"weights for tools/test.py and tools/infer.py: {weights}")
    finish_distributed()
    return weights


if __name__ == "__main__":
    run_tool(main)
