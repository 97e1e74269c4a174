"""The data preprocessor of episode batches: device, stacking, BGR -> RGB and normalisation."""
from __future__ import annotations

from typing import Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor

from crc_modules.registry import MODELS

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
BATCH_ADVICE = "use a fixed crop/resize in the pipeline or batch_size=1"


def stack_same_size(tensors: Union[torch.Tensor, Sequence[torch.Tensor]], what: str, advice: str) -> torch.Tensor:
    """Stack tensors of one shape; otherwise an error saying ``what`` differs in size and ``advice``."""
    if isinstance(tensors, torch.Tensor):
        return tensors
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"{what} differ in size {sorted(shapes)}: {advice}")
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
                query=self.normalize(stack_same_size(inputs["query"], "query images of one batch", BATCH_ADVICE)),
                supports=self.normalize(stack_same_size(inputs["supports"], "support images of one batch",
                                                        BATCH_ADVICE)),
                support_labels=stack_same_size(inputs["support_labels"], "support labels of one batch",
                                               BATCH_ADVICE).long(),
            ),
            data_samples=data.get("data_samples"),
        )
