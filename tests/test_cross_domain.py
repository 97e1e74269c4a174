"""The cross-domain benchmark as PATNet draws it: Deepglobe, ISIC, Chest X-ray, FSS-1000 in its layouts (issue 27)."""
import glob
import json
import os

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

import integrations.mmseg  # noqa: F401  (registers the datasets)
from integrations.mmseg.datasets import (
    ChestXrayDataset,
    DeepglobeDataset,
    FSS1000Dataset,
    ISICDataset,
    PascalFewShotDataset,
)
from tests.datasets_fixtures import (
    voc_labels,
    write_chest_xray,
    write_deepglobe,
    write_fss,
    write_hsnet_pascal_splits,
    write_isic,
    write_voc,
)
from tests.tool_modules import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def patnet_reference(pools, count, shot, seed=0):
    """PATNet's sample_episode written out: class i mod C, np.random.choice(pool_of_names, 1, replace=False) from one
    seeded generator, a support equal to the query drawn again; returns (query path, [support paths], class index)."""
    stream = np.random.RandomState(seed)
    episodes = []
    for index in range(count):
        pool = np.array(pools[index % len(pools)])
        query = stream.choice(pool, 1, replace=False)[0]
        supports = []
        while len(supports) < shot:
            support = stream.choice(pool, 1, replace=False)[0]
            if support != query:
                supports.append(support)
        episodes.append((str(query), [str(s) for s in supports], index % len(pools)))
    return episodes


def drawn(dataset, count=None, paths="img_path"):
    result = []
    for index in range(count or len(dataset)):
        query, category, supports = dataset.episode(index)
        result.append((getattr(dataset.samples[query], paths), [getattr(dataset.samples[s], paths) for s in supports],
                       category - 1))
    return result


@pytest.fixture(scope="module")
def cdfss(tmp_path_factory):
    """PATNet's --datapath with tiny Deepglobe (6 classes), ISIC (3) and Chest X-ray (Shenzhen + Montgomery) trees."""
    root = str(tmp_path_factory.mktemp("cdfss"))
    deepglobe = write_deepglobe(root, [7, 3, 9, 8, 2, 7])
    isic = write_isic(root, [9, 7, 8])
    lungs = write_chest_xray(root, shenzhen=9, montgomery=3)
    return root, deepglobe, isic, lungs


@pytest.mark.parametrize("shot", [1, 5])
def test_deepglobe_and_isic_episodes_are_patnets_own_draws_from_seed_0(cdfss, shot):
    root, deepglobe, isic, _ = cdfss
    folders = [os.path.join(root, "Deepglobe", str(k), "test", "origin") for k in range(1, 7)]
    pools = [sorted(os.path.join(f, n) for n in names) for f, names in zip(folders, deepglobe)]
    assert drawn(DeepglobeDataset(root, shot=shot)) == patnet_reference(pools, 600, shot)
    folders = [os.path.join(root, "ISIC", "ISIC2018_Task1-2_Training_Input", str(k)) for k in (1, 2, 3)]
    pools = [sorted(os.path.join(f, n) for n in names) for f, names in zip(folders, isic)]
    assert drawn(ISICDataset(root, shot=shot)) == patnet_reference(pools, 600, shot)


def test_chest_xray_pools_the_masks_named_id_mask_and_reads_their_images(cdfss, caplog_mmengine):
    root, _, _, lungs = cdfss
    dataset = ChestXrayDataset(root, shot=5)
    masks = sorted(os.path.join(root, "LungSegmentation", "masks", name) for name in lungs)
    assert drawn(dataset, paths="label_path") == patnet_reference([masks], 600, 5)
    query = dataset.samples[dataset.episode(0)[0]]
    assert query.img_path == query.label_path.replace("masks", "CXR_png").replace("_mask.png", ".png")
    assert len(dataset.samples) == 9 and dataset.metainfo == dict(classes=("lungs",), class_ids=(1,))
    assert "3 masks in" in caplog_mmengine.text and "MCUCXR_0009_0.png" in caplog_mmengine.text


def test_an_episode_is_class_i_mod_c_with_masks_as_grey_at_least_128(cdfss):
    root = cdfss[0]
    dataset = DeepglobeDataset(root, shot=2, num_episodes=12)
    assert len(dataset) == 12 and dataset.metainfo["classes"][:2] == ("agriculture", "urban")
    for index in (0, 7, 11):
        item = dataset[index]
        assert item["data_samples"].class_id == index % 6 + 1
        query = dataset.samples[dataset.episode(index)[0]]
        with Image.open(query.label_path) as mask:
            expected = (np.asarray(mask.convert("L")) >= 128).astype(np.int64)
        assert torch.equal(item["data_samples"].gt_sem_seg.data[0], torch.from_numpy(expected))
        assert item["inputs"]["supports"].shape[0] == 2
    assert DeepglobeDataset(root, num_episodes=600).num_episodes == 600 == DeepglobeDataset(root).num_episodes


