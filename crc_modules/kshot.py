"""k-shot inference, Section 4.6 and Table 4: fusion of 1-shot probabilities, finetuning on support pairs, or both."""
from __future__ import annotations

import itertools
from typing import Dict, List, Tuple

import torch
from torch import nn

from .crcnet import binary_mask
from .layers import resize_to

KSHOT_MODES = ("fusion", "finetune", "both")


def fuse_probabilities(
    model: nn.Module, support_feats: torch.Tensor, support_masks: torch.Tensor, query_feat: torch.Tensor,
    size: Tuple[int, int],
) -> torch.Tensor:
    """Mean over the k supports of the query's foreground probability (the fusion of Table 4).

    Args:
        model: a CRCNet-like model with ``forward_features``.
        support_feats: (K, C, h, w) encoder features of the supports.
        support_masks: (K, 1, H, W) float masks.
        query_feat: (1, C, h', w') encoder features of the query.
        size: (H', W') of the query image; logits are upsampled before the softmax, as in 1-shot.

    Returns:
        (1, 1, H', W') foreground probability.
    """
    shots = support_feats.shape[0]
    logits = model.forward_features(support_feats, support_masks, query_feat.expand(shots, -1, -1, -1))[
        "query_logits"
    ]
    return torch.softmax(resize_to(logits, size), dim=1)[:, 1:2].mean(dim=0, keepdim=True)


class KShotPredictor:
    """Predicts a query from k annotated supports with a 1-shot model (Section 4.6).

    Modes: 'fusion' averages the k 1-shot probabilities; 'finetune' finetunes everything but the
    encoder on ordered pairs (i, j), i != j, of the supports (k(k-1) <= k^2 pairs; a pair needs two
    distinct images, so 1-shot has no finetuning, as in Table 4) and predicts with the first support;
    'both' finetunes and then fuses. The model's weights are restored after every episode.
    Reading: the paper gives no finetuning schedule; steps, lr and pairs per step are arguments.

    Args:
        mode (str): 'fusion', 'finetune' or 'both'. Default: 'fusion'.
        steps (int): SGD steps of finetuning per episode. Default: 10.
        lr (float): Finetuning learning rate. Default: 1e-3.
        momentum (float): SGD momentum. Default: 0.9.
        pairs_per_step (int): Ordered pairs in each step's batch. Default: 4.
        seed (int): Seed of the pair sampling, so an episode's result is reproducible. Default: 0.
    """

    def __init__(self, mode: str = "fusion", steps: int = 10, lr: float = 1e-3, momentum: float = 0.9,
                 pairs_per_step: int = 4, seed: int = 0):
        if mode not in KSHOT_MODES:
            raise ValueError(f"k-shot mode must be one of {KSHOT_MODES}, got {mode!r}")
        self.mode, self.steps, self.lr, self.momentum = mode, steps, lr, momentum
        self.pairs_per_step, self.seed = pairs_per_step, seed

    @torch.no_grad()
    def __call__(
        self, model: nn.Module, support_imgs: torch.Tensor, support_labels: torch.Tensor, query_img: torch.Tensor
    ) -> torch.Tensor:
        """One episode: supports (K,3,H,W), labels (K,H,W) in {0,1,255}, query (1,3,H',W') -> (1,1,H',W') probability."""
        was_training = model.training
        model.eval()
        support_feats = model.encoder(support_imgs)  # (K, C, h, w)
        query_feat = model.encoder(query_img)  # (1, C, h', w')
        support_masks = binary_mask(support_labels)  # (K, 1, H, W)
        finetune = self.mode != "fusion" and support_imgs.shape[0] > 1
        snapshot = self._trainable_state(model) if finetune else None
        try:
            if finetune:
                self._finetune(model, support_feats, support_masks, support_labels)
                model.eval()
            if self.mode == "finetune":
                support_feats, support_masks = support_feats[:1], support_masks[:1]
            return fuse_probabilities(model, support_feats, support_masks, query_feat, query_img.shape[-2:])
        finally:
            if snapshot is not None:
                model.load_state_dict(snapshot, strict=False)
            model.train(was_training)

    @staticmethod
    def _trainable_state(model: nn.Module) -> Dict[str, torch.Tensor]:
        return {key: value.detach().clone() for key, value in model.state_dict().items()
                if not key.startswith("encoder.")}

    def _pair_batches(self, shots: int) -> List[Tuple[List[int], List[int]]]:
        pairs = list(itertools.permutations(range(shots), 2))
        generator = torch.Generator().manual_seed(self.seed)
        batches = []
        for _ in range(self.steps):
            order = torch.randperm(len(pairs), generator=generator)[: self.pairs_per_step].tolist()
            batches.append(([pairs[i][0] for i in order], [pairs[i][1] for i in order]))
        return batches

    def _finetune(self, model, support_feats, support_masks, support_labels) -> None:
        params = [param for name, param in model.named_parameters() if not name.startswith("encoder.")]
        optimizer = torch.optim.SGD(params, lr=self.lr, momentum=self.momentum)
        model.train()
        model.encoder.eval()
        image_size = support_labels.shape[-2:]
        with torch.enable_grad():
            for guide, target in self._pair_batches(support_feats.shape[0]):
                outputs = model.forward_features(
                    support_feats[guide], support_masks[guide], support_feats[target], support_masks[target]
                )
                outputs = {key: resize_to(value, image_size) for key, value in outputs.items()}
                losses = model.loss(outputs, support_labels[target], support_labels[guide])
                optimizer.zero_grad()
                sum(losses.values()).backward()
                optimizer.step()
