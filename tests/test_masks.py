"""Masks and labels read alike whatever the PNG mode: HSNet's grey >= 128 for masks, exact class ids for labels."""
import os

import numpy as np
import pytest
from PIL import Image

import integrations.mmseg  # noqa: F401
from integrations.mmseg.datasets import FSS1000Dataset, PascalFewShotDataset, read_binary_mask, read_label
from tests.datasets_fixtures import write_fss, write_image

OBJECT = np.zeros((12, 16), bool)
OBJECT[2:9, 3:11] = True


def _palette_image(indices: np.ndarray, colours) -> Image.Image:
    image = Image.fromarray(indices.astype(np.uint8), mode="P")
    image.putpalette([v for colour in colours for v in colour])
    return image


def _mask_in_mode(mode: str) -> Image.Image:
    """OBJECT as a mask image in ``mode``: white (or full scale) object on black."""
    grey = np.where(OBJECT, 255, 0).astype(np.uint8)
    if mode == "P":
        return _palette_image(OBJECT, [(0, 0, 0), (255, 255, 255)])
    if mode == "P-transparent-background":
        image = _palette_image(OBJECT, [(0, 0, 0), (255, 255, 255)])
        image.info["transparency"] = 0
        return image
    if mode == "1":
        return Image.fromarray(OBJECT)
    if mode == "I;16":
        return Image.fromarray(np.where(OBJECT, 65535, 0).astype(np.uint16))
    if mode == "I;16-small":  # 16-bit values above 255 whose low byte is < 128 (300 % 256 = 44)
        return Image.fromarray(np.where(OBJECT, 300, 0).astype(np.uint16))
    if mode == "RGBA-transparent-background":
        rgba = np.stack([grey] * 3 + [np.where(OBJECT, 255, 0).astype(np.uint8)], -1)
        return Image.fromarray(rgba, mode="RGBA")
    return Image.fromarray(grey, mode="L").convert(mode)


MODES = ["L", "LA", "RGB", "RGBA", "RGBA-transparent-background", "P", "P-transparent-background", "1", "I;16",
         "I;16-small"]


@pytest.mark.parametrize("mode", MODES)
def test_a_mask_is_the_object_in_every_png_mode(tmp_path, mode):
    path = str(tmp_path / "mask.png")
    _mask_in_mode(mode).save(path)
    assert np.array_equal(read_binary_mask(path), OBJECT.astype(np.uint8))


def test_a_mask_follows_hsnets_grey_conversion_for_colours(tmp_path):
    path = str(tmp_path / "voc_colours.png")  # VOC's palette: class 1 is dark red, grey 38 < 128
    _palette_image(np.where(OBJECT, 2, 0) + (~OBJECT & (np.arange(16) < 8)), [(0, 0, 0), (128, 0, 0), (255, 255, 255)]
                   ).save(path)
    hsnet = np.asarray(Image.open(path).convert("L")) >= 128
    assert np.array_equal(read_binary_mask(path), hsnet.astype(np.uint8)) and hsnet.any()


@pytest.mark.parametrize("mode, values", [("P", (0, 3, 15, 255)), ("L", (0, 7, 20, 255)), ("I;16", (0, 256, 300, 999)),
                                          ("RGB", (0, 4, 9, 255)), ("1", (0, 1, 0, 1))])
def test_a_label_keeps_its_class_ids_in_every_png_mode(tmp_path, mode, values):
    label = np.zeros((12, 16), np.int64)
    for k, value in enumerate(values):
        label[3 * k:3 * k + 3] = value
    path = str(tmp_path / "label.png")
    if mode == "P":
        _palette_image(label, [(k, 255 - k, 7) for k in range(256)]).save(path)
    elif mode == "I;16":
        Image.fromarray(label.astype(np.uint16)).save(path)
    elif mode == "1":
        Image.fromarray(label.astype(bool)).save(path)
    else:
        Image.fromarray(label.astype(np.uint8), mode="L").convert(mode).save(path)
    read = read_label(path)
    assert np.array_equal(read, label) and read.dtype == np.int32


def test_a_colour_coded_label_is_refused_by_its_values(tmp_path):
    label = np.zeros((48, 64, 3), np.uint8)
    label[4:30, 6:40] = (128, 0, 0)  # VOC's colour of class 1: grey 38
    os.makedirs(tmp_path / "SegmentationClassAug")
    write_image(str(tmp_path / "JPEGImages" / "2008_000001.jpg"), (48, 64), 0)
    Image.fromarray(label).save(str(tmp_path / "SegmentationClassAug" / "2008_000001.png"))
    (tmp_path / "list.txt").write_text("JPEGImages/2008_000001.jpg SegmentationClassAug/2008_000001.png\n")
    with pytest.raises(ValueError, match=r"2008_000001.png holds values \[38\] that are neither a class"):
        PascalFewShotDataset(str(tmp_path), list_file=str(tmp_path / "list.txt"))


@pytest.mark.parametrize("mode", ["P", "1", "I;16"])
def test_fss_episodes_find_the_object_in_palette_1_bit_and_16_bit_masks(tmp_path, mode):
    split = write_fss(str(tmp_path), ["abacus"], images=2, size=OBJECT.shape)
    for k in (1, 2):
        _mask_in_mode(mode).save(str(tmp_path / "abacus" / f"{k}.png"))
    item = FSS1000Dataset(str(tmp_path), split, mode="test")[0]
    assert np.array_equal(item["data_samples"].gt_sem_seg.data[0].numpy(), OBJECT)
    assert np.array_equal(item["inputs"]["support_labels"][0].numpy(), OBJECT)
