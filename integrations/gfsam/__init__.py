"""GF-SAM (NeurIPS 2024) hosted: DINOv2 (timm) and SAM (segment-anything) or SAM2 (sam2), nothing trained.

Importing this package registers :class:`GFSAM` in the registry; it imports timm and segment-anything, which
nothing else in the project does.
"""
from .model import GFSAM

__all__ = ["GFSAM"]
