"""Frozen weight files named by run options (the foundation families' SAM2, DINOv2, SAM): checkpoints hold only what
was trained, the tools read the files, a model with nothing trained runs with no checkpoint, and a model that has
trained weights, or files not given, says what it needs."""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import get_state_dict

import integrations.mmseg  # noqa: F401  (registers the host's types)
from crc_modules import KShotPredictor
from crc_modules.checkpoint import load_frozen_weights
from integrations.mmseg.engine.checkpoint import export_weights, load_model_weights
from integrations.mmseg.engine.run_options import resolve_config
from integrations.mmseg.models.segmentor import FewShotSegmentor
from tests.test_episode_model import TINY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FROZEN_NET = textwrap.dedent('''
    """A model on a frozen encoder read from a file (as SANSA on SAM2): an adapter inside it, a head beside it."""
    import torch
    from torch import nn

    from crc_modules import EpisodeModel, EpisodeOutput, upsampled_cross_entropy
    from crc_modules.checkpoint import load_weights_only, state_dict_in
    from crc_modules.episode_model import FrozenWeights
    from crc_modules.registry import MODELS


    class Encoder(nn.Module):
        def __init__(self, adapter):
            super().__init__()
            self.conv, self.norm = nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4)
            self.adapter = nn.Conv2d(4, 4, 1) if adapter else None

        def forward(self, images):
            features = self.norm(self.conv(images))
            return features + self.adapter(features) if self.adapter is not None else features


    def read_encoder_file(path):
        return state_dict_in(load_weights_only(path), path)


    @MODELS.register_module()
    class FrozenEncoderNet(EpisodeModel):
        weight_options = {"encoder_weights": "the encoder's released file"}

        def __init__(self, encoder_weights=None, trained=True):
            super().__init__()
            self.encoder = Encoder(adapter=trained)
            for name, param in self.encoder.named_parameters():
                param.requires_grad = name.startswith("adapter.")
            self.head = nn.Conv2d(8, 2, 1) if trained else None
            self.encoder_weights = encoder_weights

        def frozen_weights(self):
            return (FrozenWeights("encoder_weights", "encoder", self.encoder_weights, read_encoder_file),)

        def encode(self, images, masks=None):
            return self.encoder(images)

        def predict(self, query, supports, support_masks, query_masks=None):
            mask = nn.functional.interpolate(support_masks[:, 0], query.shape[-2:])
            prototype = (supports[:, 0] * mask).sum((2, 3), keepdim=True) / mask.sum((2, 3), keepdim=True).clamp(min=1)
            similarity = nn.functional.cosine_similarity(query, prototype, dim=1)[:, None]
            if self.head is None:
                return EpisodeOutput(torch.cat([torch.zeros_like(similarity), 10 * similarity], 1))
            return EpisodeOutput(self.head(torch.cat([query, prototype.expand_as(query)], 1)))

        def loss(self, output, query_labels, support_labels):
            return {"loss_query": upsampled_cross_entropy(output.query_logits, query_labels)}
''')

