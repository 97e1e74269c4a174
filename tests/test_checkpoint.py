"""Checkpoints never run code: weights-only loading with MMEngine's exact allow-list, refusals naming file and type."""
import copy
import os
import pickle
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import CheckpointLoader

from crc_modules import EpisodeModel
from crc_modules.checkpoint import UnsafeCheckpointError, load_weights_only
from crc_modules.registry import MODELS
from integrations.mmseg.engine.checkpoint import (
    UNSAFE_PICKLE_FLAG,
    checkpoint_policy,
    export_weights,
    load_checkpoint_file,
    load_model_weights,
)
from integrations.mmseg.models.segmentor import FewShotSegmentor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "crcnet_generated.py")


class _CreatesFile:
    """Unpickling this calls ``exec``, which creates ``path``: the marker of code run from a checkpoint."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return exec, (f"open({self.path!r}, 'w').close()",)


def marker_checkpoint(tmp_path, legacy=False, state_dict=None):
    """(checkpoint whose unpickling would create a file, that file's path)."""
    marker = tmp_path / "code_ran"
    path = tmp_path / ("legacy.pth" if legacy else "marker.pth")
    torch.save({"state_dict": state_dict or {}, "meta": _CreatesFile(marker)}, path,
               _use_new_zipfile_serialization=not legacy)
    return str(path), marker


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_a_pickle_that_would_run_code_is_refused_naming_file_and_type_and_never_runs(tmp_path, legacy):
    path, marker = marker_checkpoint(tmp_path, legacy)
    with pytest.raises(UnsafeCheckpointError, match=rf"{os.path.basename(path)}.*\bexec\b"):
        load_weights_only(path)
    with pytest.raises(UnsafeCheckpointError, match=UNSAFE_PICKLE_FLAG):
        load_checkpoint_file(path)
    assert not marker.exists()


def _mmengine_like_checkpoint(path):
    """What MMEngine's CheckpointHook saves: weights, a message hub of HistoryBuffers, numpy scalars, optimiser
    state."""
    hub = MessageHub("checkpoint-test")
    for step, loss in enumerate((0.9, 0.7, 0.4)):
        hub.update_scalar("train/loss", loss)
        hub.update_scalar("val/mIoU", np.float64(40.0 + step))
    hub.update_info("eta", np.float64(12.5))
    weights = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(weights.parameters(), lr=0.1, momentum=0.9)
    weights(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    torch.save(dict(meta=dict(epoch=1, iter=3, cfg="model = dict()", dataset_meta=dict(classes=("a", "b"))),
                    state_dict=weights.state_dict(), message_hub=hub.state_dict(),
                    optimizer=optimizer.state_dict(), param_schedulers=[dict(last_step=1)]), path)


def test_mmengine_checkpoints_load_weights_only_with_their_history_and_numpy_values(tmp_path):
    path = tmp_path / "epoch_1.pth"
    _mmengine_like_checkpoint(path)
    with pytest.raises(UnsafeCheckpointError, match="HistoryBuffer"):
        load_weights_only(str(path))  # without the allow-list
    checkpoint = load_checkpoint_file(str(path))
    loss = checkpoint["message_hub"]["log_scalars"]["train/loss"]
    assert isinstance(loss, HistoryBuffer) and loss.statistics("mean") == pytest.approx((0.9 + 0.7 + 0.4) / 3)
    assert loss.statistics("min") == pytest.approx(0.4)
    assert checkpoint["message_hub"]["runtime_info"]["eta"] == np.float64(12.5)
    assert checkpoint["optimizer"]["state"][0]["momentum_buffer"].shape == (1, 2)


class _ReachesPastTheAllowList:
    def __reduce__(self):
        return getattr, (HistoryBuffer, "__init__")


def test_getattr_in_a_checkpoint_resolves_only_history_buffer_statistics(tmp_path):
    path = tmp_path / "getattr.pth"
    torch.save({"message_hub": _ReachesPastTheAllowList()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"getattr\.pth.*__init__"):
        load_checkpoint_file(str(path))


def test_the_explicit_opt_in_loads_a_full_pickle_and_warns_that_it_runs_code(tmp_path, caplog_mmengine):
    path, marker = marker_checkpoint(tmp_path)
    load_checkpoint_file(path, allow_full_pickle=True)
    assert marker.exists()
    assert re.search(rf"WARNING loading {re.escape(path)} .*runs any code", caplog_mmengine.text)


def test_the_policy_routes_mmengine_loading_and_forces_weights_only_then_restores_both(tmp_path):
    path, marker = marker_checkpoint(tmp_path)
    original = CheckpointLoader._schemes[""]
    with checkpoint_policy():
        with pytest.raises(UnsafeCheckpointError, match="marker.pth"):
            CheckpointLoader.load_checkpoint(path)
        with pytest.raises(pickle.UnpicklingError):
            torch.load(path, weights_only=False)  # any other torch.load in the tool is weights-only too
    assert CheckpointLoader._schemes[""] is original and "TORCH_FORCE_WEIGHTS_ONLY_LOAD" not in os.environ
    assert not marker.exists()


def test_the_predictor_refuses_the_marker_pickle(tmp_path):
    from integrations.mmseg.apis.predictor import FewShotPredictor

    path, marker = marker_checkpoint(tmp_path)
    with pytest.raises(UnsafeCheckpointError, match="marker.pth"):
        FewShotPredictor.from_config(CONFIG, path)
    assert not marker.exists()


def _tool(args, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("entry", ["test", "resume", "load_from", "infer"])
def test_every_entry_point_refuses_the_marker_pickle_before_it_runs(tmp_path, entry):
    path, marker = marker_checkpoint(tmp_path)
    work_dir = str(tmp_path / "work")
    small = ["--cfg-options", "train_dataloader.dataset.images_per_class=1", "train_dataloader.dataset.num_episodes=16",
             "train_dataloader.dataset.image_size=32"]
    commands = {
        "test": ["tools/test.py", CONFIG, path, "--work-dir", work_dir],
        "resume": ["tools/train.py", CONFIG, "--work-dir", work_dir, "--resume", path, *small],
        "load_from": ["tools/train.py", CONFIG, "--work-dir", work_dir, *small, f"load_from={path}"],
        "infer": ["tools/infer.py", "--config", CONFIG, "--checkpoint", path, "--support", path, "0,0,1,1",
                  "--query", path, "--out", str(tmp_path / "out")],
    }
    result = _tool(commands[entry], tmp_path)
    assert result.returncode != 0
    assert "error: refused to load" in result.stderr and "marker.pth" in result.stderr
    assert "Traceback" not in result.stderr
    assert "builtins.exec" in result.stderr
    assert not marker.exists()


def test_the_tools_opt_in_flag_loads_a_full_pickle_with_a_warning(tmp_path):
    weights = FewShotSegmentor.build(Config.fromfile(CONFIG)).state_dict()
    path, marker = marker_checkpoint(tmp_path, state_dict=weights)
    result = _tool(["tools/test.py", CONFIG, path, "--work-dir", str(tmp_path / "work"), UNSAFE_PICKLE_FLAG,
                    "--cfg-options", "test_dataloader.dataset.num_episodes=1", "test_dataloader.dataset.image_size=32"],
                   tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert marker.exists() and f"loading {path} with the full unpickler" in result.stdout + result.stderr


@MODELS.register_module(force=True)
class _HostedWithBackbone(EpisodeModel):
    """A hosted model whose own keys start with ``backbone.`` (as HSNet's do): the tools must keep that prefix."""

    def __init__(self):
        super().__init__()
        self.backbone, self.hpn_learner = torch.nn.Conv2d(3, 4, 1), torch.nn.Conv2d(4, 2, 1)


def test_a_released_data_parallel_state_dict_loads_strictly_into_the_hosted_model_keeping_its_own_prefixes(tmp_path):
    segmentor = FewShotSegmentor(dict(type="_HostedWithBackbone"))
    released = {f"module.{key}": torch.full_like(value, index) for index, (key, value)
                in enumerate(segmentor.model.state_dict().items())}
    torch.save(released, tmp_path / "best_model.pt")  # HSNet's format: a bare DataParallel state dict
    load_model_weights(segmentor, str(tmp_path / "best_model.pt"))
    assert [float(value.flatten()[0]) for value in segmentor.model.state_dict().values()] == [0, 1, 2, 3]
    del released["module.hpn_learner.bias"]
    released["module.hpn_learner.scale"] = torch.ones(1)
    torch.save(released, tmp_path / "best_model.pt")
    with pytest.raises(ValueError, match=r"best_model\.pt does not fit the config's model: 1 weights missing from the "
                                         r"file \(hpn_learner\.bias\); 1 weights the model does not have "
                                         r"\(hpn_learner\.scale\)"):
        load_model_weights(segmentor, str(tmp_path / "best_model.pt"))


def test_a_corrupt_checkpoint_is_called_corrupt_not_unsafe(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save({"state_dict": {"w": torch.randn(64, 64)}}, path)
    data = path.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    damaged = bytearray(data)
    damaged[120:126] = b"\x00" * 6  # inside the pickle of the archive
    (tmp_path / "damaged.pth").write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match=r"cut\.pth is corrupt: its zip archive is cut short or damaged"):
        load_weights_only(str(tmp_path / "cut.pth"))
    with pytest.raises(ValueError, match=r"damaged\.pth is corrupt: the entry .*data\.pkl of its zip archive fails "
                                         r"its checksum\. Copy or download it again"):
        load_weights_only(str(tmp_path / "damaged.pth"))


def test_a_non_tensor_entry_among_the_weights_is_refused_in_one_line_naming_it(tmp_path):
    """Before: a traceback ('str' object has no attribute 'shape') from the shape check."""
    path = tmp_path / "odd.pth"
    torch.save({"state_dict": {"model.w": torch.zeros(2), "model.note": "trained on Monday"}}, path)
    with pytest.raises(ValueError, match=r"odd\.pth holds str 'model\.note' among its weights, not a tensor"):
        load_model_weights(FewShotSegmentor.build(Config.fromfile(CONFIG)), str(path))
    result = subprocess.run([sys.executable, "tools/test.py", CONFIG, str(path), "--work-dir", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"error: {path} holds str 'model.note' among its weights, not a tensor" in result.stderr


def test_a_folder_given_as_weights_is_called_a_folder_not_a_missing_file(tmp_path):
    """Before: 'checkpoint not found' for a folder that is there."""
    with pytest.raises(IsADirectoryError, match=r"is a folder, not a weight file: give the file itself"):
        load_weights_only(str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"checkpoint not found: .*absent\.pth"):
        load_weights_only(str(tmp_path / "absent.pth"))
    result = subprocess.run([sys.executable, "tools/test.py", CONFIG, str(tmp_path)], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 1 and f"error: {tmp_path} is a folder, not a weight file" in result.stderr


def test_weights_of_other_shapes_are_refused_naming_the_file_the_keys_and_the_likely_cause(tmp_path):
    cfg = Config.fromfile(CONFIG)
    narrow = copy.deepcopy(cfg)
    narrow.model.model.channels = 32
    path = str(tmp_path / "narrow.pth")
    export_weights(FewShotSegmentor.build(narrow), path)
    with pytest.raises(ValueError, match=r"narrow\.pth does not fit the config's model: \d+ weights of other shapes "
                                         r"than in the model \(model\.[\w.]+: \(32, .*\) in the file, \(64, .*\) "
                                         r"in the model; .*\)\. Was it trained with other model options"):
        load_model_weights(FewShotSegmentor.build(cfg), path)


def test_infer_takes_the_opt_in_flag_its_refusals_name(tmp_path):
    marker, ran = marker_checkpoint(tmp_path)
    photo = str(tmp_path / "photo.png")
    cv2.imwrite(photo, np.zeros((20, 20, 3), np.uint8))
    result = subprocess.run([sys.executable, "tools/infer.py", "--config", CONFIG, "--checkpoint", marker,
                             "--support", photo, "2,2,10,10", "--query", photo, "--out", str(tmp_path / "out")],
                            cwd=ROOT, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode != 0 and "--unsafe-load-full-pickle loads it fully" in result.stderr
    assert not ran.exists()
    help_text = subprocess.run([sys.executable, "tools/infer.py", "--help"], cwd=ROOT, capture_output=True,
                               text=True).stdout
    assert "--unsafe-load-full-pickle" in help_text
