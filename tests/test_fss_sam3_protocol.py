"""FSS-SAM3's own episodes (protocol 'fss_sam3', issue 30) on generated VOC2012 and COCO layouts: its pool and draw
rules, its support boxes (PASCAL's largest instance, COCO's instance drawn from a stream the folds share), supports as
box rectangles, queries labelled with nothing ignored; and tools/test.py on a sam3_pascal config end to end.
(Its replay against FSS-SAM3's own dataset classes: python -m integrations.sam3.protocol_check.)"""
import json
import os
import random
import textwrap

import numpy as np
import pytest
from PIL import Image

import integrations.mmseg  # noqa: F401  (registers the host's types)
from integrations.mmseg.datasets import FssSam3CocoDataset, FssSam3PascalDataset
from integrations.sam3.boxes import mask_box
from integrations.sam3.equivalence import TINY_CANVAS, TINY_SAM3_ARGS
from tests.fss_sam3_layouts import write_coco, write_voc
from tests.sam3_fixtures import tiny_fss_sam3
from tests.test_sam3 import meta_file
from tests.test_tools import ROOT, _run


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("fss_sam3_data")
    return write_voc(str(root)), write_coco(str(root))


def read(path):
    return np.array(Image.open(path))


def test_pascal_episodes_follow_fss_sam3s_rules_and_boxes(layouts):
    voc, _ = layouts
    dataset = FssSam3PascalDataset(data_root=voc, fold=1, shot=2)
    assert len(dataset) == 1000 and dataset.seed == 123
    assert {dataset.episode(i)[1] for i in range(1000)} <= set(range(6, 11))
    for index in range(0, 1000, 97):
        query, category, supports = dataset.episode(index)
        assert len(set(supports)) == 2 and query not in supports
        query_label = read(dataset.samples[query].label_path)
        assert (query_label == category).any()
        for support, box in zip(supports, dataset.support_boxes(index)):
            name = os.path.splitext(os.path.basename(dataset.samples[support].img_path))[0]
            semantic = read(dataset.samples[support].label_path) == category
            assert semantic.sum() > 1000
            objects = read(os.path.join(voc, "SegmentationObject", name + ".png"))
            areas = {int(i): (objects == i).sum() for i in np.unique(objects[semantic]) if i not in (0, 255)}
            largest = max(areas, key=lambda i: (areas[i], -i))
            assert box == mask_box((objects == largest) & semantic)
    one_shot = FssSam3PascalDataset(data_root=voc, fold=1, shot=1)
    for index in range(0, 1000, 101):
        item, (query, category, _) = one_shot[index], one_shot.episode(index)
        label = item["inputs"]["support_labels"][0].numpy()
        assert mask_box(label) == one_shot.support_boxes(index)[0]  # the rectangle gives its box back exactly
        truth = item["data_samples"].gt_sem_seg.data[0].numpy()
        query_label = read(one_shot.samples[query].label_path)
        assert set(np.unique(truth)) <= {0, 1} and np.array_equal(truth == 1, query_label == category)
    assert dataset.episode(5) == FssSam3PascalDataset(data_root=voc, fold=1, shot=2).episode(5)
    assert [dataset.episode(i) for i in range(20)] != [
        FssSam3PascalDataset(data_root=voc, fold=1, shot=2, seed=7).episode(i) for i in range(20)]


def test_coco_boxes_come_from_a_stream_the_folds_share(layouts):
    _, coco = layouts
    with open(os.path.join(coco, "annotations", "instances_val2014.json")) as handle:
        annotations = json.load(handle)["annotations"]
    dataset = FssSam3CocoDataset(data_root=coco, fold=1, shot=1)
    category_ids = dataset.category_ids
    assert {dataset.episode(i)[1] for i in range(1000)} <= set(range(2, 81, 4))
    for index in range(0, 1000, 111):
        query, category, (support,) = dataset.episode(index)
        image = dataset.image_id_of[dataset.samples[support].img_path]
        valid = [a["bbox"] for a in annotations if a["image_id"] == image and a["category_id"] ==
                 category_ids[category - 1] and a["area"] > 1000 and not a["iscrowd"]]
        assert dataset.support_boxes(index)[0] in valid
    # fold 1's boxes are drawn after fold 0's from Python's random, seeded once (setup_seed(0)) before fold 0
    fold_zero = FssSam3CocoDataset(data_root=coco, fold=0, shot=1)

    def valid(data, index):
        _, category, (support,) = data.episode(index)
        image = data.image_id_of[data.samples[support].img_path]
        return [a["bbox"] for a in annotations if a["image_id"] == image and a["category_id"] ==
                category_ids[category - 1] and a["area"] > 1000 and not a["iscrowd"]]
    shared, fresh = random.Random(0), random.Random(0)
    for index in range(1000):
        shared.choice(valid(fold_zero, index))
    after_fold_zero = [[shared.choice(valid(dataset, index))] for index in range(1000)]
    on_its_own = [[fresh.choice(valid(dataset, index))] for index in range(1000)]
    assert [dataset.support_boxes(index) for index in range(1000)] == after_fold_zero != on_its_own


def test_coco_queries_count_crowds_as_background_and_k_supports_stack(layouts):
    _, coco = layouts
    dataset = FssSam3CocoDataset(data_root=coco, fold=0, shot=5, num_episodes=4)
    item = dataset[2]
    assert tuple(item["inputs"]["supports"].shape) == (5, 3, 1008, 1008)
    truth = item["data_samples"].gt_sem_seg.data[0].numpy()
    assert set(np.unique(truth)) <= {0, 1} and truth.any()
    with pytest.raises(ValueError, match="fewer than num_episodes=1001"):
        FssSam3CocoDataset(data_root=coco, fold=0, shot=1, num_episodes=1001)
    with pytest.raises(ValueError, match="draws test episodes only"):
        FssSam3CocoDataset(data_root=coco, fold=0, mode="train")


CONFIG = textwrap.dedent('''
    _base_ = [{config!r}]
    model = dict(model=dict(sam3_args={args!r}, canvas_size={canvas}, score_threshold=0.2))
    test_dataloader = dict(num_workers=0, persistent_workers=False,
                           dataset=dict(data_root={voc!r}, num_episodes=3))
''')


def test_the_pascal_config_tests_fss_sam3s_episodes_end_to_end(layouts, tmp_path):
    voc, _ = layouts
    config = tmp_path / "sam3_pascal_tiny.py"
    config.write_text(CONFIG.format(config=os.path.join(ROOT, "configs", "sam3_pascal_fold0.py"),
                                    args=TINY_SAM3_ARGS, canvas=TINY_CANVAS, voc=voc))
    weights = meta_file(tiny_fss_sam3(), tmp_path / "sam3.pt")
    _run(["tools/test.py", str(config), "--work-dir", str(tmp_path), "--out", str(tmp_path / "metrics.json"),
          "--cfg-options", f"sam3_weights={weights}"])
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert result["metrics"]["episodes"] == 3 and 0 <= result["metrics"]["mIoU"] <= 100
