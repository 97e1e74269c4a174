"""What the tools run on: checkpoint policy, launch and run options, and the CPU autocast optimiser wrapper."""
from .checkpoint import checkpoint_policy, export_weights, load_checkpoint_file, load_model_weights
from .launch import add_common_arguments, build_runner, finish_distributed, load_config, prepare_distributed
from .optim_wrapper import CPUAutocastOptimWrapper
from .run_options import HOST_RUN_OPTIONS, resolve_config

__all__ = ["CPUAutocastOptimWrapper", "HOST_RUN_OPTIONS", "add_common_arguments", "build_runner", "checkpoint_policy",
           "export_weights", "finish_distributed", "load_checkpoint_file", "load_config", "load_model_weights",
           "prepare_distributed", "resolve_config"]
