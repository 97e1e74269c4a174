"""CRCNet (Fig. 2, Eq. 5): training step, loss, ablation switches, eval path, k-shot and multi-scale."""
import subprocess
import sys

import pytest
import torch

from crc_modules import CRCNet, FinetuneSettings, KShotPredictor
from crc_modules.finetune import pair_batches
from crc_modules.layers import resize_to

from .conftest import random_mask, tiny_crcnet


def _pair(size=33, batch=2):
    return torch.randn(batch, 3, size, size), random_mask(batch, size), torch.randn(batch, 3, size, size), \
        random_mask(batch, size)


def test_training_step_reaches_every_trainable_parameter():
    model = tiny_crcnet().train()
    s, sm, q, qm = _pair()
    losses = model.loss(model(q, s, sm, qm), qm[:, 0], sm)
    assert set(losses) == {"loss_query", "loss_support", "loss_query_aux", "loss_support_aux"}
    sum(losses.values()).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert missing == []


def test_frozen_encoder_gets_no_gradient_and_keeps_bn_statistics():
    model = tiny_crcnet(encoder=dict(freeze_backbone=True)).train()
    stats = {n: b.clone() for n, b in model.encoder.backbone.named_buffers()}
    s, sm, q, qm = _pair()
    sum(model.loss(model(q, s, sm, qm), qm[:, 0], sm).values()).backward()
    assert all(p.grad is None for p in model.encoder.backbone.parameters())
    assert all(torch.equal(stats[n], b) for n, b in model.encoder.backbone.named_buffers())
    assert model.refinement.classifier[1].weight.grad is not None


def _bce(logits, label):
    """Eq. 4 by hand on the foreground probability of the logits upsampled to the label, averaged over non-255
    pixels."""
    logits = torch.nn.functional.interpolate(logits, size=label.shape[-2:], mode="bilinear", align_corners=False)
    p = torch.softmax(logits, dim=1)[:, 1]
    keep = label != 255
    y = label.float()
    bce = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
    return bce[keep].mean()


def test_training_loss_equals_eq5_recomputed_by_hand():
    model = tiny_crcnet(aux_weight=0.1).train()
    s, sm, q, qm = _pair()
    q_label, s_label = qm[:, 0].long(), sm[:, 0].long()
    q_label[:, :3] = 255  # ignored pixels stay out of every term
    output = model(q, s, sm, qm)
    losses = model.loss(output, q_label, s_label[:, None])
    expected = (_bce(output.query_logits, q_label) + _bce(output.support_logits, s_label)) + 0.1 * (
        _bce(output.query_co_occurrence_logits, q_label) + _bce(output.support_co_occurrence_logits, s_label))
    assert torch.allclose(sum(losses.values()), expected, atol=1e-5)


def test_odd_input_sizes_give_logits_at_one_eighth_and_losses_at_the_label_size():
    model = tiny_crcnet().train()
    s, sm = torch.randn(1, 3, 97, 97), random_mask(1, 97)
    q, qm = torch.randn(1, 3, 65, 81), torch.zeros(1, 1, 65, 81)
    output = model(q, s, sm, qm)
    assert output.query_logits.shape == (1, 2, 9, 11)  # ceil(65/8), ceil(81/8)
    assert output.support_logits.shape == output.support_co_occurrence_logits.shape == (1, 2, 13, 13)
    losses = model.loss(output, qm[:, 0].long(), sm.long())
    assert all(torch.isfinite(v) for v in losses.values())
    expected = torch.nn.functional.cross_entropy(resize_to(output.query_logits, (65, 81)), qm[:, 0].long())
    assert torch.allclose(losses["loss_query"], expected)


def test_all_background_support_mask_gives_a_finite_prediction():
    model = tiny_crcnet().eval()
    with torch.no_grad():
        output = model(torch.randn(1, 3, 33, 33), torch.randn(1, 3, 33, 33), torch.zeros(1, 1, 33, 33))
    assert torch.isfinite(output.query_logits).all()


def test_eval_returns_the_query_prediction_only_and_skips_the_co_occurrence_head():
    model = tiny_crcnet().eval()
    calls = []
    model.co_occurrence_head.register_forward_hook(lambda *a: calls.append(1))
    refine_calls = []
    model.refinement.register_forward_hook(lambda *a: refine_calls.append(1))
    s, sm, q, _ = _pair()
    with torch.no_grad():
        output = model(q, s, sm)
    assert output.query_logits.shape == (2, 2, 5, 5)
    assert output.support_logits is None and output.query_co_occurrence_logits is None
    assert calls == [] and len(refine_calls) == 1


def test_prediction_depends_on_the_support_mask():
    model = tiny_crcnet(cross_reference=False).eval()
    s, sm, q, _ = _pair()
    with torch.no_grad():
        a = model(q, s, sm).query_logits
        b = model(q, s, 1 - sm).query_logits
    assert not torch.allclose(a, b)


