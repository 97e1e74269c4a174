"""SANSA (Cuttano et al., "SANSA: Unleashing the Hidden Semantics in SAM2 for Few-Shot Segmentation", NeurIPS 2025)
over Meta's ``sam2`` package: a frozen SAM2 with adapters, each support a memory frame, the query decoded with
memory attention over all shots.

The computation follows ``models/sansa/sansa.py`` (``SANSA.forward``) of the released code, run through the
package's own ``SAM2Base`` methods:

- every image is resized to SAM2's square input (bilinear, antialiased: ``sam2_utils.preprocess``) and encoded once
  by the image encoder (``forward_image``: Hiera with adapters, FPN neck, the decoder's high-resolution convs);
- a support's mask is resized the same way and kept where positive (``util/commons.py``, ``resize_mask``); SAM2's
  mask-as-output path gives its logits (+-10, antialiased to 1/4) and its object pointer (the mask decoder on the
  mask prompt); the memory encoder encodes the logits upsampled back to the input size, as SANSA's
  ``_use_mask_as_output`` does (Meta's keeps the full-resolution +-10 mask there);
- the query attends to the supports' memories (``_prepare_memory_conditioned_features``): shot 0 is the
  conditioning frame, shots 1..K-1 the frames before the query (see :func:`memory_bank`); the mask decoder then
  predicts three masks and keeps the best by predicted IoU (``multimask_output=True``), at 1/4 of the input;
- the logits are returned as the two channels ``[0, x]``, so the host's softmax is SANSA's sigmoid, and the host's
  bilinear resize (``align_corners=False``) to the loader's size is SANSA's ``F.interpolate`` to ``orig_size``.
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from crc_modules.episode_model import EpisodeModel, EpisodeOutput, FrozenWeights
from crc_modules.labels import IGNORE_INDEX
from crc_modules.layers import resize_to
from crc_modules.registry import MODELS
from integrations.foundation.sam2_models import sequence_first

from .adapter import ADAPTER_RATIO, ADAPTER_STAGES, insert_adapters
from .losses import sansa_mask_loss
from .sam2_model import build_sansa_sam2, read_sam2_for_sansa


class ImageFeatures(NamedTuple):
    """SAM2's encoding of (N) images: the image embedding at 1/16, its position encoding, and the decoder's two
    high-resolution maps at 1/4 and 1/8 (after its ``conv_s0`` / ``conv_s1``)."""

    embedding: torch.Tensor  # (N, C, h, w)
    position: torch.Tensor  # (N, C, h, w)
    high_res_4: torch.Tensor  # (N, C/8, 4h, 4w)
    high_res_8: torch.Tensor  # (N, C/4, 2h, 2w)


class SupportMemory(NamedTuple):
    """A support as a memory frame: the memory encoder's features and position encoding, and its object pointer."""

    features: torch.Tensor  # (N, C_mem, h, w)
    position: torch.Tensor  # (N, C_mem, h, w)
    object_pointer: torch.Tensor  # (N, C)


def memory_bank(supports: SupportMemory) -> Dict[str, Dict[int, dict]]:
    """SAM2's ``output_dict`` of K shots as SANSA's memory bank holds them before the query (frame K).

    SANSA's ``_prepare_memory_conditioned_features`` takes frame 0 as the conditioning frame (temporal position 0)
    and the frames K-6..K-1 (``num_maskmem - 1`` of them, frame 0 excepted) at their distance from the query, and the
    object pointers of frame 0 and of frames K-15..K-1 (``max_obj_ptrs_in_encoder`` 16). Meta's method selects the
    same frames when shot 0 is its conditioning output and shots 1..K-1 its non-conditioning outputs: so with more
    than 7 shots, shots 1..K-7 give their pointers but not their spatial memories, as in SANSA.
    """
    frames = [{"maskmem_features": supports.features[:, shot], "maskmem_pos_enc": [supports.position[:, shot]],
               "obj_ptr": supports.object_pointer[:, shot]} for shot in range(supports.features.shape[1])]
    return {"cond_frame_outputs": {0: frames[0]},
            "non_cond_frame_outputs": {shot: frame for shot, frame in enumerate(frames) if shot > 0}}


