#!/usr/bin/env python3
"""Writes the expected outputs of tests/passes/test_eval_select.c: TopK, OneHot,
ReverseSequence, Col2Im, CenterCropPad, AffineGrid, the window functions, EyeLike and DFT on
the small inputs below, through
onnxruntime (CPU). Run and paste: .venv/bin/python tests/passes/gen_eval_select.py"""
import numpy as np
import onnxruntime as ort
from onnx import helper as oh, numpy_helper as nh


def flt(x):
    s = "%.9g" % x
    return s + ("f" if ("." in s or "e" in s) else ".0f")


def run(name, op, attrs, ins, outs, opset):
    node = oh.make_node(op, [n for n, _ in ins], outs, **attrs)
    g = oh.make_graph([node], name, [], [oh.make_empty_tensor_value_info(o) for o in outs],
                      [nh.from_array(v, n) for n, v in ins if v is not None])
    m = oh.make_model(g, opset_imports=[oh.make_opsetid("", opset)])
    res = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {})
    for o, v in zip(outs, res):
        if v.dtype == np.int64:
            body = ", ".join("%d" % x for x in v.ravel())
            print(f"static const int64_t {name}_{o}[] = {{{body}}};  /* {list(v.shape)} */")
        else:
            body = ", ".join(flt(x) for x in v.ravel())
            print(f"static const float {name}_{o}[] = {{{body}}};  /* {list(v.shape)} */")


X = np.array([[3, 1, 3, 0, 2], [5, 5, 4, 5, 1]], np.float32)
run("topk_large", "TopK", dict(axis=1), [("x", X), ("k", np.array([3], np.int64))], ["v", "i"], 11)
run("topk_small", "TopK", dict(axis=0, largest=0), [("x", X), ("k", np.array([1], np.int64))], ["v", "i"], 11)
run("onehot", "OneHot", dict(axis=0), [("ind", np.array([[0, -1, 4], [7, 2, -5]], np.int64)),
                                      ("depth", np.array(4, np.int64)), ("vals", np.array([-1, 3], np.float32))],
    ["y"], 11)
run("revseq", "ReverseSequence", dict(batch_axis=0, time_axis=1),
    [("x", np.arange(12, dtype=np.float32).reshape(3, 4)), ("sl", np.array([1, 3, 4], np.int64))], ["y"], 10)
run("col2im", "Col2Im", dict(strides=[2, 1], pads=[1, 0, 0, 1], dilations=[1, 2]),
    [("x", (np.sin(np.arange(1, 1 + 1 * 2 * 2 * 2 * 2 * 3)) * 2).astype(np.float32).reshape(1, 2 * 2 * 2, 6)),
     ("img", np.array([3, 4], np.int64)), ("blk", np.array([2, 2], np.int64))], ["y"], 18)
run("ccp", "CenterCropPad", dict(axes=[0, -1]),
    [("x", np.arange(24, dtype=np.float32).reshape(4, 2, 3)), ("s", np.array([1, 6], np.int64))], ["y"], 18)
run("agrid", "AffineGrid", dict(align_corners=0),
    [("th", np.array([[[1.0, 0.5, 0.1], [-0.3, 2.0, 0.0]]], np.float32)),
     ("size", np.array([1, 1, 2, 3], np.int64))], ["y"], 20)
run("hann", "HannWindow", dict(), [("n", np.array(5, np.int32))], ["y"], 17)
run("hamming", "HammingWindow", dict(periodic=0), [("n", np.array(4, np.int32))], ["y"], 17)
run("blackman", "BlackmanWindow", dict(output_datatype=11), [("n", np.array(6, np.int64))], ["y"], 17)
run("eye", "EyeLike", dict(k=1, dtype=7), [("x", np.zeros((3, 4), np.float32))], ["y"], 22)
sig = np.array([1.0, 2.0, -1.0, 0.5, 3.0], np.float32).reshape(1, 5, 1)
run("rfft", "DFT", dict(onesided=1), [("x", sig), ("L", np.array(6, np.int64)), ("ax", np.array(1, np.int64))], ["y"], 20)
spec = np.array([[4, 0], [1, -2], [0.5, 1], [-1, 0]], np.float32).reshape(1, 4, 2)
run("irfft", "DFT", dict(inverse=1, onesided=1), [("x", spec), ("", None), ("ax", np.array(1, np.int64))], ["y"], 20)