def test_branches_are_symmetric_swapping_images_swaps_predictions():
    model = tiny_crcnet(cross_reference=False).eval()
    s, sm, q, qm = _pair()
    with torch.no_grad():
        forward = model(q, s, sm, qm)
        swapped = model(s, q, qm, sm)
    assert torch.allclose(forward.query_logits, swapped.support_logits, atol=1e-5)
    assert torch.allclose(forward.support_logits, swapped.query_logits, atol=1e-5)


ABLATIONS = {
    "table1_conditional_only": dict(cross_reference=False),
    "table1_cross_reference_only": dict(global_conditional=False, local_conditional=False),
    "table2_single_level": dict(encoder=dict(multi_level=False)),
    "table2_no_refine_cache": dict(use_cache=False),
    "table3_global_only": dict(local_conditional=False),
    "table3_local_only": dict(global_conditional=False),
    "table6_relu": dict(cr_activation="relu"),
    "table6_softmax": dict(cr_activation="softmax"),
    "table7_without_mask": dict(local_use_mask=False),
}


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_every_ablation_is_a_constructor_argument_that_trains(name):
    model = tiny_crcnet(**ABLATIONS[name]).train()
    s, sm, q, qm = _pair(size=25)
    loss = sum(model.loss(model(q, s, sm, qm), qm[:, 0], sm).values())
    assert torch.isfinite(loss)
    loss.backward()


def test_ablations_remove_the_modules_they_name():
    assert tiny_crcnet(cross_reference=False).co_occurrence_head is None
    assert tiny_crcnet(global_conditional=False).conditional.global_conditional is None
    assert tiny_crcnet(global_conditional=False, local_conditional=False).conditional is None
    with pytest.raises(ValueError, match="cross-reference module or a conditional"):
        tiny_crcnet(cross_reference=False, global_conditional=False, local_conditional=False)


def test_builds_from_the_registry_under_mmseg_default_scope():
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS

    import integrations.mmseg  # noqa: F401

    with DefaultScope.overwrite_default_scope("mmseg"):
        model = MODELS.build(dict(type="CRCNet", encoder=dict(backbone="resnet18", multi_level=False), channels=16,
                                  refine_steps=2))
        head = MODELS.build(dict(type="CrossReference", channels=16))
    assert isinstance(model, CRCNet) and head.support_fc[0].in_features == 16


def test_import_does_not_import_mmseg():
    code = "import sys, crc_modules; from crc_modules import CrossReference, GlobalConditional, LocalConditional, " \
           "MaskRefinement, SiameseEncoder, CRCNet; assert not any(m.startswith('mmseg') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bf16_autocast_forward_on_cpu_is_finite():
    model = tiny_crcnet().eval()
    s, sm, q, _ = _pair()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(q, s, sm).query_logits
    assert torch.isfinite(logits.float()).all()


# ---- k-shot (4.6) and multi-scale (5.3) -----------------------------------------------------------

def _episode(shots, size=33):
    supports = torch.randn(shots, 3, size, size)
    labels = random_mask(shots, size)[:, 0].long()
    labels[:, 0, :] = 255
    return supports, labels, torch.randn(1, 3, size, size)


def test_fusion_averages_the_one_shot_probabilities():
    model = tiny_crcnet().eval()
    supports, labels, query = _episode(3)
    fused = KShotPredictor("fusion")(model, supports, labels, query)
    with torch.no_grad():
        singles = [torch.softmax(resize_to(model(query, supports[i:i + 1], (labels[i:i + 1, None] == 1).float())
                                           .query_logits, (33, 33)), 1)[:, 1:2] for i in range(3)]
    assert fused.shape == (1, 1, 33, 33)
    assert torch.allclose(fused, torch.stack(singles).mean(0), atol=1e-5)


def test_finetune_changes_the_prediction_and_restores_the_weights_after_the_episode():
    model = tiny_crcnet().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    supports, labels, query = _episode(3)
    fusion = KShotPredictor("fusion")(model, supports, labels, query)
    tuned = KShotPredictor("both", steps=3, lr=0.05)(model, supports, labels, query)
    assert not torch.allclose(fusion, tuned, atol=1e-4)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model.training
    again = KShotPredictor("both", steps=3, lr=0.05)(model, supports, labels, query)
    assert torch.allclose(tuned, again, atol=1e-6)


def test_finetune_needs_two_supports_so_one_shot_equals_fusion():
    model = tiny_crcnet().eval()
    supports, labels, query = _episode(1)
    assert torch.allclose(KShotPredictor("finetune", steps=2, lr=0.1)(model, supports, labels, query),
                          KShotPredictor("fusion")(model, supports, labels, query))


