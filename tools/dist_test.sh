#!/usr/bin/env bash
# Sharded evaluation with torchrun: bash tools/dist_test.sh CONFIG GPUS TASK CHECKPOINT [args]
# Videos are split across GPUS processes (CPU processes with gloo when there is
# no GPU) and gathered on rank 0. Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT.
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: bash tools/dist_test.sh CONFIG GPUS TASK CHECKPOINT [tools/test.py options]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
TASK=$3
CHECKPOINT=$4
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
HERE=$(cd "$(dirname "$0")" && pwd)

PYTHONPATH="$HERE/..:${PYTHONPATH:-}" \
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
"${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$GPUS" \
    "$HERE/test.py" "$CONFIG" "$TASK" "$CHECKPOINT" --launcher pytorch "${@:5}"
