"""tools/analysis/check_dataset.py on tiny trees with planted problems (issue 20, section 2)."""
import os
import re

import numpy as np
import pytest

from tests.datasets_fixtures import (
    voc_labels,
    write_chest_xray,
    write_coco_json,
    write_deepglobe,
    write_isic,
    write_palette_png,
    write_voc,
)
from tests.tool_modules import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tool():
    return load_tool("analysis/check_dataset")


@pytest.fixture
def tree(tmp_path):
    """Fold 0 (novel 1..5): training list of classes 6..20, test list of classes 1..5 (3 images each)."""
    root = str(tmp_path)
    labels = voc_labels(range(1, 21), per_class=3)
    write_voc(root, labels)
    lists = {}
    for split, classes in (("train", range(6, 21)), ("test", range(1, 6))):
        names = [n for n in labels if int(n[5:7]) in classes]
        lists[split] = tmp_path / f"{split}.txt"
        lists[split].write_text("".join(f"JPEGImages/{n}.jpg SegmentationClassAug/{n}.png\n" for n in names))
    config = tmp_path / "check.py"
    dataset = f"data_root={root!r}, min_class_pixels=64"
    config.write_text(
        f"_base_ = [{os.path.join(ROOT, 'configs', '_base_', 'datasets', 'pascal_5i.py')!r}]\n"
        f"train_dataloader = dict(dataset=dict({dataset}, list_file={str(lists['train'])!r}))\n"
        f"test_dataloader = dict(dataset=dict({dataset}, list_file={str(lists['test'])!r}))\n")
    return tmp_path, str(config)


