#!/usr/bin/env bash
# GPU self-check, to run once after installing on a GPU machine: bash tools/check_gpu.sh [--dry-run]
#
# Steps, each under its own timeout (a failed step does not stop the others):
#   1. the CUDA tests: pytest -m cuda (tests/cuda: attention, AMP training, propagation parity)
#   2. 200 iterations of the demo training at 256x256 with --amp: first/last loss, s/iter
#   3. DAVIS evaluation through tools/dist_test.sh on 1 GPU (protocol B lite, model-zoo
#      weights, davis2016-val-subset) with --amp: J&F; then in fp32 if the time budget
#      allows: the J&F difference
#   4. the benchmarks with --device cuda (one without that option is reported SKIPPED)
# About 8 minutes on one H100/H200. Writes ONE summary, work_dirs/check_gpu/summary.md (GPU,
# versions, bf16 support, per step PASS/FAIL, key figures, time; the path is printed at the
# end), with the logs and benchmark reports beside it. Exit status 0 if every step passed,
# 1 if one failed or timed out, 2 if no GPU is visible (nothing is run then).
#
# --dry-run: the same steps on the CPU with tiny settings (a few minutes), to check the
# script on a machine without a GPU; the CUDA tests skip there.
#
# Environment: PYTHON (default python), CORRFLOW_SHARED_DATA (the test data, default the
# shared/data folder beside the repository), CHECK_GPU_DIR (default work_dirs/check_gpu), PORT
# (torchrun port of tools/dist_test.sh, default 29500). Relative paths in CORRFLOW_SHARED_DATA
# and CHECK_GPU_DIR are taken from the repository root.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PYTHON=${PYTHON:-python}
case "$PYTHON" in  # a relative path, from where the script was started
    /*) ;;
    */*) PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")" ;;
esac
export PYTHON  # tools/dist_test.sh reads it too
cd "$ROOT" || exit 2
DRY_RUN=0
case "${1:-}" in
    '') ;;
    --dry-run) DRY_RUN=1 ;;
    -h|--help) sed -n '2,22p' "$HERE/check_gpu.sh" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: bash tools/check_gpu.sh [--dry-run]" >&2; exit 2 ;;
esac
DATA=${CORRFLOW_SHARED_DATA:-$ROOT/../shared/data}
DAVIS=$DATA/davis2016-val-subset
CHECKPOINT=checkpoints/corrflow_r18_davis16.pth
OUT=${CHECK_GPU_DIR:-work_dirs/check_gpu}
SUMMARY=$OUT/summary.md
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

if [ "$DRY_RUN" = 0 ]; then
    if ! "$PYTHON" -c 'import torch; assert torch.cuda.is_available()' >/dev/null 2>&1; then
        echo "error: no CUDA GPU is visible to PyTorch ($PYTHON -c 'import torch; assert" \
             "torch.cuda.is_available()' failed), so nothing was checked. Check nvidia-smi," \
             "CUDA_VISIBLE_DEVICES and that torch is a CUDA build ($PYTHON -c 'import torch;" \
             "print(torch.version.cuda)' must not print None). To test this script on a CPU:" \
             "bash tools/check_gpu.sh --dry-run" >&2
        exit 2
    fi
    DEVICE=cuda
    ITERS=200 SIZE=256 LOG_INTERVAL=10
    WORKERS=$(( $(nproc) > 10 ? 8 : ( $(nproc) > 3 ? $(nproc) - 2 : 1 ) ))  # clips render on CPUs
    TEST_OPTIONS=()
    BENCH_OPTIONS=()
    # timeouts (s): typical durations on one H200 are well under them
    T_PYTEST=300 T_TRAIN=300 T_TEST=240 T_BENCH=240
    FP32_TEST_BUDGET=330  # the fp32 evaluation runs when steps 1-3 took less (s)
else
    DEVICE=cpu
    ITERS=4 SIZE=64 LOG_INTERVAL=2 WORKERS=1
    TEST_OPTIONS=(--cfg-options "test_dataloader.dataset.sequences=[car-shadow]"
                  model.input_size=64)
    BENCH_OPTIONS=(--smoke)
    T_PYTEST=600 T_TRAIN=300 T_TEST=300 T_BENCH=300
    FP32_TEST_BUDGET=100000
fi

# only this script's outputs are replaced
rm -rf "$OUT/logs" "$OUT/train" "$OUT/test_auto" "$OUT/test_fp32" "$OUT/bench" "$SUMMARY"
mkdir -p "$OUT/logs" "$OUT/bench"
START=$SECONDS
FAILED=0
ROWS=()

say() { echo "[check_gpu] $*"; }

# run_step NAME TIMEOUT LOG COMMAND...: sets STATUS and TOOK (s); the output goes to LOG
run_step() {
    local name=$1 limit=$2 log=$3
    shift 3
    say "$name (timeout ${limit} s): $*"
    local t0=$SECONDS rc
    timeout --kill-after=30 "$limit" "$@" >"$log" 2>&1
    rc=$?
    TOOK=$((SECONDS - t0))
    case $rc in
        0) STATUS=PASS ;;
        124|137) STATUS="FAIL (timed out after ${limit} s)"; FAILED=1 ;;
        *) STATUS="FAIL (exit status $rc)"; FAILED=1 ;;
    esac
    say "$name: $STATUS in ${TOOK} s (log $log)"
}

