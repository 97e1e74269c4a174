"""The GPU tools on a machine without a GPU (issue 21): the training-step benchmark runs on the CPU, and
tools/gpu_check.sh and ``pytest -m cuda`` skip cleanly."""
import os
import re
import subprocess
import sys

from tests.tool_modules import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NO_GPU = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}


def test_the_training_step_benchmark_times_every_trained_family_each_case_in_a_fresh_process():
    """Before: one process for all cases, so the peak-memory column read 1-8 MiB after the first case."""
    configs = ["configs/crcnet_generated.py", "configs/crcnet_generated.py", "configs/pfenet_generated.py",
               "configs/hsnet_generated.py", "configs/sansa_generated.py"]
    result = subprocess.run([sys.executable, "tools/benchmark_train_step.py", "--configs", *configs, "--repeats", "1",
                             "--batch", "1", "--crop", "41"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600, env=NO_GPU)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = re.findall(r"^\| (\w+\.py) \| 41 \| 1 \| fp32 \| ([\d.e-]+) \| (-?\d+) \|$", result.stdout, re.M)
    assert [row[0] for row in rows] == [os.path.basename(config) for config in configs]
    assert all(float(seconds) > 0 for _, seconds, _ in rows)
    first, again = int(rows[0][2]), int(rows[1][2])  # the same case twice: the same growth, not what is left over
    assert first > 10 and again > first / 2


def test_the_paper_configs_train_at_their_own_crop_and_batch():
    benchmark = load_tool("benchmark_train_step")
    from mmengine.config import Config

    sizes = {os.path.basename(c): benchmark.crop_and_batch(Config.fromfile(os.path.join(ROOT, c)))
             for c in benchmark.PAPER_CONFIGS}
    assert sizes["crcnet_pascal_fold0.py"] == (321, 8) and sizes["pfenet_pascal_fold0.py"] == (473, 4)
    assert sizes["pfenet_coco_fold0.py"] == (641, 8)
    # every trained family's (its family.py): HSNet and SANSA resize rather than crop
    assert sizes["hsnet_pascal_fold0.py"] == (400, 20) and sizes["sansa_coco_fold0.py"] == (640, 32)


def test_gpu_check_says_there_is_no_gpu_and_exits_0():
    result = subprocess.run(["bash", "tools/gpu_check.sh"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**NO_GPU, "PYTHON": sys.executable})
    assert result.returncode == 0 and "no CUDA device visible" in result.stdout


def test_the_cuda_tests_are_registered_and_skip_without_a_gpu():
    result = subprocess.run([sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider",
                             "-W", "error::pytest.PytestUnknownMarkWarning", "tests/test_cuda.py"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120, env=NO_GPU)
    assert result.returncode == 0, result.stdout[-2000:]
    assert re.search(r"\b\d+ skipped", result.stdout)
    assert "passed" not in result.stdout and "failed" not in result.stdout
