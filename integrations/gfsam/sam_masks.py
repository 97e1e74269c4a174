"""SAM (Kirillov et al., 2023) from Meta's ``segment-anything``: the query's image embedding and one mask per point
prompt, as GF-SAM asks SAM for them (``matcher/GFSAM.py`` ``extract_sam_feats`` and ``generate_sam_masks``, through
``SamPredictor.set_image`` and ``predict_torch``).
"""
from __future__ import annotations

from functools import partial
from typing import Iterator, Tuple

import torch
import torch.nn.functional as F

from .points import prompt_coordinates

# SAM's released image encoders (segment_anything/build_sam.py): width, depth, heads, global-attention blocks
SAM_ARCHITECTURES = {"vit_b": dict(embed_dim=768, depth=12, num_heads=12, global_attn_indexes=(2, 5, 8, 11)),
                     "vit_l": dict(embed_dim=1024, depth=24, num_heads=16, global_attn_indexes=(5, 11, 17, 23)),
                     "vit_h": dict(embed_dim=1280, depth=32, num_heads=16, global_attn_indexes=(7, 15, 23, 31))}
# the rest of build_sam.py's _build_sam, the same for every size
SAM_COMMON = dict(image_size=1024, patch_size=16, window_size=14, prompt_embed_dim=256, decoder_depth=2,
                  decoder_mlp_dim=2048, decoder_num_heads=8)


def build_sam(size: str = "vit_h", **architecture):
    """An un-weighted SAM: ``sam_model_registry[size]()`` (Meta's builder) for a released size; with
    ``architecture`` (keys of :data:`SAM_ARCHITECTURES` and :data:`SAM_COMMON`), the same modules with those
    numbers changed (tests build tiny SAMs this way)."""
    from segment_anything import sam_model_registry  # only GF-SAM imports segment_anything
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    if size not in SAM_ARCHITECTURES:
        raise ValueError(f"sam must be one of {sorted(SAM_ARCHITECTURES)}, got {size!r}")
    if not architecture:
        return sam_model_registry[size]()
    unknown = sorted(set(architecture) - set(SAM_ARCHITECTURES[size]) - set(SAM_COMMON))
    if unknown:
        raise ValueError(f"sam_args has no setting {', '.join(unknown)}")
    arch = {**SAM_ARCHITECTURES[size], **SAM_COMMON, **architecture}
    prompt_dim, embedding_size = arch["prompt_embed_dim"], arch["image_size"] // arch["patch_size"]
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=arch["depth"], embed_dim=arch["embed_dim"], img_size=arch["image_size"], mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=arch["num_heads"],
            patch_size=arch["patch_size"], qkv_bias=True, use_rel_pos=True,
            global_attn_indexes=tuple(arch["global_attn_indexes"]), window_size=arch["window_size"],
            out_chans=prompt_dim),
        prompt_encoder=PromptEncoder(embed_dim=prompt_dim, image_embedding_size=(embedding_size, embedding_size),
                                     input_image_size=(arch["image_size"], arch["image_size"]), mask_in_chans=16),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=arch["decoder_depth"], embedding_dim=prompt_dim,
                                          mlp_dim=arch["decoder_mlp_dim"], num_heads=arch["decoder_num_heads"]),
            transformer_dim=prompt_dim, iou_head_depth=3, iou_head_hidden_dim=prompt_dim),
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375])
    return sam.eval()


def sam_frame(image_hw: Tuple[int, int], long_side: int) -> Tuple[int, int]:
    """(h, w) of an image resized so its longer side is ``long_side`` (``ResizeLongestSide.get_preprocess_shape``)."""
    scale = long_side / max(image_hw)
    return int(image_hw[0] * scale + 0.5), int(image_hw[1] * scale + 0.5)


def sam_image_embedding(sam, images: torch.Tensor) -> Tuple[torch.Tensor]:
    """(embedding (N, 256, 64, 64),) of normalised images (SamPredictor ``set_image``).

    SAM resizes the longer side to its input size (a no-op for GF-SAM's 1024x1024 images; else bilinear with
    antialiasing, as ``apply_image_torch``), normalises with ImageNet's mean and std, which the host's data
    preprocessor already did, and pads with zeros to a square (``Sam.preprocess``).
    """
    size = sam.image_encoder.img_size
    frame = sam_frame(images.shape[-2:], size)
    if frame != tuple(images.shape[-2:]):
        images = F.interpolate(images, size=frame, mode="bilinear", align_corners=False, antialias=True)
    return (sam.image_encoder(F.pad(images, (0, size - frame[1], 0, size - frame[0]))),)


def sam_resize_steps(sam, image_hw: Tuple[int, int]) -> list:
    """SAM's resizing of its low-resolution logits to the image (``Sam.postprocess_masks``): to its square frame,
    the padding cropped, to the image's size (:mod:`.low_res` steps)."""
    side = sam.image_encoder.img_size
    return [("resize", (side, side)), ("crop", sam_frame(image_hw, side)), ("resize", tuple(image_hw))]


def sam_point_logits(sam, embedding: Tuple[torch.Tensor], grid_points: torch.Tensor, grid: Tuple[int, int],
                     image_hw: Tuple[int, int], batch_size: int) -> Iterator[torch.Tensor]:
    """One (B, 1, 256, 256) low-resolution logit map per point prompt, ``batch_size`` points at a time (GFSAM.py
    ``generate_sam_masks``: batches of 64, one positive point each, ``multimask_output=False``); the mask is these
    resized by :func:`sam_resize_steps`, > ``mask_threshold``.

    Args:
        sam: The SAM model.
        embedding: (1, 256, 64, 64) of the query, as :func:`sam_image_embedding` gives it.
        grid_points: (N, 2) long grid cells (x, y) of the points.
        grid: The (h, w) patch grid of the points.
        image_hw: The query's (H, W).
        batch_size: Points decoded together.
    """
    frame = sam_frame(image_hw, sam.image_encoder.img_size)
    coordinates = prompt_coordinates(grid_points, grid, frame)
    dense_pe = sam.prompt_encoder.get_dense_pe()
    for start in range(0, coordinates.shape[0], batch_size):
        batch = coordinates[start:start + batch_size, None, :]  # (B, 1, 2)
        labels = torch.ones(batch.shape[:2], dtype=torch.int, device=batch.device)
        sparse, dense = sam.prompt_encoder(points=(batch, labels), boxes=None, masks=None)
        yield sam.mask_decoder(image_embeddings=embedding[0], image_pe=dense_pe, sparse_prompt_embeddings=sparse,
                               dense_prompt_embeddings=dense, multimask_output=False)[0]
