#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one run (a few minutes):
#   1. the cuda backend's tests on the GPU (tests/cuda_sim collects itself where a GPU is),
#      and tests/test_cuda.py (which also runs them under the simulator);
#   2. `nn-playground bench` and `bench --sweep`: kernel timings with the cuda column;
#   3. the room bench, 30 sessions on one and on two server processes (the app's nets are
#      tiny: `auto` trains them on the cpu kernels, GPU or not; see kernels.CPU_MAX_UNITS).
# Usage: bash scripts/gpu_check.sh [LOG_DIR]   (each step's full output goes to LOG_DIR)
set -u
logs=${1:-gpu-check-logs}
mkdir -p "$logs"
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1

step() {  # step NAME SECONDS COMMAND...: run with a time limit, keep the log, show its end
    local name=$1 limit=$2
    shift 2
    echo "=== $name"
    local started=$SECONDS
    timeout "$limit" "$@" > "$logs/$name.log" 2>&1
    local rc=$?
    tail -n "${TAIL:-14}" "$logs/$name.log"
    echo "=== $name: rc $rc in $((SECONDS - started)) s"
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "cpus: $(nproc)  python: $($py -V 2>&1)"
$py -m pip list 2>/dev/null | grep -iE "^(numba|numba-cuda|numpy|llvmlite|bokeh|panel|torch) " | tr -s ' ' | paste -sd ';'
$py -c "import kernels; print('cuda here:', kernels.cuda_unavailable_reason() or 'yes')"

step cuda-tests 150 $py -m pytest -q -p no:cacheprovider --durations=5 tests/cuda_sim tests/test_cuda.py
TAIL=16 step bench 120 $py -m playground.cli bench
step sweep 70 $py -m playground.cli bench --sweep
TAIL=8 step room-2procs 90 $py -m playground.cli bench --load 30 --seconds 20 --num-procs 2
TAIL=8 step room-1proc 90 $py -m playground.cli bench --load 30 --seconds 20
