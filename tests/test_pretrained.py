"""Pretrained weights are applied when training starts, never when a model is built: testing needs no network or
file."""
import glob
import os
import subprocess
import sys
import urllib.request

import torch
from mmengine.config import Config
from mmengine.runner import Runner

import integrations.mmseg  # noqa: F401  (registers the host)
import integrations.pfenet  # noqa: F401
from crc_modules.encoder import compact_resnet
from crc_modules.registry import MODELS
from integrations.mmseg.engine.checkpoint import checkpoint_policy, export_weights

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "crcnet_generated.py")
TINY = {"train_dataloader.dataset.images_per_class": 1, "train_dataloader.dataset.num_episodes": 16,
        "train_dataloader.dataset.image_size": 32,
        "val_dataloader.dataset.num_episodes": 2, "model.model.channels": 8, "model.model.refine_steps": 1}


def _offline(*args, **kwargs):
    raise AssertionError("building a model must not read a checkpoint or use the network")


def test_every_configs_model_builds_with_no_network_and_no_pretrained_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative pretrained paths (initmodel/resnet50_v2.pth) do not exist here
    for target in ((torch, "load"), (torch.hub, "download_url_to_file"), (urllib.request, "urlopen")):
        monkeypatch.setattr(*target, _offline)
    models = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "configs", "*.py"))):
        model = Config.fromfile(path).model
        models.setdefault(repr(model.to_dict()), (path, model))
    assert len(models) >= 5
    for path, model in models.values():
        with torch.device("meta"):  # the same code as on the CPU, no memory (GF-SAM's ViT-L + SAM-H: 0.95B weights)
            segmentor = MODELS.build(model)  # raises if anything reaches for the network or a file
        assert sum(p.numel() for p in segmentor.parameters()) > 0, path


def _pretrained_file(tmp_path, value):
    """A resnet10 state dict whose every floating tensor is ``value``: recognisable once loaded."""
    state = {key: torch.full_like(tensor, value) if tensor.is_floating_point() else tensor
             for key, tensor in compact_resnet().state_dict().items()}
    path = tmp_path / f"pretrained_{value}.pth"
    torch.save(state, path)
    return str(path)


def _start_training(tmp_path, load_from=None, **options):
    """Runner.train() with zero epochs: what training starts with, after init_weights and load_from."""
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({**TINY, **options, "work_dir": str(tmp_path / "work"), "load_from": load_from,
                         "train_cfg.max_epochs": 0, "param_scheduler": []})
    with checkpoint_policy():
        runner = Runner.from_cfg(cfg)
        runner.train()
    return runner.model.model.encoder.backbone.conv1.weight


def test_training_start_applies_the_pretrained_backbone_and_load_from_overwrites_it(tmp_path):
    pretrained = _pretrained_file(tmp_path, 0.5)
    weights = _start_training(tmp_path, **{"model.model.encoder.pretrained": pretrained})
    assert torch.all(weights == 0.5), ("the Runner's init_weights did not reach CRCNet's encoder: EpisodeModel needs "
                                       "init_weights() calling crc_modules.weight_init.init_submodule_weights")
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(TINY)
    model = MODELS.build(cfg.model)
    torch.nn.init.constant_(model.model.encoder.backbone.conv1.weight, 0.25)
    export_weights(model, str(tmp_path / "weights.pth"))
    weights = _start_training(tmp_path, load_from=str(tmp_path / "weights.pth"),
                              **{"model.model.encoder.pretrained": pretrained})
    assert torch.all(weights == 0.25)


def _tool(args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_a_missing_pretrained_file_stops_training_naming_it_and_does_not_matter_for_testing(tmp_path):
    missing = str(tmp_path / "initmodel" / "resnet50_v2.pth")
    pfenet = os.path.join(ROOT, "configs", "pfenet_generated.py")
    small = [f"{key}={value}" for key, value in TINY.items() if "channels" not in key and "refine" not in key]
    result = _tool(["tools/train.py", pfenet, "--work-dir", str(tmp_path / "train"), "--cfg-options", *small,
                    f"model.model.pretrained={missing}"])
    assert result.returncode != 0
    assert f"error: pretrained weights unavailable (checkpoint not found: {missing})" in result.stderr
    assert "github.com/dvlab-research/PFENet" in result.stderr and "pretrained=None" in result.stderr
    model = MODELS.build(Config.fromfile(pfenet).model)
    export_weights(model, str(tmp_path / "weights.pth"))
    result = _tool(["tools/test.py", pfenet, str(tmp_path / "weights.pth"), "--work-dir", str(tmp_path / "test"),
                    "--cfg-options", "test_dataloader.dataset.num_episodes=1", "test_dataloader.dataset.image_size=32",
                    f"model.model.pretrained={missing}"])
    assert result.returncode == 0, result.stderr[-2000:]
