"""The episodic dataset: a query and k supports of one class per item, drawn by a named protocol."""
from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dataset import Compose
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample

from ..models.data_preprocessor import stack_same_size
from .checks import check_conversion_finished, check_files_exist, check_image_files
from .images import read_label
from .loading import LoadEpisodeImage, LoadEpisodeLabel
from .protocols import PROTOCOLS, EpisodePlan, draw_episode, keep_drawable, replay_patnet_draws, restrict_plan
from .sampler import EpisodeKey
from .transforms import box_label

MODES = ("train", "test")
ANNOTATIONS = ("mask", "box")
EVAL_LABELS = ("original", "transformed")
EPISODE_ADVICE = "add a Resize/Pad to the pipeline so every image of an episode has one size"
HSNET_TEST_EPISODES = 1000  # HSNet data/pascal.py, data/coco.py: __len__ is 1000 outside training
PATNET_TEST_EPISODES = 600  # PATNet data/{deepglobe,isic,lung}.py: num=600
FSS_SAM3_TEST_EPISODES = 1000  # FSS-SAM3 data/dataset_tool.py: episode_num = 1000 in 'val' mode
REPLAYED_PROTOCOLS = ("patnet", "fss_sam3")  # whose test draws are replayed exactly (replay_episodes)
HOLDOUT_ROLES = ("exclude", "only")


@dataclass(frozen=True)
class Sample:
    """One image of the dataset and its label (None when the label is not a file: COCO json, generated)."""

    img_path: str
    label_path: Optional[str]


def held_out_samples(samples: Sequence[Sample], fraction: float, seed: int) -> set:
    """Indices of the samples whose image is among ``round(fraction * images)`` images drawn from ``seed``.

    Images are drawn without replacement from the distinct image paths in list order, so a training and a
    validation dataset built from the same list, fraction and seed agree on the split.
    """
    images = list(dict.fromkeys(s.img_path for s in samples))
    drawn = np.random.default_rng(seed).permutation(len(images))[:round(fraction * len(images))]
    held = {images[i] for i in drawn}
    return {index for index, sample in enumerate(samples) if sample.img_path in held}


@contextmanager
def global_random_from(rng: np.random.Generator):
    """Seeds numpy's and Python's global generators (which mmseg's random transforms use) from ``rng``.

    So an episode's augmentation is a function of its key too; the previous states are restored.
    """
    numpy_state, python_state = np.random.get_state(), random.getstate()
    seed = int(rng.integers(2 ** 32))
    np.random.seed(seed)
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)


