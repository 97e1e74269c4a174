"""A diverged run stops at its first non-finite loss; a misspelt hook setting stops the run when built (issue 27)."""
import argparse
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmseg.registry import HOOKS, MODELS

import integrations.mmseg  # noqa: F401  (registers the host's types)
from crc_modules.checkpoint import non_finite_tensors
from integrations.cli import run_tool
from integrations.mmseg.engine.checkpoint import export_weights
from integrations.mmseg.engine.launch import check_hook_settings
from integrations.mmseg.models.segmentor import NonFiniteLossError
from tests.tool_modules import load_tool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "crcnet_generated.py")
TINY = [  # 8 episodes in batches of 4: 2 iterations an epoch, no validation
    "train_dataloader.dataset.images_per_class=1", "train_dataloader.dataset.num_episodes=8",
    "train_dataloader.dataset.image_size=40", "train_dataloader.batch_size=4", "train_cfg.val_interval=10",
    "model.model.refine_steps=1", "model.model.channels=8", "train_cfg.max_epochs=3", "param_scheduler.0.end=3"]


@HOOKS.register_module(force=True)
class PoisonWeightsHook(Hook):
    """Sets one weight to NaN before training iteration ``at`` (0-based), as a diverged update would."""

    def __init__(self, at: int):
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at:
            with torch.no_grad():
                next(runner.model.parameters()).view(-1)[0] = float("nan")


def _train_tool():
    return load_tool("train")


def test_non_finite_tensors_names_float_weights_with_nan_or_inf_only():
    state = {"ok": torch.ones(3), "nan": torch.tensor([1.0, float("nan")]), "count": torch.tensor(7),
             "inf": torch.tensor([float("-inf")], dtype=torch.bfloat16), "name": "resnet"}
    assert non_finite_tensors(state) == ["nan", "inf"]


def test_export_refuses_non_finite_weights_naming_them(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    with torch.no_grad():
        model[1].bias.fill_(float("inf"))
    with pytest.raises(ValueError, match=r"refused to export .*weights.pth: 1 weights hold NaN or infinite values "
                                         r"\(1.bias\); the training diverged"):
        export_weights(model, str(tmp_path / "weights.pth"))
    assert os.listdir(tmp_path) == []


def test_training_stops_at_the_first_non_finite_loss_naming_it_and_keeps_the_last_checkpoint(tmp_path, capsys,
                                                                                               monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", str(torch.get_num_threads()))
    config = tmp_path / "diverging.py"
    config.write_text(f"_base_ = [{CONFIG!r}]\ncustom_hooks = [dict(type='PoisonWeightsHook', at=2)]\n")
    tool = _train_tool()
    with pytest.raises(SystemExit) as exit_info:  # through the tool's own __main__ path
        run_tool(lambda: tool.main([str(config), "--work-dir", str(tmp_path / "run"), "--cfg-options", *TINY]))
    assert exit_info.value.code == 1
    message = capsys.readouterr().err.strip().splitlines()[-1]
    last = tmp_path / "run" / "epoch_1.pth"
    assert message.startswith("error: training diverged at iteration 3 (epoch 2): the loss is nan (loss_query nan")
    assert f"the last checkpoint before it is kept: {last} (continue from it with --resume {last})" in message
    assert "lower learning rate" in message and "Traceback" not in message
    assert sorted(name for name in os.listdir(tmp_path / "run") if name.endswith(".pth")) == ["epoch_1.pth"]
    state = torch.load(last, weights_only=False)["state_dict"]
    assert non_finite_tensors(state) == []  # the checkpoint of the last good epoch, no weights.pth


def test_the_segmentor_refuses_a_non_finite_loss_before_the_optimiser_step():
    segmentor = MODELS.build(Config.fromfile(CONFIG).model)
    total, _ = segmentor.parse_losses({"loss_a": torch.tensor(1.5), "loss_b": torch.tensor([0.5, 1.5])})
    assert float(total) == 2.5
    with pytest.raises(NonFiniteLossError, match=r"the loss is inf \(loss_a 1.5, loss_b inf\)"):
        segmentor.parse_losses({"loss_a": torch.tensor(1.5), "loss_b": torch.tensor([0.5, float("inf")])})


def test_a_misspelt_checkpoint_setting_stops_the_run_when_it_is_built(tmp_path):
    tool = _train_tool()
    with pytest.raises(ValueError, match=r"default_hooks.checkpoint.intervall: CheckpointHook has no setting "
                                         r"'intervall' \(did you mean 'interval'\?\); its settings are interval, "):
        tool.main([CONFIG, "--work-dir", str(tmp_path / "run"), "--cfg-options", *TINY,
                   "default_hooks.checkpoint.intervall=1"])
    assert not (tmp_path / "run").exists()  # refused before the Runner made its work dir


def test_hook_settings_are_checked_for_default_and_custom_hooks():
    cfg = Config(dict(default_hooks=dict(logger=dict(type="LoggerHook", interval=5), timer=None,
                                         checkpoint=dict(type="CheckpointHook", interval=1, priority="VERY_LOW")),
                      custom_hooks=[dict(type="PoisonWeightsHook", at=1)]))
    check_hook_settings(cfg)  # valid settings, a disabled hook and the Runner's priority pass
    cfg.custom_hooks[0]["at_iter"] = 2
    with pytest.raises(ValueError, match=r"custom_hooks.0.at_iter: PoisonWeightsHook has no setting 'at_iter'"):
        check_hook_settings(cfg)
    cfg.custom_hooks = []
    cfg.default_hooks.logger["intreval"] = 5
    with pytest.raises(ValueError, match=r"default_hooks.logger.intreval: .*did you mean 'interval'"):
        check_hook_settings(cfg)


def test_a_hook_given_as_text_by_cfg_options_is_refused_saying_where_to_set_it():
    """Before: MMEngine's TypeError traceback (its DictAction leaves a dict inside a list as text)."""
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg-options", nargs="+", action=DictAction)
    options = parser.parse_args(["--cfg-options", "custom_hooks=[dict(type='EmptyCacheHook')]"]).cfg_options
    with pytest.raises(ValueError, match=r"custom_hooks\.0 is the text \"dict\(type='EmptyCacheHook'\)\", not a hook: "
                                         r"--cfg-options cannot give a dict inside a list"):
        check_hook_settings(Config(options))
