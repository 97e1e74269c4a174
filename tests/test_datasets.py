"""Episodic datasets in the real layouts, episodes, box supervision, test resizing and the metric (issues 3, 10)."""
import os

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

import integrations.mmseg  # noqa: F401
from integrations.mmseg.datasets import (
    CocoFewShotDataset,
    FSS1000Dataset,
    GeneratedFewShotDataset,
    PascalFewShotDataset,
    box_label,
    fold_classes,
)
from integrations.mmseg.evaluation.metric import FewShotIoUMetric
from tests.datasets_fixtures import (
    blob_label,
    voc_labels,
    write_coco_json,
    write_fss,
    write_image,
    write_palette_png,
    write_voc,
)

# ---- class splits ---------------------------------------------------------------------------------

def test_pascal_folds_follow_table_10():
    assert fold_classes(0, 4, 20)[1] == (1, 2, 3, 4, 5)
    assert fold_classes(3, 4, 20)[1] == (16, 17, 18, 19, 20)
    base, novel = fold_classes(2, 4, 20)
    assert set(base).isdisjoint(novel) and set(base) | set(novel) == set(range(1, 21))
    assert fold_classes(4, 4, 20) == (tuple(range(1, 21)), ())  # PATNet's --fold 4: no class held out
    with pytest.raises(ValueError, match=r"fold must be in 0..3, or 4 for no class held out; got 5"):
        fold_classes(5, 4, 20)


def test_coco_fold_novel_classes_are_4k_plus_fold_plus_1():
    base, novel = fold_classes(1, 4, 80, interleaved=True)
    assert novel == tuple(range(2, 81, 4)) and len(base) == 60 and set(base).isdisjoint(novel)


# ---- PASCAL-5i --------------------------------------------------------------------------------------

@pytest.fixture
def voc(tmp_path):
    labels = voc_labels([1, 2, 6, 7])
    mixed = blob_label((48, 64), [(6, 2, 2, 30, 30), (3, 30, 40, 46, 62)])  # base 6 + novel 3
    labels["2009_mixed"] = mixed
    labels["2009_small"] = blob_label((48, 64), [(7, 0, 0, 3, 3)])  # too few pixels of 7
    return str(tmp_path), write_voc(str(tmp_path), labels)


def _query_paths(dataset):
    return [dataset.samples[q.sample].img_path for q in dataset.plan.queries]


def test_pascal_training_uses_base_classes_and_counts_a_class_from_min_pixels(voc):
    root, list_file = voc
    dataset = PascalFewShotDataset(root, fold=0, list_file=list_file, min_class_pixels=64)
    assert dataset.classes == fold_classes(0, 4, 20)[0]
    assert dataset.plan.pools[6] and 1 not in dataset.plan.pools
    assert not any(p.endswith("2009_small.jpg") for p in _query_paths(dataset))  # 9 pixels of 7 < 64
    test = PascalFewShotDataset(root, fold=0, list_file=list_file, mode="test", min_class_pixels=64)
    assert test.plan.episode_classes == (1, 2)  # 3 is in one image only: no support besides the query


def test_novel_pixels_in_training_become_background_or_the_image_is_dropped(voc):
    root, list_file = voc
    background = PascalFewShotDataset(root, fold=0, list_file=list_file, min_class_pixels=64)
    assert any(n.endswith("2009_mixed.jpg") for n in _query_paths(background))
    mixed = next(s for s in background.samples if s.img_path.endswith("2009_mixed.jpg"))
    _, binary = background._transform(mixed, 6, support=False)
    assert binary[35, 50] == 0 and binary[10, 10] == 1  # the novel class 3 is background
    dropped = PascalFewShotDataset(root, fold=0, list_file=list_file, min_class_pixels=64, novel_in_train="drop")
    assert not any(n.endswith("2009_mixed.jpg") for n in _query_paths(dropped))


