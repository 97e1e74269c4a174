"""GF-SAM's steps (integrations/gfsam: priors, points, graph, selection), each on a small case with a known answer
or against a direct computation of the rule in matcher/GFSAM.py."""
import pytest
import torch
import torch.nn.functional as F

from integrations.gfsam.graph import point_mask_graph, weak_components
from integrations.gfsam.points import point_count, prompt_coordinates, select_points
from integrations.gfsam.priors import (
    mask_on_grid,
    masked_similarity,
    min_max_normalise,
    normalise_over_tokens,
    pixelwise_cosine,
    point_prior,
    similarity_priors,
)
from integrations.gfsam.selection import (
    REJECTED,
    SELECTED,
    UNDECIDED,
    classify_clusters,
    cluster_unions,
    final_mask,
    point_consistency,
)


def one_hot_tokens(*indices, channels=4):
    return F.one_hot(torch.tensor(indices), channels).float()


# ---- priors -------------------------------------------------------------------------------------------------
def test_tokens_are_normalised_per_channel_over_the_image_not_per_token():
    tokens = torch.rand(2, 6, 3) + 0.1
    normalised = normalise_over_tokens(tokens)
    assert torch.allclose(normalised.norm(dim=1), torch.ones(2, 3))
    assert not torch.allclose(normalised.norm(dim=2), torch.ones(2, 6))


def test_pixelwise_cosine_is_every_support_token_against_every_query_token():
    query, supports = torch.randn(5, 8), torch.randn(2, 7, 8)
    similarity = pixelwise_cosine(query, supports)
    reference = F.cosine_similarity(supports[:, :, None, :], query[None, None], dim=-1)
    assert similarity.shape == (2, 7, 5) and torch.allclose(similarity, reference, atol=1e-6)


def test_priors_of_a_support_whose_mask_covers_one_of_its_two_kinds_of_token():
    """Support tokens: e0 twice (in the mask) and e1 twice (outside); query tokens e0, e1, e0+e1."""
    support = one_hot_tokens(0, 0, 1, 1)[None]
    query = torch.stack([torch.tensor([1., 0, 0, 0]), torch.tensor([0., 1, 0, 0]), torch.tensor([1., 1, 0, 0])])
    similarity = pixelwise_cosine(query, support)
    max_prior, mean_prior = masked_similarity(similarity, torch.tensor([[1., 1, 0, 0]]))
    half = 2 ** -0.5
    assert torch.allclose(max_prior, torch.tensor([[1., 0, half]]), atol=1e-6)
    # mean over the 4 support tokens of sim * mask, divided by the mask's share of the query's 3 tokens
    assert torch.allclose(mean_prior, torch.tensor([[2 / 4, 0, 2 * half / 4]]) / (2 / 3), atol=1e-5)


def test_k_shot_priors_are_the_mean_of_the_shots_priors():
    query, supports = torch.randn(4, 6), torch.randn(3, 4, 6)
    masks = (torch.rand(3, 4) > 0.5).float()
    similarity = pixelwise_cosine(query, supports)
    max_prior, mean_prior = similarity_priors(similarity, masks, (2, 2))
    shots = [masked_similarity(similarity[k:k + 1], masks[k:k + 1]) for k in range(3)]
    assert torch.allclose(max_prior, torch.stack([s[0][0] for s in shots]).mean(0).view(2, 2))
    assert torch.allclose(mean_prior, torch.stack([s[1][0] for s in shots]).mean(0).view(2, 2))


def test_masks_reach_the_grid_bilinearly_with_corners_aligned():
    mask = torch.zeros(1, 1, 5, 5)
    mask[..., 0, 0] = 1
    assert torch.allclose(mask_on_grid(mask, (3, 3)), torch.tensor([[1., 0, 0, 0, 0, 0, 0, 0, 0]]))


def test_point_prior_keeps_cells_where_the_positive_prior_wins():
    max_prior = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    mean_prior = torch.tensor([[0.2, 0.8], [0.5, 0.2]])  # positive, normalised: [[0, 1], [0.5, 0]]
    negative = torch.tensor([[0.9, 0.1], [0.1, 0.5]])  # normalised: [[1, 0], [0, 0.5]]
    prior = point_prior(max_prior, mean_prior, negative)
    assert torch.allclose(prior, torch.tensor([[0.0, 1.0], [0.5, 0.0]]), atol=1e-5)
    assert torch.allclose(min_max_normalise(torch.tensor([2.0, 4.0])), torch.tensor([0.0, 1.0]), atol=1e-5)


# ---- points -------------------------------------------------------------------------------------------------
def test_a_prior_with_two_peaks_gives_two_points_ordered_by_x_then_y():
    prior = torch.zeros(5, 6)
    prior[3, 1] = prior[1, 4] = 1.0  # (y, x): cells (x=1, y=3) and (x=4, y=1)
    prior[2, 2] = 0.4  # sum 2.4: two points
    points, hot = select_points(prior)
    assert points.tolist() == [[1, 3], [4, 1]]
    assert hot.sum() == 2 and hot[3, 1] and hot[1, 4]


def test_the_number_of_points_is_the_priors_mass_capped():
    assert point_count(torch.full((4, 4), 0.5)) == 8
    assert point_count(torch.full((4, 4), 0.01)) == 1  # some mass, less than one point's: one point
    assert point_count(torch.zeros(4, 4)) == 0
    assert point_count(torch.ones(20, 20), max_points=128) == 128
    assert select_points(torch.zeros(3, 3))[0].shape == (0, 2)


