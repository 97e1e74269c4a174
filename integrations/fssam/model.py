"""FSSAM (Xiong et al., "Unlocking the Power of SAM 2 for Few-Shot Segmentation", ICML 2025) over Meta's ``sam2``
package and timm's DINOv2: SAM 2's memory attention matches the query against the supports' memories, prompted by
DINOv2 similarity priors.

The computation follows ``OneModel.forward`` of ``model/FSSAM.py`` / ``model/FSSAM5s.py`` and the ``*_batch``
methods of the ``sam2`` copy in ``Sam1224/FSSAM``, run through the package's own ``SAM2Base`` methods:

- every image is stretched to SAM 2's 512 square (FSSAM's loader does it; bilinear), then encoded by SAM 2's image
  encoder and, resized to 560, by DINOv2 (its last layer, :mod:`.dinov2_features`);
- a support becomes a memory frame from its mask (``add_new_mask_batch``: SAM 2's mask-as-output path gives its
  object pointer, the memory encoder encodes the mask as +-10 logits);
- the pseudo prompt generator (:class:`~.priors.PseudoPromptGenerator`) gives the query a foreground and an
  absolute-foreground prior, each encoded as a memory of the query in the same way; the iterative memory
  refinement (:class:`~.memory_refinement.IterativeMemoryRefinement`) refines the second;
- the query attends to the supports' frames, its refined frame and their object pointers (all at temporal position
  0, pointers unencoded) through the support-calibrated memory attention (:mod:`.calibrated_attention`), and SAM 2's
  mask decoder predicts three masks and keeps the best by predicted IoU, at 512;
- the logits are returned as the two channels ``[0, x]`` (the host's softmax is FSSAM's sigmoid) and upsampled by
  the host with corners aligned, as FSSAM's test upsamples to the original label (``ori_resize``).

Reading: the released model casts the memory features to bf16 (``add_new_mask_batch``) and runs under CUDA bf16
autocast only; in fp32 they stay fp32 (the released ``cos_sim`` fails on the mixed types without autocast).
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from crc_modules.episode_model import EpisodeModel, EpisodeOutput, FrozenWeights
from crc_modules.registry import MODELS
from integrations.foundation.sam2_models import sequence_first
from integrations.foundation.weight_files import read_model_file

from .calibrated_attention import calibrating, insert_calibration
from .checkpoints import check_fssam_checkpoint
from .dinov2_features import FSSAM_DINOV2_SIZE, build_fssam_dinov2, last_layer_features
from .losses import weighted_dice_loss
from .memory_refinement import IterativeMemoryRefinement, QueryMemory
from .priors import PseudoPromptGenerator
from .sam2_model import build_fssam_sam2, decode_masks

TRAINED_PARTS = ("sam_mask_decoder", "memory_encoder", "memory_attention")  # FSSAM's get_optim
HINT = ": give the file of that kind and size, or change the config's model to the file's"


class QueryFeatures(NamedTuple):
    """An image as FSSAM keeps it: DINOv2's feature map (40 x 40), SAM 2's image embedding (1/16) with its position
    encoding, and the mask decoder's high-resolution maps (1/4, 1/8)."""

    dino: torch.Tensor
    embedding: torch.Tensor
    position: torch.Tensor
    high_res_4: torch.Tensor
    high_res_8: torch.Tensor


class SupportFeatures(NamedTuple):
    """A support as FSSAM keeps it: DINOv2's feature map, its memory frame (features, position encoding at the
    memory grid) and its object pointer."""

    dino: torch.Tensor
    memory: torch.Tensor
    memory_position: torch.Tensor
    object_pointer: torch.Tensor


