"""The shared step that turns a support marked by a box, clicks or a scribble into its mask, with SAM2 or SAM (the
image predictor of Meta's ``sam2`` or ``segment-anything`` package: one image embedding, then the prompt encoder
and the mask decoder).

Every family uses it (``tools/infer.py``, :class:`~integrations.mmseg.apis.predictor.FewShotPredictor`, the page):
a model that has its own SAM2 or SAM (SANSA's SAM2 with its adapters, GF-SAM's mask generator) gives its own
masker (:meth:`crc_modules.EpisodeModel.prompt_masker`); any other model uses a SAM2 built from the file the
``sam2_weights`` run option names (:data:`~integrations.foundation.PROMPT_WEIGHTS_OPTION`).
"""
from __future__ import annotations

import hashlib
from typing import Dict, Mapping, Optional, Tuple

import numpy as np
import torch

from crc_modules.checkpoint import check_released_file_is_finite
from crc_modules.episode_model import EpisodeModel

from . import PROMPT_WEIGHTS_OPTION, SHARED_WEIGHT_OPTIONS
from .prompts import SupportPrompt
from .sam2_models import build_sam2_model, sam2_version_of
from .weight_files import read_model_file, sam2_size_of


def image_predictor(model) -> Tuple[str, object]:
    """('SAM' or 'SAM2', the package's own image predictor of ``model``): segment-anything's ``SamPredictor`` for a
    SAM, sam2's ``SAM2ImagePredictor`` for a SAM2 (its feature sizes set from the model's input size, which it
    assumes 1024)."""
    from segment_anything import SamPredictor
    from segment_anything.modeling import Sam

    if isinstance(model, Sam):
        return "SAM", SamPredictor(model)
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    predictor = SAM2ImagePredictor(model)
    side = model.image_size
    predictor._bb_feat_sizes = [(side // 4, side // 4), (side // 8, side // 8), (side // 16, side // 16)]
    return "SAM2", predictor


class PromptMasker:
    """A support's mask from its prompts, by SAM2's or SAM's image predictor (:func:`image_predictor`).

    One click alone is ambiguous, so three masks are predicted and the one the model scores best is kept (SAM's
    convention); a box, several clicks or a scribble give one mask. The image's embedding is kept for the next
    prompt on the same image (a person adding clicks).

    Args:
        model: A ``SAM2Base`` or a segment-anything ``Sam``, with its weights.
        multimask_for_one_click (bool): Predict three masks for a single click and keep the best. Default: True.
    """

    def __init__(self, model, multimask_for_one_click: bool = True):
        self.model_name, self.predictor = image_predictor(model)
        self.multimask_for_one_click = multimask_for_one_click
        self._image_key: Optional[bytes] = None

    @torch.no_grad()
    def mask(self, image_rgb: np.ndarray, prompt: SupportPrompt, name: str = "support") -> np.ndarray:
        """The (H, W) uint8 mask in {0, 1} of an RGB uint8 image marked by ``prompt`` (its mask, if it has one).

        Raises:
            ValueError: SAM2 finds no object pixel for the prompt; the message names the support.
        """
        if prompt.mask is not None:
            return prompt.mask
        key = hashlib.sha1(np.ascontiguousarray(image_rgb).data).digest() + bytes(str(image_rgb.shape), "ascii")
        if key != self._image_key:
            self.predictor.set_image(image_rgb)
            self._image_key = key
        coords, labels = prompt.point_arrays()
        one_click = prompt.box is None and coords is not None and len(coords) == 1
        masks, scores, _ = self.predictor.predict(
            point_coords=coords, point_labels=labels,
            box=None if prompt.box is None else np.asarray(prompt.box, np.float32),
            multimask_output=one_click and self.multimask_for_one_click)
        mask = masks[int(np.argmax(scores))].astype(np.uint8)
        if not mask.any():
            raise ValueError(f"{self.model_name} found no object for the prompt of {name}: add clicks on the object or "
                             f"draw a box")
        return mask


def sam2_masker_from_file(path: str, option: str = PROMPT_WEIGHTS_OPTION) -> PromptMasker:
    """A :class:`PromptMasker` over Meta's SAM2 file at ``path`` (its size and version read from the file)."""
    state = read_model_file(path, option, kind="SAM2")
    check_released_file_is_finite(state, path, option)
    model = build_sam2_model(sam2_size_of(state), sam2_version_of(state))
    model.load_state_dict(state)
    return PromptMasker(model)


def shared_weight_files(options: Mapping[str, object]) -> Dict[str, str]:
    """The files of the shared steps (:data:`~integrations.foundation.SHARED_WEIGHT_OPTIONS`) that run options (a
    config, ``--cfg-options``) name."""
    return {option: options[option] for option in SHARED_WEIGHT_OPTIONS if options.get(option)}


def prompt_masker_for(model: EpisodeModel, shared_weights: Mapping[str, str]) -> Optional[PromptMasker]:
    """The masker for supports of ``model``: its own (:meth:`~crc_modules.EpisodeModel.prompt_masker`), else a SAM2
    from the prompt step's file in ``shared_weights`` (:func:`shared_weight_files`), else None (a box is then a
    filled rectangle; clicks and scribbles cannot be used)."""
    own = model.prompt_masker()
    if own is not None:
        return own
    path = shared_weights.get(PROMPT_WEIGHTS_OPTION)
    return sam2_masker_from_file(path, PROMPT_WEIGHTS_OPTION) if path else None
