"""Tiny SAM 3 models for the tests: the package's own modules through its own builder, with a small ViT and text
encoder (:func:`integrations.sam3.sam3_model.smaller_parts`), on a small canvas."""
from __future__ import annotations

import torch

TINY_CANVAS = 336  # 24 x 24 patches of 14 pixels


def tiny_vit(compile_mode=None):
    from sam3.model.vitdet import ViT

    return ViT(img_size=TINY_CANVAS, pretrain_img_size=TINY_CANVAS, patch_size=14, embed_dim=32, depth=2,
               num_heads=2, mlp_ratio=2.0, norm_layer="LayerNorm", drop_path_rate=0.0, qkv_bias=True,
               use_abs_pos=True, tile_abs_pos=True, global_att_blocks=(1,), rel_pos_blocks=(), use_rope=True,
               use_interp_rope=True, window_size=12, pretrain_use_cls_token=True, retain_cls_token=False,
               ln_pre=True, ln_post=False, return_interm_layers=False, bias_patch_embed=False)


def tiny_text_encoder(bpe_path):
    from sam3.model.text_encoder_ve import VETextEncoder
    from sam3.model.tokenizer_ve import SimpleTokenizer

    return VETextEncoder(d_model=256, tokenizer=SimpleTokenizer(bpe_path=bpe_path), width=32, heads=2, layers=1)


TINY_PARTS = dict(_create_vit_backbone=tiny_vit, _create_text_encoder=tiny_text_encoder)
TINY = dict(sam3_parts=TINY_PARTS, canvas_size=TINY_CANVAS)


def tiny_fss_sam3(seed: int = 0, **settings):
    """An FSSSAM3 on a tiny SAM 3 whose every tensor is drawn from ``seed``."""
    from integrations.sam3 import FSSSAM3

    torch.manual_seed(seed)
    model = FSSSAM3(**TINY, **settings).eval()
    return model
