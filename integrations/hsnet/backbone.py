"""HSNet's backbones (torchvision VGG-16, ResNet-50, ResNet-101 as they are) and the features it correlates.

ResNet: the output of every bottleneck of layer2, layer3 and layer4 before its final ReLU (the residual
sum). VGG-16: conv4_1..conv4_3 and conv5_1..conv5_3 before their ReLU, and pool5. The features form
three stages (1/8, 1/16, 1/32 of the image) whose correlations the learner squeezes separately.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import torch
import torchvision
from torch import nn

# stage sizes (shallow to deep) of the features HSNet correlates
STAGE_LAYERS: Dict[str, Tuple[int, int, int]] = {"vgg16": (3, 3, 1), "resnet50": (4, 6, 3), "resnet101": (4, 23, 3)}
# channels of the features of each stage (shallow to deep)
STAGE_CHANNELS: Dict[str, Tuple[int, int, int]] = {"vgg16": (512, 512, 512), "resnet50": (512, 1024, 2048),
                                                   "resnet101": (512, 1024, 2048)}
# indices in VGG-16's ``features`` whose outputs are kept: conv4_1..3, conv5_1..3 (before ReLU), pool5
VGG16_FEATURE_INDICES = (17, 19, 21, 24, 26, 28, 30)
# ImageNet weights the released models started from (torchvision's first weights of each network)
IMAGENET_WEIGHTS = {"vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
                    "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
                    "resnet101": "https://download.pytorch.org/models/resnet101-63fe2227.pth"}


def build_backbone(name: str) -> nn.Module:
    """The whole torchvision network (classifier included, so released state dicts load strictly), no weights."""
    if name not in STAGE_LAYERS:
        raise ValueError(f"HSNet's backbone must be one of {tuple(STAGE_LAYERS)}, got {name!r}")
    return getattr(torchvision.models, name)(weights=None)


def _bottleneck_before_relu(block: torchvision.models.resnet.Bottleneck, x: torch.Tensor) -> torch.Tensor:
    """A torchvision bottleneck's residual sum, before its last ReLU."""
    identity = x if block.downsample is None else block.downsample(x)
    out = block.relu(block.bn1(block.conv1(x)))
    out = block.relu(block.bn2(block.conv2(out)))
    return block.bn3(block.conv3(out)) + identity


def resnet_features(resnet: torchvision.models.ResNet, images: torch.Tensor) -> List[torch.Tensor]:
    """Every bottleneck output (before ReLU) of layer2..layer4: 13 maps for ResNet-50, 30 for ResNet-101."""
    x = resnet.maxpool(resnet.relu(resnet.bn1(resnet.conv1(images))))  # (B, 64, H/4, W/4)
    x = resnet.layer1(x)  # (B, 256, H/4, W/4)
    features = []
    for stage in (resnet.layer2, resnet.layer3, resnet.layer4):  # 1/8, 1/16, 1/32
        for block in stage:
            summed = _bottleneck_before_relu(block, x)
            features.append(summed)
            x = torch.relu(summed)
    return features


def vgg_features(vgg: torchvision.models.VGG, images: torch.Tensor) -> List[torch.Tensor]:
    """conv4_1..3 (1/8), conv5_1..3 (1/16) before ReLU and pool5 (1/32) of VGG-16: 7 maps of 512 channels."""
    features, x = [], images
    for index, layer in enumerate(vgg.features[:VGG16_FEATURE_INDICES[-1] + 1]):
        x = layer(x)
        if index in VGG16_FEATURE_INDICES:
            features.append(x.clone())  # the next ReLU is in place
    return features


def backbone_features(backbone: nn.Module, images: torch.Tensor) -> List[torch.Tensor]:
    """The features HSNet correlates, shallow to deep, from a torchvision ResNet or VGG-16."""
    if isinstance(backbone, torchvision.models.ResNet):
        return resnet_features(backbone, images)
    if isinstance(backbone, torchvision.models.VGG):
        return vgg_features(backbone, images)
    raise TypeError(f"HSNet's features are defined for torchvision ResNets and VGG-16, not {type(backbone).__name__}")
