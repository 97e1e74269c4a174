"""FSS-SAM3's family record: SAM 3 (ViT-L, 840 M parameters) on one 1008x1008 canvas per query, nothing trained;
benchmark at ``--sizes 1008`` (each image is stretched into its cell of the canvas whatever its size)."""
from integrations.families import BenchmarkCase, Family

CONFIG = "configs/sam3_hsnet_pascal_fold0.py"
FAMILY = Family(
    name="FSS-SAM3", paper="FSS-SAM3: few-shot segmentation with SAM 3 visual exemplars, nothing trained "
                           "(arXiv 2604.05433; code WongKinYiu/FSS-SAM3)",
    package="integrations.sam3", config_prefix="sam3_",
    benchmark_cases={"FSS-SAM3 1-shot": BenchmarkCase(CONFIG),
                     "FSS-SAM3 5-shot": BenchmarkCase(CONFIG, 5, note="l_shape canvas, five boxes")})
