"""Folder inference on several processes (issue 32, part 3): tools/dist_infer.sh shares the queries among two gloo
processes on the CPU, every output is written once and equals a single-process run, one summary is printed, and a
rerun with the same settings completes what a killed run left while one with other settings replaces everything."""
import os
import socket
import subprocess
import sys
from collections import Counter

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

import integrations.mmseg  # noqa: F401
from crc_modules.registry import MODELS
from integrations.mmseg.apis.infer_outputs import WRITTEN_LIST, shard
from integrations.mmseg.engine.checkpoint import export_weights

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "crcnet_generated.py")
QUERIES = [f"q{index}" for index in range(5)]
EVERY_OUTPUT_ONCE = {f"{name}{suffix}": 1 for name in QUERIES for suffix in ("_mask.png", "_overlay.png")}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist_infer")
    torch.manual_seed(0)
    export_weights(MODELS.build(Config.fromfile(CONFIG).model), str(root / "weights.pth"))
    rng = np.random.default_rng(1)
    os.makedirs(root / "queries")
    for path in ["s1.jpg", "s2.jpg"] + [f"queries/{name}.jpg" for name in QUERIES]:
        cv2.imwrite(str(root / path), rng.integers(0, 255, (40, 56, 3), dtype=np.uint8))
    mask = np.zeros((40, 56), np.uint8)
    mask[10:30, 12:40] = 255
    cv2.imwrite(str(root / "s1_mask.png"), mask)
    return root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(files, out, processes=2, support=("s1.jpg", "s1_mask.png")):
    arguments = ["--support", str(files / support[0]), str(files / support[1]) if support[1].endswith(".png")
                 else support[1], "--query", str(files / "queries"), "--out", str(out)]
    if processes == 1:
        command = [sys.executable, "tools/infer.py", "--config", CONFIG, "--checkpoint", str(files / "weights.pth"),
                   *arguments]
    else:
        command = ["bash", "tools/dist_infer.sh", CONFIG, str(files / "weights.pth"), str(processes), *arguments]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "PORT": str(free_port()),
                                 "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


def masks(out):
    return {name: cv2.imread(str(out / f"{name}_mask.png"), cv2.IMREAD_GRAYSCALE) for name in QUERIES}


def writes(out) -> Counter:
    return Counter((out / WRITTEN_LIST).read_text().split())


def test_two_processes_write_each_output_once_and_as_one_process_does(files, tmp_path):
    single, shared = tmp_path / "single", tmp_path / "shared"
    run(files, single, processes=1)
    printed = run(files, shared)
    assert printed.count("queries segmented into") == 1  # one summary, from rank 0
    assert f"5 of 5 queries segmented into {shared} (2 processes)" in printed
    assert writes(shared) == EVERY_OUTPUT_ONCE
    assert all(np.array_equal(masks(shared)[name], masks(single)[name]) for name in QUERIES)


def test_a_rerun_completes_a_killed_run_and_other_settings_replace_the_outputs(files, tmp_path):
    out = tmp_path / "out"
    run(files, out)
    expected = masks(out)
    for name in ("q1", "q3"):  # what a process killed before these queries leaves: no file, and its temporaries
        for suffix in ("_mask.png", "_overlay.png"):
            os.remove(out / f"{name}{suffix}")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = out / f".q1_mask.png.{dead.pid}.crc-infer.tmp"
    stale.write_bytes(b"half a png")
    before = writes(out)
    printed = run(files, out)
    assert "2 of 5 queries segmented" in printed and "3 already complete from an earlier run" in printed
    assert writes(out) - before == {"q1_mask.png": 1, "q1_overlay.png": 1, "q3_mask.png": 1, "q3_overlay.png": 1}
    assert all(np.array_equal(masks(out)[name], expected[name]) for name in QUERIES) and not stale.exists()

    before = writes(out)
    printed = run(files, out, support=("s2.jpg", "5,5,30,25"))  # another support: every output is replaced
    assert "5 of 5 queries segmented" in printed
    assert writes(out) - before == EVERY_OUTPUT_ONCE


def test_shards_cover_every_query_once():
    items = [f"q{index}" for index in range(7)]
    shares = [shard(items, rank, 3) for rank in range(3)]
    assert sorted(sum(shares, [])) == sorted(items) and [len(share) for share in shares] == [3, 2, 2]


def test_a_query_counts_as_complete_only_with_both_outputs_listed_newer_than_it_and_the_same_fingerprint(tmp_path):
    from integrations.mmseg.apis.infer_outputs import completed_queries, record_run

    queries = {name: tmp_path / f"{name}.jpg" for name in ("a", "b", "c")}
    for path in queries.values():
        path.write_bytes(b"image")
    outputs = {str(path): [str(tmp_path / f"{name}_mask.png"), str(tmp_path / f"{name}_overlay.png")]
               for name, path in queries.items()}
    for paths in outputs.values():
        for path in paths:
            with open(path, "wb") as handle:
                handle.write(b"png")
    (tmp_path / WRITTEN_LIST).write_text("a_mask.png\na_overlay.png\nb_mask.png\nb_overlay.png\nc_mask.png\n")
    record_run(str(tmp_path), "same")
    later = os.path.getmtime(outputs[str(queries["b"])][0]) + 10
    os.utime(queries["b"], (later, later))  # the image changed after its outputs were written
    assert completed_queries(outputs, str(tmp_path), "same") == [str(queries["a"])]  # c: its overlay is not listed
    assert completed_queries(outputs, str(tmp_path), "other settings") == []
