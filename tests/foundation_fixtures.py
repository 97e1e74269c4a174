"""Tiny foundation models for tests, built through their packages' own builders (no download, seconds on a CPU),
and the photos a user gives their tools."""
import cv2
import numpy as np
import torch

from integrations.foundation.sam2_models import build_sam2_model

# Hiera-T's config made tiny: 128-px input, a 16-wide trunk of 5 blocks (q-pooling blocks 1, 2, 4; block 3 global),
# a 32-wide neck and SAM heads; the image predictor path (prompt encoder, mask decoder) runs in milliseconds.
TINY_SAM2_OVERRIDES = (
    "++model.image_size=128",
    "++model.image_encoder.trunk.embed_dim=16",
    "++model.image_encoder.trunk.num_heads=1",
    "++model.image_encoder.trunk.stages=[1,1,2,1]",
    "++model.image_encoder.trunk.global_att_blocks=[3]",
    "++model.image_encoder.trunk.window_spec=[4,4,4,4]",
    "++model.image_encoder.neck.backbone_channel_list=[128,64,32,16]",
    "++model.image_encoder.neck.d_model=32",
)


def tiny_sam2(seed: int = 0):
    """A tiny SAM2Base (random weights from ``seed``), in eval mode on the CPU."""
    torch.manual_seed(seed)
    return build_sam2_model("tiny", hydra_overrides=TINY_SAM2_OVERRIDES)


def write_meta_sam2_file(path, size: str = "tiny", seed: int = 0) -> dict:
    """A SAM2 file in Meta's layout (``{'model': state_dict}``) of a released size, random weights; its state."""
    torch.manual_seed(seed)
    state = build_sam2_model(size).state_dict()
    torch.save({"model": state}, path)
    return state


def write_support_and_query(folder) -> tuple:
    """A user's photos in ``folder``: ``support.png`` and ``query.png`` (50 x 70 random pixels, seed 0) and the
    support's ``support_mask.png`` (a 30 x 30 square); their three paths as strings."""
    rng = np.random.default_rng(0)
    paths = tuple(str(folder / name) for name in ("support.png", "query.png", "support_mask.png"))
    for path in paths[:2]:
        cv2.imwrite(path, rng.integers(0, 255, (50, 70, 3), dtype=np.uint8))
    mask = np.zeros((50, 70), np.uint8)
    mask[10:40, 20:50] = 255
    cv2.imwrite(paths[2], mask)
    return paths
