"""FSSAM's own code on random weights, for :mod:`integrations.fssam.equivalence`.

It runs in a process of its own, since the ``sam2`` copy in ``Sam1224/FSSAM`` shadows Meta's package
(``python -m integrations.fssam.reference --reference SRC --dinov2 SRC --out FILE``;
:mod:`integrations.fssam.equivalence` starts it).

The released ``model/FSSAM.py`` and ``model/FSSAM5s.py`` are imported from a copy outside this repository, never
shipped, with the released ``sam2`` copy; DINOv2 is Meta's hub code from a copy of ``facebookresearch/dinov2``,
built without weights (``torch.hub.load(..., source='local', pretrained=False)``). Changes made here, and only here:

- ``RoPEAttention.Weighted_GAP`` is ``model/FSSAM.py``'s ``Weighted_GAP`` (the call the released code fails on);
- ``add_new_mask_batch`` keeps the memory features in fp32 (the released code casts them to bf16 for CUDA autocast);
- on a machine without CUDA, tensors asked for on ``cuda`` stay on the CPU.

Every floating tensor of the random model that is constant (LayerNorm scales and shifts, LayerScale's 1e-5, zero
biases and tokens) is re-drawn around its value, so that every part affects the output. The file written holds the
state dict, the episodes (raw 0-255 images, masks) and the released model's logits at 1 and 5 shots.
"""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import sys
import textwrap
from types import SimpleNamespace

import torch

from integrations.foundation.meta_device import CudaToDefaultDevice

SIDE = 512


def _module(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fp32_memory(predictor_class) -> None:
    """``add_new_mask_batch`` recompiled without its final cast of the memory features to bf16."""
    source = textwrap.dedent(inspect.getsource(predictor_class.add_new_mask_batch))
    cast = "maskmem_features = maskmem_features.to(torch.bfloat16)"
    if cast not in source:
        raise RuntimeError("add_new_mask_batch no longer casts its memory to bf16: check the reference copy")
    namespace = vars(sys.modules[predictor_class.__module__])
    exec(compile(source.replace(cast, "pass"), "add_new_mask_batch", "exec"), namespace)  # noqa: S102
    predictor_class.add_new_mask_batch = namespace["add_new_mask_batch"]


def redraw_constants(model: torch.nn.Module, generator: torch.Generator) -> int:
    """Every constant floating tensor of ``model`` plus N(0, 0.1) noise; returns how many were re-drawn."""
    count = 0
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point() and tensor.numel() > 0 and bool((tensor == tensor.flatten()[0]).all()):
                tensor.add_(0.1 * torch.randn(tensor.shape, generator=generator))
                count += 1
    return count


def episodes(generator: torch.Generator, count: int, shots: int):
    """``count`` episodes of smooth random images (0-255) with an ellipse of one colour on each; the ellipse is the
    supports' mask and the query's label. Returns (queries (B, 3, S, S), supports (B, K, 3, S, S), masks (B, K, S, S),
    labels (B, S, S))."""
    def image_and_mask():
        image = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 8, generator=generator) * 255, (SIDE, SIDE),
                                                mode="bicubic", align_corners=False)[0].clamp(0, 255)
        centre = torch.rand(2, generator=generator) * SIDE * 0.5 + SIDE * 0.25
        radii = torch.rand(2, generator=generator) * SIDE * 0.2 + SIDE * 0.1
        ys, xs = torch.meshgrid(torch.arange(SIDE), torch.arange(SIDE), indexing="ij")
        mask = (((xs - centre[0]) / radii[0]) ** 2 + ((ys - centre[1]) / radii[1]) ** 2) <= 1
        image[:, mask] = colour[:, None]
        return image, mask.float()

    queries, supports, masks, labels = [], [], [], []
    for _ in range(count):
        colour = torch.rand(3, generator=generator) * 255
        query, label = image_and_mask()
        shot_images, shot_masks = zip(*(image_and_mask() for _ in range(shots)))
        queries.append(query), labels.append(label)
        supports.append(torch.stack(shot_images)), masks.append(torch.stack(shot_masks))
    return torch.stack(queries), torch.stack(supports), torch.stack(masks), torch.stack(labels)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="a copy of Sam1224/FSSAM")
    parser.add_argument("--dinov2", required=True, help="a copy of facebookresearch/dinov2 (its hubconf.py)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sys.path.insert(0, args.reference)  # its sam2 copy and sam2_configs, ahead of Meta's package
    import sam2.modeling.sam.transformer as transformer
    from sam2.sam2_video_predictor import SAM2VideoPredictor

    models = {shots: _module(os.path.join(args.reference, "model", f"{name}.py"), f"fssam_reference_{name}")
              for shots, name in ((1, "FSSAM"), (5, "FSSAM5s"))}
    transformer.RoPEAttention.Weighted_GAP = staticmethod(models[1].Weighted_GAP)
    _fp32_memory(SAM2VideoPredictor)
    hub_load = torch.hub.load
    torch.hub.load = lambda repo, name, **kw: hub_load(args.dinov2, name, source="local", pretrained=False)
    generator = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    written = {}
    with torch.device("cuda") if torch.cuda.is_available() else CudaToDefaultDevice(), torch.no_grad():
        state = None
        for shots, module in models.items():
            options = SimpleNamespace(zoom_factor=8, shot=shots, data_set="pascal", print_freq=10, sam2_weight=None,
                                      sam2_config="sam2_hiera_s.yaml", num_refine=3, ver_refine="v1",
                                      ver_dino="dinov2_vitb14")
            model = module.OneModel(options).eval()
            if state is None:
                written["redrawn"] = redraw_constants(model, generator)
                state = {key: value.clone() for key, value in model.state_dict().items()}
            model.load_state_dict(state)
            queries, supports, masks, labels = episodes(generator, args.episodes, shots)
            logits = torch.cat([model(x=queries[i:i + 1], s_x=supports[i:i + 1], s_y=masks[i:i + 1],
                                      y_m=labels[i:i + 1])[0] for i in range(len(queries))])
            written[shots] = dict(queries=queries, supports=supports, masks=masks, logits=logits.float())
    written["state_dict"] = state
    torch.save(written, args.out)


if __name__ == "__main__":
    main()
