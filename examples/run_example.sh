#!/usr/bin/env bash
# Compiles an ONNX model with onnxc into demo.o + demo.h, links it into examples/main.c
# with plain cc (no onnxc runtime library), runs it and prints its outputs.
#
#   examples/run_example.sh [MODEL.onnx] [SYMBOL=VALUE ...]
#
# MODEL defaults to ../shared/models/mlp_dynbatch/model.onnx. Environment: ONNXC (the
# compiler, default build/onnxc), CC (default cc), KEEP=DIR to keep the built files there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
model=${1:-$root/../shared/models/mlp_dynbatch/model.onnx}
[ $# -gt 0 ] && shift
onnxc=${ONNXC:-$root/build/onnxc}
cc=${CC:-cc}

if [ ! -f "$model" ]; then
  echo "run_example.sh: model '$model' not found; pass a model path" >&2
  exit 2
fi
if [ ! -x "$onnxc" ]; then
  echo "run_example.sh: compiler '$onnxc' not found; build it (cmake --build build) or set ONNXC" >&2
  exit 2
fi

if [ -n "${KEEP:-}" ]; then
  work=$KEEP
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi

echo "+ onnxc $model --name demo -o $work/demo.o"
"$onnxc" "$model" --name demo -o "$work/demo.o"
if [ ! -f "$work/demo.h" ]; then
  echo "run_example.sh: onnxc did not write $work/demo.h" >&2
  exit 1
fi
echo "+ $cc main.c demo.o -lm -o demo_app"
"$cc" -std=c11 -O2 -Wall -I"$work" "$here/main.c" "$work/demo.o" -lm -o "$work/demo_app"
echo "+ ./demo_app $*"
"$work/demo_app" "$@"
