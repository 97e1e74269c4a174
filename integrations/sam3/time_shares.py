"""Where an FSS-SAM3 query's time goes: the whole query against SAM 3's image encoder (``backbone.forward_image``,
once per query on the canvas), SAM 3 as released with random weights, 1 and 5 shots:

    python -m integrations.sam3.time_shares [--precisions fp32 bf16] [--threads 2]

Each row is the second of two runs (the first warms up).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from crc_modules.precision import PRECISIONS, autocast, resolve_precision

from .model import FSSSAM3


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["fp32", "bf16"])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = FSSSAM3().eval()
    spent = {"encoder": 0.0}
    encode = model.sam3.backbone.forward_image

    def timed_encode(*inputs, **kwargs):
        start = time.perf_counter()
        try:
            return encode(*inputs, **kwargs)
        finally:
            spent["encoder"] += time.perf_counter() - start
    model.sam3.backbone.forward_image = timed_encode
    rng = np.random.default_rng(0)
    query = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    supports = [rng.integers(0, 256, (500, 375, 3), dtype=np.uint8) for _ in range(5)]
    print(f"{args.threads} threads; seconds per query")
    print("| shots | precision | query (s) | image encoder (s) | encoder's share |")
    print("| --- | --- | --- | --- | --- |")
    for precision in args.precisions:
        resolved = resolve_precision(precision, torch.device("cpu"))
        for shots in (1, 5):
            for _ in range(2):  # a warm-up, then the measured run
                spent["encoder"] = 0.0
                start = time.perf_counter()
                with torch.no_grad(), autocast(resolved, torch.device("cpu")):
                    model.segment(query, supports[:shots], [[[40.0, 50.0, 200.0, 300.0]]] * shots)
                total = time.perf_counter() - start
            print(f"| {shots} | {resolved} | {total:.1f} | {spent['encoder']:.1f} | "
                  f"{100 * spent['encoder'] / total:.0f}% |", flush=True)


if __name__ == "__main__":
    main()
