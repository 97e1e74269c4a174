"""Per-episode latency and peak memory of every hosted family's cases (its ``family.py``), each in a fresh process.

    python tools/benchmark.py [--sizes 321 473] [--repeats 3] [--precisions fp32 auto] [--queries 8] [--device cpu]

Models are the paper configs' (ResNet-50, random weights: nothing is downloaded) with their k-shot settings
(HSNet: its PASCAL config with ResNet-50, 5 shots fused by its vote; its own test size is 400: ``--sizes 400``).
Latency is the median of ``--repeats`` runs after a warm-up run, on CUDA timed by CUDA events around each
run (``--device cuda``; bf16 / fp16 autocast with channels_last weights). Peak memory is the case's own: on
CUDA ``torch.cuda.max_memory_allocated`` over the warm-up run, on the CPU the growth of the process's resident
memory over the built model during the first run (sampled every millisecond). One training step per paper
config is ``tools/benchmark_train_step.py``. The folder case prepares one 5-shot support set (finetuned
once) and segments ``--queries`` queries. Ratios are to CRCNet 1-shot and to PFENet 1-shot in fp32 at the
same input size. A further query (the support set prepared once) is timed on its own too, with the share of it
spent in the model's image encoders (:attr:`~crc_modules.EpisodeModel.image_encoders`; foundation families).
"""
import argparse
import json
import subprocess
import sys
import time

import torch
from mmengine.config import Config

import integrations.mmseg  # noqa: F401  (registers the host's types)
from crc_modules import MULTI_SCALES
from crc_modules.precision import PRECISIONS, resolve_precision
from integrations.cli import run_tool
from integrations.families import benchmark_cases
from integrations.measurement import cuda_seconds, time_and_peak, wall_seconds
from integrations.mmseg.models.segmentor import FewShotSegmentor

# case -> its config, shots, k-shot mode, overrides: every family's rows (its ``family.py``)
CASES = benchmark_cases()
FOLDER_CASE = next(name for name, case in CASES.items() if case.folder)


