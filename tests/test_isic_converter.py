"""tools/dataset_converters/isic.py: ISIC 2018's training download -> PATNet's class folders (issue 27)."""
import os

import pytest

import integrations.mmseg  # noqa: F401  (registers the datasets)
from integrations.mmseg.datasets import ISICDataset
from tests.datasets_fixtures import _write_mask, write_image
from tests.tool_modules import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONVERTERS = os.path.join(ROOT, "tools", "dataset_converters")
CLASSES = {"ISIC_0000000": "nevus", "ISIC_0000001": "melanoma", "ISIC_0000003": "nevus",
           "ISIC_0000004": "seborrheic_keratosis", "ISIC_0000006": "melanoma", "ISIC_0000007": "nevus",
           "ISIC_0000008": "seborrheic_keratosis"}


@pytest.fixture
def download(tmp_path):
    """The challenge's two zips unpacked into cdfss/ISIC, and a class file shaped as PATNet's class_id.csv."""
    isic = tmp_path / "cdfss" / "ISIC"
    for seed, image_id in enumerate(CLASSES):
        write_image(str(isic / "ISIC2018_Task1-2_Training_Input" / f"{image_id}.jpg"), (20, 24), seed)
        _write_mask(str(isic / "ISIC2018_Task1_Training_GroundTruth" / f"{image_id}_segmentation.png"), (20, 24), seed)
    csv = tmp_path / "class_id.csv"
    csv.write_bytes(("ID,Class\r\n" + "".join(f"{i},{c}\r\n" for i, c in CLASSES.items())).encode())
    return tmp_path, isic, csv


@pytest.fixture
def tool():
    return load_tool("dataset_converters/isic")


def _folder(isic, k):
    return sorted(os.listdir(isic / "ISIC2018_Task1-2_Training_Input" / str(k)))


def test_images_are_linked_into_patnets_class_folders_and_the_dataset_reads_them(download, tool, capsys):
    tmp_path, isic, csv = download
    tool.main([str(isic), str(csv)])
    expected = {k: sorted(f"{i}.jpg" for i, c in CLASSES.items() if c == name)
                for k, name in enumerate(("nevus", "seborrheic_keratosis", "melanoma"), 1)}
    assert {k: _folder(isic, k) for k in (1, 2, 3)} == expected
    source = isic / "ISIC2018_Task1-2_Training_Input" / "ISIC_0000001.jpg"
    linked = isic / "ISIC2018_Task1-2_Training_Input" / "3" / "ISIC_0000001.jpg"
    assert os.stat(source).st_ino == os.stat(linked).st_ino  # a hard link, not a copy
    assert "1 (nevus): 3, 2 (seborrheic_keratosis): 2, 3 (melanoma): 2" in capsys.readouterr().out
    dataset = ISICDataset(str(tmp_path / "cdfss"), num_episodes=6)
    assert [len(dataset._pools[k]) for k in (1, 2, 3)] == [3, 2, 2]
    tool.main([str(isic), str(csv), "--copy", "--overwrite"])
    assert os.stat(source).st_ino != os.stat(linked).st_ino and linked.read_bytes() == source.read_bytes()


@pytest.mark.parametrize("row, message", [
    ("ISIC_0000009,basal_cell_carcinoma", "line 9: expected 'ISIC_<n>,CLASS' with CLASS one of nevus, "
                                          "seborrheic_keratosis, melanoma"),
    ("../../ISIC_0000009,nevus", "line 9: '../../ISIC_0000009' is not a plain image id"),
    ("ISIC_0000009,nevus", "1 of the 8 images .* lists are missing, first: .*ISIC_0000009.jpg"),
    # before: the image landed in two class folders silently
    ("ISIC_0000001,nevus", r"lists ISIC_0000001 twice: line 3 \(melanoma\) and line 9 \(nevus\); keep one row"),
])
def test_a_bad_class_file_is_refused_naming_the_line(download, tool, row, message):
    _, isic, csv = download
    csv.write_text(csv.read_text() + row + "\n")
    with pytest.raises(tool.ConversionError, match=message):
        tool.main([str(isic), str(csv)])
    assert not (isic / "ISIC2018_Task1-2_Training_Input" / "1").exists()


def test_a_class_file_with_no_row_is_refused(download, tool):
    """Before: a header-only class file converted nothing with exit 0."""
    _, isic, csv = download
    csv.write_text("ID,Class\n\n")
    with pytest.raises(tool.ConversionError, match=r"class_id\.csv lists no image under its header 'ID,Class'"):
        tool.main([str(isic), str(csv)])


def test_an_earlier_run_is_kept_unless_overwrite_which_removes_what_it_does_not_write_again(download, tool, capsys):
    _, isic, csv = download
    tool.main([str(isic), str(csv)])
    with pytest.raises(tool.ConversionError, match=r"7 files of the ISIC class folders already exist .*--overwrite"):
        tool.main([str(isic), str(csv)])
    csv.write_text(csv.read_text().replace("ISIC_0000004,seborrheic_keratosis", "ISIC_0000004,melanoma"))
    tool.main([str(isic), str(csv), "--overwrite"])
    assert _folder(isic, 2) == ["ISIC_0000008.jpg"] and "ISIC_0000004.jpg" in _folder(isic, 3)
    assert "replaced 7 existing files" in capsys.readouterr().out.split("of which 1 were not written again")[0]
