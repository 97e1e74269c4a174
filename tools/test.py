"""Test a few-shot model: ``python tools/test.py CONFIG [CHECKPOINT] [--shot 5 --kshot-mode finetune --multi-scale]``.

The checkpoint is needed where the model has trained weights; a model with nothing trained (GF-SAM) runs from
the frozen files its run options name (``--cfg-options dinov2_weights=PATH sam_weights=PATH``).
"""
import argparse
import copy
import json
import os
import os.path as osp

from mmengine.config import Config

from crc_modules import FUSIONS, MULTI_SCALES
from crc_modules.checkpoint import require_weight_file
from crc_modules.kshot import KSHOT_MODES
from crc_modules.precision import PRECISIONS
from integrations.cli import run_tool
from integrations.mmseg.engine.checkpoint import checkpoint_policy, load_model_weights
from integrations.mmseg.engine.launch import (
    add_common_arguments,
    build_runner,
    finish_distributed,
    load_config,
    prepare_distributed,
)
from integrations.mmseg.evaluation.seed_summary import format_seed_table, require_distinct_seeds, summarize_seeds


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Test a few-shot segmentation model on episodes")
    add_common_arguments(parser)
    parser.add_argument("checkpoint", nargs="?",
                        help="weights exported by tools/train.py, an MMEngine checkpoint, or a hosted model's released "
                             "checkpoint (PFENet's train_epoch_200.pth, SANSA's adapters); none for a model with "
                             "nothing trained")
    parser.add_argument("--shot", type=int, help="supports per episode (1, 5, 10)")
    parser.add_argument("--kshot-mode", choices=KSHOT_MODES, help="k-shot inference (Table 4)")
    parser.add_argument("--kshot-fusion", choices=FUSIONS,
                        help="how k one-shot predictions are fused: mean of probabilities (the paper), or HSNet's vote")
    parser.add_argument("--finetune-steps", type=int, help="SGD steps of k-shot finetuning per episode")
    parser.add_argument("--finetune-lr", type=float, help="learning rate of k-shot finetuning")
    parser.add_argument("--multi-scale", action="store_true", help=f"average over scales {MULTI_SCALES}")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="fp32 (default), bf16 or fp16 autocast, or auto: bf16 on CPUs with bf16 instructions "
                             "and on CUDA, fp32 on other CPUs")
    parser.add_argument("--episodes", type=int, help="number of test episodes")
    parser.add_argument("--seeds", type=int, nargs="+",
                        help="test once per seed, the episodes drawn from each (as --cfg-options "
                             "test_dataloader.dataset.seed=S does); prints per-seed mIoU / FB-IoU with 95%% "
                             "bootstrap intervals, their mean and standard deviation and per-class IoU means")
    parser.add_argument("--show-dir", help="write a picture per episode (Fig. 9) to this folder (relative: under the "
                                           "work dir); the visualizer's other backends (TensorBoard) get them too")
    parser.add_argument("--out", help="write the metrics as JSON here (default: WORK_DIR/test_metrics.json)")
    return parser.parse_args(argv)


def show_pictures_in(cfg: Config, folder: str) -> None:
    """Draw every episode through the visualizer; its local backends write the pictures into ``folder``."""
    cfg.default_hooks.visualization = dict(type="FewShotVisualizationHook", draw=True)
    backends = cfg.visualizer.setdefault("vis_backends", [])
    local = [backend for backend in backends if backend["type"] == "LocalVisBackend"]
    if not local:
        backends.append(dict(type="LocalVisBackend"))
        local = backends[-1:]
    for backend in local:
        backend["img_save_dir"] = osp.abspath(osp.join(cfg.work_dir, folder))


def test_once(runner, cfg: Config, seed=None) -> dict:
    """One test run; with ``seed``, on a fresh test loop whose dataset draws its episodes from that seed.

    The loop, its dataloader (and workers) and its evaluator are rebuilt from the config, so nothing of the
    previous seed's run is reused; the model and its loaded weights are.
    """
    if seed is not None:
        dataloader = copy.deepcopy(cfg.test_dataloader)
        dataloader.dataset.seed = seed
        runner._test_dataloader, runner._test_loop = dataloader, copy.deepcopy(cfg.test_cfg)
    metrics = runner.test()
    class_iou = {}
    for metric in runner.test_evaluator.metrics:
        class_iou.update(getattr(metric, "class_iou", {}))
    return dict(seed=cfg.test_dataloader.dataset.get("seed") if seed is None else seed, metrics=metrics,
                class_IoU=class_iou)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.seeds:
        require_distinct_seeds(args.seeds)
    cfg = load_config(args)
    if args.checkpoint:
        require_weight_file(args.checkpoint)
    cfg.load_from, cfg.resume = None, False  # loaded strictly below, not by the Runner's lenient load_from
    dataset = cfg.test_dataloader.dataset
    if args.shot:
        dataset.shot = args.shot
    if args.episodes:
        dataset.num_episodes = args.episodes
    test_cfg = cfg.model.setdefault("test_cfg", {})
    if args.kshot_mode:
        test_cfg["kshot_mode"] = args.kshot_mode
    if args.kshot_fusion:
        test_cfg["kshot_fusion"] = args.kshot_fusion
    finetune = test_cfg.setdefault("finetune", {})
    if args.finetune_steps:
        finetune["steps"] = args.finetune_steps
    if args.finetune_lr:
        finetune["lr"] = args.finetune_lr
    if args.multi_scale:
        test_cfg["scales"] = MULTI_SCALES
    if args.precision:
        test_cfg["precision"] = args.precision
    if args.show_dir:
        show_pictures_in(cfg, args.show_dir)
    prepare_distributed(cfg)
    with checkpoint_policy(allow_full_pickle=args.unsafe_load_full_pickle):
        runner = build_runner(cfg, verbose=args.verbose)
        load_model_weights(runner.model, args.checkpoint, allow_full_pickle=args.unsafe_load_full_pickle)
        runner.logger.info(f"weights loaded from {args.checkpoint or 'the frozen weight files alone'}")
        # never calls init_weights: no pretrained file or network is needed
        runs = [test_once(runner, cfg, seed) for seed in (args.seeds or [None])]
    results = dict(metrics=runs[0]["metrics"], class_IoU=runs[0]["class_IoU"])
    if args.seeds and runner.rank == 0:
        summary = summarize_seeds(runs)
        runner.logger.info(f"test over seeds {args.seeds}:\n{format_seed_table(runs, summary)}")
        results = dict(metrics=summary, runs=runs)
    metrics = results["metrics"]
    if runner.rank == 0:
        out = args.out or osp.join(cfg.work_dir, "test_metrics.json")
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out, "w") as handle:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                           cfg_options=args.cfg_options, shot=dataset.shot,
                           kshot_mode=test_cfg.get("kshot_mode", "fusion"),
                           kshot_fusion=test_cfg.get("kshot_fusion", "mean"), finetune=finetune,
                           scales=test_cfg.get("scales", [1.0]), precision=test_cfg.get("precision", "fp32"),
                           **results), handle, indent=2)
        runner.logger.info(f"metrics written to {out}")
    finish_distributed()
    return metrics


if __name__ == "__main__":
    run_tool(main)
