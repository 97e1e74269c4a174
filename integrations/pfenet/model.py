"""PFENet (Tian et al., TPAMI 2020) with its released module names, and the CRC insertions of Tables 8 and 12."""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from crc_modules.checkpoint import load_backbone_weights
from crc_modules.conditional import GlobalConditional
from crc_modules.cross_reference import CoOccurrenceHead, CrossReference
from crc_modules.episode_model import EpisodeModel, EpisodeOutput
from crc_modules.labels import IGNORE_INDEX
from crc_modules.layers import resize_to
from crc_modules.losses import upsampled_cross_entropy
from crc_modules.pooling import masked_average_pool
from crc_modules.registry import MODELS

from .backbone import deep_stem_keys, deep_stem_resnet, vgg16_bn_keys, vgg16_bn_stages

REDUCE_DIM = 256
PRETRAINED_HINT = ("PFENet's ImageNet backbones (initmodel/resnet50_v2.pth, resnet101_v2.pth, vgg16_bn.pth) are linked "
                   "from https://github.com/dvlab-research/PFENet#get-started; save them under initmodel/.")
COSINE_EPS = 1e-7
PFENET_POOL_EPS = 0.0005  # PFENet adds 5e-4 to the mask area of its masked average pooling


def _resize(x: torch.Tensor, size) -> torch.Tensor:
    """PFENet resizes everything bilinearly with ``align_corners=True``."""
    return resize_to(x, size, align_corners=True)


def prior_mask(query_high: torch.Tensor, support_high: torch.Tensor, support_mask: torch.Tensor) -> torch.Tensor:
    """The training-free prior (PFENet Section 3.2): per query position, the max cosine similarity to the masked
    support's layer4 features, min-max normalised per query. (B, C, h, w) x2, (B, 1, h, w) -> (B, 1, h, w) in [0, 1]."""
    batch, channels, height, width = query_high.shape
    support = (support_high * support_mask).flatten(2).transpose(1, 2)  # (B, hw_s, C)
    query = query_high.flatten(2)  # (B, C, hw_q)
    norms = torch.bmm(support.norm(dim=2, keepdim=True), query.norm(dim=1, keepdim=True))
    similarity = (torch.bmm(support, query) / (norms + COSINE_EPS)).max(dim=1)[0]  # (B, hw_q)
    low, high = similarity.min(dim=1, keepdim=True)[0], similarity.max(dim=1, keepdim=True)[0]
    return ((similarity - low) / (high - low + COSINE_EPS)).view(batch, 1, height, width)


def _conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)


def _classifier(channels: int, classes: int) -> nn.Sequential:
    return nn.Sequential(_conv(channels, channels, 3), nn.ReLU(inplace=True), nn.Dropout2d(p=0.1),
                         nn.Conv2d(channels, classes, kernel_size=1))


def _double_conv(channels: int) -> nn.Sequential:
    return nn.Sequential(_conv(channels, channels, 3), nn.ReLU(inplace=True), _conv(channels, channels, 3),
                         nn.ReLU(inplace=True))


