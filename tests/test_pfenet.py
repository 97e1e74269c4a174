"""PFENet compatible with its released checkpoints, and PFENet + GC / CR / CRC (issue 5)."""
import json
import os

import pytest
import torch

from crc_modules import KShotPredictor
from integrations.pfenet import PFENet, prior_mask

RELEASED_SHAPES = {
    "layer0.0.weight": (64, 3, 3, 3), "layer0.6.weight": (128, 64, 3, 3), "layer1.0.conv1.weight": (64, 128, 1, 1),
    "down_query.0.weight": (256, 1536, 1, 1), "init_merge.0.0.weight": (256, 513, 1, 1),
    "alpha_conv.0.0.weight": (256, 512, 1, 1), "res1.0.weight": (256, 1024, 1, 1), "cls.3.weight": (2, 256, 1, 1),
    "cls.3.bias": (2,),
}


@pytest.fixture(scope="module")
def pfenet():
    torch.manual_seed(0)
    return PFENet(layers=50)


def test_state_dict_has_the_released_365_keys_and_shapes(pfenet):
    state = pfenet.state_dict()
    assert len(state) == 365
    assert sum(k.endswith("num_batches_tracked") for k in state) == 3 + 16 * 3 + 4  # stem, blocks, downsamples
    for key, shape in RELEASED_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(k.startswith(("encoder", "backbone")) for k in state)


def test_released_checkpoint_with_module_prefix_loads_strictly_through_the_tools_weight_loader(pfenet, tmp_path):
    from integrations.mmseg.engine.checkpoint import load_model_weights
    from integrations.mmseg.models import FewShotSegmentor

    state = {f"module.{k}": v.clone() + (1 if v.is_floating_point() else 0) for k, v in pfenet.state_dict().items()}
    path = tmp_path / "train_epoch_200.pth"
    torch.save({"epoch": 200, "state_dict": state, "optimizer": {"state": {}, "param_groups": []}}, path)
    segmentor = FewShotSegmentor(dict(type="PFENet", layers=50))
    load_model_weights(segmentor, str(path))  # read as tools/test.py, tools/infer.py and from_config read it
    loaded = segmentor.model
    assert torch.equal(loaded.cls[3].bias, pfenet.cls[3].bias + 1)
    assert torch.equal(loaded.layer4[2].conv3.weight, pfenet.layer4[2].conv3.weight + 1)
    crc = FewShotSegmentor(dict(type="PFENet", layers=50, global_conditional=True, cross_reference=True))
    with pytest.raises(ValueError, match=rf"{path} does not fit the config's model: \d+ weights missing from the file "
                                         r"\(co_occurrence_head\."):
        load_model_weights(crc, str(path))  # strictly: the +X blocks would test at their random initial weights
    del state["module.cls.3.bias"]
    torch.save({"epoch": 1, "state_dict": state}, path)
    with pytest.raises(ValueError, match=rf"{path} does not fit the config's model: 1 weights missing from the file "
                                         r"\(cls.3.bias\)"):
        load_model_weights(segmentor, str(path))


def test_deep_stem_backbone_file_loads_into_layer0_to_layer4(pfenet, tmp_path):
    stem = {"conv1": "0", "bn1": "1", "conv2": "3", "bn2": "4", "conv3": "6", "bn3": "7"}
    state = {}
    for key, value in pfenet.state_dict().items():
        head, _, rest = key.partition(".")
        if head == "layer0":
            index, _, leaf = rest.partition(".")
            name = next(n for n, i in stem.items() if i == index)
            state[f"{name}.{leaf}"] = value + 2 if value.is_floating_point() else value
        elif head.startswith("layer"):
            state[key] = value
    state["fc.weight"] = torch.zeros(1000, 2048)
    torch.save(state, tmp_path / "resnet50_v2.pth")
    model = PFENet(layers=50, pretrained=str(tmp_path / "resnet50_v2.pth"))
    model.init_weights()  # pretrained weights are applied when training starts
    assert torch.equal(model.layer0[6].weight, pfenet.layer0[6].weight + 2)
    assert torch.equal(model.layer0[7].running_var, pfenet.layer0[7].running_var + 2)


def _literal_prior(query, support, mask):
    batch, channels, height, width = query.shape
    out = torch.zeros(batch, 1, height, width)
    for b in range(batch):
        s = (support[b] * mask[b]).flatten(1)  # (C, hw)
        for y in range(height):
            for x in range(width):
                q = query[b, :, y, x]
                cos = (s * q[:, None]).sum(0) / (s.norm(dim=0) * q.norm() + 1e-7)
                out[b, 0, y, x] = cos.max()
        out[b] = (out[b] - out[b].min()) / (out[b].max() - out[b].min() + 1e-7)
    return out


def test_prior_mask_is_the_normalised_max_cosine_and_ignores_support_outside_the_mask():
    query, support = torch.randn(2, 8, 5, 6), torch.randn(2, 8, 5, 6)
    mask = torch.zeros(2, 1, 5, 6)
    mask[:, :, 1:4, 2:5] = 1
    prior = prior_mask(query, support, mask)
    assert torch.allclose(prior, _literal_prior(query, support, mask), atol=1e-5)
    assert prior.min() >= 0 and prior.max() <= 1 and torch.isclose(prior.amax(), torch.tensor(1.0))
    changed = support + 5 * torch.randn_like(support) * (1 - mask)
    assert torch.allclose(prior_mask(query, changed, mask), prior, atol=1e-6)


