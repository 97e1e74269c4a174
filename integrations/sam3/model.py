"""FSS-SAM3 (``WongKinYiu/FSS-SAM3``, arXiv 2604.05433): few-shot segmentation with SAM 3 and nothing trained, hosted
as an :class:`~crc_modules.EpisodeModel`. The supports and the query are pasted onto one 1008x1008 canvas
(:mod:`.canvas`), each support's boxes are SAM 3's visual exemplars, and the instances SAM 3 keeps in the query's cell
are its mask (``model/evaluate.py``, ``run_episode``).
"""
from __future__ import annotations

from functools import partial
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch

from crc_modules.episode_model import EpisodeModel, EpisodeOutput, FrozenWeights
from crc_modules.registry import MODELS
from integrations.foundation.prompts import MAX_SCRIBBLE_POINTS

from .boxes import BOX_MODES, support_boxes
from .canvas import (
    CANVAS_SIZE,
    FEW_SHOT_SHARE,
    LAYOUTS,
    ONE_SHOT_SHARE,
    ORIENTATIONS,
    Cell,
    box_on_canvas,
    check_share,
    crop_back,
    few_shot_cells,
    one_shot_cells,
    paste,
    point_on_canvas,
)
from .sam3_model import build_sam3, drop_device_caches, initialise_unset_tensors, on_this_machine, read_sam3_weights

MASK_LOGIT = 20.0  # the foreground logit of a mask pixel (-20 elsewhere): the hosts' 0.5 threshold gives the mask
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # the hosts' normalisation
MAX_EXEMPLAR_POINTS = MAX_SCRIBBLE_POINTS + 64  # a thinned scribble and some clicks per support
EXEMPLAR_ONLY_TEXT = "visual"  # Sam3Processor.add_geometric_prompt's text when none is set: the boxes alone prompt


class Segmentation(NamedTuple):
    """One query's result: its (H, W) bool ``mask`` and the ``scores`` (N,) of the instances SAM 3 kept."""

    mask: torch.Tensor
    scores: torch.Tensor


