#!/usr/bin/env bash
# Folder inference on several processes (torchrun): each segments its share of the queries, the supports prepared once
# per process; a rerun with the same settings completes what a killed run left.
#   bash tools/dist_infer.sh CONFIG CHECKPOINT GPUS --support IMAGE MARK --query FOLDER --out OUT [--device cuda]
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
python -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$(dirname "$0")/infer.py" --config "$CONFIG" --checkpoint "$CHECKPOINT" --launcher pytorch "${@:4}"
