#!/usr/bin/env bash
# The README's first command: installs what is missing, builds onnxc, builds a small CNN
# with onnx.helper, compiles it into a standalone program, runs it and compares its
# output with onnxruntime's.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${ONNXC_JOBS:-2}
py=.venv/bin/python
out=out/demo

bash tools/install-deps.sh
echo "== building onnxc (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"

echo "== making the demo model ($out)"
"$py" tools/make_demo_model.py "$out"

echo "== build/onnxc $out/model.onnx --emit=exe -o $out/demo_cnn"
build/onnxc "$out/model.onnx" --emit=exe -o "$out/demo_cnn"
"$out/demo_cnn" --info

echo "== $out/demo_cnn $out/input_0.pb -o $out/result"
"$out/demo_cnn" "$out/input_0.pb" -o "$out/result"

"$py" - "$out" <<'PY'
import sys, numpy as np, onnx
from onnx import numpy_helper
out = sys.argv[1]
got = numpy_helper.to_array(onnx.load_tensor(f"{out}/result/output_0.pb"))
want = numpy_helper.to_array(onnx.load_tensor(f"{out}/output_0.pb"))
np.set_printoptions(precision=6, suppress=True)
print("class probabilities (compiled):   ", got.reshape(-1))
print("class probabilities (onnxruntime):", want.reshape(-1))
diff = float(np.max(np.abs(got.astype(np.float64) - want))) if got.shape == want.shape else float("inf")
print(f"predicted class {int(np.argmax(got))}; max |compiled - onnxruntime| = {diff:.3g}")
ok = got.shape == want.shape and np.all(np.abs(got - want) <= 1e-5 + 1e-3 * np.abs(want))
print("demo: OK" if ok else "demo: MISMATCH")
sys.exit(0 if ok else 1)
PY
