"""Writers of tiny datasets in the real on-disk layouts (VOC / PFENet lists / HSNet splits, COCO, FSS-1000)."""
from __future__ import annotations

import json
import os
import pickle
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image


def blob_label(size, blobs: Sequence[tuple]) -> np.ndarray:
    """A class-index label with rectangles ``(class_id, y0, x0, y1, x1)``."""
    label = np.zeros(size, np.uint8)
    for class_id, y0, x0, y1, x1 in blobs:
        label[y0:y1, x0:x1] = class_id
    return label


def write_image(path: str, size, seed: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    cv2.imwrite(path, rng.integers(0, 255, size=(*size, 3), dtype=np.uint8))


def write_palette_png(path: str, label: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = Image.fromarray(label, mode="P")
    palette = np.random.default_rng(0).integers(0, 255, size=768).tolist()
    image.putpalette(palette)
    image.save(path)


def write_voc(root: str, labels: Dict[str, np.ndarray]) -> str:
    """VOC2012 layout with PFENet's list file ``lists/all.txt``; returns the list's path."""
    lines = []
    for index, (name, label) in enumerate(labels.items()):
        write_image(os.path.join(root, "JPEGImages", f"{name}.jpg"), label.shape, index)
        write_palette_png(os.path.join(root, "SegmentationClassAug", f"{name}.png"), label)
        lines.append(f"JPEGImages/{name}.jpg SegmentationClassAug/{name}.png")
    list_file = os.path.join(root, "lists", "all.txt")
    os.makedirs(os.path.dirname(list_file), exist_ok=True)
    with open(list_file, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return list_file


def voc_labels(classes: Sequence[int], per_class: int = 4, size=(48, 64)) -> Dict[str, np.ndarray]:
    """``per_class`` images per class, each with a 20x20 object of the class (and 255 borders)."""
    labels = {}
    for class_id in classes:
        for k in range(per_class):
            label = blob_label(size, [(class_id, 4 + k, 6 + k, 24 + k, 26 + k)])
            label[0, :] = 255
            labels[f"2008_{class_id:02d}{k:04d}"] = label
    return labels


def write_fss(root: str, classes: Sequence[str], images: int = 3, size=(40, 40), split_name: str = "test.txt") -> str:
    """FSS-1000 class folders ``1.jpg..N.jpg`` + grey masks (a 20x15 object at 200, a 5x5 patch at 100)."""
    for index, name in enumerate(classes):
        for k in range(1, images + 1):
            write_image(os.path.join(root, name, f"{k}.jpg"), size, 100 * index + k)
            mask = np.zeros(size, np.uint8)
            mask[5:25, 5:20] = 200  # above the 128 threshold
            mask[30:35, 30:35] = 100  # below it: background
            Image.fromarray(mask).save(os.path.join(root, name, f"{k}.png"))
    split = os.path.join(root, split_name)
    with open(split, "w") as handle:
        handle.write("\n".join(classes) + "\n")
    return split


def write_hsnet_pascal_splits(root: str, folds: Dict[str, Dict[int, List[Tuple[str, int]]]]) -> str:
    """HSNet's ``splits/pascal/{trn,val}/fold{f}.txt`` (``IMAGEID__CLASS`` lines); returns the ``splits`` folder."""
    for split, by_fold in folds.items():
        for fold, lines in by_fold.items():
            path = os.path.join(root, "splits", "pascal", split, f"fold{fold}.txt")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                handle.write("".join(f"{name}__{class_id:02d}\n" for name, class_id in lines))
    return os.path.join(root, "splits")


def write_coco_pngs(root: str, labels: Dict[str, np.ndarray], folder: str = "train2014") -> List[str]:
    """COCO images ``{folder}/x.jpg`` with class-index masks ``annotations/{folder}/x.png``; returns the names."""
    names = []
    for index, (stem, label) in enumerate(labels.items()):
        write_image(os.path.join(root, folder, f"{stem}.jpg"), label.shape, index)
        write_palette_png(os.path.join(root, "annotations", folder, f"{stem}.png"), label)
        names.append(f"{folder}/{stem}.jpg")
    return names


def write_pickle(path: str, payload) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump(payload, handle)
    return path


def write_coco_json(root: str, image_classes: Dict[str, Sequence[int]], size=(40, 48)) -> str:
    """COCO instances json with 80 categories (ids 1..90 with COCO's gaps) and one box polygon per object."""
    category_ids = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
    images, annotations = [], []
    for image_id, (name, classes) in enumerate(image_classes.items(), 1):
        write_image(os.path.join(root, "val2014", name), size, image_id)
        images.append(dict(id=image_id, file_name=name, height=size[0], width=size[1]))
        for k, class_id in enumerate(classes):
            x0, y0 = 2 + 10 * k, 2
            polygon = [x0, y0, x0 + 9, y0, x0 + 9, y0 + 30, x0, y0 + 30]
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id, iscrowd=0, area=270.0,
                                    category_id=category_ids[class_id - 1], segmentation=[polygon],
                                    bbox=[x0, y0, 9, 30]))
    path = os.path.join(root, "annotations", "instances_val2014.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(dict(images=images, annotations=annotations,
                       categories=[dict(id=i, name=f"c{i}") for i in category_ids]), handle)
    return path