def test_independent_supports_may_repeat_and_distinct_ones_never_do(cdfss):
    root = cdfss[0]
    independent = [e[2] for e in map(DeepglobeDataset(root, shot=5).episode, range(600))]
    distinct = DeepglobeDataset(root, shot=5, support_rule="distinct")
    distinct_supports = [distinct.episode(i)[2] for i in range(600)]
    assert sum(len(set(s)) < 5 for s in independent) > 50
    assert all(len(set(s)) == 5 for s in distinct_supports)
    assert distinct.plan.pool_classes == (1, 3, 4, 6)  # classes 2 and 5 hold fewer than 6 images: left out, logged
    one_shot = [DeepglobeDataset(root, support_rule=rule).episode(i) for rule in ("independent", "distinct")
                for i in range(12)]
    assert one_shot[:12] == one_shot[12:]  # the rules differ only where a support repeats


def test_episodes_are_a_function_of_the_seed_and_the_index(cdfss):
    root = cdfss[0]
    first, again, other = (ISICDataset(root, shot=1, seed=s, num_episodes=30) for s in (0, 0, 1))
    assert [first.episode(i) for i in range(30)] == [again.episode(i) for i in range(30)]
    assert [first.episode(i) for i in range(30)] != [other.episode(i) for i in range(30)]


def test_patnets_layouts_are_test_only_and_name_a_missing_file(cdfss, tmp_path):
    root = cdfss[0]
    with pytest.raises(ValueError, match="protocol 'patnet' draws test episodes only .* fold=4"):
        DeepglobeDataset(root, mode="train")
    with pytest.raises(ValueError, match="support_rule must be one of"):
        ISICDataset(root, support_rule="unique")
    write_isic(str(tmp_path), [3, 3, 3])
    os.remove(tmp_path / "ISIC" / "ISIC2018_Task1_Training_GroundTruth" / "ISIC_0000004_segmentation.png")
    with pytest.raises(FileNotFoundError, match=r"1 of the 18 files listed by .*ISIC2018_Task1-2_Training_Input/"
                                                r"\{1,2,3\} are missing, first: .*ISIC_0000004_segmentation.png"):
        ISICDataset(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="Deepglobe class 1 image folder not found"):
        DeepglobeDataset(str(tmp_path))


@pytest.mark.parametrize("shot", [1, 5])
def test_fss1000_on_patnets_protocol_draws_supports_among_1_to_10_as_its_test_py(tmp_path, shot):
    split = write_fss(str(tmp_path), ["cat", "bee", "abacus"], images=10)
    dataset = FSS1000Dataset(str(tmp_path), split, protocol="patnet", mode="test", shot=shot)
    stream = np.random.RandomState(0)
    expected = []
    for class_name in ("abacus", "bee", "cat"):  # data/fss.py: classes sorted, each folder's jpgs sorted
        for query in sorted(glob.glob(os.path.join(str(tmp_path), class_name, "*.jpg"))):
            supports = []
            while len(supports) < shot:
                number = stream.choice(range(1, 11), 1, replace=False)[0]
                support = os.path.join(os.path.dirname(query), f"{number}.jpg")
                if support != query:
                    supports.append(support)
            expected.append((query, supports))
    assert len(dataset) == 30 and [e[:2] for e in drawn(dataset)] == expected
    os.remove(tmp_path / "bee" / "7.jpg")
    with pytest.raises(ValueError, match=r"FSS-1000 class folder .*bee lacks 7.jpg: PATNet's protocol draws supports "
                                         r"among 1.jpg .. 10.jpg"):
        FSS1000Dataset(str(tmp_path), split, protocol="patnet", mode="test")


def test_fold_4_trains_on_all_20_pascal_classes_from_every_hsnet_training_split(tmp_path):
    labels = voc_labels(range(1, 21), per_class=2)
    write_voc(str(tmp_path), labels)
    names = list(labels)
    splits = {"trn": {f: [(n, int(n[5:7])) for n in names if not 5 * f < int(n[5:7]) <= 5 * f + 5]
                      for f in range(4)}}
    splits_dir = write_hsnet_pascal_splits(str(tmp_path), splits)
    train = PascalFewShotDataset(str(tmp_path), fold=4, mode="train", protocol="hsnet",
                                 split_file=os.path.join(splits_dir, "pascal", "trn", "fold{fold}.txt"))
    assert train.classes == tuple(range(1, 21)) and train.novel_classes == ()
    assert len(train.split_files) == 4 and train.plan.length == 3 * len(names)  # each line is in three trn files
    pfenet = PascalFewShotDataset(str(tmp_path), fold=4, mode="train", list_file=str(tmp_path / "lists" / "all.txt"),
                                  min_class_pixels=64)
    assert pfenet.plan.episode_classes == tuple(range(1, 21))
    with pytest.raises(ValueError, match="no episode can be drawn"):
        PascalFewShotDataset(str(tmp_path), fold=4, mode="test", list_file=str(tmp_path / "lists" / "all.txt"))


