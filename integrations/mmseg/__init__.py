"""MMSegmentation 1.x host for few-shot models, laid out as mmseg lays itself out.

``compat`` comes first (it lets mmseg import on mmcv-lite); importing the subpackages registers the
segmentor and data preprocessor (``models``), the episodic datasets and transforms (``datasets``), the
metric (``evaluation``), the CPU autocast optimiser wrapper (``engine``) and the picture hook
(``visualization``) in mmseg's registries. ``apis`` holds what users call from Python.
"""
from . import compat  # noqa: F401  (must precede any mmseg import)

# isort: split
from . import apis, datasets, engine, evaluation, models, visualization  # noqa: F401  (register into mmseg)
