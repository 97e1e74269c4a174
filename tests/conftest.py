"""Shared fixtures: small backbones and models so the suite runs in minutes on 2 CPU cores."""
import io
import logging
import os

import pytest
import torch
import torchvision
from mmengine.logging import MMLogger

from crc_modules import CRCNet


def tiny_resnet() -> torchvision.models.ResNet:
    """A torchvision ResNet module with one block per stage (what the name 'resnet10' builds)."""
    return torchvision.models.ResNet(torchvision.models.resnet.BasicBlock, [1, 1, 1, 1])


def tiny_crcnet(**kwargs) -> CRCNet:
    encoder = dict(backbone="resnet10")  # one block per stage: real structure, small cost
    encoder.update(kwargs.pop("encoder", {}))
    kwargs.setdefault("channels", 32)
    kwargs.setdefault("refine_steps", 3)
    return CRCNet(encoder=encoder, **kwargs)


if os.environ.get("PYTEST_XDIST_WORKER"):  # workers share the cores: two workers of two threads on 2 cores thrash
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def random_mask(batch: int, size: int, generator=None) -> torch.Tensor:
    """A (B, 1, size, size) binary mask with a random rectangle of foreground per item."""
    mask = torch.zeros(batch, 1, size, size)
    for b in range(batch):
        y0, x0 = torch.randint(0, size // 2, (2,), generator=generator).tolist()
        y1, x1 = y0 + size // 3 + b, x0 + size // 3
        mask[b, 0, y0:y1, x0:x1] = 1
    return mask


class _LogText:
    def __init__(self):
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def caplog_mmengine():
    """What MMEngine's current logger prints during a test (``.text``, each line led by its level)."""
    capture = _LogText()
    handler = logging.StreamHandler(capture.stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield capture
    logger.removeHandler(handler)
