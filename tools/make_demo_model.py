#!/usr/bin/env python3
"""Builds the demo model: a small CNN on a 1x3x32x32 image, fixed seed.

  Conv(3->8, 3x3, pad 1) + Relu + MaxPool(2x2) + Conv(8->16, 3x3, pad 1) + Relu
  + GlobalAveragePool + Flatten + Gemm(16->10) + Softmax

Writes OUTDIR/model.onnx, OUTDIR/input_0.pb (the image) and OUTDIR/output_0.pb (what
onnxruntime computes for it), so the demo can compare the compiled program with it.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(rng):
    def w(name, *shape, scale=0.3):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    inits = [w("conv1_w", 8, 3, 3, 3), w("conv1_b", 8, scale=0.1),
             w("conv2_w", 16, 8, 3, 3, scale=0.2), w("conv2_b", 16, scale=0.1),
             w("fc_w", 10, 16, scale=0.5), w("fc_b", 10, scale=0.1)]
    nodes = [
        helper.make_node("Conv", ["image", "conv1_w", "conv1_b"], ["c1"], name="conv1",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "conv2_w", "conv2_b"], ["c2"], name="conv2",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "demo_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              ir_version=8, producer_name="onnxc-demo")
    onnx.checker.check_model(model)
    return model


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "out/demo"
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(2024)
    model = build(rng)
    image = rng.random((1, 3, 32, 32), dtype=np.float32)
    onnx.save(model, os.path.join(outdir, "model.onnx"))
    with open(os.path.join(outdir, "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(image, "image").SerializeToString())
    import onnxruntime as ort
    sess = ort.InferenceSession(os.path.join(outdir, "model.onnx"), providers=["CPUExecutionProvider"])
    (probs,) = sess.run(None, {"image": image})
    with open(os.path.join(outdir, "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(probs, "probs").SerializeToString())
    print(f"wrote {outdir}/model.onnx, input_0.pb (image 1x3x32x32), "
          f"output_0.pb (onnxruntime's probs 1x10)")


if __name__ == "__main__":
    main()