def test_each_family_has_a_fold_4_training_config_and_a_config_per_target():
    for family in ("crcnet", "pfenet", "hsnet", "sansa"):
        train = Config.fromfile(os.path.join(ROOT, "configs", f"{family}_pascal_fold4.py"))
        assert train.train_dataloader.dataset.fold == 4 and train.default_hooks.checkpoint.save_best == "mIoU"
        assert train.val_dataloader.dataset.split_file == "splits/fss/val.txt"
        for target, dataset_type in (("deepglobe", "DeepglobeDataset"), ("isic", "ISICDataset"),
                                     ("chest_xray", "ChestXrayDataset"), ("fss1000", "FSS1000Dataset")):
            cfg = Config.fromfile(os.path.join(ROOT, "configs", f"{family}_cdfss_{target}.py"))
            dataset = cfg.test_dataloader.dataset
            assert dataset.type == dataset_type and dataset.protocol == "patnet" and dataset.seed == 0
            assert dataset.support_rule == "independent" and dataset.eval_label == "transformed"
            assert dataset.pipeline == [dict(type="Resize", scale=(400, 400), keep_ratio=False)]
            assert dataset.get("num_episodes") == (None if target == "fss1000" else 600)
            assert "split_file" not in dataset or target == "fss1000"  # nothing left of the training config's test
            assert cfg.train_dataloader == train.train_dataloader and cfg.model == train.model


def test_gfsam_tests_each_target_untrained_at_its_1024_on_patnets_draws_with_its_isic_class_order():
    model = Config.fromfile(os.path.join(ROOT, "configs", "gfsam_fss1000.py")).model
    for target, dataset_type in (("deepglobe", "DeepglobeDataset"), ("isic", "ISICDataset"),
                                 ("chest_xray", "ChestXrayDataset"), ("fss1000", "FSS1000Dataset")):
        cfg = Config.fromfile(os.path.join(ROOT, "configs", f"gfsam_cdfss_{target}.py"))
        dataset = cfg.test_dataloader.dataset
        assert dataset.type == dataset_type and dataset.protocol == "patnet" and dataset.seed == 0
        assert dataset.pipeline == [dict(type="Resize", scale=(1024, 1024), keep_ratio=False, backend="pillow")]
        assert dataset.eval_label == "transformed" and dataset.get("num_episodes") == (
            None if target == "fss1000" else 600)
        assert dataset.get("categories") == (("1", "3", "2") if target == "isic" else None)
        assert cfg.model == model and cfg.train_dataloader is None


def test_isic_in_gfsams_class_order_draws_its_episodes_and_names_its_classes(cdfss):
    root, _, isic, _ = cdfss
    folders = [os.path.join(root, "ISIC", "ISIC2018_Task1-2_Training_Input", str(k)) for k in (1, 3, 2)]
    pools = [sorted(os.path.join(f, n) for n in names) for f, names in zip(folders, [isic[0], isic[2], isic[1]])]
    dataset = ISICDataset(root, shot=5, categories=("1", "3", "2"))
    assert drawn(dataset, 60) == patnet_reference(pools, 60, 5)
    assert dataset.metainfo["classes"] == ("nevus", "melanoma", "seborrheic_keratosis")
    with pytest.raises(ValueError, match=r"must order the class folders \('1', '2', '3'\), got \('1', '3'\)"):
        ISICDataset(root, categories=("1", "3"))


def test_a_target_config_tests_through_the_tool_with_seeds(cdfss, tmp_path, monkeypatch):
    from integrations.mmseg.engine.checkpoint import export_weights

    monkeypatch.setenv("OMP_NUM_THREADS", str(torch.get_num_threads()))
    config = os.path.join(ROOT, "configs", "crcnet_cdfss_deepglobe.py")
    tiny = {"model.model.encoder.backbone": "resnet10", "model.model.channels": 8, "model.model.refine_steps": 1}
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(tiny)
    from mmseg.registry import MODELS
    weights = export_weights(MODELS.build(cfg.model), str(tmp_path / "weights.pth"))
    tool = load_tool("test")
    out = tmp_path / "metrics.json"
    tool.main([config, weights, "--work-dir", str(tmp_path), "--out", str(out), "--episodes", "12", "--seeds", "0",
               "1", "--cfg-options", *[f"{k}={v}" for k, v in tiny.items()],
               f"test_dataloader.dataset.data_root={cdfss[0]}", "test_dataloader.num_workers=0",
               "test_dataloader.persistent_workers=False", "test_dataloader.dataset.pipeline.0.scale=(48,48)"])
    result = json.loads(out.read_text())
    assert [run["seed"] for run in result["runs"]] == [0, 1]
    assert all(run["metrics"]["episodes"] == 12 for run in result["runs"])
    assert set(result["runs"][0]["class_IoU"]) == {"agriculture", "urban", "rangeland", "forest", "water", "barren"}
