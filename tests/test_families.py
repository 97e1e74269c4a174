"""The host knows no family by name (issue 30): families declare themselves in their ``family.py``, models declare
their frozen files' run options and their prompt step, and the tools derive their options, help and checks from that.
"""
import glob
import os
import re

import pytest
from mmengine.config import Config

import integrations.mmseg  # noqa: F401  (registers the host's types)
from crc_modules import EpisodeModel
from integrations.families import benchmark_cases, families
from integrations.foundation import SHARED_WEIGHT_OPTIONS
from integrations.mmseg.engine.run_options import resolve_config, run_options, weight_options
from tests.test_meta_device import MODEL_CONFIGS, build_on_meta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the foundation families and their weight run options: what the host must not name
FAMILY_NAMES = re.compile(r"SANSA|GF-?SAM|FSS-?SAM|FSSAM|SAM ?3|sam3|sam2_weights|dinov2_weights|sam_weights",
                          re.IGNORECASE)


def host_files():
    """Every Python file of ``crc_modules/`` and ``integrations/mmseg/``, but the datasets (where protocols named
    after a paper may live)."""
    files = glob.glob(os.path.join(ROOT, "crc_modules", "**", "*.py"), recursive=True)
    files += glob.glob(os.path.join(ROOT, "integrations", "mmseg", "**", "*.py"), recursive=True)
    return sorted(path for path in files if os.sep + "datasets" + os.sep not in path)


def test_the_host_names_no_foundation_family_and_none_of_their_weight_options():
    named = {os.path.relpath(path, ROOT): sorted(set(FAMILY_NAMES.findall(open(path).read())))
             for path in host_files()}
    assert len(named) > 30
    assert {path: names for path, names in named.items() if names} == {}


def test_every_family_package_declares_itself_and_its_configs_exist():
    found = {family.name: family for family in families()}
    assert {"CRCNet", "PFENet", "HSNet", "SANSA", "GF-SAM"} <= set(found)
    configs = {os.path.basename(path) for path in glob.glob(os.path.join(ROOT, "configs", "*.py"))}
    for family in found.values():
        assert any(name.startswith(family.config_prefix) for name in configs), family.name
        for config in [case.config for case in family.benchmark_cases.values()] + list(family.train_step_configs):
            assert os.path.isfile(os.path.join(ROOT, config)), config
    # every config belongs to a family by its prefix
    assert all(any(name.startswith(f.config_prefix) for f in found.values()) for name in configs)
    assert set(benchmark_cases()) == {name for f in found.values() for name in f.benchmark_cases}
    trained = {f.name for f in found.values() if f.train_step_configs}
    assert trained == {"CRCNet", "PFENet", "HSNet", "SANSA", "FSSAM"}  # GF-SAM and FSS-SAM3 have nothing to train


@pytest.mark.parametrize("config", MODEL_CONFIGS)
def test_each_models_frozen_files_are_among_the_run_options_it_declares(config):
    model = build_on_meta(config)
    assert isinstance(model, EpisodeModel)
    options = {part.option for part in model.frozen_weights()}
    assert options <= set(type(model).weight_options), config
    cfg = Config.fromfile(os.path.join(ROOT, "configs", config))
    assert set(weight_options(cfg)) == set(type(model).weight_options) | set(SHARED_WEIGHT_OPTIONS)
    assert options <= set(run_options(cfg))
    # a foundation model turns prompts into supports itself: its own prompt step, or prompts as its input
    assert (model.prompt_masker() is not None or model.takes_prompts) == bool(options), config


def test_a_weight_option_the_model_does_not_declare_is_refused_listing_those_it_does(tmp_path):
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"")
    gfsam = Config.fromfile(os.path.join(ROOT, "configs", "gfsam_small_pascal_fold0.py"))
    resolved = resolve_config(gfsam, {"dinov2_weights": str(weights)})
    assert resolved.model.model.dinov2_weights == str(weights)
    sansa = Config.fromfile(os.path.join(ROOT, "configs", "sansa_coco_fold0.py"))
    with pytest.raises(ValueError, match=r"--cfg-options dinov2_weights: the run does not read this key .* Run options "
                                         r"of this config: .*sam2_weights \(Meta's SAM2 file of the config's size"):
        resolve_config(sansa, {"dinov2_weights": str(weights)})
    with pytest.raises(IsADirectoryError, match=r"sam2_weights=.* is a folder: give the weight file itself"):
        resolve_config(Config.fromfile(os.path.join(ROOT, "configs", "sansa_coco_fold0.py")),
                       {"sam2_weights": str(tmp_path)})
