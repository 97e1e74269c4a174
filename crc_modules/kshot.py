"""k-shot inference, Section 4.6 and Table 4: fusion of one-shot probabilities, finetuning on support pairs, or both.

Work that does not change between queries is done once per support set: the supports are encoded once
per scale and finetuned once; each query then costs one query encoding per scale and the model's head.
"""
from __future__ import annotations

import contextlib
import itertools
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .episode_model import EpisodeModel, Features, binary_mask, map_features
from .layers import resize_to
from .multiscale import rescale_images, rescale_labels
from .precision import autocast, resolve_precision

KSHOT_MODES = ("fusion", "finetune", "both")


@contextlib.contextmanager
def swapped_tensors(model: nn.Module, state: Optional[Dict[str, torch.Tensor]]) -> Iterator[None]:
    """Let ``model``'s parameters/buffers named in ``state`` hold its tensors inside the block (no copies)."""
    if not state:
        yield
        return
    tensors = dict(model.named_parameters())
    tensors.update(model.named_buffers())
    originals = {name: tensors[name].data for name in state}
    try:
        for name, value in state.items():
            tensors[name].data = value
        yield
    finally:
        for name, value in originals.items():
            tensors[name].data = value


class SupportSet:
    """k annotated supports prepared for any number of queries: their encodings, finetuned weights.

    A support set belongs to the model (in its current weights) and the predictor that prepared it.

    Args:
        model (EpisodeModel): The model that encodes the supports.
        images (Tensor): (K, 3, H, W) normalised support images.
        labels (Tensor): (K, H, W) labels in {0, 1, 255}.
        finetuned (dict, optional): The finetuned parameters and buffers (finetune / both), else None.
    """

    def __init__(self, model: EpisodeModel, images: torch.Tensor, labels: torch.Tensor,
                 finetuned: Optional[Dict[str, torch.Tensor]]):
        self.model, self.images, self.labels, self.finetuned = model, images, labels, finetuned
        self._encoded: Dict[Tuple[float, int], Tuple[Features, torch.Tensor]] = {}

    def encoded(self, scale: float, shots: int) -> Tuple[Features, torch.Tensor]:
        """(features (shots, ...), masks (shots, 1, h, w)) of the first ``shots`` supports at ``scale``, cached."""
        if (scale, shots) not in self._encoded:
            masks = binary_mask(rescale_labels(self.labels[:shots], scale))
            features = self.model.encode(rescale_images(self.images[:shots], scale), masks)
            self._encoded[(scale, shots)] = (features, masks)
        return self._encoded[(scale, shots)]


