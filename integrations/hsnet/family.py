"""HSNet's family record: its PASCAL config with ResNet-50 in the benchmark (its own test size is 400)."""
from integrations.families import BenchmarkCase, Family

CONFIG, RESNET50 = "configs/hsnet_pascal_fold0.py", {"model.model.backbone": "resnet50"}
FAMILY = Family(
    name="HSNet", paper="Min et al., Hypercorrelation Squeeze for Few-Shot Segmentation (ICCV 2021)",
    package="integrations.hsnet", config_prefix="hsnet_",
    benchmark_cases={"HSNet 1-shot": BenchmarkCase(CONFIG, overrides=RESNET50),
                     "HSNet 5-shot vote": BenchmarkCase(CONFIG, 5, overrides=RESNET50,
                                                        note="the config's k-shot fusion: HSNet's vote")},
    train_step_configs=(CONFIG,))