@MODELS.register_module()
class PFENet(EpisodeModel):
    """PFENet as released (state-dict keys and shapes identical), optionally with CRCNet's blocks (Tables 8, 12).

    Insertion points (reading: the paper names the variants, not the wiring):
    GC conditions the reduced query features on the support prototype before the FEM, where CRCNet
    conditions before its refinement; CR re-weights the reduced query and support features by their
    co-occurring channels before the prototype is pooled, with its co-occurrence head's loss
    (weight ``cr_aux_weight``). Both keep every released key. The plain model's state-dict keys are the
    released ones (``module.`` aside), so a released checkpoint loads strictly through the tools'
    checkpoint path (``tools/test.py CONFIG train_epoch_200.pth``), never while the model is built.

    Args:
        layers (int): ResNet depth, 50 or 101 (152); ignored with ``vgg``.
        vgg (bool): VGG-16-BN instead of the ResNet (PFENet's ``vgg=True``, its released COCO models); its
            layer2 (1/8) is resized to layer3's 1/16 before the two are concatenated. Default: False.
        ppm_scales (Sequence[float]): FEM bins; values <= 1 are relative to the feature size.
        classes (int): Output classes. Default: 2.
        pretrained (str, optional): Deep-stem ImageNet weights (PFENet's ``initmodel/resnet50_v2.pth``), applied by
            :meth:`init_weights` when training starts, never when the model is built.
        backbone_bn_updates (bool): Let the frozen backbone's BatchNorm statistics change in training,
            as the released code does. Default: False (they stay fixed).
        global_conditional (bool): PFENet + GC. Default: False.
        cross_reference (bool): PFENet + CR. Default: False.
        aux_weight (float): Weight of the FEM's auxiliary losses (averaged over scales). Default: 1.0.
        cr_aux_weight (float): Weight of the co-occurrence loss with CR (lambda of Eq. 5). Default: 0.1.
        ignore_index (int): Label ignored by the losses. Default: ``IGNORE_INDEX`` (255).
    """

    fuses_shots = True  # k supports go through one forward: prototypes and priors are averaged (PFENet's k-shot)
    encodes_support_masks = True  # a support's layer4 reads its masked layer3
    align_corners = True

    def __init__(self, layers: int = 50, ppm_scales: Sequence[float] = (60, 30, 15, 8),
                 classes: int = 2, pretrained: Optional[str] = None, backbone_bn_updates: bool = False,
                 global_conditional: bool = False, cross_reference: bool = False, aux_weight: float = 1.0,
                 cr_aux_weight: float = 0.1, ignore_index: int = IGNORE_INDEX, vgg: bool = False):
        super().__init__()
        self.ppm_scales = tuple(ppm_scales)
        self.backbone_bn_updates, self.aux_weight = backbone_bn_updates, aux_weight
        self.cr_aux_weight, self.ignore_index = cr_aux_weight, ignore_index
        self.vgg, self.backbone_name = vgg, "vgg16_bn" if vgg else f"resnet{layers}"
        stages = vgg16_bn_stages() if vgg else deep_stem_resnet(layers)
        self.layer0, self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pretrained = pretrained
        for stage in self._backbone_view().children():
            stage.requires_grad_(False)
        feat_dim = 512 + 256 if vgg else 1024 + 512  # cat(layer3, layer2)
        self.cls = _classifier(REDUCE_DIM, classes)
        self.down_query = nn.Sequential(_conv(feat_dim, REDUCE_DIM, 1), nn.ReLU(inplace=True), nn.Dropout2d(p=0.5))
        self.down_supp = nn.Sequential(_conv(feat_dim, REDUCE_DIM, 1), nn.ReLU(inplace=True), nn.Dropout2d(p=0.5))
        bins = len(self.ppm_scales)
        self.init_merge = nn.ModuleList(
            nn.Sequential(_conv(2 * REDUCE_DIM + 1, REDUCE_DIM, 1), nn.ReLU(inplace=True)) for _ in range(bins))
        self.beta_conv = nn.ModuleList(_double_conv(REDUCE_DIM) for _ in range(bins))
        self.inner_cls = nn.ModuleList(_classifier(REDUCE_DIM, classes) for _ in range(bins))
        self.res1 = nn.Sequential(_conv(REDUCE_DIM * bins, REDUCE_DIM, 1), nn.ReLU(inplace=True))
        self.res2 = _double_conv(REDUCE_DIM)
        self.alpha_conv = nn.ModuleList(
            nn.Sequential(_conv(2 * REDUCE_DIM, REDUCE_DIM, 1), nn.ReLU()) for _ in range(bins - 1))
        self.global_conditional = GlobalConditional(REDUCE_DIM, REDUCE_DIM) if global_conditional else None
        self.cross_reference = CrossReference(REDUCE_DIM) if cross_reference else None
        self.co_occurrence_head = CoOccurrenceHead(REDUCE_DIM, REDUCE_DIM) if cross_reference else None

    def init_weights(self) -> None:
        """Load ``pretrained`` into the backbone (MMEngine's Runner calls this when training starts)."""
        if self.pretrained:
            load_backbone_weights(self._backbone_view(), self.pretrained,
                                  rename=vgg16_bn_keys if self.vgg else deep_stem_keys, hint=PRETRAINED_HINT)

    def _backbone_view(self) -> nn.Module:
        view = nn.Module()
        for name in ("layer0", "layer1", "layer2", "layer3", "layer4"):
            view.add_module(name, getattr(self, name))
        return view

    def train(self, mode: bool = True) -> "PFENet":
        super().train(mode)
        if not self.backbone_bn_updates:
            self._backbone_view().eval()
        return self

    @torch.no_grad()
    def encode(self, images: torch.Tensor, masks: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, ...]:
        """The frozen backbone: (layer2, layer3, layer4) at 1/8 (VGG: 1/16); a support's layer4 reads layer3 * mask."""
        feat2 = self.layer2(self.layer1(self.layer0(images)))
        feat3 = self.layer3(feat2)
        layer4_input = feat3 if masks is None else feat3 * _resize(masks, feat3.shape[-2:])
        return _resize(feat2, feat3.shape[-2:]), feat3, self.layer4(layer4_input)

    def predict(self, query: Sequence[torch.Tensor], supports: Sequence[torch.Tensor], support_masks: torch.Tensor,
                query_masks: Optional[torch.Tensor] = None) -> EpisodeOutput:
        """Query (layer2, layer3, layer4) (B, ...) and K supports' (B, K, ...) with masks (B, K, 1, H, W) -> logits.

        PFENet's k-shot: the K prototypes and the K priors are averaged. In training the output holds
        the FEM's per-scale logits (``side_logits``) and, with CR, the co-occurrence logits.
        """
        feat2, feat3, query_high = query
        query_feat = self.down_query(torch.cat([feat3, feat2], 1))
        prototypes, priors, reinforced = [], [], []
        for shot in range(support_masks.shape[1]):
            support2, support3, support_high = (feat[:, shot] for feat in supports)
            mask = _resize(support_masks[:, shot], support3.shape[-2:])
            support_feat = self.down_supp(torch.cat([support3, support2], 1))
            if self.cross_reference is not None:
                support_feat, query_reinforced = self.cross_reference(support_feat, query_feat)
                reinforced.append((support_feat, query_reinforced))
            prototypes.append(masked_average_pool(support_feat, mask, eps=PFENET_POOL_EPS))
            priors.append(_resize(prior_mask(query_high, support_high, _resize(mask, support_high.shape[-2:])),
                                  feat3.shape[-2:]))
        prototype = torch.stack(prototypes).mean(0)[..., None, None]  # (B, 256, 1, 1)
        prior = _resize(torch.cat(priors, 1).mean(1, keepdim=True), query_feat.shape[-2:])
        query_co_occurrence = support_co_occurrence = None
        if reinforced:
            query_feat = torch.stack([query_k for _, query_k in reinforced]).mean(0)
            if self.training:
                query_co_occurrence = self.co_occurrence_head(query_feat)
                support_co_occurrence = self.co_occurrence_head(reinforced[0][0])
        if self.global_conditional is not None:
            query_feat = self.global_conditional(query_feat, prototype.flatten(1))
        logits, side_logits = self._feature_enrichment(query_feat, prototype, prior)
        return EpisodeOutput(logits, None, query_co_occurrence, support_co_occurrence,
                             tuple(side_logits) if self.training else ())

    def _feature_enrichment(self, query_feat, prototype, prior):
        """The FEM: per scale, merge query, prototype and prior; pass coarse scales' features down (alpha)."""
        height, width = query_feat.shape[-2:]
        merged, aux_logits = [], []
        for index, scale in enumerate(self.ppm_scales):
            bins = int(height * scale) if scale <= 1.0 else int(scale)
            query_bin = F.adaptive_avg_pool2d(query_feat, bins)
            merge = torch.cat([query_bin, prototype.expand(-1, -1, bins, bins), _resize(prior, (bins, bins))], 1)
            merge = self.init_merge[index](merge)
            if index >= 1:
                previous = _resize(merged[index - 1], (bins, bins))
                merge = self.alpha_conv[index - 1](torch.cat([merge, previous], 1)) + merge
            merge = self.beta_conv[index](merge) + merge
            aux_logits.append(self.inner_cls[index](merge))
            merged.append(_resize(merge, (height, width)))
        feat = self.res1(torch.cat(merged, 1))
        feat = self.res2(feat) + feat
        return self.cls(feat), aux_logits

    def loss(self, output: EpisodeOutput, query_labels: torch.Tensor,
             support_labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Main CE + ``aux_weight`` x mean of the FEM's CE terms (+ ``cr_aux_weight`` x co-occurrence CE with CR).

        Labels: query (B, H, W), supports (B, K, H, W); logits are upsampled with ``align_corners=True``.
        """
        def cross_entropy(logits, labels):
            return upsampled_cross_entropy(logits, labels, self.ignore_index, align_corners=True)

        losses = {"loss_query": cross_entropy(output.query_logits, query_labels)}
        if output.side_logits:
            side = torch.stack([cross_entropy(logits, query_labels) for logits in output.side_logits])
            losses["loss_query_aux"] = self.aux_weight * side.mean()
        if output.query_co_occurrence_logits is not None:
            co_occurrence = (cross_entropy(output.query_co_occurrence_logits, query_labels)
                             + cross_entropy(output.support_co_occurrence_logits, support_labels[:, 0]))
            losses["loss_cooc"] = self.cr_aux_weight * co_occurrence
        return losses
