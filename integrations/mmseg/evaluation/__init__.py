"""Few-shot mIoU and FB-IoU, registered in mmseg's ``METRICS``."""
from .metric import FewShotIoUMetric, episode_areas

__all__ = ["FewShotIoUMetric", "episode_areas"]
