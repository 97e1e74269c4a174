"""The episode-model interface (issue 14): a third model, written as a user would in one file with one config,
trains, tests with fusion and finetuning, and segments images through tools/infer.py with no other change."""
import json
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import torch

from crc_modules import EpisodeModel, KShotPredictor
from tests.tool_modules import load_module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROTOTYPE_NET = textwrap.dedent('''
    """A prototype-matching baseline: cosine similarity of query features to the support's fg/bg prototypes."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from crc_modules import EpisodeModel, EpisodeOutput, masked_average_pool, upsampled_cross_entropy
    from crc_modules.registry import MODELS


    @MODELS.register_module()
    class PrototypeNet(EpisodeModel):
        def __init__(self, channels: int = 16):
            super().__init__()
            self.encoder = nn.Sequential(nn.Conv2d(3, channels, 3, stride=2, padding=1), nn.ReLU(),
                                         nn.Conv2d(channels, channels, 3, stride=2, padding=1))
            self.scale = nn.Parameter(torch.tensor(10.0))

        def encode(self, images, masks=None):
            return self.encoder(images)

        def predict(self, query, supports, support_masks, query_masks=None):
            support, mask = supports[:, 0], support_masks[:, 0]
            prototypes = torch.stack([masked_average_pool(support, 1 - mask), masked_average_pool(support, mask)], 1)
            logits = self.scale * F.cosine_similarity(query[:, None], prototypes[..., None, None], dim=2)
            return EpisodeOutput(logits)

        def loss(self, output, query_labels, support_labels):
            return {"loss_query": upsampled_cross_entropy(output.query_logits, query_labels)}

        def finetune_parameters(self):
            return {"scale": self.scale}
''')

CONFIG = textwrap.dedent('''
    _base_ = [{base!r}]
    custom_imports = dict(imports=['integrations.mmseg', 'prototype_net'], allow_failed_imports=False)
    model = dict(model=dict(_delete_=True, type='PrototypeNet', channels=16))
''')

TINY = ["train_dataloader.dataset.images_per_class=1", "train_dataloader.dataset.num_episodes=40",
        "train_dataloader.dataset.image_size=48",
        "train_dataloader.batch_size=4", "val_dataloader.dataset.image_size=48",
        "val_dataloader.dataset.images_per_class=4", "val_dataloader.dataset.num_episodes=3",
        "test_dataloader.dataset.image_size=48", "test_dataloader.dataset.images_per_class=4",
        "test_dataloader.dataset.num_episodes=4", "train_cfg.max_epochs=1", "param_scheduler.0.end=1"]


@pytest.fixture(scope="module")
def user_project(tmp_path_factory):
    """The user's own folder: the model file and its config, nothing else."""
    folder = tmp_path_factory.mktemp("user_project")
    (folder / "prototype_net.py").write_text(PROTOTYPE_NET)
    (folder / "prototype_generated.py").write_text(
        CONFIG.format(base=os.path.join(ROOT, "configs", "crcnet_generated.py")))
    return folder


def _run(folder, args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{folder}{os.pathsep}{ROOT}"}
    result = subprocess.run([sys.executable] + args, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_a_third_model_trains_tests_with_fusion_and_finetuning_and_segments_images(user_project, tmp_path):
    config = str(user_project / "prototype_generated.py")
    log = _run(user_project, ["tools/train.py", config, "--work-dir", str(tmp_path), "--cfg-options", *TINY])
    assert "loss_query" in log
    weights = str(tmp_path / "weights.pth")
    for mode in ("fusion", "both"):
        out = tmp_path / f"{mode}.json"
        _run(user_project, ["tools/test.py", config, weights, "--work-dir", str(tmp_path), "--shot", "2",
                            "--kshot-mode", mode, "--out", str(out), "--cfg-options", *TINY])
        result = json.loads(out.read_text())
        assert result["kshot_mode"] == mode and result["metrics"]["episodes"] == 4
    rng = np.random.default_rng(0)
    for name in ("support.png", "query.png"):
        cv2.imwrite(str(tmp_path / name), rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    _run(user_project, ["tools/infer.py", "--config", config, "--checkpoint", weights, "--support",
                        str(tmp_path / "support.png"), "5,5,30,30", "--query", str(tmp_path / "query.png"),
                        "--out", str(tmp_path / "masks")])
    assert cv2.imread(str(tmp_path / "masks" / "query_mask.png"), cv2.IMREAD_GRAYSCALE).shape == (40, 40)


def test_finetuning_touches_only_the_parameters_the_model_names(user_project):
    # the user's file itself, from its folder (the tools above find it on PYTHONPATH, through custom_imports)
    model = load_module(str(user_project / "prototype_net.py"), "prototype_net").PrototypeNet().eval()
    assert isinstance(model, EpisodeModel)
    supports, query = torch.randn(3, 3, 32, 32), torch.randn(1, 3, 32, 32)
    labels = torch.zeros(3, 32, 32, dtype=torch.long)
    labels[:, 8:24, 8:20] = 1
    before = {k: v.clone() for k, v in model.state_dict().items()}
    predictor = KShotPredictor("both", steps=3, lr=0.5)
    support_set = predictor.prepare(model, supports, labels)
    assert set(support_set.finetuned) == {"scale"}
    assert not torch.equal(support_set.finetuned["scale"], before["scale"])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the model itself unchanged
    fused = KShotPredictor("fusion")(model, supports, labels, query)
    assert not torch.allclose(support_set.predict(query), fused, atol=1e-4)
