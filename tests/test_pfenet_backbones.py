"""PFENet's other released backbones (issue 19, item 6): VGG-16-BN (its COCO models) and ResNet-101."""
import pytest
import torch
import torch.nn.functional as F

from integrations.mmseg.engine.checkpoint import load_model_weights
from integrations.pfenet import PFENet

# PFENet's VGG-16-BN naming: layer0..layer4 are slices of VGG's ``features``; each conv is followed by a BatchNorm
# and a ReLU (indices 3 apart), and layer0..layer3 end with a max-pool. Channels per stage of configuration "D".
VGG_STAGES = {"layer0": (3, 64, 64), "layer1": (64, 128, 128), "layer2": (128, 256, 256, 256),
              "layer3": (256, 512, 512, 512), "layer4": (512, 512, 512, 512)}
BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def released_vgg_backbone_shapes():
    shapes = {}
    for stage, widths in VGG_STAGES.items():
        for position, (inp, out) in enumerate(zip(widths, widths[1:])):
            shapes[f"{stage}.{3 * position}.weight"] = (inp, out)[::-1] + (3, 3)
            shapes[f"{stage}.{3 * position}.bias"] = (out,)
            for key in BN_KEYS:
                shapes[f"{stage}.{3 * position + 1}.{key}"] = () if key == "num_batches_tracked" else (out,)
    return shapes


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {"resnet50": PFENet(layers=50), "resnet101": PFENet(layers=101), "vgg": PFENet(vgg=True)}


def test_vgg_backbone_and_head_have_the_released_names_and_shapes(models):
    vgg, resnet = models["vgg"].state_dict(), models["resnet50"].state_dict()
    backbone = {k: tuple(v.shape) for k, v in vgg.items() if k.startswith("layer")}
    assert backbone == released_vgg_backbone_shapes()
    head = {k: tuple(v.shape) for k, v in vgg.items() if not k.startswith("layer")}
    expected_head = {k: tuple(v.shape) for k, v in resnet.items() if not k.startswith("layer")}
    expected_head["down_query.0.weight"] = expected_head["down_supp.0.weight"] = (256, 512 + 256, 1, 1)
    assert head == expected_head


def test_resnet101_has_23_blocks_in_layer3_with_the_resnet50_names(models):
    deep, shallow = models["resnet101"].state_dict(), models["resnet50"].state_dict()
    block_keys = [k[len("layer3.1."):] for k in shallow if k.startswith("layer3.1.")]
    assert len(block_keys) == 18  # 3 convs, 3 BatchNorms of 5 entries
    assert len(deep) == len(shallow) + 17 * len(block_keys)
    assert all(f"layer3.{block}.{key}" in deep for block in range(23) for key in block_keys)
    assert all(tuple(deep[k].shape) == tuple(v.shape) for k, v in shallow.items())


@pytest.mark.parametrize("name", ["resnet101", "vgg"])
def test_released_checkpoints_of_both_backbones_load_strictly(models, name, tmp_path):
    model = models[name]
    state = {f"module.{k}": v + 1 if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save({"epoch": 50, "state_dict": state}, tmp_path / "train_epoch_50.pth")
    loaded = PFENet(layers=101, vgg=name == "vgg")
    load_model_weights(loaded, str(tmp_path / "train_epoch_50.pth"))  # the tools' checkpoint path
    assert torch.equal(loaded.layer4[0].weight if name == "vgg" else loaded.layer3[22].conv3.weight,
                       (model.layer4[0].weight if name == "vgg" else model.layer3[22].conv3.weight) + 1)
    with pytest.raises(ValueError, match=r"train_epoch_50.pth does not fit the config's model: .*missing"):
        load_model_weights(PFENet(layers=50, vgg=name != "vgg"), str(tmp_path / "train_epoch_50.pth"))


def test_vgg_pools_round_up_and_layer2_is_resized_to_layer3_as_pfenet_does(models):
    model = models["vgg"].eval()
    images = torch.randn(1, 3, 97, 97)
    feat2, feat3, feat4 = model.encode(images)
    assert feat3.shape[-2:] == feat4.shape[-2:] == (7, 7)  # 97 -> 49 -> 25 -> 13 -> 7: ceil-mode pools
    with torch.no_grad():
        layer2 = model.layer2(model.layer1(model.layer0(images)))
    assert layer2.shape[-2:] == (13, 13)
    assert torch.allclose(feat2, F.interpolate(layer2, (7, 7), mode="bilinear", align_corners=True))


def test_vgg16_bn_imagenet_file_loads_into_layer0_to_layer4(models, tmp_path):
    import torchvision

    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"], batch_norm=True)
    state = {f"features.{k}": v + 2 if v.is_floating_point() else v for k, v in features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)
    torch.save(state, tmp_path / "vgg16_bn.pth")
    model = PFENet(vgg=True, pretrained=str(tmp_path / "vgg16_bn.pth"))
    model.init_weights()
    assert torch.equal(model.layer3[3].weight, features[27].weight + 2)  # features.27 is layer3's second conv
    assert torch.equal(model.layer4[7].running_mean, features[41].running_mean + 2)


def test_vgg_pfenet_trains_with_only_the_head_learning():
    torch.manual_seed(0)
    model = PFENet(vgg=True, ppm_scales=(1.0, 0.5)).train()
    size = 65
    support, query = torch.randn(2, 3, size, size), torch.randn(2, 3, size, size)
    label = torch.zeros(2, size, size, dtype=torch.long)
    label[:, 10:40, 20:50] = 1
    output = model(query, support, (label == 1).float()[:, None])
    losses = model.loss(output, label, label[:, None])
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.layer2.parameters())
    assert model.down_query[0].weight.grad.abs().sum() > 0
