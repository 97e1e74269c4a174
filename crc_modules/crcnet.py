"""CRCNet, Section 4 and Fig. 2: Siamese encoder, cross-reference, region-global conditional, mask refinement."""
from __future__ import annotations

from typing import Dict, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from .conditional import RegionGlobalConditional
from .cross_reference import CoOccurrenceHead, CrossReference
from .encoder import SiameseEncoder
from .layers import resize_to
from .refinement import MaskRefinement
from .registry import MODELS


def binary_mask(label: torch.Tensor) -> torch.Tensor:
    """A (B, H, W) or (B, 1, H, W) label with 0 = background, 1 = object, 255 = ignore -> float (B, 1, H, W) mask."""
    if label.dim() == 3:
        label = label[:, None]
    return (label == 1).float()


@MODELS.register_module()
class CRCNet(nn.Module):
    """Cross-reference and region-global conditional network for 1-shot pairs (Fig. 2).

    Symmetric: the support image guides the query's prediction and, when the query's mask is
    given (training, k-shot finetuning), the query guides the support's prediction with the same
    weights (Section 4.1, "support and query images can guide the segmentation of each other").
    The conditional module and the cross-reference module both read the encoder features; the
    refinement reads their concatenation (Section 4.5). In eval mode only the query prediction is
    computed unless a query mask is passed; the co-occurrence head runs in training only.
    Training loss, Eq. 5: ``(L_QM + L_SM) + lambda (L_QMsub + L_SMsub)``, each a 2-class cross-entropy
    on softmax logits, which equals the BCE of Eq. 4 on the foreground probability.

    Args:
        encoder (dict | nn.Module): The Siamese encoder, or the kwargs/config of a
            :class:`SiameseEncoder` (``type`` optional). Default: ResNet-50, layer3+layer4.
        channels (int): Width of every new module (256 in Section 5.1).
        cross_reference (bool): Use the cross-reference module and its auxiliary loss (Table 1).
        cr_activation (str): 'sigmoid', 'relu' or 'softmax' (Table 6).
        global_conditional (bool): Use the global conditional module (Tables 1, 3).
        local_conditional (bool): Use the local conditional module (Tables 1, 3).
        local_use_mask (bool): Mask the similarities of the local module (Table 7).
        use_cache (bool): Mask refinement with the probability cache, run ``refine_steps`` times;
            False runs it once without the cache (Table 2).
        refine_steps (int): Refinement steps (10 in Section 5.1).
        aux_weight (float): lambda of Eq. 5. Default: 0.1.
        ignore_index (int): Label value left out of the losses. Default: 255.
    """

    def __init__(
        self,
        encoder: Union[dict, nn.Module, None] = None,
        channels: int = 256,
        cross_reference: bool = True,
        cr_activation: str = "sigmoid",
        global_conditional: bool = True,
        local_conditional: bool = True,
        local_use_mask: bool = True,
        use_cache: bool = True,
        refine_steps: int = 10,
        aux_weight: float = 0.1,
        ignore_index: int = 255,
    ):
        super().__init__()
        if not (cross_reference or global_conditional or local_conditional):
            raise ValueError("CRCNet needs the cross-reference module or a conditional module")
        self.encoder = self._build_encoder(encoder, channels)
        feat_channels = self.encoder.out_channels
        self.cross_reference = CrossReference(feat_channels, activation=cr_activation) if cross_reference else None
        self.co_occurrence_head = CoOccurrenceHead(feat_channels, channels) if cross_reference else None
        self.conditional = None
        refine_in = feat_channels if cross_reference else 0
        if global_conditional or local_conditional:
            self.conditional = RegionGlobalConditional(
                feat_channels, channels, global_conditional, local_conditional, local_use_mask
            )
            refine_in += self.conditional.out_channels
        self.refinement = MaskRefinement(refine_in, channels, refine_steps, use_cache)
        self.aux_weight = aux_weight
        self.ignore_index = ignore_index

    @staticmethod
    def _build_encoder(encoder: Union[dict, nn.Module, None], channels: int) -> nn.Module:
        if isinstance(encoder, nn.Module):
            return encoder
        cfg = dict(type="SiameseEncoder", out_channels=channels)
        cfg.update(encoder or {})
        return MODELS.build(cfg)

    def encode(self, support_img: torch.Tensor, query_img: torch.Tensor):
        """Both images through the one shared encoder; a single batch when their sizes agree."""
        if support_img.shape == query_img.shape:
            support_feat, query_feat = self.encoder(torch.cat([support_img, query_img])).chunk(2)
            return support_feat, query_feat
        return self.encoder(support_img), self.encoder(query_img)

    def _branch(self, target_feat, reinforced_target, guide_feat, guide_mask) -> torch.Tensor:
        """Logits (B, 2, H/8, W/8) for the target image, guided by the other image and its mask."""
        parts = []
        if self.conditional is not None:
            parts.append(self.conditional(target_feat, guide_feat, guide_mask))
        if reinforced_target is not None:
            parts.append(reinforced_target)
        return self.refinement(torch.cat(parts, dim=1))

    def forward_features(
        self,
        support_feat: torch.Tensor,
        support_mask: torch.Tensor,
        query_feat: torch.Tensor,
        query_mask: Optional[torch.Tensor] = None,
    ) -> Dict[str, torch.Tensor]:
        """Everything after the encoder, at feature resolution (1/8).

        Returns ``query_logits``; ``support_logits`` when ``query_mask`` is given; the co-occurrence
        logits ``query_aux_logits``/``support_aux_logits`` in training with the cross-reference on.
        """
        reinforced_support = reinforced_query = None
        if self.cross_reference is not None:
            reinforced_support, reinforced_query = self.cross_reference(support_feat, query_feat)
        outputs = {"query_logits": self._branch(query_feat, reinforced_query, support_feat, support_mask)}
        if query_mask is not None:
            outputs["support_logits"] = self._branch(support_feat, reinforced_support, query_feat, query_mask)
        if self.training and self.cross_reference is not None:
            outputs["query_aux_logits"] = self.co_occurrence_head(reinforced_query)
            outputs["support_aux_logits"] = self.co_occurrence_head(reinforced_support)
        return outputs

    def forward(
        self,
        support_img: torch.Tensor,
        support_mask: torch.Tensor,
        query_img: torch.Tensor,
        query_mask: Optional[torch.Tensor] = None,
    ) -> Dict[str, torch.Tensor]:
        """(support (B,3,Hs,Ws), its mask (B,1,Hs,Ws) in {0,1}, query (B,3,Hq,Wq)[, its mask]) -> logits.

        Every returned map is upsampled to its image's size: ``query_logits`` (B,2,Hq,Wq), and as
        described in :meth:`forward_features` the support and co-occurrence logits.
        """
        support_feat, query_feat = self.encode(support_img, query_img)
        outputs = self.forward_features(support_feat, support_mask, query_feat, query_mask)
        sizes = {"query": query_img.shape[-2:], "support": support_img.shape[-2:]}
        return {key: resize_to(value, sizes[key.split("_")[0]]) for key, value in outputs.items()}

    def loss(
        self, outputs: Dict[str, torch.Tensor], query_label: torch.Tensor, support_label: torch.Tensor
    ) -> Dict[str, torch.Tensor]:
        """Eq. 5 from :meth:`forward`'s outputs and (B, H, W) labels in {0, 1, ignore_index}.

        Returns the four weighted terms; their sum is the training loss.
        """
        labels = {"query": query_label, "support": support_label}
        losses = {}
        for key, logits in outputs.items():
            image = key.split("_")[0]
            term = F.cross_entropy(logits, labels[image].long(), ignore_index=self.ignore_index)
            if "aux" in key:
                losses[f"loss_{image}_aux"] = self.aux_weight * term
            else:
                losses[f"loss_{image}"] = term
        return losses
