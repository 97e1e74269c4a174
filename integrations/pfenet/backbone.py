"""PFENet's backbones: the deep-stem ResNet (stem convs 3-64-64-128, layer3/layer4 dilated 2/4 with stride 1) and
VGG-16 with BatchNorm (its COCO models, ``vgg=True``), each as five stages ``layer0``..``layer4``."""
from __future__ import annotations

from typing import Dict, Tuple

import torch
import torchvision
from torch import nn

from crc_modules.encoder import dilate_stage_

BLOCKS_PER_STAGE = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}
# the deep-stem ImageNet files (PFENet's initmodel/resnet50_v2.pth) name the stem like a ResNet's conv1/bn1
STEM_KEYS = {"conv1": "0", "bn1": "1", "conv2": "3", "bn2": "4", "conv3": "6", "bn3": "7"}
# PFENet's split of VGG-16-BN's ``features`` (indices) into layer0..layer4: 1/2, 1/4, 1/8 (256 channels),
# 1/16 (512) and 1/16 again (conv5_1..conv5_3, the last max-pool left out)
VGG16_BN_STAGES = ((0, 7), (7, 14), (14, 24), (24, 34), (34, 43))


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int):
    return [nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


def deep_stem_resnet(layers: int = 50) -> Tuple[nn.Sequential, nn.Module, nn.Module, nn.Module, nn.Module]:
    """(layer0, layer1, layer2, layer3, layer4) with PFENet's module names; layer3/4 dilated to keep 1/8."""
    if layers not in BLOCKS_PER_STAGE:
        raise ValueError(f"PFENet's ResNet depth must be one of {tuple(BLOCKS_PER_STAGE)}, got {layers}")
    block = torchvision.models.resnet.Bottleneck
    net = torchvision.models.ResNet(block, BLOCKS_PER_STAGE[layers])
    net.inplanes = 128  # the deep stem ends with 128 channels
    net.layer1 = net._make_layer(block, 64, BLOCKS_PER_STAGE[layers][0])
    layer0 = nn.Sequential(*_conv_bn_relu(3, 64, 2), *_conv_bn_relu(64, 64, 1), *_conv_bn_relu(64, 128, 1),
                           nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    return layer0, net.layer1, net.layer2, dilate_stage_(net.layer3, 2), dilate_stage_(net.layer4, 4)


def deep_stem_keys(checkpoint: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """A deep-stem ImageNet state (``conv1..bn3``, ``layer1..4``, ``fc``) -> PFENet's backbone keys (``layer0.N``)."""
    state = {}
    for key, value in checkpoint.items():
        head, _, rest = key.partition(".")
        if head in STEM_KEYS:
            state[f"layer0.{STEM_KEYS[head]}.{rest}"] = value
        elif head.startswith("layer"):
            state[key] = value
    if not any(k.startswith("layer0.") for k in state):
        raise ValueError("not a deep-stem ResNet state: no conv1/bn1..conv3/bn3 stem entries")
    return state


def vgg16_bn_stages() -> Tuple[nn.Sequential, ...]:
    """(layer0, .., layer4) of VGG-16-BN as PFENet splits it; its max-pools round up (``ceil_mode``), as PFENet's do."""
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"], batch_norm=True)
    for module in features:
        if isinstance(module, nn.MaxPool2d):
            module.ceil_mode = True
    return tuple(nn.Sequential(*features[start:end]) for start, end in VGG16_BN_STAGES)


def vgg16_bn_keys(checkpoint: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """An ImageNet VGG-16-BN state (``features.N``, ``classifier``) -> PFENet's backbone keys (``layerS.M``)."""
    state = {}
    for key, value in checkpoint.items():
        head, _, rest = key.partition(".")
        index, _, leaf = rest.partition(".")
        if head != "features" or not index.isdigit():
            continue
        for stage, (start, end) in enumerate(VGG16_BN_STAGES):
            if start <= int(index) < end:
                state[f"layer{stage}.{int(index) - start}.{leaf}"] = value
    if not state:
        raise ValueError("not a VGG-16-BN state: no features.N entries")
    return state
