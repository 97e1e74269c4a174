"""Does the model use its support? ``python tools/analysis/support_sensitivity.py CONFIG CHECKPOINT [--shot K]``

On the config's test episodes: mIoU and FB-IoU with the correct supports, with supports of another class of
the split (images without the target), with empty and with full support masks, and two baselines that never
look at the support (all foreground; every object pixel, on datasets with full label maps). Prints a table
and writes JSON (default: WORK_DIR/support_sensitivity.json).
"""
import argparse
import json
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmseg.registry import DATASETS

import integrations.mmseg  # noqa: F401  (registers the host's types)
from integrations.cli import run_tool
from integrations.mmseg.apis.support_sensitivity import format_table, support_sensitivity
from integrations.mmseg.engine.launch import default_run_name
from integrations.mmseg.engine.run_options import resolve_config
from integrations.mmseg.models.segmentor import FewShotSegmentor


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("checkpoint", help="weights.pth from tools/train.py, or an MMEngine checkpoint")
    parser.add_argument("--shot", type=int, help="supports per episode (default: the config's)")
    parser.add_argument("--kshot-mode", choices=("fusion", "finetune", "both"), help="k-shot inference (Table 4)")
    parser.add_argument("--episodes", type=int, help="score the first N test episodes (default: all)")
    parser.add_argument("--out", help="JSON file (default: work_dirs/<config>/support_sensitivity.json)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={})
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = resolve_config(Config.fromfile(args.config), args.cfg_options)
    segmentor = FewShotSegmentor.from_config(cfg, args.checkpoint, kshot_mode=args.kshot_mode).to(args.device)
    dataset_cfg = cfg.test_dataloader.dataset
    if args.shot:
        dataset_cfg.shot = args.shot
    dataset = DATASETS.build(dataset_cfg)
    results = support_sensitivity(segmentor, dataset, args.episodes)
    print(f"{args.config}, {args.checkpoint}, {dataset.shot}-shot:\n{format_table(results)}")
    out = args.out or osp.join("work_dirs", default_run_name(args.config, args.cfg_options.get("fold")),
                               "support_sensitivity.json")
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, "w") as handle:
        json.dump(dict(config=args.config, checkpoint=args.checkpoint, shot=dataset.shot, rows=results), handle,
                  indent=2)
    print(f"written to {out}")
    return results


if __name__ == "__main__":
    run_tool(main)