# row NAME STATUS SECONDS FIGURES: one line of the summary table
row() { ROWS+=("| $1 | $2 | $3 | $4 |"); }

figures() { "$PYTHON" tools/analysis/check_gpu_figures.py "$@" 2>/dev/null || echo '(no figures)'; }

# 1. the CUDA tests
run_step 'CUDA tests' "$T_PYTEST" "$OUT/logs/pytest_cuda.log" \
    "$PYTHON" -m pytest -m cuda -q -rfEsx
row '1. `pytest -m cuda`' "$STATUS" "${TOOK} s" "$(figures pytest "$OUT/logs/pytest_cuda.log")"

# 2. demo training at 256x256 with --amp
run_step 'demo training' "$T_TRAIN" "$OUT/logs/train.log" \
    "$PYTHON" tools/train.py configs/train/corrflow_r18_demo.py --amp --work-dir "$OUT/train" \
    --cfg-options train_cfg.max_iters="$ITERS" \
    "train_dataloader.dataset.datasets.0.size=[$SIZE,$SIZE]" \
    train_dataloader.num_workers="$WORKERS" default_hooks.logger.interval="$LOG_INTERVAL" \
    default_hooks.checkpoint.interval="$ITERS"
row "2. demo training, $ITERS iterations at ${SIZE}x${SIZE}, \`--amp\`, loader workers: $WORKERS" \
    "$STATUS" "${TOOK} s" "$(figures train "$OUT/train")"

# 3. DAVIS evaluation on one GPU, --amp and (if the budget allows) fp32
TEST_ROW="3. DAVIS J&F, \`dist_test.sh\` with 1 process ($DEVICE), protocol B lite"
if [ ! -d "$DAVIS" ] || [ ! -f "$CHECKPOINT" ]; then
    row "$TEST_ROW" SKIPPED - "needs $DAVIS and $CHECKPOINT (set CORRFLOW_SHARED_DATA)"
else
    test_run() {  # test_run PRECISION
        run_step "DAVIS evaluation ($1)" "$T_TEST" "$OUT/logs/test_$1.log" \
            bash tools/dist_test.sh configs/test/corrflow_davis_topk_lite.py 1 davis \
            "$CHECKPOINT" --data-root "$DAVIS" --work-dir "$OUT/test_$1" --amp "$1" \
            ${TEST_OPTIONS[@]+"${TEST_OPTIONS[@]}"}
    }
    test_run auto
    AMP_STATUS=$STATUS AMP_TOOK=$TOOK
    if [ "$AMP_STATUS" = PASS ] && [ $((SECONDS - START)) -lt "$FP32_TEST_BUDGET" ]; then
        test_run fp32
        row "$TEST_ROW, \`--amp\`" "$AMP_STATUS" "${AMP_TOOK} s" \
            "$(figures test "$OUT/test_auto/davis" --ref "$OUT/test_fp32/davis")"
        row "$TEST_ROW, fp32" "$STATUS" "${TOOK} s" "$(figures test "$OUT/test_fp32/davis")"
    else
        row "$TEST_ROW, \`--amp\`" "$AMP_STATUS" "${AMP_TOOK} s" \
            "$(figures test "$OUT/test_auto/davis")"
        row "$TEST_ROW, fp32" SKIPPED - \
            "steps 1-3 took $((SECONDS - START)) s (fp32 runs below ${FP32_TEST_BUDGET} s) or --amp failed"
    fi
fi

# 4. benchmarks on the device
for bench in train_step attention propagation; do
    script=benchmarks/bench_$bench.py
    name="4. \`$script --device $DEVICE\`"
    usage=$([ -f "$script" ] && "$PYTHON" "$script" --help 2>/dev/null)
    if ! grep -q -- --device <<<"$usage"; then
        row "$name" SKIPPED - "$script has no --device option"
        continue
    fi
    extra=()
    if [ "$bench" = propagation ] && [ "$DRY_RUN" = 0 ]; then
        extra=(--widths 854 --no-memory)  # 480p only; memory runs would take minutes here
    fi
    run_step "benchmark $bench" "$T_BENCH" "$OUT/logs/bench_$bench.log" \
        "$PYTHON" "$script" --device "$DEVICE" --out "$OUT/bench/$bench.json" \
        ${BENCH_OPTIONS[@]+"${BENCH_OPTIONS[@]}"} ${extra[@]+"${extra[@]}"}
    row "$name" "$STATUS" "${TOOK} s" "$(figures bench "$OUT/bench/$bench.json")"
done

TOTAL=$((SECONDS - START))
RESULT=PASS
[ "$FAILED" = 0 ] || RESULT=FAIL
{
    echo "# corrflow GPU self-check: $RESULT"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), host $(hostname), commit" \
         "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
         "$([ "$DRY_RUN" = 1 ] && echo '(--dry-run: CPU, tiny settings)')"
    figures env
    if command -v nvidia-smi >/dev/null 2>&1; then
        echo "- NVIDIA driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader \
            2>/dev/null | head -n 1)"
    fi
    echo "- total time ${TOTAL} s; logs in $OUT/logs, benchmark reports in $OUT/bench"
    echo
    echo '| step | status | time | key figures |'
    echo '|---|---|---|---|'
    printf '%s\n' "${ROWS[@]}"
} >"$SUMMARY"
cat "$SUMMARY"
echo
say "summary: $SUMMARY"
[ "$FAILED" = 0 ]