def episode(shots: int, size: int, device: str, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    supports = torch.randn(shots, 3, size, size, generator=generator).to(device)
    labels = torch.zeros(shots, size, size, dtype=torch.long, device=device)
    labels[:, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1
    return supports, labels, torch.randn(1, 3, size, size, generator=generator).to(device)


def build_case(name: str, size: int, precision: str, device: str, queries: int):
    """(a no-argument function running one case once, one running a further query of the prepared support set, the
    segmentor)."""
    case = CASES[name]
    cfg = Config.fromfile(case.config)  # imports the config's custom_imports: its family's package
    cfg.merge_from_dict(dict(case.overrides))
    segmentor = FewShotSegmentor.build(cfg, kshot_mode=case.mode,
                                       scales=MULTI_SCALES if case.multi_scale else None, precision=precision)
    segmentor.to(device).eval()
    supports, labels, query = episode(case.shots, size, device)
    folder_queries = [episode(1, size, device, seed)[2] for seed in range(1, queries + 1)] if case.folder else [query]

    def segment_queries():
        support_set = segmentor.prepare_supports(supports, labels)
        for each_query in folder_queries:
            support_set.predict(each_query)

    prepared = []

    def further_query():
        if not prepared:
            prepared.append(segmentor.prepare_supports(supports, labels))
            prepared[0].predict(query)  # the support set's encoding and a first query are not timed
        prepared[0].predict(query)
    return segment_queries, further_query, segmentor


class EncoderClock:
    """Seconds spent in a model's image encoders (the callables its ``image_encoders`` name), while the block runs."""

    def __init__(self, model: torch.nn.Module, device: str):
        self.seconds, self.device = 0.0, torch.device(device)
        self.wrapped = [path for path in type(model).image_encoders if self._wrap(model, path)]

    def _wrap(self, model, path: str) -> bool:
        """Time the callable at ``path``; False where the built model has no such part."""
        owner_path, _, name = path.rpartition(".")
        try:
            owner = model.get_submodule(owner_path) if owner_path else model
        except AttributeError:
            return False
        function = getattr(owner, name, None)
        if function is None:
            return False

        def timed(*args, **kwargs):
            self._sync()
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._sync()
                self.seconds += time.perf_counter() - start
        setattr(owner, name, timed)
        return True

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def measure_case(name: str, size: int, precision: str, device: str, repeats: int, queries: int) -> dict:
    """{seconds, peak_mib, query_seconds, encoder_share} of one case in this (fresh) process; the share is None for
    a model that names no image encoders."""
    episode_run, further_query, segmentor = build_case(name, size, precision, device, queries)
    seconds, peak = time_and_peak(episode_run, device, repeats)
    clock = EncoderClock(segmentor.model, device)
    further_query()  # prepares the support set and runs a first query
    runs = []
    for _ in range(repeats):
        clock.seconds = 0.0
        runs.append((wall_seconds(further_query) if torch.device(device).type == "cpu"
                     else cuda_seconds(further_query, device), clock.seconds))
    query_seconds, encoder_seconds = sorted(runs)[len(runs) // 2]
    share = encoder_seconds / query_seconds if clock.wrapped else None
    return dict(seconds=seconds, peak_mib=peak / 2 ** 20, query_seconds=query_seconds, encoder_share=share)


def run_in_fresh_process(name: str, size: int, precision: str, args) -> dict:
    command = [sys.executable, __file__, "--case", name, "--sizes", str(size), "--precisions", precision,
               "--repeats", str(args.repeats), "--queries", str(args.queries), "--device", args.device]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"case {name!r} at {size} ({precision}) failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[321, 473])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["fp32", "auto"])
    parser.add_argument("--queries", type=int, default=8, help="queries of the folder case")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--case", choices=list(CASES), help=argparse.SUPPRESS)  # internal: one case, JSON out
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(measure_case(args.case, args.sizes[0], args.precisions[0], args.device, args.repeats,
                                      args.queries)))
        return
    precisions = list(dict.fromkeys(resolve_precision(p, torch.device(args.device)) for p in args.precisions))
    skipped = [p for p in args.precisions if p != "fp32" and resolve_precision(p, torch.device(args.device)) == "fp32"]
    print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, median of "
          f"{args.repeats}, folder of {args.queries} queries" +
          (f"; {'/'.join(skipped)} is fp32 on this device (no fast bf16), so its rows are the fp32 rows"
           if skipped else ""))
    print("| case | input | precision | latency (s) | x CRCNet 1-shot | x PFENet 1-shot fp32 | peak memory (MiB) | "
          "further query (s) | image encoders' share |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in args.sizes:
        rows = {(name, precision): run_in_fresh_process(name, size, precision, args)
                for precision in precisions for name in args.cases}
        pfenet = rows.get(("PFENet 1-shot", "fp32"), {}).get("seconds")
        for (name, precision), row in rows.items():
            crcnet = rows.get(("CRCNet 1-shot", precision), {}).get("seconds")
            ratios = [f"{row['seconds'] / reference:.2f}" if reference else "-" for reference in (crcnet, pfenet)]
            share = "-" if row["encoder_share"] is None else f"{100 * row['encoder_share']:.0f}%"
            print(f"| {name} | {size} | {precision} | {row['seconds']:.3g} | {ratios[0]} | {ratios[1]} | "
                  f"{row['peak_mib']:.0f} | {row['query_seconds']:.3g} | {share} |", flush=True)
        for precision in precisions:
            print_folder_cost(rows, size, precision, args.queries)


def print_folder_cost(rows: dict, size: int, precision: str, queries: int) -> None:
    """The folder case against its budget: one 5-shot finetune episode + N x 1.2 x a 1-shot episode."""
    names = (FOLDER_CASE, "CRCNet 5-shot finetune", "CRCNet 1-shot")
    if any((name, precision) not in rows for name in names):
        return
    folder, finetune, one_shot = (rows[(name, precision)]["seconds"] for name in names)
    budget = finetune + queries * 1.2 * one_shot
    print(f"folder at {size} ({precision}): {folder:.2f} s for {queries} queries; budget one finetune episode + "
          f"{queries} x 1.2 x 1-shot = {budget:.2f} s ({folder / budget:.2f} of it)")


if __name__ == "__main__":
    run_tool(main)
