#!/usr/bin/env python3
"""Models and reference outputs for tests/cmake_pkg/run.sh.

  models.py models DIR          DIR/mlp/mlp.onnx with its weights in DIR/mlp/mlp.bin
                                (external data); the demo CNN comes from make_demo_model.py
  models.py reweigh DIR         new weights into mlp.bin in place (mlp.onnx untouched)
  models.py check DIR OUT [mlp|all]
                                compares the consumer program's output (OUT) with what
                                onnxruntime computes for the same inputs
  models.py check-pb EXPECTED GOT
                                compares two TensorProto files (the standalone program)
Prints one line and exits 1 on a mismatch.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def input_values(shape):
    # The same float32 operations as input_value() in consumer/main.c.
    i = np.arange(int(np.prod(shape)), dtype=np.int64)
    v = ((i * 37) % 101).astype(np.float32) / np.float32(101.0) - np.float32(0.5)
    return v.reshape(shape)


def mlp_weights(seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((16, 32)).astype(np.float32) * 0.5,
            rng.standard_normal(32).astype(np.float32) * 0.1,
            rng.standard_normal((32, 8)).astype(np.float32) * 0.5)


def make_mlp(d):
    os.makedirs(os.path.join(d, "mlp"), exist_ok=True)
    w1, b1, w2 = mlp_weights(11)
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
             numpy_helper.from_array(w2, "w2")]
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"),
             helper.make_node("Relu", ["h"], ["r"], name="act"),
             helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2")]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.save(m, os.path.join(d, "mlp", "mlp.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="mlp.bin", size_threshold=0)


def reweigh(d):
    """Overwrites mlp.bin's bytes where each tensor lives, leaving mlp.onnx as it is."""
    m = onnx.load(os.path.join(d, "mlp", "mlp.onnx"), load_external_data=False)
    new = dict(zip(("w1", "b1", "w2"), mlp_weights(99)))
    with open(os.path.join(d, "mlp", "mlp.bin"), "r+b") as f:
        for t in m.graph.initializer:
            info = {kv.key: kv.value for kv in t.external_data}
            data = new[t.name].tobytes()
            assert int(info["length"]) == len(data)
            f.seek(int(info.get("offset", 0)))
            f.write(data)


def reference(path):
    import onnxruntime as ort
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {i.name: input_values(i.shape) for i in s.get_inputs()}
    return {o.name: r for o, r in zip(s.get_outputs(), s.run(None, feeds))}


def check(d, out_path, which):
    got = {}
    for line in open(out_path):
        p = line.split()
        got[(p[0], p[1])] = np.array([float(v) for v in p[2:]], np.float32)
    models = {"mlp": os.path.join(d, "mlp", "mlp.onnx")}
    if which == "all":
        models["demo"] = os.path.join(d, "demo", "model.onnx")
    n = 0
    for sym, path in models.items():
        for name, want in reference(path).items():
            g = got.get((sym, name))
            if g is None or g.size != want.size:
                print(f"{sym} {name}: missing or wrong size in {out_path}")
                return 1
            err = float(np.max(np.abs(g - want.ravel())))
            if not np.allclose(g, want.ravel(), rtol=1e-4, atol=1e-5):
                print(f"{sym} {name}: max abs error {err:g} against onnxruntime")
                return 1
            n += 1
    if len(got) != n:
        print(f"{out_path} has {len(got)} outputs, expected {n}")
        return 1
    print(f"{n} outputs match onnxruntime")
    return 0


def check_pb(expected, got):
    a, b = onnx.TensorProto(), onnx.TensorProto()
    a.ParseFromString(open(expected, "rb").read())
    b.ParseFromString(open(got, "rb").read())
    x, y = numpy_helper.to_array(a), numpy_helper.to_array(b)
    if x.shape != y.shape or not np.allclose(x, y, rtol=1e-4, atol=1e-5):
        print(f"{got} differs from {expected}")
        return 1
    print(f"{got} matches {expected}")
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "models":
        make_mlp(sys.argv[2])
        return 0
    if cmd == "reweigh":
        reweigh(sys.argv[2])
        return 0
    if cmd == "check":
        return check(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "all")
    if cmd == "check-pb":
        return check_pb(sys.argv[2], sys.argv[3])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
