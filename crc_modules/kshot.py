"""k-shot inference, Section 4.6 and Table 4: fusion of 1-shot probabilities, finetuning on support pairs, or both."""
from __future__ import annotations

import itertools
from typing import Callable, Dict, List, Tuple

import torch
from torch import nn

from .crcnet import binary_mask
from .layers import resize_to

KSHOT_MODES = ("fusion", "finetune", "both")


def fuse_probabilities(
    forward: Callable[..., Dict[str, torch.Tensor]], supports: torch.Tensor, support_masks: torch.Tensor,
    query: torch.Tensor, size: Tuple[int, int],
) -> torch.Tensor:
    """Mean over the k supports of the query's foreground probability (the fusion of Table 4).

    Args:
        forward: ``(support, support_mask, query) -> {'query_logits': ...}``, e.g. CRCNet's
            ``forward_features`` on encoder features, or a model's ``forward`` on images.
        supports: (K, ...) the supports' features or images.
        support_masks: (K, 1, H, W) float masks.
        query: (1, ...) the query's features or image.
        size: (H', W') of the query image; logits are upsampled before the softmax, as in 1-shot.

    Returns:
        (1, 1, H', W') foreground probability.
    """
    shots = supports.shape[0]
    logits = forward(supports, support_masks, query.expand(shots, *query.shape[1:]))["query_logits"]
    return torch.softmax(resize_to(logits, size), dim=1)[:, 1:2].mean(dim=0, keepdim=True)


def _episode_inputs(model: nn.Module, support_imgs: torch.Tensor, query_img: torch.Tensor):
    """(supports, query, forward): encoder features once for CRCNet-like models, else the images themselves."""
    if hasattr(model, "encoder") and hasattr(model, "forward_features"):
        return model.encoder(support_imgs), model.encoder(query_img), model.forward_features
    return support_imgs, query_img, model


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
        supports, query, forward = _episode_inputs(model, support_imgs, query_img)
        support_masks = binary_mask(support_labels)  # (K, 1, H, W)
        finetune = self.mode != "fusion" and support_imgs.shape[0] > 1
        snapshot = self._trainable_state(model) if finetune else None
        try:
            if finetune:
                self._finetune(model, forward, supports, support_masks, support_labels)
                model.eval()
            if self.mode == "finetune":
                supports, support_masks = supports[:1], support_masks[:1]
            if getattr(model, "fuses_shots", False):  # e.g. PFENet: one forward averages prototypes and priors
                logits = forward(supports[None], support_masks[None], query)["query_logits"]
                return torch.softmax(resize_to(logits, query_img.shape[-2:]), dim=1)[:, 1:2]
            return fuse_probabilities(forward, supports, support_masks, query, query_img.shape[-2:])
        finally:
            if snapshot is not None:
                model.load_state_dict(snapshot, strict=False)
            model.train(was_training)

    @staticmethod
    def _finetuned_parameters(model: nn.Module) -> Dict[str, nn.Parameter]:
        """Everything but the encoder (Section 4.6); frozen parameters (e.g. PFENet's backbone) stay frozen."""
        return {name: param for name, param in model.named_parameters()
                if param.requires_grad and not name.startswith("encoder.")}

    def _trainable_state(self, model: nn.Module) -> Dict[str, torch.Tensor]:
        state = {name: param.detach().clone() for name, param in self._finetuned_parameters(model).items()}
        state.update({name: buffer.clone() for name, buffer in model.named_buffers()})
        return state

    def _pair_batches(self, shots: int) -> List[Tuple[List[int], List[int]]]:
        pairs = list(itertools.permutations(range(shots), 2))
        generator = torch.Generator().manual_seed(self.seed)
        batches = []
        for _ in range(self.steps):
            order = torch.randperm(len(pairs), generator=generator)[: self.pairs_per_step].tolist()
            batches.append(([pairs[i][0] for i in order], [pairs[i][1] for i in order]))
        return batches

    def _finetune(self, model, forward, supports, support_masks, support_labels) -> None:
        optimizer = torch.optim.SGD(self._finetuned_parameters(model).values(), lr=self.lr, momentum=self.momentum)
        model.train()
        if hasattr(model, "encoder"):
            model.encoder.eval()
        image_size = support_labels.shape[-2:]
        with torch.enable_grad():
            for guide, target in self._pair_batches(supports.shape[0]):
                outputs = forward(supports[guide], support_masks[guide], supports[target], support_masks[target])
                outputs = {key: resize_to(value, image_size) for key, value in outputs.items()}
                losses = model.loss(outputs, support_labels[target], support_labels[guide])
                optimizer.zero_grad()
                sum(losses.values()).backward()
                optimizer.step()
