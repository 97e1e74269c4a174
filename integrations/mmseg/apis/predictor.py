"""Segment your own images from a few annotated examples: the Python API behind tools/infer.py.

A support set is prepared once (read, resized, encoded and, for k-shot finetuning, finetuned once); each
query then costs one query encoding and the model's head.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from PIL import Image

from crc_modules import MultiScaleSupportSet, SupportSet, binary_mask
from crc_modules.features import Features, map_features, stack_features
from crc_modules.labels import IGNORE_INDEX
from crc_modules.layers import resize_to
from crc_modules.precision import autocast, resolve_precision
from integrations.foundation import PROMPT_WEIGHTS_OPTION
from integrations.foundation.prompt_masks import PromptMasker, prompt_masker_for, shared_weight_files
from integrations.foundation.prompts import SupportPrompt, is_prompt_text, looks_like_prompt_text, parse_prompt

from ..datasets.images import read_drawn_mask, read_image
from ..datasets.transforms import LongerSideResizePad
from ..engine.run_options import resolve_config
from ..models.segmentor import FewShotSegmentor

ImageLike = Union[str, np.ndarray]
MaskLike = Union[str, np.ndarray, Sequence[int], SupportPrompt]
DEFAULT_WORKING_SIZE = 473  # PFENet's test size, for configs that name none
SCRIBBLE_PREFIX = "scribble:"


@dataclass
class Prediction:
    """A query's ``mask`` (H, W) uint8 in {0, 1} and foreground ``probability`` (H, W) float32, at its own size."""

    mask: np.ndarray
    probability: np.ndarray


def load_image(image: ImageLike, name: str = "image") -> Tuple[np.ndarray, str]:
    """(BGR uint8 (H, W, 3), name) from a path, or from an RGB array as the user holds it."""
    if isinstance(image, str):
        return read_image(image), image
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"{name} must be an (H, W, 3) uint8 RGB array, got {array.dtype} {array.shape}")
    return np.ascontiguousarray(array[..., ::-1]), name


def binary(mask: np.ndarray) -> np.ndarray:
    """(H, W) uint8 in {0, 1} from a mask array of any channels: any nonzero value is the object."""
    mask = np.asarray(mask)
    return (mask.reshape(mask.shape[0], mask.shape[1], -1).max(axis=2) > 0).astype(np.uint8)


def support_prompt(mark: MaskLike, shape: Tuple[int, int], name: str) -> SupportPrompt:
    """How a support of (H, W) ``shape`` is marked, checked: a :class:`SupportPrompt`, a mask array (any nonzero
    pixel = object), a box (x0, y0, x1, y1: a tuple, a list or a 1-D array of 4), or a string: the prompt syntax
    (:mod:`integrations.foundation.prompts`: ``x0,y0,x1,y1``, ``+x,y;-x,y``), ``scribble:FILE`` (a picture of
    strokes) or the path of a mask image.

    A mask or scribble file that uses transparency is its painted pixels (alpha >= 128); a file's EXIF orientation
    is applied as to images.
    """
    if isinstance(mark, str) and mark.startswith(SCRIBBLE_PREFIX):
        path = mark[len(SCRIBBLE_PREFIX):]
        prompt, name = SupportPrompt(scribble=binary(_read_mask_file(path, "scribble", name))), path
    elif isinstance(mark, str) and (is_prompt_text(mark) or (looks_like_prompt_text(mark)
                                                              and not os.path.exists(mark))):
        prompt = parse_prompt(mark, name)  # a mistyped prompt is refused showing the syntax
    elif isinstance(mark, str):
        prompt, name = SupportPrompt(mask=binary(_read_mask_file(mark, "mask", name))), mark
    elif isinstance(mark, SupportPrompt):
        prompt = mark
    elif isinstance(mark, (tuple, list)):
        prompt = parse_prompt(",".join(str(value) for value in mark), name)
    elif isinstance(mark, np.ndarray) and mark.ndim == 1 and mark.size == 4:  # a box; whole floats are its pixels
        prompt = parse_prompt(",".join(str(int(v) if float(v).is_integer() else v) for v in mark.tolist()), name)
    elif np.ndim(mark) not in (2, 3):
        raise ValueError(f"the mark of {name} must be a mask (an (H, W) array), a box (x0, y0, x1, y1), a prompt "
                         f"string or a mask file, got an array of shape {np.shape(mark)}")
    else:
        prompt = SupportPrompt(mask=binary(mark))
    return prompt.checked(shape, name)


