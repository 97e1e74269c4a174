"""Bad data is reported when a dataset is built or an image is read, naming the file and the problem (issue 10)."""
import json
import os
from fractions import Fraction

import numpy as np
import pytest

import integrations.mmseg  # noqa: F401
from integrations.mmseg.datasets import (
    CocoFewShotDataset,
    FSS1000Dataset,
    PascalFewShotDataset,
    load_plain_pickle,
    read_image,
)
from tests.datasets_fixtures import (
    blob_label,
    voc_labels,
    write_coco_json,
    write_coco_pngs,
    write_fss,
    write_image,
    write_palette_png,
    write_pickle,
    write_voc,
)


@pytest.fixture
def voc(tmp_path):
    return str(tmp_path), write_voc(str(tmp_path), voc_labels([1, 2], per_class=4))


def test_missing_files_fail_the_build_naming_the_first_and_the_count(voc):
    root, list_file = voc
    names = sorted(os.listdir(os.path.join(root, "JPEGImages")))
    for name in names[:3]:
        os.remove(os.path.join(root, "JPEGImages", name))
    os.remove(os.path.join(root, "SegmentationClassAug", names[5].replace(".jpg", ".png")))
    with pytest.raises(FileNotFoundError, match=rf"4 of the 16 files listed by .*all.txt are missing, first: "
                                                rf".*{names[0]}, .*{names[1]}"):
        PascalFewShotDataset(root, fold=0, list_file=list_file, mode="test")


def test_missing_files_of_hsnet_splits_fail_the_build(voc):
    root, _ = voc
    split = os.path.join(root, "fold0.txt")
    with open(split, "w") as handle:
        handle.write("2008_010000__01\n2099_000000__02\n")
    with pytest.raises(FileNotFoundError, match=r"2 of the 4 files listed by .*fold0.txt are missing, first: "
                                                r".*2099_000000.jpg"):
        PascalFewShotDataset(root, fold=0, split_file=split, protocol="hsnet", mode="test")


def test_a_truncated_jpeg_is_named(voc):
    root, list_file = voc
    dataset = PascalFewShotDataset(root, fold=0, list_file=list_file, mode="test", min_class_pixels=64)
    sample = dataset.samples[0]
    write_image(sample.img_path, (48, 64), 0)
    with open(sample.img_path, "rb") as handle:
        data = handle.read()
    with open(sample.img_path, "wb") as handle:
        handle.write(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"image .*{os.path.basename(sample.img_path)} is a truncated JPEG"):
        dataset.load(sample, 1)
    with pytest.raises(FileNotFoundError, match=r"image file not found: .*nothing.jpg"):
        read_image(os.path.join(root, "nothing.jpg"))


def test_a_label_value_that_is_no_class_nor_255_is_named(voc):
    root, list_file = voc
    bad = blob_label((48, 64), [(1, 4, 6, 24, 26), (21, 30, 30, 40, 40)])
    write_palette_png(os.path.join(root, "SegmentationClassAug", "2008_010000.png"), bad)
    with pytest.raises(ValueError, match=r"2008_010000.png holds values \[21\] that are neither a class .*0..20"):
        PascalFewShotDataset(root, fold=0, list_file=list_file, mode="test")  # PFENet indexes every label
    split = os.path.join(root, "fold0.txt")
    with open(split, "w") as handle:
        handle.write("2008_010000__01\n2008_010001__01\n")
    dataset = PascalFewShotDataset(root, fold=0, split_file=split, protocol="hsnet", mode="test")
    with pytest.raises(ValueError, match=r"2008_010000.png holds values \[21\]"):
        dataset[0]  # HSNet's protocol reads labels per episode


@pytest.mark.parametrize("content, problem", [(b"", "is empty"), (b"\n  \n", "is empty"),
                                              ("a.jpg b.png\n".encode("utf-16-le"),
                                               "is not UTF-8 text .*looks like UTF-16 little-endian without a "
                                               "byte-order mark"),
                                              ("caf\xe9.jpg b.png\n".encode("cp1252"),
                                               "is not UTF-8 text .*Windows-1252")])
def test_an_empty_list_or_one_in_another_encoding_is_named(voc, content, problem):
    root, list_file = voc
    with open(list_file, "wb") as handle:
        handle.write(content)
    with pytest.raises(ValueError, match=rf"image list .*all.txt {problem}"):
        PascalFewShotDataset(root, fold=0, list_file=list_file)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])  # each writes its byte-order mark
def test_a_list_saved_with_a_byte_order_mark_reads_as_without_it(tmp_path, encoding):
    split = write_fss(str(tmp_path), ["abacus", "bee"], images=2)
    plain = FSS1000Dataset(str(tmp_path), split, mode="test")
    with open(split, "w", encoding=encoding) as handle:
        handle.write("abacus\r\nbee\r\n")  # as a Windows editor saves it
    marked = FSS1000Dataset(str(tmp_path), split, mode="test")
    assert marked.class_names == plain.class_names == ("abacus", "bee")
    assert marked.samples == plain.samples


def test_a_coco_category_outside_the_file_and_a_corrupt_json_are_named(tmp_path):
    ann = write_coco_json(str(tmp_path), {"COCO_val2014_000000000001.jpg": (2,), "COCO_val2014_000000000002.jpg": (2,)})
    with open(ann) as handle:
        coco = json.load(handle)
    coco["annotations"][1]["category_id"] = 12  # one of COCO's unused ids
    with open(ann, "w") as handle:
        json.dump(coco, handle)
    with pytest.raises(ValueError, match=r"instances_val2014.json: annotation 2 of image 2 has category_id 12"):
        CocoFewShotDataset(str(tmp_path), fold=1, ann_file=ann, mode="test")
    with open(ann, "w") as handle:
        handle.write('{"images": [}')
    with pytest.raises(ValueError, match=r"instances_val2014.json is not valid JSON: .* line 1, column 13"):
        CocoFewShotDataset(str(tmp_path), fold=1, ann_file=ann, mode="test")


class Payload:
    def __reduce__(self):
        return (os.system, ("echo owned > owned.txt",))


@pytest.mark.parametrize("payload, refused", [(Payload(), r"(os|posix)\.system"),
                                              ({0: [Fraction(1, 3)]}, "fractions.Fraction")])
def test_the_split_loader_refuses_a_pickle_with_an_object_naming_file_and_global(tmp_path, payload, refused):
    path = write_pickle(str(tmp_path / "fold0.pkl"), payload)
    with pytest.raises(ValueError, match=rf"cannot read COCO split .*fold0.pkl: .*fold0.pkl asks for the global "
                                         rf"{refused}"):
        load_plain_pickle(path, "COCO split")
    assert not os.path.exists("owned.txt")
    plain = {0: ["train2014/a.jpg"], 4: [], "note": (1, 2.5, None)}
    assert load_plain_pickle(write_pickle(str(tmp_path / "plain.pkl"), plain), "COCO split") == plain


def test_a_coco_split_that_is_no_class_to_names_dict_is_named(tmp_path):
    write_coco_pngs(str(tmp_path), {"COCO_val2014_000000000001": np.ones((8, 8), np.uint8)}, folder="val2014")
    path = write_pickle(str(tmp_path / "fold0.pkl"), {"person": ["val2014/COCO_val2014_000000000001.jpg"]})
    with pytest.raises(ValueError, match=r"COCO split file .*fold0.pkl has the key 'person'; expected class indices"):
        CocoFewShotDataset(str(tmp_path), protocol="hsnet", split_file=path, mode="test")