def test_prompts_sit_at_the_cells_top_left_corner_truncated_to_pixels():
    points = torch.tensor([[1, 2], [36, 0]])
    assert prompt_coordinates(points, (37, 37), (1024, 1024)).tolist() == [[27.0, 55.0], [996.0, 0.0]]
    assert prompt_coordinates(torch.tensor([[1, 1]]), (4, 4), (32, 64)).tolist() == [[16.0, 8.0]]


# ---- graph --------------------------------------------------------------------------------------------------
def test_two_disjoint_masks_give_two_clusters():
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[0, :2, :2] = masks[1, 2:, 2:] = True
    points = torch.tensor([[0, 0], [3, 3]])
    adjacency = point_mask_graph(masks, points)
    assert adjacency.tolist() == [[True, False], [False, True]]
    labels, count = weak_components(adjacency)
    assert count == 2 and labels.tolist() == [0, 1]


def test_a_mask_covering_another_point_joins_the_two_in_either_direction():
    masks = torch.zeros(3, 4, 4, dtype=torch.bool)
    masks[0, 0, 0] = True
    masks[1, :, 3] = True  # covers points 1 and 2
    masks[2, 3, 3] = True
    points = torch.tensor([[0, 0], [3, 0], [3, 3]])
    labels, count = weak_components(point_mask_graph(masks, points))
    assert count == 2 and labels.tolist() == [0, 1, 1]


def test_weak_components_number_as_scipy_does():
    csgraph = pytest.importorskip("scipy.sparse.csgraph")
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        adjacency = torch.rand(12, 12, generator=generator) > 0.9
        labels, count = weak_components(adjacency)
        expected_count, expected = csgraph.connected_components(adjacency.numpy(), directed=True, connection="weak")
        assert count == expected_count and labels.tolist() == expected.tolist()


# ---- selection ----------------------------------------------------------------------------------------------
def test_a_cluster_on_positive_cells_is_foreground_and_one_on_negative_cells_is_not():
    positive = torch.zeros(4, 4)
    positive[:, :2] = 1.0
    negative = torch.full((4, 4), 0.5)
    masks = torch.zeros(2, 1, 4, 4)
    masks[0, 0, :, :2] = 1  # on the positive half
    masks[1, 0, :, 2:] = 1  # on the negative half
    foreground, scores = classify_clusters(masks, torch.tensor([0, 1]), 2, positive, negative)
    assert foreground.tolist() == [True, False]
    assert scores.tolist() == [8.0, -8.0]


def test_mask_growth_accepts_only_a_masks_uncovered_part_that_is_mostly_positive():
    positive = torch.zeros(4, 4)
    positive[:, :2] = 1.0
    negative = torch.full((4, 4), 0.5)
    masks = torch.zeros(2, 1, 4, 4)
    masks[0, 0, :, :2] = 1  # all positive (8 cells): taken first
    masks[1, 0, :, :3] = 1  # 8 positive cells already covered + 4 new negative ones: rejected
    foreground, scores = classify_clusters(masks, torch.tensor([0, 0]), 1, positive, negative)
    assert foreground.tolist() == [True, False]
    assert scores.tolist() == [-4.0, -4.0]  # the last mask's uncovered part, for every point of the cluster


def test_points_are_consistent_with_the_cluster_they_resemble_and_labelled_by_agreement_and_class():
    """Grid 1x4: tokens e0, e0, e1, e1; cluster 0 = points at x 0, 1 (union on them), cluster 1 = x 2, 3."""
    tokens = one_hot_tokens(0, 0, 1, 1)
    self_similarity = pixelwise_cosine(tokens, tokens[None])[0]
    unions = torch.tensor([[1., 1, 0, 0], [0., 0, 1, 1]])
    points = torch.tensor([[0, 0], [1, 0], [2, 0], [3, 0]])
    labels = torch.tensor([0, 0, 1, 1])
    foreground = torch.tensor([True, False, True, False])
    point_labels = point_consistency(self_similarity, unions, points, labels, foreground, grid_width=4)
    assert point_labels.tolist() == [SELECTED, UNDECIDED, SELECTED, UNDECIDED]
    # the same points put in the wrong clusters: nobody agrees, so only the foreground flag is left
    point_labels = point_consistency(self_similarity, unions, points, torch.tensor([1, 1, 0, 0]), foreground, 4)
    assert point_labels.tolist() == [UNDECIDED, REJECTED, UNDECIDED, REJECTED]


def test_cluster_unions_are_resized_after_the_union():
    masks = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    masks[0, 0, :2, :2] = masks[1, 0, 2:, 2:] = True
    unions = cluster_unions(masks, torch.tensor([0, 0]), 1, (2, 2))
    assert unions.tolist() == [[1.0, 0.0, 0.0, 1.0]]


def test_final_mask_is_the_union_of_selected_masks_else_the_best_undecided_one():
    masks = torch.zeros(3, 1, 2, 2, dtype=torch.bool)
    masks[0, 0, 0, 0] = masks[1, 0, 0, 1] = masks[2, 0, 1, 1] = True
    scores = torch.tensor([5.0, 1.0, 3.0])
    union = final_mask(masks, torch.tensor([SELECTED, REJECTED, SELECTED]), scores)
    assert union.tolist() == [[True, False], [False, True]]
    best_undecided = final_mask(masks, torch.tensor([REJECTED, UNDECIDED, UNDECIDED]), scores)
    assert best_undecided.tolist() == [[False, False], [False, True]]
    none_undecided = final_mask(masks, torch.tensor([REJECTED, REJECTED, REJECTED]), scores)
    assert none_undecided.tolist() == [[True, False], [False, False]]  # GF-SAM's max over zeros: the first mask
