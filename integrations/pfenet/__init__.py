"""PFENet as released, with the CRC insertions of Tables 8 and 12 (GC, CR, CRC)."""
from .backbone import deep_stem_keys, deep_stem_resnet
from .model import PFENet, prior_mask

__all__ = ["PFENet", "deep_stem_keys", "deep_stem_resnet", "prior_mask"]
