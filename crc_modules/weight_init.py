"""Applying pretrained weights when training starts: the walk to every submodule's ``init_weights``."""
from __future__ import annotations

from torch import nn


def init_submodule_weights(module: nn.Module) -> None:
    """Call ``init_weights()`` of the outermost submodules of ``module`` that define it (MMEngine's convention).

    A module holding pretrained weights applies them in its ``init_weights``, which MMEngine's Runner calls
    when training starts (never when the model is built or tested). A plain ``nn.Module`` container calls
    this from its own ``init_weights`` so the call reaches modules nested below it.
    """
    for child in module.children():
        if callable(getattr(child, "init_weights", None)):
            child.init_weights()
        else:
            init_submodule_weights(child)