def test_supports_are_distinct_images_of_the_class_other_than_the_query(voc):
    root, list_file = voc
    dataset = PascalFewShotDataset(root, fold=1, list_file=list_file, mode="test", shot=3, min_class_pixels=64,
                                   num_episodes=20)
    for index in range(20):
        query, category, supports = dataset.episode(index)
        assert query not in supports and len(set(supports)) == 3
        assert set(supports) <= set(dataset.plan.pools[category]) and category in (6, 7)
    item = dataset[0]
    assert item["inputs"]["supports"].shape == (3, 3, 48, 64)
    assert set(item["inputs"]["support_labels"].unique().tolist()) == {0, 1, 255}


def _episodes(dataset, workers):
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=workers, collate_fn=pseudo_collate)
    out = []
    for batch in loader:
        inputs = batch["inputs"]
        for supports, query, sample in zip(inputs["supports"], inputs["query"], batch["data_samples"]):
            out.append((sample.class_id, sample.img_path, tuple(sample.support_paths),
                        supports.sum().item(), query.sum().item()))
    return out


def test_test_episodes_are_the_same_with_0_and_2_workers(voc):
    root, list_file = voc
    pipeline = [dict(type="RandomFlip", prob=0.5)]  # random transforms must not make episodes differ... in paths
    dataset = PascalFewShotDataset(root, fold=1, list_file=list_file, mode="test", shot=2, min_class_pixels=64,
                                   num_episodes=8, seed=3)
    assert _episodes(dataset, 0) == _episodes(dataset, 2)
    other_seed = PascalFewShotDataset(root, fold=1, list_file=list_file, mode="test", shot=2, min_class_pixels=64,
                                      num_episodes=8, seed=4, pipeline=pipeline)
    assert [e[:3] for e in _episodes(other_seed, 0)] != [e[:3] for e in _episodes(dataset, 0)]


def test_hsnet_split_files_are_read_and_a_missing_class_is_named(tmp_path):
    labels = voc_labels([1, 2])
    write_voc(str(tmp_path), labels)
    split = tmp_path / "fold0.txt"
    names = list(labels)
    split.write_text("\n".join(f"{n}__{int(n[5:7]):02d}" for n in names) + f"\n{names[0]}__02\n")
    dataset = PascalFewShotDataset(str(tmp_path), fold=0, split_file=str(split), mode="test", protocol="hsnet")
    assert [q.classes for q in dataset.plan.queries if q.sample == 0] == [(1,), (2,)]
    with pytest.raises(ValueError, match=rf"{names[0]}\.png has no pixel of class 2, which .*fold0.txt says"):
        dataset._transform(dataset.samples[0], 2, support=True)


# ---- bad input --------------------------------------------------------------------------------------

def test_bad_inputs_get_errors_that_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="PASCAL data_root not found: .*nowhere"):
        PascalFewShotDataset(str(tmp_path / "nowhere"), list_file="x.txt")
    root, list_file = str(tmp_path), write_voc(str(tmp_path), voc_labels([1, 2], per_class=3))
    with pytest.raises(FileNotFoundError, match="image list not found: .*missing.txt"):
        PascalFewShotDataset(root, list_file=str(tmp_path / "missing.txt"))
    with open(list_file, "a") as handle:
        handle.write("JPEGImages/only_one_column.jpg\n")
    with pytest.raises(ValueError, match=r"all.txt:7: expected 'IMAGE LABEL'"):
        PascalFewShotDataset(root, list_file=list_file)


def test_unreadable_image_and_size_mismatch_are_reported(tmp_path):
    root, list_file = str(tmp_path), write_voc(str(tmp_path), voc_labels([1], per_class=3))
    dataset = PascalFewShotDataset(root, fold=0, list_file=list_file, mode="test", min_class_pixels=64)
    broken = dataset.samples[0]
    with open(broken.img_path, "wb") as handle:
        handle.write(b"not a jpeg")
    with pytest.raises(ValueError, match=rf"cannot decode image .*{os.path.basename(broken.img_path)}"):
        dataset.load(broken, 1)
    write_image(broken.img_path, (30, 30), 0)
    with pytest.raises(ValueError, match=r"is 30x30 but its label .* is 64x48"):
        dataset.load(broken, 1)


# ---- weak supervision and test resizing -----------------------------------------------------------

