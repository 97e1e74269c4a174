"""A foundation model's image encoders beyond bf16 on the CPU, side by side in one run: fp32, bf16 autocast, int8
weights in their linear layers (torch's dynamic quantization), and the encoders exported to ONNX and run by ONNX
Runtime or by OpenVINO (its CPU plugin picks its own precision: bf16 where the CPU has AMX); seconds per query, peak
memory, and the pixel agreement of each query's mask with fp32's.

    python tools/analysis/cpu_backends.py [CONFIG] [--queries 3] [--backends fp32 bf16 int8 onnxruntime openvino]

Needs ``pip install onnx onnxruntime openvino`` for the export runtimes. The encoders are the model's
``image_encoders`` (module ``forward``s); the rest of the model stays fp32. Each backend runs in a fresh process (its
own peak memory), on the photos matplotlib ships at the config's working size, with random weights from one seed; the
supports are prepared once and the queries timed after a first one.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.utils import import_modules_from_strings
from torch.utils._pytree import tree_flatten, tree_unflatten

import integrations.mmseg  # noqa: F401  (registers the host's types)
from integrations.cli import run_tool
from integrations.foundation.sample_photos import sample_photos
from integrations.mmseg.apis.predictor import working_size
from integrations.mmseg.models.segmentor import FewShotSegmentor

BACKENDS = ("fp32", "bf16", "int8", "onnxruntime", "openvino")


def encoder_modules(model):
    """(owner, name) of each image encoder that is a module's ``forward``."""
    modules = []
    for path in type(model).image_encoders:
        owner_path, _, method = path.rpartition(".")
        try:
            module = model.get_submodule(owner_path)
        except AttributeError:
            continue
        if method == "forward":
            modules.append((owner_path, module))
    return modules


def quantize_linear_layers(model) -> None:
    """int8 weights for the encoders' ``nn.Linear`` layers (activations quantized per call)."""
    for path, module in encoder_modules(model):
        quantized = torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)
        owner_path, _, name = path.rpartition(".")
        setattr(model.get_submodule(owner_path) if owner_path else model, name, quantized)


class ExportedForward:
    """A module's forward exported to ONNX at its first call (outputs flattened, their structure kept) and run by
    ``runtime`` ('onnxruntime' or 'openvino') from then on."""

    def __init__(self, module, folder: str, name: str, runtime: str):
        self.module, self.path, self.runtime = module, os.path.join(folder, f"{name}.onnx"), runtime
        self.run, self.structure = None, None

    def __call__(self, images):
        if self.run is None:
            _, self.structure = tree_flatten(self.module.__class__.forward(self.module, images))
            torch.onnx.export(_Flat(self.module), (images,), self.path, opset_version=17, dynamo=False)
            self.run = self._compile()
        return tree_unflatten([torch.from_numpy(output) for output in self.run(images.detach().float().numpy())],
                              self.structure)

    def _compile(self):
        if self.runtime == "onnxruntime":
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            session = onnxruntime.InferenceSession(self.path, options, providers=["CPUExecutionProvider"])
            name = session.get_inputs()[0].name
            return lambda array: session.run(None, {name: array})
        import openvino

        compiled = openvino.Core().compile_model(self.path, "CPU", {"INFERENCE_NUM_THREADS": torch.get_num_threads()})
        return lambda array: [np.asarray(output) for output in compiled(array).values()]


class _Flat(torch.nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, images):
        return tuple(tree_flatten(self.module.__class__.forward(self.module, images))[0])


def episode(size: int, queries: int):
    images = sample_photos(size)
    label = np.zeros((size, size), np.uint8)
    cv2.ellipse(label, (size // 2, size // 2), (size // 4, size // 3), 0, 0, 360, 1, -1)
    support, others = images[0], images[1:] + [image[:, ::-1] for image in images]
    return support, label, (others * queries)[:queries + 1]


def run_backend(config: str, backend: str, queries: int, out: str) -> dict:
    cfg = Config.fromfile(config)
    import_modules_from_strings(**cfg.get("custom_imports", dict(imports=[])))
    torch.manual_seed(0)
    segmentor = FewShotSegmentor.build(cfg, precision="bf16" if backend == "bf16" else "fp32").eval()
    if backend == "int8":
        quantize_linear_layers(segmentor.model)
    elif backend in ("onnxruntime", "openvino"):
        folder = tempfile.mkdtemp(prefix="onnx-")
        for path, module in encoder_modules(segmentor.model):
            module.forward = ExportedForward(module, folder, path.replace(".", "_"), backend)
    size = working_size(cfg)
    support, label, query_images = episode(size, queries)

    def tensor(image):
        return segmentor.data_preprocessor.normalize(torch.from_numpy(np.ascontiguousarray(
            image[..., ::-1].transpose(2, 0, 1))))[None]
    seconds, masks = [], []
    with torch.no_grad():
        support_set = segmentor.prepare_supports(tensor(support), torch.from_numpy(label).long()[None])
        for index, image in enumerate(query_images):
            start = time.perf_counter()
            probability = support_set.predict(tensor(image))
            if index:  # the first query builds what the backend builds once (ONNX export, kernels)
                seconds.append(time.perf_counter() - start)
            masks.append((probability[0, 0] > 0.5).numpy())
    np.save(out, np.stack(masks))
    return dict(seconds=float(np.median(seconds)), peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="configs/fssam_pascal_fold0.py")
    parser.add_argument("--queries", type=int, default=3)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--backend", choices=BACKENDS, help=argparse.SUPPRESS)  # internal: one backend, JSON out
    parser.add_argument("--masks", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.backend:
        print(json.dumps(run_backend(args.config, args.backend, args.queries, args.masks)))
        return
    folder = tempfile.mkdtemp(prefix="cpu-backends-")
    rows = {}
    for backend in args.backends:
        masks = os.path.join(folder, f"{backend}.npy")
        result = subprocess.run([sys.executable, __file__, args.config, "--backend", backend, "--masks", masks,
                                 "--queries", str(args.queries)], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"backend {backend} failed:\n{result.stderr[-2000:]}")
        rows[backend] = json.loads(result.stdout.strip().splitlines()[-1])
    reference = np.load(os.path.join(folder, "fp32.npy")) if "fp32" in rows else None
    print(f"{args.config}, {torch.get_num_threads()} threads, median of {args.queries} queries after a first one")
    print("| backend | seconds per query | x bf16 | peak memory (MiB) | pixels agreeing with fp32 |")
    print("| --- | --- | --- | --- | --- |")
    for backend, row in rows.items():
        ratio = f"{rows['bf16']['seconds'] / row['seconds']:.2f}" if "bf16" in rows else "-"
        agreement = "-" if reference is None else (
            f"{100 * float((np.load(os.path.join(folder, f'{backend}.npy')) == reference).mean()):.3f}%")
        print(f"| {backend} | {row['seconds']:.2f} | {ratio} | {row['peak_mib']:.0f} | {agreement} |", flush=True)


if __name__ == "__main__":
    run_tool(main)
