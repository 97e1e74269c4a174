"""The registry every block is built from.

Blocks register into MMEngine's root ``MODELS``; child registries (mmseg's among them) look up their
parent, so ``dict(type='CrossReference')`` builds under mmseg's default scope as well, without this
package importing mmseg.
"""
from mmengine.registry import MODELS

__all__ = ["MODELS"]
