"""The few-shot segmentor that the Runner trains and tests, and its data preprocessor."""
from .data_preprocessor import FewShotDataPreprocessor
from .segmentor import FewShotSegmentor

__all__ = ["FewShotDataPreprocessor", "FewShotSegmentor"]
