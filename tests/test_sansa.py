"""SANSA over the sam2 package (issue 24): released names and shapes, Meta's file read for SANSA, the adapter's formula,
SANSA's k-shot memory rule, supports encoded once, and the loss."""
import pytest
import torch
import torch.nn.functional as F
import torchvision

import integrations.mmseg  # noqa: F401  (the host: registers the segmentor, lets mmseg import on mmcv-lite)
from crc_modules import EpisodeOutput
from integrations.foundation.meta_device import LinspaceOnTheCPU
from integrations.foundation.sam2_models import build_sam2_model
from integrations.sansa import SANSA, Adapter, SupportMemory, insert_adapters
from integrations.sansa.losses import sansa_mask_loss
from integrations.sansa.sam2_model import read_sam2_for_sansa

# A tiny SAM2 through the package's own config (Hiera-T's, narrowed): 128 px input, 5 Hiera blocks in 4 stages.
TINY = ["++model.image_size=128",
        "++model.image_encoder.trunk.embed_dim=8", "++model.image_encoder.trunk.num_heads=1",
        "++model.image_encoder.trunk.stages=[1,1,2,1]", "++model.image_encoder.trunk.global_att_blocks=[3]",
        "++model.image_encoder.neck.d_model=32", "++model.image_encoder.neck.backbone_channel_list=[64,32,16,8]",
        "++model.image_encoder.neck.position_encoding.num_pos_feats=32",
        "++model.memory_attention.d_model=32", "++model.memory_attention.num_layers=1",
        "++model.memory_attention.layer.d_model=32", "++model.memory_attention.layer.dim_feedforward=64",
        "++model.memory_attention.layer.self_attention.embedding_dim=32",
        "++model.memory_attention.layer.cross_attention.embedding_dim=32",
        "++model.memory_attention.layer.cross_attention.kv_in_dim=16",
        "++model.memory_encoder.out_dim=16", "++model.memory_encoder.in_dim=32",
        "++model.memory_encoder.position_encoding.num_pos_feats=16",
        "++model.memory_encoder.mask_downsampler.embed_dim=32",
        "++model.memory_encoder.fuser.layer.dim=32", "++model.memory_encoder.fuser.num_layers=1"]
OBJECT_SCORE_HEAD = {"no_obj_ptr", "sam_mask_decoder.obj_score_token.weight",
                     *(f"sam_mask_decoder.pred_obj_score_head.layers.{i}.{p}" for i in range(3)
                       for p in ("weight", "bias"))}
# Hiera-L (configs/sam2/sam2_hiera_l.yaml): blocks per stage, first width; widths double at each stage
HIERA_L_STAGES, HIERA_L_WIDTH = (2, 6, 36, 4), 144


def tiny_sansa(**kwargs) -> SANSA:
    model = SANSA("tiny", sam2_overrides=TINY, **kwargs).eval()
    with torch.no_grad():  # adapters away from their zero start, so they matter
        for name, param in model.named_parameters():
            if ".adapter." in name:
                param.normal_(0, 0.2)
    return model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return tiny_sansa()


def released_adapter_shapes(stages, width, adapted=(2, 3), ratio=0.3):
    """SANSA's adapter keys and shapes, written from its naming: block N of an adapted stage holds
    ``adapter.{adapter_layer_norm_before, down_proj, up_proj}``, bottleneck int(ratio x the block's input width)."""
    shapes, index, width_in = {}, 0, width
    for stage, blocks in enumerate(stages):
        for position in range(blocks):
            width_out = width_in * 2 if stage > 0 and position == 0 else width_in
            if stage in adapted:
                bottleneck, key = int(width_in * ratio), f"sam.image_encoder.trunk.blocks.{index}.adapter"
                shapes.update({f"{key}.adapter_layer_norm_before.weight": (width_out,),
                               f"{key}.adapter_layer_norm_before.bias": (width_out,),
                               f"{key}.down_proj.weight": (bottleneck, width_out),
                               f"{key}.down_proj.bias": (bottleneck,),
                               f"{key}.up_proj.weight": (width_out, bottleneck), f"{key}.up_proj.bias": (width_out,)})
            index, width_in = index + 1, width_out
    return shapes


