#!/usr/bin/env bash
# GPU check of the project on one CUDA device, under 8 minutes on a current data-centre GPU:
#   1. the `cuda` tests (pytest -m cuda): --amp training, fp32/fp16/bf16 testing against the CPU, infer,
#      k-shot finetuning, torchrun with NCCL;
#   2. the benchmark's GPU table (tools/benchmark.py --device cuda, fp32/fp16/bf16, channels_last) and one
#      training step per paper config (tools/benchmark_train_step.py);
#   3. a short tools/train.py configs/crcnet_generated.py run (--amp) on the GPU;
# then one summary table. Without a GPU it says so and exits 0.
#
#   bash tools/gpu_check.sh [OUT_DIR]        (PYTHON=.venv/bin/python, GPU_CHECK_SIZES="473" to change)
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
OUT=${1:-work_dirs/gpu_check}
SIZES=${GPU_CHECK_SIZES:-473}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA device visible to $PYTHON (torch.cuda.is_available() is False): nothing to check."
    exit 0
fi
mkdir -p "$OUT"
"$PYTHON" -c "import torch; print('gpu_check:', torch.cuda.get_device_name(0), '| torch', torch.__version__, \
'| CUDA', torch.version.cuda, '| bf16', torch.cuda.is_bf16_supported())" | tee "$OUT/device.txt"

SUMMARY=()
run_step() {  # name, log file, command...
    local name=$1 log=$2
    shift 2
    local start=$SECONDS
    "$@" >"$log" 2>&1
    local status=$?
    local verdict=passed
    [ $status -ne 0 ] && verdict="FAILED (exit $status)"
    SUMMARY+=("| $name | $verdict | $((SECONDS - start)) | $log |")
    echo "gpu_check: $name: $verdict in $((SECONDS - start)) s (log: $log)"
}

run_step "pytest -m cuda" "$OUT/cuda_tests.log" \
    "$PYTHON" -m pytest -m cuda tests/test_cuda.py tests/test_gfsam.py -q -rs -p no:cacheprovider
run_step "benchmark (inference)" "$OUT/benchmark.log" \
    "$PYTHON" tools/benchmark.py --device cuda --sizes $SIZES --repeats 3 --precisions fp32 fp16 bf16
run_step "benchmark (training step)" "$OUT/benchmark_train_step.log" \
    "$PYTHON" tools/benchmark_train_step.py --device cuda --precisions fp32 fp16 bf16
run_step "train crcnet_generated (1 epoch, --amp)" "$OUT/train.log" \
    "$PYTHON" tools/train.py configs/crcnet_generated.py --amp --work-dir "$OUT/train" \
    --cfg-options train_cfg.max_epochs=1 param_scheduler.0.end=1 train_cfg.val_interval=1

echo
echo "## pytest -m cuda"
tail -n 15 "$OUT/cuda_tests.log"
echo
echo "## benchmark (inference, CUDA events, peak = torch.cuda.max_memory_allocated)"
grep -E '^(\||device|folder)' "$OUT/benchmark.log"
echo
echo "## benchmark (one training step per paper config)"
grep -E '^(\||training)' "$OUT/benchmark_train_step.log"
echo
echo "## training on the GPU"
grep -E 'Epoch\((train|val)\).*(\[1\]\[[0-9]+/[0-9]+\]|mIoU)' "$OUT/train.log" | tail -n 3
echo
echo "## summary ($(cat "$OUT/device.txt"))"
echo "| step | result | seconds | log |"
echo "| --- | --- | --- | --- |"
printf '%s\n' "${SUMMARY[@]}"
for row in "${SUMMARY[@]}"; do
    case $row in *FAILED*) exit 1 ;; esac
done
exit 0
