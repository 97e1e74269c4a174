"""HSNet (Min et al., "Hypercorrelation Squeeze for Few-Shot Segmentation", ICCV 2021) as released, + CRC blocks."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from crc_modules.checkpoint import load_backbone_weights
from crc_modules.conditional import GlobalConditional
from crc_modules.cross_reference import CrossReference
from crc_modules.episode_model import EpisodeModel, EpisodeOutput
from crc_modules.labels import IGNORE_INDEX
from crc_modules.layers import resize_to
from crc_modules.losses import upsampled_cross_entropy
from crc_modules.pooling import masked_average_pool
from crc_modules.registry import MODELS

from .backbone import IMAGENET_WEIGHTS, STAGE_CHANNELS, STAGE_LAYERS, backbone_features, build_backbone
from .correlation import hypercorrelation_pyramid
from .learner import SQUEEZE_CHANNELS, HypercorrelationLearner

CROSS_REFERENCE_HIDDEN = 256  # width of the cross-reference FC pairs (CRCNet's module width)
PRETRAINED_HINT = ("HSNet starts from torchvision's ImageNet weights: " + ", ".join(IMAGENET_WEIGHTS.values()) + ".")


@MODELS.register_module()
class HSNet(EpisodeModel):
    """HSNet as released (state-dict keys ``backbone.*`` and ``hpn_learner.*`` and their shapes identical), + CR / GC.

    The backbone is frozen and its BatchNorm layers stay in eval mode, as HSNet trains them. The support's
    features are multiplied by its mask (bilinear, ``align_corners=True``); the cosine correlations of the
    query's and support's features form three 4D stages (layer2..layer4), which the learner squeezes and
    mixes into a 2-D map and decodes into logits at 1/4 of the image; the host upsamples them with
    ``align_corners=True`` as HSNet does. k shots: one prediction per shot, fused by the host (HSNet votes).

    Insertion points of the CRC blocks (not in the released model):

    - ``cross_reference``: one :class:`~crc_modules.CrossReference` per stage re-weights the channels of the
      query's and the support's features of every layer of that stage before the support is masked and
      correlated (Section 4.3: the co-occurrent channels of the two images are kept).
      Reading: the FC pairs are ``CROSS_REFERENCE_HIDDEN`` (256) wide, not the 512-2048 input widths, and
      there is no co-occurrence head: HSNet keeps its single loss.
    - ``global_conditional``: :class:`~crc_modules.GlobalConditional` conditions the learner's 2-D map
      (B, 128, H/8, W/8), between its 4D encoder and its decoder, on the support's masked-average prototype.
      Reading: the prototype pools the last feature of the middle stage (ResNet layer3's last block,
      VGG conv5_3), the stage PFENet also pools, and a linear layer projects it to the map's 128 channels.

    With either flag, released weights cover every released key; the added blocks start from scratch.

    Args:
        backbone (str): 'vgg16', 'resnet50' or 'resnet101'. Default: 'resnet101' (HSNet's train.py).
        pretrained (str, optional): ImageNet weights of the backbone (a file, a URL or ``torchvision://NAME``),
            applied by :meth:`init_weights` when training starts, never when the model is built.
        mask_support_features (bool): Mask the support's features before the correlation; False is the
            "without support feature masking" evaluation of HSNet's Table 1. Default: True.
        cross_reference (bool): HSNet + CR. Default: False.
        global_conditional (bool): HSNet + GC. Default: False.
        boundary_as_background (bool): The loss counts label 255 (PASCAL's object boundaries) as background,
            as HSNet's loader does for training; False ignores those pixels. Default: True.
        ignore_index (int): The label of ignored pixels. Default: 255.
    """

    align_corners = True

    def __init__(self, backbone: str = "resnet101", pretrained: Optional[str] = None,
                 mask_support_features: bool = True, cross_reference: bool = False, global_conditional: bool = False,
                 boundary_as_background: bool = True, ignore_index: int = IGNORE_INDEX):
        super().__init__()
        self.backbone = build_backbone(backbone)
        self.backbone.requires_grad_(False)
        self.backbone.eval()
        self.stage_layers = STAGE_LAYERS[backbone]
        self.pretrained, self.mask_support_features = pretrained, mask_support_features
        self.boundary_as_background, self.ignore_index = boundary_as_background, ignore_index
        self.hpn_learner = HypercorrelationLearner(self.stage_layers[::-1])
        channels = STAGE_CHANNELS[backbone]
        self.cross_reference = nn.ModuleList(
            CrossReference(width, CROSS_REFERENCE_HIDDEN) for width in channels) if cross_reference else None
        width = SQUEEZE_CHANNELS[-1]
        self.global_conditional = GlobalConditional(width, width) if global_conditional else None
        self.prototype_projection = nn.Linear(channels[1], width) if global_conditional else None

    def init_weights(self) -> None:
        """Load ``pretrained`` into the backbone (MMEngine's Runner calls this when training starts)."""
        if self.pretrained:
            load_backbone_weights(self.backbone, self.pretrained, hint=PRETRAINED_HINT)

    def train(self, mode: bool = True) -> "HSNet":
        super().train(mode)
        self.backbone.eval()  # BatchNorm statistics stay ImageNet's
        return self

    def finetune_parameters(self) -> Dict[str, nn.Parameter]:
        """Everything after the frozen backbone: the learner (and the CR / GC blocks when on)."""
        return {name: param for name, param in self.named_parameters()
                if param.requires_grad and not name.startswith("backbone.")}

    @torch.no_grad()
    def encode(self, images: torch.Tensor, masks: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, ...]:
        """The frozen backbone's intermediate features, shallow to deep (13 for ResNet-50, 30 for ResNet-101, 7 VGG)."""
        return tuple(backbone_features(self.backbone, images))

    def predict(self, query: Sequence[torch.Tensor], supports: Sequence[torch.Tensor], support_masks: torch.Tensor,
                query_masks: Optional[torch.Tensor] = None) -> EpisodeOutput:
        """Query features (B, C_i, h_i, w_i), one support's (B, 1, C_i, h_i, w_i) and its mask (B, 1, 1, H, W)
        -> logits (B, 2, H/4, W/4)."""
        if support_masks.shape[1] != 1:
            raise ValueError(f"HSNet predicts from one support at a time (got {support_masks.shape[1]}); the host "
                             "fuses the one-shot predictions (HSNet's k-shot is a vote over them)")
        query_feats, support_feats = list(query), [feat[:, 0] for feat in supports]
        mask = support_masks[:, 0].float()  # (B, 1, H, W)
        if self.cross_reference is not None:
            query_feats, support_feats = self._cross_reference(query_feats, support_feats)
        correlated = support_feats
        if self.mask_support_features:
            correlated = [feat * resize_to(mask, feat.shape[-2:], align_corners=True) for feat in support_feats]
        pyramid = hypercorrelation_pyramid(query_feats, correlated, self.stage_layers)
        feature_map = self.hpn_learner.squeeze(pyramid)  # (B, 128, H/8, W/8)
        if self.global_conditional is not None:
            pooled = support_feats[sum(self.stage_layers[:2]) - 1]  # the middle stage's last feature
            prototype = self.prototype_projection(masked_average_pool(pooled, mask))  # (B, 128)
            feature_map = self.global_conditional(feature_map, prototype)
        return EpisodeOutput(self.hpn_learner.decode(feature_map))

    def _cross_reference(self, query_feats: List[torch.Tensor],
                         support_feats: List[torch.Tensor]) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Each layer's query and support features re-weighted by its stage's cross-reference module."""
        stage_of_layer = [stage for stage, size in enumerate(self.stage_layers) for _ in range(size)]
        query_out, support_out = [], []
        for stage, query_feat, support_feat in zip(stage_of_layer, query_feats, support_feats):
            support_feat, query_feat = self.cross_reference[stage](support_feat, query_feat)
            query_out.append(query_feat)
            support_out.append(support_feat)
        return query_out, support_out

    def loss(self, output: EpisodeOutput, query_labels: torch.Tensor,
             support_labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """HSNet's cross-entropy of the logits upsampled (``align_corners=True``) to the (B, H, W) query labels."""
        if self.boundary_as_background:
            query_labels = query_labels.masked_fill(query_labels == self.ignore_index, 0)
        return {"loss_query": upsampled_cross_entropy(output.query_logits, query_labels, self.ignore_index,
                                                      align_corners=True)}
