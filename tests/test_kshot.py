"""k-shot fusion (Section 4.6: mean; HSNet's vote), the shots axis, and support sets bound to their model."""
import numpy as np
import pytest
import torch

from crc_modules import KShotPredictor, MultiScaleSupportSet, SupportSet
from crc_modules.features import as_one_shot_episodes
from crc_modules.fusion import fuse_shots, vote_fusion
from crc_modules.layers import resize_to

from .conftest import random_mask, tiny_crcnet


def _hsnet_vote(shot_logits: np.ndarray) -> np.ndarray:
    """HSNet's rule written out per pixel: argmax per shot, votes summed, / max(largest vote, 1), >= 0.5."""
    votes = np.zeros(shot_logits.shape[-2:], np.int64)
    for logits in shot_logits:  # (2, H, W) per shot
        votes += (logits[1] > logits[0]).astype(np.int64)  # argmax, a tie to class 0
    largest = max(int(votes.max()), 1)
    return (votes / largest >= 0.5).astype(np.float32)


def test_vote_fusion_equals_hsnets_rule_and_differs_from_the_mean():
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(5, 2, 17, 19, generator=generator)
    probabilities = torch.softmax(logits, 1)[:, 1:2]
    voted = vote_fusion(probabilities)
    assert voted.shape == (1, 1, 17, 19)
    assert np.array_equal(voted[0, 0].numpy(), _hsnet_vote(logits.numpy()))
    mean_mask = (fuse_shots(probabilities, "mean") > 0.5).float()
    assert not torch.equal(voted, mean_mask)  # 2 of 5 votes can win when 4 is the image's largest vote


def test_vote_of_shots_that_all_say_background_is_background():
    assert vote_fusion(torch.full((3, 1, 4, 4), 0.2)).sum() == 0
    with pytest.raises(ValueError, match="median"):
        fuse_shots(torch.zeros(2, 1, 3, 3), "median")


def test_vote_through_the_predictor_votes_over_the_one_shot_predictions_of_the_model():
    model = tiny_crcnet().eval()
    supports, query = torch.randn(3, 3, 33, 33), torch.randn(1, 3, 33, 33)
    labels = random_mask(3, 33)[:, 0].long()
    voted = KShotPredictor("fusion", fusion="vote")(model, supports, labels, query)
    with torch.no_grad():
        shot_logits = torch.cat([resize_to(model(query, supports[i:i + 1], (labels[i:i + 1, None] == 1).float())
                                           .query_logits, (33, 33)) for i in range(3)])
    assert np.array_equal(voted[0, 0].numpy(), _hsnet_vote(shot_logits.numpy()))


def test_one_shot_episodes_keep_each_support_with_its_own_query():
    query = torch.arange(2.0).view(2, 1)                   # (B=2, 1)
    supports = torch.arange(6.0).view(2, 3, 1) + 10        # (B=2, K=3, 1): episode b, shot k -> 10 + 3b + k
    (queries,), (shots,) = as_one_shot_episodes([query], [supports])
    assert queries.view(-1).tolist() == [0, 0, 0, 1, 1, 1]
    assert shots.shape == (6, 1, 1) and shots.view(-1).tolist() == [10, 11, 12, 13, 14, 15]


def test_a_support_set_owns_its_model_and_the_predictor_picks_the_multi_scale_wrapper():
    model = tiny_crcnet().eval()
    supports, labels = torch.randn(2, 3, 33, 33), random_mask(2, 33)[:, 0].long()
    single = KShotPredictor("fusion").prepare(model, supports, labels)
    multi = KShotPredictor("fusion", scales=(0.75, 1.0)).prepare(model, supports, labels)
    assert isinstance(single, SupportSet) and isinstance(multi, MultiScaleSupportSet)
    assert single.model is model and multi.model is model
    query = torch.randn(1, 3, 33, 33)
    expected = (multi.support_sets[0.75].predict(resize_to(query, (25, 25)), (33, 33)) + single.predict(query)) / 2
    assert torch.allclose(multi.predict(query), expected, atol=1e-6)


def test_supports_encoded_beforehand_are_used_as_given_and_only_where_they_can_be():
    model = tiny_crcnet().eval()
    supports, labels = torch.randn(2, 3, 33, 33), random_mask(2, 33)[:, 0].long()
    with torch.no_grad():
        encoded = model.encode(supports.flip(-1), (labels == 1)[:, None].float())  # not what the images encode to
    given = KShotPredictor("fusion").prepare(model, supports, labels, encoded)
    assert given.encoded()[0] is encoded and torch.equal(given.encoded()[1], (labels == 1)[:, None].float())
    calls, encode = [], model.encode
    model.encode = lambda images, masks=None: calls.append(masks) or encode(images, masks)
    given.predict(torch.randn(1, 3, 33, 33))
    assert calls == [None]  # the query alone: the supports are not encoded again
    for kshot in (KShotPredictor("fusion", scales=(0.75, 1.0)), KShotPredictor("both")):
        with pytest.raises(ValueError, match="supports encoded beforehand serve the 'fusion' mode at scale 1 only"):
            kshot.prepare(model, supports, labels, encoded)