def test_box_annotation_fills_the_box_of_each_object():
    label = np.zeros((20, 30), np.uint8)
    label[2:6, 3:5] = 1
    label[4, 5:9] = 1  # an L-shaped object: its box is rows 2-5, columns 3-8
    label[12:18, 20:22] = 1
    label[0, :] = 255
    boxes = box_label(label)
    expected = np.zeros_like(label)
    expected[0, :] = 255
    expected[2:6, 3:9] = 1
    expected[12:18, 20:22] = 1
    assert np.array_equal(boxes, expected)


def test_box_supports_in_a_dataset(voc):
    root, list_file = voc
    dataset = PascalFewShotDataset(root, fold=1, list_file=list_file, mode="test", min_class_pixels=64,
                                   annotation="box", num_episodes=2)
    support = dataset[0]["inputs"]["support_labels"][0]
    rows, cols = torch.nonzero(support == 1, as_tuple=True)
    assert (support[rows.min():rows.max() + 1, cols.min():cols.max() + 1] == 1).all()


def test_longer_side_resize_pad_records_the_valid_region(voc):
    root, list_file = voc
    dataset = PascalFewShotDataset(root, fold=1, list_file=list_file, mode="test", min_class_pixels=64,
                                   pipeline=[dict(type="LongerSideResizePad", size=80)], eval_label="transformed")
    item = dataset[0]
    meta = item["data_samples"].metainfo
    assert item["inputs"]["query"].shape == (3, 80, 80) and meta["valid_shape"] == (60, 80)
    assert (item["data_samples"].gt_sem_seg.data[0, 60:] == 255).all()
    original = PascalFewShotDataset(root, fold=1, list_file=list_file, mode="test", min_class_pixels=64,
                                    pipeline=[dict(type="LongerSideResizePad", size=80)])
    assert original[0]["data_samples"].gt_sem_seg.data.shape == (1, 48, 64)


# ---- COCO-20i and FSS-1000 --------------------------------------------------------------------------

def test_coco_from_the_instances_json(tmp_path):
    images = {f"COCO_val2014_{i:012d}.jpg": classes for i, classes in
              enumerate([(2,), (2, 6), (6,), (2, 3), (61, 62), (61,), (62,)])}
    ann = write_coco_json(str(tmp_path), images)
    dataset = CocoFewShotDataset(str(tmp_path), fold=1, ann_file=ann, mode="test", min_class_pixels=100)
    assert dataset.classes == tuple(range(2, 81, 4))
    assert dataset.plan.episode_classes == (2, 6, 62)
    query = next(q for q in dataset.plan.queries if q.classes == (2, 6))
    for class_id in (2, 6):  # the polygons' areas
        assert (dataset.load(dataset.samples[query.sample], class_id)["gt_seg_map"] == 1).sum() == 9 * 30
    canet = CocoFewShotDataset(str(tmp_path), setting="canet", ann_file=ann, mode="test", min_class_pixels=100)
    assert canet.plan.episode_classes == (61, 62)


def test_coco_from_converted_pngs(tmp_path):
    lines = []
    for i, class_id in enumerate([1, 1, 2, 2]):
        name = f"COCO_train2014_{i:012d}"
        write_image(str(tmp_path / "train2014" / f"{name}.jpg"), (32, 32), i)
        write_palette_png(str(tmp_path / "annotations" / "train2014" / f"{name}.png"),
                          blob_label((32, 32), [(class_id, 0, 0, 20, 20)]))
        lines.append(f"train2014/{name}.jpg annotations/train2014/{name}.png")
    (tmp_path / "train.txt").write_text("\n".join(lines))
    dataset = CocoFewShotDataset(str(tmp_path), fold=0, list_file=str(tmp_path / "train.txt"), min_class_pixels=100)
    assert dataset.classes == fold_classes(0, 4, 80, interleaved=True)[0]
    assert dataset.plan.episode_classes == (2,)  # class 1 is novel in fold 0


