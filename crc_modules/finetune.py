"""k-shot finetuning, Section 4.6 and Table 4: the model's training loss on pairs of the k annotated supports.

The encoder is fixed (Section 5.1, "we fix the Siamese encoder"), so each support is encoded once; each step
predicts supports guided by other supports and descends the loss on :meth:`EpisodeModel.finetune_parameters`.
The finetuned tensors are returned as a dict and swapped in while a query is predicted, so the model's own
weights never change and a query's result does not depend on earlier queries.
"""
from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import torch
from torch import nn

from .episode_model import EpisodeModel
from .features import binary_mask, map_features, select_shots
from .precision import autocast


@dataclass(frozen=True)
class FinetuneSettings:
    """How k-shot finetuning runs.

    Reading: the paper gives no finetuning schedule; the defaults (5 steps of one pair, lr 2e-3) keep the
    gain of 10 steps of 4 pairs at lr 1e-3 on the built-in benchmark at a fraction of the cost
    (docs/en/benchmarks/generated_data.md).

    Args:
        steps (int): SGD steps per support set. Default: 5.
        lr (float): Learning rate. Default: 2e-3.
        momentum (float): SGD momentum. Default: 0.9.
        pairs_per_step (int): Support pairs in each step's batch. Default: 1.
        seed (int): Seed of the pair sampling, so a result is reproducible. Default: 0.
    """

    steps: int = 5
    lr: float = 2e-3
    momentum: float = 0.9
    pairs_per_step: int = 1
    seed: int = 0


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


def pair_batches(shots: int, settings: FinetuneSettings) -> List[Tuple[List[int], List[int]]]:
    """``steps`` batches of ``pairs_per_step`` (guide, target) pairs of distinct supports, drawn from the seed.

    Pairs are drawn unordered and each is oriented at random: a symmetric model (CRCNet) trains both
    predictions of a pair anyway, and an asymmetric one sees every support as guide and target.
    """
    pairs = list(itertools.combinations(range(shots), 2))
    generator = torch.Generator().manual_seed(settings.seed)
    batches = []
    for _ in range(settings.steps):
        order = torch.randperm(len(pairs), generator=generator)[: settings.pairs_per_step].tolist()
        flips = torch.randint(0, 2, (len(order),), generator=generator).tolist()
        oriented = [pairs[i][::-1] if flip else pairs[i] for i, flip in zip(order, flips)]
        batches.append(([guide for guide, _ in oriented], [target for _, target in oriented]))
    return batches


def finetune_on_supports(model: EpisodeModel, images: torch.Tensor, labels: torch.Tensor,
                         settings: FinetuneSettings, precision: str = "fp32") -> Dict[str, torch.Tensor]:
    """Finetuned copies of the finetune parameters (and of changed buffers); the model's own stay as they were.

    Args:
        model (EpisodeModel): The one-shot-trained model.
        images (Tensor): (K, 3, H, W) normalised supports, K >= 2 (a pair needs two images).
        labels (Tensor): (K, H, W) in {0, 1, 255}.
        settings (FinetuneSettings): Steps, lr, pairs and seed.
        precision (str): A resolved precision ('fp32', 'bf16', 'fp16') of the encoding; fp16 runs the steps
            in fp32 (fp16 gradients would need loss scaling), bf16 runs them in bf16.

    Returns:
        Name -> tensor of every parameter or buffer that finetuning changed.
    """
    was_training = model.training
    device = images.device
    masks = binary_mask(labels)
    params = model.finetune_parameters()
    fixed = [p for name, p in model.named_parameters() if name not in params and p.requires_grad]
    originals = {**{name: p.detach() for name, p in params.items()}, **dict(model.named_buffers())}
    tuned = {name: value.clone() for name, value in originals.items()}
    optimizer = torch.optim.SGD([params[name] for name in params], lr=settings.lr, momentum=settings.momentum)
    step_precision = "fp32" if precision == "fp16" else precision
    try:
        with torch.no_grad(), autocast(precision, device):
            model.eval()
            targets = model.encode(images)
            guides = model.encode(images, masks) if model.encodes_support_masks else targets
        if step_precision != precision:
            targets, guides = (map_features(lambda t: t.float(), features) for features in (targets, guides))
        for param in fixed:  # no gradient outside finetune_parameters(): cheaper, and nothing left behind
            param.requires_grad_(False)
        with swapped_tensors(model, tuned), torch.enable_grad(), model.finetuning():
            model.train()
            for guide, target in pair_batches(images.shape[0], settings):
                with autocast(step_precision, device):
                    output = model.predict(map_features(lambda t, rows=target: t[rows], targets),
                                           select_shots(guides, guide), select_shots(masks, guide), masks[target])
                    losses = model.loss(output, labels[target], select_shots(labels, guide))
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
