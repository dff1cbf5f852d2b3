#!/usr/bin/env python3
"""Builds tests/models/dynamic/loop_rnn_cell: an RNN-like cell run by control flow, as
tf2onnx writes Keras recurrent layers: a Loop over `steps` iterations (the trip count is a
graph input) carrying h through h' = tanh(h U + xw + b), where xw = x W is computed outside
the body (an outer-scope value) and U, b are outer initializers; every h is a scan output.
A Scan then runs a second cell over a sequence of symbolic length T, starting from the
Loop's final h. References from onnxruntime; two data sets with different steps and T.
Re-run to regenerate: .venv/bin/python tests/models/gen_loop_model.py"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as TP, helper as oh, numpy_helper as nh

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dynamic", "loop_rnn_cell")
B, I, H = 2, 5, 8
rng = np.random.default_rng(20261128)


def w(*shape):
    return (rng.standard_normal(shape) * 0.4).astype(np.float32)


inits = [nh.from_array(w(I, H), "W"), nh.from_array(w(H, H), "U"), nh.from_array(w(H), "b"),
         nh.from_array(w(I, H), "W2"), nh.from_array(w(H, H), "U2")]
f = TP.FLOAT
loop_body = oh.make_graph(
    [oh.make_node("MatMul", ["h_in", "U"], ["hu"]),
     oh.make_node("Add", ["hu", "xw"], ["pre0"]),
     oh.make_node("Add", ["pre0", "b"], ["pre"]),
     oh.make_node("Tanh", ["pre"], ["h_out"]),
     oh.make_node("Identity", ["cond_in"], ["cond_out"]),
     oh.make_node("Identity", ["h_out"], ["h_scan"])],
    "cell",
    [oh.make_tensor_value_info("i", TP.INT64, []), oh.make_tensor_value_info("cond_in", TP.BOOL, []),
     oh.make_tensor_value_info("h_in", f, [B, H])],
    [oh.make_tensor_value_info("cond_out", TP.BOOL, []), oh.make_tensor_value_info("h_out", f, [B, H]),
     oh.make_tensor_value_info("h_scan", f, [B, H])])
scan_body = oh.make_graph(
    [oh.make_node("MatMul", ["s_in", "U2"], ["su"]),
     oh.make_node("MatMul", ["x_t", "W2"], ["xt"]),
     oh.make_node("Add", ["su", "xt"], ["spre"]),
     oh.make_node("Tanh", ["spre"], ["s_out"]),
     oh.make_node("Relu", ["s_out"], ["y_t"])],
    "seq_cell",
    [oh.make_tensor_value_info("s_in", f, [B, H]), oh.make_tensor_value_info("x_t", f, [B, I])],
    [oh.make_tensor_value_info("s_out", f, [B, H]), oh.make_tensor_value_info("y_t", f, [B, H])])
nodes = [
    oh.make_node("MatMul", ["x", "W"], ["xw"]),
    oh.make_node("Loop", ["steps", "", "h0"], ["h_last", "hs"], body=loop_body),
    oh.make_node("Scan", ["h_last", "xs"], ["s_last", "ys"], body=scan_body, num_scan_inputs=1),
]
graph = oh.make_graph(
    nodes, "loop_rnn_cell",
    [oh.make_tensor_value_info("steps", TP.INT64, []), oh.make_tensor_value_info("x", f, [B, I]),
     oh.make_tensor_value_info("h0", f, [B, H]), oh.make_tensor_value_info("xs", f, ["T", B, I])],
    [oh.make_tensor_value_info("hs", f, ["S", B, H]), oh.make_tensor_value_info("s_last", f, [B, H]),
     oh.make_tensor_value_info("ys", f, ["T", B, H])],
    inits)
model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
os.makedirs(OUT, exist_ok=True)
onnx.save(model, os.path.join(OUT, "model.onnx"))
sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
for k, (steps, T) in enumerate([(3, 4), (7, 2)]):
    feeds = {"steps": np.array(steps, np.int64), "x": w(B, I), "h0": w(B, H), "xs": w(T, B, I)}
    outs = sess.run(None, feeds)
    d = os.path.join(OUT, f"test_data_set_{k}")
    os.makedirs(d, exist_ok=True)
    for j, name in enumerate(["steps", "x", "h0", "xs"]):
        onnx.save_tensor(nh.from_array(feeds[name], name), os.path.join(d, f"input_{j}.pb"))
    for j, (o, name) in enumerate(zip(outs, ["hs", "s_last", "ys"])):
        onnx.save_tensor(nh.from_array(o, name), os.path.join(d, f"output_{j}.pb"))
print("wrote", OUT)
