"""FSSAM over the sam2 package and timm (issue 31): the released names, its parts against plain restatements of the
released code, k-shot rules, the loss, the checkpoint checks and what trains."""
import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import integrations.mmseg  # noqa: F401  (the host: registers the segmentor, lets mmseg import on mmcv-lite)
from integrations.foundation.sam2_models import build_sam2_model
from integrations.fssam.calibrated_attention import SupportCalibratedAttention, calibrated_attention
from integrations.fssam.checkpoints import check_fssam_checkpoint, trained_shots_of
from integrations.fssam.dinov2_features import build_fssam_dinov2
from integrations.fssam.losses import weighted_dice_loss
from integrations.fssam.memory_refinement import IterativeMemoryRefinement, QueryMemory
from integrations.fssam.model import FSSAM, FSSAM5s
from integrations.fssam.priors import PseudoPromptGenerator
from integrations.fssam.transforms import RandomGaussianBlur, RandomScale
from tests.fssam_fixtures import episode, tiny_fssam
from tests.tool_modules import load_tool


@pytest.fixture(scope="module")
def model():
    return tiny_fssam()


def test_the_full_size_model_has_the_released_checkpoints_691_names_sam2_small_and_dinov2_b_as_their_own_code():
    state = FSSAM().state_dict()
    sam2 = build_sam2_model("small").state_dict()  # Meta's SAM 2.0 small, as the package names it
    assert {key for key in state if key.startswith("sam2.")} == {f"sam2.{key}" for key in sam2}
    dino = {key[len("dino."):] for key in state if key.startswith("dino.")}
    assert "mask_token" in dino and len(dino) == 175 and len(state) == 691
    assert all(state[f"sam2.{key}"].shape == value.shape for key, value in sam2.items())


def reference_calibration(q, k, v, masks):
    """The released calibrated branch of RoPEAttention.forward, restated step by step (one loop per shot)."""
    batch, heads, tokens, channels = q.shape
    shots = masks.shape[1]
    own = k[:, :, shots * tokens:(shots + 1) * tokens]
    cosines = []
    for shot in range(shots):
        support = k[:, :, shot * tokens:(shot + 1) * tokens]
        weight = masks[:, shot].reshape(batch, 1, tokens, 1)
        prototype = (support * weight).sum(2, keepdim=True) / (weight.sum(2, keepdim=True) + 5e-4)
        cosine = (prototype @ own.transpose(-2, -1)) / (
            prototype.norm(dim=-1, keepdim=True) @ own.norm(dim=-1, keepdim=True).transpose(-2, -1) + 1e-7)
        low, high = cosine.min(-1, keepdim=True)[0], cosine.max(-1, keepdim=True)[0]
        cosines.append((cosine - low) / (high - low + 1e-7))
    cosine = torch.cat(cosines, 2).mean(2, keepdim=True)
    keys = torch.cat([k[:, :, :shots * tokens].view(batch, heads, shots, tokens, -1).mean(2),
                      k[:, :, shots * tokens:]], 2)
    values = torch.cat([v[:, :, :shots * tokens].view(batch, heads, shots, tokens, -1).mean(2),
                        v[:, :, shots * tokens:]], 2)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(channels)
    to_support, to_own, rest = scores[..., :tokens], scores[..., tokens:2 * tokens], scores[..., 2 * tokens:]
    low, high = to_own.min(-1, keepdim=True)[0], to_own.max(-1, keepdim=True)[0]
    bias = ((to_own - low) / (high - low + 1e-7) + (cosine - 1)).clamp(max=0) * 10
    return torch.softmax(torch.cat([to_support, to_own + bias, rest], -1), -1) @ values


@pytest.mark.parametrize("shots", [1, 2])
def test_calibrated_attention_equals_the_released_computation_restated(shots):
    generator = torch.Generator().manual_seed(shots)
    batch, heads, side, channels, pointers = 2, 2, 4, 8, 6
    tokens = side * side
    q = torch.randn(batch, heads, tokens, channels, generator=generator)
    k = torch.randn(batch, heads, (shots + 1) * tokens + pointers, channels, generator=generator)
    v = torch.randn(batch, heads, (shots + 1) * tokens + pointers, channels, generator=generator)
    masks = (torch.rand(batch, shots, 1, side, side, generator=generator) > 0.5).float()
    ours = calibrated_attention(q, k, v, masks)
    assert torch.allclose(ours, reference_calibration(q, k, v, masks), atol=1e-6)
    assert not torch.allclose(ours, calibrated_attention(q, k, v, 1 - masks), atol=1e-3)  # the masks matter


