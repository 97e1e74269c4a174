"""GF-SAM hosted (issue 25): nothing trainable, supports encoded once, k shots fused as GF-SAM fuses them, the
logits reproduce its mask under the hosts' threshold, and bad input refused clearly."""
import pytest
import torch

from crc_modules import KShotPredictor
from integrations.gfsam import GFSAM
from integrations.gfsam.model import MASK_LOGIT, mask_logits

SIZE = 80  # the generated scenes' size
TINY = dict(dinov2="vit_small", sam="vit_b", dinov2_image_size=56,
            dinov2_args=dict(embed_dim=32, depth=2, num_heads=2),
            sam_args=dict(embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(1,), image_size=64, window_size=2,
                          prompt_embed_dim=32, decoder_mlp_dim=64, decoder_num_heads=2))


def tiny_gfsam(**overrides):
    torch.manual_seed(0)
    model = GFSAM(**{**TINY, **overrides}).eval()
    with torch.no_grad():  # LayerScales of 1e-5 would leave DINOv2's blocks inert
        for name, param in model.dinov2.named_parameters():
            if name.endswith("gamma"):
                param.uniform_(0.5, 1.0)
    return model


@pytest.fixture(scope="module")
def model():
    return tiny_gfsam()


def episode(shots=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    supports = torch.randn(shots, 3, SIZE, SIZE, generator=generator)
    labels = torch.zeros(shots, SIZE, SIZE, dtype=torch.long)
    for shot in range(shots):
        labels[shot, 10 + 5 * shot:50, 20:60 - 5 * shot] = 1
    return supports, labels, torch.randn(1, 3, SIZE, SIZE, generator=generator)


def test_nothing_is_trainable_and_finetuning_has_nothing_to_change(model):
    assert not any(param.requires_grad for param in model.parameters())
    assert model.finetune_parameters() == {}
    with pytest.raises(RuntimeError, match="GF-SAM has nothing to train"):
        model.loss(None, None, None)


def test_frozen_parts_name_their_run_options_and_modules(model):
    parts = {part.option: part.module for part in model.frozen_weights()}
    assert parts == {"dinov2_weights": "dinov2", "sam_weights": "sam"}
    assert all(part.path is None for part in model.frozen_weights())


def test_supports_are_encoded_once_by_dinov2_alone_and_each_query_by_both_encoders(model, monkeypatch):
    calls = {"dinov2": [], "sam": []}
    dinov2_forward, sam_forward = model.dinov2.forward_intermediates, model.sam.image_encoder.forward
    monkeypatch.setattr(model.dinov2, "forward_intermediates",
                        lambda x, **kw: calls["dinov2"].append(x.shape[0]) or dinov2_forward(x, **kw))
    monkeypatch.setattr(model.sam.image_encoder, "forward", lambda x: calls["sam"].append(x.shape[0]) or sam_forward(x))
    supports, labels, _ = episode(shots=2)
    support_set = KShotPredictor("fusion").prepare(model, supports, labels)
    for seed in range(3):
        support_set.predict(episode(seed=seed + 1)[2])
    assert calls == {"dinov2": [2, 1, 1, 1], "sam": [1, 1, 1]}  # the 2 supports once, then each query


def test_logits_threshold_to_gfsams_mask_and_k_shots_are_fused_by_averaging_their_priors(model):
    supports, labels, query = episode(shots=2)
    masks = (labels == 1).float()[:, None]
    with torch.no_grad():
        encoded = model.encode(query)
        support_tokens = model.encode(supports, masks)
        mask = model.segment(encoded[0][0], (SIZE, SIZE), encoded[2:], support_tokens, masks)
        probability = KShotPredictor("fusion")(model, supports, labels, query)
        swapped = KShotPredictor("fusion")(model, supports.flip(0), labels.flip(0), query)
        priors = model.priors(encoded[0][0], support_tokens, masks)
        shot_priors = [model.priors(encoded[0][0], support_tokens[k:k + 1], masks[k:k + 1]) for k in range(2)]
    assert 0 < mask.sum() < mask.numel()
    assert torch.equal(probability[0, 0] > 0.5, mask)  # the host's threshold gives GF-SAM's mask
    assert torch.equal(swapped, probability)  # one set of priors for the shots: their order does not matter
    for fused, first, second in zip(priors, *shot_priors):
        assert torch.allclose(fused, (first + second) / 2, atol=1e-6)


def test_mask_logits_are_zero_and_plus_or_minus_a_large_value():
    masks = torch.tensor([[[True, False]]])
    logits = mask_logits(masks)
    assert logits.tolist() == [[[[0.0, 0.0]], [[MASK_LOGIT, -MASK_LOGIT]]]]
    assert torch.equal(torch.softmax(logits, 1)[:, 1] > 0.5, masks)


def test_a_batch_of_queries_gives_each_querys_own_mask(model):
    supports, labels, query = episode(shots=1)
    other = episode(seed=5)[2]
    masks = (labels == 1).float()[None, :, None]
    with torch.no_grad():
        both = model(torch.cat([query, other]), supports[None].expand(2, -1, -1, -1, -1),
                     masks.expand(2, -1, -1, -1, -1))
        alone = [model(q, supports[None], masks).query_logits for q in (query, other)]
    assert torch.equal(both.query_logits, torch.cat(alone))


def test_priors_that_place_no_point_give_an_empty_mask_without_prompting_sam(model, monkeypatch):
    monkeypatch.setattr(model, "point_masks", lambda *args: pytest.fail("no point, no SAM prompt"))
    supports, labels, query = episode(shots=1)
    masks = (labels == 1).float()[:, None]
    with torch.no_grad():
        encoded = model.encode(query)
        zero_prior = torch.zeros_like(encoded[0][0][:, 0]).view(model.grid)
        monkeypatch.setattr(model, "priors", lambda *args: (zero_prior, zero_prior, zero_prior))
        mask = model.segment(encoded[0][0], (SIZE, SIZE), encoded[2:], model.encode(supports, masks), masks)
    assert mask.shape == (SIZE, SIZE) and not mask.any()


def test_under_bf16_autocast_prompt_decoding_and_the_graph_run_in_fp32(model, monkeypatch):
    decoding = []
    point_logits = model._point_logits

    def recorded(sam, embedding, *args):
        decoding.append((torch.is_autocast_enabled("cpu"), {part.dtype for part in embedding}))
        return point_logits(sam, embedding, *args)

    monkeypatch.setattr(model, "_point_logits", recorded)
    supports, labels, query = episode(shots=1)
    masks = (labels == 1).float()[:, None]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        encoded = model.encode(query)
        priors = model.priors(encoded[0][0], model.encode(supports, masks), masks)
        probability = KShotPredictor("fusion", precision="bf16")(model, supports, labels, query)
    assert encoded[0].dtype == torch.float32 and all(prior.dtype == torch.float32 for prior in priors)
    assert decoding == [(False, {torch.float32})]
    assert probability.shape == (1, 1, SIZE, SIZE) and ((probability < 1e-6) | (probability > 1 - 1e-6)).all()


def test_a_support_mask_without_an_object_pixel_is_refused_naming_it(model):
    supports, labels, query = episode(shots=3)
    labels[1] = 0
    with pytest.raises(ValueError, match="support mask 2 of 3 has no object pixel"):
        KShotPredictor("fusion")(model, supports, labels, query)


def test_one_mask_generator_must_be_chosen():
    with pytest.raises(ValueError, match="GF-SAM needs one mask generator"):
        GFSAM(**{**TINY, "sam": None})


def test_sam2_generates_the_masks_instead_of_sam_when_the_config_names_it(tmp_path):
    from crc_modules.checkpoint import load_frozen_weights
    from tests.foundation_fixtures import TINY_SAM2_OVERRIDES, write_meta_sam2_file

    model = tiny_gfsam(sam=None, sam2="tiny", sam_args=None, sam2_args=dict(hydra_overrides=TINY_SAM2_OVERRIDES))
    assert {part.option: part.module for part in model.frozen_weights()} == {"dinov2_weights": "dinov2",
                                                                             "sam2_weights": "sam2"}
    assert not hasattr(model, "sam") and not any(param.requires_grad for param in model.parameters())
    supports, labels, query = episode(shots=1)
    with torch.no_grad():
        probability = KShotPredictor("fusion")(model, supports, labels, query)
    assert probability.shape == (1, 1, SIZE, SIZE) and ((probability < 1e-6) | (probability > 1 - 1e-6)).all()
    released = GFSAM(**{**TINY, "sam": None, "sam_args": None, "sam2": "tiny",
                        "sam2_weights": str(tmp_path / "sam2_hiera_tiny.pt")})
    state = write_meta_sam2_file(tmp_path / "sam2_hiera_tiny.pt", "tiny")
    assert load_frozen_weights(released) == [str(tmp_path / "sam2_hiera_tiny.pt")]
    assert all(torch.equal(value, state[key]) for key, value in released.sam2.state_dict().items())


def test_a_file_for_the_generator_the_config_does_not_use_is_refused():
    with pytest.raises(ValueError, match="sam2_weights is given, but this GF-SAM generates its masks with SAM"):
        GFSAM(**{**TINY, "sam2_weights": "sam2_hiera_large.pt"})
    with pytest.raises(ValueError, match="sam_weights is given, but this GF-SAM generates its masks with SAM2"):
        GFSAM(**{**TINY, "sam": None, "sam_args": None, "sam2": "tiny", "sam_weights": "sam_vit_h_4b8939.pth"})


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_tiny_gfsam_segments_on_cuda_as_on_the_cpu():
    """The steps GF-SAM reads from its data (points, clusters) cannot run on the meta device; this runs them on CUDA.
    Reading: kernel-order differences may move a point at the top-k boundary, so 99% of the pixels must agree."""
    model = tiny_gfsam()
    supports, labels, query = episode(shots=2)
    with torch.no_grad():
        on_cpu = KShotPredictor("fusion")(model, supports, labels, query)
        on_cuda = KShotPredictor("fusion")(model.cuda(), supports.cuda(), labels.cuda(), query.cuda())
    assert on_cuda.device.type == "cuda"
    assert ((on_cuda.cpu() > 0.5) == (on_cpu > 0.5)).float().mean() >= 0.99
