"""HSNet hosted as released (issue 19): key names and shapes, strict loading, the 4D convolution, the learner's
gradient, HSNet + CR / GC, and a tiny HSNet trained and tested through the tools."""
import json
import os

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision

import integrations.mmseg  # noqa: F401  (the host: registers the segmentor, lets mmseg import on mmcv-lite)
from crc_modules.checkpoint import load_weights_only
from integrations.hsnet import CenterPivotConv4d, HSNet, backbone_features, cosine_correlation, hypercorrelation_pyramid

# HSNet's naming scheme: the torchvision network under ``backbone``, the learner under ``hpn_learner`` with five 4D
# blocks of three (CenterPivotConv4d conv1/conv2, GroupNorm, ReLU) and two 2D decoders (conv, ReLU, conv[, ReLU]).
STAGE_LAYERS = {"resnet50": (4, 6, 3), "resnet101": (4, 23, 3), "vgg16": (3, 3, 1)}  # layer2, layer3, layer4
KERNELS = {"encoder_layer4": (3, 3, 3), "encoder_layer3": (5, 3, 3), "encoder_layer2": (5, 5, 3),
           "encoder_layer4to3": (3, 3, 3), "encoder_layer3to2": (3, 3, 3)}


def released_learner_shapes(backbone):
    """Key -> shape of the released learner, written from its architecture (16-64-128 channels, GroupNorm)."""
    layer2, layer3, layer4 = STAGE_LAYERS[backbone]
    inputs = {"encoder_layer4": layer4, "encoder_layer3": layer3, "encoder_layer2": layer2,
              "encoder_layer4to3": 128, "encoder_layer3to2": 128}
    shapes = {}
    for block, kernels in KERNELS.items():
        widths = (16, 64, 128) if block in ("encoder_layer4", "encoder_layer3", "encoder_layer2") else (128,) * 3
        in_channels = inputs[block]
        for position, (kernel, width) in enumerate(zip(kernels, widths)):
            for conv in ("conv1", "conv2"):
                shapes[f"hpn_learner.{block}.{3 * position}.{conv}.weight"] = (width, in_channels, kernel, kernel)
                shapes[f"hpn_learner.{block}.{3 * position}.{conv}.bias"] = (width,)
            shapes[f"hpn_learner.{block}.{3 * position + 1}.weight"] = (width,)
            shapes[f"hpn_learner.{block}.{3 * position + 1}.bias"] = (width,)
            in_channels = width
    for decoder, convs in (("decoder1", ((128, 128), (64, 128))), ("decoder2", ((64, 64), (2, 64)))):
        for index, (out, inp) in zip((0, 2), convs):
            shapes[f"hpn_learner.{decoder}.{index}.weight"] = (out, inp, 3, 3)
            shapes[f"hpn_learner.{decoder}.{index}.bias"] = (out,)
    return shapes


def released_shapes(backbone):
    net = getattr(torchvision.models, backbone)(weights=None)
    shapes = {f"backbone.{key}": tuple(value.shape) for key, value in net.state_dict().items()}
    return {**shapes, **released_learner_shapes(backbone)}


_MODELS = {}


def cached_hsnet(backbone):
    """One HSNet per backbone for the whole module (never trained here)."""
    if backbone not in _MODELS:
        torch.manual_seed(0)
        _MODELS[backbone] = HSNet(backbone).eval()
    return _MODELS[backbone]


@pytest.fixture
def resnet50_hsnet():
    return cached_hsnet("resnet50")


@pytest.mark.parametrize("backbone", ["resnet50", "resnet101", "vgg16"])
def test_state_dict_has_the_released_names_and_shapes(backbone):
    model = cached_hsnet(backbone)
    assert {key: tuple(value.shape) for key, value in model.state_dict().items()} == released_shapes(backbone)


