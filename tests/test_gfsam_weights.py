"""GF-SAM's frozen files: Meta's DINOv2 and SAM releases (key names and shapes written out here) fit timm's DINOv2
and segment-anything's SAM of every released size, tiny files in those layouts load strictly, and a file of
another kind or size is refused naming the file and saying what it is."""
import pytest
import torch

from integrations.gfsam.dinov2 import DINOV2_MODELS, build_dinov2
from integrations.gfsam.sam_masks import SAM_ARCHITECTURES, build_sam
from integrations.gfsam.weights import meta_dinov2_to_timm, read_dinov2_weights, read_sam_weights

META = torch.device("meta")
# Meta's dinov2_vit{s,b,l,g}14_pretrain.pth: width, blocks, SwiGLU hidden width (ViT-g) or None (MLP x4)
DINOV2_RELEASES = {"vit_small": (384, 12, None), "vit_base": (768, 12, None), "vit_large": (1024, 24, None),
                   "vit_giant2": (1536, 40, 4096)}
# Meta's sam_vit_{b,l,h}_*.pth: width, blocks, heads, global-attention blocks
SAM_RELEASES = {"vit_b": (768, 12, 12, (2, 5, 8, 11)), "vit_l": (1024, 24, 16, (5, 11, 17, 23)),
                "vit_h": (1280, 32, 16, (7, 15, 23, 31))}
TINY_DINOV2 = dict(embed_dim=32, depth=2, num_heads=2)
TINY_SAM = dict(embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(1,), image_size=64, window_size=2,
                prompt_embed_dim=32, decoder_mlp_dim=64, decoder_num_heads=2)


def dinov2_file_layout(width, depth, swiglu_hidden=None, grid=37):
    """{name: shape} of a DINOv2 release file (Meta's hub ViT, block_chunks=0), in the file's order."""
    layout = {"cls_token": (1, 1, width), "pos_embed": (1, grid * grid + 1, width), "mask_token": (1, width),
              "patch_embed.proj.weight": (width, 3, 14, 14), "patch_embed.proj.bias": (width,)}
    for block in range(depth):
        layout.update({f"blocks.{block}.{name}": shape for name, shape in [
            ("norm1.weight", (width,)), ("norm1.bias", (width,)), ("attn.qkv.weight", (3 * width, width)),
            ("attn.qkv.bias", (3 * width,)), ("attn.proj.weight", (width, width)), ("attn.proj.bias", (width,)),
            ("ls1.gamma", (width,)), ("norm2.weight", (width,)), ("norm2.bias", (width,)),
            *([("mlp.w12.weight", (2 * swiglu_hidden, width)), ("mlp.w12.bias", (2 * swiglu_hidden,)),
               ("mlp.w3.weight", (width, swiglu_hidden)), ("mlp.w3.bias", (width,))] if swiglu_hidden else
              [("mlp.fc1.weight", (4 * width, width)), ("mlp.fc1.bias", (4 * width,)),
               ("mlp.fc2.weight", (width, 4 * width)), ("mlp.fc2.bias", (width,))]),
            ("ls2.gamma", (width,))]})
    layout.update({"norm.weight": (width,), "norm.bias": (width,)})
    return layout


def _linear(name, out_features, in_features):
    return [(f"{name}.weight", (out_features, in_features)), (f"{name}.bias", (out_features,))]


def _norm(name, width):
    return [(f"{name}.weight", (width,)), (f"{name}.bias", (width,))]


