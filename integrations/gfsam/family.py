"""GF-SAM's family record: nothing trained; its own input size is 1024 (benchmark at ``--sizes 1024``); random
weights place the most points (128)."""
from integrations.families import BenchmarkCase, Family

LARGE, SMALL = "configs/gfsam_pascal_fold0.py", "configs/gfsam_small_pascal_fold0.py"
FAMILY = Family(
    name="GF-SAM", paper="Zhang et al., Bridge the Points: Graph-based Few-shot Segment Anything Semantically "
                         "(NeurIPS 2024)",
    package="integrations.gfsam", config_prefix="gfsam_",
    benchmark_cases={
        "GF-SAM ViT-L + SAM-H 1-shot": BenchmarkCase(LARGE),
        "GF-SAM ViT-S + SAM-B 1-shot": BenchmarkCase(SMALL),
        "GF-SAM ViT-S + SAM-B 5-shot": BenchmarkCase(SMALL, 5),
    })
