"""GPU checks (issue 21): the hosted families train, test, infer and finetune on CUDA as on the CPU.

Marked ``cuda`` and skipped without a CUDA device: ``pytest -m cuda`` (or ``tools/gpu_check.sh``) on a
machine with a GPU. Each test runs the tools on tiny generated data, as ``tests/test_tools.py`` does.

Tolerances against the CPU's fp32 (6 test episodes of 48x48 scenes; a handful of flipped pixels moves
mIoU by tenths of a point): CUDA fp32 (TF32 off) within 0.5 mIoU / FB-IoU points, fp16 within 2, bf16
within 4 (8 mantissa bits); k-shot finetuning's probabilities within 2e-3 in fp32.
Reading: the issue asks for "a stated tolerance"; these bound kernel-order differences of fp32 and the
rounding of fp16/bf16 autocast on a briefly trained tiny model, not accuracy on real data.
"""
import ast
import json
import os
import re
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CUDA = "cuda"
pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

_DATA = [
    "train_dataloader.dataset.images_per_class=1", "train_dataloader.dataset.num_episodes=32",
    "train_dataloader.dataset.image_size=48", "train_dataloader.batch_size=4",
    "val_dataloader.dataset.image_size=48", "val_dataloader.dataset.num_episodes=4",
    "val_dataloader.dataset.images_per_class=4", "test_dataloader.dataset.image_size=48",
    "test_dataloader.dataset.images_per_class=4", "test_dataloader.dataset.num_episodes=6",
    "train_cfg.max_epochs=1", "param_scheduler.0.end=1",
]
# one tiny model per hosted family: config -> model options that shrink it (adding a family is one line)
FAMILIES = {
    "crcnet_generated.py": ["model.model.refine_steps=2", "model.model.channels=16"],
    "pfenet_generated.py": [],
    "hsnet_generated.py": [],
}
TOLERANCE = {"fp32": 0.5, "fp16": 2.0, "bf16": 4.0}  # mIoU / FB-IoU points against the CPU's fp32
CPU_ONLY = {"CUDA_VISIBLE_DEVICES": ""}


def _options(config):
    return ["--cfg-options", *_DATA, *FAMILIES[config]]


def _run(args, env=None, timeout=600):
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "OMP_NUM_THREADS": "2", **(env or {})})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def _config(name):
    return os.path.join(ROOT, "configs", name)


def _bf16_or_skip():
    if not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def trained(request, tmp_path_factory):
    """(config, work dir, log) of a tiny model trained with ``tools/train.py --amp`` (fp16, loss scaling) on CUDA."""
    work_dir = tmp_path_factory.mktemp(request.param.replace(".py", ""))
    log = _run(["tools/train.py", _config(request.param), "--amp", "--work-dir", str(work_dir),
                *_options(request.param)])
    return request.param, work_dir, log


def _test_metrics(config, weights, work_dir, *flags, env=None):
    out = work_dir / "metrics.json"
    _run(["tools/test.py", _config(config), str(weights), "--work-dir", str(work_dir), "--out", str(out), *flags,
          *_options(config)], env=env)
    return json.loads(out.read_text())["metrics"]


def test_amp_training_on_cuda_uses_loss_scaling_and_gives_finite_losses(trained):
    config, work_dir, log = trained
    (log_file,) = work_dir.glob("*/*.log")
    full_log = log_file.read_text()
    assert "AmpOptimWrapper" in full_log and "loss_scale" in full_log and "cuda" in full_log.lower()
    losses = [float(value) for value in re.findall(r"\bloss: ([-\d.e+naif]+)", log)]
    assert losses and all(np.isfinite(losses)), losses
    weights = torch.load(work_dir / "weights.pth", weights_only=True)["state_dict"]
    assert all(torch.isfinite(value).all() for value in weights.values() if value.is_floating_point())


def test_bf16_amp_training_on_cuda(trained, tmp_path):
    _bf16_or_skip()
    config, _, _ = trained
    log = _run(["tools/train.py", _config(config), "--amp", "--work-dir", str(tmp_path), *_options(config),
                "optim_wrapper.dtype=bfloat16"])
    losses = [float(value) for value in re.findall(r"\bloss: ([-\d.e+naif]+)", log)]
    assert losses and all(np.isfinite(losses)), losses


