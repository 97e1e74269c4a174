"""The mmseg host: data preprocessor, segmentor loss/predict, Fig. 9 pictures (issue 4)."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import integrations.mmseg  # noqa: F401
from integrations.mmseg.models.data_preprocessor import FewShotDataPreprocessor
from integrations.mmseg.models.segmentor import FewShotSegmentor
from integrations.mmseg.visualization.visualization import episode_picture

MODEL = dict(type="CRCNet", encoder=dict(backbone="resnet10"), channels=16, refine_steps=2)


def _batch(batch=2, shots=1, size=40):
    generator = torch.Generator().manual_seed(0)
    labels = torch.zeros(batch, shots, size, size, dtype=torch.long)
    labels[..., 10:30, 5:25] = 1
    samples = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(class_id=1, valid_shape=(size, size)))
        truth = torch.zeros(1, size, size, dtype=torch.long)
        truth[:, 5:20, 5:20] = 1
        sample.gt_sem_seg = PixelData(data=truth)
        samples.append(sample)
    return dict(inputs=dict(query=list(torch.randint(0, 255, (batch, 3, size, size), generator=generator,
                                                     dtype=torch.uint8)),
                            supports=list(torch.randint(0, 255, (batch, shots, 3, size, size), generator=generator,
                                                        dtype=torch.uint8)),
                            support_labels=list(labels)),
                data_samples=samples)


def test_preprocessor_flips_bgr_to_rgb_and_normalises():
    pre = FewShotDataPreprocessor(mean=(1.0, 2.0, 3.0), std=(2.0, 2.0, 2.0))
    data = _batch()
    out = pre(data)["inputs"]
    query = data["inputs"]["query"][0].float()
    assert torch.allclose(out["query"][0, 0], (query[2] - 1) / 2)  # R comes from the third (BGR) channel
    assert out["supports"].shape == (2, 1, 3, 40, 40) and out["support_labels"].dtype == torch.long


def test_segmentor_loss_has_the_four_terms_of_eq_5_and_k_supports_make_k_pairs():
    segmentor = FewShotSegmentor(MODEL).train()
    data = segmentor.data_preprocessor(_batch(shots=2), training=True)
    losses = segmentor(**data, mode="loss")
    assert set(losses) == {"loss_query", "loss_support", "loss_query_aux", "loss_support_aux"}
    assert all(torch.isfinite(v) for v in losses.values())


def test_predict_crops_the_padding_and_resizes_to_the_label():
    segmentor = FewShotSegmentor(MODEL).eval()
    data = segmentor.data_preprocessor(_batch(batch=1))
    sample = data["data_samples"][0]
    sample.set_metainfo(dict(valid_shape=(30, 40)))
    sample.gt_sem_seg = PixelData(data=torch.zeros(1, 60, 80, dtype=torch.long))
    with torch.no_grad():
        direct = segmentor.model(data["inputs"]["query"], data["inputs"]["supports"][:, 0],
                                 (data["inputs"]["support_labels"][:, 0] == 1).float()[:, None]).query_logits
    direct = torch.nn.functional.interpolate(direct, size=(40, 40), mode="bilinear", align_corners=False)
    (out,) = segmentor(**data, mode="predict")
    expected = torch.nn.functional.interpolate(torch.softmax(direct, 1)[:, 1:, :30, :40], size=(60, 80),
                                               mode="bilinear", align_corners=False)
    assert out.seg_logits.data.shape == (1, 60, 80)
    assert torch.allclose(out.seg_logits.data, expected[0], atol=1e-5)
    assert torch.equal(out.pred_sem_seg.data, (expected[0] > 0.5).long())


def test_episode_picture_shows_supports_prediction_and_truth():
    image = np.full((20, 30, 3), 100, np.uint8)
    mask = np.zeros((20, 30), np.uint8)
    mask[5:10, 5:10] = 1
    picture = episode_picture([image, image], [mask, mask], image, mask, mask, caption="episode 0", height=40)
    assert picture.shape[0] == 24 + 22 + 40 and picture.shape[1] > 4 * 60
    panel = picture[24 + 22:, :60]
    assert panel[15:20, 15:20].mean(axis=(0, 1))[1] > 120  # the support's mask is tinted green


def test_cpu_autocast_optim_wrapper_trains_in_bfloat16():
    from integrations.mmseg.engine.optim_wrapper import CPUAutocastOptimWrapper

    torch.manual_seed(0)
    segmentor = FewShotSegmentor(MODEL).train()
    wrapper = CPUAutocastOptimWrapper(torch.optim.SGD(segmentor.parameters(), lr=0.1))
    before = segmentor.model.refinement.classifier[-1].weight.clone()
    seen = []
    hook = segmentor.model.refinement.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    losses = segmentor.train_step(_batch(), wrapper)
    hook.remove()
    assert set(seen) == {torch.bfloat16} and len(seen) == 2  # query and support branches
    assert torch.isfinite(losses["loss"])
    assert not torch.equal(before, segmentor.model.refinement.classifier[-1].weight)


def test_a_test_cfg_setting_that_does_not_exist_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"test_cfg has no setting 'kshot_mod'; its settings are kshot_mode, "):
        FewShotSegmentor(model=MODEL, test_cfg=dict(kshot_mod="both"))
