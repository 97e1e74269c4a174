"""MMSegmentation 1.x host for CRCNet: segmentor, episodic datasets, metric and loops."""
from . import compat  # noqa: F401  (must precede any mmseg import)
from . import (data_preprocessor, datasets, metric, optim_wrapper, segmentor, transforms,  # noqa: F401,E402
               visualization)  # (register into mmseg)
