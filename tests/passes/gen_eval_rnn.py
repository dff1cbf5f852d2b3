#!/usr/bin/env python3
"""Writes the inputs and expected outputs of tests/passes/test_eval_rnn.c as C arrays:
one small RNN, GRU and LSTM each, run through onnxruntime (CPU). Inputs are
sin(1 + k) * scale so they are reproducible without a seed. Run it and paste its output
into the test when the cases change: .venv/bin/python tests/passes/gen_eval_rnn.py"""
import numpy as np
import onnxruntime as ort
from onnx import TensorProto as TP, helper as oh, numpy_helper as nh


def data(shape, scale=0.5, k0=0):
    n = int(np.prod(shape))
    return (np.sin(np.arange(k0 + 1, k0 + 1 + n)) * scale).astype(np.float32).reshape(shape)


def flt(x):
    s = "%.9g" % x
    return s + ("f" if ("." in s or "e" in s) else ".0f")


def run(name, op, attrs, ins, nout):
    names = [n if v is not None else "" for n, v in ins]
    outs = ["Y", "Y_h", "Y_c"][:nout]
    node = oh.make_node(op, names, outs, **attrs)
    inits = [nh.from_array(v, n) for n, v in ins if v is not None]
    g = oh.make_graph([node], name, [], [oh.make_tensor_value_info(o, TP.FLOAT, None) for o in outs], inits)
    m = oh.make_model(g, opset_imports=[oh.make_opsetid("", 14)])
    res = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {})
    print(f"/* {name}: {op} {attrs} */")
    for n, v in ins:
        if v is not None:
            fmt = (lambda x: "%d" % x) if v.dtype == np.int32 else flt
            print(f"static const {'int32_t' if v.dtype == np.int32 else 'float'} {name}_{n}[] = {{"
                  + ", ".join(fmt(x) for x in v.ravel()) + "};")
    for o, v in zip(outs, res):
        print(f"static const float {name}_{o}[] = {{" + ", ".join(flt(x) for x in v.ravel()) + "};  /* "
              + str(list(v.shape)) + " */")


S, B, I, H = 2, 2, 3, 2
run("lstm", "LSTM", dict(direction="bidirectional", hidden_size=H),
    [("X", data((S, B, I), 1.0)), ("W", data((2, 4 * H, I), 0.5, 10)), ("R", data((2, 4 * H, H), 0.5, 60)),
     ("B", data((2, 8 * H), 0.3, 100)), ("sl", np.array([2, 1], np.int32)), ("h0", data((2, B, H), 0.4, 140)),
     ("c0", data((2, B, H), 0.4, 150)), ("P", data((2, 3 * H), 0.3, 160))], 3)
S, B, I, H = 3, 1, 2, 3
run("gru", "GRU", dict(direction="reverse", hidden_size=H, linear_before_reset=1, clip=0.8),
    [("X", data((S, B, I), 1.0)), ("W", data((1, 3 * H, I), 0.5, 10)), ("R", data((1, 3 * H, H), 0.5, 40)),
     ("B", data((1, 6 * H), 0.3, 80)), ("sl", None), ("h0", data((1, B, H), 0.4, 100))], 2)
S, B, I, H = 2, 2, 3, 2
run("rnn", "RNN", dict(hidden_size=H, activations=["LeakyRelu"], activation_alpha=[0.2]),
    [("X", data((S, B, I), 1.0)), ("W", data((1, H, I), 0.5, 10)), ("R", data((1, H, H), 0.5, 30)),
     ("B", data((1, 2 * H), 0.3, 40))], 2)
