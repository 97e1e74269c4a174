"""Episode pictures (the paper's Fig. 9) through MMEngine's visualizer, and the mask overlay of tools/infer.py."""
from .visualization import FewShotVisualizationHook, episode_picture, overlay

__all__ = ["FewShotVisualizationHook", "episode_picture", "overlay"]
