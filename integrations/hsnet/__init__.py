"""HSNet as released (backbones, hypercorrelation pyramid, centre-pivot 4D convolution, learner), with CR / GC."""
from .backbone import STAGE_LAYERS, backbone_features, build_backbone
from .conv4d import CenterPivotConv4d
from .correlation import cosine_correlation, hypercorrelation_pyramid
from .learner import HypercorrelationLearner
from .model import HSNet

__all__ = ["STAGE_LAYERS", "CenterPivotConv4d", "HSNet", "HypercorrelationLearner", "backbone_features",
           "build_backbone", "cosine_correlation", "hypercorrelation_pyramid"]
