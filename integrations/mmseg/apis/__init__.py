"""What users call from Python: the predictor behind tools/infer.py and the support-sensitivity analysis."""
from .predictor import FewShotPredictor
from .support_sensitivity import support_sensitivity

__all__ = ["FewShotPredictor", "support_sensitivity"]