def _rows(output, split):
    """{class id: (images, pool, queries, mean pixels)} from the split's table."""
    section = output.split(f"== {split}:")[1].split("\n== ")[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6 and cells[1].isdigit():
            rows[int(cells[1])] = tuple(cells[2:])
    return rows


def test_a_clean_tree_passes_with_the_counts_of_each_class(tree, capsys):
    _, config = tree
    assert _tool().main([config]) == []
    output = capsys.readouterr().out
    # each image holds one 20x20 object of its class (voc_labels)
    assert _rows(output, "train") == {c: ("3", "3", "3", "400") for c in range(6, 21)}
    assert _rows(output, "test") == {c: ("3", "3", "3", "400") for c in range(1, 6)}
    assert "5000 episodes (the number a test runs)" in output and "test.txt" in output
    assert "pfenet's protocol" in output and "no problem found" in output


def test_every_planted_problem_is_named_and_the_exit_status_is_1(tree, capsys):
    tmp_path, config = tree
    os.remove(tmp_path / "JPEGImages" / "2008_060001.jpg")  # a training image
    os.remove(tmp_path / "SegmentationClassAug" / "2008_020002.png")  # a test label
    bad = np.zeros((48, 64), np.uint8)
    bad[10:30, 10:30], bad[40:42, 0:5] = 7, 30  # 30 is no PASCAL class
    write_palette_png(str(tmp_path / "SegmentationClassAug" / "2008_070002.png"), bad)
    for name in os.listdir(tmp_path / "SegmentationClassAug"):  # class 5 loses every image: no test episode
        if name.startswith("2008_05"):
            write_palette_png(str(tmp_path / "SegmentationClassAug" / name), np.zeros((48, 64), np.uint8))
    with pytest.raises(SystemExit) as exit_info:
        _tool().main([config, "--fold", "0"])
    assert exit_info.value.code == 1
    problems = capsys.readouterr().out.split("problem(s):")[1]
    assert re.search(r"1 files listed by .*train.txt are missing: .*JPEGImages/2008_060001.jpg", problems)
    assert re.search(r"1 files listed by .*test.txt are missing: .*SegmentationClassAug/2008_020002.png", problems)
    assert re.search(r"1 labels hold values outside .*2008_070002.png \[30\]", problems)
    assert "test: classes [5] of the split have no episode" in problems
    assert len(problems.strip().splitlines()) == 4


def test_another_fold_is_checked_with_fold(tree, capsys):
    _, config = tree
    with pytest.raises(SystemExit):
        _tool().main([config, "--fold", "1"])  # fold 1: novel 6..10, the test list holds none of them
    output = capsys.readouterr().out
    assert set(_rows(output, "train")) == set(range(1, 6)) | set(range(11, 21))
    assert "test dataset (PascalFewShotDataset) cannot be built: " in output


def test_coco_read_from_the_official_instances_json_is_checked_through_cfg_options(tmp_path, capsys):
    # fold 0: novel classes 1, 5, 9, ...; two images of novel class 1 and two of base classes 2 and 3
    ann_file = write_coco_json(str(tmp_path), {"a.jpg": [1], "b.jpg": [1, 2], "c.jpg": [2, 3], "d.jpg": [3, 2]})
    config = tmp_path / "coco.py"
    config.write_text(f"_base_ = [{os.path.join(ROOT, 'configs', '_base_', 'datasets', 'coco_20i.py')!r}]\n")
    json_source = [f"data_root={tmp_path}", f"ann_file={ann_file}", "list_file=None", "img_dir=val2014",
                   "min_class_pixels=64"]
    options = [f"{split}_dataloader.dataset.{option}" for split in ("train", "test") for option in json_source]
    with pytest.raises(SystemExit):  # most of COCO's 80 classes have no image here
        _tool().main([str(config), "--cfg-options", *options])
    output = capsys.readouterr().out
    assert f"read from: {ann_file}" in output
    assert _rows(output, "test")[1] == ("2", "2", "2", "270")  # the json area of each object (write_coco_json)
    assert _rows(output, "train")[2] == ("3", "3", "3", "270")
    assert "20000 episodes (the number a test runs)" in output


def test_an_empty_image_is_a_problem_line_and_the_split_is_still_checked(tree, capsys):
    tmp_path, config = tree
    (tmp_path / "JPEGImages" / "2008_010001.jpg").write_bytes(b"")  # a test image of class 1
    with pytest.raises(SystemExit) as exit_info:
        _tool().main([config])
    assert exit_info.value.code == 1
    output = capsys.readouterr().out
    problems = output.split("problem(s):")[1]
    assert re.search(r"1 bad files among those listed by .*test.txt: image .*JPEGImages/2008_010001.jpg is an "
                     r"empty file \(0 bytes\)", problems)
    assert "cannot be built" not in output and len(problems.strip().splitlines()) == 1
    assert _rows(output, "test")[1] == ("3", "3", "3", "400")  # the label is read; the image only checked


def test_collecting_records_what_class_pixel_counts_would_raise_and_only_inside_the_context(tmp_path):
    from integrations.mmseg.datasets.checks import class_pixel_counts, collecting_data_problems

    bad, empty = str(tmp_path / "bad.png"), tmp_path / "empty.png"
    label = np.zeros((8, 10), np.uint8)
    label[:2, :3], label[5:, :], label[0, 9] = 4, 255, 30  # 6 pixels of class 4, ignore, one 30 (no class)
    write_palette_png(bad, label)
    empty.write_bytes(b"")
    with collecting_data_problems() as problems:
        counts = class_pixel_counts([bad, str(empty), bad], 20, "labels")
    assert counts == [{4: 6}, {}, {4: 6}]
    assert problems.bad_values == {bad: [30]} and problems.label_counts == {bad: {4: 6}, str(empty): {}}
    assert list(problems.unreadable) == [str(empty)] and "empty file (0 bytes)" in problems.unreadable[str(empty)]
    with pytest.raises(ValueError, match=r"label .*bad.png holds values \[30\]"):
        class_pixel_counts([bad], 20, "labels")


# ---- the cross-domain targets in PATNet's layouts (issue 27) ---------------------------------------

def _cross_domain_config(tmp_path, target, root):
    """A target config as the family configs write it (the target's test set beside a training config's)."""
    config = tmp_path / f"{target}.py"
    config.write_text(
        f"_base_ = [{os.path.join(ROOT, 'configs', 'crcnet_pascal_fold4.py')!r}, "
        f"{os.path.join(ROOT, 'configs', '_base_', 'datasets', f'cdfss_{target}.py')!r}]\n"
        f"test_dataloader = {{{{_base_.{target}_test_dataloader}}}}\n")
    return [str(config), "--split", "test", "--cfg-options", f"test_dataloader.dataset.data_root={root}"]


@pytest.mark.parametrize("target, write, rows, missing", [
    ("deepglobe", lambda root: write_deepglobe(root, [3, 2, 4, 2, 2, 3]),
     {1: "3", 2: "2", 3: "4", 4: "2", 5: "2", 6: "3"}, os.path.join("Deepglobe", "3", "test", "groundtruth")),
    ("isic", lambda root: write_isic(root, [4, 2, 3]), {1: "4", 2: "2", 3: "3"},
     os.path.join("ISIC", "ISIC2018_Task1_Training_GroundTruth")),
    ("chest_xray", lambda root: write_chest_xray(root, shenzhen=5, montgomery=2), {1: "5"},
     os.path.join("LungSegmentation", "CXR_png")),
])
def test_a_cross_domain_target_is_checked_per_class_and_a_missing_file_is_named(tmp_path, capsys, target, write,
                                                                                 rows, missing):
    root = str(tmp_path / "cdfss")
    write(root)
    config = _cross_domain_config(tmp_path, target, root)
    assert _tool().main(config) == []
    output = capsys.readouterr().out
    assert "patnet's protocol" in output and "600 episodes (the number a test runs)" in output
    assert "== train" not in output
    # every image of a class is in its pool and may be a query; each mask holds one object of known size
    assert {c: cells[:3] for c, cells in _rows(output, "test").items()} == {c: (n, n, n) for c, n in rows.items()}
    folder = os.path.join(root, missing)
    os.remove(os.path.join(folder, sorted(os.listdir(folder))[0]))
    with pytest.raises(SystemExit) as exit_info:
        _tool().main(config)
    assert exit_info.value.code == 1
    problems = capsys.readouterr().out.split("problem(s):")[1]
    assert re.search(rf"1 files listed by .* are missing: {re.escape(folder)}", problems), problems
