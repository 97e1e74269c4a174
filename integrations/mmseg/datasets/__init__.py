"""Episodic datasets registered in mmseg's ``DATASETS``."""
from .base import FewShotDataset, Sample, box_label
from .coco import CocoFewShotDataset, coco_fold_classes
from .fss import FSS1000Dataset
from .generated import GeneratedFewShotDataset, render_episode_image
from .pascal import PascalFewShotDataset, fold_classes

__all__ = ["CocoFewShotDataset", "FSS1000Dataset", "FewShotDataset", "GeneratedFewShotDataset",
           "PascalFewShotDataset", "Sample", "box_label", "coco_fold_classes", "fold_classes",
           "render_episode_image"]
