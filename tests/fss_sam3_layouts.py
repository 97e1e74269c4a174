"""Small VOC2012 and COCO 2014 val layouts made from a seed, for FSS-SAM3's protocol: classes in every fold, objects
above and below its 1000-pixel support threshold, several instances per image, VOC's 255 boundaries, COCO crowds."""
from __future__ import annotations

import json
import os

import numpy as np
from PIL import Image

# COCO's 80 category ids (1..90 without the 10 unused ones)
COCO_CATEGORY_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]


def _rectangles(rng, height, width, count):
    for _ in range(count):
        h, w = int(rng.integers(8, height // 1.4)), int(rng.integers(8, width // 1.4))
        y, x = int(rng.integers(0, height - h)), int(rng.integers(0, width - w))
        yield y, x, h, w


def write_voc(root, images: int = 120, seed: int = 0) -> str:
    """``root``/VOC2012 with JPEGImages, SegmentationClass, SegmentationObject (index PNGs) and the val list; the
    objects are of 8 classes (2 per fold), so that their pools hold enough images."""
    rng = np.random.default_rng(seed)
    voc = os.path.join(root, "VOC2012")
    for folder in ("JPEGImages", "SegmentationClass", "SegmentationObject", "ImageSets/Segmentation"):
        os.makedirs(os.path.join(voc, folder), exist_ok=True)
    names = []
    for index in range(images):
        name = f"2008_{index:06d}"
        height, width = int(rng.integers(60, 120)), int(rng.integers(60, 120))
        semantic, objects = np.zeros((height, width), np.uint8), np.zeros((height, width), np.uint8)
        for instance, (y, x, h, w) in enumerate(_rectangles(rng, height, width, int(rng.integers(1, 4))), start=1):
            category = int((1, 2, 6, 7, 11, 12, 16, 17)[int(rng.integers(0, 8))])
            semantic[y:y + h, x:x + w], objects[y:y + h, x:x + w] = category, instance
            semantic[y, x:x + w], objects[y, x:x + w] = 255, 255  # a boundary line
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(
            os.path.join(voc, "JPEGImages", name + ".jpg"))
        for folder, label in (("SegmentationClass", semantic), ("SegmentationObject", objects)):
            Image.fromarray(label).save(os.path.join(voc, folder, name + ".png"))
        names.append(name)
    with open(os.path.join(voc, "ImageSets", "Segmentation", "val.txt"), "w") as handle:
        handle.write("\n".join(names) + "\n")
    return voc


def write_coco(root, images: int = 160, seed: int = 0) -> str:
    """``root``/coco with val2014/ images and annotations/instances_val2014.json (polygons, areas, crowds); the
    objects are of the first 16 categories (4 per fold), so that their pools hold enough images."""
    rng = np.random.default_rng(seed)
    coco = os.path.join(root, "coco")
    os.makedirs(os.path.join(coco, "val2014"), exist_ok=True)
    os.makedirs(os.path.join(coco, "annotations"), exist_ok=True)
    entries, annotations = [], []
    for index in range(images):
        image_id = 1000 + 7 * index
        height, width = int(rng.integers(60, 110)), int(rng.integers(60, 110))
        file_name = f"COCO_val2014_{image_id:012d}.jpg"
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(
            os.path.join(coco, "val2014", file_name))
        entries.append(dict(id=image_id, file_name=file_name, height=height, width=width))
        main = int(rng.integers(0, 16))  # half the objects of an image are of one class: several instances
        for y, x, h, w in _rectangles(rng, height, width, int(rng.integers(1, 5))):
            polygon = [x, y, x + w, y, x + w, y + h, x, y + h]
            category = main if rng.random() < 0.5 else int(rng.integers(0, 16))
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id,
                                    category_id=int(COCO_CATEGORY_IDS[category]),
                                    segmentation=[[float(v) for v in polygon]], area=float(w * h),
                                    bbox=[float(x), float(y), float(w), float(h)], iscrowd=int(rng.random() < 0.1)))
    categories = [dict(id=category, name=f"class{category}", supercategory="thing") for category in COCO_CATEGORY_IDS]
    with open(os.path.join(coco, "annotations", "instances_val2014.json"), "w") as handle:
        json.dump(dict(images=entries, annotations=annotations, categories=categories), handle)
    return coco
