"""k-shot inference, Section 4.6 and Table 4: fusion of one-shot predictions, finetuning on support pairs,
or both, at one or several scales (Section 5.3). :class:`KShotPredictor` holds the settings and prepares
support sets; the work lives in :mod:`~crc_modules.fusion`, :mod:`~crc_modules.finetune`,
:mod:`~crc_modules.support_set` and :mod:`~crc_modules.multiscale`.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch

from .episode_model import EpisodeModel
from .features import Features
from .finetune import FinetuneSettings, finetune_on_supports
from .fusion import check_fusion
from .multiscale import MultiScaleSupportSet
from .precision import resolve_precision
from .support_set import SupportSet

KSHOT_MODES = ("fusion", "finetune", "both")


class KShotPredictor:
    """Prepares k annotated supports for a one-shot-trained :class:`EpisodeModel` (Section 4.6).

    Modes: 'fusion' fuses the k one-shot predictions (``fusion``: 'mean' averages the probabilities, or
    lets a model with ``fuses_shots`` fuse them; 'vote' is HSNet's vote); 'finetune' finetunes
    :meth:`EpisodeModel.finetune_parameters` on pairs of distinct supports (:mod:`crc_modules.finetune`;
    a pair needs two images, so 1-shot has no finetuning, as in Table 4) and predicts with the first
    support; 'both' finetunes, then fuses. Finetuning runs once per support set, at scale 1; the model's
    own weights never change. With several ``scales`` the probabilities of the scales are averaged.

    Args:
        mode (str): 'fusion', 'finetune' or 'both'. Default: 'fusion'.
        fusion (str): 'mean' or 'vote'. Default: 'mean'.
        steps, lr, momentum, pairs_per_step, seed: :class:`~crc_modules.finetune.FinetuneSettings`.
        scales (Sequence[float]): Test scales; (1.0,) is single-scale. Default: (1.0,).
        precision (str): 'fp32', 'bf16', 'fp16' or 'auto' (see :func:`~crc_modules.precision.resolve_precision`);
            bf16 / fp16 put the model's convolution weights in channels_last. Default: 'fp32'.
    """

    def __init__(self, mode: str = "fusion", fusion: str = "mean", steps: int = 5, lr: float = 2e-3,
                 momentum: float = 0.9, pairs_per_step: int = 1, seed: int = 0, scales: Sequence[float] = (1.0,),
                 precision: str = "fp32"):
        if mode not in KSHOT_MODES:
            raise ValueError(f"k-shot mode must be one of {KSHOT_MODES}, got {mode!r}")
        if not scales:
            raise ValueError("scales must name at least one scale, e.g. (1.0,)")
        resolve_precision(precision, torch.device("cpu"))  # validates the name
        self.mode, self.fusion = mode, check_fusion(fusion)
        self.finetune = FinetuneSettings(steps, lr, momentum, pairs_per_step, seed)
        self.scales, self.precision = tuple(scales), precision

    def __call__(self, model: EpisodeModel, support_imgs: torch.Tensor, support_labels: torch.Tensor,
                 query_img: torch.Tensor) -> torch.Tensor:
        """One episode: supports (K,3,H,W), labels (K,H,W) in {0,1,255}, query (1,3,H',W') -> (1,1,H',W')."""
        return self.prepare(model, support_imgs, support_labels).predict(query_img)

    def check_model(self, model: EpisodeModel) -> None:
        """Refuse a finetuning mode for a model with nothing to finetune (a frozen foundation model)."""
        if self.mode != "fusion" and not model.finetune_parameters():
            raise ValueError(f"k-shot mode {self.mode!r} finetunes, but {type(model).__name__} has no trainable "
                             f"parameters to finetune: use the 'fusion' mode")

    @property
    def takes_encoded_supports(self) -> bool:
        """Whether supports encoded beforehand can serve (``prepare``'s ``encoded``): the 'fusion' mode at scale 1,
        where the support set predicts from the supports' features as they are."""
        return self.mode == "fusion" and self.scales == (1.0,)

    def prepare(self, model: EpisodeModel, support_imgs: torch.Tensor, support_labels: torch.Tensor,
                encoded: Optional[Features] = None) -> Union[SupportSet, MultiScaleSupportSet]:
        """Check the supports, finetune once when the mode asks for it and k > 1, and bind them to ``model``;
        ``encoded`` (the supports' features made already, :class:`SupportSet`) serves the 'fusion' mode at scale 1."""
        self.check_model(model)
        if encoded is not None and not self.takes_encoded_supports:
            raise ValueError(f"supports encoded beforehand serve the 'fusion' mode at scale 1 only, not mode "
                             f"{self.mode!r} at scales {self.scales}")
        if support_imgs.dim() != 4 or support_labels.shape != (support_imgs.shape[0], *support_imgs.shape[-2:]):
            raise ValueError(f"supports must be (K, 3, H, W) with labels (K, H, W), got "
                             f"{tuple(support_imgs.shape)} and {tuple(support_labels.shape)}")
        precision = resolve_precision(self.precision, support_imgs.device)
        if precision != "fp32":
            # bf16 / fp16 autocast convolutions run on channels_last weights (the same values): at 321 px,
            # CRCNet in bf16 took 18 s against 282 s contiguous on an AVX2 CPU. fp32, the reference, keeps its layout.
            model.to(memory_format=torch.channels_last)
        finetuned = None
        if self.mode != "fusion" and support_imgs.shape[0] > 1:
            finetuned = finetune_on_supports(model, support_imgs, support_labels, self.finetune, precision)
        if self.mode == "finetune":  # Table 4's "Finetune": predict with the first support
            support_imgs, support_labels = support_imgs[:1], support_labels[:1]
        support_set_args = dict(model=model, fusion=self.fusion, finetuned=finetuned, precision=precision)
        if self.scales == (1.0,):
            return SupportSet(images=support_imgs, labels=support_labels, encoded=encoded, **support_set_args)
        return MultiScaleSupportSet.rescaled(self.scales, support_imgs, support_labels, **support_set_args)
