"""Every config's model runs forward, loss, backward and k-shot fusion on the meta device (issue 21); configs that
build the same model (folds of one model) run it once; a model with nothing trainable (GF-SAM, issue 25) is checked
for that and its encoders run on meta.

A tensor that a model creates without ``device=`` lands on the CPU while its inputs are on the meta
device, and the next operation mixing the two fails: the same mistake that fails on a user's GPU,
found here on a CPU with no GPU and at no compute cost (meta tensors have shapes, no data).
"""
import glob
import os

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

import integrations.mmseg  # noqa: F401  (registers the host's types)
import integrations.pfenet  # noqa: F401
from crc_modules import KShotPredictor
from crc_modules.features import map_features

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(os.path.basename(path) for path in glob.glob(os.path.join(ROOT, "configs", "*.py")))


def distinct_models(configs):
    """The first config of each distinct episode model (``model.model``): folds of one model build the same model."""
    first = {}
    for config in configs:
        model = Config.fromfile(os.path.join(ROOT, "configs", config)).model.model.to_dict()
        first.setdefault(repr(sorted(model.items())), config)
    return sorted(first.values())


MODEL_CONFIGS = distinct_models(CONFIGS)
META = torch.device("meta")
SIZE, SHOTS = 129, 2  # 129: the relative FEM bins of the VGG / ResNet-101 COCO configs (1/8 of the map) need >= 1 cell


def model_config(config: str):
    return Config.fromfile(os.path.join(ROOT, "configs", config)).model.model


def build_on_meta(config: str) -> torch.nn.Module:
    """The config's episode model (``model.model``), its parameters created on the meta device directly."""
    with META:
        return MODELS.build(model_config(config))


def episode(batch: int, shots: int):
    images = torch.empty(batch, shots, 3, SIZE, SIZE, device=META)
    labels = torch.empty(batch, shots, SIZE, SIZE, dtype=torch.long, device=META)
    return images, labels, torch.empty(batch, 3, SIZE, SIZE, device=META), torch.empty(
        batch, SIZE, SIZE, dtype=torch.long, device=META)


def check_a_model_with_nothing_trained(model: torch.nn.Module) -> None:
    """A model built on frozen released files (GF-SAM, FSS-SAM3): nothing trainable, nothing for k-shot finetuning,
    and its encoders run on meta for a k-shot support set and for a query.

    Its ``predict`` cannot run on meta: how many point prompts and clusters it has is read from the data (the
    priors' sum, the point-mask graph; SAM 3's kept instances), which meta tensors do not hold; tests/test_gfsam.py
    and tests/test_sam3.py run them on tiny models.
    """
    assert not any(p.requires_grad for p in model.parameters()) and model.finetune_parameters() == {}
    model.eval()
    support_imgs, support_labels, query_img, _ = episode(1, SHOTS)
    support_set = KShotPredictor("fusion").prepare(model, support_imgs[0], support_labels[0])
    devices = []
    for features in (support_set.encoded()[0], model.encode(query_img)):
        map_features(lambda tensor: devices.append(tensor.device) or tensor, features)
    assert devices and set(devices) == {META}


def test_every_config_is_covered():
    assert len(CONFIGS) >= 30 and "crcnet_generated.py" in CONFIGS and "pfenet_generated.py" in CONFIGS


@pytest.mark.parametrize("config", MODEL_CONFIGS)
def test_training_step_and_kshot_fusion_create_no_tensor_off_the_input_device(config):
    model = build_on_meta(config)
    assert {p.device for p in model.parameters()} == {META}
    if not any(p.requires_grad for p in model.parameters()):
        return check_a_model_with_nothing_trained(model)
    model.train()
    support_imgs, support_labels, query_img, query_labels = episode(2, 1)  # trained 1-shot, as the configs
    output = model(query_img, support_imgs, (support_labels == 1).float()[:, :, None],
                   (query_labels == 1).float()[:, None])
    losses = model.loss(output, query_labels, support_labels)
    assert losses and all(loss.device == META and loss.dim() == 0 for loss in losses.values())
    sum(losses.values()).backward()
    trained = [p for p in model.parameters() if p.requires_grad]
    assert trained and all(p.grad is None or p.grad.device == META for p in trained)
    assert any(p.grad is not None for p in trained)

    model.eval()
    support_imgs, support_labels, query_img, _ = episode(1, SHOTS)
    probability = KShotPredictor("fusion")(model, support_imgs[0], support_labels[0], query_img)
    assert probability.device == META and probability.shape == (1, 1, SIZE, SIZE)


def test_a_tensor_created_on_the_cpu_inside_a_model_fails_on_meta():
    """The check itself: a model that adds a CPU tensor to its input is caught."""
    class Careless(torch.nn.Module):
        def forward(self, x):
            return x + torch.ones(x.shape[1:])  # no device=: the CPU

    with pytest.raises((RuntimeError, NotImplementedError)):
        Careless()(torch.empty(1, 3, 4, 4, device=META))