def test_the_inserted_attention_keeps_sam2s_names_and_is_sam2s_own_without_support_masks(model):
    layer = model.sam2.memory_attention.layers[0]
    attention = layer.cross_attn_image
    assert isinstance(attention, SupportCalibratedAttention)
    assert set(attention.state_dict()) == {f"{p}.{w}" for p in ("q_proj", "k_proj", "v_proj", "out_proj")
                                          for w in ("weight", "bias")}
    generator = torch.Generator().manual_seed(0)
    tokens, width = 16, attention.q_proj.in_features
    q = torch.randn(1, tokens, width, generator=generator)
    k = torch.randn(1, 2 * tokens + 4, attention.k_proj.in_features, generator=generator)
    plain = super(SupportCalibratedAttention, attention).forward(q, k.clone(), k.clone(), num_k_exclude_rope=4)
    assert torch.equal(attention(q, k.clone(), k.clone(), num_k_exclude_rope=4), plain)
    attention.support_masks = torch.ones(1, 1, 1, 4, 4)
    try:
        assert not torch.allclose(attention(q, k.clone(), k.clone(), num_k_exclude_rope=4), plain, atol=1e-4)
    finally:
        attention.support_masks = None


def test_the_pseudo_prompts_restate_generate_prior_proto_and_average_over_shots():
    generator = torch.Generator().manual_seed(0)
    query = torch.randn(1, 8, 5, 5, generator=generator)
    supports = torch.randn(1, 2, 8, 5, 5, generator=generator)
    masks = (torch.rand(1, 2, 1, 20, 20, generator=generator) > 0.5).float()
    prompts = PseudoPromptGenerator()

    def restated(features, mask):  # FSSAM.py, generate_prior_proto with normalize=True, one shot
        small = F.interpolate(mask, (5, 5), mode="bilinear", align_corners=True)
        maps = []
        for weight in (small, 1 - small):
            proto = (features * weight).sum((2, 3)) / (weight.sum((2, 3)) + 5e-4)
            cosine = F.cosine_similarity(query.flatten(2), proto[:, :, None], dim=1, eps=0)  # eps apart: 1e-7
            cosine = (cosine - cosine.min()) / (cosine.max() - cosine.min() + 1e-7)
            maps.append(F.interpolate(cosine.view(1, 1, 5, 5), (20, 20), mode="bilinear", align_corners=True))
        corr = (maps[0] - maps[1]).clamp(min=0)
        return maps[0], (corr - corr.min()) / (corr.max() - corr.min() + 1e-7)

    one = [restated(supports[:, shot], masks[:, shot]) for shot in range(2)]
    for shot in range(2):
        ours = prompts(query, supports[:, shot:shot + 1], masks[:, shot:shot + 1], (20, 20))
        assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(ours, one[shot]))
    both = prompts(query, supports, masks, (20, 20))
    assert torch.allclose(both[0], (one[0][0] + one[1][0]) / 2, atol=1e-5)
    assert torch.allclose(both[1], (one[0][1] + one[1][1]) / 2, atol=1e-5)


def test_memory_refinement_moves_the_absolute_memory_towards_the_foreground_memory_and_keeps_its_prior_normalised():
    generator = torch.Generator().manual_seed(0)
    support = torch.randn(1, 1, 4, 6, 6, generator=generator)
    masks = (torch.rand(1, 1, 1, 6, 6, generator=generator) > 0.5).float()
    foreground = QueryMemory(torch.randn(1, 4, 6, 6, generator=generator), torch.rand(1, 1, 6, 6, generator=generator))
    absolute = QueryMemory(torch.randn(1, 4, 6, 6, generator=generator), torch.rand(1, 1, 6, 6, generator=generator))
    assert IterativeMemoryRefinement(0)(support, masks, foreground, absolute) == absolute
    refined = IterativeMemoryRefinement(3)(support, masks, foreground, absolute)
    assert float(refined.prior.min()) == 0 and abs(float(refined.prior.max()) - 1) < 1e-6
    moved_to_foreground = (refined.features - absolute.features).abs().sum() > 0
    assert moved_to_foreground
    # where it moved, it moved along the segment towards the foreground memory (a convex mix, weights in [0, 1])
    weight = (refined.features - absolute.features) / (foreground.features - absolute.features)
    assert bool((weight > -1e-4).all() and (weight < 1 + 1e-4).all())
    same = IterativeMemoryRefinement(3)(support, masks, foreground, QueryMemory(foreground.features, absolute.prior))
    assert torch.allclose(same.features, foreground.features, atol=1e-6)


