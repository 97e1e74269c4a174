"""FSS-SAM3 (few-shot segmentation with SAM 3 and nothing trained) over Meta's ``sam3`` package. Importing this
package imports ``sam3`` only when a model is built."""
from .model import FSSSAM3, Segmentation

__all__ = ["FSSSAM3", "Segmentation"]
