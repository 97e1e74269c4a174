"""PFENet's family record: its paper config with ResNet-50 in the benchmark."""
from integrations.families import BenchmarkCase, Family

CONFIG = "configs/pfenet_pascal_fold0.py"
FAMILY = Family(
    name="PFENet", paper="Tian et al., Prior Guided Feature Enrichment Network for Few-Shot Segmentation (TPAMI 2020)",
    package="integrations.pfenet", config_prefix="pfenet_",
    benchmark_cases={"PFENet 1-shot": BenchmarkCase(CONFIG), "PFENet 5-shot": BenchmarkCase(CONFIG, 5)},
    train_step_configs=(CONFIG, "configs/pfenet_coco_fold0.py"))