def test_hiera_l_sansa_has_metas_sam2_names_without_the_object_score_head_and_sansas_adapter_names():
    with torch.device("meta"), LinspaceOnTheCPU():  # Hiera reads a linspace with .item()
        meta_sam2 = build_sam2_model("large")  # Meta's config: what sam2_hiera_large.pt holds
        sansa = SANSA("large")
    metas = {key: tuple(value.shape) for key, value in meta_sam2.state_dict().items()}
    assert OBJECT_SCORE_HEAD <= set(metas)
    adapters = released_adapter_shapes(HIERA_L_STAGES, HIERA_L_WIDTH)
    expected = {f"sam.{key}": shape for key, shape in metas.items() if key not in OBJECT_SCORE_HEAD}
    assert {key: tuple(value.shape) for key, value in sansa.state_dict().items()} == {**expected, **adapters}
    assert sum(torch.Size(shape).numel() for shape in adapters.values()) == 9_898_385  # "about 9.9M" (issue 24)
    trainable = {name for name, param in sansa.named_parameters() if param.requires_grad}
    assert trainable == set(adapters) and sansa.finetune_parameters() == {}
    assert min(int(key.split(".")[4]) for key in adapters) == 8 and len(adapters) == 40 * 6  # blocks 8..47


def _meta_layout_file(path, overrides=TINY, shift=0.5):
    """A SAM2 file in Meta's layout ({'model': state_dict}, object-score head included) of a tiny SAM2."""
    torch.manual_seed(1)
    state = {key: value + shift if value.is_floating_point() else value
             for key, value in build_sam2_model("tiny", hydra_overrides=overrides).state_dict().items()}
    torch.save({"model": state}, path)
    return state


def test_metas_file_is_read_for_sansa_leaving_out_and_naming_the_object_score_head(model, tmp_path, caplog_mmengine):
    state = _meta_layout_file(tmp_path / "sam2_tiny.pt")
    read = read_sam2_for_sansa(str(tmp_path / "sam2_tiny.pt"), model.sam, "tiny")
    assert set(state) - set(read) == OBJECT_SCORE_HEAD
    assert all(name in caplog_mmengine.text for name in OBJECT_SCORE_HEAD) and "sam2_tiny.pt" in caplog_mmengine.text
    fresh = tiny_sansa()
    missing, unexpected = fresh.sam.load_state_dict(read, strict=False)
    assert not unexpected and missing and all(".adapter." in key for key in missing)
    assert torch.equal(fresh.sam.no_mem_embed, state["no_mem_embed"])