CONFIG = textwrap.dedent('''
    _base_ = [{base!r}]
    custom_imports = dict(imports=['integrations.mmseg', 'frozen_encoder_net'], allow_failed_imports=False)
    model = dict(model=dict(_delete_=True, type='FrozenEncoderNet', encoder_weights=None, trained={trained}))
''')


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The model file, its two configs (with and without trained parts) and an encoder file in its released layout."""
    folder = tmp_path_factory.mktemp("frozen_project")
    (folder / "frozen_encoder_net.py").write_text(FROZEN_NET)
    base = os.path.join(ROOT, "configs", "crcnet_generated.py")
    for trained in (True, False):
        (folder / f"frozen_{'trained' if trained else 'only'}.py").write_text(CONFIG.format(base=base, trained=trained))
    spec = importlib.util.spec_from_file_location("frozen_encoder_net", folder / "frozen_encoder_net.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["frozen_encoder_net"] = module
    spec.loader.exec_module(module)
    torch.manual_seed(1)
    released = {key: torch.randn_like(value.float()).to(value.dtype)
                for key, value in module.Encoder(adapter=False).state_dict().items()}
    torch.save({"model": released}, folder / "encoder.pt")
    return folder, module, released


def _segmentor(folder, trained, encoder_file=None):
    cfg = Config.fromfile(str(folder / f"frozen_{'trained' if trained else 'only'}.py"))
    cfg = resolve_config(cfg, {"encoder_weights": encoder_file} if encoder_file else {})
    return FewShotSegmentor.build(cfg)


def test_checkpoints_leave_out_the_file_weights_and_keep_the_adapter(project, tmp_path):
    folder, _, released = project
    segmentor = _segmentor(folder, True, str(folder / "encoder.pt"))
    load_frozen_weights(segmentor.model)
    assert all(torch.equal(segmentor.model.encoder.state_dict()[key], value) for key, value in released.items())
    trained = {"model.encoder.adapter.weight", "model.encoder.adapter.bias", "model.head.weight", "model.head.bias"}
    assert set(segmentor.state_dict()) == trained
    assert set(get_state_dict(segmentor)) == trained  # what MMEngine's CheckpointHook saves
    exported = torch.load(export_weights(segmentor, str(tmp_path / "weights.pth")), weights_only=True)["state_dict"]
    assert set(exported) == trained

    # a new model: the file, then the checkpoint, strictly; the file's weights stay the file's
    fresh = _segmentor(folder, True, str(folder / "encoder.pt"))
    load_model_weights(fresh, str(tmp_path / "weights.pth"))
    assert all(torch.equal(fresh.model.state_dict(keep_vars=True)[key.split(".", 1)[1]], value)
               for key, value in exported.items())
    assert torch.equal(fresh.model.encoder.conv.weight, released["conv.weight"])

    # without the file named, the encoder is an ordinary part of the model and of its checkpoints
    unnamed = _segmentor(folder, True)
    assert "model.encoder.conv.weight" in unnamed.state_dict()


def test_a_model_with_nothing_trained_runs_from_its_file_alone_and_refuses_finetuning(project):
    folder, _, released = project
    segmentor = _segmentor(folder, False, str(folder / "encoder.pt"))
    assert segmentor.state_dict() == {}
    load_model_weights(segmentor, None)
    assert torch.equal(segmentor.model.encoder.norm.running_var, released["norm.running_var"])
    images, labels = torch.randn(2, 3, 16, 16), torch.zeros(2, 16, 16, dtype=torch.long)
    labels[:, 4:12, 4:12] = 1
    with pytest.raises(ValueError, match=r"'finetune' finetunes, but FrozenEncoderNet has no trainable parameters"):
        KShotPredictor("finetune").prepare(segmentor.model, images, labels)
    with pytest.raises(ValueError, match="no trainable parameters to finetune: use the 'fusion' mode"):
        FewShotSegmentor.build(Config.fromfile(str(folder / "frozen_only.py")), kshot_mode="both")


def test_what_is_missing_is_named(project, tmp_path):
    folder, module, released = project
    with pytest.raises(ValueError, match=r"FrozenEncoderNet needs its frozen weight files: --cfg-options "
                                         r"encoder_weights=PATH$"):
        load_model_weights(_segmentor(folder, False), None)
    with pytest.raises(ValueError, match=r"needs a checkpoint of its trained weights \(4 tensors, e\.g\. "
                                         r"model\.encoder\.adapter\.weight, model\.encoder\.adapter\.bias\)$"):
        load_model_weights(_segmentor(folder, True, str(folder / "encoder.pt")), None)
    trained_only = str(tmp_path / "trained.pth")
    export_weights(_segmentor(folder, True, str(folder / "encoder.pt")), trained_only)
    with pytest.raises(ValueError, match=r"trained\.pth holds no weights for the model's encoder, which come from a "
                                         r"file: give it with --cfg-options encoder_weights=PATH"):
        load_model_weights(_segmentor(folder, True), trained_only)

    short = dict(released)
    del short["norm.running_mean"]
    torch.save({"model": short}, tmp_path / "short.pt")
    with pytest.raises(ValueError, match=r"short\.pt \(given as encoder_weights\) does not fit the model: 1 weights "
                                         r"missing from the file \(norm\.running_mean\)"):
        load_frozen_weights(_segmentor(folder, True, str(tmp_path / "short.pt")).model)
    wide = dict(released, **{"conv.weight": torch.zeros(4, 3, 5, 5)})
    torch.save({"model": wide}, tmp_path / "wide.pt")
    with pytest.raises(ValueError, match=r"wide\.pt \(given as encoder_weights\) does not fit the model: 1 weights of "
                                         r"other shapes than in the model's encoder \(conv\.weight: \(4, 3, 5, 5\) in "
                                         r"the file, \(4, 3, 3, 3\) in the model's encoder\)"):
        load_frozen_weights(_segmentor(folder, True, str(tmp_path / "wide.pt")).model)
    damaged = dict(released, **{"conv.weight": torch.full_like(released["conv.weight"], float("nan"))})
    torch.save({"model": damaged}, tmp_path / "damaged.pt")  # empty masks and mIoU 0.0 otherwise, with exit 0
    with pytest.raises(ValueError, match=r"damaged\.pt \(given as encoder_weights\) holds NaN or infinite values \(1 "
                                         r"tensors, e\.g\. conv\.weight\): the file is damaged; download it again"):
        load_frozen_weights(_segmentor(folder, True, str(tmp_path / "damaged.pt")).model)


def test_run_options_name_existing_files_for_models_that_read_them(project, tmp_path):
    folder, _, _ = project
    cfg = Config.fromfile(str(folder / "frozen_only.py"))
    with pytest.raises(FileNotFoundError, match=r"encoder_weights=.*absent\.pt: no such file"):
        resolve_config(cfg, {"encoder_weights": str(tmp_path / "absent.pt")})
    cfg = resolve_config(Config.fromfile(str(folder / "frozen_only.py")),
                         {"encoder_weights": str(folder / "encoder.pt")})
    assert cfg.model.model.encoder_weights == cfg.encoder_weights == str(folder / "encoder.pt")
    crcnet = os.path.join(ROOT, "configs", "crcnet_generated.py")
    with pytest.raises(ValueError, match=r"--cfg-options dinov2_weights: the run does not read this key \(the config "
                                         r"has no `dinov2_weights`\)\. Run options of this config: fold, "
                                         r".*sam2_weights "
                                         r"\(Meta's SAM2 file"):
        resolve_config(Config.fromfile(crcnet), {"dinov2_weights": str(folder / "encoder.pt")})
    # sam2_weights serves the prompt step of any model: kept at the top level, not given to CRCNet
    cfg = resolve_config(Config.fromfile(crcnet), {"sam2_weights": str(folder / "encoder.pt")})
    assert cfg.sam2_weights == str(folder / "encoder.pt") and "sam2_weights" not in cfg.model.model


def _run(folder, args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{folder}{os.pathsep}{ROOT}"}
    return subprocess.run([sys.executable] + args, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)


def test_the_tools_run_a_model_with_nothing_trained_from_its_file_alone(project, tmp_path):
    folder, _, _ = project
    config, encoder = str(folder / "frozen_only.py"), f"encoder_weights={folder / 'encoder.pt'}"
    trained = _run(folder, ["tools/train.py", config, "--work-dir", str(tmp_path), "--cfg-options", encoder, *TINY])
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "FrozenEncoderNet has nothing to train (every weight is frozen)" in trained.stdout
    assert not (tmp_path / "weights.pth").exists()

    out = tmp_path / "metrics.json"
    tested = _run(folder, ["tools/test.py", config, "--work-dir", str(tmp_path), "--out", str(out),
                           "--cfg-options", encoder, *TINY])
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert json.loads(out.read_text())["metrics"]["episodes"] == 4

    rng = np.random.default_rng(0)
    for name in ("support.png", "query.png"):
        cv2.imwrite(str(tmp_path / name), rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    inferred = _run(folder, ["tools/infer.py", "--config", config, "--support", str(tmp_path / "support.png"),
                             "5,5,30,30", "--query", str(tmp_path / "query.png"), "--out", str(tmp_path / "masks"),
                             "--cfg-options", encoder])
    assert inferred.returncode == 0, inferred.stderr[-3000:]
    assert cv2.imread(str(tmp_path / "masks" / "query_mask.png"), cv2.IMREAD_GRAYSCALE).shape == (40, 40)

    unnamed = _run(folder, ["tools/test.py", config, "--work-dir", str(tmp_path), "--cfg-options", *TINY])
    assert unnamed.returncode != 0
    assert "FrozenEncoderNet needs its frozen weight files: --cfg-options encoder_weights=PATH" in unnamed.stderr
