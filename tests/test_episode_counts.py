"""Test episode counts of the configs and datasets are the peers' own (issue 20, section 3)."""
import glob
import os

import pytest
from mmengine.config import Config

import integrations.mmseg  # noqa: F401
from integrations.mmseg.datasets import PascalFewShotDataset
from tests.datasets_fixtures import voc_labels, write_voc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# PFENet test.py: test_num = 5000 (PASCAL) / 20000 (COCO); HSNet data/pascal.py, data/coco.py: 1000;
# HSNet data/fss.py: one episode per test image (num_episodes None: the dataset counts them)
PEER_COUNTS = {("PascalFewShotDataset", "pfenet"): 5000, ("CocoFewShotDataset", "pfenet"): 20000,
               ("PascalFewShotDataset", "hsnet"): 1000, ("CocoFewShotDataset", "hsnet"): 1000,
               ("FSS1000Dataset", "hsnet"): None,
               # PATNet data/{deepglobe,isic,lung}.py: num=600; data/fss.py (HSNet's): one per test image
               ("DeepglobeDataset", "patnet"): 600, ("ISICDataset", "patnet"): 600, ("ChestXrayDataset", "patnet"): 600,
               ("FSS1000Dataset", "patnet"): None,
               # FSS-SAM3 data/dataset_tool.py: episode_num = 1000 in 'val' mode
               ("FssSam3PascalDataset", "fss_sam3"): 1000, ("FssSam3CocoDataset", "fss_sam3"): 1000}
# a family whose PFENet-protocol test counts differ from PFENet's: FSSAM's test.py runs 1000 episodes (PASCAL's
# test_num, COCO's --episode=1000) on PFENet's rules and lists
FAMILY_COUNTS = {"fssam": 1000}
PAPER_CONFIGS = [c for c in sorted(glob.glob(os.path.join(ROOT, "configs", "*.py"))) if "generated" not in c]


@pytest.mark.parametrize("config", PAPER_CONFIGS, ids=os.path.basename)
def test_every_paper_config_tests_as_many_episodes_as_its_peer(config):
    dataset = Config.fromfile(config).test_dataloader.dataset
    key = (dataset.type, dataset.get("protocol", "pfenet"))
    name = os.path.basename(config)
    family = next((count for prefix, count in FAMILY_COUNTS.items() if name.startswith(prefix)
                   and key[1] == "pfenet"), PEER_COUNTS[key])
    assert dataset.get("num_episodes") == family, f"{name}: {key}"


def test_the_dataset_configs_name_the_source_of_their_counts():
    for name, source in (("pascal_5i", "`test_num = 5000`"), ("coco_20i", "`test_num = 20000`"),
                         ("fss1000", "HSNet's data/fss.py"), ("cdfss_deepglobe", "PATNet's data/deepglobe.py"),
                         ("cdfss_isic", "PATNet's data/isic.py"), ("cdfss_chest_xray", "PATNet's data/lung.py"),
                         ("cdfss_fss1000", "PATNet's data/fss.py")):
        with open(os.path.join(ROOT, "configs", "_base_", "datasets", f"{name}.py")) as handle:
            assert source in handle.read(), name


@pytest.mark.parametrize("protocol, expected", [("pfenet", 5000), ("hsnet", 1000)])
def test_a_test_dataset_without_a_count_runs_its_protocols_count(tmp_path, protocol, expected):
    root = str(tmp_path)
    list_file = write_voc(root, voc_labels([1, 2], per_class=3))
    split = tmp_path / "fold0.txt"
    split.write_text("".join(f"{name}__{int(name[5:7]):02d}\n" for name in voc_labels([1, 2], per_class=3)))
    source = dict(list_file=list_file) if protocol == "pfenet" else dict(split_file=str(split))
    dataset = PascalFewShotDataset(root, fold=0, mode="test", protocol=protocol, min_class_pixels=64, **source)
    assert len(dataset) == expected
