"""--cfg-options: every documented option changes the resolved run; a key the run would ignore is an error."""
import glob
import os
import subprocess
import sys

import pytest
from mmengine.config import Config

from integrations.mmseg.engine.run_options import resolve_config, run_options

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")


def resolved(name, **overrides):
    return resolve_config(Config.fromfile(os.path.join(ROOT, "configs", name)), overrides)


def test_fold_moves_every_dataset_to_that_fold():
    for name, fold in (("crcnet_pascal_fold0.py", 2), ("pfenet_crc_pascal_fold1.py", 3), ("crcnet_coco_fold0.py", 1)):
        cfg = resolved(name, fold=fold)
        assert [cfg[loader].dataset.fold for loader in LOADERS] == [fold] * 3, name


def test_max_epochs_sets_the_training_length_and_the_schedule_that_spanned_it():
    cfg = resolved("crcnet_pascal_fold0.py", max_epochs=1)
    assert cfg.train_cfg.max_epochs == 1 and cfg.param_scheduler[0].end == 1
    cfg = resolved("pfenet_coco_fold0.py", max_epochs=3)
    assert cfg.train_cfg.max_epochs == 3 and cfg.param_scheduler[0].end == 3


def test_released_lr_x10_multiplies_the_base_lr_as_pfenets_released_code():
    assert resolved("pfenet_pascal_fold0.py").optim_wrapper.optimizer.lr == pytest.approx(0.0025)
    assert resolved("pfenet_pascal_fold0.py", released_lr_x10=True).optim_wrapper.optimizer.lr == pytest.approx(0.025)
    assert resolved("pfenet_crc_pascal_fold2.py", released_lr_x10=True).optim_wrapper.optimizer.lr == \
        pytest.approx(0.025)
    assert resolved("pfenet_coco_fold0.py", released_lr_x10=True, base_lr=0.01).optim_wrapper.optimizer.lr == \
        pytest.approx(0.1)


def test_released_lr_x10_set_in_a_config_file_is_applied_once_by_the_tools(tmp_path):
    derived = tmp_path / "released.py"
    base = os.path.join(ROOT, "configs", "pfenet_coco_fold0.py")
    derived.write_text(f"_base_ = [{base!r}]\nreleased_lr_x10 = True\n")
    assert resolve_config(Config.fromfile(str(derived)), {}).optim_wrapper.optimizer.lr == pytest.approx(0.05)
    assert resolve_config(Config.fromfile(str(derived)), {"released_lr_x10": True}).optim_wrapper.optimizer.lr == \
        pytest.approx(0.05)


def test_key_paths_reach_pfenets_batchnorm_behaviour_and_the_test_episodes():
    cfg = resolved("pfenet_pascal_fold0.py", **{"model.model.backbone_bn_updates": True,
                                               "test_dataloader.dataset.num_episodes": 7})
    assert cfg.model.model.backbone_bn_updates is True and cfg.test_dataloader.dataset.num_episodes == 7


def test_an_explicit_key_path_wins_over_a_run_option():
    cfg = resolved("crcnet_generated.py", max_epochs=5, **{"train_cfg.max_epochs": 1})
    assert cfg.train_cfg.max_epochs == 1 and cfg.param_scheduler[0].end == 5


def test_a_config_keeps_its_own_lr_and_epochs_when_no_run_option_is_given(tmp_path):
    derived = tmp_path / "mine.py"
    derived.write_text(f"_base_ = [{os.path.join(ROOT, 'configs', 'crcnet_pascal_fold0.py')!r}]\n"
                       "optim_wrapper = dict(optimizer=dict(lr=0.01))\ntrain_cfg = dict(max_epochs=50)\n")
    cfg = resolve_config(Config.fromfile(str(derived)), {})
    assert cfg.optim_wrapper.optimizer.lr == 0.01 and cfg.train_cfg.max_epochs == 50
    cfg = resolve_config(Config.fromfile(str(derived)), {"max_epochs": 3})
    assert cfg.optim_wrapper.optimizer.lr == 0.01 and cfg.train_cfg.max_epochs == 3


@pytest.mark.parametrize("key, message", [
    ("fodl", "the config has no `fodl`"),
    ("crop_size", "already expanded"),
    ("model.modle.refine_steps", "no `model.modle`"),
])
def test_a_key_the_run_would_ignore_is_an_error_naming_it(key, message):
    with pytest.raises(ValueError, match=rf"--cfg-options {key}: .*{message}"):
        resolved("crcnet_pascal_fold0.py", **{key: 2})


def test_a_new_field_below_an_existing_one_is_reported(caplog_mmengine):
    cfg = resolved("crcnet_generated.py", **{"model.model.encoder.freeze_backbone": True})
    assert cfg.model.model.encoder.freeze_backbone is True
    assert "model.model.encoder.freeze_backbone adds `freeze_backbone`" in caplog_mmengine.text


def test_every_config_sets_its_run_options_consistently_with_the_fields_they_control():
    for path in sorted(glob.glob(os.path.join(ROOT, "configs", "*.py"))):
        as_read = Config.fromfile(path)
        own = {name: as_read[name] for name in run_options(as_read) if name in as_read}
        assert resolve_config(Config.fromfile(path), own).to_dict() == as_read.to_dict(), path


def test_the_tools_refuse_an_unknown_key_before_building_anything():
    result = subprocess.run([sys.executable, "tools/train.py", "configs/crcnet_generated.py",
                             "--cfg-options", "fodl=2"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "--cfg-options fodl: the run does not read this key" in result.stderr


def test_a_fold_run_option_names_its_own_default_work_dir():
    from integrations.mmseg.engine.launch import default_run_name
    assert default_run_name("configs/crcnet_pascal_fold0.py") == "crcnet_pascal_fold0"
    assert default_run_name("configs/crcnet_pascal_fold0_5shot.py", 2) == "crcnet_pascal_fold2_5shot"
    assert default_run_name("configs/crcnet_generated.py", 3) == "crcnet_generated_fold3"
