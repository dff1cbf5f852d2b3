#!/usr/bin/env bash
# The CUDA backend on a machine with an NVIDIA GPU (issue 9): builds the compiler, then
# bench/gpu_check.py compiles the models and the listed conformance cases with nvcc, runs
# them (outputs poisoned with NaN before each run), compares with the references, and
# benchmarks against onnxruntime (CPU as the reference; its CUDA provider and PyTorch when
# importable), printing a markdown table. Sized for < 8 minutes on one GPU, build included.
#
#   bench/gpu_check.sh [--models a,b] [--bench a,b] [--cases FILE|''] [--runs N] [--dry-run]
#   ONNXC_BUILD   build folder (default build-gpu); ONNXC_NO_BUILD=1 uses it as it is
#   ONNXC_NVCC    nvcc to use; ONNXC_MODELS_DIR the shared models (default /work/shared/models)
set -euo pipefail
cd "$(dirname "$0")/.."
bdir=${ONNXC_BUILD:-build-gpu}
py=${PYTHON:-.venv/bin/python}
[ -x "$py" ] || py=python3
dry=0
for a in "$@"; do [ "$a" = --dry-run ] && dry=1; done

arch=""
if command -v nvidia-smi >/dev/null 2>&1; then
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  case "$cap" in
    90 | 80 | 89) arch="sm_$cap" ;;
    "") ;;
    *) echo "gpu_check: compute capability $cap: using sm_90 code only if it is 9.x, else sm_80" >&2
       if [ "${cap:0:1}" = 9 ]; then arch=sm_90; else arch=sm_80; fi ;;
  esac
fi
if [ -z "$arch" ]; then
  if [ $dry = 0 ]; then
    echo "SKIP gpu_check: no NVIDIA GPU (nvidia-smi found none); use --dry-run to check the plan"
    exit 77
  fi
  arch=sm_90
fi
nvcc=${ONNXC_NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
if [ ! -x "$nvcc" ]; then
  echo "gpu_check: nvcc not found (set ONNXC_NVCC)" >&2
  exit 1
fi
export ONNXC_NVCC=$nvcc

t0=$(date +%s)
if [ "${ONNXC_NO_BUILD:-0}" != 1 ] && [ $dry = 0 ]; then
  cmake -S . -B "$bdir" -DCMAKE_BUILD_TYPE=Release -DONNXC_TESTS=OFF >/dev/null
  cmake --build "$bdir" -j"$(nproc)" --target onnxc onnxc_rt >/dev/null
  echo "gpu_check: compiler built in $(($(date +%s) - t0)) s"
fi
# the conformance cases are generated on first use by the runner (node/) or shipped
exec "$py" bench/gpu_check.py --onnxc "$bdir/onnxc" --arch "$arch" "$@"