class FewShotDataset(torch.utils.data.Dataset):
    """Base of the episodic datasets; a layout lists its samples and plans the episodes by its protocol.

    Why not mmengine's ``BaseDataset``: an item is an episode (a query and k supports of one class, each
    through the per-image pipeline), not an annotated image, and the number of items is a number of
    episodes. Each image is loaded by the registered ``LoadEpisodeImage`` / ``LoadEpisodeLabel``
    transforms (``backend_args`` apply), then ``pipeline`` (mmseg/mmcv transforms) runs on it.

    Episodes: a test episode is a pure function of ``(seed, index)``; a training episode of the
    :class:`EpisodeKey` ``(seed, epoch, index)`` that :class:`EpisodeSampler` yields (the Runner's seed,
    the epoch), so ranks, workers and epochs get different episodes, reproducibly. A training dataset
    indexed by plain integers draws from ``(seed, 0, index)``: every epoch alike. The random transforms
    of ``pipeline`` draw from the same key. Labels become 1 for the episode's class, 0 for everything
    else (other classes included) and 255 where the dataset says ignore.

    Args:
        mode (str): 'train' (base classes) or 'test' (novel classes).
        shot (int): Supports per episode (1, 5, 10).
        pipeline (list[dict]): mmseg/mmcv transforms after loading, applied to the query and,
            independently drawn, to every support.
        num_episodes (int, optional): Episodes per epoch; default: one per query of the protocol in
            training; in testing the peer's count: PFENet's ``test.py`` (``PFENET_TEST_EPISODES``: PASCAL
            5000, COCO 20000), HSNet's 1000, PATNet's 600, one per test image for FSS-1000.
        seed (int): Seed of the test episodes (and of training episodes indexed by integers). PATNet's
            protocol replays its test draws from this seed (0: PATNet's own episodes).
        annotation (str): 'mask', or 'box' for supports annotated by object boxes (Table 14).
        eval_label (str): Test label the metric reads: 'original' (PFENet: the label at the image's
            original size; predictions are resized back) or 'transformed' (HSNet: after the pipeline).
        protocol (str): 'pfenet', 'hsnet' or, for its layouts, 'patnet' (test only): whose rules draw the
            episodes (see ``protocols.py``).
        backend_args (dict, optional): MMEngine file backend arguments for images and labels.
        holdout_fraction (float): Fraction of the images held out (0: none), drawn by
            :func:`held_out_samples`, for checkpoint selection on the training classes without test classes.
        holdout_seed (int): Seed of the held-out images.
        holdout (str): 'exclude' (a training set without the held-out images) or 'only' (a validation set
            of them alone, queries and supports; its test labels follow ``eval_label`` as in testing).
    """

    PROTOCOLS: Tuple[str, ...] = PROTOCOLS
    ONE_TEST_EPISODE_PER_IMAGE = False
    LABEL_FORMAT = "class_index"
    NUM_LABEL_CLASSES: Optional[int] = None
    PFENET_TEST_EPISODES = 1000  # a layout with a PFENet count sets it (test.py: PASCAL 5000, COCO 20000)

    def __init__(self, mode: str = "train", shot: int = 1, pipeline: Sequence[dict] = (),
                 num_episodes: Optional[int] = None, seed: int = 0, annotation: str = "mask",
                 eval_label: str = "original", protocol: str = "pfenet", backend_args: Optional[dict] = None,
                 holdout_fraction: float = 0.0, holdout_seed: int = 0, holdout: str = "exclude"):
        for name, value, allowed in (("mode", mode, MODES), ("annotation", annotation, ANNOTATIONS),
                                     ("eval_label", eval_label, EVAL_LABELS), ("protocol", protocol, self.PROTOCOLS),
                                     ("holdout", holdout, HOLDOUT_ROLES)):
            if value not in allowed:
                raise ValueError(f"{type(self).__name__}: {name} must be one of {allowed}, got {value!r}")
        if not 0 <= holdout_fraction < 1 or (holdout == "only" and not holdout_fraction):
            raise ValueError(f"{type(self).__name__}: holdout_fraction must be in [0, 1) (above 0 with "
                             f"holdout='only'), got {holdout_fraction}")
        if shot < 1:
            raise ValueError(f"{type(self).__name__}: shot must be >= 1, got {shot}")
        if protocol in REPLAYED_PROTOCOLS and mode != "test":
            raise ValueError(f"{type(self).__name__}: protocol '{protocol}' draws test episodes only (PATNet trains "
                             f"on PASCAL with no class held out: PascalFewShotDataset, fold=4), got mode={mode!r}")
        self.mode, self.shot, self.seed, self.protocol = mode, shot, seed, protocol
        self.annotation, self.eval_label, self.backend_args = annotation, eval_label, backend_args
        self.holdout = holdout if holdout_fraction else None
        self.evaluates = mode == "test" or self.holdout == "only"  # scored against labels as a test set is
        self.loading = Compose([LoadEpisodeImage(backend_args=backend_args),
                                LoadEpisodeLabel(self.LABEL_FORMAT, self.NUM_LABEL_CLASSES, backend_args)])
        self.pipeline = Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline])
        self.samples: List[Sample] = self.list_samples()
        files = self.files_to_check()
        if backend_args is None:
            check_conversion_finished(files, self.source)
        check_files_exist(files, self.source, backend_args)
        if backend_args is None:
            listed = set(files)
            check_image_files([(s.img_path, s.label_path if s.label_path in listed else None)
                               for s in self.samples if s.img_path in listed], self.source)
        else:
            print_log(f"{type(self).__name__}: image and label files are checked when read, not now "
                      f"(backend_args: checking them now would read every file through the backend)",
                      logger="current")
        plan = self.plan_episodes()
        if self.holdout:
            held = held_out_samples(self.samples, holdout_fraction, holdout_seed)
            kept = held if holdout == "only" else set(range(len(self.samples))) - held
            plan = restrict_plan(plan, kept)
            print_log(f"{type(self).__name__}: {len(held)} of {len(self.samples)} samples held out (fraction "
                      f"{holdout_fraction}, seed {holdout_seed}); this set uses "
                      f"{'only them' if holdout == 'only' else 'the others'}", logger="current")
        self.plan: EpisodePlan = keep_drawable(plan, shot, type(self).__name__)
        if not self.plan.length:
            raise ValueError(f"{type(self).__name__}: no episode can be drawn from {self.source} "
                             f"for the classes {self.classes}")
        one_per_image = mode == "train" or self.ONE_TEST_EPISODE_PER_IMAGE
        peer_count = dict(pfenet=self.PFENET_TEST_EPISODES, hsnet=HSNET_TEST_EPISODES,
                          patnet=PATNET_TEST_EPISODES, fss_sam3=FSS_SAM3_TEST_EPISODES)[protocol]
        self.num_episodes = num_episodes if num_episodes is not None else (
            self.plan.length if one_per_image else peer_count)
        self.replayed = self.replay_episodes() if protocol in REPLAYED_PROTOCOLS else None
        print_log(f"{type(self).__name__} ({mode}, {shot}-shot, {protocol}'s protocol): {self.plan.length} "
                  f"queries of {len(self.plan.episode_classes)} classes, {self.num_episodes} episodes",
                  logger="current")

    # ---- what a layout provides -----------------------------------------------------------------------
    @property
    def classes(self) -> Tuple[int, ...]:
        """The fold's classes of this mode, ``base_classes`` in training, ``novel_classes`` in testing."""
        return self.base_classes if self.mode == "train" else self.novel_classes

    @property
    def source(self) -> str:
        """The list or split file(s) the samples come from, for messages."""
        raise NotImplementedError

    def list_samples(self) -> List[Sample]:
        """The samples named by the list or split files (no image or label decoded)."""
        raise NotImplementedError

    def plan_episodes(self) -> EpisodePlan:
        """The protocol's queries and support pools over ``self.samples``."""
        raise NotImplementedError

    def replay_episodes(self) -> List[Tuple[int, int, List[int]]]:
        """(query sample, class, support samples) of each test episode of a replayed protocol: PATNet's draws
        (:func:`~.protocols.replay_patnet_draws`); a layout of another replayed protocol gives its own."""
        return replay_patnet_draws(self.plan, self.num_episodes, self.seed, self.shot)

    def files_to_check(self) -> List[str]:
        return [p for s in self.samples for p in (s.img_path, s.label_path) if p is not None]

    def load(self, sample: Sample, category: int) -> dict:
        """Loading results of one image: ``img`` (BGR) and ``gt_seg_map``, the binary label of ``category``."""
        return self.loading(dict(img_path=sample.img_path, seg_map_path=sample.label_path, episode_class=category,
                                 seg_fields=[], reduce_zero_label=False))

    def class_label(self, sample: Sample) -> Optional[np.ndarray]:
        """The sample's full label (0 background, class ids, 255 ignore); None for binary-mask layouts."""
        if self.LABEL_FORMAT != "class_index" or sample.label_path is None:
            return None
        return read_label(sample.label_path, self.backend_args)

    @property
    def metainfo(self) -> dict:
        return dict(classes=tuple(str(c) for c in self.classes), class_ids=self.classes)

    # ---- episodes -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.num_episodes

    def _generator(self, key: Union[int, EpisodeKey]) -> Tuple[int, np.random.Generator]:
        if isinstance(key, EpisodeKey):
            seeds = (key.seed, key.epoch, key.index) if self.mode == "train" else (self.seed, key.index)
            return key.index, np.random.default_rng(seeds)
        seeds = (self.seed, 0, key) if self.mode == "train" else (self.seed, key)
        return int(key), np.random.default_rng(seeds)

    def _draw(self, key: Union[int, EpisodeKey]) -> Tuple[int, np.random.Generator, Tuple[int, int, List[int]]]:
        index, rng = self._generator(key)
        if self.replayed is not None:
            return index, rng, self.replayed[index]
        return index, rng, draw_episode(self.plan, index, rng, self.shot)

    def episode(self, key: Union[int, EpisodeKey]) -> Tuple[int, int, List[int]]:
        """(query sample, class, support samples) of an episode."""
        return self._draw(key)[2]

    def _transform(self, sample: Sample, category: int, support: bool) -> Tuple[dict, np.ndarray]:
        results = self.load(sample, category)
        binary = results["gt_seg_map"]
        if self.LABEL_FORMAT == "class_index" and sample.label_path is not None and not (binary == 1).any():
            raise ValueError(f"label {sample.label_path} has no pixel of class {category}, which {self.source} "
                             f"says {sample.img_path} holds")
        if support and self.annotation == "box":
            results["gt_seg_map"] = box_label(binary)
        return self.pipeline(results), binary

    @staticmethod
    def _to_tensor(results: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        img = torch.from_numpy(np.ascontiguousarray(results["img"].transpose(2, 0, 1)))
        return img, torch.from_numpy(np.ascontiguousarray(results["gt_seg_map"])).long()

    def support_inputs(self, sample_index: int, category: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """(image (3, H, W), label (H, W)) of sample ``sample_index`` as a support of ``category``, transformed."""
        return self._to_tensor(self._transform(self.samples[sample_index], category, support=True)[0])

    def __getitem__(self, key: Union[int, EpisodeKey]) -> dict:
        index, rng, (query, category, supports) = self._draw(key)
        with global_random_from(rng):
            query_results, query_original = self._transform(self.samples[query], category, support=False)
            support_results = [self._transform(self.samples[i], category, support=True)[0] for i in supports]
        query_img, query_label = self._to_tensor(query_results)
        support_imgs, support_labels = zip(*(self._to_tensor(r) for r in support_results))
        if self.evaluates and self.eval_label == "original":
            query_label = torch.from_numpy(query_original).long()
        data_sample = SegDataSample(metainfo=dict(
            class_id=category, episode=index, img_path=self.samples[query].img_path,
            support_paths=[self.samples[i].img_path for i in supports],
            ori_shape=tuple(query_original.shape), img_shape=tuple(query_img.shape[-2:]),
            valid_shape=tuple(query_results.get("valid_shape", query_img.shape[-2:])),
        ))
        data_sample.gt_sem_seg = PixelData(data=query_label[None])
        what = f"support images and labels of one episode ({', '.join(self.samples[i].img_path for i in supports)})"
        inputs = dict(query=query_img, supports=stack_same_size(support_imgs, what, EPISODE_ADVICE),
                      support_labels=stack_same_size(support_labels, what, EPISODE_ADVICE))
        return dict(inputs=inputs, data_samples=data_sample)