def _read_mask_file(path: str, what: str, name: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} file of {name} not found: {path}")
    return read_drawn_mask(path)


def working_size(cfg: Config) -> int:
    """The longer side images are resized to: the config's test ``LongerSideResizePad``, its ``Resize`` scale,
    its dataset's ``image_size``, else :data:`DEFAULT_WORKING_SIZE`."""
    dataset = cfg.test_dataloader.dataset
    for transform in dataset.get("pipeline", []):
        if transform.get("type") == "LongerSideResizePad":
            return int(transform["size"])
        if transform.get("type") == "Resize" and transform.get("scale"):
            return int(max(transform["scale"]))
    return int(dataset.get("image_size", DEFAULT_WORKING_SIZE))


class FewShotPredictor:
    """Masks for new images from k marked supports, with a hosted model (Section 4.6 for k > 1).

    Example::

        predictor = FewShotPredictor.from_config('configs/crcnet_generated.py', 'work_dirs/.../weights.pth')
        predictor.set_supports([('cat1.jpg', 'cat1.png'), ('cat2.jpg', (10, 20, 200, 180)), ('cat3.jpg', '+40,60')])
        result = predictor.predict('query.jpg')   # result.mask, result.probability

    A support is marked by a mask, a box, clicks or a scribble (:func:`support_prompt`). A promptable model takes a
    box, clicks or a scribble as its prompts (:attr:`takes_prompts`); for any other model they become the support's
    mask through the model's own prompt step or the shared one's SAM2 (:func:`prompt_masker_for`); without either a
    box is a filled rectangle, and clicks and scribbles are refused. Every image (supports and queries) is resized so
    its longer side is ``size`` and padded (PFENet's test protocol), except for a model that stretches images itself
    (:attr:`~crc_modules.EpisodeModel.stretches_images`: its images at their own size, several supports stretched to
    ``size`` square); a query's result is mapped back to its own size, so memory does not grow with it.

    Args:
        segmentor (nn.Module): A :class:`FewShotSegmentor` (any model it hosts); its ``test_cfg`` sets the
            k-shot mode and fusion, scales and precision.
        size (int): The working size (longer side). Default: :data:`DEFAULT_WORKING_SIZE`.
        device (str): 'cpu' or 'cuda'.
        shared_weights (dict, optional): The files of the steps every model shares, by run option
            (:func:`~integrations.foundation.prompt_masks.shared_weight_files`): the prompt step's SAM2 file, for
            supports marked by prompts.
    """

    def __init__(self, segmentor: torch.nn.Module, size: int = DEFAULT_WORKING_SIZE, device: str = "cpu",
                 shared_weights: Optional[Mapping[str, str]] = None):
        self.segmentor = segmentor.to(device).eval()
        self.size, self.device, self.shared_weights = size, device, dict(shared_weights or {})
        self.support_set: Optional[Union[SupportSet, MultiScaleSupportSet]] = None
        self._masker: Optional[PromptMasker] = None

    @classmethod
    def from_config(cls, config: str, checkpoint: Optional[str] = None, device: str = "cpu",
                    kshot_mode: Optional[str] = None, kshot_fusion: Optional[str] = None, size: Optional[int] = None,
                    precision: Optional[str] = None, scales: Optional[Sequence[float]] = None,
                    cfg_options: Optional[dict] = None, allow_full_pickle: bool = False) -> "FewShotPredictor":
        """A predictor of a config's model with its weights: the frozen files named by its run options (in
        ``cfg_options``, as ``--cfg-options``) and a checkpoint, read weights-only; a model with nothing trained
        needs no checkpoint."""
        cfg = resolve_config(Config.fromfile(config), dict(cfg_options or {}))
        segmentor = FewShotSegmentor.from_config(cfg, checkpoint, allow_full_pickle, kshot_mode=kshot_mode,
                                                 kshot_fusion=kshot_fusion, precision=precision, scales=scales)
        return cls(segmentor, size=size or working_size(cfg), device=device, shared_weights=shared_weight_files(cfg))

    @property
    def prompt_masker(self) -> Optional[PromptMasker]:
        """The step from prompts to a support's mask, built on first use (:func:`prompt_masker_for`); None without."""
        if self._masker is None:
            self._masker = prompt_masker_for(self.segmentor.model, self.shared_weights)
        return self._masker

    def support_mask(self, image: ImageLike, mark: MaskLike, name: Optional[str] = None) -> np.ndarray:
        """The (H, W) uint8 mask of a support image marked by ``mark`` (see :func:`support_prompt`).

        Raises:
            ValueError: the marking is invalid, or needs SAM2 where there is none.
        """
        image, name = load_image(image, name or "support")
        return self._mask_of(image, support_prompt(mark, image.shape[:2], name), name)

    def _mask_of(self, image: np.ndarray, prompt: SupportPrompt, name: str) -> np.ndarray:
        """The mask of a BGR support marked by a checked ``prompt``: its own, SAM2's, or a box's rectangle."""
        if prompt.mask is not None:
            return prompt.mask
        if prompt.needs_sam2 or self.prompt_masker is not None:
            if self.prompt_masker is None:
                raise ValueError(f"{name} is marked by clicks or a scribble, which need SAM2: give Meta's SAM2 file "
                                 f"with --cfg-options {PROMPT_WEIGHTS_OPTION}=PATH")
            return self.prompt_masker.mask(np.ascontiguousarray(image[..., ::-1]), prompt, name)
        warnings.warn(f"the box of {name} is used as a filled rectangle: give {PROMPT_WEIGHTS_OPTION} (Meta's SAM2 "
                      f"file) to turn boxes into object masks", stacklevel=3)
        return prompt.rectangle(image.shape[:2])

    @property
    def takes_prompts(self) -> bool:
        """Whether supports marked by prompts go to the model as prompts, as they do for a promptable model
        (:attr:`~crc_modules.EpisodeModel.takes_prompts`) predicting in the 'fusion' mode at one scale. Otherwise they
        become masks first (:meth:`support_mask`)."""
        return self.segmentor.model.takes_prompts and self.segmentor.kshot.takes_encoded_supports

    def _autocast(self):
        """The k-shot settings' precision, as the support set encodes under it."""
        return autocast(resolve_precision(self.segmentor.kshot.precision, self.device), self.device)

    def _prompted_support(self, image: np.ndarray, prompt: SupportPrompt, name: str,
                          stretch: bool = False) -> Tuple[torch.Tensor, torch.Tensor, Features]:
        """(input, label, memory) of a BGR support given to a promptable model as its prompts
        (:meth:`~crc_modules.EpisodeModel.encode_prompts`): the prompts are scaled to the working input, the model
        decodes them on the support and encodes the
        result as its memory; the label is that decoded mask (ignored in the padding), for the hosts' checks."""
        support_img, _, (height, width) = self._to_input(image, stretch=stretch)
        coords, point_labels = prompt.sam2_points()
        coords = coords * np.asarray([width / image.shape[1], height / image.shape[0]], np.float32)
        with self._autocast():
            memory, logits = self.segmentor.model.encode_prompts(
                support_img, torch.from_numpy(coords)[None].to(self.device),
                torch.from_numpy(point_labels)[None].to(self.device))
        decoded = resize_to(logits.float(), support_img.shape[-2:], align_corners=False)[:, 0] > 0
        label = torch.full(decoded.shape, IGNORE_INDEX, dtype=torch.long, device=self.device)
        label[:, :height, :width] = decoded[:, :height, :width].long()
        if not (label == 1).any():
            raise ValueError(f"the model found no object for the prompt of {name} at the working size {self.size}: "
                             f"add clicks on the object or draw a box")
        return support_img, label, memory

    def _to_input(self, image: np.ndarray, mask: Optional[np.ndarray] = None,
                  stretch: bool = False) -> Tuple[torch.Tensor, Optional[torch.Tensor], Tuple[int, int]]:
        """(normalised (1, 3, S, S), label (1, S, S) or None, valid (h, w)) at the working size S; for a model that
        stretches images itself (:attr:`~crc_modules.EpisodeModel.stretches_images`), the image at its own size, or
        with ``stretch`` (one of several supports) stretched to S x S (PIL's bilinear filter; the label nearest)."""
        results = dict(img=image, seg_fields=[])
        if mask is not None:
            results.update(gt_seg_map=mask, seg_fields=["gt_seg_map"])
        if not self.segmentor.model.stretches_images:
            results = LongerSideResizePad(self.size)(results)
        elif stretch:
            results = self._stretch(results)
        image = torch.from_numpy(np.ascontiguousarray(results["img"].transpose(2, 0, 1))).to(self.device)
        label = None
        if mask is not None:
            label = torch.from_numpy(np.ascontiguousarray(results["gt_seg_map"])).long().to(self.device)[None]
        valid_shape = results.get("valid_shape", results["img"].shape[:2])
        return self.segmentor.data_preprocessor.normalize(image)[None], label, valid_shape

    def _stretch(self, results: dict) -> dict:
        """The image and its label stretched to the working size square."""
        side = (self.size, self.size)
        stretched = dict(results, img=np.asarray(Image.fromarray(results["img"]).resize(side, Image.BILINEAR)))
        for key in results["seg_fields"]:
            stretched[key] = np.asarray(Image.fromarray(results[key]).resize(side, Image.NEAREST))
        return stretched

    @torch.no_grad()
    def set_supports(self, supports: Sequence[Tuple[ImageLike, MaskLike]]) -> None:
        """Read, check and prepare the k marked examples once: ``[(image, mask, box, clicks or scribble), ...]``.

        With k-shot finetuning (``finetune`` / ``both``) the model is finetuned here, once for all queries.

        Raises:
            ValueError: a support is badly marked, or its object vanishes at the working size (the message names
                the size that keeps it).
        """
        if not supports:
            raise ValueError("give at least one support: an image and its mask, box, clicks or scribble")
        images, labels, memories = [], [], []
        for index, (image, mark) in enumerate(supports):
            image, name = load_image(image, f"support {index + 1}")
            prompt = support_prompt(mark, image.shape[:2], name)
            stretch = len(supports) > 1
            if prompt.mask is None and self.takes_prompts:
                support_img, support_label, memory = self._prompted_support(image, prompt, name, stretch)
            else:
                mask = self._mask_of(image, prompt, name)
                support_img, support_label, _ = self._to_input(image, mask, stretch)
                memory = None
                if not (support_label == 1).any():
                    raise ValueError(f"the object of {name} ({int(mask.sum())} pixels of its {mask.shape[1]}x"
                                     f"{mask.shape[0]} image) vanishes when the image is resized to the working size "
                                     f"{self.size}: use a working size of at least {size_keeping(mask, self.size)} "
                                     f"(--size), or crop the image around the object")
            images.append(support_img)
            labels.append(support_label)
            memories.append(memory)
        encoded = None
        if any(memory is not None for memory in memories):  # the mask-marked supports of the set encoded alike
            with self._autocast():
                memories = [self.segmentor.model.encode(image, binary_mask(label)) if memory is None else memory
                            for image, label, memory in zip(images, labels, memories)]
            encoded = stack_features([map_features(lambda tensor: tensor[0], memory) for memory in memories], 0)
        self.support_set = self.segmentor.prepare_supports(torch.cat(images), torch.cat(labels), encoded)

    @torch.no_grad()
    def predict(self, query: ImageLike, supports: Optional[Sequence[Tuple[ImageLike, MaskLike]]] = None) -> Prediction:
        """The query's mask and probability at the query's own size (``supports`` replaces the support set)."""
        if supports is not None:
            self.set_supports(supports)
        if self.support_set is None:
            raise ValueError("no supports: call set_supports() or pass supports=")
        query_img, _ = load_image(query, "query")
        height, width = query_img.shape[:2]
        query_in, _, valid_shape = self._to_input(query_img)
        del query_img  # a full-size copy: not kept while the full-size probability is made
        probability, mask = self.segmentor.postprocess(self.support_set.predict(query_in), (height, width), valid_shape)
        return Prediction(mask=mask[0].to(torch.uint8).cpu().numpy(), probability=probability[0].float().cpu().numpy())


def size_keeping(mask: np.ndarray, size: int) -> int:
    """The first working size above ``size``, in steps of about 1.5%, at which the resized (H, W) ``mask`` keeps an
    object pixel; at most the image's longer side, which keeps every pixel."""
    longer, candidate = max(mask.shape[:2]), size
    while candidate < longer:
        candidate = min(longer, candidate + max(1, candidate // 64))
        resized = LongerSideResizePad(candidate)(dict(img=mask, seg_fields=["label"], label=mask))
        if (resized["label"] == 1).any():
            break
    return candidate
