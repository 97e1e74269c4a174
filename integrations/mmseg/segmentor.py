"""The few-shot segmentor that MMEngine's Runner trains and tests: episodes in, ``SegDataSample``s out."""
from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.structures import PixelData
from crc_modules.registry import MODELS
from mmseg.structures import SegDataSample

from crc_modules import KShotPredictor, binary_mask, multi_scale_probability
from crc_modules.layers import resize_to

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def _stack(tensors: Union[torch.Tensor, Sequence[torch.Tensor]], what: str) -> torch.Tensor:
    if isinstance(tensors, torch.Tensor):
        return tensors
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"{what} of one batch differ in size {sorted(shapes)}: use a fixed crop/resize in the "
                         f"pipeline or batch_size=1")
    return torch.stack(list(tensors))


@MODELS.register_module()
class FewShotDataPreprocessor(BaseDataPreprocessor):
    """Moves an episode batch to the device, stacks it and normalises the query and support images.

    Input (from the episodic datasets, collated by ``pseudo_collate``): ``inputs`` with lists of
    ``query`` (3, H, W) uint8, ``supports`` (K, 3, H, W) uint8, ``support_labels`` (K, H, W) in
    {0, 1, 255}. Output: the same keys as float tensors (B, 3, H, W), (B, K, 3, H, W), (B, K, H, W).

    Args:
        mean (Sequence[float]): Per-channel mean, in RGB order. Default: ImageNet's.
        std (Sequence[float]): Per-channel std, in RGB order. Default: ImageNet's.
        bgr_to_rgb (bool): The images are loaded BGR (mmseg's convention); flip them. Default: True.
    """

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 bgr_to_rgb: bool = True):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(3, 1, 1), persistent=False)
        self.bgr_to_rgb = bgr_to_rgb

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """(..., 3, H, W) uint8 or float images in the loading channel order -> normalised float RGB."""
        if self.bgr_to_rgb:
            images = images.flip(-3)
        return (images.float() - self.mean) / self.std

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data["inputs"]
        return dict(
            inputs=dict(
                query=self.normalize(_stack(inputs["query"], "query images")),
                supports=self.normalize(_stack(inputs["supports"], "support images")),
                support_labels=_stack(inputs["support_labels"], "support labels").long(),
            ),
            data_samples=data.get("data_samples"),
        )


@MODELS.register_module()
class FewShotSegmentor(BaseModel):
    """Hosts CRCNet, or any registered model with the same episode interface, in MMEngine's Runner.

    The hosted model is called as ``model(support, support_mask, query, query_mask)`` -> logits dict
    and ``model.loss(outputs, query_label, support_label)`` -> losses in training; at test time each
    episode goes through :class:`KShotPredictor` (fusion, finetune or both, Section 4.6) and, with
    several ``scales``, multi-scale averaging (Section 5.3). Training with k > 1 supports uses each
    support as its own 1-shot pair with the query.

    Args:
        model (dict): Config of the few-shot model, e.g. ``dict(type='CRCNet', ...)``.
        data_preprocessor (dict, optional): Default: :class:`FewShotDataPreprocessor`.
        test_cfg (dict, optional): ``kshot_mode`` ('fusion' | 'finetune' | 'both'), ``finetune`` (kwargs
            of :class:`KShotPredictor`: steps, lr, momentum, pairs_per_step, seed), ``scales``
            (e.g. (0.75, 1.0, 1.25)) and ``threshold`` on the foreground probability (0.5).
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self, model: dict, data_preprocessor: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor or dict(type="FewShotDataPreprocessor"),
                         init_cfg=init_cfg)
        self.model = MODELS.build(model)
        test_cfg = dict(test_cfg or {})
        self.scales = tuple(test_cfg.get("scales", (1.0,)))
        self.threshold = float(test_cfg.get("threshold", 0.5))
        self.predictor = KShotPredictor(test_cfg.get("kshot_mode", "fusion"), **test_cfg.get("finetune", {}))

    def forward(self, inputs: dict, data_samples: Optional[List[SegDataSample]] = None, mode: str = "tensor"):
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self.model(inputs["supports"][:, 0], binary_mask(inputs["support_labels"][:, 0]), inputs["query"])
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: dict, data_samples: List[SegDataSample]) -> Dict[str, torch.Tensor]:
        """Eq. 5 on every (support, query) pair of the batch."""
        shots = inputs["supports"].shape[1]
        supports = inputs["supports"].flatten(0, 1)  # (B*K, 3, H, W)
        support_labels = inputs["support_labels"].flatten(0, 1)  # (B*K, H, W)
        query = inputs["query"].repeat_interleave(shots, dim=0)
        query_labels = torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).long()
        query_labels = query_labels.repeat_interleave(shots, dim=0)
        outputs = self.model(supports, binary_mask(support_labels), query, binary_mask(query_labels))
        return self.model.loss(outputs, query_labels, support_labels)

    @torch.no_grad()
    def predict(self, inputs: dict, data_samples: Optional[List[SegDataSample]] = None) -> List[SegDataSample]:
        """Per episode: the query's foreground probability (``seg_logits``) and mask (``pred_sem_seg``).

        The probability is cropped to the unpadded region (``valid_shape``) and resized to the size of
        the episode's label, so the metric reads it at the label's resolution (original or transformed).
        """
        batch = inputs["query"].shape[0]
        data_samples = data_samples or [SegDataSample() for _ in range(batch)]
        predict = functools.partial(self.predictor, self.model)
        for index, sample in enumerate(data_samples):
            query = inputs["query"][index:index + 1]
            probability = multi_scale_probability(
                predict, inputs["supports"][index], inputs["support_labels"][index], query, self.scales
            )  # (1, 1, H, W)
            valid_h, valid_w = sample.metainfo.get("valid_shape", query.shape[-2:])
            probability = probability[..., :valid_h, :valid_w]
            if "gt_sem_seg" in sample:
                probability = resize_to(probability, sample.gt_sem_seg.shape)
            sample.seg_logits = PixelData(data=probability[0])
            sample.pred_sem_seg = PixelData(data=(probability[0] > self.threshold).long())
        return data_samples


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """Mixed precision on the CPU: bfloat16 autocast (MMEngine's AmpOptimWrapper needs CUDA); bf16 needs no loss scaling."""

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), torch.autocast("cpu", dtype=torch.bfloat16):
            yield
