"""Episode pictures like the paper's Fig. 9, drawn through MMEngine's visualizer (every backend receives them).

Each picture shows the supports with their masks, the query with the prediction and with the ground truth.
Masks are tinted in their role's colour unless the object has a similar colour, then in the most distant
colour of :data:`PALETTE`, and outlined in black or white against the object, so they stay visible.
"""
from __future__ import annotations

import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.visualization import LocalVisBackend
from mmseg.registry import HOOKS

from crc_modules.labels import IGNORE_INDEX

SUPPORT_COLOUR = (0, 200, 0)  # BGR green
PREDICTION_COLOUR = (0, 0, 230)  # BGR red
TRUTH_COLOUR = (230, 120, 0)  # BGR blue
IGNORE_COLOUR = (128, 128, 128)
PALETTE = (PREDICTION_COLOUR, SUPPORT_COLOUR, TRUTH_COLOUR, (0, 220, 255), (255, 0, 255))  # + yellow, magenta
MIN_COLOUR_DISTANCE = 120.0  # a tint closer than this (BGR euclidean) to the object's mean colour is replaced
PICTURE_NAME = "episode"
OVERLAY_BAND_ROWS = 256  # rows blended at once in float32: a band of a 12000-wide photo is 37 MB


def visible_colour(preferred, image: np.ndarray, region: np.ndarray):
    """``preferred`` unless it is near the mean colour of ``image[region]``; then the most distant palette colour."""
    if not region.any():
        return preferred
    mean = np.asarray(cv2.mean(image, mask=region.view(np.uint8))[:3])  # no copy of the region's pixels
    distance = lambda colour: float(np.linalg.norm(np.asarray(colour, np.float32) - mean))  # noqa: E731
    return preferred if distance(preferred) >= MIN_COLOUR_DISTANCE else max(PALETTE, key=distance)


