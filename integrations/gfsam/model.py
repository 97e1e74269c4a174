"""GF-SAM (Zhang et al., "Bridge the Points: Graph-based Few-shot Segment Anything Semantically", NeurIPS 2024) as
released (``ANDYZAQ/GF-SAM``, ``matcher/GFSAM.py``), hosted as an :class:`~crc_modules.EpisodeModel` with nothing
trainable: DINOv2 places points on the query, SAM turns each point into a mask, a graph over points and masks
groups them and the clusters of the support's class give the mask.
"""
from __future__ import annotations

import contextlib
from functools import partial
from typing import ContextManager, Dict, Optional, Sequence, Tuple

import torch

from crc_modules.episode_model import EpisodeModel, EpisodeOutput, FrozenWeights
from crc_modules.registry import MODELS
from integrations.foundation.weight_files import read_model_file

from .dinov2 import DINOV2_IMAGE_SIZE, build_dinov2, dinov2_patch_tokens
from .graph import point_mask_graph, weak_components
from .low_res import LowResMasks, full_size
from .points import MAX_POINTS, select_points
from .priors import mask_on_grid, normalise_over_tokens, pixelwise_cosine, point_prior, similarity_priors
from .sam_masks import build_sam, sam_image_embedding, sam_point_logits, sam_resize_steps
from .selection import classify_clusters, cluster_unions, final_mask, mask_on_patch_grid, point_consistency
from .weights import HINT, read_dinov2_weights, read_sam_weights

MASK_LOGIT = 20.0  # the foreground logit of a mask pixel (-20 elsewhere): softmax 1 - 2e-9, so > 0.5 is the mask
POINTS_PER_BATCH = 64  # GFSAM.py generate_sam_masks: ``batch_iterator(64, ...)``
MASK_RESOLUTIONS = ("low", "full")  # the point masks read at SAM's resolution (the answer's at full size), or all full


def full_precision(device: torch.device) -> ContextManager:
    """Autocast off on ``device``: GF-SAM's priors and graph run in fp32 whatever precision the encoders use."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


def check_support_masks(support_masks: torch.Tensor) -> None:
    """Raise when a support mask (K, 1, H, W) has no object pixel.

    Reading: GF-SAM's ``set_reference`` fills a 14x14 square at the centre when every support mask is empty
    and compares against nothing when one of several is; both would segment something unrelated to the class,
    so an empty support mask is an error here.
    """
    empty = (support_masks.flatten(1).amax(1) <= 0).nonzero().flatten().tolist()
    if empty:
        shots = ", ".join(str(shot + 1) for shot in empty)
        raise ValueError(f"support mask {shots} of {support_masks.shape[0]} has no object pixel: GF-SAM places its "
                         f"points by comparing the query with the support's object, so each support needs one")


def mask_logits(masks: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) background/foreground logits of (B, H, W) bool masks: 0 and +/-:data:`MASK_LOGIT`."""
    foreground = torch.where(masks, MASK_LOGIT, -MASK_LOGIT)
    return torch.stack([torch.zeros_like(foreground), foreground], dim=1)