def test_a_sam2_file_of_another_size_or_kind_is_refused_naming_the_file_and_both_sizes(model, tmp_path):
    wider = [option.replace("embed_dim=8", "embed_dim=16").replace("[64,32,16,8]", "[128,64,32,16]")
             for option in TINY]
    _meta_layout_file(tmp_path / "wider.pt", wider)
    with pytest.raises(ValueError, match=r"wider\.pt \(given as sam2_weights\) holds SAM2 of no released size "
                                         r"\(Hiera width 16, 5 blocks\), but the config builds SAM2 of no released "
                                         r"size \(Hiera width 8, 5 blocks\)"):
        read_sam2_for_sansa(str(tmp_path / "wider.pt"), model.sam, "tiny")
    large_trunk = {"image_encoder.trunk.patch_embed.proj.weight": torch.zeros(144, 3, 7, 7),
                   **{f"image_encoder.trunk.blocks.{i}.norm1.weight": torch.zeros(1) for i in range(48)}}
    torch.save({"model": large_trunk}, tmp_path / "sam2_hiera_large.pt")
    with pytest.raises(ValueError, match=r"holds SAM2 Hiera-L, but the config builds SAM2 of no released size "
                                         r"\(Hiera width 8, 5 blocks\) \(sam2_size='tiny'\)"):
        read_sam2_for_sansa(str(tmp_path / "sam2_hiera_large.pt"), model.sam, "tiny")
    sam21 = {**_meta_layout_file(tmp_path / "sam2.pt"), "no_obj_embed_spatial": torch.zeros(1, 16)}
    torch.save({"model": sam21}, tmp_path / "sam2.1.pt")  # SAM 2.1: another model than SANSA's 2024-07 SAM2
    with pytest.raises(ValueError, match=r"sam2\.1\.pt \(given as sam2_weights\) holds SAM2\.1 of no released size"):
        read_sam2_for_sansa(str(tmp_path / "sam2.1.pt"), model.sam, "tiny")
    torch.save({"model": {key: value for key, value in model.state_dict().items() if ".adapter." in key}},
               tmp_path / "adapters.pth")
    with pytest.raises(ValueError, match=r"adapters\.pth \(given as sam2_weights\) holds SANSA adapters \(.*\), "
                                         r"but the "
                                         r"config builds SAM2 of no released size"):
        read_sam2_for_sansa(str(tmp_path / "adapters.pth"), model.sam, "tiny")


def test_the_adapter_is_scale_times_up_relu_down_of_its_own_layer_norm():
    torch.manual_seed(2)
    adapter = Adapter(12, 5)
    assert torch.count_nonzero(adapter.up_proj.weight) == 0 and adapter.scale == 0.1  # starts as no change
    with torch.no_grad():
        adapter.up_proj.weight.normal_()
        adapter.adapter_layer_norm_before.weight.normal_()
    x = torch.randn(2, 3, 4, 12)
    normed = F.layer_norm(x, (12,), adapter.adapter_layer_norm_before.weight, adapter.adapter_layer_norm_before.bias,
                          eps=1e-5)
    hidden = torch.relu(normed @ adapter.down_proj.weight.T + adapter.down_proj.bias)
    assert torch.allclose(adapter(x), 0.1 * (hidden @ adapter.up_proj.weight.T + adapter.up_proj.bias), atol=1e-6)


def test_an_adapted_hiera_block_adds_the_adapter_of_its_residual_stream_beside_its_mlp(model):
    trunk = model.sam.image_encoder.trunk
    block = trunk.blocks[3]  # stage 2's global-attention block: no pooling, no window, same width in and out
    assert block.window_size == 0 and block.dim == block.dim_out and hasattr(block, "adapter")
    x = torch.randn(2, 4, 4, block.dim)
    with torch.no_grad():
        stream = x + block.attn(block.norm1(x))
        mlp = block.mlp.forward(block.norm2.forward(stream))  # forward(): the modules without their hooks
        expected = stream + mlp + block.adapter(stream)  # SANSA's MultiScaleBlock
        assert torch.allclose(block(x), expected, atol=1e-6)
    first = trunk.blocks[2]  # the first block of stage 2 doubles the width: bottleneck from its input width
    assert (first.dim, first.dim_out) == (16, 32) and first.adapter.down_proj.weight.shape == (int(0.3 * 16), 32)
    assert [hasattr(b, "adapter") for b in trunk.blocks] == [False, False, True, True, True]


def test_fresh_adapters_change_nothing_and_bad_insertions_are_refused():
    torch.manual_seed(3)
    plain = build_sam2_model("tiny", hydra_overrides=TINY)
    adapted = SANSA("tiny", sam2_overrides=TINY).eval()
    adapted.sam.load_state_dict(plain.state_dict(), strict=False)
    images = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(adapted.sam.image_encoder.trunk(images)[-1], plain.image_encoder.trunk(images)[-1])
    with pytest.raises(ValueError, match=r"adapter stages \[4\] are not stages of this Hiera trunk \(0..3\)"):
        insert_adapters(plain.image_encoder.trunk, stages=(3, 4))
    with pytest.raises(ValueError, match="block 2 already has an adapter"):
        insert_adapters(adapted.sam.image_encoder.trunk, stages=(2,))