def _write_mask(path: str, size, seed: int) -> None:
    """A grey mask: a random rectangle at 200 (object, >= 128), a patch at 100 (background), 0 elsewhere."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    mask = np.zeros(size, np.uint8)
    y0, x0 = rng.integers(0, size[0] // 2), rng.integers(0, size[1] // 2)
    mask[y0:y0 + size[0] // 3, x0:x0 + size[1] // 3] = 200
    mask[-3:, -3:] = 100
    Image.fromarray(mask).save(path)


def write_deepglobe(root: str, per_class: Sequence[int], size=(24, 24)) -> List[List[str]]:
    """PATNet's ``Deepglobe/{k}/test/{origin/x.jpg, groundtruth/x.png}``; returns each class's image names."""
    names = []
    for k, count in enumerate(per_class, 1):
        folder = os.path.join(root, "Deepglobe", str(k), "test")
        names.append([f"{100 + i}_sat_{k}{i % 6}.jpg" for i in range(count)])
        for i, name in enumerate(names[-1]):
            write_image(os.path.join(folder, "origin", name), size, 10 * k + i)
            _write_mask(os.path.join(folder, "groundtruth", name.split(".")[0] + ".png"), size, 10 * k + i)
    return names


def write_isic(root: str, per_class: Sequence[int], size=(20, 28)) -> List[List[str]]:
    """PATNet's ``ISIC/ISIC2018_Task1-2_Training_Input/{1,2,3}/x.jpg`` and ``..._GroundTruth/x_segmentation.png``."""
    names, serial = [], 0
    for k, count in enumerate(per_class, 1):
        names.append([])
        for _ in range(count):
            stem = f"ISIC_{serial:07d}"
            serial += 1
            names[-1].append(f"{stem}.jpg")
            write_image(os.path.join(root, "ISIC", "ISIC2018_Task1-2_Training_Input", str(k), f"{stem}.jpg"), size,
                        serial)
            _write_mask(os.path.join(root, "ISIC", "ISIC2018_Task1_Training_GroundTruth", f"{stem}_segmentation.png"),
                        size, serial)
    return names


def write_chest_xray(root: str, shenzhen: int, montgomery: int = 0, size=(32, 26)) -> List[str]:
    """Kaggle's ``LungSegmentation/{CXR_png, masks}``: Shenzhen masks ``CHNCXR_x_mask.png``, Montgomery masks named
    like their image; returns the Shenzhen mask names."""
    folder = os.path.join(root, "LungSegmentation")
    names = []
    for i in range(shenzhen + montgomery):
        stem = f"CHNCXR_{i:04d}_{i % 2}" if i < shenzhen else f"MCUCXR_{i:04d}_0"
        os.makedirs(os.path.join(folder, "CXR_png"), exist_ok=True)
        grey = np.random.default_rng(i).integers(0, 255, size=size, dtype=np.uint8)
        Image.fromarray(grey).save(os.path.join(folder, "CXR_png", f"{stem}.png"))  # X-rays are grey PNGs
        mask_name = f"{stem}_mask.png" if i < shenzhen else f"{stem}.png"
        _write_mask(os.path.join(folder, "masks", mask_name), size, i)
        if i < shenzhen:
            names.append(mask_name)
    return names
