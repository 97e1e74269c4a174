"""Each block of Section 4 against a plain reference computation of its equation."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from crc_modules import (
    CoOccurrenceHead,
    CrossReference,
    GlobalConditional,
    LocalConditional,
    MaskedAveragePool,
    MaskRefinement,
    RegionGlobalConditional,
    masked_average_pool,
)
from crc_modules.layers import GlobalConvBlock

from .conftest import random_mask

# ---- foreground average pooling (4.4) -------------------------------------------------------------

def test_masked_average_pool_equals_mean_over_foreground_pixels():
    feat = torch.randn(2, 5, 7, 9)
    mask = (torch.rand(2, 1, 7, 9) > 0.6).float()
    pooled = masked_average_pool(feat, mask)
    for b in range(2):
        fg = mask[b, 0].bool()
        expected = feat[b][:, fg].mean(dim=1)
        assert torch.allclose(pooled[b], expected, atol=1e-4)
    assert torch.allclose(MaskedAveragePool()(feat, mask), pooled)


def test_masked_average_pool_of_empty_mask_is_zero_not_nan():
    pooled = masked_average_pool(torch.randn(2, 4, 6, 6), torch.zeros(2, 1, 6, 6))
    assert torch.isfinite(pooled).all()
    assert torch.equal(pooled, torch.zeros(2, 4))


def test_masked_average_pool_resizes_the_mask_to_the_features():
    feat = torch.randn(1, 3, 4, 4)
    full = torch.ones(1, 1, 32, 32)
    assert torch.allclose(masked_average_pool(feat, full), feat.mean(dim=(2, 3)), atol=1e-4)


def test_masked_average_pool_rejects_a_mask_without_channel_axis():
    with pytest.raises(ValueError, match=r"\(B, 1, h, w\)"):
        masked_average_pool(torch.randn(1, 3, 4, 4), torch.ones(1, 4, 4))


# ---- cross-reference (4.3, Fig. 3) ----------------------------------------------------------------

def _fc_reference(fc: nn.Sequential, vec: torch.Tensor) -> torch.Tensor:
    hidden = torch.clamp(vec @ fc[0].weight.T + fc[0].bias, min=0)
    return hidden @ fc[2].weight.T + fc[2].bias


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "softmax"])
def test_cross_reference_matches_gap_fc_activation_product(activation):
    module = CrossReference(channels=6, hidden_channels=4, activation=activation)
    support, query = torch.randn(3, 6, 5, 5), torch.randn(3, 6, 7, 4)
    act = {"sigmoid": torch.sigmoid, "relu": torch.relu, "softmax": lambda x: torch.softmax(x, dim=1)}[activation]
    w_s = act(_fc_reference(module.support_fc, support.sum(dim=(2, 3)) / 25))
    w_q = act(_fc_reference(module.query_fc, query.sum(dim=(2, 3)) / 28))
    fused = (w_s * w_q)[:, :, None, None]
    g_s, g_q = module(support, query)
    assert torch.allclose(g_s, support * fused, atol=1e-5)
    assert torch.allclose(g_q, query * fused, atol=1e-5)


def test_cross_reference_reweights_both_maps_by_one_shared_vector_in_unit_interval():
    module = CrossReference(channels=8)
    support, query = torch.randn(2, 8, 6, 6) + 3, torch.randn(2, 8, 5, 5) + 3  # away from zero
    g_s, g_q = module(support, query)
    ratio_s = (g_s / support).flatten(2)
    ratio_q = (g_q / query).flatten(2)
    vector = ratio_s[..., 0]
    assert torch.allclose(ratio_s, vector[..., None].expand_as(ratio_s), atol=1e-5)
    assert torch.allclose(ratio_q, vector[..., None].expand_as(ratio_q), atol=1e-5)
    assert (vector >= 0).all() and (vector <= 1).all()


def test_cross_reference_rejects_unknown_activation():
    with pytest.raises(ValueError, match="tanh"):
        CrossReference(8, activation="tanh")


def test_co_occurrence_head_gives_two_channel_logits_that_depend_on_the_input():
    head = CoOccurrenceHead(in_channels=8, channels=16)
    x = torch.randn(2, 8, 9, 9)
    out = head(x)
    assert out.shape == (2, 2, 9, 9)
    assert not torch.allclose(out[0], out[1])


# ---- conditional module (4.4) ---------------------------------------------------------------------

def test_global_conditional_concatenates_the_broadcast_vector_and_applies_the_residual_conv():
    module = GlobalConditional(in_channels=4, channels=8)
    feat, vector = torch.randn(2, 4, 5, 6), torch.randn(2, 4)
    tiled = torch.zeros(2, 4, 5, 6)
    for y in range(5):
        for x in range(6):
            tiled[:, :, y, x] = vector
    block = module.fuse
    projected = block.project(torch.cat([feat, tiled], dim=1))
    expected = torch.relu(projected + block.residual(projected))
    assert torch.allclose(module(feat, vector), expected, atol=1e-5)


def _local_conditional_literal(module, query_feat, support_feat, support_mask, use_mask=True):
    """Eqs. 1-3 written out with the (HW)x(HW) similarity matrix."""
    b, c, hq, wq = query_feat.shape
    theta = module.theta(query_feat).flatten(2)  # (B, K, Nq)
    delta = module.delta(support_feat).flatten(2)  # (B, K, Ns)
    m_sim = theta.transpose(1, 2) @ delta  # Eq. 1, (B, Nq, Ns)
    if use_mask:
        mask = F.interpolate(support_mask, size=support_feat.shape[-2:], mode="bilinear", align_corners=False)
        phi = mask.flatten(2).expand(-1, m_sim.shape[1], -1)  # reshaped and extended mask, (B, Nq, Ns)
        m_sim = m_sim * phi
    attention = torch.softmax(m_sim, dim=2)  # Eq. 2, row-wise
    out = support_feat.flatten(2) @ attention.transpose(1, 2)  # Eq. 3, (B, C, Nq)
    return out.reshape(b, c, hq, wq)


@pytest.mark.parametrize("use_mask", [True, False])
def test_local_conditional_equals_literal_eq_1_to_3(use_mask):
    module = LocalConditional(in_channels=6, key_channels=5, use_mask=use_mask)
    query, support = torch.randn(2, 6, 5, 7), torch.randn(2, 6, 6, 4)
    mask = (torch.rand(2, 1, 12, 8) > 0.5).float()
    expected = _local_conditional_literal(module, query, support, mask, use_mask)
    assert torch.allclose(module(query, support, mask), expected, atol=1e-5)


def test_local_conditional_mask_changes_the_result():
    module = LocalConditional(in_channels=6, key_channels=5)
    query, support = torch.randn(1, 6, 5, 5), torch.randn(1, 6, 5, 5)
    mask = random_mask(1, 5)
    masked = module(query, support, mask)
    module.use_mask = False
    assert not torch.allclose(masked, module(query, support, mask))


def test_region_global_conditional_concatenates_global_and_local_parts():
    module = RegionGlobalConditional(in_channels=6, channels=8)
    query, support, mask = torch.randn(2, 6, 5, 5), torch.randn(2, 6, 5, 5), random_mask(2, 5)
    out = module(query, support, mask)
    assert out.shape == (2, 8 + 6, 5, 5)
    vector = masked_average_pool(support, mask)
    assert torch.allclose(out[:, :8], module.global_conditional(query, vector), atol=1e-6)
    assert torch.allclose(out[:, 8:], module.local_conditional(query, support, mask), atol=1e-6)


def test_global_condition_ignores_support_features_outside_the_mask():
    module = RegionGlobalConditional(in_channels=6, channels=8, use_local=False)
    query, support, mask = torch.randn(1, 6, 8, 8), torch.randn(1, 6, 8, 8), random_mask(1, 8)
    changed = support + 5 * torch.randn_like(support) * (1 - mask)
    assert torch.allclose(module(query, support, mask), module(query, changed, mask), atol=1e-5)
    assert not torch.allclose(module(query, support, mask), module(query, support + 1, mask))


def test_region_global_conditional_needs_one_part():
    with pytest.raises(ValueError, match="use_global or use_local"):
        RegionGlobalConditional(8, use_global=False, use_local=False)


# ---- mask refinement (4.5) ------------------------------------------------------------------------

def test_global_conv_block_sums_the_two_separable_paths():
    block = GlobalConvBlock(channels=3, kernel_size=7)
    x = torch.randn(1, 3, 9, 9)
    a = F.conv2d(F.conv2d(x, block.row_then_column[0].weight, block.row_then_column[0].bias, padding=(0, 3)),
                 block.row_then_column[1].weight, block.row_then_column[1].bias, padding=(3, 0))
    b = F.conv2d(F.conv2d(x, block.column_then_row[0].weight, block.column_then_row[0].bias, padding=(3, 0)),
                 block.column_then_row[1].weight, block.column_then_row[1].bias, padding=(0, 3))
    assert torch.allclose(block(x), a + b, atol=1e-5)


def test_mask_refinement_equals_a_loop_over_the_concatenated_features_and_cache():
    module = MaskRefinement(in_channels=5, channels=8, num_steps=4)
    x = torch.randn(2, 5, 7, 7)
    concat_conv = nn.Conv2d(9, 8, 3, padding=1)
    concat_conv.weight.data = torch.cat([module.combine_feature.weight, module.combine_cache.weight], dim=1)
    concat_conv.bias.data = module.combine_feature.bias.data
    feature = module.feature_proj(x)
    cache = torch.zeros(2, 1, 7, 7)  # Section 4.5: the cache starts as a zero mask
    step_logits = []
    for _ in range(4):
        h = torch.relu(concat_conv(torch.cat([feature, cache], dim=1)))
        h = torch.relu(h + module.combine_residual(h))
        h = torch.relu(h + module.global_conv(h))
        logits = module.classifier(h)
        step_logits.append(logits)
        cache = torch.softmax(logits, dim=1)[:, 1:2]
    outputs = module(x, return_all=True)
    assert len(outputs) == 4
    for got, expected in zip(outputs, step_logits):
        assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(outputs[0], outputs[-1])


def test_mask_refinement_without_cache_runs_once_and_has_no_cache_branch():
    module = MaskRefinement(in_channels=5, channels=8, num_steps=10, use_cache=False)
    assert module.combine_cache is None
    assert len(module(torch.randn(1, 5, 6, 6), return_all=True)) == 1


def test_mask_refinement_rejects_zero_steps():
    with pytest.raises(ValueError, match="num_steps"):
        MaskRefinement(4, num_steps=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_chunked_attention_equals_one_softmax_over_all_keys_in_values_and_gradients(monkeypatch, dtype):
    from crc_modules import conditional

    monkeypatch.setattr(conditional, "CHUNK_SCORES", 2 * 3 * 11)  # 2 batch elements x 3 rows x 11 keys: 5 chunks
    query, key, value = (torch.randn(2, 13, 5), torch.randn(2, 11, 5), torch.randn(2, 11, 4))  # K != C: no fused kernel
    expected = torch.softmax(query @ key.transpose(1, 2), dim=-1) @ value
    with torch.no_grad():
        got = conditional.memory_linear_attention(*(t.to(dtype) for t in (query, key, value)))
    assert got.dtype == dtype
    assert torch.allclose(got.float(), expected, atol=1e-5 if dtype == torch.float32 else 3e-2)
    leaves = [t.clone().requires_grad_() for t in (query, key, value)]
    conditional.memory_linear_attention(*leaves).square().sum().backward()
    reference = [t.clone().requires_grad_() for t in (query, key, value)]
    (torch.softmax(reference[0] @ reference[1].transpose(1, 2), dim=-1) @ reference[2]).square().sum().backward()
    for leaf, ref in zip(leaves, reference):
        assert torch.allclose(leaf.grad, ref.grad, atol=1e-5)


_MEMORY_PROBE = """
import resource, sys, torch
from crc_modules import LocalConditional
torch.set_num_threads(1)
side, key_channels = 96, int(sys.argv[1])
module = LocalConditional(in_channels=32, key_channels=key_channels).eval()
query, support = torch.randn(1, 32, side, side), torch.randn(1, 32, side, side)
mask = torch.ones(1, 1, side, side)
with torch.no_grad():
    module(query[..., :8, :8], support[..., :8, :8], mask[..., :8, :8])  # warm-up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    module(query, support, mask)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


