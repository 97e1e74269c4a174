"""CRCNet, Section 4 and Fig. 2: Siamese encoder, cross-reference, region-global conditional, mask refinement."""
from __future__ import annotations

import contextlib
from typing import Dict, Iterator, Optional, Union

import torch
from torch import nn

from .conditional import RegionGlobalConditional
from .cross_reference import CoOccurrenceHead, CrossReference
from .encoder import SiameseEncoder  # noqa: F401  (registers the default encoder type)
from .episode_model import EpisodeModel, EpisodeOutput
from .labels import IGNORE_INDEX
from .losses import upsampled_cross_entropy
from .refinement import MaskRefinement
from .registry import MODELS


@MODELS.register_module()
class CRCNet(EpisodeModel):
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
        ignore_index (int): Label value left out of the losses. Default: ``IGNORE_INDEX`` (255).
        finetune_backprop_steps (int, optional): While k-shot finetuning, back-propagate through only the
            last refinement steps (None: all, as in training). Default: 1 (docs/en/benchmarks/generated_data.md).
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
        ignore_index: int = IGNORE_INDEX,
        finetune_backprop_steps: Optional[int] = 1,
    ):
        super().__init__()
        if not (cross_reference or global_conditional or local_conditional):
            raise ValueError("CRCNet needs the cross-reference module or a conditional module")
        if finetune_backprop_steps is not None and finetune_backprop_steps < 1:
            raise ValueError(f"finetune_backprop_steps must be None or >= 1, got {finetune_backprop_steps}")
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
        self.finetune_backprop_steps = finetune_backprop_steps

    @staticmethod
    def _build_encoder(encoder: Union[dict, nn.Module, None], channels: int) -> nn.Module:
        if isinstance(encoder, nn.Module):
            return encoder
        cfg = dict(type="SiameseEncoder", out_channels=channels)
        cfg.update(encoder or {})
        return MODELS.build(cfg)

    def encode(self, images: torch.Tensor, masks: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The Siamese encoder (Section 4.2): (N, 3, H, W) -> (N, C, H/8, W/8); masks are not used."""
        return self.encoder(images)

    def _branch(self, target_feat, reinforced_target, guide_feat, guide_mask) -> torch.Tensor:
        """Logits (B, 2, H/8, W/8) for the target image, guided by the other image and its mask."""
        parts = []
        if self.conditional is not None:
            parts.append(self.conditional(target_feat, guide_feat, guide_mask))
        if reinforced_target is not None:
            parts.append(reinforced_target)
        return self.refinement(torch.cat(parts, dim=1))

    def predict(self, query: torch.Tensor, supports: torch.Tensor, support_masks: torch.Tensor,
                query_masks: Optional[torch.Tensor] = None) -> EpisodeOutput:
        """Everything after the encoder, at 1/8: query (B,C,h,w), one support (B,1,C,h,w), its mask (B,1,1,H,W).

        The support's logits are computed when ``query_masks`` is given, the co-occurrence logits in
        training with the cross-reference module on.
        """
        if supports.shape[1] != 1:
            raise ValueError(f"CRCNet predicts from one support at a time (got {supports.shape[1]}); "
                             "k-shot fusion averages the one-shot predictions (Section 4.6)")
        support_feat, support_mask = supports[:, 0], support_masks[:, 0]
        reinforced_support = reinforced_query = None
        if self.cross_reference is not None:
            reinforced_support, reinforced_query = self.cross_reference(support_feat, query)
        query_logits = self._branch(query, reinforced_query, support_feat, support_mask)
        support_logits = None
        if query_masks is not None:
            support_logits = self._branch(support_feat, reinforced_support, query, query_masks)
        if not (self.training and self.cross_reference is not None):
            return EpisodeOutput(query_logits, support_logits)
        return EpisodeOutput(query_logits, support_logits, self.co_occurrence_head(reinforced_query),
                             self.co_occurrence_head(reinforced_support))

    def loss(self, output: EpisodeOutput, query_labels: torch.Tensor,
             support_labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Eq. 5: ``(L_QM + L_SM) + lambda (L_QMsub + L_SMsub)`` from labels (B, H, W) and (B, 1, H, W).

        Each term is the cross-entropy of the logits upsampled to the label's size; terms whose logits
        were not computed (no query mask, cross-reference off, eval mode) are left out.
        """
        support_labels = support_labels[:, 0]
        terms = {"loss_query": (output.query_logits, query_labels, 1.0),
                 "loss_support": (output.support_logits, support_labels, 1.0),
                 "loss_query_aux": (output.query_co_occurrence_logits, query_labels, self.aux_weight),
                 "loss_support_aux": (output.support_co_occurrence_logits, support_labels, self.aux_weight)}
        return {name: weight * upsampled_cross_entropy(logits, labels, self.ignore_index)
                for name, (logits, labels, weight) in terms.items() if logits is not None}

    def finetune_parameters(self) -> Dict[str, nn.Parameter]:
        """Everything but the Siamese encoder (Sections 4.6 and 5.1: "we fix the Siamese encoder")."""
        return {name: param for name, param in self.named_parameters()
                if param.requires_grad and not name.startswith("encoder.")}

    @contextlib.contextmanager
    def finetuning(self) -> Iterator[None]:
        """k-shot finetuning back-propagates through the last ``finetune_backprop_steps`` refinement steps only."""
        previous, self.refinement.backprop_steps = self.refinement.backprop_steps, self.finetune_backprop_steps
        try:
            yield
        finally:
            self.refinement.backprop_steps = previous