class KShotPredictor:
    """Predicts queries from k annotated supports with a one-shot-trained :class:`EpisodeModel` (Section 4.6).

    Modes: 'fusion' averages the k one-shot probabilities (or lets a model with ``fuses_shots`` fuse
    them); 'finetune' finetunes :meth:`EpisodeModel.finetune_parameters` with the model's training
    loss on pairs of distinct supports, each guiding the other (the k(k-1) <= k^2 ordered predictions;
    a pair needs two images, so 1-shot has no finetuning, as in Table 4), inside
    :meth:`EpisodeModel.finetuning`, and predicts with the first support; 'both' finetunes, then fuses.
    Finetuning runs once per support set; the model's own weights are never changed (the finetuned ones
    are swapped in while a query is predicted). With several ``scales`` (Section 5.3) the probabilities
    of the scales are averaged; finetuning happens once, at scale 1.
    Reading: the paper gives no finetuning schedule; the defaults (5 steps of one pair, lr 2e-3) keep the
    gain of 10 steps of 4 pairs at lr 1e-3 on the built-in benchmark at a fraction of the cost (README).

    Args:
        mode (str): 'fusion', 'finetune' or 'both'. Default: 'fusion'.
        steps (int): SGD steps of finetuning per support set. Default: 5.
        lr (float): Finetuning learning rate. Default: 2e-3.
        momentum (float): SGD momentum. Default: 0.9.
        pairs_per_step (int): Support pairs in each step's batch. Default: 1.
        seed (int): Seed of the pair sampling, so a result is reproducible. Default: 0.
        scales (Sequence[float]): Test scales; (1.0,) is single-scale. Default: (1.0,).
        precision (str): 'fp32', 'bf16', 'fp16' or 'auto' (see :func:`~crc_modules.precision.resolve_precision`);
            bf16 / fp16 put the model's convolution weights in channels_last; with fp16, the finetuning steps
            run in fp32 (fp16 gradients would need loss scaling). Default: 'fp32'.
    """

    def __init__(self, mode: str = "fusion", steps: int = 5, lr: float = 2e-3, momentum: float = 0.9,
                 pairs_per_step: int = 1, seed: int = 0, scales: Sequence[float] = (1.0,), precision: str = "fp32"):
        if mode not in KSHOT_MODES:
            raise ValueError(f"k-shot mode must be one of {KSHOT_MODES}, got {mode!r}")
        if not scales:
            raise ValueError("scales must name at least one scale, e.g. (1.0,)")
        resolve_precision(precision, torch.device("cpu"))  # validates the name
        self.mode, self.steps, self.lr, self.momentum = mode, steps, lr, momentum
        self.pairs_per_step, self.seed = pairs_per_step, seed
        self.scales, self.precision = tuple(scales), precision

    def __call__(self, model: EpisodeModel, support_imgs: torch.Tensor, support_labels: torch.Tensor,
                 query_img: torch.Tensor) -> torch.Tensor:
        """One episode: supports (K,3,H,W), labels (K,H,W) in {0,1,255}, query (1,3,H',W') -> (1,1,H',W')."""
        return self.query_probability(model, self.prepare(model, support_imgs, support_labels), query_img)

    def prepare(self, model: EpisodeModel, support_imgs: torch.Tensor, support_labels: torch.Tensor) -> SupportSet:
        """Check and keep the supports, and finetune once when the mode asks for it and k > 1."""
        if support_imgs.dim() != 4 or support_labels.shape != (support_imgs.shape[0], *support_imgs.shape[-2:]):
            raise ValueError(f"supports must be (K, 3, H, W) with labels (K, H, W), got "
                             f"{tuple(support_imgs.shape)} and {tuple(support_labels.shape)}")
        self._use_fast_layout(model, support_imgs.device)
        finetuned = None
        if self.mode != "fusion" and support_imgs.shape[0] > 1:
            finetuned = self._finetune(model, support_imgs, support_labels)
        return SupportSet(model, support_imgs, support_labels, finetuned)

    @torch.no_grad()
    def query_probability(self, model: EpisodeModel, support_set: SupportSet, query_img: torch.Tensor) -> torch.Tensor:
        """Foreground probability (1, 1, H', W') of a (1, 3, H', W') query, averaged over the scales."""
        if support_set.model is not model:
            raise ValueError("this support set was prepared with another model: prepare it with this one")
        shots = 1 if self.mode == "finetune" else support_set.labels.shape[0]  # finetune: the first support
        size = query_img.shape[-2:]
        total = torch.zeros(1, 1, *size, device=query_img.device)
        was_training = model.training
        try:
            model.eval()
            with swapped_tensors(model, support_set.finetuned), self._autocast(query_img.device):
                for scale in self.scales:
                    supports, masks = support_set.encoded(scale, shots)
                    query = model.encode(rescale_images(query_img, scale))
                    total += self._probability_from(model, query, supports, masks, size)
        finally:
            model.train(was_training)
        return total / len(self.scales)

    def _autocast(self, device: torch.device):
        return autocast(resolve_precision(self.precision, device), device)

    def _use_fast_layout(self, model: EpisodeModel, device: torch.device) -> None:
        """bf16 / fp16 autocast convolutions run on channels_last weights (the same values): at 321 px, CRCNet
        in bf16 took 18 s against 282 s contiguous on an AVX2 CPU. fp32, the reference, keeps its layout.
        Done once per support set in :meth:`prepare` (a support set's queries run on the same model)."""
        if resolve_precision(self.precision, device) != "fp32":
            model.to(memory_format=torch.channels_last)

    @staticmethod
    def _probability_from(model: EpisodeModel, query: Features, supports: Features, masks: torch.Tensor,
                          size: Sequence[int]) -> torch.Tensor:
        """(1, 1, H', W') foreground probability of one query from K encoded supports (fused as in Table 4)."""
        shots = masks.shape[0]
        if model.fuses_shots:  # one forward over the K supports (e.g. PFENet averages prototypes and priors)
            output = model.predict(query, map_features(lambda t: t[None], supports), masks[None])
        else:  # K one-shot predictions in one batch, probabilities averaged
            query = map_features(lambda t: t.expand(shots, *t.shape[1:]), query)
            output = model.predict(query, map_features(lambda t: t[:, None], supports), masks[:, None])
        logits = resize_to(output.query_logits.float(), size, align_corners=model.align_corners)
        return torch.softmax(logits, dim=1)[:, 1:2].mean(dim=0, keepdim=True)

    def _pair_batches(self, shots: int) -> List[Tuple[List[int], List[int]]]:
        """``steps`` batches of ``pairs_per_step`` (guide, target) pairs of distinct supports, drawn from the seed.

        Pairs are drawn unordered and each is oriented at random: a symmetric model (CRCNet) trains
        both predictions of a pair anyway, and an asymmetric one sees every support as guide and target.
        """
        pairs = list(itertools.combinations(range(shots), 2))
        generator = torch.Generator().manual_seed(self.seed)
        batches = []
        for _ in range(self.steps):
            order = torch.randperm(len(pairs), generator=generator)[: self.pairs_per_step].tolist()
            flips = torch.randint(0, 2, (len(order),), generator=generator).tolist()
            oriented = [pairs[i][::-1] if flip else pairs[i] for i, flip in zip(order, flips)]
            batches.append(([guide for guide, _ in oriented], [target for _, target in oriented]))
        return batches

    def _finetune(self, model: EpisodeModel, images: torch.Tensor, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Finetuned copies of the finetune parameters (and of the buffers); the model's own stay as they were.

        Each support is encoded once (the encoder is fixed, Section 4.6); each step predicts a batch of
        supports guided by other supports, both ways, and descends the model's training loss.
        """
        was_training = model.training
        device = images.device
        masks = binary_mask(labels)
        params = model.finetune_parameters()
        fixed = [p for name, p in model.named_parameters() if name not in params and p.requires_grad]
        originals = {**{name: p.detach() for name, p in params.items()}, **dict(model.named_buffers())}
        tuned = {name: value.clone() for name, value in originals.items()}
        optimizer = torch.optim.SGD([params[name] for name in params], lr=self.lr, momentum=self.momentum)
        encode_precision = resolve_precision(self.precision, device)
        # fp16 gradients would need loss scaling: fp16 runs its finetuning steps in fp32 (bf16 needs none)
        step_precision = "fp32" if encode_precision == "fp16" else encode_precision
        try:
            with torch.no_grad(), autocast(encode_precision, device):
                model.eval()
                targets = model.encode(images)
                guides = model.encode(images, masks) if model.encodes_support_masks else targets
            if step_precision != encode_precision:
                targets, guides = (map_features(lambda t: t.float(), features) for features in (targets, guides))
            for param in fixed:  # no gradient outside finetune_parameters(): cheaper, and nothing left behind
                param.requires_grad_(False)
            with swapped_tensors(model, tuned), torch.enable_grad(), model.finetuning():
                model.train()
                for guide, target in self._pair_batches(images.shape[0]):
                    with autocast(step_precision, device):
                        output = model.predict(map_features(lambda t: t[target], targets),
                                               map_features(lambda t: t[guide][:, None], guides),
                                               masks[guide][:, None], masks[target])
                        losses = model.loss(output, labels[target], labels[guide][:, None])
                    optimizer.zero_grad()
                    sum(losses.values()).backward()
                    optimizer.step()
        finally:
            model.train(was_training)
            for param in fixed:
                param.requires_grad_(True)
            for param in params.values():
                param.grad = None
        return {name: value for name, value in tuned.items() if not torch.equal(value, originals[name])}
