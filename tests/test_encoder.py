"""Siamese encoder (4.2, 5.1): dilation to 1/8, multi-level features, weights loading, freezing."""
import pytest
import torch
import torchvision

from crc_modules import SiameseEncoder
from crc_modules.checkpoint import read_state_dict, resolve_weights_source
from crc_modules.encoder import dilate_stage_

from .conftest import tiny_resnet


def test_layer3_and_layer4_are_dilated_to_one_eighth_and_concatenated():
    encoder = SiameseEncoder(tiny_resnet(), out_channels=16)
    assert encoder.embed[0][0].in_channels == 256 + 512
    assert encoder(torch.randn(2, 3, 97, 97)).shape == (2, 16, 13, 13)


def test_single_level_uses_layer4_only():
    encoder = SiameseEncoder(tiny_resnet(), out_channels=16, multi_level=False)
    assert encoder.embed[0][0].in_channels == 512


def test_resnet50_by_name_has_the_paper_channels():
    encoder = SiameseEncoder("resnet50")
    assert encoder.embed[0][0].in_channels == 1024 + 2048
    assert encoder.embed[0][0].out_channels == 256


def test_dilation_keeps_weight_shapes_so_imagenet_weights_still_fit():
    resnet = torchvision.models.resnet50(weights=None)
    shapes = {k: v.shape for k, v in resnet.layer3.state_dict().items()}
    dilate_stage_(resnet.layer3, 2)
    assert {k: v.shape for k, v in resnet.layer3.state_dict().items()} == shapes
    assert resnet.layer3[1].conv2.dilation == (2, 2) and resnet.layer3[0].downsample[0].stride == (1, 1)


def test_a_backbone_that_is_not_at_one_eighth_is_refused_with_the_stride():
    class Strided(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, stride=16, padding=1)

        def forward(self, x):
            y = self.conv(x)
            return y, y

    with pytest.raises(ValueError, match="1/8.*1/16"):
        SiameseEncoder(Strided())


def test_pretrained_weights_load_at_init_weights_from_a_checkpoint_file_with_prefixes(tmp_path):
    source = tiny_resnet()
    state = {f"module.{k}": v for k, v in source.state_dict().items()}
    path = tmp_path / "resnet.pth"
    torch.save({"state_dict": state}, path)
    encoder = SiameseEncoder(tiny_resnet(), pretrained=str(path), out_channels=8)
    assert not torch.equal(encoder.backbone.layer4[0].conv1.weight, source.layer4[0].conv1.weight)
    encoder.init_weights()
    assert torch.equal(encoder.backbone.layer4[0].conv1.weight, source.layer4[0].conv1.weight)
    assert torch.equal(encoder.backbone.bn1.running_var, source.bn1.running_var)


def test_weights_that_miss_backbone_entries_are_refused_naming_the_file(tmp_path):
    state = {k: v for k, v in tiny_resnet().state_dict().items() if not k.startswith("layer4")}
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"partial\.pth.*layer4"):
        SiameseEncoder(tiny_resnet(), pretrained=str(path)).init_weights()


def test_building_reads_no_pretrained_file_and_training_start_names_the_missing_one(tmp_path):
    encoder = SiameseEncoder(tiny_resnet(), pretrained=str(tmp_path / "imagenet.pth"), out_channels=8)
    with pytest.raises(FileNotFoundError, match=r"imagenet\.pth.*pretrained=None"):
        encoder.init_weights()


def test_missing_weights_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        read_state_dict(str(tmp_path / "nowhere.pth"))


def test_torchvision_source_resolves_to_the_imagenet_url_without_downloading():
    assert resolve_weights_source("torchvision://resnet50").startswith("https://download.pytorch.org/models/resnet50")
    with pytest.raises(ValueError, match="nonesuch"):
        resolve_weights_source("torchvision://nonesuch")


def test_frozen_backbone_keeps_batchnorm_in_eval_and_gets_no_gradient():
    encoder = SiameseEncoder(tiny_resnet(), out_channels=8, freeze_backbone=True)
    encoder.train()
    bns = [m for m in encoder.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(not bn.training for bn in bns)
    before = [bn.running_mean.clone() for bn in bns]
    encoder(torch.randn(2, 3, 33, 33)).sum().backward()
    assert all(torch.equal(a, bn.running_mean) for a, bn in zip(before, bns))
    assert all(p.grad is None for p in encoder.backbone.parameters())
    assert all(p.grad is not None for p in encoder.embed.parameters())


def test_mmseg_resnetv1c_is_accepted_from_a_config():
    import mmseg.models  # noqa: F401

    import integrations.mmseg  # noqa: F401  (lets mmseg import on mmcv-lite)

    backbone = dict(type="mmseg.ResNetV1c", depth=18, out_indices=(2, 3), strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4))
    encoder = SiameseEncoder(backbone, out_channels=8)
    assert encoder.embed[0][0].in_channels == 256 + 512
    assert encoder(torch.randn(1, 3, 41, 41)).shape == (1, 8, 6, 6)


def test_an_mmseg_backbones_init_cfg_is_applied_at_init_weights_not_when_built():
    import mmseg.models  # noqa: F401

    import integrations.mmseg  # noqa: F401  (lets mmseg import on mmcv-lite)

    backbone = dict(type="mmseg.ResNetV1c", depth=18, out_indices=(2, 3), strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                    init_cfg=dict(type="Constant", val=0.5, layer="Conv2d"))
    encoder = SiameseEncoder(backbone, out_channels=8)
    conv = encoder.backbone.layer1[0].conv1.weight
    assert not torch.all(conv == 0.5)
    encoder.init_weights()
    assert torch.all(conv == 0.5)