def overlay(image: np.ndarray, label: np.ndarray, colour=PREDICTION_COLOUR, alpha: float = 0.5) -> np.ndarray:
    """A BGR uint8 image with ``label == 1`` tinted (``colour``, or a visible one), ``IGNORE_INDEX`` greyed, outlined.

    Full-size work stays in uint8; the blend runs in bands of :data:`OVERLAY_BAND_ROWS` rows, so a photo of
    N pixels costs about 7 N bytes here (the output, the region mask, OpenCV's contour buffers), never a
    float copy (37 N bytes before).
    """
    if label.shape != image.shape[:2]:
        label = cv2.resize(label.astype(np.uint8), image.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    region = label == 1
    colour = visible_colour(colour, image, region)
    out = image.copy()
    for top in range(0, image.shape[0], OVERLAY_BAND_ROWS):
        band, band_label = out[top:top + OVERLAY_BAND_ROWS], label[top:top + OVERLAY_BAND_ROWS]
        for value, tint in ((1, colour), (IGNORE_INDEX, IGNORE_COLOUR)):
            where = band_label == value
            if where.any():
                blended = (1 - alpha) * band.astype(np.float32) + alpha * np.asarray(tint, np.float32)
                np.copyto(band, blended.astype(np.uint8), where=where[..., None])
    contours, _ = cv2.findContours(region.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    bright = region.any() and np.mean(cv2.mean(image, mask=region.view(np.uint8))[:3]) > 127
    cv2.drawContours(out, contours, -1, (0, 0, 0) if bright else (255, 255, 255), 3)
    cv2.drawContours(out, contours, -1, colour, 1)
    return out


def _titled(image: np.ndarray, title: str, height: int) -> np.ndarray:
    scale = height / image.shape[0]
    image = cv2.resize(image, (max(1, round(image.shape[1] * scale)), height), interpolation=cv2.INTER_LINEAR)
    bar = np.full((22, image.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, image], axis=0)


def episode_picture(supports: Sequence[np.ndarray], support_labels: Sequence[np.ndarray], query: np.ndarray,
                    prediction: np.ndarray, truth: Optional[np.ndarray], caption: str = "",
                    height: int = 240) -> np.ndarray:
    """One BGR row: each support with its mask (green), the query with the prediction (red) and the truth (blue)."""
    panels = [_titled(overlay(s, m, SUPPORT_COLOUR), f"support {i + 1}", height)
              for i, (s, m) in enumerate(zip(supports, support_labels))]
    panels.append(_titled(overlay(query, prediction, PREDICTION_COLOUR), "prediction", height))
    if truth is not None:
        panels.append(_titled(overlay(query, truth, TRUTH_COLOUR), "ground truth", height))
    gap = np.full((height + 22, 6, 3), 255, np.uint8)
    row = np.concatenate([p for panel in panels for p in (panel, gap)][:-1], axis=1)
    if caption:
        header = np.full((24, row.shape[1], 3), 255, np.uint8)
        cv2.putText(header, caption, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        row = np.concatenate([header, row], axis=0)
    return row


def _bgr(image: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(image.detach().cpu().numpy().transpose(1, 2, 0)).astype(np.uint8)


def _unpadded(array: np.ndarray, padded_shape, valid_shape) -> np.ndarray:
    """An array of the padded query's size cropped to its unpadded region (``valid_shape``); another size unchanged."""
    valid_h, valid_w = valid_shape
    return array[:valid_h, :valid_w] if array.shape[:2] == tuple(padded_shape) else array


def class_caption(episode: int, class_id, dataset_meta: Optional[dict]) -> str:
    """'episode 3  class 15 (person)': the class name when the dataset's metainfo lists ``classes``/``class_ids``."""
    meta = dataset_meta or {}
    names = dict(zip(meta.get("class_ids", ()), meta.get("classes", ())))
    name = f" ({names[class_id]})" if class_id in names else ""
    return f"episode {episode}  class {class_id}{name}"


def picture_destinations(visualizer) -> str:
    """Where the visualizer's backends put pictures: LocalVisBackend's image folder, other backends' save dirs."""
    places = []
    for name, backend in visualizer._vis_backends.items():  # MMEngine 0.10.7 offers no public iterator
        if isinstance(backend, LocalVisBackend):  # its image folder is relative to save_dir until first use
            places.append(f"{name}: {osp.join(backend._save_dir, backend._img_save_dir)}")
        else:
            places.append(f"{name}: {backend._save_dir}")
    return ", ".join(places) or "no backend (add vis_backends to the config)"


@HOOKS.register_module()
class FewShotVisualizationHook(Hook):
    """One picture per test episode (Fig. 9), given to the runner's visualizer as ``episode`` at step = episode.

    Every visualizer backend receives the pictures: ``LocalVisBackend`` writes ``episode_<N>.png`` (into
    ``tools/test.py --show-dir``), ``TensorboardVisBackend`` an image series. The log says where.

    Args:
        draw (bool): Draw the pictures. Default: False (``tools/test.py --show-dir`` turns it on).
        interval (int): Draw every ``interval``-th episode. Default: 1.
    """

    def __init__(self, draw: bool = False, interval: int = 1):
        self.draw, self.interval = draw, interval
        self.drawn = 0

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict = None, outputs=None) -> None:
        if not self.draw:
            return
        inputs = data_batch["inputs"]
        for index, sample in enumerate(outputs):
            episode = sample.metainfo.get("episode", batch_idx)
            if episode % self.interval:
                continue
            padded = _bgr(inputs["query"][index])
            valid_shape = sample.metainfo.get("valid_shape", padded.shape[:2])
            query = _unpadded(padded, padded.shape[:2], valid_shape)
            supports = [_bgr(s) for s in inputs["supports"][index]]
            labels = [m.cpu().numpy().astype(np.uint8) for m in inputs["support_labels"][index]]
            truth = _unpadded(sample.gt_sem_seg.data[0].cpu().numpy().astype(np.uint8), padded.shape[:2],
                              valid_shape) if "gt_sem_seg" in sample else None
            prediction = _unpadded(sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8), padded.shape[:2],
                                   valid_shape)
            caption = class_caption(episode, sample.metainfo.get("class_id", "?"), runner.visualizer.dataset_meta)
            picture = episode_picture(supports, labels, query, prediction, truth, caption)
            runner.visualizer.add_image(PICTURE_NAME, picture[..., ::-1].copy(), step=episode)  # backends take RGB
            self.drawn += 1

    def after_test_epoch(self, runner, metrics=None) -> None:
        if self.drawn:
            runner.logger.info(f"{self.drawn} episode pictures ({PICTURE_NAME}_<N>.png) went to "
                               f"{picture_destinations(runner.visualizer)}")
        self.drawn = 0
