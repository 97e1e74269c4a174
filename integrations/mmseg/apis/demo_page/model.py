"""The page's model: the config's segmentor loaded once, behind the predictor of ``tools/infer.py``.

Every session's run goes through the one :class:`FewShotPredictor` (the same ``set_supports`` /
``predict`` path as ``tools/infer.py``), one run at a time: a run sets the k-shot settings it asked for,
prepares its supports once and segments its queries; the next run, of any session, starts from its own
settings and supports.
"""
from __future__ import annotations

import copy
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np
import torch
from mmengine.config import Config

from crc_modules import MULTI_SCALES
from crc_modules.precision import resolve_precision
from integrations.foundation.prompt_masks import shared_weight_files
from integrations.foundation.prompts import SupportPrompt
from integrations.mmseg.apis.predictor import FewShotPredictor, working_size
from integrations.mmseg.datasets.images import read_image
from integrations.mmseg.models.segmentor import FewShotSegmentor, kshot_predictor


@dataclass(frozen=True)
class RunSettings:
    """A run's k-shot settings, as ``tools/infer.py``'s flags: ``--kshot-mode``, ``--kshot-fusion``,
    ``--multi-scale``, ``--precision`` (None: the config's)."""

    kshot_mode: Optional[str] = None
    kshot_fusion: Optional[str] = None
    multi_scale: bool = False
    precision: Optional[str] = None

    def test_options(self) -> dict:
        """The segmentor's ``test_cfg`` entries these settings set (those not None), as ``from_config`` takes them."""
        options = dict(kshot_mode=self.kshot_mode, kshot_fusion=self.kshot_fusion, precision=self.precision,
                       scales=MULTI_SCALES if self.multi_scale else None)
        return {key: value for key, value in options.items() if value is not None}


class PageModel:
    """The config's model with its weights, and the predictor runs share.

    Args:
        cfg (Config): The config, with the command line's ``--cfg-options`` applied.
        checkpoint (str, optional): Weights file (see ``FewShotSegmentor.from_config``).
        device (str): 'cpu' or 'cuda'.
        size (int, optional): The working size (``tools/demo.py --size``); default: the config's test size.
    """

    def __init__(self, cfg: Config, checkpoint: Optional[str] = None, device: str = "cpu",
                 allow_full_pickle: bool = False, size: Optional[int] = None):
        self.test_cfg = copy.deepcopy(dict(cfg.model.get("test_cfg", {})))
        segmentor = FewShotSegmentor.from_config(cfg, checkpoint, allow_full_pickle)
        self.predictor = FewShotPredictor(segmentor, size=size or working_size(cfg), device=device,
                                          shared_weights=shared_weight_files(cfg))
        self._lock = threading.Lock()
        # the model's own prompt step runs under the runs' lock: a finetuning run swaps weights
        own_masker = segmentor.model.prompt_masker() is not None
        self._masker_lock = self._lock if own_masker else threading.Lock()
        masker = self.predictor.prompt_masker  # built now, so the page can say which model turns marks into masks
        self.prompt_model: Optional[str] = masker.model_name if masker is not None else None

    def prompt_mask(self, image_path: str, prompt: SupportPrompt, name: str) -> np.ndarray:
        """The (H, W) mask SAM2 (or the model's SAM) makes of the image at ``image_path`` marked by ``prompt`` (the
        shared prompt step of ``tools/infer.py``), one prompt at a time."""
        image = read_image(image_path)[..., ::-1]
        with self._masker_lock:
            return self.predictor.prompt_masker.mask(np.ascontiguousarray(image), prompt, name)

    def default_settings(self) -> RunSettings:
        """The config's own k-shot settings (what ``tools/infer.py`` runs without flags)."""
        return RunSettings(self.test_cfg.get("kshot_mode", "fusion"), self.test_cfg.get("kshot_fusion", "mean"),
                           tuple(self.test_cfg.get("scales", (1.0,))) == MULTI_SCALES,
                           self.test_cfg.get("precision", "fp32"))

    @contextmanager
    def predictor_for(self, settings: RunSettings) -> Iterator[FewShotPredictor]:
        """The predictor with ``settings`` for the length of one run; other runs wait for it.

        An fp32 run puts the convolution weights back in PyTorch's default layout, which a bf16 / fp16 run
        changes to channels_last, so fp32 runs give ``tools/infer.py``'s results to the bit.
        """
        with self._lock:
            segmentor = self.predictor.segmentor
            segmentor.kshot = kshot_predictor({**self.test_cfg, **settings.test_options()})
            if resolve_precision(segmentor.kshot.precision, torch.device(self.predictor.device)) == "fp32":
                segmentor.model.to(memory_format=torch.contiguous_format)
            try:
                yield self.predictor
            finally:
                self.predictor.support_set = None  # the run's prepared (finetuned) supports are not kept