def test_kshot_mode_is_validated():
    with pytest.raises(ValueError, match="average"):
        KShotPredictor("average")


def test_multi_scale_output_has_the_query_size_and_one_scale_is_the_plain_prediction():
    model = tiny_crcnet().eval()
    supports, labels, query = _episode(1, size=41)
    multi = KShotPredictor("fusion", scales=(0.75, 1.0, 1.25))(model, supports, labels, query)
    assert multi.shape == (1, 1, 41, 41)
    single = KShotPredictor("fusion")(model, supports, labels, query)
    small = KShotPredictor("fusion", scales=(0.75,))(model, supports, labels, query)
    large = KShotPredictor("fusion", scales=(1.25,))(model, supports, labels, query)
    assert torch.allclose(multi, (small + single + large) / 3, atol=1e-6)
    assert not torch.allclose(multi, single)


def test_a_support_set_is_finetuned_once_and_each_query_is_independent_of_the_others():
    model = tiny_crcnet().eval()
    supports, labels, _ = _episode(3)
    queries = torch.randn(3, 1, 3, 33, 33)
    predictor = KShotPredictor("both", steps=3, lr=0.05, scales=(0.75, 1.0))
    steps = []
    model.refinement.register_forward_hook(lambda module, args, out: steps.append(module.training))
    support_set = predictor.prepare(model, supports, labels)
    assert steps.count(True) == 3 * 2  # three finetuning steps (both branches), in training mode
    in_order = [support_set.predict(q) for q in queries]
    assert steps.count(True) == 3 * 2 and steps.count(False) == 3 * 2  # queries x scales, no finetuning
    alone = predictor(model, supports, labels, queries[2])
    assert torch.allclose(in_order[2], alone, atol=1e-6)
    assert not torch.allclose(in_order[2], KShotPredictor("fusion", scales=(0.75, 1.0))(model, supports, labels,
                                                                                          queries[2]), atol=1e-4)


def test_encodings_of_a_support_set_are_computed_once_per_scale():
    model = tiny_crcnet().eval()
    supports, labels, _ = _episode(2)
    encoded = []
    model.encoder.register_forward_hook(lambda module, args, out: encoded.append(args[0].shape[0]))
    predictor = KShotPredictor("fusion", scales=(0.75, 1.0))
    support_set = predictor.prepare(model, supports, labels)
    for _ in range(3):
        support_set.predict(torch.randn(1, 3, 33, 33))
    assert encoded.count(2) == 2 and encoded.count(1) == 3 * 2  # supports once per scale, each query per scale


def test_crcnet_predicts_from_one_support_and_refuses_a_shot_axis_of_two():
    model = tiny_crcnet().eval()
    feats = model.encode(torch.randn(2, 3, 33, 33))
    with pytest.raises(ValueError, match="one support at a time"):
        model.predict(feats[:1], feats[None], random_mask(2, 33)[None])


def test_finetuning_pairs_take_every_support_as_guide_and_as_target():
    batches = pair_batches(3, FinetuneSettings(steps=20, pairs_per_step=2))
    ordered = {(guide, target) for guides, targets in batches for guide, target in zip(guides, targets)}
    assert ordered == {(a, b) for a in range(3) for b in range(3) if a != b}
    assert all(len(guides) == 2 for guides, _ in batches)


def test_finetuning_leaves_no_gradient_and_changes_only_what_the_model_names():
    model = tiny_crcnet().eval()
    supports, labels, _ = _episode(3)
    named = model.finetune_parameters
    model.finetune_parameters = lambda: {k: v for k, v in named().items() if k.startswith("refinement.")}
    support_set = KShotPredictor("finetune", steps=2, lr=0.05).prepare(model, supports, labels)
    assert support_set.finetuned and all(name.startswith("refinement.") for name in support_set.finetuned)
    assert all(p.grad is None and p.requires_grad for p in model.parameters())


def _recording_autocast(loss, record):
    """``loss`` that first appends to ``record`` whether CPU autocast is on."""
    def recorded(*args):
        record.append(torch.is_autocast_enabled("cpu"))
        return loss(*args)
    return recorded


def test_fp16_finetuning_takes_its_steps_in_fp32_and_bf16_keeps_bf16():
    supports, labels, _ = _episode(3)
    for precision, step_autocast in (("fp16", False), ("bf16", True)):
        model = tiny_crcnet().eval()
        in_steps = []
        model.loss = _recording_autocast(model.loss, in_steps)
        tuned = KShotPredictor("finetune", steps=2, lr=0.05, precision=precision).prepare(model, supports, labels)
        assert in_steps == [step_autocast] * 2, precision
        assert tuned.finetuned and all(torch.isfinite(value).all() for value in tuned.finetuned.values())
