"""tools/dataset_converters/deepglobe.py: the Deepglobe download -> PATNet's tiled per-class layout (issue 27)."""
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

import integrations.mmseg  # noqa: F401  (registers the datasets)
from integrations.mmseg.datasets import DeepglobeDataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "dataset_converters", "deepglobe.py")
# Deepglobe's colours (RGB, its readme); PATNet's folders: 1 agriculture, 2 urban, 3 rangeland, 4 forest, 5 water,
# 6 barren (its labelset compared with OpenCV's BGR pixels); unknown (black) is in no folder
RGB = {"urban": (0, 255, 255), "agriculture": (255, 255, 0), "rangeland": (255, 0, 255), "forest": (0, 255, 0),
       "water": (0, 0, 255), "barren": (255, 255, 255), "unknown": (0, 0, 0)}
FOLDERS = ["agriculture", "urban", "rangeland", "forest", "water", "barren"]
SIZE = (50, 46)  # not a multiple of 6: PATNet's int(i * H / 6) cuts give tiles of 8 and 9 rows, 7 and 8 columns


def _bounds(size):
    return [(i * size // 6, (i + 1) * size // 6) for i in range(6)]


def _mask(seed):
    """Per tile: one colour (dropped), two in halves (kept), or one colour and a 2-pixel speck (dropped: < 4.8%)."""
    rng = np.random.default_rng(seed)
    names = list(RGB)
    mask = np.zeros((*SIZE, 3), np.uint8)
    for i, (top, bottom) in enumerate(_bounds(SIZE[0])):
        for j, (left, right) in enumerate(_bounds(SIZE[1])):
            first, second = rng.choice(len(names), 2, replace=False)
            mask[top:bottom, left:right] = RGB[names[first]]
            if (i + j) % 3 == 1:
                mask[top:bottom, left:(left + right) // 2] = RGB[names[second]]
            elif (i + j) % 3 == 2:
                mask[top, left:left + 2] = RGB[names[second]]
    mask[0:8, 7:11], mask[0:8, 11:15] = RGB["agriculture"], RGB["urban"]  # tile (0, 1): agriculture | urban
    return mask


@pytest.fixture
def download(tmp_path):
    folder = tmp_path / "deepglobe" / "train"  # Kaggle's mirror; the challenge's land-train/ alike
    folder.mkdir(parents=True)
    masks = {}
    for seed, image_id in enumerate(("101", "2044")):
        pixels = np.random.default_rng(seed).integers(0, 255, size=(*SIZE, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"{image_id}_sat.jpg"), pixels)
        masks[image_id] = _mask(seed)
        Image.fromarray(masks[image_id]).save(folder / f"{image_id}_mask.png")
    (folder / "metadata.csv").write_text("image_id,split\n")
    return tmp_path, folder, masks


def _run(*args):
    return subprocess.run([sys.executable, TOOL, *map(str, args)], capture_output=True, text=True, timeout=300)


def _expected(folder, masks):
    """{(class folder, tile name): binary mask} by preprocess.py's rules, computed here from the RGB masks."""
    expected = {}
    for image_id, mask in masks.items():
        for i, (top, bottom) in enumerate(_bounds(SIZE[0])):
            for j, (left, right) in enumerate(_bounds(SIZE[1])):
                tile = mask[top:bottom, left:right].reshape(-1, 3)
                colours, counts = np.unique(tile, axis=0, return_counts=True)
                if len(colours) < 2 or counts.min() / len(tile) <= 0.048:
                    continue
                for k, name in enumerate(FOLDERS, 1):
                    hit = np.all(mask[top:bottom, left:right] == RGB[name], axis=-1)
                    if hit.any():
                        expected[(k, f"{image_id}_sat_{i}{j}")] = hit
    return expected


def _written(out):
    found = {}
    for k in range(1, 7):
        base = out / "Deepglobe" / str(k) / "test"
        for name in sorted(os.listdir(base / "groundtruth")):
            found[(k, name[:-4])] = cv2.imread(str(base / "groundtruth" / name), cv2.IMREAD_GRAYSCALE) == 255
            assert (base / "origin" / f"{name[:-4]}.jpg").is_file()
    return found


def test_tiles_are_cut_filtered_and_sorted_by_class_as_patnets_preprocess(download):
    tmp_path, folder, masks = download
    result = _run(tmp_path / "deepglobe", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    expected, written = _expected(folder, masks), _written(tmp_path / "out")
    assert written.keys() == expected.keys() and len(expected) > 10
    assert all(np.array_equal(written[key], expected[key]) for key in expected)
    # folder 1 is agriculture: the left half of tile (0, 1) of image 101, folder 2 urban: its right half
    assert written[(1, "101_sat_01")][:, :4].all() and not written[(1, "101_sat_01")][:, 4:].any()
    assert written[(2, "101_sat_01")][:, 4:].all()
    image = cv2.imread(str(folder / "101_sat.jpg"))
    tile = cv2.imread(str(tmp_path / "out" / "Deepglobe" / "1" / "test" / "origin" / "101_sat_01.jpg"))
    assert np.array_equal(tile, cv2.imdecode(cv2.imencode(".jpg", image[0:8, 7:15])[1], cv2.IMREAD_COLOR))
    counts = [sum(k == folder_id for k, _ in expected) for folder_id in range(1, 7)]
    assert f"2 images -> 72 tiles, {len({name for _, name in expected})} kept" in result.stdout
    assert f"tiles per class folder: {', '.join(f'{k}: {n}' for k, n in enumerate(counts, 1))}" in result.stdout
    dataset = DeepglobeDataset(str(tmp_path / "out"), num_episodes=12)  # PATNet's loader reads the layout
    assert [len(dataset._pools[k]) for k in range(1, 7)] == counts


def test_worker_processes_write_the_same_files(download):
    tmp_path, _, _ = download
    assert _run(tmp_path / "deepglobe", tmp_path / "one").returncode == 0
    assert _run(tmp_path / "deepglobe", tmp_path / "two", "--nproc", "2").returncode == 0
    for folder, _, names in os.walk(tmp_path / "one"):
        for name in names:
            twin = os.path.join(str(tmp_path / "two"), os.path.relpath(os.path.join(folder, name), tmp_path / "one"))
            assert open(os.path.join(folder, name), "rb").read() == open(twin, "rb").read()


def test_an_image_without_its_mask_is_refused_naming_it(download):
    tmp_path, folder, _ = download
    os.remove(folder / "2044_mask.png")
    result = _run(tmp_path / "deepglobe", tmp_path / "out")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"1 images in {folder} have no _mask.png, first: {folder / '2044_sat.jpg'}" in result.stderr
    assert not (tmp_path / "out").exists()
    (folder / "2044_mask.png").write_bytes(b"not a png")
    result = _run(tmp_path / "deepglobe", tmp_path / "out", "--nproc", "2")  # raised in a worker process
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"cannot read the mask {folder / '2044_mask.png'}" in result.stderr


def test_a_stopped_conversion_leaves_a_tree_called_incomplete_until_a_rerun_finishes(download):
    """Before: a run stopped midway left half the tiles, which the datasets and check_dataset.py took as the data
    ('no problem found'), and its temporaries survived a later --overwrite run."""
    tmp_path, folder, _ = download
    good = (folder / "2044_mask.png").read_bytes()
    (folder / "2044_mask.png").write_bytes(b"not a png")  # image 101 is tiled, then 2044 fails
    assert _run(tmp_path / "deepglobe", tmp_path / "out").returncode == 1
    out = tmp_path / "out" / "Deepglobe"
    marker = out / ".conversion-incomplete"
    assert marker.is_file() and any((out / "1" / "test" / "origin").iterdir())
    with pytest.raises(ValueError, match=r"whose conversion did not finish \(.*\.conversion-incomplete: "
                                         r"tools/dataset_converters/deepglobe\.py started writing here"):
        DeepglobeDataset(str(tmp_path / "out"), num_episodes=12)
    leftover = out / "1" / "test" / "origin" / ".101_sat_01.jpg.partial-4242.jpg"  # a killed worker's temporary
    leftover.write_bytes(b"half")
    (folder / "2044_mask.png").write_bytes(good)
    assert _run(tmp_path / "deepglobe", tmp_path / "out", "--overwrite").returncode == 0
    assert not marker.exists() and not leftover.exists()
    DeepglobeDataset(str(tmp_path / "out"), num_episodes=12)


def test_upper_case_suffixes_convert_and_a_mask_without_its_image_is_refused(download):
    """Before: '_sat.JPG' images and masks without an image were skipped silently (0 images converted, exit 0)."""
    tmp_path, folder, masks = download
    os.rename(folder / "2044_sat.jpg", folder / "2044_sat.JPG")
    assert _run(tmp_path / "deepglobe", tmp_path / "out").returncode == 0
    written, expected = _written(tmp_path / "out"), _expected(folder, masks)  # both images, the upper-case one too
    assert written.keys() == expected.keys() and any(key[1].startswith("2044_") for key in written)
    assert all(np.array_equal(written[key], expected[key]) for key in expected)
    os.remove(folder / "2044_sat.JPG")
    result = _run(tmp_path / "deepglobe", tmp_path / "out2")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"1 masks in {folder} have no _sat.jpg, first: {folder / '2044_mask.png'}" in result.stderr


def test_an_earlier_run_is_kept_unless_overwrite_and_then_its_stale_tiles_are_removed(download):
    tmp_path, folder, _ = download
    assert _run(tmp_path / "deepglobe", tmp_path / "out").returncode == 0
    before = _written(tmp_path / "out")
    refused = _run(tmp_path / "deepglobe", tmp_path / "out")
    assert refused.returncode == 1
    assert re.search(rf"{2 * len(before)} files of the Deepglobe class folders already exist .*--overwrite",
                     refused.stderr)
    os.remove(folder / "2044_sat.jpg")  # the next run writes image 101's tiles only
    os.remove(folder / "2044_mask.png")
    replaced = _run(tmp_path / "deepglobe", tmp_path / "out", "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    after = _written(tmp_path / "out")
    assert set(after) == {key for key in before if key[1].startswith("101_")}
    stale = 2 * (len(before) - len(after))
    assert f"replaced {2 * len(before)} existing files" in replaced.stdout
    assert f"of which {stale} were not written again and are removed" in replaced.stdout
