"""Time and peak memory of a run, as the benchmarks measure them (``tools/benchmark.py`` per episode,
``tools/benchmark_train_step.py`` per training step): the median of timed runs after a warm-up run (CUDA events on
CUDA), and the warm-up run's peak memory (``torch.cuda.max_memory_allocated`` on CUDA, on the CPU the growth of
the process's resident memory, sampled every millisecond).
"""
import resource
import threading
import time

import torch


def resident_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


class ResidentPeak:
    """The highest resident memory of this process inside the block, sampled every millisecond."""

    def __enter__(self):
        self.peak, self._running = resident_bytes(), True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while self._running:
            self.peak = max(self.peak, resident_bytes())
            time.sleep(0.001)

    def __exit__(self, *exc):
        self._running = False
        self._thread.join()


def time_and_peak(run, device: str, repeats: int) -> tuple:
    """(median seconds of ``repeats`` runs after a warm-up run, peak bytes of the warm-up run) of ``run()``."""
    on_cuda = torch.device(device).type == "cuda"
    if on_cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        run()  # the warm-up: kernels chosen, caches filled
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
    else:
        before = resident_bytes()
        with ResidentPeak() as sampled:
            run()
        peak = sampled.peak - before
    times = sorted(cuda_seconds(run, device) if on_cuda else wall_seconds(run) for _ in range(repeats))
    return times[len(times) // 2], peak


def wall_seconds(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def cuda_seconds(run, device: str) -> float:
    """GPU time of one run between two CUDA events (the host's launch overhead included, queued work excluded)."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    run()
    end.record()
    torch.cuda.synchronize(device)
    return start.elapsed_time(end) / 1000