@MODELS.register_module()
class FSSAM(EpisodeModel):
    """FSSAM: SAM 2 (``sam2``, Meta's names) and DINOv2 ViT (``dino``, the names of Meta's hub code).

    State-dict keys are the released checkpoints' after their ``module.`` prefix: all of SAM 2 and DINOv2, FSSAM
    adding no parameters of its own. Only SAM 2's mask decoder, memory encoder and memory attention train. k shots
    are fused as FSSAM5s fuses them (``fuses_shots``): priors averaged over shots, every support a memory frame.

    Args:
        sam2_size (str): 'small', 'base_plus' or 'large' (the package's 2024-07 configs); the released models are
            'small'. Default: 'small'.
        dinov2 (str): DINOv2 ViT size ('vit_base', FSSAM's ``dinov2_vitb14``; 'vit_large', 'vit_giant2').
        sam2_weights (str, optional): Meta's SAM 2 file of that size (the ``sam2_weights`` run option), to train from.
        dinov2_weights (str, optional): Meta's ``dinov2_vit*14_pretrain.pth`` (the ``dinov2_weights`` run option).
        refinement_steps (int): Iterative memory refinement steps (``--num_refine``). Default: 3.
        trained_shots (int): The shots the weights were trained for (1: ``FSSAM``, 5: ``FSSAM5s``); a released
            checkpoint of the other is refused. Default: 1.
        dinov2_input (int): The square size images are resized to for DINOv2 (560: 40 x 40 patches).
        trained_parts (Sequence[str]): The parts of SAM 2 that train (FSSAM's: mask decoder, memory encoder, memory
            attention); the generated-data config adds the image encoder, which has no pretrained weights there.
        sam2_overrides (Sequence[str]): Further Hydra overrides of the package's config (tests build tiny SAM 2s).
        dinov2_architecture (dict, optional): timm arguments overriding the ViT's (tests build tiny ViTs).
    """

    fuses_shots = True
    encodes_support_masks = True
    align_corners = True
    stretches_images = True  # every image stretched to SAM 2's square input, as FSSAM's loader does
    image_encoders = ("sam2.image_encoder.forward", "dino.patch_embed.proj.forward", "dino.blocks.forward")
    weight_options = {
        "sam2_weights": "Meta's SAM 2 file of the config's size (sam2_hiera_{small,base_plus,large}.pt): FSSAM's "
                        "SAM 2 before training",
        "dinov2_weights": "Meta's DINOv2 file of the config's size (dinov2_vit{b,l,g}14_pretrain.pth): FSSAM's "
                          "frozen DINOv2",
    }

    def __init__(self, sam2_size: str = "small", dinov2: str = "vit_base", sam2_weights: Optional[str] = None,
                 dinov2_weights: Optional[str] = None, refinement_steps: int = 3, trained_shots: int = 1,
                 dinov2_input: int = FSSAM_DINOV2_SIZE, trained_parts: Sequence[str] = TRAINED_PARTS,
                 sam2_overrides=(), dinov2_architecture: Optional[dict] = None):
        super().__init__()
        self.sam2_size, self.trained_shots, self.dinov2_input = sam2_size, trained_shots, dinov2_input
        self.sam2_weights, self.dinov2_weights = sam2_weights, dinov2_weights
        self.sam2 = build_fssam_sam2(sam2_size, sam2_overrides).requires_grad_(False)
        for part in trained_parts:
            getattr(self.sam2, part).requires_grad_(True)
        insert_calibration(self.sam2.memory_attention)
        self.dino = build_fssam_dinov2(dinov2, **(dinov2_architecture or {})).requires_grad_(False)
        self.pseudo_prompts = PseudoPromptGenerator()
        self.memory_refinement = IterativeMemoryRefinement(refinement_steps)

    def frozen_weights(self) -> Tuple[FrozenWeights, ...]:
        """SAM 2 (``sam2``) and DINOv2 (``dino``) from Meta's files, when training starts from them."""
        return (FrozenWeights("sam2_weights", "sam2", self.sam2_weights, self.read_sam2_weights),
                FrozenWeights("dinov2_weights", "dino", self.dinov2_weights, self.read_dinov2_weights))

    def read_sam2_weights(self, path: str) -> Dict[str, torch.Tensor]:
        return read_model_file(path, "sam2_weights", built=self.sam2, hint=HINT)

    def read_dinov2_weights(self, path: str) -> Dict[str, torch.Tensor]:
        return read_model_file(path, "dinov2_weights", built=self.dino, hint=HINT)

    def check_checkpoint(self, path: str, state: Dict[str, torch.Tensor]) -> None:
        """Refuse a file that is not an FSSAM checkpoint for this config, naming what it holds."""
        check_fssam_checkpoint(self, path, state)

    def prompt_masker(self):
        """The shared prompt step (:class:`~integrations.foundation.prompt_masks.PromptMasker`) over FSSAM's own SAM 2,
        so a checkpoint alone serves supports marked by a box, clicks or a scribble.

        Reading: FSSAM takes supports as masks only; its SAM 2's image and prompt encoders are Meta's, frozen, and its
        mask decoder is FSSAM's (trained without prompts), which decodes the prompts at its 512 input.
        """
        from integrations.foundation.prompt_masks import PromptMasker

        return PromptMasker(self.sam2)

    def finetune_parameters(self) -> Dict[str, nn.Parameter]:
        """None: FSSAM's k shots are its memory frames."""
        return {}

    def _stretch(self, images: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
        """Images or masks stretched to SAM 2's square input (FSSAM's loader resizes so; a no-op at 512)."""
        side = self.sam2.image_size
        if images.shape[-2:] == (side, side):
            return images
        return F.interpolate(images, (side, side), mode=mode, **({"align_corners": False} if mode != "nearest"
                                                                  else {}))

    def encode(self, images: torch.Tensor, masks: Optional[torch.Tensor] = None):
        """:class:`QueryFeatures` of (N, 3, H, W) images; with (N, 1, H, W) masks (supports), their
        :class:`SupportFeatures`."""
        images = self._stretch(images)
        backbone = self.sam2.forward_image(images)
        high_res_4, high_res_8, embedding = backbone["backbone_fpn"][-3:]
        features = QueryFeatures(last_layer_features(self.dino, images, self.dinov2_input), embedding,
                                 backbone["vision_pos_enc"][-1], high_res_4, high_res_8)
        if masks is None:
            return features
        memory, position, pointer = self.mask_memory(features, self._stretch(masks.float(), "nearest"))
        return SupportFeatures(features.dino, memory, position, pointer)

    def mask_memory(self, features: QueryFeatures,
                    masks: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(memory features, memory position, object pointer) of images with soft (N, 1, S, S) masks at SAM 2's input
        size (``add_new_mask_batch``: SAM 2's ``_use_mask_as_output``, then ``_encode_new_memory`` of its +-10
        logits)."""
        outputs = self.sam2._use_mask_as_output(features.embedding, [features.high_res_4, features.high_res_8], masks)
        memory, position = self.sam2._encode_new_memory(
            current_vision_feats=[sequence_first(features.embedding)],
            feat_sizes=[tuple(features.embedding.shape[-2:])],
            pred_masks_high_res=outputs[1], object_score_logits=None, is_mask_from_pts=False)
        return memory, position[-1], outputs[5]

    def predict(self, query: QueryFeatures, supports: SupportFeatures, support_masks: torch.Tensor,
                query_masks: Optional[torch.Tensor] = None) -> EpisodeOutput:
        """Logits (B, 2, S, S) = ``[0, x]`` of the query at SAM 2's input size S."""
        batch, shots = supports.memory.shape[:2]
        side, grid = self.sam2.image_size, tuple(query.embedding.shape[-2:])
        masks = self._stretch(support_masks.flatten(0, 1).float(), "nearest").unflatten(0, (batch, shots))
        foreground, absolute = self.pseudo_prompts(query.dino, supports.dino, masks, (side, side))
        memories = [self.mask_memory(query, prior) for prior in (foreground, absolute)]

        def at_grid(maps: torch.Tensor) -> torch.Tensor:
            return F.interpolate(maps, grid, mode="bilinear", align_corners=True)

        refined = self.memory_refinement(
            supports.memory, at_grid(masks.flatten(0, 1)).unflatten(0, (batch, shots)),
            QueryMemory(memories[0][0], at_grid(foreground)), QueryMemory(memories[1][0], at_grid(absolute)))
        memory, memory_position, pointers = self._memory_tokens(supports, refined.features, memories[1])
        calibration_masks = F.interpolate(masks[:, 0], grid, mode="nearest")[:, None]  # the first shot's
        with calibrating(self.sam2.memory_attention, calibration_masks):
            conditioned = self.sam2.memory_attention(
                curr=[sequence_first(query.embedding)], curr_pos=[sequence_first(query.position)], memory=memory,
                memory_pos=memory_position, num_obj_ptr_tokens=pointers)
        conditioned = conditioned.permute(1, 2, 0).view_as(query.embedding)
        logits = decode_masks(self.sam2, conditioned, (query.high_res_4, query.high_res_8))
        return EpisodeOutput(torch.cat([torch.zeros_like(logits), logits], dim=1))

    def _memory_tokens(self, supports: SupportFeatures, refined: torch.Tensor,
                       query_memory: Tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """SAM 2's memory sequence: the support frames, then the query's refined frame, all at temporal position 0,
        then their object pointers split into ``mem_dim`` tokens with zero position (``propagate_in_video_batch_final``)
        -> (memory, its position encoding, number of pointer tokens)."""
        sam = self.sam2
        shots = supports.memory.shape[1]
        frames = [supports.memory[:, shot] for shot in range(shots)] + [refined]
        positions = [supports.memory_position[:, shot] for shot in range(shots)] + [query_memory[1]]
        temporal = sam.maskmem_tpos_enc[sam.num_maskmem - 1]
        memory = [sequence_first(frame) for frame in frames]
        memory_position = [sequence_first(position) + temporal for position in positions]
        pointer_tokens = 0
        if sam.use_obj_ptrs_in_encoder:
            pointers = torch.stack([supports.object_pointer[:, shot] for shot in range(shots)] + [query_memory[2]])
            batch, width = pointers.shape[1], pointers.shape[2]
            if sam.mem_dim < width:
                pointers = pointers.reshape(-1, batch, width // sam.mem_dim, sam.mem_dim).permute(0, 2, 1, 3)
                pointers = pointers.flatten(0, 1)
            memory.append(pointers)
            memory_position.append(torch.zeros_like(pointers))
            pointer_tokens = pointers.shape[0]
        return torch.cat(memory), torch.cat(memory_position), pointer_tokens

    def loss(self, output: EpisodeOutput, query_labels: torch.Tensor,
             support_labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """FSSAM's weighted dice loss of the query's logits (upsampled with corners aligned to its labels)."""
        logits = output.query_logits[:, 1:].float()
        if logits.shape[-2:] != query_labels.shape[-2:]:
            logits = F.interpolate(logits, query_labels.shape[-2:], mode="bilinear", align_corners=True)
        return {"loss_dice": weighted_dice_loss(logits[:, 0], query_labels)}


@MODELS.register_module()
class FSSAM5s(FSSAM):
    """FSSAM trained on 5-shot episodes (``model/FSSAM5s.py``): the same network; ``trained_shots`` 5."""

    def __init__(self, trained_shots: int = 5, **kwargs):
        super().__init__(trained_shots=trained_shots, **kwargs)