@pytest.mark.parametrize("key_channels", [32, 24], ids=["fused-kernel", "chunked-fallback"])
def test_local_conditional_never_allocates_an_hw_by_hw_matrix(key_channels):
    import subprocess
    import sys

    grown = int(subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(key_channels)], capture_output=True,
                               text=True, check=True).stdout)
    similarity_matrix = (96 * 96) ** 2 * 4  # 324 MiB of fp32 scores
    assert grown < similarity_matrix / 4, f"peak memory grew by {grown / 2 ** 20:.0f} MiB"


def test_truncated_backprop_through_the_refinement_reaches_only_the_last_step():
    module = MaskRefinement(in_channels=5, channels=8, num_steps=4)
    x = torch.randn(2, 5, 7, 7)
    feature_term = module.combine_feature(module.feature_proj(x))
    with torch.no_grad():  # reference: the first three steps only produce the cache
        cache = torch.zeros(2, 1, 7, 7)
        for _ in range(3):
            cache = torch.softmax(module.step(feature_term, cache), dim=1)[:, 1:2]
    module.step(feature_term, cache).square().sum().backward()
    expected = {name: param.grad.clone() for name, param in module.named_parameters()}
    module.zero_grad()
    module.backprop_steps = 1
    module(x).square().sum().backward()
    for name, param in module.named_parameters():
        assert torch.allclose(param.grad, expected[name], atol=1e-5), name
    module.zero_grad()
    module.backprop_steps = None  # full back-propagation differs: the cache carries gradient too
    module(x).square().sum().backward()
    assert not torch.allclose(module.combine_cache.weight.grad, expected["combine_cache.weight"], atol=1e-5)