def test_fss1000_layout_threshold_and_one_episode_per_test_image(tmp_path):
    split = write_fss(str(tmp_path), ["zebra", "abacus"])
    dataset = FSS1000Dataset(str(tmp_path), split, mode="test", shot=2)
    assert len(dataset) == 6 and dataset.metainfo["classes"] == ("abacus", "zebra")  # HSNet sorts the names
    label = dataset.load(dataset.samples[4], 2)["gt_seg_map"]
    assert (label == 1).sum() == 20 * 15 and set(np.unique(label)) == {0, 1}
    assert [dataset.episode(i)[:2] for i in range(6)] == [(i, 1 + i // 3) for i in range(6)]
    with pytest.raises(FileNotFoundError, match="class folder of 'yak'"):
        (tmp_path / "test.txt").write_text("abacus\nyak\n")
        FSS1000Dataset(str(tmp_path), split, mode="test")


def test_generated_dataset_is_deterministic_and_splits_base_and_novel():
    train = GeneratedFewShotDataset(fold=0, images_per_class=4, image_size=48)
    test = GeneratedFewShotDataset(fold=0, images_per_class=4, image_size=48, mode="test", num_episodes=5)
    assert set(train.classes).isdisjoint(test.classes)
    first = test.load(test.samples[3], test.classes[0])
    again = GeneratedFewShotDataset(fold=0, images_per_class=4, image_size=48, mode="test",
                                    num_episodes=5).load(test.samples[3], test.classes[0])
    assert np.array_equal(first["img"], again["img"]) and np.array_equal(first["gt_seg_map"], again["gt_seg_map"])
    assert (first["gt_seg_map"] == 1).any() and first["img"].std() > 10


# ---- FewShotIoUMetric -------------------------------------------------------------------------------

def _sample(class_id, pred, label):
    return dict(class_id=class_id, pred_sem_seg=dict(data=torch.tensor([pred])),
                gt_sem_seg=dict(data=torch.tensor([label])))


def test_metric_sums_areas_per_class_and_counts_a_class_with_zero_union_or_no_episode_as_0(caplog_mmengine):
    metric = FewShotIoUMetric()
    metric.dataset_meta = dict(classes=("a", "b", "c", "d"), class_ids=(1, 2, 3, 4))
    metric.process(None, [
        _sample(1, [[1, 1, 0, 0]], [[1, 0, 0, 255]]),  # fg I=1 U=2; bg I=1 U=2
        _sample(1, [[1, 1, 1, 0]], [[1, 1, 1, 1]]),    # fg I=3 U=4; bg I=0 U=1
        _sample(2, [[0, 1, 0, 0]], [[0, 0, 1, 0]]),    # fg I=0 U=2; bg I=2 U=4
        _sample(3, [[0, 0, 0, 0]], [[0, 0, 0, 255]]),  # fg I=0 U=0 -> IoU 0 (PFENet, HSNet); bg I=3 U=3
    ])                                                 # class 4 (d): no episode -> IoU 0
    result = metric.compute_metrics(metric.results)
    class_1, class_2 = (1 + 3) / (2 + 4), 0 / 2
    assert result["mIoU"] == round(100 * (class_1 + class_2 + 0 + 0) / 4, 2)
    assert "d (4) got no episode" in caplog_mmengine.text and "c (3) have a zero union" in caplog_mmengine.text
    fg, bg = (1 + 3 + 0 + 0) / (2 + 4 + 2 + 0), (1 + 0 + 2 + 3) / (2 + 1 + 4 + 3)
    assert result["FB-IoU"] == round(100 * (fg + bg) / 2, 2)
    assert result["episodes"] == 4


def test_metric_refuses_mismatched_sizes():
    with pytest.raises(ValueError, match="differ in size"):
        FewShotIoUMetric().process(None, [_sample(1, [[1, 1]], [[1, 1, 1]])])


def test_hsnet_protocol_resizes_image_and_label_to_400(voc):
    root, list_file = voc
    dataset = PascalFewShotDataset(root, fold=1, list_file=list_file, mode="test", min_class_pixels=64,
                                   pipeline=[dict(type="Resize", scale=(400, 400), keep_ratio=False)],
                                   eval_label="transformed", num_episodes=1)
    item = dataset[0]
    assert item["inputs"]["query"].shape == (3, 400, 400) and item["inputs"]["supports"].shape[-2:] == (400, 400)
    label = item["data_samples"].gt_sem_seg.data
    assert label.shape == (1, 400, 400) and set(label.unique().tolist()) == {0, 1, 255}
