#!/usr/bin/env python3
"""Builds tests/models/dynamic/rnn_lstm_gru: the graph PyTorch's exporter writes for
nn.LSTM -> nn.GRU(bidirectional) -> nn.Linear (LSTM and GRU ops with W/R/B initializers,
zero initial states fed as inputs, GRU with linear_before_reset=1, Squeeze/Transpose/
Reshape between layers), and its reference outputs computed by onnxruntime. Weights and
inputs come from a fixed numpy seed. Two data sets: batch 2 and batch 3 (the batch dim is
symbolic). Re-run to regenerate: .venv/bin/python tests/models/gen_rnn_model.py"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as TP, helper as oh, numpy_helper as nh

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dynamic", "rnn_lstm_gru")
S, I, H1, H2, C = 6, 10, 16, 8, 5
rng = np.random.default_rng(20261127)


def w(*shape):
    return (rng.standard_normal(shape) * 0.3).astype(np.float32)


inits = [
    nh.from_array(w(1, 4 * H1, I), "lstm_W"), nh.from_array(w(1, 4 * H1, H1), "lstm_R"),
    nh.from_array(w(1, 8 * H1), "lstm_B"),
    nh.from_array(w(2, 3 * H2, H1), "gru_W"), nh.from_array(w(2, 3 * H2, H2), "gru_R"),
    nh.from_array(w(2, 6 * H2), "gru_B"),
    nh.from_array(np.array([1], np.int64), "axis1"),
    nh.from_array(np.array([S, -1, 2 * H2], np.int64), "shape3"),
    nh.from_array(w(2 * H2, C), "fc_W"), nh.from_array(w(C), "fc_b"),
]
nodes = [
    oh.make_node("LSTM", ["x", "lstm_W", "lstm_R", "lstm_B", "", "h0", "c0"], ["lstm_Y", "lstm_Yh", "lstm_Yc"],
                 name="/lstm/LSTM", hidden_size=H1),
    oh.make_node("Squeeze", ["lstm_Y", "axis1"], ["lstm_out"], name="/lstm/Squeeze"),
    oh.make_node("GRU", ["lstm_out", "gru_W", "gru_R", "gru_B"], ["gru_Y", "gru_Yh"], name="/gru/GRU",
                 hidden_size=H2, direction="bidirectional", linear_before_reset=1),
    oh.make_node("Transpose", ["gru_Y"], ["gru_T"], name="/gru/Transpose", perm=[0, 2, 1, 3]),
    oh.make_node("Reshape", ["gru_T", "shape3"], ["gru_out"], name="/gru/Reshape"),
    oh.make_node("MatMul", ["gru_out", "fc_W"], ["fc_mm"], name="/fc/MatMul"),
    oh.make_node("Add", ["fc_mm", "fc_b"], ["logits"], name="/fc/Add"),
]
g = oh.make_graph(
    nodes, "rnn_lstm_gru",
    [oh.make_tensor_value_info("x", TP.FLOAT, [S, "batch", I]),
     oh.make_tensor_value_info("h0", TP.FLOAT, [1, "batch", H1]),
     oh.make_tensor_value_info("c0", TP.FLOAT, [1, "batch", H1])],
    [oh.make_tensor_value_info("logits", TP.FLOAT, [S, "batch", C]),
     oh.make_tensor_value_info("lstm_Yh", TP.FLOAT, [1, "batch", H1]),
     oh.make_tensor_value_info("gru_Yh", TP.FLOAT, [2, "batch", H2])],
    inits)
m = oh.make_model(g, opset_imports=[oh.make_opsetid("", 14)], producer_name="gen_rnn_model.py")
onnx.checker.check_model(m)
os.makedirs(OUT, exist_ok=True)
onnx.save(m, os.path.join(OUT, "model.onnx"))
sess = ort.InferenceSession(os.path.join(OUT, "model.onnx"), providers=["CPUExecutionProvider"])
for k, batch in enumerate([2, 3]):
    d = os.path.join(OUT, f"test_data_set_{k}")
    os.makedirs(d, exist_ok=True)
    feeds = {"x": rng.standard_normal((S, batch, I)).astype(np.float32),
             "h0": np.zeros((1, batch, H1), np.float32), "c0": np.zeros((1, batch, H1), np.float32)}
    if k == 1:   # non-zero initial states too
        feeds["h0"] = (rng.standard_normal((1, batch, H1)) * 0.5).astype(np.float32)
        feeds["c0"] = (rng.standard_normal((1, batch, H1)) * 0.5).astype(np.float32)
    for i, name in enumerate(["x", "h0", "c0"]):
        with open(os.path.join(d, f"input_{i}.pb"), "wb") as f:
            f.write(nh.from_array(feeds[name], name).SerializeToString())
    for i, (vi, v) in enumerate(zip(g.output, sess.run(None, feeds))):
        with open(os.path.join(d, f"output_{i}.pb"), "wb") as f:
            f.write(nh.from_array(v, vi.name).SerializeToString())
print("wrote", OUT)