def _released_file(model, path, prefix="module."):
    """The model's weights, shifted so a load is visible, saved as HSNet's train.py saves a DataParallel model."""
    state = {f"{prefix}{k}": v + 1 if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save(state, path)
    return state


@pytest.mark.parametrize("backbone, prefix", [("resnet50", "module."), ("resnet50", ""), ("resnet101", "module."),
                                              ("vgg16", "module.")])
def test_a_released_best_model_loads_strictly_weights_only_with_or_without_the_module_prefix(backbone, prefix,
                                                                                              tmp_path):
    model = cached_hsnet(backbone)
    _released_file(model, tmp_path / "best_model.pt", prefix)
    state = load_weights_only(str(tmp_path / "best_model.pt"))
    state = {key[len(prefix):]: value for key, value in state.items()}
    loaded = HSNet(backbone)
    loaded.load_state_dict(state, strict=True)
    assert torch.equal(loaded.hpn_learner.decoder2[2].bias, model.hpn_learner.decoder2[2].bias + 1)
    first_conv = loaded.backbone.conv1 if backbone != "vgg16" else loaded.backbone.features[0]
    reference = model.backbone.conv1 if backbone != "vgg16" else model.backbone.features[0]
    assert torch.equal(first_conv.weight, reference.weight + 1)


class _NotAWeight:  # a pickled object of any class: a weights-only reader must refuse it
    pass


def test_the_tools_loader_reads_a_released_best_model_and_refuses_a_file_that_is_not_weights(tmp_path):
    from crc_modules.checkpoint import UnsafeCheckpointError
    from integrations.mmseg.engine.checkpoint import load_model_weights

    model = cached_hsnet("resnet50")
    _released_file(model, tmp_path / "best_model.pt", "module.")
    loaded = HSNet("resnet50")
    load_model_weights(loaded, str(tmp_path / "best_model.pt"))  # what tools/test.py CONFIG best_model.pt runs
    assert torch.equal(loaded.hpn_learner.decoder2[2].bias, model.hpn_learner.decoder2[2].bias + 1)
    torch.save({"module.hpn_learner.decoder2.2.bias": _NotAWeight()}, tmp_path / "crafted.pt")
    with pytest.raises(UnsafeCheckpointError, match=r"crafted\.pt") as refused:
        load_model_weights(HSNet("resnet50"), str(tmp_path / "crafted.pt"))
    assert "_NotAWeight" in str(refused.value) and "--unsafe-load-full-pickle" in str(refused.value)


def _literal_center_pivot(x, conv, stride):
    """Out[b, o, i, j, k, l] = sum over the two pivot planes of the 4D kernel, written as explicit loops."""
    kernel, pad = conv.conv1.kernel_size[0], conv.conv1.kernel_size[0] // 2
    batch, _, qh, qw, sh, sw = x.shape
    padded = F.pad(x, (pad,) * 8)  # zero padding on all four axes
    oh, ow = -(-sh // stride), -(-sw // stride)
    out = torch.zeros(batch, conv.conv1.out_channels, qh, qw, oh, ow)
    for i in range(qh):
        for j in range(qw):
            for k in range(oh):
                for m in range(ow):
                    ks, ms = k * stride + pad, m * stride + pad  # the support pivot in padded coordinates
                    query_plane = padded[:, :, i:i + kernel, j:j + kernel, ks, ms]  # (B, C, k, k)
                    support_plane = padded[:, :, i + pad, j + pad, ks - pad:ks + pad + 1, ms - pad:ms + pad + 1]
                    out[:, :, i, j, k, m] = (torch.einsum("bcuv,ocuv->bo", query_plane, conv.conv1.weight)
                                             + torch.einsum("bcuv,ocuv->bo", support_plane, conv.conv2.weight)
                                             + conv.conv1.bias + conv.conv2.bias)
    return out


@pytest.mark.parametrize("kernel, stride", [(3, 1), (3, 2), (5, 4)])
def test_center_pivot_conv4d_equals_the_sum_over_its_two_pivot_planes(kernel, stride):
    conv = CenterPivotConv4d(2, 3, kernel, stride)
    x = torch.randn(2, 2, 4, 5, 7, 6)
    with torch.no_grad():
        assert torch.allclose(conv(x), _literal_center_pivot(x, conv, stride), atol=1e-5)


def test_cosine_correlation_is_the_clamped_cosine_of_every_position_pair_and_stages_stack_deepest_first():
    query, support = torch.randn(2, 5, 3, 4), torch.randn(2, 5, 2, 3)
    correlation = cosine_correlation(query, support)
    for b, i, j, k, m in [(0, 0, 0, 0, 0), (1, 2, 3, 1, 2), (0, 1, 2, 1, 0)]:
        cosine = F.cosine_similarity(query[b, :, i, j], support[b, :, k, m], dim=0)
        assert torch.isclose(correlation[b, i, j, k, m], cosine.clamp(min=0), atol=1e-4)
    assert (correlation == 0).any() and correlation.min() >= 0
    feats = [torch.randn(1, 4, 3, 3) for _ in range(6)]
    pyramid = hypercorrelation_pyramid(feats, feats, (2, 3, 1))
    assert [p.shape[1] for p in pyramid] == [1, 3, 2]
    assert torch.equal(pyramid[1][:, 0], cosine_correlation(feats[2], feats[2]))
    with pytest.raises(ValueError, match="do not make stages of"):
        hypercorrelation_pyramid(feats, feats, (2, 3, 2))


@pytest.mark.parametrize("backbone", ["resnet50", "vgg16"])
def test_features_are_the_released_layers_of_the_torchvision_network(backbone):
    model = cached_hsnet(backbone)
    images = torch.randn(1, 3, 64, 64)
    features = backbone_features(model.backbone, images)
    assert len(features) == sum(STAGE_LAYERS[backbone])
    net = model.backbone
    with torch.no_grad():
        if backbone == "vgg16":
            assert torch.allclose(features[-1], net.features[:31](images))  # pool5
            assert torch.allclose(features[0], net.features[:18](images))  # conv4_1 before its ReLU
            assert features[0].min() < 0
        else:
            stem = net.maxpool(net.relu(net.bn1(net.conv1(images))))
            layer2 = net.layer2(net.layer1(stem))
            assert torch.allclose(torch.relu(features[3]), layer2, atol=1e-6)  # layer2's last block, before ReLU
            assert features[3].min() < 0
            assert torch.allclose(torch.relu(features[-1]), net.layer4(net.layer3(layer2)), atol=1e-5)


def _episode(size=65, batch=2):
    generator = torch.Generator().manual_seed(1)
    support = torch.randn(batch, 3, size, size, generator=generator)
    query = torch.randn(batch, 3, size, size, generator=generator)
    support_label = torch.zeros(batch, size, size, dtype=torch.long)
    support_label[:, :40, :45] = 1  # reaches a corner: the strided 4D convolutions pivot on corner positions
    query_label = torch.zeros(batch, size, size, dtype=torch.long)
    query_label[:, 20:50, 5:35] = 1
    query_label[:, 20, 5:35] = 255
    return support, support_label, query, query_label


def test_support_features_outside_the_mask_do_not_change_the_prediction(resnet50_hsnet):
    support, support_label, query, _ = _episode()
    mask = (support_label == 1).float()[:, None, None]
    with torch.no_grad():
        query_feats, support_feats = resnet50_hsnet.encode(query), resnet50_hsnet.encode(support)
        support_feats = tuple(f[:, None] for f in support_feats)
        logits = resnet50_hsnet.predict(query_feats, support_feats, mask).query_logits
        outside = [F.interpolate(mask[:, 0], f.shape[-2:], mode="bilinear", align_corners=True) == 0
                   for f in support_feats]
        changed = tuple(f + 3 * torch.randn_like(f) * o[:, None] for f, o in zip(support_feats, outside))
        assert not all(torch.equal(a, b) for a, b in zip(changed, support_feats))
        assert torch.allclose(resnet50_hsnet.predict(query_feats, changed, mask).query_logits, logits, atol=1e-5)
        unmasked = HSNet("resnet50", mask_support_features=False).eval()
        unmasked.load_state_dict(resnet50_hsnet.state_dict())
        assert not torch.allclose(unmasked.predict(query_feats, changed, mask).query_logits, logits, atol=1e-3)


@pytest.mark.parametrize("variant", [dict(), dict(cross_reference=True), dict(global_conditional=True),
                                     dict(cross_reference=True, global_conditional=True)],
                         ids=["HSNet", "+CR", "+GC", "+CRC"])
def test_gradient_reaches_only_what_follows_the_frozen_backbone_whose_batchnorm_stays_fixed(variant):
    torch.manual_seed(0)
    model = HSNet("resnet50", **variant).train()
    assert not model.backbone.training and model.hpn_learner.training
    stats = model.backbone.layer3[0].bn1.running_mean.clone()
    support, support_label, query, query_label = _episode()
    output = model(query, support, (support_label == 1).float()[:, None])
    assert output.query_logits.shape == (2, 2, 18, 18)  # the learner's 1/4 of the 65 px image (3 -> 18 at 1/8 x 2)
    losses = model.loss(output, query_label, support_label[:, None])
    assert set(losses) == {"loss_query"}
    losses["loss_query"].backward()
    assert torch.equal(model.backbone.layer3[0].bn1.running_mean, stats)
    assert all(p.grad is None and not p.requires_grad for p in model.backbone.parameters())
    trainable = dict(model.named_parameters())
    assert set(model.finetune_parameters()) == {n for n in trainable if not n.startswith("backbone.")}
    assert all(trainable[n].grad is not None and trainable[n].grad.abs().sum() > 0 for n in model.finetune_parameters())
    added = {n.split(".")[0] for n in model.finetune_parameters()} - {"hpn_learner"}
    expected = ({"cross_reference"} if variant.get("cross_reference") else set()) | (
        {"global_conditional", "prototype_projection"} if variant.get("global_conditional") else set())
    assert added == expected


def test_released_weights_cover_every_key_of_the_crc_variants_but_the_added_blocks(resnet50_hsnet):
    crc = HSNet("resnet50", cross_reference=True, global_conditional=True)
    result = crc.load_state_dict(resnet50_hsnet.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert {key.split(".")[0] for key in result.missing_keys} == {"cross_reference", "global_conditional",
                                                                   "prototype_projection"}


def test_loss_is_hsnets_cross_entropy_with_boundaries_as_background_or_ignored(resnet50_hsnet):
    logits = torch.randn(2, 2, 17, 17)
    _, _, _, labels = _episode()
    upsampled = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=True)
    as_background = F.cross_entropy(upsampled, labels.masked_fill(labels == 255, 0))
    from crc_modules import EpisodeOutput
    assert torch.isclose(resnet50_hsnet.loss(EpisodeOutput(logits), labels, None)["loss_query"], as_background)
    ignoring = HSNet("resnet50", boundary_as_background=False)
    assert torch.isclose(ignoring.loss(EpisodeOutput(logits), labels, None)["loss_query"],
                         F.cross_entropy(upsampled, labels, ignore_index=255))


def test_predict_takes_one_shot_and_names_the_host_fusion(resnet50_hsnet):
    support, support_label, query, _ = _episode(size=33, batch=1)
    with pytest.raises(ValueError, match="HSNet predicts from one support at a time \\(got 2\\)"):
        resnet50_hsnet(query, support[:, None].expand(-1, 2, -1, -1, -1),
                       (support_label == 1).float()[:, None, None].expand(-1, 2, -1, -1, -1))


@pytest.mark.parametrize("variant", [[], ["model.model.cross_reference=True", "model.model.global_conditional=True"]],
                         ids=["HSNet", "+CRC"])
def test_a_tiny_hsnet_trains_and_tests_through_the_tools(tmp_path, variant):
    from tests.test_tools import ROOT, _run

    config = os.path.join(ROOT, "configs", "hsnet_generated.py")
    options = ["train_dataloader.dataset.images_per_class=1", "train_dataloader.dataset.num_episodes=8",
               "train_dataloader.dataset.image_size=48", "train_dataloader.batch_size=4",
               "val_dataloader.dataset.image_size=48", "val_dataloader.dataset.images_per_class=3",
               "val_dataloader.dataset.num_episodes=2", "test_dataloader.dataset.image_size=48",
               "test_dataloader.dataset.images_per_class=3", "test_dataloader.dataset.num_episodes=3",
               "max_epochs=1", *variant]
    log = _run(["tools/train.py", config, "--work-dir", str(tmp_path), "--cfg-options", *options])
    assert "loss_query" in log and "Epoch(train) [1][2/2]" in log
    exported = torch.load(tmp_path / "weights.pth", weights_only=True)["state_dict"]
    assert any(key.startswith("model.hpn_learner.encoder_layer2.0.conv1.") for key in exported)
    assert any(key.startswith("model.cross_reference.2.") for key in exported) == bool(variant)
    _run(["tools/test.py", config, str(tmp_path / "weights.pth"), "--work-dir", str(tmp_path), "--shot", "2",
          "--kshot-mode", "both", "--kshot-fusion", "vote", "--finetune-steps", "1",
          "--out", str(tmp_path / "metrics.json"), "--cfg-options", *options])
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert result["metrics"]["episodes"] == 3 and (result["kshot_mode"], result["kshot_fusion"]) == ("both", "vote")
    assert 0 <= result["metrics"]["mIoU"] <= 100
    if not variant:  # the same weights segment a user's photos through tools/infer.py
        photos = np.random.default_rng(0).integers(0, 255, (3, 50, 70, 3), dtype=np.uint8)
        mask = np.zeros((50, 70), np.uint8)
        mask[10:40, 20:50] = 255
        for name, image in zip(("support", "query_a", "query_b"), photos):
            cv2.imwrite(str(tmp_path / f"{name}.png"), image)
        cv2.imwrite(str(tmp_path / "support_mask.png"), mask)
        _run(["tools/infer.py", "--config", config, "--checkpoint", str(tmp_path / "weights.pth"),
              "--support", str(tmp_path / "support.png"), str(tmp_path / "support_mask.png"),
              "--query", str(tmp_path / "query_a.png"), str(tmp_path / "query_b.png"), "--out", str(tmp_path / "out")])
        for name in ("query_a", "query_b"):
            written = cv2.imread(str(tmp_path / "out" / f"{name}_mask.png"), cv2.IMREAD_GRAYSCALE)
            assert written.shape == (50, 70) and set(np.unique(written)) <= {0, 255}


@pytest.mark.parametrize("backbone", ["r50", "r101", "vgg16"])
def test_a_model_config_per_backbone_builds_offline(backbone, monkeypatch):
    from mmengine.config import Config

    from crc_modules.registry import MODELS
    from tests.test_tools import ROOT

    def offline(*args, **kwargs):
        raise AssertionError("building a model must not read a checkpoint or use the network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    monkeypatch.setattr(torch, "load", offline)
    cfg = Config.fromfile(os.path.join(ROOT, "configs", "_base_", "models", f"hsnet_{backbone}.py"))
    segmentor = MODELS.build(cfg.model)
    assert isinstance(segmentor.model, HSNet) and segmentor.model.pretrained.startswith("https://download.pytorch.org")


def test_hsnet_configs_state_hsnets_settings_and_draw_its_episodes_at_400_pixels(tmp_path, monkeypatch):
    from mmengine.config import Config
    from mmseg.registry import DATASETS

    from tests.test_protocols import _hsnet_pascal_tree
    from tests.test_tools import ROOT

    for name, batch in (("hsnet_pascal_fold2", 20), ("hsnet_coco_fold3", 40), ("hsnet_fss1000", 20)):
        cfg = Config.fromfile(os.path.join(ROOT, "configs", f"{name}.py"))
        assert cfg.optim_wrapper.optimizer == dict(type="Adam", lr=1e-3) and cfg.param_scheduler == []
        assert cfg.train_dataloader.batch_size == batch and cfg.model.model.backbone == "resnet101"
        for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
            assert loader.dataset.protocol == "hsnet"
            assert loader.dataset.pipeline == [dict(type="Resize", scale=(400, 400), keep_ratio=False)]
        assert cfg.test_dataloader.dataset.eval_label == "transformed"
    _, trn, val = _hsnet_pascal_tree(str(tmp_path))
    cfg = Config.fromfile(os.path.join(ROOT, "configs", "hsnet_pascal_fold0.py"))
    monkeypatch.chdir(tmp_path)  # the split files are read relative to the working directory
    test = DATASETS.build({**cfg.test_dataloader.dataset, "data_root": str(tmp_path)})
    episode = test[0]
    assert len(test) == 1000 and episode["inputs"]["query"].shape == (3, 400, 400)
    assert episode["data_samples"].gt_sem_seg.data.shape == (1, 400, 400)  # evaluated at 400x400
    assert (os.path.basename(episode["data_samples"].img_path), episode["data_samples"].class_id) == (
        f"{val[0][0][0]}.jpg", val[0][0][1])
    train = DATASETS.build({**cfg.train_dataloader.dataset, "data_root": str(tmp_path)})
    assert len(train) == len(trn[1]) + len(trn[2]) + len(trn[3])
