"""Peak resident memory of ``tools/infer.py`` on one generated photo of W x H pixels.

The photo cost that docs/en/user_guides/inference.md quotes:

    python tools/analysis/infer_memory.py --sizes 640x480 8000x6000 12000x9000 [--config configs/crcnet_generated.py]

Each size runs ``tools/infer.py`` once in a fresh process (a smooth photo, one box support, the config's
model with random weights exported to a temporary folder) and reports its peak resident memory
(``ru_maxrss``); the smallest photo's peak is the tool's own cost, the rest grows with the pixels.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np
import torch
from mmengine.config import Config

from integrations.cli import run_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def peak_of_infer(config: str, weights: str, support: str, photo: str, out: str) -> int:
    """Peak resident bytes of one tools/infer.py run (a child of a process that started no other)."""
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)")
    command = [sys.executable, os.path.join(ROOT, "tools", "infer.py"), "--config", config, "--checkpoint", weights,
               "--support", support, "10,10,80,70", "--query", photo, "--out", out]
    return int(subprocess.run([sys.executable, "-c", probe, *command], check=True, capture_output=True, text=True,
                              cwd=ROOT).stdout)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["640x480", "12000x9000"], help="WxH of each photo")
    parser.add_argument("--config", default=os.path.join(ROOT, "configs", "crcnet_generated.py"))
    args = parser.parse_args(argv)
    import integrations.mmseg  # noqa: F401  (registers the host's types)
    from crc_modules.registry import MODELS
    from integrations.mmseg.engine.checkpoint import export_weights

    with tempfile.TemporaryDirectory() as folder:
        torch.manual_seed(0)
        weights = export_weights(MODELS.build(Config.fromfile(args.config).model), os.path.join(folder, "w.pth"))
        small = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 255, (90, 120, 3), np.uint8), (5, 5), 0)
        support = os.path.join(folder, "support.jpg")
        cv2.imwrite(support, small)
        print(f"tools/infer.py, {os.path.basename(args.config)}, torch {torch.__version__}")
        print("| photo | pixels | peak resident memory (MiB) |\n| --- | --- | --- |")
        for size in args.sizes:
            width, height = (int(side) for side in size.split("x"))
            photo = os.path.join(folder, f"photo_{size}.jpg")
            cv2.imwrite(photo, cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR))
            peak = peak_of_infer(args.config, weights, support, photo, os.path.join(folder, "out"))
            os.remove(photo)
            print(f"| {size} | {width * height / 1e6:.1f} MP | {peak / 2 ** 20:.0f} |", flush=True)


if __name__ == "__main__":
    run_tool(main)