def to_rgb_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) images normalised with ImageNet's mean and std -> (N, H, W, 3) uint8 RGB, the pixels they were
    made from (rounded)."""
    mean = images.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255
    std = images.new_tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255
    pixels = (images.float() * std + mean).round().clamp(0, 255).to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).cpu().numpy()


@MODELS.register_module()
class FSSSAM3(EpisodeModel):
    """FSS-SAM3 on SAM 3 from Meta's ``sam3`` package: one canvas per query, the supports' boxes as exemplars.

    :meth:`encode` keeps the images (the canvas joins supports and query, so SAM 3's image encoder runs once per query
    on it); :meth:`predict` makes the canvas (:mod:`.canvas`), gives SAM 3 one positive box per support object
    (:func:`.boxes.support_boxes`), keeps the instances whose score (class probability x presence) exceeds
    ``score_threshold``, unites their masks and crops the query's cell back to the query's size. The logits are
    0 / +/-20, so the hosts' 0.5 threshold gives the mask exactly.

    Inputs: images normalised with ImageNet's mean and std (the host's default preprocessor); the canvas is made from
    their pixels, so an image the pipeline leaves at its own size is pasted exactly as FSS-SAM3 pastes it.

    Args:
        sam3_weights (str, optional): Meta's ``sam3.pt`` (the run option of the same name).
        score_threshold (float): Kept instances score above it. Default: 0.5 (``Sam3Processor``'s).
        orientation (str): 1-shot canvas: 'vertical' (parts stacked) or 'horizontal'. Default: 'vertical'.
        one_shot_share (float): The support's share of the 1-shot canvas side. Default: 0.6.
        swap (bool): 1-shot: the query first (top / left). Default: False (FSS-SAM3's for PASCAL; True for COCO).
        layout (str): k-shot canvas: 'l_shape', 'vertical_strip' or 'horizontal_strip'. Default: 'l_shape'.
        few_shot_share (float): The supports' band, a share of the k-shot canvas side. Default: 0.3.
        support_boxes (str): 'components' (a box per connected part of a support mask) or 'union'.
        text_prompt (str, optional): A class name given to SAM 3 with the boxes. With it the result is no longer
            few-shot (the class is named, not shown); default None: the boxes alone (FSS-SAM3's ``--disable_text``).
        canvas_size (int): The canvas side. Default: 1008 (SAM 3's input size).
        sam3_args (dict, optional): Arguments of the package's part classes over its builder's, by class name
            (tiny test models: ``dict(ViT=dict(depth=2, ...), VETextEncoder=dict(layers=1, ...))``).
    """

    fuses_shots = True
    encodes_support_masks = True  # the supports' masks travel with their images to the canvas
    takes_prompts = True  # a box goes to SAM 3 as given (encode_prompts)
    stretches_images = True  # each image is stretched into its cell: the predictor gives it at its own size
    image_encoders = ("sam3.backbone.forward_image",)
    weight_options = {"sam3_weights": "Meta's SAM 3 file (sam3.pt: detector.* and tracker.* tensors, flat or under "
                                      "'model'): FSS-SAM3's SAM 3"}

    def __init__(self, sam3_weights: Optional[str] = None, score_threshold: float = 0.5,
                 orientation: str = "vertical", one_shot_share: float = ONE_SHOT_SHARE, swap: bool = False,
                 layout: str = "l_shape", few_shot_share: float = FEW_SHOT_SHARE, support_boxes: str = "components",
                 text_prompt: Optional[str] = None, canvas_size: int = CANVAS_SIZE, sam3_args: Optional[dict] = None):
        super().__init__()
        if orientation not in ORIENTATIONS:
            raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if support_boxes not in BOX_MODES:
            raise ValueError(f"support_boxes must be one of {BOX_MODES}, got {support_boxes!r}")
        if not 0 <= score_threshold < 1:
            raise ValueError(f"score_threshold must be in [0, 1), got {score_threshold!r}")
        check_share(one_shot_share)
        check_share(few_shot_share)
        self.sam3_weights, self.score_threshold = sam3_weights, score_threshold
        self.orientation, self.one_shot_share, self.swap = orientation, one_shot_share, swap
        self.layout, self.few_shot_share, self.box_mode = layout, few_shot_share, support_boxes
        self.text_prompt, self.canvas_size = text_prompt, canvas_size
        self.sam3 = build_sam3(sam3_args)
        initialise_unset_tensors(self.sam3, torch.Generator().manual_seed(0))
        self._text: Dict[str, dict] = {}  # the prompt text's encoding, once per device and precision

    def frozen_weights(self) -> Sequence[FrozenWeights]:
        """SAM 3's image model from ``sam3_weights``."""
        return (FrozenWeights("sam3_weights", "sam3", self.sam3_weights, partial(read_sam3_weights, sam3=self.sam3)),)

    def _apply(self, fn, recurse=True):
        """Moving the model also drops the package's caches of tensors outside parameters and buffers."""
        result = super()._apply(fn, recurse)
        drop_device_caches(self.sam3)
        self._text.clear()
        return result

    def encode(self, images: torch.Tensor, masks: Optional[torch.Tensor] = None):
        """The images as given (SAM 3 encodes the canvas, once per query); supports with their masks and no exemplar
        points (:meth:`encode_prompts` gives those)."""
        if masks is None:
            return images
        return images, masks, torch.full((images.shape[0], MAX_EXEMPLAR_POINTS, 3), -1.0, device=images.device)

    def encode_prompts(self, images: torch.Tensor, point_coords: torch.Tensor,
                       point_labels: torch.Tensor) -> Tuple[Tuple[torch.Tensor, ...], torch.Tensor]:
        """Supports marked by prompts, as SAM 3 takes them: a box as given (its filled rectangle, whose one component
        box is the box), clicks and a scribble's points as exemplar points (positive or negative) of SAM 3's
        geometry encoder.

        Reading: FSS-SAM3 prompts boxes only; SAM 3's detector also takes points as exemplars, which is how a
        click or a stroke on the support marks its object here.

        Returns:
            ((images, box rectangles (N, 1, H, W), points (N, P, 3) as x, y, label; label -1 pads), logits that
            are +20 on the box and the positive points, -20 elsewhere).
        """
        masks = torch.zeros(images.shape[0], 1, *images.shape[-2:], device=images.device)
        points = torch.full((images.shape[0], MAX_EXEMPLAR_POINTS, 3), -1.0, device=images.device)
        for index, (coords, labels) in enumerate(zip(point_coords, point_labels)):
            corners = coords[(labels == 2) | (labels == 3)]
            if len(corners) == 2:
                (x0, y0), (x1, y1) = corners.round().long().tolist()
                masks[index, 0, max(y0, 0):y1 + 1, max(x0, 0):x1 + 1] = 1
            clicks = (labels == 0) | (labels == 1)
            if clicks.sum() > MAX_EXEMPLAR_POINTS:
                raise ValueError(f"support {index + 1} has {int(clicks.sum())} exemplar points; SAM 3 takes at most "
                                 f"{MAX_EXEMPLAR_POINTS} here: thin the scribble or give a box")
            points[index, :int(clicks.sum())] = torch.cat([coords[clicks], labels[clicks, None].float()], 1)
        logits = torch.where(masks > 0, MASK_LOGIT, -MASK_LOGIT)
        for index, (x, y, label) in ((i, point) for i in range(len(points)) for point in points[i].tolist()):
            if label == 1:
                logits[index, 0, min(max(round(y), 0), logits.shape[-2] - 1),
                       min(max(round(x), 0), logits.shape[-1] - 1)] = MASK_LOGIT
        return (images, masks, points), logits

    def canvas_cells(self, shots: int) -> Tuple[List[Cell], Cell]:
        """(support cells, query cell) for ``shots`` supports.

        Reading: 'l_shape' has FSS-SAM3's 5 places; for another number of shots the supports go in a strip
        ('vertical_strip'), whose geometry at 5 shots is FSS-SAM3's.
        """
        if shots == 1:
            support, query = one_shot_cells(self.canvas_size, self.orientation, self.one_shot_share, self.swap)
            return [support], query
        layout = "vertical_strip" if self.layout == "l_shape" and shots != 5 else self.layout
        return few_shot_cells(shots, self.canvas_size, layout, self.few_shot_share)

    def text_features(self, device: torch.device) -> dict:
        """SAM 3's encoding of the prompt text (the class name, or the exemplar-only text), once per device and
        autocast precision."""
        autocasting = torch.is_autocast_enabled(device.type)
        key = f"{device}/{torch.get_autocast_dtype(device.type) if autocasting else 'fp32'}"
        if key not in self._text:
            self._text[key] = self.sam3.backbone.forward_text([self.text_prompt or EXEMPLAR_ONLY_TEXT], device=device)
        return self._text[key]

    def segment(self, query: np.ndarray, supports: Sequence[np.ndarray],
                support_boxes: Sequence[Sequence[Sequence[float]]],
                support_points: Optional[Sequence[Sequence[Sequence[float]]]] = None) -> Segmentation:
        """FSS-SAM3's mask of one (H, W, 3) uint8 RGB query from K supports (uint8 RGB) with their boxes
        (``[[x, y, w, h], ...]`` per support, in its pixels) and exemplar points (``[[x, y, 1 | 0], ...]``)."""
        from sam3.model.data_misc import FindStage, interpolate

        support_cells, query_cell = self.canvas_cells(len(supports))
        canvas = paste([*supports, query], [*support_cells, query_cell], self.canvas_size)
        prompts = [box_on_canvas(box, support.shape[:2], cell, self.canvas_size)
                   for support, cell, boxes in zip(supports, support_cells, support_boxes) for box in boxes]
        points = [point_on_canvas(point, support.shape[:2], cell, self.canvas_size)
                  for support, cell, marks in zip(supports, support_cells, support_points or [[]] * len(supports))
                  for point in marks]
        device = self.sam3.device
        image = torch.from_numpy(canvas).to(device).permute(2, 0, 1)[None].float() / 255
        backbone_out = self.sam3.backbone.forward_image((image - 0.5) / 0.5)
        backbone_out.update(self.text_features(device))
        geometric = self.sam3._get_dummy_prompt()
        if prompts:
            boxes = torch.tensor(prompts, dtype=torch.float32, device=device).view(-1, 1, 4)
            geometric.append_boxes(boxes, torch.ones(boxes.shape[:2], dtype=torch.bool, device=device))
        if points:
            marks = torch.tensor(points, dtype=torch.float32, device=device)
            geometric.append_points(marks[:, None, :2], marks[:, None, 2] > 0)
        ids = torch.zeros(1, dtype=torch.long, device=device)
        find = FindStage(img_ids=ids, text_ids=ids, input_boxes=None, input_boxes_mask=None, input_boxes_label=None,
                         input_points=None, input_points_mask=None)
        with on_this_machine():
            outputs = self.sam3.forward_grounding(backbone_out=backbone_out, find_input=find,
                                                  geometric_prompt=geometric, find_target=None)
        scores = (outputs["pred_logits"].float().sigmoid() *
                  outputs["presence_logit_dec"].float().sigmoid().unsqueeze(1)).squeeze(-1)[0]
        kept = scores > self.score_threshold
        canvas_mask = torch.zeros(self.canvas_size, self.canvas_size, dtype=torch.bool, device=device)
        if kept.any():
            masks = interpolate(outputs["pred_masks"][0][kept].float().unsqueeze(1),
                                (self.canvas_size, self.canvas_size), mode="bilinear", align_corners=False).sigmoid()
            canvas_mask = (masks > 0.5)[:, 0].any(0)
        mask = crop_back(canvas_mask.cpu().numpy(), query_cell, query.shape[:2])
        return Segmentation(torch.from_numpy(mask > 0).to(device), scores[kept])

    def predict(self, query: torch.Tensor, supports: Tuple[torch.Tensor, ...], support_masks: torch.Tensor,
                query_masks: Optional[torch.Tensor] = None) -> EpisodeOutput:
        """(B, 2, H, W) logits of FSS-SAM3's mask per query (B, 3, H, W), from K supports as :meth:`encode` and
        :meth:`encode_prompts` give them (B, K, ...): each support's boxes from its mask (``support_boxes``), and its
        exemplar points."""
        support_images, masks, points = supports
        results = []
        for index in range(query.shape[0]):
            shots = to_rgb_uint8(support_images[index])
            boxes, marks = [], []
            for shot, (mask, shot_points) in enumerate(zip(masks[index, :, 0].cpu().numpy(), points[index].tolist())):
                marks.append([point for point in shot_points if point[2] >= 0])
                try:
                    boxes.append(support_boxes(mask, self.box_mode) if mask.any() or not marks[-1] else [])
                except ValueError as error:
                    raise ValueError(f"support {shot + 1} of {len(shots)}: {error}") from None
            results.append(self.segment(to_rgb_uint8(query[index:index + 1])[0], list(shots), boxes, marks).mask)
        foreground = torch.where(torch.stack(results), MASK_LOGIT, -MASK_LOGIT)
        return EpisodeOutput(torch.stack([torch.zeros_like(foreground), foreground], dim=1))

    def loss(self, output: EpisodeOutput, query_labels: torch.Tensor,
             support_labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        raise RuntimeError("FSS-SAM3 has nothing to train (every weight is SAM 3's released file): test it with "
                           "tools/test.py or tools/infer.py, no checkpoint needed")