def test_supports_after_the_second_are_a_set_and_the_first_is_the_calibrations_as_in_the_released_code(model):
    query, supports, masks = episode(seed=1, shots=4)
    with torch.no_grad():
        logits = model(query, supports, masks).query_logits
        swapped_tail = model(query, supports[:, [0, 1, 3, 2]], masks[:, [0, 1, 3, 2]]).query_logits
        swapped_head = model(query, supports[:, [1, 0, 2, 3]], masks[:, [1, 0, 2, 3]]).query_logits
    assert torch.allclose(logits, swapped_tail, atol=1e-5)
    assert not torch.allclose(logits, swapped_head, atol=1e-4)


def test_the_support_mask_and_the_query_image_change_the_prediction(model):
    query, supports, masks = episode(seed=2)
    with torch.no_grad():
        logits = model(query, supports, masks).query_logits[:, 1]
        assert not torch.allclose(logits, model(query, supports, 1 - masks).query_logits[:, 1], atol=1e-4)
        assert not torch.allclose(logits, model(query.flip(-1), supports, masks).query_logits[:, 1], atol=1e-4)
    assert model(query, supports, masks).query_logits.shape == (1, 2, 128, 128)  # SAM 2's input size


def test_the_weighted_dice_loss_counts_ignored_pixels_as_background():
    logits = torch.tensor([[[2.0, -1.0], [0.5, 3.0]]])
    labels = torch.tensor([[[1, 0], [255, 1]]])
    p, t = torch.sigmoid(logits).flatten(), torch.tensor([1.0, 0, 0, 1])
    expected = 1 - 2 * (p * t).sum() / ((p ** 2).sum() + (t ** 2).sum())
    assert torch.allclose(weighted_dice_loss(logits, labels), expected)


def test_a_training_step_reaches_only_sam2s_mask_decoder_memory_encoder_and_memory_attention():
    model = tiny_fssam(trained_parts=("sam_mask_decoder", "memory_encoder", "memory_attention")).train()
    query, supports, masks = episode(seed=3)
    labels = (masks[:, 0, 0] > 0).long()
    output = model(query, supports, masks, masks[:, 0])
    model.loss(output, labels, labels[:, None])["loss_dice"].backward()
    reached = {name.split(".")[1] for name, param in model.named_parameters() if param.grad is not None}
    assert reached == {"sam_mask_decoder", "memory_encoder", "memory_attention"}
    assert not any(param.requires_grad for param in model.dino.parameters())


def test_the_released_checkpoint_layout_and_its_variants_are_told_apart(model, tmp_path):
    state = model.state_dict()
    check_fssam_checkpoint(model, "exp/pascal/FSSAM/split0/small/snapshot/train_epoch_3_0.6.pth", state)
    with pytest.raises(ValueError, match=r"FSSAM5s/split0/small/snapshot/x\.pth is the 5-shot FSSAM \(its folder says "
                                         r"so\), but the config builds the 1-shot model: use configs/fssam5s_\*\.py"):
        check_fssam_checkpoint(model, "exp/coco/FSSAM5s/split0/small/snapshot/x.pth", state)
    with pytest.raises(ValueError, match=r"train5_epoch_40_0\.85\.pth is the 5-shot FSSAM \(its name says so\)"):
        check_fssam_checkpoint(model, "train5_epoch_40_0.85.pth", state)
    assert trained_shots_of("my_run/weights.pth") == (None, "")
    five = tiny_fssam(model_class=FSSAM5s)
    with pytest.raises(ValueError, match=r"is the 1-shot FSSAM .* builds the 5-shot model: use configs/fssam_\*\.py"):
        check_fssam_checkpoint(five, "exp/pascal/FSSAM/split1/small/snapshot/best.pth", state)
    sam2 = {key[len("sam2."):]: value for key, value in state.items() if key.startswith("sam2.")}
    with pytest.raises(ValueError, match=r"meta\.pt is not an FSSAM checkpoint \(no sam2\.\* entries\): it holds SAM2 "
                                         r"of no released size .*run options \(--cfg-options sam2_weights=PATH"):
        check_fssam_checkpoint(model, "meta.pt", sam2)
    adapters = {"image_encoder.trunk.blocks.2.adapter.down_proj.weight": torch.zeros(2, 2)}
    with pytest.raises(ValueError, match=r"sansa\.pth is not an FSSAM checkpoint .* it holds SANSA adapters"):
        check_fssam_checkpoint(model, "sansa.pth", adapters)
    wider = tiny_fssam(dinov2_architecture=dict(embed_dim=48, depth=2, num_heads=2))
    with pytest.raises(ValueError, match=r"other\.pth holds an FSSAM whose DINOv2 is DINOv2 of no released size "
                                         r"\(ViT width 48\) \(2 blocks\), but the config builds DINOv2 of no released "
                                         r"size \(ViT width 32\)"):
        check_fssam_checkpoint(model, "other.pth", wider.state_dict())
    without_frozen = {key: value for key, value in state.items() if not key.startswith("dino.")}
    check_fssam_checkpoint(model, "weights.pth", without_frozen)  # frozen parts left to their run options' files


