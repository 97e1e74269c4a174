"""tools/train.py and tools/test.py through MMEngine's Runner on a tiny generated set (issue 4)."""
import json
import os
import re
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from tests.tool_modules import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "crcnet_generated.py")
TINY = [
    "train_dataloader.dataset.images_per_class=1", "train_dataloader.dataset.num_episodes=60",
    "train_dataloader.dataset.image_size=48",
    "train_dataloader.batch_size=4", "val_dataloader.dataset.image_size=48", "val_dataloader.dataset.num_episodes=4",
    "val_dataloader.dataset.images_per_class=4", "test_dataloader.dataset.image_size=48",
    "test_dataloader.dataset.images_per_class=4", "test_dataloader.dataset.num_episodes=6",
    "model.model.refine_steps=2", "model.model.channels=16", "train_cfg.val_interval=1",
]


def _run(args, env=None, timeout=600):
    result = subprocess.run([sys.executable] + args, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def _train(work_dir, epochs, *extra):
    return _run(["tools/train.py", CONFIG, "--work-dir", str(work_dir), *extra,
                 "--cfg-options", *TINY, f"train_cfg.max_epochs={epochs}", f"param_scheduler.0.end={epochs}"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("train")
    log = _train(work_dir, 1)
    return work_dir, log


def test_train_logs_losses_and_exports_weights_that_load_with_weights_only(trained):
    work_dir, log = trained
    assert "loss_query" in log and "loss_support_aux" in log and "mIoU" in log
    assert "torch CPU threads: 1 (OMP_NUM_THREADS)" in log
    weights = torch.load(os.path.join(work_dir, "weights.pth"), weights_only=True)
    assert any(k.startswith("model.refinement.") for k in weights["state_dict"])


def test_test_tool_writes_metrics_and_one_picture_per_episode(trained, tmp_path):
    work_dir, _ = trained
    out = tmp_path / "metrics.json"
    _run(["tools/test.py", CONFIG, str(work_dir / "weights.pth"), "--work-dir", str(tmp_path), "--show-dir",
          str(tmp_path / "pictures"), "--shot", "2", "--kshot-mode", "both", "--finetune-steps", "2",
          "--multi-scale", "--out", str(out), "--cfg-options", *TINY])
    result = json.loads(out.read_text())
    assert result["shot"] == 2 and result["kshot_mode"] == "both" and result["scales"] == [0.75, 1.0, 1.25]
    assert 0 <= result["metrics"]["mIoU"] <= 100 and result["metrics"]["episodes"] == 6
    pictures = sorted(os.listdir(tmp_path / "pictures"))
    assert pictures == sorted(f"episode_{i}.png" for i in range(6))


def test_test_tool_refuses_weights_of_another_model_config_naming_the_file_and_keys(trained, tmp_path):
    work_dir, _ = trained
    weights = str(work_dir / "weights.pth")
    result = subprocess.run([sys.executable, "tools/test.py", CONFIG, weights, "--work-dir", str(tmp_path),
                             "--cfg-options", *TINY, "model.model.cross_reference=False"],
                            cwd=ROOT, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode != 0 and "Epoch(test)" not in result.stdout + result.stderr
    assert re.search(rf"{re.escape(weights)} does not fit the config's model: \d+ weights the model does not have "
                     r"\(model\.co_occurrence_head\.", result.stderr)


def test_test_tool_without_a_checkpoint_says_it_needs_one(tmp_path):
    result = subprocess.run([sys.executable, "tools/test.py", CONFIG, "--work-dir", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode != 0
    assert "CRCNet needs a checkpoint of its trained weights" in result.stderr


def test_training_is_reproducible_from_the_seed_and_the_seed_matters(trained, tmp_path):
    work_dir, _ = trained
    _train(tmp_path / "again", 1)
    _train(tmp_path / "other_seed", 1, "--cfg-options", "randomness.seed=1")
    first, again, other = (torch.load(folder / "weights.pth", weights_only=True)["state_dict"]
                           for folder in (work_dir, tmp_path / "again", tmp_path / "other_seed"))
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert not all(torch.equal(first[key], other[key]) for key in first)


def test_resume_continues_a_stopped_run_to_the_end(trained, tmp_path):
    work_dir, _ = trained
    resumed_dir = tmp_path / "resumed"
    resumed_dir.mkdir()
    for name in ("epoch_1.pth", "last_checkpoint"):
        text = (work_dir / name).read_bytes()
        if name == "last_checkpoint":
            text = str(resumed_dir / "epoch_1.pth").encode()
        (resumed_dir / name).write_bytes(text)
    log = _train(resumed_dir, 2, "--resume")
    assert "resumed epoch: 1" in log
    assert "Epoch(train) [1]" not in log and "Epoch(train) [2]" in log
    assert (resumed_dir / "epoch_2.pth").exists()


def test_the_console_shows_progress_within_a_screen_and_the_log_file_keeps_the_config(trained):
    work_dir, log = trained
    console = log.splitlines()
    first_progress = next(i for i, line in enumerate(console) if "Epoch(train)" in line)
    assert first_progress < 40 and not any("Config:" in line for line in console)
    assert "Warning:" not in log  # no Python warning (UserWarning, FutureWarning...) reaches the user
    (log_file,) = work_dir.glob("*/*.log")
    assert "Config:" in log_file.read_text() and f"full config, environment and hooks: {log_file}" in log


def test_show_dir_adds_a_local_backend_to_a_config_that_has_only_tensorboard(tmp_path):
    tool = load_tool("test")
    cfg = Config(dict(work_dir=str(tmp_path), default_hooks=dict(), visualizer=dict(
        type="Visualizer", vis_backends=[dict(type="TensorboardVisBackend")])))
    tool.show_pictures_in(cfg, "pictures")
    assert [backend["type"] for backend in cfg.visualizer.vis_backends] == ["TensorboardVisBackend", "LocalVisBackend"]
    assert cfg.visualizer.vis_backends[1]["img_save_dir"] == str(tmp_path / "pictures")


def test_tensorboard_receives_training_scalars_and_episode_pictures(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = tmp_path / "tensorboard.py"
    config.write_text(f"_base_ = [{CONFIG!r}]\n"
                      "visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), "
                      "dict(type='TensorboardVisBackend')])\n")
    _run(["tools/train.py", str(config), "--work-dir", str(tmp_path / "train"), "--cfg-options", *TINY,
          "max_epochs=1"])
    log = _run(["tools/test.py", str(config), str(tmp_path / "train" / "weights.pth"), "--work-dir",
                str(tmp_path / "test"), "--show-dir", "pictures", "--cfg-options", *TINY])
    (train_events,) = (tmp_path / "train").glob("*/vis_data/events.out.tfevents.*")
    (test_events,) = (tmp_path / "test").glob("*/vis_data/events.out.tfevents.*")
    scalars = EventAccumulator(str(train_events)).Reload().Tags()["scalars"]
    assert {"loss", "lr", "mIoU"} <= set(scalars)
    pictures = EventAccumulator(str(test_events), size_guidance={"images": 0}).Reload()
    assert len(pictures.Images("episode")) == 6
    assert f"LocalVisBackend: {tmp_path / 'test' / 'pictures'}" in log and "TensorboardVisBackend" in log


@pytest.mark.parametrize("environment, threads", [
    ({"OMP_NUM_THREADS": "3"}, 3),  # the user's choice
    ({"LOCAL_WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"}, 4),  # torchrun's default of 1 replaced by the fair share
    ({"LOCAL_WORLD_SIZE": "4"}, 2),
    ({"LOCAL_WORLD_SIZE": "2", "OMP_NUM_THREADS": "3"}, 3),
    ({}, 8),  # the physical cores
])
def test_cpu_threads_follow_omp_num_threads_then_the_local_share_of_physical_cores(monkeypatch, environment, threads):
    from integrations.mmseg.engine import launch

    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(launch, "physical_cores", lambda: 8)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    chosen = []
    monkeypatch.setattr(torch, "set_num_threads", chosen.append)
    assert launch.configure_threads().startswith(f"torch CPU threads: {threads} (")
    assert chosen == [threads] and os.environ["OMP_NUM_THREADS"] == environment.get("OMP_NUM_THREADS", str(threads))


def test_physical_cores_counts_hyperthread_siblings_once(tmp_path):
    from integrations.mmseg.engine.launch import physical_cores

    cpuinfo = tmp_path / "cpuinfo"
    block = "processor\t: {}\nphysical id\t: 0\ncore id\t\t: {}\n"
    cpuinfo.write_text("\n".join(block.format(cpu, 0) for cpu in (0, 1)))
    assert physical_cores(str(cpuinfo)) == 1
    cpuinfo.write_text("\n".join(block.format(cpu, cpu) for cpu in (0, 1)))
    assert physical_cores(str(cpuinfo)) == min(2, len(os.sched_getaffinity(0)))


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_cpu_training_and_evaluation_equal_to_one_process(trained, tmp_path):
    torchrun = ["-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}"]
    log = _run(torchrun + ["tools/train.py", CONFIG, "--launcher", "pytorch", "--work-dir", str(tmp_path / "dist"),
                           "--cfg-options", *TINY, "train_cfg.max_epochs=1", "param_scheduler.0.end=1"])
    assert re.search(r"torch CPU threads: \d+ \(\d+ physical cores / 2 processes\)", log)
    assert "Warning:" not in log
    assert "Epoch(train) [1][8/8]" in log  # 60 episodes, batch 4: 15 iterations on one process, 8 on each of two
    work_dir, _ = trained
    weights = str(work_dir / "weights.pth")
    one = tmp_path / "one.json"
    two = tmp_path / "two.json"
    _run(["tools/test.py", CONFIG, weights, "--work-dir", str(tmp_path / "t1"), "--out", str(one),
          "--cfg-options", *TINY])
    _run(["-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}", "tools/test.py",
          CONFIG, weights, "--launcher", "pytorch", "--work-dir", str(tmp_path / "t2"), "--out", str(two),
          "--cfg-options", *TINY])
    first, second = json.loads(one.read_text())["metrics"], json.loads(two.read_text())["metrics"]
    assert first["episodes"] == second["episodes"] == 6
    assert first["mIoU"] == second["mIoU"] and first["FB-IoU"] == second["FB-IoU"]


def test_pascal_fold0_config_has_the_settings_of_section_5_1():
    cfg = Config.fromfile(os.path.join(ROOT, "configs", "crcnet_pascal_fold0.py"))
    model = cfg.model.model
    assert model.encoder.backbone == "resnet50" and model.encoder.pretrained == "torchvision://resnet50"
    assert model.encoder.multi_level and model.channels == 256 and model.refine_steps == 10
    assert model.aux_weight == 0.1 and model.cross_reference and model.global_conditional and model.local_conditional
    assert cfg.optim_wrapper.optimizer.type == "SGD" and cfg.optim_wrapper.optimizer.lr == 0.0025
    assert cfg.train_cfg.max_epochs == 200
    pipeline = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert pipeline == ["RandomResize", "RandomCrop", "Pad", "RandomFlip"]
    assert cfg.train_dataloader.dataset.pipeline[1].crop_size == (321, 321)
    assert cfg.train_dataloader.dataset.fold == cfg.test_dataloader.dataset.fold == 0
    assert Config.fromfile(os.path.join(ROOT, "configs", "crcnet_pascal_fold3.py")).test_dataloader.dataset.fold == 3


def test_every_config_parses_and_names_registered_types():
    import glob

    from mmseg.registry import DATASETS, MODELS

    import integrations.mmseg  # noqa: F401
    import integrations.pfenet  # noqa: F401

    configs = sorted(glob.glob(os.path.join(ROOT, "configs", "*.py")))
    assert len(configs) >= 30
    for path in configs:
        cfg = Config.fromfile(path)
        assert MODELS.get(cfg.model.model.type) is not None, path
        for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
            if cfg[loader] is not None or loader == "test_dataloader":  # a model with nothing trained only tests
                assert DATASETS.get(cfg[loader].dataset.type) is not None, (path, loader)


def test_benchmark_runs_the_three_hosted_families_side_by_side():
    out = _run(["tools/benchmark.py", "--sizes", "41", "--repeats", "1", "--precisions", "fp32",
                "--cases", "PFENet 1-shot", "HSNet 1-shot", "HSNet 5-shot vote"])
    rows = {cells[0]: cells for cells in (line.strip("| ").split(" | ") for line in out.splitlines()
                                          if line.startswith(("| PFENet", "| HSNet")))}
    assert set(rows) == {"PFENet 1-shot", "HSNet 1-shot", "HSNet 5-shot vote"}
    assert rows["PFENet 1-shot"][5] == "1.00"
    # the ratio is printed with 2 decimals, the latencies with 3 significant digits: both roundings allowed for
    assert float(rows["HSNet 5-shot vote"][5]) == pytest.approx(
        float(rows["HSNet 5-shot vote"][3]) / float(rows["PFENet 1-shot"][3]), rel=0.02, abs=0.0051)


def test_benchmark_prints_each_case_with_its_ratios_and_the_folder_budget():
    out = _run(["tools/benchmark.py", "--sizes", "41", "--repeats", "1", "--precisions", "fp32", "--queries", "2",
                "--cases", "CRCNet 1-shot", "CRCNet 5-shot finetune", "CRCNet folder: 5-shot finetune + N queries"])
    rows = {cells[0]: cells for cells in (line.strip("| ").split(" | ") for line in out.splitlines()
                                          if line.startswith("| CRCNet"))}
    assert set(rows) == {"CRCNet 1-shot", "CRCNet 5-shot finetune", "CRCNet folder: 5-shot finetune + N queries"}
    assert rows["CRCNet 1-shot"][4] == "1.00" and rows["CRCNet 1-shot"][5] == "-"  # no PFENet row asked for
    one_shot, finetune = float(rows["CRCNet 1-shot"][3]), float(rows["CRCNet 5-shot finetune"][3])
    assert finetune > one_shot > 0 and float(rows["CRCNet 5-shot finetune"][4]) == pytest.approx(
        finetune / one_shot, rel=0.02)
    assert re.search(r"folder at 41 \(fp32\): [\d.]+ s for 2 queries; budget one finetune episode \+ 2 x 1\.2 x "
                     r"1-shot = [\d.]+ s", out)
