"""Siamese encoder, Sections 4.2 and 5.1: one backbone for both images, layer3 + layer4 at 1/8."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import torch
import torchvision
from torch import nn

from .checkpoint import load_backbone_weights
from .layers import conv_relu
from .registry import MODELS
from .weight_init import init_submodule_weights

TORCHVISION_RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
COMPACT_RESNET_WIDTHS = (32, 64, 128, 256)
_PROBE_SIZE = 64  # side of the dummy image used to read the backbone's channels and stride


def dilate_stage_(stage: nn.Module, dilation: int) -> nn.Module:
    """Turn a ResNet stage into a stride-1 stage whose 3x3 convolutions have ``dilation`` (in place).

    Every block gets the same dilation (DeepLab/PFENet style); the weights' shapes do not change,
    so ImageNet weights still load.
    """
    for module in stage.modules():
        if isinstance(module, nn.Conv2d):
            module.stride = (1, 1)
            if module.kernel_size == (3, 3):
                module.dilation = (dilation, dilation)
                module.padding = (dilation, dilation)
    return stage


class ResNetFeatures(nn.Module):
    """A torchvision ResNet reduced to its stem and four stages, with layer3/layer4 dilated to 1/8.

    Submodule names are torchvision's (``conv1``, ``bn1``, ``layer1`` ...), so torchvision ImageNet
    state dicts load into it (their ``fc.*`` keys are reported as unused).
    """

    def __init__(self, resnet: torchvision.models.ResNet):
        super().__init__()
        self.conv1, self.bn1, self.relu, self.maxpool = resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool
        self.layer1, self.layer2 = resnet.layer1, resnet.layer2
        self.layer3 = dilate_stage_(resnet.layer3, 2)
        self.layer4 = dilate_stage_(resnet.layer4, 4)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (B, 64, H/4, W/4)
        x = self.layer2(self.layer1(x))  # (B, C2, H/8, W/8)
        layer3 = self.layer3(x)  # (B, C3, H/8, W/8)
        return layer3, self.layer4(layer3)  # (B, C4, H/8, W/8)


def compact_resnet(widths: Sequence[int] = COMPACT_RESNET_WIDTHS) -> torchvision.models.ResNet:
    """A torchvision ResNet with one BasicBlock per stage and half the widths: for CPU runs on generated data."""
    block = torchvision.models.resnet.BasicBlock
    net = torchvision.models.ResNet(block, [1, 1, 1, 1])
    net.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = nn.BatchNorm2d(widths[0])
    net.inplanes = widths[0]
    for stage, width in enumerate(widths):
        setattr(net, f"layer{stage + 1}", net._make_layer(block, width, 1, stride=1 if stage == 0 else 2))
    net.fc = nn.Linear(widths[-1], 1000)
    return net


def build_backbone(backbone: Union[str, nn.Module, dict]) -> nn.Module:
    """A torchvision ResNet name, a module, or a registry config -> a module returning (layer3, layer4)."""
    if isinstance(backbone, str):
        if backbone == "resnet10":
            backbone = compact_resnet()
        elif backbone in TORCHVISION_RESNETS:
            backbone = getattr(torchvision.models, backbone)(weights=None)
        else:
            raise ValueError(f"backbone name must be one of {TORCHVISION_RESNETS + ('resnet10',)}, "
                             f"got {backbone!r}")
    elif isinstance(backbone, dict):
        backbone = MODELS.build(backbone)
    if isinstance(backbone, torchvision.models.ResNet):
        return ResNetFeatures(backbone)
    return backbone


@MODELS.register_module()
class SiameseEncoder(nn.Module):
    """One backbone shared by the support and the query image (Section 4.2), features at 1/8.

    The backbone's layer3 and layer4 (dilated, 1/8 of the input) are concatenated ("multi-level",
    Table 2) or layer4 is used alone, then embedded by a 3x3 conv to ``out_channels`` with ReLU
    (Section 5.1). Any backbone whose forward returns a sequence of maps can be used: its last two
    outputs are taken as layer3 and layer4 (for mmseg's ``ResNetV1c`` set ``out_indices=(2, 3)``,
    ``strides=(1, 2, 1, 1)``, ``dilations=(1, 1, 2, 4)``).

    Args:
        backbone (str | nn.Module | dict): A torchvision ResNet name ('resnet50' in the paper),
            'resnet10' (one block per stage, half widths, for CPU runs), a module, or a registry config such as
            ``dict(type='mmseg.ResNetV1c', ...)``.
        pretrained (str, optional): Weights for the backbone: a file path, a URL, or
            ``torchvision://resnet50``, applied by :meth:`init_weights` when training starts (never when the
            encoder is built, so testing and inference read neither network nor file). None: none.
        multi_level (bool): Concatenate layer3 and layer4 (True) or use layer4 only. Default: True.
        out_channels (int): Channels of the embedded features. Default: 256.
        dropout (float): Dropout2d after the embedding; the paper uses none. Default: 0.
        freeze_backbone (bool): No gradients to the backbone, and its BatchNorm layers stay in eval
            mode through ``train()``. Default: False (Section 5.1 trains end to end).
    """

    def __init__(
        self,
        backbone: Union[str, nn.Module, dict] = "resnet50",
        pretrained: Optional[str] = None,
        multi_level: bool = True,
        out_channels: int = 256,
        dropout: float = 0.0,
        freeze_backbone: bool = False,
    ):
        super().__init__()
        self.backbone = build_backbone(backbone)
        self.pretrained = pretrained
        self.multi_level = multi_level
        self.freeze_backbone = freeze_backbone
        self.out_channels = out_channels
        layer3_channels, layer4_channels = self._probe_backbone()
        in_channels = layer3_channels + layer4_channels if multi_level else layer4_channels
        self.embed = nn.Sequential(conv_relu(in_channels, out_channels), nn.Dropout2d(dropout))
        if freeze_backbone:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    def init_weights(self) -> None:
        """Initialise the backbone as it is configured (e.g. an mmseg ``init_cfg``), then load ``pretrained``.

        MMEngine's Runner calls this when training starts; building, testing and inference never do.
        """
        init_submodule_weights(self)
        if self.pretrained:
            load_backbone_weights(self.backbone, self.pretrained)

    @torch.no_grad()
    def _probe_backbone(self) -> Sequence[int]:
        """Read the channels of layer3/layer4 from a dummy forward and check they are at 1/8."""
        was_training = self.backbone.training
        self.backbone.eval()
        probe = next(self.backbone.parameters()).new_zeros(1, 3, _PROBE_SIZE, _PROBE_SIZE)
        outputs = self.backbone(probe)
        self.backbone.train(was_training)
        if not isinstance(outputs, (tuple, list)) or len(outputs) < 2:
            raise ValueError("the backbone must return a sequence of at least two feature maps (layer3, layer4)")
        layer3, layer4 = outputs[-2], outputs[-1]
        expected = _PROBE_SIZE // 8
        for name, feat in (("layer3", layer3), ("layer4", layer4)):
            if feat.shape[-1] != expected:
                raise ValueError(
                    f"SiameseEncoder expects {name} at 1/8 of the input (dilated); a {_PROBE_SIZE}px input "
                    f"gave {feat.shape[-1]}px, i.e. 1/{_PROBE_SIZE // feat.shape[-1]}"
                )
        return layer3.shape[1], layer4.shape[1]

    def train(self, mode: bool = True) -> "SiameseEncoder":
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, out_channels, ceil(H/8), ceil(W/8))."""
        outputs = self.backbone(images)
        layer3, layer4 = outputs[-2], outputs[-1]
        feat = torch.cat([layer3, layer4], dim=1) if self.multi_level else layer4
        return self.embed(feat)