@pytest.fixture(scope="module")
def cpu_metrics(trained, tmp_path_factory):
    """The reference: tools/test.py in fp32 on the CPU (CUDA hidden), once per family."""
    config, work_dir, _ = trained
    return _test_metrics(config, work_dir / "weights.pth", tmp_path_factory.mktemp("cpu"), "--precision", "fp32",
                         env=CPU_ONLY)


@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
def test_testing_on_cuda_matches_the_cpu_fp32_within_the_stated_tolerance(trained, cpu_metrics, tmp_path, precision):
    if precision == "bf16":
        _bf16_or_skip()
    config, work_dir, _ = trained
    cpu = cpu_metrics
    gpu = _test_metrics(config, work_dir / "weights.pth", tmp_path / "gpu", "--precision", precision,
                        env={"NVIDIA_TF32_OVERRIDE": "0"})
    assert gpu["episodes"] == cpu["episodes"] == 6
    for name in ("mIoU", "FB-IoU"):
        assert abs(gpu[name] - cpu[name]) <= TOLERANCE[precision], (name, precision, gpu[name], cpu[name])


def test_infer_on_cuda_gives_the_cpus_masks(trained, tmp_path):
    config, work_dir, _ = trained
    rng = np.random.default_rng(0)
    for name in ("support.jpg", "queries/a.jpg", "queries/b.png"):
        os.makedirs(os.path.dirname(tmp_path / name), exist_ok=True)
        cv2.imwrite(str(tmp_path / name), cv2.GaussianBlur(rng.integers(0, 255, (60, 90, 3), np.uint8), (7, 7), 0))
    shrunk = Config.fromfile(_config(config))  # tools/infer.py takes no --cfg-options: a config file with them
    shrunk.merge_from_dict({key: ast.literal_eval(value) for key, value in
                            (option.split("=", 1) for option in FAMILIES[config])})
    shrunk.dump(str(tmp_path / config))
    masks = {}
    for device in ("cpu", CUDA):
        out = tmp_path / device
        _run(["tools/infer.py", "--config", str(tmp_path / config), "--checkpoint", str(work_dir / "weights.pth"),
              "--support", str(tmp_path / "support.jpg"), "10,10,60,50", "--query", str(tmp_path / "queries"),
              "--out", str(out), "--device", device, "--precision", "fp32"],
             env={**(CPU_ONLY if device == "cpu" else {}), "NVIDIA_TF32_OVERRIDE": "0"})
        masks[device] = [cv2.imread(str(out / f"{stem}_mask.png"), cv2.IMREAD_GRAYSCALE) for stem in ("a", "b")]
    for cpu, gpu in zip(masks["cpu"], masks[CUDA]):
        assert cpu.shape == gpu.shape == (60, 90) and (cpu != gpu).mean() <= 0.01


def test_kshot_finetuning_on_cuda_equals_the_cpu_within_tolerance():
    from crc_modules import KShotPredictor
    from tests.conftest import tiny_crcnet

    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    model = tiny_crcnet().eval()
    generator = torch.Generator().manual_seed(0)
    supports, query = torch.randn(3, 3, 65, 65, generator=generator), torch.randn(1, 3, 65, 65, generator=generator)
    labels = torch.zeros(3, 65, 65, dtype=torch.long)
    labels[:, 15:50, 10:45] = 1
    predictor = KShotPredictor("both", steps=3)
    on_cpu = predictor(model, supports, labels, query)
    on_gpu = predictor(model.to(CUDA), supports.to(CUDA), labels.to(CUDA), query.to(CUDA))
    assert on_gpu.device.type == CUDA
    assert (on_gpu.cpu() - on_cpu).abs().max() < 2e-3
    assert not torch.equal(on_cpu, KShotPredictor("fusion")(model.cpu(), supports, labels, query))  # it finetuned


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_torchrun_with_one_process_trains_over_nccl(tmp_path):
    config = "crcnet_generated.py"
    log = _run(["-m", "torch.distributed.run", "--nproc_per_node", "1", f"--master_port={_free_port()}",
                "tools/train.py", _config(config), "--launcher", "pytorch", "--work-dir", str(tmp_path),
                *_options(config)])
    assert "Epoch(train) [1][8/8]" in log  # 32 episodes, batch 4, one process
    (log_file,) = tmp_path.glob("*/*.log")
    assert re.search(r"backend.{0,8}nccl", log_file.read_text())
    assert torch.load(tmp_path / "weights.pth", weights_only=True)["state_dict"]