def test_dinov2_files_are_read_with_their_mask_token_and_other_files_refused(model, tmp_path):
    vit = build_fssam_dinov2("vit_small", **{"embed_dim": 32, "depth": 2, "num_heads": 2})
    torch.save(vit.state_dict(), tmp_path / "dinov2.pth")
    assert "mask_token" in model.read_dinov2_weights(str(tmp_path / "dinov2.pth"))
    torch.save({"model": model.sam2.state_dict()}, tmp_path / "sam2.pt")
    with pytest.raises(ValueError, match=r"sam2\.pt \(given as dinov2_weights\) holds SAM2 of no released size"):
        model.read_dinov2_weights(str(tmp_path / "sam2.pt"))


def test_the_training_transforms_scale_the_images_own_size_and_blur_as_pfenets():
    image = np.random.default_rng(0).integers(0, 255, (40, 60, 3)).astype(np.uint8)
    label = np.zeros((40, 60), np.uint8)
    label[10:20, 10:30] = 1
    label[0, 0] = 255
    np.random.seed(0)
    scaled = RandomScale((0.5, 0.5))(dict(img=image, gt_seg_map=label, seg_fields=["gt_seg_map"]))
    assert scaled["img"].shape == (20, 30, 3) and set(np.unique(scaled["gt_seg_map"])) <= {0, 1, 255}
    assert np.array_equal(scaled["gt_seg_map"], cv2.resize(label, None, fx=0.5, fy=0.5,
                                                           interpolation=cv2.INTER_NEAREST))
    blurred = RandomGaussianBlur(5, prob=1.0)(dict(img=image.copy()))["img"]
    assert np.array_equal(blurred, cv2.GaussianBlur(image, (5, 5), 0))
    assert np.array_equal(RandomGaussianBlur(5, prob=0.0)(dict(img=image.copy()))["img"], image)
    with pytest.raises(ValueError, match="odd"):
        RandomGaussianBlur(4)


def test_the_benchmarks_encoder_clock_times_fssams_sam2_and_dinov2_encoders_and_skips_parts_not_built(model):
    import time

    benchmark = load_tool("benchmark")
    clocked = tiny_fssam(seed=4)
    clock = benchmark.EncoderClock(clocked, "cpu")
    assert clock.wrapped == list(FSSAM.image_encoders)
    query, supports, masks = episode(seed=4)
    start = time.perf_counter()
    with torch.no_grad():
        logits = clocked(query, supports, masks).query_logits
    total = time.perf_counter() - start
    assert 0 < clock.seconds < total
    with torch.no_grad():
        assert torch.equal(logits, model.__class__.forward(tiny_fssam(seed=4), query, supports, masks).query_logits)

    class PartlyBuilt(torch.nn.Module):
        image_encoders = ("encoder.forward", "absent.forward")

        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.Linear(2, 2)

    assert benchmark.EncoderClock(PartlyBuilt(), "cpu").wrapped == ["encoder.forward"]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_tiny_fssam_segments_on_cuda_in_fp32_and_under_bf16_autocast_as_on_the_cpu():
    """FSSAM's released runs are CUDA bf16: the fp32 logits agree with the CPU's, and bf16's mask with 97% of pixels
    (Reading: bf16 moves logits near 0 across it)."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    model = tiny_fssam(seed=6)
    query, supports, masks = episode(seed=6, shots=2)
    with torch.no_grad():
        on_cpu = model(query, supports, masks).query_logits[:, 1]
        model = model.to("cuda")
        inputs = [tensor.cuda() for tensor in (query, supports, masks)]
        on_cuda = model(*inputs).query_logits[:, 1]
        with torch.autocast("cuda", dtype=torch.bfloat16):
            in_bf16 = model(*inputs).query_logits[:, 1].float()
    assert torch.allclose(on_cuda.cpu(), on_cpu, atol=1e-3)
    assert ((in_bf16.cpu() > 0) == (on_cpu > 0)).float().mean() >= 0.97
