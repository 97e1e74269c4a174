"""tools/dataset_converters/voc_aug.py on tiny VOC + SBD trees written here (issue 20, section 1)."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from integrations import conversion
from tests.datasets_fixtures import write_image, write_palette_png

scipy_io = pytest.importorskip("scipy.io", reason="SBD's .mat labels are written and read with scipy")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "dataset_converters", "voc_aug.py")
SIZE = (24, 32)
VOC_TRAIN, VOC_VAL = ["2007_000001", "2007_000002"], ["2007_000003", "2007_000004"]
SBD_TRAIN, SBD_VAL = ["2007_000002", "2008_000010", "2007_000003"], ["2008_000011", "2008_000010"]


def _label(seed: int, boundary: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 21, size=SIZE).astype(np.uint8)
    if boundary:
        label[rng.random(SIZE) < 0.1] = 255
    return label


def _write_ids(path, ids):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write("".join(f"{i}\n" for i in ids))


def _write_mat(path, label):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    gt = np.zeros((1, 1), dtype=[("Segmentation", object), ("Boundaries", object), ("CategoriesPresent", object)])
    gt[0, 0]["Segmentation"] = label
    gt[0, 0]["Boundaries"] = np.zeros((20, 1), object)
    gt[0, 0]["CategoriesPresent"] = np.unique(label[label > 0]).astype(np.uint8)
    scipy_io.savemat(path, {"GTcls": gt})


@pytest.fixture
def trees(tmp_path):
    """VOCdevkit/VOC2012 (palette PNGs with boundaries) and benchmark_RELEASE/dataset (GTcls .mat files)."""
    voc, sbd = tmp_path / "VOCdevkit" / "VOC2012", tmp_path / "benchmark_RELEASE" / "dataset"
    voc_labels, sbd_labels = {}, {}
    all_ids = sorted(set(VOC_TRAIN + VOC_VAL + SBD_TRAIN + SBD_VAL))
    for seed, image_id in enumerate(all_ids):
        write_image(str(voc / "JPEGImages" / f"{image_id}.jpg"), SIZE, seed)
    for seed, image_id in enumerate(VOC_TRAIN + VOC_VAL):
        voc_labels[image_id] = _label(seed, boundary=True)
        write_palette_png(str(voc / "SegmentationClass" / f"{image_id}.png"), voc_labels[image_id])
    for seed, image_id in enumerate(dict.fromkeys(SBD_TRAIN + SBD_VAL)):
        sbd_labels[image_id] = _label(100 + seed, boundary=False)
        _write_mat(str(sbd / "cls" / f"{image_id}.mat"), sbd_labels[image_id])
    _write_ids(str(voc / "ImageSets" / "Segmentation" / "train.txt"), VOC_TRAIN)
    _write_ids(str(voc / "ImageSets" / "Segmentation" / "val.txt"), VOC_VAL)
    _write_ids(str(sbd / "train.txt"), SBD_TRAIN)
    _write_ids(str(sbd / "val.txt"), SBD_VAL)
    return tmp_path, voc, sbd, voc_labels, sbd_labels


def _run(*args):
    return subprocess.run([sys.executable, TOOL, *map(str, args)], capture_output=True, text=True, timeout=120)


def _read_list(path):
    with open(path) as handle:
        return [line.split() for line in handle.read().splitlines()]


@pytest.mark.parametrize("prefer, nproc", [("voc", 1), ("sbd", 2)])
def test_labels_and_lists_equal_a_reference_built_from_the_same_inputs(trees, prefer, nproc):
    root, voc, sbd, voc_labels, sbd_labels = trees
    result = _run(root / "VOCdevkit", root / "benchmark_RELEASE", "--prefer", prefer, "--nproc", nproc,
                  "--list-dir", root / "lists")
    assert result.returncode == 0, result.stderr
    # reference: train = VOC train, then SBD train, then SBD val, minus VOC val, first occurrence kept
    train = []
    for image_id in VOC_TRAIN + SBD_TRAIN + SBD_VAL:
        if image_id not in VOC_VAL and image_id not in train:
            train.append(image_id)
    assert train == ["2007_000001", "2007_000002", "2008_000010", "2008_000011"]
    assert _read_list(root / "lists" / "train_aug.txt") == [
        [f"JPEGImages/{i}.jpg", f"SegmentationClassAug/{i}.png"] for i in train]
    assert _read_list(root / "lists" / "val.txt") == [
        [f"JPEGImages/{i}.jpg", f"SegmentationClassAug/{i}.png"] for i in VOC_VAL]
    written = sorted(os.listdir(voc / "SegmentationClassAug"))
    assert written == sorted(f"{i}.png" for i in train + VOC_VAL)
    from_voc = 0
    for image_id in train + VOC_VAL:
        if image_id in VOC_VAL or (image_id in voc_labels and (prefer == "voc" or image_id not in sbd_labels)):
            expected, from_voc = voc_labels[image_id], from_voc + 1
        else:
            expected = sbd_labels[image_id]
        with Image.open(voc / "SegmentationClassAug" / f"{image_id}.png") as image:
            assert image.mode == "L"
            np.testing.assert_array_equal(np.asarray(image), expected, err_msg=image_id)
    assert from_voc == (4 if prefer == "voc" else 3)  # 2007_000002 is labelled by both
    assert f"6 labels in {voc / 'SegmentationClassAug'} ({from_voc} from VOC, {6 - from_voc} from SBD)" in result.stdout
    assert "4 train-aug images" in result.stdout and "2 val images" in result.stdout
    assert "voc_sbd_merge_noduplicate.txt" in result.stdout


def test_help_states_the_precedence_rule():
    result = _run("--help")
    assert "VOC's own SegmentationClass label" in " ".join(result.stdout.split())
    assert "--prefer" in result.stdout


def _break_mat_variable(sbd):
    scipy_io.savemat(str(sbd / "cls" / "2008_000010.mat"), {"GTinst": np.zeros((2, 2))})
    return sbd / "cls" / "2008_000010.mat", "no struct GTcls with a field Segmentation"


def _break_mat_bytes(sbd):
    (sbd / "cls" / "2008_000011.mat").write_bytes(b"not a matlab file")
    return sbd / "cls" / "2008_000011.mat", "cannot read SBD label"


def _remove_mat(sbd):
    os.remove(sbd / "cls" / "2008_000011.mat")
    return sbd / "cls" / "2008_000011.mat", "label of 2008_000011 not found"


def _mat_with_bad_values(sbd):
    _write_mat(str(sbd / "cls" / "2008_000010.mat"), np.full(SIZE, 30, np.uint8))
    return sbd / "cls" / "2008_000010.mat", r"holds values \[30\]"


def _mat_of_wrong_size(sbd):
    _write_mat(str(sbd / "cls" / "2008_000010.mat"), np.zeros((5, 5), np.uint8))
    return sbd / "cls" / "2008_000010.mat", "is 5x5 but its image"


def _voc_rgb_png(voc):
    path = voc / "SegmentationClass" / "2007_000001.png"
    Image.fromarray(np.zeros((*SIZE, 3), np.uint8)).save(path)
    return path, "is a 'RGB' PNG"


def _voc_missing_png(voc):
    os.remove(voc / "SegmentationClass" / "2007_000004.png")
    return voc / "SegmentationClass" / "2007_000004.png", "label of 2007_000004 not found"


def _voc_missing_image(voc):
    os.remove(voc / "JPEGImages" / "2008_000011.jpg")
    return voc / "JPEGImages" / "2008_000011.jpg", "image of 2008_000011 not found"


def _voc_missing_list(voc):
    os.remove(voc / "ImageSets" / "Segmentation" / "val.txt")
    return voc / "ImageSets" / "Segmentation" / "val.txt", "id list not found"


@pytest.mark.parametrize("breaker", [_break_mat_variable, _break_mat_bytes, _remove_mat, _mat_with_bad_values,
                                     _mat_of_wrong_size, _voc_rgb_png, _voc_missing_png, _voc_missing_image,
                                     _voc_missing_list])
@pytest.mark.parametrize("nproc", [1, 2])  # an error inside a worker process reaches the user the same way
def test_missing_or_malformed_input_is_refused_naming_the_file(trees, breaker, nproc):
    root, voc, sbd, _, _ = trees
    path, message = breaker(sbd if breaker.__name__.startswith(("_break", "_remove", "_mat")) else voc)
    result = _run(root / "VOCdevkit", root / "benchmark_RELEASE", "--list-dir", root / "lists", "--nproc", nproc)
    assert result.returncode != 0
    assert str(path) in result.stderr and re.search(message, result.stderr), result.stderr
    assert "Traceback" not in result.stderr


# ---- ids that leave the dataset, earlier output, text encodings (issue 27, faults 8, 9, 11) ----------

@pytest.mark.parametrize("bad_id", ["../../escaped", "/tmp/absolute_id", "sub/dir", ".."])
def test_an_id_that_is_not_a_plain_file_name_is_refused_and_nothing_is_written(trees, bad_id):
    root, voc, sbd, _, _ = trees
    _write_ids(str(sbd / "val.txt"), SBD_VAL + [bad_id])
    result = _run(root / "VOCdevkit", root / "benchmark_RELEASE", "--list-dir", root / "lists")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"id list {sbd / 'val.txt'} line 3: {bad_id!r} is not a plain image id" in result.stderr
    assert not (voc / "SegmentationClassAug").exists() and not (root / "lists").exists()
    assert not os.path.exists(os.path.normpath(voc / "SegmentationClassAug" / f"{bad_id}.png"))


def test_earlier_output_is_kept_unless_overwrite_is_given_and_then_what_it_replaced_is_said(trees):
    root, voc, _, _, _ = trees
    args = [root / "VOCdevkit", root / "benchmark_RELEASE", "--list-dir", root / "lists"]
    assert _run(*args).returncode == 0
    label = voc / "SegmentationClassAug" / "2007_000001.png"
    label.write_bytes(b"an earlier run's file")
    refused = _run(*args)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert re.search(r"8 files of the SegmentationClassAug labels and lists already exist \(first: .*\.png.*\): "
                     r"pass --overwrite", refused.stderr), refused.stderr
    assert label.read_bytes() == b"an earlier run's file"  # untouched
    replaced = _run(*args, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert "replaced 8 existing files (first: " in replaced.stdout
    with Image.open(label) as image:
        assert image.mode == "L" and image.size == (SIZE[1], SIZE[0])
    leftovers = [name for folder, _, names in os.walk(root) for name in names if ".partial-" in name]
    assert leftovers == []


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_a_write_that_fails_midway_leaves_the_old_file_whole_and_no_temporary(tmp_path, failure):
    path = tmp_path / "label.png"
    path.write_bytes(b"old")

    def write_half(temporary):
        with open(temporary, "wb") as handle:
            handle.write(b"ne")
        raise failure

    with pytest.raises(type(failure)):
        conversion.write_atomically(str(path), write_half)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["label.png"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])  # each writes a byte-order mark (Windows editors)
def test_an_id_list_with_a_byte_order_mark_converts_as_without_it(trees, encoding):
    root, voc, _, _, _ = trees
    path = voc / "ImageSets" / "Segmentation" / "val.txt"
    path.write_text("\r\n".join(VOC_VAL) + "\r\n", encoding=encoding)
    result = _run(root / "VOCdevkit", root / "benchmark_RELEASE", "--list-dir", root / "lists")
    assert result.returncode == 0, result.stderr
    assert _read_list(root / "lists" / "val.txt") == [
        [f"JPEGImages/{i}.jpg", f"SegmentationClassAug/{i}.png"] for i in VOC_VAL]


@pytest.mark.parametrize("encoding, named", [("utf-16-le", "UTF-16 little-endian without a byte-order mark"),
                                             ("cp1252", "Windows-1252")])
def test_an_id_list_in_another_encoding_is_named_with_its_file(trees, encoding, named):
    root, voc, _, _, _ = trees
    path = voc / "ImageSets" / "Segmentation" / "train.txt"
    path.write_bytes("\n".join(VOC_TRAIN + ["caf\xe9"]).encode(encoding))
    result = _run(root / "VOCdevkit", root / "benchmark_RELEASE", "--list-dir", root / "lists")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"id list {path} is not UTF-8 text" in result.stderr and named in result.stderr
