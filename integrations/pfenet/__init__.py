"""PFENet as released (ResNet-50/101, VGG-16-BN), with the CRC insertions of Tables 8 and 12 (GC, CR, CRC)."""
from .backbone import deep_stem_keys, deep_stem_resnet, vgg16_bn_keys, vgg16_bn_stages
from .model import PFENet, prior_mask

__all__ = ["PFENet", "deep_stem_keys", "deep_stem_resnet", "prior_mask", "vgg16_bn_keys", "vgg16_bn_stages"]
