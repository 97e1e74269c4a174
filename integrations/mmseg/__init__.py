"""MMSegmentation 1.x host for CRCNet: segmentor, episodic datasets, metric and loops."""
from . import compat  # noqa: F401  (must precede any mmseg import)

# isort: split
from . import (  # noqa: F401  (register into mmseg)
    data_preprocessor,
    datasets,
    metric,
    optim_wrapper,
    segmentor,
    transforms,
    visualization,
)
