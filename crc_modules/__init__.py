"""CRCNet's blocks as plug-in PyTorch modules (Liu et al., "CRCNet: Few-shot Segmentation with
Cross-Reference and Region-Global Conditional Networks").

Importing this package registers every block in MMEngine's root ``MODELS`` registry; it does not
import mmseg.
"""
from .conditional import GlobalConditional, LocalConditional, RegionGlobalConditional
from .crcnet import CRCNet, binary_mask
from .cross_reference import CoOccurrenceHead, CrossReference
from .encoder import SiameseEncoder, load_backbone_weights
from .kshot import KShotPredictor, fuse_probabilities
from .multiscale import multi_scale_probability
from .pooling import MaskedAveragePool, masked_average_pool
from .refinement import MaskRefinement
from .registry import MODELS

__all__ = [
    "CRCNet",
    "CoOccurrenceHead",
    "CrossReference",
    "GlobalConditional",
    "KShotPredictor",
    "LocalConditional",
    "MODELS",
    "MaskRefinement",
    "MaskedAveragePool",
    "RegionGlobalConditional",
    "SiameseEncoder",
    "binary_mask",
    "fuse_probabilities",
    "load_backbone_weights",
    "masked_average_pool",
    "multi_scale_probability",
]