def _episode(size=33):
    generator = torch.Generator().manual_seed(1)
    support, query = torch.randn(2, 3, size, size, generator=generator), torch.randn(2, 3, size, size,
                                                                                    generator=generator)
    support_label = torch.zeros(2, size, size, dtype=torch.long)
    support_label[:, 8:24, 8:20] = 1
    query_label = torch.zeros(2, size, size, dtype=torch.long)
    query_label[:, 4:20, 10:28] = 1
    return support, support_label, query, query_label


@pytest.mark.parametrize("variant", [dict(), dict(global_conditional=True), dict(cross_reference=True),
                                     dict(global_conditional=True, cross_reference=True)],
                         ids=["PFENet", "+GC", "+CR", "+CRC"])
def test_training_step_of_each_variant(variant):
    torch.manual_seed(0)
    model = PFENet(layers=50, ppm_scales=(8, 4), **variant).train()
    bn = model.layer1[0].bn1
    stats = bn.running_mean.clone()
    support, support_label, query, query_label = _episode()
    output = model(query, support, (support_label == 1).float()[:, None], (query_label == 1).float()[:, None])
    assert len(output.side_logits) == 2  # one per FEM scale
    losses = model.loss(output, query_label, support_label[:, None])
    expected = {"loss_query", "loss_query_aux"} | ({"loss_cooc"} if variant.get("cross_reference") else set())
    assert set(losses) == expected
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.layer3.parameters())
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert all(model.get_parameter(n).grad is not None for n in trainable if not n.startswith("cls.2"))
    assert torch.equal(bn.running_mean, stats)  # the frozen backbone's BN statistics are fixed by default


def test_released_bn_behaviour_is_an_explicit_option():
    model = PFENet(layers=50, ppm_scales=(8,), backbone_bn_updates=True).train()
    stats = model.layer1[0].bn1.running_mean.clone()
    support, support_label, query, _ = _episode()
    model(query, support, (support_label == 1).float()[:, None])
    assert not torch.equal(model.layer1[0].bn1.running_mean, stats)


def test_kshot_on_pfenet_fuses_in_one_forward_and_finetuning_restores_the_weights():
    torch.manual_seed(0)
    model = PFENet(layers=50, ppm_scales=(8, 4)).eval()
    support, support_label, query, _ = _episode()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    native = KShotPredictor("fusion")(model, support, support_label, query[:1])
    with torch.no_grad():
        direct = model(query[:1], support[None], (support_label == 1).float()[None, :, None]).query_logits
    direct = torch.nn.functional.interpolate(direct, size=query.shape[-2:], mode="bilinear", align_corners=True)
    assert torch.allclose(native, torch.softmax(direct, 1)[:, 1:], atol=1e-6)
    tuned = KShotPredictor("both", steps=2, lr=0.05)(model, support, support_label, query[:1])
    assert not torch.allclose(tuned, native, atol=1e-5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_pfenet_crc_trains_and_tests_through_the_tools(tmp_path):
    from tests.test_tools import ROOT, _run

    config = os.path.join(ROOT, "configs", "pfenet_generated.py")
    options = ["train_dataloader.dataset.images_per_class=1", "train_dataloader.dataset.num_episodes=10",
               "train_dataloader.dataset.image_size=41",
               "train_dataloader.batch_size=5", "val_dataloader.dataset.image_size=41",
               "val_dataloader.dataset.images_per_class=3", "val_dataloader.dataset.num_episodes=3",
               "test_dataloader.dataset.image_size=41", "test_dataloader.dataset.images_per_class=3",
               "test_dataloader.dataset.num_episodes=3", "train_cfg.max_epochs=1", "param_scheduler.0.end=1"]
    log = _run(["tools/train.py", config, "--work-dir", str(tmp_path), "--cfg-options", *options])
    assert "loss_cooc" in log and "loss_query_aux" in log
    _run(["tools/test.py", config, str(tmp_path / "weights.pth"), "--work-dir", str(tmp_path), "--shot", "2",
          "--out", str(tmp_path / "metrics.json"), "--cfg-options", *options])
    metrics = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    assert metrics["episodes"] == 3
    # the same weights as PFENet's train.py saves them, read through the tool's checkpoint argument
    exported = torch.load(tmp_path / "weights.pth", weights_only=True)["state_dict"]
    released = {f"module.{key[len('model.'):]}": value for key, value in exported.items()}
    torch.save({"epoch": 1, "state_dict": released}, tmp_path / "train_epoch_1.pth")
    _run(["tools/test.py", config, str(tmp_path / "train_epoch_1.pth"), "--work-dir", str(tmp_path), "--shot", "2",
          "--out", str(tmp_path / "released.json"), "--cfg-options", *options])
    assert json.loads((tmp_path / "released.json").read_text())["metrics"] == metrics
