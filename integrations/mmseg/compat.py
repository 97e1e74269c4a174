"""Lets mmseg import on ``mmcv-lite`` (no compiled ops); a no-op when a full mmcv with ops is installed.

mmseg imports a few ``mmcv.ops`` names at module level although only some models use them. When the
compiled extension is missing, this installs an ``mmcv.ops`` module that serves the pure-PyTorch
``point_sample`` shipped with mmcv-lite and placeholders that raise a clear error only when a
compiled op is actually used. Import this module before anything imports mmseg.
"""
from __future__ import annotations

import importlib
import os
import sys
import types
import warnings

import mmcv

COMPILED_OP_NAMES = ("CrissCrossAttention", "DeformConv", "DeformConv2d", "ModulatedDeformConv2d", "PSAMask",
                     "sigmoid_focal_loss")


def _compiled_op_placeholder(name: str):
    def unavailable(*args, **kwargs):
        raise RuntimeError(
            f"mmcv.ops.{name} needs the compiled mmcv (this environment has mmcv-lite). "
            "Install mmcv with ops, or choose a model that does not use it."
        )

    return type(name, (), {"__init__": unavailable, "__call__": unavailable}) if name[0].isupper() else unavailable


def _install_lite_ops() -> None:
    ops = types.ModuleType("mmcv.ops")
    ops.__path__ = [os.path.join(os.path.dirname(mmcv.__file__), "ops")]
    ops.__doc__ = "mmcv-lite stand-in installed by integrations.mmseg.compat"
    sys.modules["mmcv.ops"] = ops
    mmcv.ops = ops
    ops.point_sample = importlib.import_module("mmcv.ops.point_sample").point_sample
    for name in COMPILED_OP_NAMES:
        setattr(ops, name, _compiled_op_placeholder(name))


def ensure_mmseg_importable() -> bool:
    """Install the stand-in when needed; True when it was installed."""
    try:
        import mmcv.ops  # noqa: F401
        return False
    except ImportError as err:  # ModuleNotFoundError: No module named 'mmcv._ext'
        if "_ext" not in str(err):
            raise
    for name in [key for key in sys.modules if key.startswith("mmcv.ops")]:
        del sys.modules[name]
    _install_lite_ops()
    return True


LITE_OPS_INSTALLED = ensure_mmseg_importable()
if LITE_OPS_INSTALLED:  # mmseg.models imports mmcv's transformer bricks, which warn although no model here uses them
    warnings.filterwarnings("ignore", message="Fail to import ``MultiScaleDeformableAttention``", category=UserWarning)
