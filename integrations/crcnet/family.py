"""CRCNet (Section 4): the project's own model, ResNet-50, random weights in the benchmark (nothing downloaded)."""
from integrations.families import BenchmarkCase, Family

CONFIG = "configs/crcnet_pascal_fold0.py"
FAMILY = Family(
    name="CRCNet",
    paper="Liu et al., CRCNet: Few-shot Segmentation with Cross-Reference and Region-Global Conditional Networks",
    package="integrations.crcnet", config_prefix="crcnet_",
    benchmark_cases={
        "CRCNet 1-shot": BenchmarkCase(CONFIG),
        "CRCNet 5-shot fusion": BenchmarkCase(CONFIG, 5),
        "CRCNet 5-shot finetune": BenchmarkCase(CONFIG, 5, "finetune"),
        "CRCNet 1-shot multi-scale": BenchmarkCase(CONFIG, multi_scale=True),
        "CRCNet folder: 5-shot finetune + N queries": BenchmarkCase(CONFIG, 5, "finetune", folder=True),
    },
    train_step_configs=(CONFIG, "configs/crcnet_coco_fold0.py", "configs/crcnet_fss1000.py"))
