"""What an FSSAM checkpoint must hold, and the refusal of any other file given as one, naming what it holds.

A released checkpoint (``exp.zip``: ``exp/{pascal,coco}/{FSSAM,FSSAM5s}/split{0..3}/{small,...}/snapshot/*.pth``) is
``{'epoch', 'state_dict', 'optimizer'}`` of the whole model under DDP: ``module.sam2.*`` (all of SAM 2 in Meta's
names) and ``module.dino.*`` (DINOv2 in the hub code's names).
Reading: the 1-shot and 5-shot models hold the same tensors, so which one a released file is comes from its folder
(``FSSAM`` or ``FSSAM5s``) or its name (train.py writes ``train_epoch_*`` at 1 shot, ``train5_epoch_*`` at 5); a file
named otherwise outside that layout is taken as it is.
"""
from __future__ import annotations

import re
from pathlib import PurePath
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from integrations.foundation.weight_files import what_file

RELEASED_VARIANTS = {"FSSAM": 1, "FSSAM5s": 5}  # the release's folder -> the shots its model was trained on
SNAPSHOT_NAME = re.compile(r"train(\d*)_epoch_")  # train.py's file names: train_epoch_E_MIOU, train5_epoch_E_MIOU
# part -> (its name, the entry that says which model it is)
PARTS = {"sam2": ("SAM 2", "image_encoder.trunk.patch_embed.proj.weight"),
         "dino": ("DINOv2", "patch_embed.proj.weight")}


def _part(state: Dict[str, torch.Tensor], name: str) -> Dict[str, torch.Tensor]:
    return {key[len(name) + 1:]: value for key, value in state.items() if key.startswith(f"{name}.")}


def check_fssam_checkpoint(model: nn.Module, path: str, state: Dict[str, torch.Tensor]) -> None:
    """Raise ValueError unless ``state`` (keys relative to the model) is an FSSAM of ``model``'s SAM 2 and DINOv2
    sizes, trained for its shots where the release's folder says.

    The message names the file and what it holds: a foundation model's own file (given as a run option instead),
    SANSA's adapters, an FSSAM of another size, or the other variant.
    """
    parts = {name: _part(state, name) for name in PARTS}
    if not parts["sam2"]:
        raise ValueError(f"{path} is not an FSSAM checkpoint (no sam2.* entries): it holds {what_file(state)}; Meta's "
                         f"SAM 2 and DINOv2 files are run options (--cfg-options sam2_weights=PATH "
                         f"dinov2_weights=PATH)")
    for name, (label, identity) in PARTS.items():
        if identity not in parts[name]:
            continue  # a checkpoint that leaves the frozen part to its run option's file
        found, built = what_file(parts[name]), what_file(getattr(model, name).state_dict())
        if found != built:
            raise ValueError(f"{path} holds an FSSAM whose {label} is {found}, but the config builds {built}: change "
                             f"the config's model (sam2_size, dinov2) to the file's")
    shots, evidence = trained_shots_of(path)
    if shots is not None and shots != model.trained_shots:
        raise ValueError(f"{path} is the {shots}-shot FSSAM ({evidence} says so), but the config builds the "
                         f"{model.trained_shots}-shot model: use configs/{'fssam5s' if shots == 5 else 'fssam'}_*.py")


def trained_shots_of(path: str) -> Tuple[Optional[int], str]:
    """(shots, what says so) of a released FSSAM file from its folder or name; (None, '') where neither says."""
    parts = PurePath(path).parts
    folders = [RELEASED_VARIANTS[part] for part in parts[:-1] if part in RELEASED_VARIANTS]
    if folders:
        return folders[-1], "its folder"
    name = SNAPSHOT_NAME.match(parts[-1]) if parts else None
    if name:
        return int(name.group(1) or 1), "its name"
    return None, ""
