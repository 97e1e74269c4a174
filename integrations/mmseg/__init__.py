"""MMSegmentation 1.x host for CRCNet: segmentor, episodic datasets, metric and loops."""
from . import compat  # noqa: F401  (must precede any mmseg import)
from . import datasets, metric, segmentor, transforms, visualization  # noqa: F401,E402  (register into mmseg)