def sam_file_layout(width, depth, heads, global_blocks, image=1024, patch=16, window=14, prompt=256, decoder_mlp=2048):
    """{name: shape} of a SAM release file (segment-anything's ``Sam`` state dict)."""
    grid, head_width = image // patch, width // heads
    entries = [("image_encoder.pos_embed", (1, grid, grid, width)),
               ("image_encoder.patch_embed.proj.weight", (width, 3, patch, patch)),
               ("image_encoder.patch_embed.proj.bias", (width,))]
    for block in range(depth):
        span = 2 * (grid if block in global_blocks else window) - 1
        name = f"image_encoder.blocks.{block}"
        entries += [*_norm(f"{name}.norm1", width), (f"{name}.attn.rel_pos_h", (span, head_width)),
                    (f"{name}.attn.rel_pos_w", (span, head_width)), *_linear(f"{name}.attn.qkv", 3 * width, width),
                    *_linear(f"{name}.attn.proj", width, width), *_norm(f"{name}.norm2", width),
                    *_linear(f"{name}.mlp.lin1", 4 * width, width), *_linear(f"{name}.mlp.lin2", width, 4 * width)]
    entries += [("image_encoder.neck.0.weight", (prompt, width, 1, 1)), *_norm("image_encoder.neck.1", prompt),
                ("image_encoder.neck.2.weight", (prompt, prompt, 3, 3)), *_norm("image_encoder.neck.3", prompt)]
    entries += [("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", (2, prompt // 2)),
                *[(f"prompt_encoder.point_embeddings.{i}.weight", (1, prompt)) for i in range(4)],
                ("prompt_encoder.not_a_point_embed.weight", (1, prompt)),
                ("prompt_encoder.mask_downscaling.0.weight", (4, 1, 2, 2)),
                ("prompt_encoder.mask_downscaling.0.bias", (4,)),
                *_norm("prompt_encoder.mask_downscaling.1", 4),
                ("prompt_encoder.mask_downscaling.3.weight", (16, 4, 2, 2)),
                ("prompt_encoder.mask_downscaling.3.bias", (16,)), *_norm("prompt_encoder.mask_downscaling.4", 16),
                ("prompt_encoder.mask_downscaling.6.weight", (prompt, 16, 1, 1)),
                ("prompt_encoder.mask_downscaling.6.bias", (prompt,)),
                ("prompt_encoder.no_mask_embed.weight", (1, prompt))]

    def attention(name, inner):
        return [*_linear(f"{name}.q_proj", inner, prompt), *_linear(f"{name}.k_proj", inner, prompt),
                *_linear(f"{name}.v_proj", inner, prompt), *_linear(f"{name}.out_proj", prompt, inner)]

    for layer in range(2):
        name = f"mask_decoder.transformer.layers.{layer}"
        entries += [*attention(f"{name}.self_attn", prompt), *_norm(f"{name}.norm1", prompt),
                    *attention(f"{name}.cross_attn_token_to_image", prompt // 2), *_norm(f"{name}.norm2", prompt),
                    *_linear(f"{name}.mlp.lin1", decoder_mlp, prompt),
                    *_linear(f"{name}.mlp.lin2", prompt, decoder_mlp),
                    *_norm(f"{name}.norm3", prompt), *_norm(f"{name}.norm4", prompt),
                    *attention(f"{name}.cross_attn_image_to_token", prompt // 2)]
    entries += [*attention("mask_decoder.transformer.final_attn_token_to_image", prompt // 2),
                *_norm("mask_decoder.transformer.norm_final_attn", prompt),
                ("mask_decoder.iou_token.weight", (1, prompt)), ("mask_decoder.mask_tokens.weight", (4, prompt)),
                ("mask_decoder.output_upscaling.0.weight", (prompt, prompt // 4, 2, 2)),
                ("mask_decoder.output_upscaling.0.bias", (prompt // 4,)),
                *_norm("mask_decoder.output_upscaling.1", prompt // 4),
                ("mask_decoder.output_upscaling.3.weight", (prompt // 4, prompt // 8, 2, 2)),
                ("mask_decoder.output_upscaling.3.bias", (prompt // 8,))]
    for mlp in range(4):
        name = f"mask_decoder.output_hypernetworks_mlps.{mlp}.layers"
        entries += [*_linear(f"{name}.0", prompt, prompt), *_linear(f"{name}.1", prompt, prompt),
                    *_linear(f"{name}.2", prompt // 8, prompt)]
    entries += [*_linear("mask_decoder.iou_prediction_head.layers.0", prompt, prompt),
                *_linear("mask_decoder.iou_prediction_head.layers.1", prompt, prompt),
                *_linear("mask_decoder.iou_prediction_head.layers.2", 4, prompt)]
    return dict(entries)


def shapes(state):
    return {key: tuple(value.shape) for key, value in state.items()}


def write_file(path, layout, generator=None):
    torch.save({key: torch.randn(shape, generator=generator) for key, shape in layout.items()}, path)
    return str(path)


def tiny_sam_layout():
    return sam_file_layout(32, 2, 2, (1,), image=64, window=2, prompt=32, decoder_mlp=64)


@pytest.mark.parametrize("size", sorted(DINOV2_RELEASES))
def test_metas_dinov2_files_fit_timms_dinov2_of_every_released_size(size):
    with META:
        model = build_dinov2(size)
    layout = dinov2_file_layout(*DINOV2_RELEASES[size])
    assert shapes(meta_dinov2_to_timm({key: torch.empty(shape, device=META) for key, shape in layout.items()})) == \
        shapes(model.state_dict())


@pytest.mark.parametrize("size", sorted(SAM_RELEASES))
def test_metas_sam_files_fit_segment_anythings_sam_of_every_released_size(size):
    with META:
        registry_sam = build_sam(size)  # sam_model_registry[size]()
        respelled = build_sam(size, **SAM_ARCHITECTURES[size])  # the same numbers through the tiny-model path
    assert shapes(registry_sam.state_dict()) == sam_file_layout(*SAM_RELEASES[size])
    assert shapes(respelled.state_dict()) == shapes(registry_sam.state_dict())


def test_tiny_files_in_metas_layouts_load_strictly(tmp_path):
    generator = torch.Generator().manual_seed(0)
    dinov2 = build_dinov2("vit_small", image_size=28, **TINY_DINOV2)
    sam = build_sam("vit_b", **TINY_SAM)
    dinov2_file = write_file(tmp_path / "dinov2_vits14_pretrain.pth", dinov2_file_layout(32, 2, grid=2), generator)
    sam_file = write_file(tmp_path / "sam_vit_b_01ec64.pth", tiny_sam_layout(), generator)
    dinov2.load_state_dict(read_dinov2_weights(dinov2_file, dinov2), strict=True)
    sam.load_state_dict(read_sam_weights(sam_file, sam), strict=True)
    dinov2_written, sam_written = torch.load(dinov2_file), torch.load(sam_file)
    assert torch.equal(dinov2.blocks[1].mlp.fc2.weight, dinov2_written["blocks.1.mlp.fc2.weight"])
    assert torch.equal(dinov2.pos_embed, dinov2_written["pos_embed"])
    assert all(torch.equal(value, sam_written[key]) for key, value in sam.state_dict().items())


def test_a_tiny_vit_g_file_loads_with_its_swiglu_layers_renamed(tmp_path):
    dinov2 = build_dinov2("vit_giant2", image_size=28, embed_dim=24, depth=1, num_heads=2)
    hidden = dinov2.blocks[0].mlp.fc2.in_features
    path = write_file(tmp_path / "dinov2_vitg14_pretrain.pth", dinov2_file_layout(24, 1, hidden, grid=2))
    dinov2.load_state_dict(read_dinov2_weights(path, dinov2), strict=True)
    assert torch.equal(dinov2.blocks[0].mlp.fc1.weight, torch.load(path)["blocks.0.mlp.w12.weight"])


def identity_of(layout, path):
    """A small file with only what names a release (its width tensor, its block count, a key of its kind)."""
    def small(key, shape):
        return torch.zeros(shape if "patch_embed" in key else (1,))
    torch.save({key: small(key, shape) for key, shape in layout.items()}, path)
    return str(path)


@pytest.fixture(scope="module")
def small_pair():
    with META:
        return build_dinov2("vit_small"), build_sam("vit_b")


REFUSALS = {  # file given -> (its layout, the reader it is given to, what the error says)
    "a DINOv2 file of another size": (
        dinov2_file_layout(*DINOV2_RELEASES["vit_large"]), "dinov2_vitl14_pretrain.pth", read_dinov2_weights,
        r"dinov2_vitl14_pretrain\.pth \(given as dinov2_weights\) holds DINOv2 ViT-L/14 \(24 blocks\), but the config "
        r"builds DINOv2 ViT-S/14 \(12 blocks\)"),
    "a SAM file as the DINOv2 weights": (
        sam_file_layout(*SAM_RELEASES["vit_h"]), "sam_vit_h_4b8939.pth", read_dinov2_weights,
        r"sam_vit_h_4b8939\.pth \(given as dinov2_weights\) holds SAM ViT-H \(32 blocks\), but the config builds "
        r"DINOv2 ViT-S/14 \(12 blocks\)"),
    "a DINOv2 file as the SAM weights": (
        dinov2_file_layout(*DINOV2_RELEASES["vit_small"]), "dinov2_vits14_pretrain.pth", read_sam_weights,
        r"dinov2_vits14_pretrain\.pth \(given as sam_weights\) holds DINOv2 ViT-S/14 \(12 blocks\), but the config "
        r"builds SAM ViT-B \(12 blocks\)"),
    "a SAM file of another size": (
        sam_file_layout(*SAM_RELEASES["vit_h"]), "sam_vit_h_4b8939.pth", read_sam_weights,
        r"sam_vit_h_4b8939\.pth \(given as sam_weights\) holds SAM ViT-H \(32 blocks\), but the config builds SAM "
        r"ViT-B \(12 blocks\)"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_file_of_another_kind_or_size_is_refused_naming_it_and_what_it_is(case, tmp_path, small_pair):
    layout, name, reader, message = REFUSALS[case]
    module = small_pair[0] if reader is read_dinov2_weights else small_pair[1]
    with pytest.raises(ValueError, match=message):
        reader(identity_of(layout, tmp_path / name), module)


def test_unknown_sizes_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="dinov2 must be one of"):
        build_dinov2("vit_huge")
    with pytest.raises(ValueError, match="sam must be one of"):
        build_sam("vit_s")
    assert set(DINOV2_MODELS) == set(DINOV2_RELEASES)
