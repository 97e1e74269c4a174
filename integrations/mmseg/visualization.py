"""Episode pictures like the paper's Fig. 9: supports with their masks, the query with prediction and ground truth."""
from __future__ import annotations

import os
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

SUPPORT_COLOUR = (0, 200, 0)  # BGR green
PREDICTION_COLOUR = (0, 0, 230)  # BGR red
TRUTH_COLOUR = (230, 120, 0)  # BGR blue
IGNORE_COLOUR = (128, 128, 128)


def overlay(image: np.ndarray, label: np.ndarray, colour, alpha: float = 0.5) -> np.ndarray:
    """A BGR uint8 image with ``label == 1`` tinted ``colour``, ``label == 255`` greyed, and the object outlined."""
    if label.shape != image.shape[:2]:
        label = cv2.resize(label.astype(np.uint8), image.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    out = image.astype(np.float32)
    for value, tint in ((1, colour), (255, IGNORE_COLOUR)):
        region = label == value
        out[region] = (1 - alpha) * out[region] + alpha * np.asarray(tint, np.float32)
    out = out.astype(np.uint8)
    contours, _ = cv2.findContours((label == 1).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
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
    """One row: each support with its mask (green), the query with the prediction (red), and with the truth (blue)."""
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


@HOOKS.register_module()
class FewShotVisualizationHook(Hook):
    """Writes one picture per test episode (Fig. 9) to ``show_dir`` (``--show-dir`` of tools/test.py).

    Args:
        show_dir (str, optional): Folder of the pictures; relative paths are under the work dir.
            Nothing is drawn when None.
        interval (int): Draw every ``interval``-th episode. Default: 1.
    """

    def __init__(self, show_dir: Optional[str] = None, interval: int = 1):
        self.show_dir, self.interval = show_dir, interval

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict = None, outputs=None) -> None:
        if not self.show_dir:
            return
        folder = self.show_dir if os.path.isabs(self.show_dir) else os.path.join(runner.work_dir, self.show_dir)
        os.makedirs(folder, exist_ok=True)
        inputs = data_batch["inputs"]
        for index, sample in enumerate(outputs):
            episode = sample.metainfo.get("episode", batch_idx)
            if episode % self.interval:
                continue
            query = _bgr(inputs["query"][index])
            valid_h, valid_w = sample.metainfo.get("valid_shape", query.shape[:2])
            query = query[:valid_h, :valid_w]
            supports = [_bgr(s) for s in inputs["supports"][index]]
            labels = [m.cpu().numpy().astype(np.uint8) for m in inputs["support_labels"][index]]
            truth = sample.gt_sem_seg.data[0].cpu().numpy().astype(np.uint8) if "gt_sem_seg" in sample else None
            prediction = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
            caption = f"episode {episode}  class {sample.metainfo.get('class_id', '?')}"
            picture = episode_picture(supports, labels, query, prediction, truth, caption)
            cv2.imwrite(os.path.join(folder, f"episode_{episode:05d}.png"), picture)
