"""Time and peak memory of one training step of each trained family's paper configs at their own crop and batch,
each case in a fresh process.

    python tools/benchmark_train_step.py [--configs configs/crcnet_pascal_fold0.py ...] [--device cuda]
        [--precisions fp32 fp16 bf16] [--repeats 3] [--crop N] [--batch N]

The configs are every trained family's (its ``family.py``: CRCNet, PFENet, HSNet, SANSA's adapters, ...) unless
``--configs`` names others.
A step is what the Runner does per iteration: forward of a batch of 1-shot episodes (support, its mask,
query), the model's loss, backward and an SGD step; fp16 runs with a dynamic loss scaler (as
``tools/train.py --amp`` on CUDA), bf16 without. Models have random weights (nothing is downloaded).
Latency is the median of ``--repeats`` steps after a warm-up step (CUDA events on CUDA); peak memory is
``torch.cuda.max_memory_allocated`` over the warm-up step on CUDA, the growth of resident memory on the CPU over the
built model (a fresh process per case, so one case's freed memory does not hide the next one's growth).
``--crop`` / ``--batch`` replace the configs' own (a quick look on a CPU).
"""
import argparse
import json
import os.path as osp
import subprocess
import sys

import torch
from mmengine.config import Config
from mmseg.registry import MODELS

import integrations.mmseg  # noqa: F401  (registers the host's types)
from integrations.cli import run_tool
from integrations.families import train_step_configs
from integrations.measurement import time_and_peak

PAPER_CONFIGS = train_step_configs()
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def crop_and_batch(cfg: Config) -> tuple:
    """(crop side, batch) of a config's training: its RandomCrop's size, else its Resize's scale (HSNet, SANSA), else
    its dataset's image_size."""
    dataset = cfg.train_dataloader.dataset
    pipeline = dataset.get("pipeline", [])
    sides = [max(t["crop_size"]) for t in pipeline if t.get("type") == "RandomCrop"]
    sides += [max(t["scale"]) for t in pipeline if t.get("type") == "Resize" and t.get("scale")]
    side = sides[0] if sides else int(dataset.get("image_size", 473))
    return side, int(cfg.train_dataloader.batch_size)


def build_step(cfg: Config, crop: int, batch: int, precision: str, device: str):
    """A no-argument function running one training step of the config's model on random 1-shot episodes."""
    model = MODELS.build(cfg.model.model).to(device).train()
    if precision != "fp32":
        model.to(memory_format=torch.channels_last)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(parameters, lr=1e-4, momentum=0.9)
    scaler = torch.amp.GradScaler(device, enabled=precision == "fp16")
    generator = torch.Generator().manual_seed(0)
    support, query = (torch.randn(batch, 3, crop, crop, generator=generator).to(device) for _ in range(2))
    labels = torch.zeros(batch, crop, crop, dtype=torch.long, device=device)
    labels[:, crop // 4: 3 * crop // 4, crop // 4: 3 * crop // 4] = 1
    mask = labels[:, None].float()

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(torch.device(device).type, dtype=DTYPES.get(precision), enabled=precision != "fp32"):
            output = model(query, support[:, None], mask[:, None], mask)
            loss = sum(model.loss(output, labels, labels[:, None]).values())
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return step


def run_in_fresh_process(config: str, precision: str, args) -> dict:
    """One case measured by this tool in a process of its own (``--case``), its JSON row back."""
    command = [sys.executable, __file__, "--case", "--configs", config, "--precisions", precision, "--device",
               args.device, "--repeats", str(args.repeats)]
    for flag, value in (("--crop", args.crop), ("--batch", args.batch)):
        if value:
            command += [flag, str(value)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{config} ({precision}) failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(config: str, precision: str, device: str, repeats: int, crop=None, batch=None) -> dict:
    cfg = Config.fromfile(config)
    own_crop, own_batch = crop_and_batch(cfg)
    crop, batch = crop or own_crop, batch or own_batch
    seconds, peak = time_and_peak(build_step(cfg, crop, batch, precision, device), device, repeats)
    return dict(crop=crop, batch=batch, seconds=seconds, peak_mib=peak / 2 ** 20)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=PAPER_CONFIGS)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precisions", nargs="+", choices=["fp32", "fp16", "bf16"], default=["fp32"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--crop", type=int, help="replaces each config's crop side")
    parser.add_argument("--batch", type=int, help="replaces each config's batch")
    parser.add_argument("--case", action="store_true", help=argparse.SUPPRESS)  # internal: one case, JSON out
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(measure(args.configs[0], args.precisions[0], args.device, args.repeats, args.crop,
                                 args.batch)))
        return
    print(f"training step, device {args.device}, torch {torch.__version__}, median of {args.repeats}")
    print("| config | crop | batch | precision | step (s) | peak memory (MiB) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for config in args.configs:
        for precision in args.precisions:
            row = run_in_fresh_process(config, precision, args)
            print(f"| {osp.basename(config)} | {row['crop']} | {row['batch']} | {precision} | {row['seconds']:.3g} | "
                  f"{row['peak_mib']:.0f} |", flush=True)


if __name__ == "__main__":
    run_tool(main)
