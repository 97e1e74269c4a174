"""SANSA's family record: SAM2 Hiera-T or Hiera-L with adapters; any input is resized to SAM2's 1024 (benchmark at
``--sizes 1024``)."""
from integrations.families import BenchmarkCase, Family

CONFIG, TINY = "configs/sansa_coco_fold0.py", {"model.model.sam2_size": "tiny"}
FAMILY = Family(
    name="SANSA", paper="Cuttano et al., SANSA: Unleashing the Hidden Semantics in SAM2 for Few-Shot Segmentation "
                        "(NeurIPS 2025)",
    package="integrations.sansa", config_prefix="sansa_",
    benchmark_cases={
        "SANSA Hiera-T 1-shot": BenchmarkCase(CONFIG, overrides=TINY),
        "SANSA Hiera-T 5-shot": BenchmarkCase(CONFIG, 5, overrides=TINY, note="five memory frames"),
        "SANSA Hiera-L 1-shot": BenchmarkCase(CONFIG),
        "SANSA Hiera-L 5-shot": BenchmarkCase(CONFIG, 5),
    },
    train_step_configs=(CONFIG,))  # the adapters in a frozen SAM2 Hiera-L
