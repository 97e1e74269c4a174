"""The few-shot segmentor that MMEngine's Runner trains and tests: episodes in, ``SegDataSample`` objects out."""
from __future__ import annotations

import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from crc_modules import EpisodeModel, KShotPredictor, MultiScaleSupportSet, SupportSet, binary_mask
from crc_modules.features import Features, as_one_shot_episodes
from crc_modules.layers import resize_to
from crc_modules.registry import MODELS

from ..engine.checkpoint import load_model_weights

TEST_CFG_KEYS = ("kshot_mode", "kshot_fusion", "finetune", "scales", "precision", "threshold")


def kshot_predictor(test_cfg: dict) -> KShotPredictor:
    """The :class:`KShotPredictor` of a segmentor's ``test_cfg`` (k-shot mode, fusion, finetuning, scales,
    precision)."""
    return KShotPredictor(test_cfg.get("kshot_mode", "fusion"), test_cfg.get("kshot_fusion", "mean"),
                          scales=test_cfg.get("scales", (1.0,)), precision=test_cfg.get("precision", "fp32"),
                          **test_cfg.get("finetune", {}))


class NonFiniteLossError(ValueError):
    """A training loss that is NaN or infinite: the run diverged."""


@MODELS.register_module()
class FewShotSegmentor(BaseModel):
    """Hosts any registered :class:`~crc_modules.EpisodeModel` (CRCNet, PFENet, a user's own) in MMEngine's Runner.

    Training: the model's forward and :meth:`EpisodeModel.loss` on each batch; with K > 1 supports, a
    model that does not fuse shots trains on each support as its own one-shot pair with the query.
    Testing: per episode, :meth:`prepare_supports` (encoding, finetuning: Section 4.6; several scales:
    Section 5.3), ``support_set.predict(query)``, then :meth:`postprocess` to the label's size. The
    predictor behind ``tools/infer.py`` and the benchmark use the same three steps.

    Args:
        model (dict): Config of the few-shot model, e.g. ``dict(type='CRCNet', ...)``.
        data_preprocessor (dict, optional): Default: :class:`FewShotDataPreprocessor`.
        test_cfg (dict, optional): ``kshot_mode`` ('fusion' | 'finetune' | 'both'), ``kshot_fusion``
            ('mean' | 'vote'), ``finetune`` (kwargs of :class:`KShotPredictor`: steps, lr, momentum,
            pairs_per_step, seed), ``scales``
            (e.g. (0.75, 1.0, 1.25)), ``precision`` ('fp32' | 'bf16' | 'fp16' | 'auto') and
            ``threshold`` on the foreground probability (0.5).
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self, model: dict, data_preprocessor: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor or dict(type="FewShotDataPreprocessor"),
                         init_cfg=init_cfg)
        self.model = MODELS.build(model)
        if not isinstance(self.model, EpisodeModel):
            raise TypeError(f"{type(self.model).__name__} is not a crc_modules.EpisodeModel: implement encode, "
                            "predict and loss (see crc_modules/episode_model.py)")
        test_cfg = dict(test_cfg or {})
        unknown = sorted(set(test_cfg) - set(TEST_CFG_KEYS))
        if unknown:
            raise ValueError(f"test_cfg has no setting {', '.join(map(repr, unknown))}; "
                             f"its settings are {', '.join(TEST_CFG_KEYS)}")
        self.threshold = float(test_cfg.get("threshold", 0.5))
        self.kshot = kshot_predictor(test_cfg)
        self.kshot.check_model(self.model)

    @classmethod
    def build(cls, cfg: Config, **test_options) -> "FewShotSegmentor":
        """The config's segmentor with ``test_cfg`` entries overridden (those not None), at its initial weights."""
        model_cfg = copy.deepcopy(cfg.model)
        test_cfg = model_cfg.setdefault("test_cfg", {})
        test_cfg.update({key: value for key, value in test_options.items() if value is not None})
        return MODELS.build(model_cfg)

    @classmethod
    def from_config(cls, cfg: Config, checkpoint: Optional[str] = None, allow_full_pickle: bool = False,
                    **test_options) -> "FewShotSegmentor":
        """The config's segmentor (:meth:`build`) with its weights: the frozen files its run options name and a
        checkpoint (``weights.pth``, an MMEngine or a released checkpoint), read weights-only
        (:func:`~integrations.mmseg.engine.checkpoint.load_model_weights`); a model with nothing trained needs none."""
        segmentor = cls.build(cfg, **test_options)
        load_model_weights(segmentor, checkpoint, allow_full_pickle)
        return segmentor

    def forward(self, inputs: dict, data_samples: Optional[List[SegDataSample]] = None, mode: str = "tensor"):
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self.model(inputs["query"], inputs["supports"], binary_mask(inputs["support_labels"]))
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: dict, data_samples: List[SegDataSample]) -> Dict[str, torch.Tensor]:
        """The model's training loss (Eq. 5 for CRCNet) on the batch's episodes."""
        supports, support_labels, query = inputs["supports"], inputs["support_labels"], inputs["query"]
        query_labels = torch.stack([sample.gt_sem_seg.data[0] for sample in data_samples]).long()
        if supports.shape[1] > 1 and not self.model.fuses_shots:  # K one-shot pairs per episode
            (query, query_labels), (supports, support_labels) = as_one_shot_episodes(
                [query, query_labels], [supports, support_labels])
        output = self.model(query, supports, binary_mask(support_labels), binary_mask(query_labels))
        return self.model.loss(output, query_labels, support_labels)

    def parse_losses(self, losses: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """MMEngine's total of the loss terms, refused when it is NaN or infinite (a diverged run).

        MMEngine's ``train_step`` calls this before the optimiser step, so the weights stay those of the last
        finite step; :class:`NonFiniteLossError` names the terms (tools/train.py adds the iteration).
        """
        total, log_vars = super().parse_losses(losses)
        if not bool(torch.isfinite(total)):
            terms = ", ".join(f"{name} {float(value.detach()):g}" for name, value in log_vars.items() if name != "loss")
            raise NonFiniteLossError(f"the loss is {float(total.detach()):g} ({terms})")
        return total, log_vars

    def prepare_supports(self, images: torch.Tensor, labels: torch.Tensor,
                         encoded: Optional[Features] = None) -> Union[SupportSet, MultiScaleSupportSet]:
        """Supports (K, 3, H, W) with labels (K, H, W) prepared once with ``test_cfg``'s k-shot settings;
        ``support_set.predict(query)`` then gives a (1, 1, H', W') foreground probability. ``encoded``: their
        features made already (supports a promptable model encoded from their prompts)."""
        return self.kshot.prepare(self.model, images, labels, encoded)

    def postprocess(self, probability: torch.Tensor, size: Sequence[int],
                    valid_shape: Optional[Sequence[int]] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """(probability, mask), each (1, H, W) at ``size``, from a (1, 1, h, w) probability of the padded input.

        A probability of another size than ``size`` (PFENet's original-size labels, a user's photo) is
        cropped to the unpadded region ``valid_shape`` and resized; one of ``size`` itself (HSNet's
        transformed labels, padding included) is kept as it is. The mask is ``probability > threshold`` (bool).
        """
        if tuple(size) != tuple(probability.shape[-2:]):
            valid_h, valid_w = valid_shape or probability.shape[-2:]
            probability = resize_to(probability[..., :valid_h, :valid_w], size, align_corners=self.model.align_corners)
        return probability[0], probability[0] > self.threshold

    @torch.no_grad()
    def predict(self, inputs: dict, data_samples: Optional[List[SegDataSample]] = None) -> List[SegDataSample]:
        """Per episode: the query's foreground probability (``seg_logits``) and mask (``pred_sem_seg``)."""
        batch = inputs["query"].shape[0]
        data_samples = data_samples or [SegDataSample() for _ in range(batch)]
        for index, sample in enumerate(data_samples):
            support_set = self.prepare_supports(inputs["supports"][index], inputs["support_labels"][index])
            probability = support_set.predict(inputs["query"][index:index + 1])  # (1, 1, H, W)
            size = sample.gt_sem_seg.shape if "gt_sem_seg" in sample else probability.shape[-2:]
            probability, mask = self.postprocess(probability, size, sample.metainfo.get("valid_shape"))
            sample.seg_logits = PixelData(data=probability)
            sample.pred_sem_seg = PixelData(data=mask.long())
        return data_samples
