"""A support set: k annotated supports prepared once for one model, answering any number of queries.

Work that does not change between queries is done once (Section 4.6): the supports are encoded on the
first query and kept, finetuned weights (if any) are computed before and swapped in while a query is
predicted; each query then costs one query encoding and the model's head.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch

from .episode_model import EpisodeModel
from .features import Features, as_one_shot_episodes, binary_mask, map_features
from .finetune import swapped_tensors
from .fusion import check_fusion, fuse_shots
from .layers import resize_to
from .precision import autocast


class SupportSet:
    """k supports of one class, bound to the model that encodes them; ``predict(query)`` gives a probability.

    Reading: with several shots, a model that fuses shots itself (``fuses_shots``, e.g. PFENet's averaged
    prototypes and priors) does so under 'mean'; 'vote' always votes over k one-shot predictions.

    Args:
        model (EpisodeModel): The model, in its current weights.
        images (Tensor): (K, 3, H, W) normalised support images.
        labels (Tensor): (K, H, W) labels in {0, 1, 255}.
        fusion (str): 'mean' or 'vote' (:mod:`crc_modules.fusion`). Default: 'mean'.
        finetuned (dict, optional): Finetuned parameters and buffers swapped in while predicting.
        precision (str): A resolved precision, 'fp32', 'bf16' or 'fp16'. Default: 'fp32'.
        encoded (Features, optional): The supports' features (K, ...) made already, used instead of encoding the
            images with their masks: supports that a promptable model (``takes_prompts``) encoded from their prompts.
    """

    def __init__(self, model: EpisodeModel, images: torch.Tensor, labels: torch.Tensor, fusion: str = "mean",
                 finetuned: Optional[Dict[str, torch.Tensor]] = None, precision: str = "fp32",
                 encoded: Optional[Features] = None):
        self.model, self.images, self.labels = model, images, labels
        self.fusion, self.finetuned, self.precision = check_fusion(fusion), finetuned, precision
        self._encoded: Optional[Tuple[Features, torch.Tensor]] = None
        if encoded is not None:
            self._encoded = (encoded, binary_mask(labels))

    def encoded(self) -> Tuple[Features, torch.Tensor]:
        """(features (K, ...), masks (K, 1, H, W)) of the supports, encoded on first use and kept."""
        if self._encoded is None:
            masks = binary_mask(self.labels)
            self._encoded = (self.model.encode(self.images, masks), masks)
        return self._encoded

    @torch.no_grad()
    def predict(self, query_img: torch.Tensor, size: Optional[Sequence[int]] = None) -> torch.Tensor:
        """Foreground probability ``(1, 1, *size)`` of a (1, 3, H', W') query; ``size`` defaults to (H', W')."""
        size = tuple(size or query_img.shape[-2:])
        model = self.model
        was_training = model.training
        try:
            model.eval()
            with swapped_tensors(model, self.finetuned), autocast(self.precision, query_img.device):
                supports, masks = self.encoded()
                query = model.encode(query_img)
                return fuse_shots(self._shot_probabilities(query, supports, masks, size), self.fusion)
        finally:
            model.train(was_training)

    def _shot_probabilities(self, query: Features, supports: Features, masks: torch.Tensor,
                            size: Sequence[int]) -> torch.Tensor:
        """(K, 1, *size) one-shot probabilities, or (1, 1, *size) when the model fuses the shots itself."""
        supports, masks = map_features(lambda t: t[None], supports), masks[None]  # one episode of K shots
        if not (self.model.fuses_shots and self.fusion == "mean"):
            (query,), (supports, masks) = as_one_shot_episodes([query], [supports, masks])
        output = self.model.predict(query, supports, masks)
        logits = resize_to(output.query_logits.float(), size, align_corners=self.model.align_corners)
        return torch.softmax(logits, dim=1)[:, 1:2]
