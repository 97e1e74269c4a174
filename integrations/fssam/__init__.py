"""FSSAM (Xiong et al., ICML 2025; ``Sam1224/FSSAM``) hosted over Meta's ``sam2`` package and timm's DINOv2, its
released checkpoints loading strictly. Configs import :mod:`.model`, which registers ``FSSAM`` and ``FSSAM5s``; this
package imports nothing itself (:mod:`.reference` runs FSSAM's own code, whose ``sam2`` copy shadows Meta's)."""
