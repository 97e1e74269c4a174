"""SANSA (NeurIPS 2025) over Meta's ``sam2`` package: a frozen SAM2 with adapters inserted into Hiera, supports as
memory frames. Importing this package imports ``sam2`` only when a model is built."""
from .adapter import Adapter, insert_adapters
from .model import SANSA, ImageFeatures, SupportMemory, memory_bank

__all__ = ["SANSA", "Adapter", "ImageFeatures", "SupportMemory", "insert_adapters", "memory_bank"]
