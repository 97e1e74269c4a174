"""Per-episode latency and peak memory of CRCNet (1-shot, 5-shot fusion / finetune, multi-scale) and PFENet.

    python tools/benchmark.py [--sizes 321 473] [--repeats 3] [--device cpu]

Models are built with random weights (nothing is downloaded); the numbers are for the current device.
Peak memory is ``torch.cuda.max_memory_allocated`` on CUDA and, on the CPU, the peak resident memory of
the process during the episode, weights included (sampled every 2 ms).
"""
import argparse
import threading
import time

import torch

from crc_modules import MULTI_SCALES, CRCNet, KShotPredictor
from integrations.pfenet import PFENet

PAGE_BYTES = 4096


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE_BYTES


class PeakMemory:
    """Peak memory over a block: CUDA allocator peak, or the sampled resident set of the process on the CPU."""

    def __init__(self, device: str):
        self.device, self.peak, self._running = device, 0, False

    def _sample(self) -> None:
        while self._running:
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(0.002)

    def __enter__(self):
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        else:
            self._running = True
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._running = False
            self._thread.join()


def episode(shots: int, size: int, device: str):
    supports = torch.randn(shots, 3, size, size, device=device)
    labels = torch.zeros(shots, size, size, dtype=torch.long, device=device)
    labels[:, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1
    return supports, labels, torch.randn(1, 3, size, size, device=device)


def measure(run, repeats: int, device: str):
    """(median seconds, peak MiB) of ``run()`` after one warm-up call."""
    run()
    times, peak = [], 0
    for _ in range(repeats):
        with PeakMemory(device) as memory:
            start = time.perf_counter()
            run()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        peak = max(peak, memory.peak)
    return sorted(times)[len(times) // 2], peak / 2 ** 20


def cases(size: int, device: str, finetune_steps: int):
    crcnet = CRCNet(encoder=dict(backbone="resnet50")).to(device).eval()
    pfenet = PFENet(layers=50).to(device).eval()
    one, five = episode(1, size, device), episode(5, size, device)
    fusion = KShotPredictor("fusion")
    finetune = KShotPredictor("finetune", steps=finetune_steps)
    yield "CRCNet 1-shot", lambda: fusion(crcnet, *one)
    yield "CRCNet 5-shot fusion", lambda: fusion(crcnet, *five)
    yield f"CRCNet 5-shot finetune ({finetune_steps} steps)", lambda: finetune(crcnet, *five)
    multi_scale = KShotPredictor("fusion", scales=MULTI_SCALES)
    yield "CRCNet 1-shot multi-scale (0.75, 1, 1.25)", lambda: multi_scale(crcnet, *one)
    yield "PFENet 1-shot", lambda: fusion(pfenet, *one)
    yield "PFENet 5-shot", lambda: fusion(pfenet, *five)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[321, 473])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--finetune-steps", type=int, default=10)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    print(f"device: {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"median of {args.repeats}")
    print(f"| {'case':<44} | {'input':>7} | {'latency (s)':>11} | {'peak memory (MiB)':>17} |")
    print(f"|{'-' * 46}|{'-' * 9}|{'-' * 13}|{'-' * 19}|")
    with torch.no_grad():
        for size in args.sizes:
            for name, run in cases(size, args.device, args.finetune_steps):
                seconds, mebibytes = measure(run, args.repeats, args.device)
                print(f"| {name:<44} | {size:>7} | {seconds:>11.2f} | {mebibytes:>17.0f} |", flush=True)


if __name__ == "__main__":
    main()