def _episode(shots, size=96, seed=4):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(shots + 1, 3, size, size, generator=generator)
    masks = torch.zeros(shots, 1, size, size)
    for shot in range(shots):
        y, x = torch.randint(0, size // 2, (2,), generator=generator).tolist()
        masks[shot, 0, y:y + size // 3, x:x + size // 3 + shot] = 1
    return images, masks


def _tokens(feature_map):
    return feature_map.flatten(2).permute(2, 0, 1)


def sansa_rule_logits(sam, query, supports):
    """The query's logits with SANSA's k-shot memory, assembled by hand from its rule (``sansa.py``,
    ``_prepare_memory_conditioned_features``): shot 0 at temporal position 0 (encoding ``num_maskmem - 1``), shot j
    at distance d = K - j <= num_maskmem - 1 with encoding d - 1; object pointers of shot 0 and of shots K-1 down
    to max(1, K-15), each split into C / mem_dim tokens with no position."""
    shots, last = supports.features.shape[1], sam.num_maskmem - 1
    spatial = [(0, last)] + [(j, shots - j - 1) for j in range(max(1, shots - last), shots)]
    memory = torch.cat([_tokens(supports.features[:, j]) for j, _ in spatial])
    position = torch.cat([_tokens(supports.position[:, j]) + sam.maskmem_tpos_enc[index] for j, index in spatial])
    pointer_shots = [0] + list(range(shots - 1, max(0, shots - 16), -1))
    pointers = torch.stack([supports.object_pointer[:, j] for j in pointer_shots])  # (P, B, C)
    channels, width = pointers.shape[-1], sam.mem_dim
    pointers = pointers.reshape(len(pointer_shots), -1, channels // width, width).permute(0, 2, 1, 3).flatten(0, 1)
    conditioned = sam.memory_attention(curr=[_tokens(query.embedding)], curr_pos=[_tokens(query.position)],
                                       memory=torch.cat([memory, pointers]),
                                       memory_pos=torch.cat([position, torch.zeros_like(pointers)]),
                                       num_obj_ptr_tokens=pointers.shape[0])
    conditioned = conditioned.permute(1, 2, 0).reshape(query.embedding.shape)
    return sam._forward_sam_heads(conditioned, high_res_features=[query.high_res_4, query.high_res_8],
                                  multimask_output=True)[3]


@pytest.mark.parametrize("shots", [1, 5, 8])
def test_every_shot_is_a_memory_frame_by_sansas_k_shot_rule(model, shots):
    images, masks = _episode(shots)
    with torch.no_grad():
        supports = SupportMemory(*(t[None] for t in model.encode(images[:shots], masks)))
        query = model.encode(images[shots:])
        logits = model.predict(query, supports, masks[None]).query_logits
        assert logits.shape == (1, 2, 32, 32) and torch.equal(logits[:, 0], torch.zeros_like(logits[:, 0]))
        assert torch.allclose(logits[:, 1:], sansa_rule_logits(model.sam, query, supports), atol=1e-5)
        if shots == 5:
            one_shot = model.predict(query, SupportMemory(*(t[:, :1] for t in supports)), masks[None, :1])
            assert (one_shot.query_logits - logits).abs().max() > 1e-5  # random weights: small, above float noise
        if shots == 8:  # shot 1 is 7 frames before the query: its pointer counts, its spatial memory does not
            def changed(field, shot):
                tensors = supports._asdict()
                tensors[field] = tensors[field].clone()
                tensors[field][:, shot] += 1
                return model.predict(query, SupportMemory(**tensors), masks[None]).query_logits
            assert torch.equal(changed("features", 1), logits)
            assert (changed("object_pointer", 1) - logits).abs().max() > 1e-5
            assert (changed("features", 2) - logits).abs().max() > 1e-5


def test_supports_are_encoded_once_and_each_query_costs_one_image_encoder_call(model):
    from integrations.mmseg.models import FewShotSegmentor

    segmentor = FewShotSegmentor(model=dict(type="SANSA", sam2_size="tiny", sam2_overrides=TINY))
    calls = []
    segmentor.model.sam.image_encoder.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    images, masks = _episode(3)
    support_set = segmentor.prepare_supports(images[:3], masks[:, 0].long())
    for _ in range(4):
        probability = support_set.predict(images[3:])
        assert probability.shape == (1, 1, 96, 96) and 0 <= probability.min() <= probability.max() <= 1
    assert calls == [3, 1, 1, 1, 1]  # the three supports in one call, then one call per query


def test_the_gradient_reaches_the_adapters_alone_and_the_loss_is_sansas_focal_plus_dice():
    torch.manual_seed(5)
    model = tiny_sansa().train()
    images, masks = _episode(2)
    labels = masks[0, 0].long()[None]
    labels[:, :3] = 255
    output = model(images[2:], images[None, :2], masks[None])
    losses = model.loss(output, labels, None)
    assert set(losses) == {"loss_mask", "loss_dice"}
    sum(losses.values()).backward()
    grads = {name for name, param in model.named_parameters() if param.grad is not None}
    assert grads and all(".adapter." in name for name in grads)
    assert all(model.get_parameter(name).grad.abs().sum() > 0 for name in grads if "up_proj" in name)

    logits = torch.randn(2, 20, 20)
    labels = torch.randint(0, 2, (2, 20, 20))
    labels[0, :2] = 255
    valid = labels != 255
    focal = torch.stack([torchvision.ops.sigmoid_focal_loss(logits[i][valid[i]], labels[i][valid[i]].float()).mean()
                         for i in range(2)]).mean()
    probability, target = logits.sigmoid() * valid, (labels == 1).float()
    dice = (1 - (2 * (probability * target).sum((1, 2)) + 1) / (probability.sum((1, 2)) + target.sum((1, 2)) + 1))
    computed = sansa_mask_loss(logits, labels)
    assert torch.isclose(computed["loss_mask"], focal) and torch.isclose(computed["loss_dice"], dice.mean())
    upsampled = model.loss(EpisodeOutput(torch.cat([torch.zeros(2, 1, 10, 10), logits[:, None, ::2, ::2]], 1)),
                           labels, None)
    expected = sansa_mask_loss(F.interpolate(logits[:, None, ::2, ::2], (20, 20), mode="bilinear")[:, 0], labels)
    assert all(torch.isclose(upsampled[key], expected[key]) for key in expected)


def test_a_prompted_support_is_decoded_on_itself_and_its_soft_logits_become_its_memory(model):
    images, masks = _episode(1)
    box = torch.tensor([[[10.0, 20.0], [60.0, 70.0]]])  # a box: corners labelled 2 and 3, in the image's pixels
    with torch.no_grad():
        memory, logits = model.encode_prompts(images[:1], box, torch.tensor([[2, 3]]))
        features = model.image_features(images[:1])
        pixels = features.embedding + model.sam.no_mem_embed.view(1, -1, 1, 1)
        sparse, dense = model.sam.sam_prompt_encoder(points=(box * 128 / 96, torch.tensor([[2, 3]])), boxes=None,
                                                     masks=None)
        decoded = model.sam.sam_mask_decoder(
            image_embeddings=pixels, image_pe=model.sam.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=False,
            repeat_image=False, high_res_features=[features.high_res_4, features.high_res_8])[0]
        assert torch.allclose(logits, decoded, atol=1e-6)
        from_mask = model.encode(images[:1], masks[:1])
        assert memory.features.shape == from_mask.features.shape
        assert not torch.allclose(memory.features, from_mask.features, atol=1e-3)