@MODELS.register_module()
class GFSAM(EpisodeModel):
    """GF-SAM as released, on DINOv2 from ``timm`` and SAM from ``segment-anything`` (or SAM2 from ``sam2``).

    :meth:`encode` gives a support's DINOv2 tokens (computed once per support set by the hosts) and a query's
    DINOv2 tokens with its SAM image embedding; :meth:`predict` runs the rest of ``GFSAM.predict`` per query:
    the similarity priors (:mod:`integrations.gfsam.priors`), the points (:mod:`integrations.gfsam.points`), one SAM
    mask per point, the point-mask graph and its clusters (:mod:`integrations.gfsam.graph`), the clusters'
    classification, the points' consistency and the final mask (:mod:`integrations.gfsam.selection`).
    k shots are fused as GF-SAM does: the priors are averaged over the shots.
    The logits are 0 / +/-20 for the mask, so the hosts' 0.5 threshold gives GF-SAM's mask exactly.

    Inputs: images normalised with ImageNet's mean and std (the host's default preprocessor), which is also
    DINOv2's and SAM's normalisation; GF-SAM's setting is 1024x1024 images (SAM's input size).

    Args:
        dinov2 (str): 'vit_small' | 'vit_base' | 'vit_large' | 'vit_giant2' (GF-SAM's ``--dinov2-size``).
            Default: 'vit_large', GF-SAM's.
        sam (str, optional): 'vit_b' | 'vit_l' | 'vit_h'. Default: 'vit_h', GF-SAM's. None with ``sam2``.
        sam2 (str, optional): A SAM2 size ('tiny' | 'small' | 'base_plus' | 'large') as the mask generator
            instead of SAM. Default: None.
        dinov2_weights, sam_weights, sam2_weights (str, optional): Meta's released files (run options of the
            same names): ``dinov2_vit*14_pretrain.pth``, ``sam_vit_*.pth``, ``sam2_hiera_*.pt``.
        dinov2_image_size (int): DINOv2's input size. Default: 518 (GF-SAM's).
        max_points (int): Most point prompts per query. Default: 128 (GF-SAM's).
        points_per_batch (int): Point prompts decoded by SAM together. Default: 64 (GF-SAM's).
        dinov2_args, sam_args, sam2_args (dict, optional): Architecture overrides (tiny test models).
        mask_resolution (str): 'low' reads the point masks on the grid from SAM's low-resolution logits and brings
            to full size only the masks of the answer (:mod:`.low_res`; the same masks up to float rounding); 'full'
            upsamples every point's mask to the image first, as GF-SAM's code does. Default: 'low'.
    """

    fuses_shots = True
    encodes_support_masks = True  # supports: DINOv2 only; the query: DINOv2 and SAM
    image_encoders = ("dinov2.forward_intermediates", "sam.image_encoder.forward", "sam2.image_encoder.forward")
    weight_options = {"dinov2_weights": "Meta's DINOv2 file (dinov2_vit{s,b,l,g}14_pretrain.pth): GF-SAM's DINOv2",
                      "sam_weights": "Meta's SAM file (sam_vit_{b,l,h}_*.pth): GF-SAM's mask generator",
                      "sam2_weights": "Meta's SAM2 file (sam2_hiera_*.pt): GF-SAM's mask generator when the config "
                                      "sets sam=None, sam2=SIZE"}

    def __init__(self, dinov2: str = "vit_large", sam: Optional[str] = "vit_h", sam2: Optional[str] = None,
                 dinov2_weights: Optional[str] = None, sam_weights: Optional[str] = None,
                 sam2_weights: Optional[str] = None, dinov2_image_size: int = DINOV2_IMAGE_SIZE,
                 max_points: int = MAX_POINTS, points_per_batch: int = POINTS_PER_BATCH,
                 dinov2_args: Optional[dict] = None, sam_args: Optional[dict] = None,
                 sam2_args: Optional[dict] = None, mask_resolution: str = "low"):
        super().__init__()
        if mask_resolution not in MASK_RESOLUTIONS:
            raise ValueError(f"mask_resolution must be one of {MASK_RESOLUTIONS}, got {mask_resolution!r}")
        self.mask_resolution = mask_resolution
        if (sam is None) == (sam2 is None):
            raise ValueError(f"GF-SAM needs one mask generator: sam='vit_b'|'vit_l'|'vit_h' or sam2='tiny'|'small'|"
                             f"'base_plus'|'large' with sam=None; got sam={sam!r}, sam2={sam2!r}")
        if sam is None and sam_weights:
            raise ValueError(f"sam_weights is given, but this GF-SAM generates its masks with SAM2 (sam2={sam2!r}): "
                             f"give sam2_weights, or set the config's model to sam=SIZE, sam2=None")
        if sam2 is None and sam2_weights:
            raise ValueError(f"sam2_weights is given, but this GF-SAM generates its masks with SAM (sam={sam!r}): "
                             f"give sam_weights, or set the config's model to sam=None, sam2=SIZE")
        self.dinov2 = build_dinov2(dinov2, dinov2_image_size, **(dinov2_args or {}))
        self.dinov2_image_size = dinov2_image_size
        self.grid = (dinov2_image_size // self.dinov2.patch_embed.patch_size[0],) * 2
        self.dinov2_weights, self.sam_weights, self.sam2_weights = dinov2_weights, sam_weights, sam2_weights
        self.max_points, self.points_per_batch = max_points, points_per_batch
        if sam is not None:
            self.sam = build_sam(sam, **(sam_args or {}))
            self.mask_model_name, self._embed = "sam", sam_image_embedding
            self._point_logits, self._resize_steps = sam_point_logits, sam_resize_steps
            self._read_masks_weights = partial(read_sam_weights, sam=self.sam)
        else:
            from .sam2_masks import build_sam2, sam2_image_embedding, sam2_point_logits, sam2_resize_steps

            self.sam2 = build_sam2(sam2, **(sam2_args or {}))  # sam2_args: dict(hydra_overrides=[...])
            self.mask_model_name, self._embed = "sam2", sam2_image_embedding
            self._point_logits, self._resize_steps = sam2_point_logits, sam2_resize_steps
            self._read_masks_weights = partial(read_model_file, option="sam2_weights", built=self.sam2, hint=HINT)
        self.requires_grad_(False)

    def frozen_weights(self) -> Sequence[FrozenWeights]:
        """DINOv2 from ``dinov2_weights``; SAM from ``sam_weights`` (or SAM2 from ``sam2_weights``)."""
        masks_option = f"{self.mask_model_name}_weights"
        return (FrozenWeights("dinov2_weights", "dinov2", self.dinov2_weights,
                              partial(read_dinov2_weights, dinov2=self.dinov2)),
                FrozenWeights(masks_option, self.mask_model_name, getattr(self, masks_option),
                              self._read_masks_weights))

    @property
    def mask_model(self) -> torch.nn.Module:
        return getattr(self, self.mask_model_name)

    def prompt_masker(self):
        """The shared prompt step (:class:`~integrations.foundation.prompt_masks.PromptMasker`) over this model's own
        mask generator (SAM, or SAM2): a support marked by a box or clicks becomes its mask with no other file."""
        from integrations.foundation.prompt_masks import PromptMasker

        return PromptMasker(self.mask_model)

    def encode(self, images: torch.Tensor, masks: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, ...]:
        """Supports (``masks`` given): their DINOv2 tokens (N, L, C). The query: (tokens, its (H, W) as an (N, 2)
        tensor, SAM's image embedding tensors). Tokens are channel-normalised over the image
        (:mod:`integrations.gfsam.priors`)."""
        tokens = normalise_over_tokens(dinov2_patch_tokens(self.dinov2, images, self.dinov2_image_size).float())
        if masks is not None:
            return tokens
        size = torch.tensor(images.shape[-2:], device=images.device).expand(images.shape[0], 2)
        return (tokens, size) + tuple(self._embed(self.mask_model, images))

    def predict(self, query: Tuple[torch.Tensor, ...], supports: torch.Tensor, support_masks: torch.Tensor,
                query_masks: Optional[torch.Tensor] = None) -> EpisodeOutput:
        """(B, 2, H, W) logits of GF-SAM's mask per query, from the query's encoding, the supports' tokens
        (B, K, L, C) and masks (B, K, 1, H', W')."""
        tokens, sizes, *embedding = query
        masks = []
        for index in range(tokens.shape[0]):
            query_embedding = [part[index:index + 1] for part in embedding]
            masks.append(self.segment(tokens[index], tuple(sizes[index].tolist()), query_embedding, supports[index],
                                      support_masks[index]))
        return EpisodeOutput(mask_logits(torch.stack(masks)))

    def priors(self, tokens: torch.Tensor, support_tokens: torch.Tensor,
               support_masks: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(max+, mean+, mean-) priors, each (h, w) on the query's grid (GFSAM.py ``generate_prior`` with the
        support masks and with their complements)."""
        with full_precision(tokens.device):
            similarity = pixelwise_cosine(tokens, support_tokens)  # (K, L, L)
            max_prior, mean_prior = similarity_priors(similarity, mask_on_grid(support_masks, self.grid), self.grid)
            _, negative_mean = similarity_priors(similarity, mask_on_grid(1 - support_masks, self.grid), self.grid)
        return max_prior, mean_prior, negative_mean

    def point_masks(self, embedding: Sequence[torch.Tensor], points: torch.Tensor,
                    image_hw: Tuple[int, int]) -> Tuple[object, torch.Tensor, torch.Tensor]:
        """Each point's mask, and on the grid: nearest (N, h, w) bool, bilinear (N, 1, h, w).

        The masks are (N, 1, H, W) bool, or with ``mask_resolution='low'`` a :class:`~.low_res.LowResMasks` that
        reads the grid from SAM's low-resolution logits and gives full-size masks only of the points asked for.
        SAM's prompt decoding runs in fp32 whatever the encoders' precision: on the benchmark's CPU bf16 decoded no
        faster (15.5 s against 15.7 s for 128 points with SAM ViT-B) and moved mask boundaries.
        """
        steps = self._resize_steps(self.mask_model, image_hw)
        with full_precision(points.device):
            embedding = [part.float() for part in embedding]
            logits = list(self._point_logits(self.mask_model, embedding, points, self.grid, image_hw,
                                             self.points_per_batch))
            if self.mask_resolution == "low":
                masks = LowResMasks(torch.cat(logits), steps, self.grid)
                return masks, masks.nearest(), masks.bilinear()
            masks = torch.cat([full_size(batch.float(), steps) > 0 for batch in logits])
            return (masks, mask_on_patch_grid(masks, self.grid, "nearest")[:, 0] > 0,
                    mask_on_patch_grid(masks, self.grid, "bilinear"))

    def segment(self, tokens: torch.Tensor, image_hw: Tuple[int, int], embedding: Sequence[torch.Tensor],
                support_tokens: torch.Tensor, support_masks: torch.Tensor) -> torch.Tensor:
        """GF-SAM's (H, W) bool mask of one query (GFSAM.py ``predict``) from its tokens (L, C), size, SAM
        embedding and K supports' tokens (K, L, C) with masks (K, 1, H', W')."""
        check_support_masks(support_masks)
        max_prior, mean_prior, negative_mean = self.priors(tokens, support_tokens, support_masks)
        with full_precision(tokens.device):
            points, _ = select_points(point_prior(max_prior, mean_prior, negative_mean), self.max_points)
        if points.shape[0] == 0:  # the support's object resembles nothing in the query
            return torch.zeros(image_hw, dtype=torch.bool, device=tokens.device)
        masks, nearest, bilinear = self.point_masks(embedding, points, image_hw)
        with full_precision(tokens.device):
            labels, count = weak_components(point_mask_graph(nearest, points))
            half = (mean_prior.max() + mean_prior.min()) / 2
            foreground, scores = classify_clusters(bilinear, labels, count, mean_prior * mean_prior,
                                                   negative_mean * half)
            self_similarity = pixelwise_cosine(tokens, tokens[None])[0]  # (L, L)
            unions = (masks.unions(labels, count) if isinstance(masks, LowResMasks)
                      else cluster_unions(masks, labels, count, self.grid))
            point_labels = point_consistency(self_similarity, unions, points, labels, foreground, self.grid[1])
        return final_mask(masks, point_labels, scores)

    def loss(self, output: EpisodeOutput, query_labels: torch.Tensor,
             support_labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        raise RuntimeError("GF-SAM has nothing to train (every weight is DINOv2's or SAM's released file): test it "
                           "with tools/test.py or tools/infer.py, no checkpoint needed")
