"""What users call from Python: the predictor behind tools/infer.py and the support-sensitivity analysis.

``demo_page`` (tools/demo.py's page) is not imported here: its layout needs Gradio, from the ``[demo]`` extra.
"""
from .predictor import FewShotPredictor
from .support_sensitivity import support_sensitivity

__all__ = ["FewShotPredictor", "support_sensitivity"]
