"""Episodes drawn by PFENet's and HSNet's rules on tiny trees in their layouts (issue 10)."""
import os

import numpy as np
import pytest
from mmengine.config import Config

import integrations.mmseg  # noqa: F401
from integrations.mmseg.datasets import CocoFewShotDataset, FSS1000Dataset, PascalFewShotDataset, fold_classes
from tests.datasets_fixtures import (
    blob_label,
    write_coco_pngs,
    write_fss,
    write_hsnet_pascal_splits,
    write_pickle,
    write_voc,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THRESHOLD = 2 * 32 * 32


def _rows(class_id: int, pixels: int, width: int = 64) -> np.ndarray:
    """A 64x64 label whose first ``pixels`` pixels (row-major) are ``class_id``."""
    label = np.zeros(64 * width, np.uint8)
    label[:pixels] = class_id
    return label.reshape(64, width)


@pytest.fixture
def boundary_tree(tmp_path):
    """Fold 1 (novel 6..10): a query with 2048 px of class 6 and 2047 px of class 7, and support candidates."""
    both = _rows(6, THRESHOLD)
    both.reshape(-1)[THRESHOLD:2 * THRESHOLD - 1] = 7
    labels = {"2008_both": both, "2008_six_a": _rows(6, 3000), "2008_six_b": _rows(6, 2500),
              "2008_seven_a": _rows(7, 3000), "2008_seven_b": _rows(7, THRESHOLD),
              "2008_seven_small": _rows(7, THRESHOLD - 1), "2008_base_a": _rows(12, 3000),
              "2008_base_b": _rows(12, 2100)}
    return str(tmp_path), write_voc(str(tmp_path), labels), labels


def _reference_pfenet(labels, classes):
    """PFENet's make_dataset and __getitem__ written out on the label arrays: (queries with candidates, pools)."""
    queries, pools = [], {}
    for name, label in labels.items():
        counted = [c for c in classes if (label == c).sum() >= THRESHOLD]
        if counted:
            queries.append((name, tuple(c for c in classes if (label == c).any())))
        for c in counted:
            pools.setdefault(c, []).append(name)
    return queries, pools


def _name(dataset, sample):
    return os.path.splitext(os.path.basename(dataset.samples[sample].img_path))[0]


@pytest.mark.parametrize("mode, fold", [("test", 1), ("train", 0)])
def test_pfenet_query_class_is_any_present_class_and_only_pools_need_2048_pixels(boundary_tree, mode, fold):
    root, list_file, labels = boundary_tree
    dataset = PascalFewShotDataset(root, fold=fold, list_file=list_file, mode=mode, shot=1, num_episodes=60)
    queries, pools = _reference_pfenet(labels, dataset.classes)
    assert [(_name(dataset, q.sample), q.classes) for q in dataset.plan.queries] == queries
    assert {c: [_name(dataset, s) for s in p] for c, p in dataset.plan.pools.items()} == pools
    both = dict(queries)["2008_both"]
    assert both == (6, 7) and "2008_both" not in pools[7] and "2008_seven_small" not in dict(queries)
    drawn = {}
    for index in range(60):
        query, category, supports = dataset.episode(index)
        assert query == dataset.plan.queries[index % len(queries)].sample  # list order, i mod N
        if _name(dataset, query) == "2008_both":
            drawn[category] = drawn.get(category, set()) | {_name(dataset, s) for s in supports}
    assert drawn == {6: {"2008_six_a", "2008_six_b"}, 7: {"2008_seven_a", "2008_seven_b"}}


def test_pfenet_supports_are_distinct_and_queries_short_of_supports_are_left_out(boundary_tree, caplog_mmengine):
    root, list_file, _ = boundary_tree
    two_shot = PascalFewShotDataset(root, fold=1, list_file=list_file, mode="test", shot=2, num_episodes=20)
    # class 7's pool holds two images: as queries they have one other image, PFENet's draw would never end
    assert [_name(two_shot, q.sample) for q in two_shot.plan.queries] == ["2008_both", "2008_six_a", "2008_six_b"]
    assert "2 queries are left out" in caplog_mmengine.text
    for index in range(20):
        query, category, supports = two_shot.episode(index)
        assert len(set(supports)) == 2 and query not in supports
    with pytest.raises(ValueError, match="no episode can be drawn from .*all.txt"):
        PascalFewShotDataset(root, fold=1, list_file=list_file, mode="test", shot=3)


def _hsnet_pascal_tree(root):
    """Images of classes 1..20 (two per class) and HSNet's splits: one trn file per fold, val for fold 0."""
    labels = {f"2009_{c:02d}{k}": blob_label((32, 40), [(c, 2, 2, 20, 20 + k)]) for c in range(1, 21) for k in (0, 1)}
    labels["2009_0102"] = blob_label((32, 40), [(1, 0, 0, 10, 10), (2, 12, 12, 30, 30)])
    write_voc(root, labels)
    trn = {f: [(name, int(name[5:7])) for name in labels if len(name) == 8 and 5 * f < int(name[5:7]) <= 5 * f + 5]
           for f in range(4)}
    val = {0: [("2009_0102", 2), ("2009_031", 3), ("2009_0102", 1), ("2009_010", 1), ("2009_011", 1),
               ("2009_020", 2), ("2009_030", 3)]}
    return write_hsnet_pascal_splits(root, dict(trn=trn, val=val)), trn, val


def test_hsnet_test_episode_i_is_line_i_mod_n_and_supports_may_repeat(tmp_path):
    splits, _, val = _hsnet_pascal_tree(str(tmp_path))
    dataset = PascalFewShotDataset(str(tmp_path), fold=0, protocol="hsnet", mode="test", shot=5,
                                   split_file=os.path.join(splits, "pascal", "val", "fold{fold}.txt"))
    lines = val[0]
    assert len(dataset) == 1000  # HSNet's PASCAL test length
    repeated = False
    for index in range(2 * len(lines)):
        query, category, supports = dataset.episode(index)
        assert (_name(dataset, query), category) == lines[index % len(lines)]
        pool = [name for name, c in lines if c == category and name != _name(dataset, query)]
        assert {_name(dataset, s) for s in supports} <= set(pool)
        repeated |= len(set(supports)) < len(supports)
    assert repeated  # 5 independent draws among at most 3 other images


def test_hsnet_training_reads_the_three_other_folds_together(tmp_path):
    splits, trn, _ = _hsnet_pascal_tree(str(tmp_path))
    template = os.path.join(splits, "pascal", "trn", "fold{fold}.txt")
    dataset = PascalFewShotDataset(str(tmp_path), fold=1, protocol="hsnet", split_file=template)
    expected = trn[0] + trn[2] + trn[3]
    assert [(_name(dataset, q.sample), q.classes[0]) for q in dataset.plan.queries] == expected
    assert len(dataset) == len(expected)
    explicit = [template.format(fold=f) for f in (0, 2, 3)]
    listed = PascalFewShotDataset(str(tmp_path), fold=1, protocol="hsnet", split_file=explicit)
    assert listed.plan.queries == dataset.plan.queries
    with pytest.raises(ValueError, match=r"lists 2009_060 with class 6, not one of the train classes"):
        PascalFewShotDataset(str(tmp_path), fold=1, protocol="hsnet", split_file=template.format(fold=1))


def test_fss_with_more_than_256_classes_keeps_exact_class_ids(tmp_path):
    names = [f"class{k:03d}" for k in range(300)]
    split = write_fss(str(tmp_path), names, images=2, size=(32, 32), split_name="trn.txt")
    dataset = FSS1000Dataset(str(tmp_path), split, mode="train", shot=1)
    assert dataset.classes == tuple(range(1, 301)) and len(dataset) == 600
    for index in (2 * 255, 2 * 256 + 1, 599):  # classes 256, 257, 300
        query, category, supports = dataset.episode(index)
        assert category == index // 2 + 1 and dataset.metainfo["classes"][category - 1] == names[index // 2]
        assert supports == [query ^ 1]  # the other image of the folder
        item = dataset[index]
        assert item["data_samples"].class_id == category and (item["inputs"]["support_labels"] == 1).sum() == 300


def test_hsnet_coco_draws_a_uniform_class_then_a_query_of_its_split_pool(tmp_path):
    labels = {f"COCO_val2014_{i:012d}": blob_label((24, 24), [(c, 0, 0, 12, 12)])
              for i, c in enumerate([1, 1, 1, 5, 5, 2])}
    names = write_coco_pngs(str(tmp_path), labels, folder="val2014")
    write_pickle(str(tmp_path / "splits" / "coco" / "val" / "fold0.pkl"),
                 {0: names[:3], 1: [], 4: names[3:5], 2: [names[5]]})
    dataset = CocoFewShotDataset(str(tmp_path), fold=0, protocol="hsnet", mode="test", shot=2,
                                 split_file=str(tmp_path / "splits" / "coco" / "val" / "fold{fold}.pkl"))
    assert dataset.classes == fold_classes(0, 4, 80, interleaved=True)[1] and len(dataset) == 1000
    pools = {c: [dataset.samples[s].img_path for s in p] for c, p in dataset.plan.pools.items()}
    assert pools == {1: [os.path.join(str(tmp_path), n) for n in names[:3]],
                     5: [os.path.join(str(tmp_path), n) for n in names[3:5]]}  # key 2 (class 3) is not of fold 0
    classes = []
    for index in range(40):
        query, category, supports = dataset.episode(index)
        assert query in dataset.plan.pools[category] and query not in supports
        assert set(supports) <= set(dataset.plan.pools[category])
        classes.append(category)
    assert set(classes) == {1, 5}
    assert (dataset[0]["inputs"]["support_labels"] == 1).sum() == 2 * 144


@pytest.mark.parametrize("config, protocol", [
    ("crcnet_pascal_fold0.py", "pfenet"), ("pfenet_pascal_fold0.py", "pfenet"), ("crcnet_coco_fold0.py", "pfenet"),
    ("crcnet_coco_canet.py", "pfenet"), ("crcnet_fss1000.py", "hsnet"), ("crcnet_fss1000_box.py", "hsnet")])
def test_each_paper_config_follows_the_protocol_of_the_numbers_it_compares_with(config, protocol):
    cfg = Config.fromfile(os.path.join(ROOT, "configs", config))
    loaders = ("train_dataloader", "val_dataloader", "test_dataloader")
    assert [cfg[loader].dataset.protocol for loader in loaders] == [protocol] * 3
    assert cfg.train_dataloader.sampler.type == "EpisodeSampler"
