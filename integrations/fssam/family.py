"""FSSAM's family record: SAM 2 small at 512 and DINOv2 ViT-B/14 at 560, trained mask decoder and memory; any input
is stretched to 512 (benchmark at ``--sizes 512``)."""
from integrations.families import BenchmarkCase, Family

ONE_SHOT, FIVE_SHOT = "configs/fssam_pascal_fold0.py", "configs/fssam5s_pascal_fold0.py"
FAMILY = Family(
    name="FSSAM", paper="Xiong et al., Unlocking the Power of SAM 2 for Few-Shot Segmentation (ICML 2025)",
    package="integrations.fssam", config_prefix="fssam",
    benchmark_cases={"FSSAM SAM2-S + DINOv2-B 1-shot": BenchmarkCase(ONE_SHOT),
                     "FSSAM5s SAM2-S + DINOv2-B 5-shot": BenchmarkCase(FIVE_SHOT, 5, note="five memory frames")},
    train_step_configs=(ONE_SHOT,))
