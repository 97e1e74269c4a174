"""CRCNet's blocks as plug-in PyTorch modules (Liu et al., "CRCNet: Few-shot Segmentation with
Cross-Reference and Region-Global Conditional Networks").

Importing this package registers every block in MMEngine's root ``MODELS`` registry; it does not
import mmseg.
"""
from .checkpoint import load_backbone_weights
from .conditional import GlobalConditional, LocalConditional, RegionGlobalConditional
from .crcnet import CRCNet
from .cross_reference import CoOccurrenceHead, CrossReference
from .encoder import SiameseEncoder
from .episode_model import EpisodeModel, EpisodeOutput
from .features import binary_mask, map_features
from .finetune import FinetuneSettings
from .fusion import FUSIONS
from .kshot import KShotPredictor
from .labels import IGNORE_INDEX
from .losses import upsampled_cross_entropy
from .multiscale import MULTI_SCALES, MultiScaleSupportSet
from .pooling import MaskedAveragePool, masked_average_pool
from .refinement import MaskRefinement
from .registry import MODELS
from .support_set import SupportSet

__all__ = [
    "CRCNet",
    "CoOccurrenceHead",
    "CrossReference",
    "EpisodeModel",
    "EpisodeOutput",
    "FUSIONS",
    "FinetuneSettings",
    "GlobalConditional",
    "IGNORE_INDEX",
    "KShotPredictor",
    "LocalConditional",
    "MODELS",
    "MULTI_SCALES",
    "MaskRefinement",
    "MaskedAveragePool",
    "MultiScaleSupportSet",
    "RegionGlobalConditional",
    "SiameseEncoder",
    "SupportSet",
    "binary_mask",
    "load_backbone_weights",
    "masked_average_pool",
    "map_features",
    "upsampled_cross_entropy",
]
