"""The episode-model interface: the contract between a few-shot model and everything that runs it.

k-shot fusion and finetuning (Section 4.6), multi-scale testing (Section 5.3), the MMEngine segmentor,
the predictor behind ``tools/infer.py`` and the benchmark use only what :class:`EpisodeModel` declares,
so CRCNet, PFENet (+ GC / CR / CRC) and a user's own model plug in the same way. An episode is a query
image and K annotated support images of one class.

Shapes: images (N, 3, H, W) normalised RGB; masks (N, 1, H, W) floats in {0, 1}; labels (N, H, W) in
{0, 1, 255 = ignore}. Support features and masks carry a shot axis: (B, K, ...) and (B, K, 1, H, W).
Every method takes the query first, then the supports: ``forward(query_img, support_img, support_mask,
query_mask)``, ``predict(query, supports, support_masks, query_masks)``, ``loss(output, query_labels,
support_labels)`` (the order of PFENet's and HSNet's own forward).
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, ClassVar, Dict, Iterator, Mapping, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import nn

from .checkpoint import load_frozen_weights
from .features import Features, map_features, stack_features
from .weight_init import init_submodule_weights


class EpisodeOutput(NamedTuple):
    """Logits of one forward pass over a batch of episodes, each (B, 2, h, w) at the model's resolution.

    Attributes:
        query_logits: Background/foreground logits of the query: the prediction.
        support_logits: Logits of the support guided by the query (symmetric models such as CRCNet,
            Section 4.1), when the query's mask was given.
        query_co_occurrence_logits: The cross-reference module's co-occurrence prediction of the
            query (Section 4.3, QM_sub); training only.
        support_co_occurrence_logits: The same for the support (SM_sub); training only.
        side_logits: Deep-supervision outputs of the query (e.g. PFENet's FEM scales); training only.
    """

    query_logits: torch.Tensor
    support_logits: Optional[torch.Tensor] = None
    query_co_occurrence_logits: Optional[torch.Tensor] = None
    support_co_occurrence_logits: Optional[torch.Tensor] = None
    side_logits: Tuple[torch.Tensor, ...] = ()


class FrozenWeights(NamedTuple):
    """A frozen part of a model whose weights come from a file named by a run option (a foundation model's release).

    While ``path`` is set, the part's weights are the file's: checkpoints leave them out (they hold only what was
    trained, e.g. adapters inserted into the part) and loading a checkpoint keeps them.

    Attributes:
        option: The run option, and the model's constructor argument, naming the file (one of the model's
            :attr:`EpisodeModel.weight_options`).
        module: Attribute path of the submodule the file fills (e.g. ``'sam'``).
        path: The file; None until the run option gives it (the part is then saved and loaded like any other).
        read: ``read(path)`` -> the submodule's state dict (keys relative to it); raises naming the file when it
            holds another kind or size of model.
    """

    option: str
    module: str
    path: Optional[str]
    read: Callable[[str], Dict[str, torch.Tensor]]


def _leave_out_file_weights(model: "EpisodeModel", state_dict: dict, prefix: str, local_metadata: dict) -> None:
    """State-dict hook: the weights that come from frozen files are not the model's to save."""
    for key in model.file_weights():
        state_dict.pop(prefix + key, None)


def _keep_file_weights(model: "EpisodeModel", state_dict: dict, prefix: str, *args) -> None:
    """Load pre-hook: a state dict without the file weights (a checkpoint) leaves them as they are."""
    for key, value in model.file_weights().items():
        state_dict.setdefault(prefix + key, value.detach())


class EpisodeModel(nn.Module):
    """Base class of the few-shot models the hosts run: encode once, predict per query, loss, finetuning scope.

    A subclass implements :meth:`encode`, :meth:`predict` and :meth:`loss`, and sets the class flags.
    :meth:`encode` covers exactly the part that k-shot finetuning keeps fixed (the Siamese encoder of
    Section 4.6), so the hosts encode each image once per support set and finetune only what
    :meth:`finetune_parameters` returns.

    Attributes:
        fuses_shots (bool): :meth:`predict` takes all K supports of an episode and fuses them itself
            (PFENet averages prototypes and priors). When False, :meth:`predict` takes K = 1 and the
            hosts average the K one-shot probabilities (the fusion of Table 4).
        encodes_support_masks (bool): :meth:`encode` uses the masks of support images (PFENet masks
            layer3 before layer4), so an image used both as support and as query is encoded twice.
        align_corners (bool): How logits are upsampled to an image or label (mmseg's decode-head flag).
        weight_options (Mapping[str, str]): The run options that name the model's frozen files (each also a
            constructor argument), with what the file must hold: the tools derive their run options, help and
            checks from it. Every :attr:`FrozenWeights.option` of :meth:`frozen_weights` is one of them.
        takes_prompts (bool): :meth:`encode_prompts` encodes a support from its prompts (a box, clicks or a
            scribble as points), so a support need not be a mask first.
        image_encoders (Tuple[str, ...]): Attribute paths of the callables that are the model's image encoders (e.g.
            ``'sam2.image_encoder.forward'``); ``tools/benchmark.py`` reports the share of a query spent in them.
            Paths that do not resolve on a built model (an alternative part not built) are left out.
        stretches_images (bool): The model brings each image to its own input size itself (a model that pastes
            supports and query onto one canvas stretches each into its cell), so the predictor gives images at their
            own size, not resized and padded (several supports: each stretched to the working size square, so they
            stack).

    A model built on frozen released weights (a foundation model) lists them in :meth:`frozen_weights`. A model
    that can turn a support's box, clicks or scribble into its mask with a model of its own gives that step in
    :meth:`prompt_masker`; the hosts otherwise use the shared prompt step or a box's rectangle.
    """

    fuses_shots: ClassVar[bool] = False
    encodes_support_masks: ClassVar[bool] = False
    align_corners: ClassVar[bool] = False
    weight_options: ClassVar[Mapping[str, str]] = {}
    takes_prompts: ClassVar[bool] = False
    stretches_images: ClassVar[bool] = False
    image_encoders: ClassVar[Tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self.register_state_dict_post_hook(_leave_out_file_weights)
        self.register_load_state_dict_pre_hook(_keep_file_weights)

    def frozen_weights(self) -> Sequence[FrozenWeights]:
        """The model's parts whose weights come from files named by run options; none by default."""
        return ()

    def file_weights(self) -> Dict[str, torch.Tensor]:
        """State-dict entries (keys relative to the model) that come from frozen files: every entry of a part
        whose file is given, except the part's trainable parameters (adapters inserted into it)."""
        weights = {}
        for part in self.frozen_weights():
            if part.path:
                module = self.get_submodule(part.module)
                trainable = {name for name, param in module.named_parameters(remove_duplicate=False)
                             if param.requires_grad}
                weights.update((f"{part.module}.{key}", value)
                               for key, value in module.state_dict(keep_vars=True).items() if key not in trainable)
        return weights

    def check_checkpoint(self, path: str, state: Mapping[str, torch.Tensor]) -> None:
        """Refuse a checkpoint that is not this model's (ValueError naming ``path`` and what it holds) before its keys
        are matched, where the model can say more than the missing keys do (its released files' layouts); ``state``
        has keys relative to the model. By default every file is matched by its keys alone."""

    def prompt_masker(self) -> Optional[Any]:
        """The model's own step from a support's prompts to its mask: an object with ``model_name`` and
        ``mask(image_rgb, prompt, name) -> (H, W) uint8`` (``integrations.foundation.prompt_masks.PromptMasker``);
        None (the default) when the model has no such model of its own."""
        return None

    def encode_prompts(self, images: torch.Tensor, point_coords: torch.Tensor,
                       point_labels: torch.Tensor) -> Tuple[Features, torch.Tensor]:
        """Supports encoded from their prompts, for a model with :attr:`takes_prompts`.

        Args:
            images: (N, 3, H, W) normalised supports.
            point_coords: (N, P, 2) (x, y) in the pixels of ``images``; a box is two points labelled 2 and 3.
            point_labels: (N, P) int: 1 positive, 0 negative, 2 / 3 a box's top-left / bottom-right corner.

        Returns:
            (the supports' features as :meth:`encode` gives them with masks, (N, 1, h, w) logits of the object the
            model found, > 0 inside).
        """
        raise NotImplementedError(f"{type(self).__name__} takes supports as masks, not prompts")

    def encode(self, images: torch.Tensor, masks: Optional[torch.Tensor] = None) -> Features:
        """Features of (N, 3, H, W) images; ``masks`` (N, 1, H, W) are given when the images are supports."""
        raise NotImplementedError

    def predict(self, query: Features, supports: Features, support_masks: torch.Tensor,
                query_masks: Optional[torch.Tensor] = None) -> EpisodeOutput:
        """Logits from encoded query (B, ...) and supports (B, K, ...) with the supports' masks (B, K, 1, H, W).

        ``query_masks`` (B, 1, H, W) is given in training and finetuning, for models that also predict
        the support from the query. The auxiliary fields of the output are filled in training mode only.
        """
        raise NotImplementedError

    def loss(self, output: EpisodeOutput, query_labels: torch.Tensor,
             support_labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Named loss terms (their sum is the training loss) from labels (B, H, W) and (B, K, H, W)."""
        raise NotImplementedError

    def init_weights(self) -> None:
        """Apply submodules' pretrained weights and the frozen files; MMEngine's Runner calls this when training
        starts (the tools load the frozen files themselves to test and infer)."""
        init_submodule_weights(self)
        load_frozen_weights(self)

    def finetune_parameters(self) -> Dict[str, nn.Parameter]:
        """What k-shot finetuning may change: by default every trainable parameter. A model whose :meth:`encode`
        has trainable parameters must leave them out (the hosts encode supports once, before finetuning)."""
        return {name: param for name, param in self.named_parameters() if param.requires_grad}

    @contextlib.contextmanager
    def finetuning(self) -> Iterator[None]:
        """Settings the model keeps while k-shot finetuning runs (e.g. a cheaper backward); none by default."""
        yield

    def forward(self, query_img: torch.Tensor, support_img: torch.Tensor, support_mask: torch.Tensor,
                query_mask: Optional[torch.Tensor] = None) -> EpisodeOutput:
        """Encode and predict: query (B, 3, H', W'), supports (B, [K,] 3, H, W) with masks (B, [K,] 1, H, W).

        Supports and query share one encoder pass when their sizes agree and the encoding ignores masks;
        otherwise the query and each shot are encoded as batches of their own (as PFENet does, which
        matters to BatchNorm layers in training mode).
        """
        if support_img.dim() == 4:
            support_img, support_mask = support_img[:, None], support_mask[:, None]
        batch, shots = support_img.shape[:2]
        if not self.encodes_support_masks and support_img.shape[2:] == query_img.shape[1:]:
            both = self.encode(torch.cat([support_img.flatten(0, 1), query_img]))
            support_feats = map_features(lambda t: t[: batch * shots].unflatten(0, (batch, shots)), both)
            query_feats = map_features(lambda t: t[batch * shots:], both)
        else:
            query_feats = self.encode(query_img)
            support_feats = stack_features([self.encode(support_img[:, shot], support_mask[:, shot])
                                            for shot in range(shots)], dim=1)
        return self.predict(query_feats, support_feats, support_mask, query_mask)