@MODELS.register_module()
class SANSA(EpisodeModel):
    """SANSA: a frozen SAM2 (``sam``, Meta's names) with :class:`~integrations.sansa.adapter.Adapter` s in Hiera.

    State-dict keys are the released files': ``sam.*`` is Meta's SAM2 file without its object-score head (read from
    ``sam2_weights``), ``sam.image_encoder.trunk.blocks.N.adapter.*`` SANSA's adapter files (``{'model': ...}``).
    Only the adapters train. k shots are fused by SANSA's memory (``fuses_shots``): every shot is a memory frame.

    Args:
        sam2_size (str): 'tiny', 'small', 'base_plus' or 'large' (the package's 2024-07 configs). SANSA's released
            adapters are for 'large'. Default: 'large'.
        sam2_weights (str, optional): Meta's SAM2 file of that size (the ``sam2_weights`` run option).
        adapter_stages (Sequence[int]): 0-based Hiera stages with adapters (``--adaptformer_stages``). Default: (2, 3).
        adapter_ratio (float): Adapter bottleneck over the block's input width (``--channel_factor``; 0.8 for the
            generalist adapter). Default: 0.3.
        sam2_overrides (Sequence[str]): Further Hydra overrides of the package's config (tests build tiny SAM2s).
        freeze_sam2 (bool): SAM2 frozen, the adapters alone trained, as SANSA. False trains SAM2 with them (not SANSA:
            for a SAM2 that starts from random weights, where frozen features have nothing to unlock). Default: True.
        ignore_index (int): Label of ignored pixels in the loss. Default: 255.
    """

    fuses_shots = True
    encodes_support_masks = True
    align_corners = False
    weight_options = {"sam2_weights": "Meta's SAM2 file of the config's size (sam2_hiera_{tiny,small,base_plus,"
                                      "large}.pt): SANSA's frozen SAM2"}
    takes_prompts = True
    image_encoders = ("sam.image_encoder.forward",)

    def __init__(self, sam2_size: str = "large", sam2_weights: Optional[str] = None,
                 adapter_stages: Sequence[int] = ADAPTER_STAGES, adapter_ratio: float = ADAPTER_RATIO,
                 sam2_overrides: Sequence[str] = (), freeze_sam2: bool = True, ignore_index: int = IGNORE_INDEX):
        super().__init__()
        self.sam2_size, self.sam2_weights, self.ignore_index = sam2_size, sam2_weights, ignore_index
        self.sam = build_sansa_sam2(sam2_size, sam2_overrides).requires_grad_(not freeze_sam2)
        insert_adapters(self.sam.image_encoder.trunk, tuple(adapter_stages), adapter_ratio)

    def frozen_weights(self) -> Tuple[FrozenWeights]:
        """SAM2 (``sam``) from Meta's file named by ``sam2_weights``; the adapters inside it are trained."""
        return (FrozenWeights("sam2_weights", "sam", self.sam2_weights, self.read_sam2_weights),)

    def read_sam2_weights(self, path: str) -> Dict[str, torch.Tensor]:
        """``sam``'s weights from Meta's file (its object-score head left out), refused when of another size."""
        return read_sam2_for_sansa(path, self.sam, self.sam2_size)

    def finetune_parameters(self) -> Dict[str, nn.Parameter]:
        """None: SANSA's k shots are its memory, and its only trained weights (the adapters) are in the image encoder,
        which the hosts run once per support set, before any k-shot finetuning."""
        return {}

    def prompt_masker(self):
        """The shared prompt step (:class:`~integrations.foundation.prompt_masks.PromptMasker`) over this model's own
        SAM2 with its adapters."""
        from integrations.foundation.prompt_masks import PromptMasker

        return PromptMasker(self.sam)

    def _input(self, images: torch.Tensor) -> torch.Tensor:
        """Resize to SAM2's square input as SANSA's ``preprocess`` (bilinear, antialiased; already normalised)."""
        side = self.sam.image_size
        return F.interpolate(images, (side, side), mode="bilinear", align_corners=False, antialias=True)

    def image_features(self, images: torch.Tensor) -> ImageFeatures:
        """SAM2's image encoder (Hiera with adapters, FPN neck, the decoder's high-resolution convs): one call."""
        backbone = self.sam.forward_image(self._input(images))
        high_res_4, high_res_8, embedding = backbone["backbone_fpn"][-3:]
        return ImageFeatures(embedding, backbone["vision_pos_enc"][-1], high_res_4, high_res_8)

    def encode(self, images: torch.Tensor, masks: Optional[torch.Tensor] = None):
        """:class:`ImageFeatures` of (N, 3, H, W) images; with (N, 1, H, W) masks (supports), their
        :class:`SupportMemory`."""
        features = self.image_features(images)
        return features if masks is None else self.mask_memory(features, masks)

    def mask_memory(self, features: ImageFeatures, masks: torch.Tensor) -> SupportMemory:
        """Supports' memories from their masks (SANSA's ``_use_mask_as_output`` and ``_compute_memory_bank_dict``)."""
        side = self.sam.image_size
        masks = F.interpolate(masks.float(), (side, side), mode="bilinear", align_corners=False, antialias=True) > 0
        outputs = self.sam._use_mask_as_output(features.embedding, [features.high_res_4, features.high_res_8], masks)
        low_res_logits, object_pointer = outputs[3], outputs[5]  # (N, 1, side/4, side/4), (N, C)
        return self._memory(features, low_res_logits, object_pointer)

    def encode_prompts(self, images: torch.Tensor, point_coords: torch.Tensor,
                      point_labels: torch.Tensor) -> Tuple[SupportMemory, torch.Tensor]:
        """Supports marked by SAM2 prompts, as SANSA's promptable model encodes them (``_compute_decoder_out_no_mem``).

        The prompts are decoded on the support itself, without memory (its embedding plus ``no_mem_embed``, one
        mask), and the memory encodes those soft logits; the object pointer comes from the same decoding.

        Args:
            images: (N, 3, H, W) normalised supports.
            point_coords: (N, P, 2) (x, y) in the pixels of ``images``; a box is two points labelled 2 and 3.
            point_labels: (N, P) int: 1 positive, 0 negative, 2 / 3 a box's top-left / bottom-right corner.

        Returns:
            (memory, logits (N, 1, H/4', W/4') of the decoded support mask at 1/4 of SAM2's input).
        """
        features = self.image_features(images)
        side = self.sam.image_size
        scale = point_coords.new_tensor([side / images.shape[-1], side / images.shape[-2]])
        pixels = features.embedding + self.sam.no_mem_embed.view(1, -1, 1, 1)
        outputs = self.sam._forward_sam_heads(
            pixels, point_inputs={"point_coords": point_coords * scale, "point_labels": point_labels},
            high_res_features=[features.high_res_4, features.high_res_8], multimask_output=False)
        low_res_logits, object_pointer = outputs[3], outputs[5]
        return self._memory(features, low_res_logits, object_pointer), low_res_logits

    def _memory(self, features: ImageFeatures, low_res_logits: torch.Tensor,
                object_pointer: torch.Tensor) -> SupportMemory:
        """The memory encoder on the logits upsampled to SAM2's input (sigmoid, x20 - 10, as SAM2 and SANSA)."""
        side = self.sam.image_size
        high_res_logits = F.interpolate(low_res_logits, (side, side), mode="bilinear", align_corners=False)
        features_map, position = self.sam._encode_new_memory(
            current_vision_feats=[sequence_first(features.embedding)],
            feat_sizes=[tuple(features.embedding.shape[-2:])],
            pred_masks_high_res=high_res_logits, object_score_logits=None, is_mask_from_pts=False)
        return SupportMemory(features_map, position[-1], object_pointer)

    def predict(self, query: ImageFeatures, supports: SupportMemory, support_masks: torch.Tensor,
                query_masks: Optional[torch.Tensor] = None) -> EpisodeOutput:
        """Logits (B, 2, H/4', W/4') = ``[0, x]`` of the query decoded with memory attention over its K supports."""
        shots = supports.features.shape[1]
        conditioned = self.sam._prepare_memory_conditioned_features(
            frame_idx=shots, is_init_cond_frame=False, current_vision_feats=[sequence_first(query.embedding)],
            current_vision_pos_embeds=[sequence_first(query.position)], feat_sizes=[tuple(query.embedding.shape[-2:])],
            output_dict=memory_bank(supports), num_frames=shots + 1)
        outputs = self.sam._forward_sam_heads(conditioned, high_res_features=[query.high_res_4, query.high_res_8],
                                              multimask_output=True)
        logits = outputs[3]  # (B, 1, H/4', W/4'): the mask of the best predicted IoU
        return EpisodeOutput(torch.cat([torch.zeros_like(logits), logits], dim=1))

    def loss(self, output: EpisodeOutput, query_labels: torch.Tensor,
             support_labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """SANSA's focal + dice loss of the query's logits upsampled (bilinear) to its (B, H, W) labels."""
        logits = resize_to(output.query_logits[:, 1:].float(), query_labels.shape[-2:], align_corners=False)
        return sansa_mask_loss(logits[:, 0], query_labels, self.ignore_index)
