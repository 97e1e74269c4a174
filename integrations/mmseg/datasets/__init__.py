"""Episodic datasets registered in mmseg's ``DATASETS``, their loading steps and the training sampler."""
from .base import FewShotDataset, Sample
from .chest_xray import ChestXrayDataset
from .coco import CocoFewShotDataset
from .deepglobe import DeepglobeDataset
from .folds import fold_classes
from .fss import FSS1000Dataset
from .fss_sam3 import FssSam3CocoDataset, FssSam3PascalDataset
from .generated import GeneratedFewShotDataset
from .generated_scenes import class_appearance, render_scene
from .images import read_binary_mask, read_image, read_label
from .isic import ISICDataset
from .loading import LoadEpisodeImage, LoadEpisodeLabel
from .pascal import PascalFewShotDataset
from .plain_pickle import load_plain_pickle
from .protocols import MIN_CLASS_PIXELS, PROTOCOLS, EpisodePlan
from .sampler import EpisodeKey, EpisodeSampler
from .transforms import LongerSideResizePad, box_label

__all__ = ["ChestXrayDataset", "CocoFewShotDataset", "DeepglobeDataset", "EpisodeKey", "EpisodePlan",
           "EpisodeSampler", "FSS1000Dataset", "FssSam3CocoDataset", "FssSam3PascalDataset", "FewShotDataset",
           "GeneratedFewShotDataset", "ISICDataset",
           "LoadEpisodeImage", "LoadEpisodeLabel", "LongerSideResizePad", "MIN_CLASS_PIXELS", "PROTOCOLS",
           "PascalFewShotDataset", "Sample", "box_label", "class_appearance", "fold_classes", "load_plain_pickle",
           "read_binary_mask", "read_image", "read_label", "render_scene"]
