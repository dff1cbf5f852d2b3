#!/usr/bin/env python3
"""Whole-pipeline fuzzer for onnxc: structurally valid models with hostile contents.

Every case is a seed model (built here with onnx.helper, or a small node case of the
conformance suite when tests/conformance/cases/node exists) mutated 1-3 times: attribute
values, initializers used as shape parameters, input shapes/dtypes/ranks, empty tensors,
duplicate or missing names, graph outputs that are inputs, opsets, op types. Each model is
compiled with `onnxc MODEL -o OUT/x.o` under a time and memory limit and classified:

  OK       exit 0, the output exists, nothing written anywhere else
  REFUSED  exit 1, one line "onnxc: error: ..." naming the model, no output left behind
  BADMSG   exit 1 but the message is not one line naming the model, or output left behind
  CRASH    a signal, a sanitizer report, or an exit status other than 0/1
  HANG     ran past the time limit
  HUGE     ran past the memory limit (a huge allocation)
  LEAK     LeakSanitizer report (only with --leaks)
  STRAY    a file written outside the output folder
  RUNCRASH the compiled program (--emit=exe, run on small generated inputs) died of a signal
  RUNHANG  the compiled program ran past the time limit

passed = OK or REFUSED; everything else fails. Case I of seed S is reproducible alone:
`--seed S --only I --keep DIR` leaves its model in DIR.

  fuzz_models.py --seed 1 --count 3000 --onnxc build-fuzz/onnxc -j 2
  fuzz_models.py --corpus --onnxc build/onnxc         # the fixed crashers only (fast)
  fuzz_models.py --write-corpus                       # regenerate tests/fuzz/corpus/
"""
import argparse
import copy
import glob
import multiprocessing
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS_DIR = os.path.join(HERE, "corpus")
NODE_CASES = os.path.join(ROOT, "tests", "conformance", "cases", "node")
PASSING = os.path.join(ROOT, "tests", "conformance", "passing.txt")

COMPILE_TIMEOUT = 20
RUN_TIMEOUT = 10
MEM_LIMIT_MB = 8192
F = TensorProto.FLOAT
I64 = TensorProto.INT64

# ------------------------------------------------------------------ seeds
def mk(nodes, inputs, outputs, inits=(), opset=18, name="g"):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def vi(name, dt, shape):
    return helper.make_tensor_value_info(name, dt, shape)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def ints(name, vals):
    return init(name, np.array(vals, dtype=np.int64))


def frand(*shape):
    return np.random.RandomState(len(shape)).randn(*shape).astype(np.float32)


def seed_models():
    """Small hand-built graphs; each is a (name, ModelProto)."""
    S = []
    X = lambda *s: vi("X", F, list(s))
    Y = lambda *s: vi("Y", F, list(s))
    N = helper.make_node
    S.append(("conv", mk([N("Conv", ["X", "W", "B"], ["Y"], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
                            dilations=[1, 1], group=1)],
                         [X(1, 3, 8, 8)], [Y(1, 4, 8, 8)], [init("W", frand(4, 3, 3, 3)), init("B", frand(4))])))
    S.append(("conv_dw", mk([N("Conv", ["X", "W"], ["Y"], group=4, strides=[2, 2]), N("Relu", ["Y"], ["Z"])],
                            [X(1, 4, 7, 7)], [vi("Z", F, None)], [init("W", frand(4, 1, 3, 3))])))
    S.append(("conv1d", mk([N("Conv", ["X", "W"], ["Y"], pads=[2, 0], auto_pad="NOTSET")],
                           [X(2, 2, 9)], [Y(None)], [init("W", frand(3, 2, 2))])))
    S.append(("convT", mk([N("ConvTranspose", ["X", "W", "B"], ["Y"], strides=[2, 2], output_padding=[1, 1],
                             pads=[0, 0, 0, 0])],
                          [X(1, 2, 4, 4)], [Y(None)], [init("W", frand(2, 3, 3, 3)), init("B", frand(3))])))
    S.append(("gemm", mk([N("Gemm", ["X", "Bm", "C"], ["Y"], transB=1, alpha=1.0, beta=1.0)],
                         [X(3, 4)], [Y(3, 5)], [init("Bm", frand(5, 4)), init("C", frand(5))])))
    S.append(("gemm_relu", mk([N("Gemm", ["X", "Bm"], ["T"]), N("Add", ["T", "C"], ["U"]), N("Relu", ["U"], ["Y"])],
                              [X(2, 8)], [Y(2, 6)], [init("Bm", frand(8, 6)), init("C", frand(6))])))
    S.append(("matmul", mk([N("MatMul", ["X", "Bm"], ["Y"])], [X(2, 3, 4)], [Y(2, 3, 5)], [init("Bm", frand(4, 5))])))
    S.append(("matmul2", mk([N("MatMul", ["X", "Z"], ["Y"])], [X(3, 4), vi("Z", F, [4])], [Y(3)])))
    S.append(("maxpool", mk([N("MaxPool", ["X"], ["Y"], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1],
                               ceil_mode=0, dilations=[1, 1])], [X(1, 2, 8, 8)], [Y(None)])))
    S.append(("avgpool", mk([N("AveragePool", ["X"], ["Y"], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
                               count_include_pad=0)], [X(1, 2, 5, 5)], [Y(None)])))
    S.append(("gap", mk([N("GlobalAveragePool", ["X"], ["Y"])], [X(1, 3, 4, 4)], [Y(1, 3, 1, 1)])))
    S.append(("reshape", mk([N("Reshape", ["X", "s"], ["Y"])], [X(2, 3, 4)], [Y(None)], [ints("s", [4, -1])])))
    S.append(("reshape0", mk([N("Reshape", ["X", "s"], ["Y"], allowzero=0)], [X(2, 3, 4)], [Y(None)],
                             [ints("s", [0, 0, -1])])))
    S.append(("slice", mk([N("Slice", ["X", "st", "en", "ax", "sp"], ["Y"])], [X(5, 6)], [Y(None)],
                          [ints("st", [1, 0]), ints("en", [4, 6]), ints("ax", [0, 1]), ints("sp", [1, 2])])))
    S.append(("slice_neg", mk([N("Slice", ["X", "st", "en", "ax", "sp"], ["Y"])], [X(5, 6)], [Y(None)],
                              [ints("st", [-1]), ints("en", [-100]), ints("ax", [1]), ints("sp", [-2])])))
    S.append(("gather", mk([N("Gather", ["X", "idx"], ["Y"], axis=0)], [X(5, 4)], [Y(None)],
                           [ints("idx", [[0, 2], [1, 4]])])))
    S.append(("gather_rt", mk([N("Gather", ["X", "I"], ["Y"], axis=1)], [X(3, 4), vi("I", I64, [2])], [Y(None)])))
    S.append(("gather_el", mk([N("GatherElements", ["X", "I"], ["Y"], axis=1)], [X(3, 4), vi("I", I64, [3, 2])],
                              [Y(None)])))
    S.append(("concat", mk([N("Concat", ["X", "Z"], ["Y"], axis=1)], [X(2, 3), vi("Z", F, [2, 5])], [Y(2, 8)])))
    S.append(("split", mk([N("Split", ["X", "sp"], ["A", "B"], axis=0)], [X(6, 4)], [vi("A", F, None), vi("B", F, None)],
                          [ints("sp", [2, 4])])))
    S.append(("split_n", mk([N("Split", ["X"], ["A", "B", "C"], axis=1, num_outputs=3)], [X(2, 7)],
                            [vi("A", F, None), vi("B", F, None), vi("C", F, None)])))
    S.append(("pad", mk([N("Pad", ["X", "p", "cv"], ["Y"], mode="constant")], [X(3, 4)], [Y(None)],
                        [ints("p", [1, 0, 2, 1]), init("cv", np.array(0.5, np.float32))])))
    S.append(("pad_refl", mk([N("Pad", ["X", "p"], ["Y"], mode="reflect")], [X(1, 3, 4)], [Y(None)],
                             [ints("p", [0, 0, 2, 0, 0, 3])])))
    S.append(("softmax", mk([N("Softmax", ["X"], ["Y"], axis=1)], [X(2, 5)], [Y(2, 5)])))
    S.append(("logsoftmax", mk([N("LogSoftmax", ["X"], ["Y"], axis=-1)], [X(2, 3, 5)], [Y(None)])))
    S.append(("reducesum", mk([N("ReduceSum", ["X", "ax"], ["Y"], keepdims=1)], [X(3, 4, 5)], [Y(None)],
                              [ints("ax", [1])])))
    S.append(("reducemean", mk([N("ReduceMean", ["X"], ["Y"], axes=[0, 2], keepdims=0)], [X(3, 4, 5)], [Y(None)],
                               opset=13)))
    S.append(("reducemax", mk([N("ReduceMax", ["X", "ax"], ["Y"], keepdims=0)], [X(3, 4)], [Y(None)],
                              [ints("ax", [-1])])))
    S.append(("argmax", mk([N("ArgMax", ["X"], ["Y"], axis=1, keepdims=1)], [X(3, 4)], [vi("Y", I64, None)])))
    S.append(("transpose", mk([N("Transpose", ["X"], ["Y"], perm=[2, 0, 1])], [X(2, 3, 4)], [Y(None)])))
    S.append(("expand", mk([N("Expand", ["X", "s"], ["Y"])], [X(3, 1)], [Y(None)], [ints("s", [2, 3, 4])])))
    S.append(("tile", mk([N("Tile", ["X", "r"], ["Y"])], [X(2, 3)], [Y(None)], [ints("r", [2, 2])])))
    S.append(("cos", mk([N("ConstantOfShape", ["s"], ["C"], value=helper.make_tensor("v", F, [1], [1.5])),
                         N("Add", ["X", "C"], ["Y"])], [X(2, 3)], [Y(None)], [ints("s", [2, 3])])))
    S.append(("range", mk([N("Range", ["a", "b", "d"], ["R"]), N("Cast", ["R"], ["Rf"], to=F), N("Mul", ["X", "Rf"], ["Y"])],
                          [X(5)], [Y(None)], [ints("a", 0), ints("b", 5), ints("d", 1)])))
    S.append(("rangef", mk([N("Range", ["a", "b", "d"], ["Y"])], [], [Y(None)],
                           [init("a", np.float32(0.5)), init("b", np.float32(3.0)), init("d", np.float32(0.5))])))
    S.append(("cast", mk([N("Cast", ["X"], ["Y"], to=TensorProto.INT32)], [X(2, 3)], [vi("Y", TensorProto.INT32, None)])))
    S.append(("flatten", mk([N("Flatten", ["X"], ["Y"], axis=2)], [X(2, 3, 4, 5)], [Y(None)])))
    S.append(("squeeze", mk([N("Squeeze", ["X", "ax"], ["T"]), N("Unsqueeze", ["T", "ax2"], ["Y"])],
                            [X(2, 1, 3)], [Y(None)], [ints("ax", [1]), ints("ax2", [0, 3])])))
    S.append(("bn", mk([N("BatchNormalization", ["X", "s", "b", "m", "v"], ["Y"], epsilon=1e-5)], [X(1, 3, 4, 4)],
                       [Y(None)], [init(k, np.abs(frand(3)) + 0.1) for k in "sbmv"])))
    S.append(("conv_bn", mk([N("Conv", ["X", "W"], ["T"], pads=[1, 1, 1, 1]),
                             N("BatchNormalization", ["T", "s", "b", "m", "v"], ["U"]),
                             N("Relu", ["U"], ["Y"])], [X(1, 2, 5, 5)], [Y(None)],
                            [init("W", frand(3, 2, 3, 3))] + [init(k, np.abs(frand(3)) + 0.1) for k in "sbmv"])))
    S.append(("layernorm", mk([N("LayerNormalization", ["X", "g", "b"], ["Y"], axis=-1, epsilon=1e-5)], [X(2, 3, 8)],
                              [Y(None)], [init("g", frand(8)), init("b", frand(8))])))
    S.append(("where", mk([N("Equal", ["X", "Z"], ["C"]), N("Where", ["C", "X", "Z"], ["Y"])],
                          [X(2, 3), vi("Z", F, [3])], [Y(None)])))
    S.append(("clip", mk([N("Clip", ["X", "lo", "hi"], ["Y"])], [X(4)], [Y(None)],
                         [init("lo", np.float32(-1)), init("hi", np.float32(1))])))
    S.append(("leaky", mk([N("LeakyRelu", ["X"], ["T"], alpha=0.1), N("Sigmoid", ["T"], ["U"]), N("Tanh", ["U"], ["Y"])],
                          [X(3, 5)], [Y(None)])))
    S.append(("binops", mk([N("Add", ["X", "Z"], ["A"]), N("Mul", ["A", "Z"], ["B"]), N("Sub", ["B", "X"], ["C"]),
                            N("Div", ["C", "Z"], ["D"]), N("Pow", ["D", "Z"], ["Y"])],
                           [X(2, 3), vi("Z", F, [1, 3])], [Y(None)])))
    S.append(("int_ops", mk([N("Add", ["X", "Z"], ["A"]), N("Div", ["A", "Z"], ["Y"])],
                            [vi("X", I64, [4]), vi("Z", I64, [4])], [vi("Y", I64, None)])))
    S.append(("dyn_mlp", mk([N("MatMul", ["X", "W"], ["T"]), N("Add", ["T", "b"], ["U"]), N("Relu", ["U"], ["Y"])],
                            [vi("X", F, ["N", 4])], [vi("Y", F, ["N", 3])], [init("W", frand(4, 3)), init("b", frand(3))])))
    S.append(("shape_chain", mk([N("Shape", ["X"], ["s"]), N("Gather", ["s", "i0"], ["d0"], axis=0),
                                 N("Unsqueeze", ["d0", "ax"], ["d0u"]), N("Concat", ["d0u", "m1"], ["ns"], axis=0),
                                 N("Reshape", ["X", "ns"], ["Y"])],
                                [X(2, 3, 4)], [Y(None)], [ints("i0", 0), ints("ax", [0]), ints("m1", [-1])])))
    S.append(("dyn_shape_chain", mk([N("Shape", ["X"], ["s"]), N("Gather", ["s", "i0"], ["d0"], axis=0),
                                     N("Unsqueeze", ["d0", "ax"], ["d0u"]), N("Concat", ["d0u", "m1"], ["ns"], axis=0),
                                     N("Reshape", ["X", "ns"], ["Y"])],
                                    [vi("X", F, ["B", 3, 4])], [Y(None)],
                                    [ints("i0", 0), ints("ax", [0]), ints("m1", [-1])])))
    S.append(("const_fold", mk([N("Constant", [], ["c"], value=helper.make_tensor("v", F, [2, 3], list(range(6)))),
                                N("Transpose", ["c"], ["ct"]), N("Reshape", ["ct", "s"], ["cr"]),
                                N("Slice", ["cr", "st", "en"], ["cs"]), N("Add", ["X", "cs"], ["Y"])],
                               [X(2, 3)], [Y(None)], [ints("s", [2, 3]), ints("st", [0]), ints("en", [2])])))
    S.append(("resize", mk([N("Resize", ["X", "", "sc"], ["Y"], mode="nearest")], [X(1, 1, 2, 2)], [Y(None)],
                           [init("sc", np.array([1, 1, 2, 2], np.float32))])))
    S.append(("d2s", mk([N("DepthToSpace", ["X"], ["Y"], blocksize=2)], [X(1, 8, 2, 3)], [Y(None)])))
    S.append(("cumsum", mk([N("CumSum", ["X", "a"], ["Y"])], [X(3, 4)], [Y(None)], [ints("a", 1)])))
    S.append(("trilu", mk([N("Trilu", ["X", "k"], ["Y"], upper=1)], [X(4, 5)], [Y(None)], [ints("k", 1)])))
    S.append(("lrn", mk([N("LRN", ["X"], ["Y"], size=3)], [X(1, 5, 3, 3)], [Y(None)])))
    S.append(("instnorm", mk([N("InstanceNormalization", ["X", "s", "b"], ["Y"])], [X(2, 3, 4)], [Y(None)],
                             [init("s", frand(3)), init("b", frand(3))])))
    S.append(("hardmax", mk([N("Hardmax", ["X"], ["Y"], axis=1)], [X(3, 4)], [Y(None)])))
    return S


def node_case_seeds(limit_bytes=8192):
    """Small conformance node cases that pass today, with int inputs bound from data set 0."""
    if not os.path.isdir(NODE_CASES) or not os.path.exists(PASSING):
        return []
    names = sorted(l.strip()[5:] for l in open(PASSING) if l.startswith("node/"))
    out = []
    for nm in names:
        d = os.path.join(NODE_CASES, nm)
        p = os.path.join(d, "model.onnx")
        if not os.path.exists(p) or os.path.getsize(p) > limit_bytes:
            continue
        try:
            m = onnx.load(p)
        except Exception:
            continue
        init_names = {t.name for t in m.graph.initializer}
        real = [i for i in m.graph.input if i.name not in init_names]
        ok = True
        for k, inp in enumerate(real):
            tt = inp.type.tensor_type
            if not inp.type.HasField("tensor_type"):
                ok = False
                break
            if tt.elem_type in (TensorProto.INT64, TensorProto.INT32):
                pb = os.path.join(d, "test_data_set_0", f"input_{k}.pb")
                if not os.path.exists(pb) or os.path.getsize(pb) > 4096:
                    continue
                t = TensorProto()
                with open(pb, "rb") as f:
                    t.ParseFromString(f.read())
                t.name = inp.name
                m.graph.initializer.append(t)
        if ok:
            out.append(("node/" + nm, m))
    return out


# ------------------------------------------------------------------ mutations
INTERESTING = [0, 1, -1, 2, 3, -2, 4, 7, 8, 9, 16, 64, 255, 256, 1 << 15, 1 << 16, (1 << 31) - 1, 1 << 31,
               -(1 << 31), 1 << 32, 1 << 40, 1 << 48, 1 << 62, (1 << 63) - 1, -(1 << 63), -(1 << 40), -(1 << 62)]
FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-30, 1e30, 3.4e38, -3.4e38, float("inf"), float("-inf"), float("nan"), 1e-45,
          65536.0, 2.0 ** 40]
STRINGS = ["", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "constant", "reflect", "edge", "wrap", "nearest",
           "linear", "cubic", "none", "sum", "mean", "garbage", "tf_crop_and_resize", "half_pixel", "asymmetric",
           "floor", "round_prefer_ceil", "DCR", "CRD", "tanh", "x" * 300]
ATTR_NAMES = ["axis", "axes", "keepdims", "group", "kernel_shape", "strides", "pads", "dilations", "perm", "to",
              "split", "num_outputs", "ceil_mode", "auto_pad", "mode", "transA", "transB", "alpha", "beta",
              "epsilon", "allowzero", "start", "end", "blocksize", "noop_with_empty_axes", "count_include_pad",
              "output_padding", "output_shape", "storage_order", "upper", "exclusive", "reverse", "select_last_index",
              "stash_type", "training_mode", "num_groups", "size", "bias", "lambd", "gamma", "value", "direction"]
DTYPES = list(range(0, 17)) + [17, 23, 100]
OPS = ["Relu", "Add", "Mul", "Conv", "ConvTranspose", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool",
       "Reshape", "Slice", "Gather", "Concat", "Split", "Pad", "Softmax", "ReduceSum", "ReduceMean", "Transpose",
       "Expand", "Tile", "ConstantOfShape", "Range", "Cast", "Flatten", "Squeeze", "Unsqueeze", "BatchNormalization",
       "LayerNormalization", "Where", "Equal", "Shape", "Size", "Identity", "Dropout", "Clip", "Resize",
       "DepthToSpace", "SpaceToDepth", "CumSum", "Trilu", "GatherElements", "ArgMax", "LRN", "Hardmax",
       "InstanceNormalization", "GroupNormalization", "Sum", "Max", "Mean", "PRelu", "Erf", "Not", "Mod",
       "BitShift", "NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss", "RMSNormalization", "CastLike", "Constant"]
SHAPE_OPS = ["Reshape", "Expand", "Tile", "ConstantOfShape", "Range", "Slice", "Pad", "Unsqueeze", "Squeeze",
             "ReduceSum", "Split", "Gather", "Resize", "CumSum", "Trilu", "Transpose", "Concat"]
NP_OF = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64, TensorProto.INT64: np.int64,
         TensorProto.INT32: np.int32, TensorProto.INT8: np.int8, TensorProto.UINT8: np.uint8,
         TensorProto.INT16: np.int16, TensorProto.UINT16: np.uint16, TensorProto.BOOL: np.bool_,
         TensorProto.FLOAT16: np.float16, TensorProto.UINT32: np.uint32, TensorProto.UINT64: np.uint64}


def pick_int(r):
    x = r.random()
    if x < 0.6:
        return r.choice(INTERESTING)
    if x < 0.9:
        return r.randint(-10, 10)
    return r.randint(-(1 << 63), (1 << 63) - 1)


def pick_ints(r, old):
    old = list(old)
    x = r.random()
    if x < 0.35 and old:
        old[r.randrange(len(old))] = pick_int(r)
        return old
    if x < 0.45:
        return []
    if x < 0.55:
        return old + [pick_int(r)]
    if x < 0.6:
        return old[:-1]
    if x < 0.7:
        return [pick_int(r) for _ in range(r.choice([1, 2, 3, 4, 8, 9, 17, 70]))]
    if x < 0.8:
        return [r.choice([0, -1, 1, 2])] * max(1, len(old))
    return [r.randint(-3, 9) for _ in range(max(1, len(old) + r.randint(-1, 1)))]


def small_shape(r):
    rank = r.choice([0, 1, 1, 2, 2, 3, 4, 8, 9])
    return [r.choice([0, 1, 1, 2, 2, 3, 4, 5]) for _ in range(rank)]


def rand_array(r, dt, shape):
    npdt = NP_OF.get(dt, np.float32)
    n = int(np.prod(shape)) if shape else 1
    if np.issubdtype(npdt, np.floating):
        a = np.array([r.choice(FLOATS) if r.random() < 0.1 else r.uniform(-3, 3) for _ in range(n)])
    elif npdt == np.bool_:
        a = np.array([r.random() < 0.5 for _ in range(n)])
    else:
        info = np.iinfo(npdt)
        a = np.array([max(info.min, min(info.max, pick_int(r) if r.random() < 0.3 else r.randint(-3, 5)))
                      for _ in range(n)])
    return a.astype(npdt).reshape(shape)


def make_attr(r, name):
    k = r.random()
    if name == "value":
        dt = r.choice([F, I64, TensorProto.INT32, TensorProto.BOOL, TensorProto.DOUBLE, TensorProto.STRING])
        if dt == TensorProto.STRING:
            return helper.make_attribute(name, helper.make_tensor("v", dt, [1], [b"s"]))
        shp = r.choice([[1], [], [2], [0], [1, 1]])
        return helper.make_attribute(name, numpy_helper.from_array(rand_array(r, dt, shp), "v"))
    if k < 0.45:
        return helper.make_attribute(name, pick_int(r))
    if k < 0.8:
        return helper.make_attribute(name, pick_ints(r, [1, 1]), attr_type=AttributeProto.INTS)
    if k < 0.9:
        return helper.make_attribute(name, r.choice(FLOATS))
    return helper.make_attribute(name, r.choice(STRINGS))


def mutate_attr(r, a):
    t = a.type
    if t == AttributeProto.INT:
        a.i = pick_int(r)
    elif t == AttributeProto.INTS:
        v = pick_ints(r, a.ints)
        del a.ints[:]
        a.ints.extend(v)
    elif t == AttributeProto.FLOAT:
        a.f = r.choice(FLOATS)
    elif t == AttributeProto.FLOATS:
        v = [r.choice(FLOATS) for _ in range(r.choice([0, 1, 2, 4, 9]))]
        del a.floats[:]
        a.floats.extend(v)
    elif t == AttributeProto.STRING:
        a.s = r.choice(STRINGS).encode()
    elif t == AttributeProto.TENSOR:
        mutate_tensor(r, a.t)
    else:
        a.i = pick_int(r)
        a.type = AttributeProto.INT


def tensor_array(t):
    try:
        return numpy_helper.to_array(t)
    except Exception:
        return None


def set_tensor(t, arr):
    nt = numpy_helper.from_array(arr, t.name)
    t.CopyFrom(nt)


def mutate_tensor(r, t):
    arr = tensor_array(t)
    x = r.random()
    if arr is None or x < 0.1:
        # dims that the data does not cover (or overflow): the frontend must refuse
        del t.dims[:]
        t.dims.extend([pick_int(r) if r.random() < 0.5 else r.randint(0, 5) for _ in range(r.choice([0, 1, 2, 3, 9]))])
        return
    dt = t.data_type
    if x < 0.55 and arr.size and arr.size <= 64:
        flat = arr.flatten().copy()
        for _ in range(r.randint(1, max(1, flat.size))):
            i = r.randrange(flat.size)
            if flat.dtype.kind in "iu":
                info = np.iinfo(flat.dtype)
                flat[i] = max(info.min, min(info.max, pick_int(r)))
            elif flat.dtype.kind == "f":
                flat[i] = r.choice(FLOATS)
            elif flat.dtype.kind == "b":
                flat[i] = not flat[i]
        set_tensor(t, flat.reshape(arr.shape))
    elif x < 0.75:
        # new length / shape, consistent data
        if arr.ndim <= 1 and arr.dtype.kind in "iu":
            n = r.choice([0, 1, 2, 3, 4, 8, 9, 17, 65])
            set_tensor(t, np.array([pick_int(r) for _ in range(n)], dtype=np.int64).astype(arr.dtype, casting="unsafe")
                       if n else np.zeros([0], arr.dtype))
        else:
            shp = small_shape(r)
            set_tensor(t, rand_array(r, dt, shp))
    elif x < 0.9:
        # another dtype, same values
        nd = r.choice([F, I64, TensorProto.INT32, TensorProto.DOUBLE, TensorProto.BOOL, TensorProto.UINT8,
                       TensorProto.FLOAT16, TensorProto.INT8, TensorProto.UINT64])
        with np.errstate(all="ignore"):
            set_tensor(t, arr.astype(NP_OF[nd]))
    else:
        # the same data under an empty or scalar shape
        if arr.size == 1:
            set_tensor(t, arr.reshape([]) if arr.ndim else arr.reshape([1]))
        else:
            set_tensor(t, np.zeros([0] + list(arr.shape[1:]), arr.dtype))


def all_value_names(m):
    g = m.graph
    names = [i.name for i in g.input] + [t.name for t in g.initializer]
    for n in g.node:
        names += [o for o in n.output if o]
    return names


def m_attr(r, m):
    cand = [a for n in m.graph.node for a in n.attribute]
    if not cand:
        return m_add_attr(r, m)
    mutate_attr(r, r.choice(cand))


def m_add_attr(r, m):
    if not m.graph.node:
        return
    n = r.choice(m.graph.node)
    name = r.choice(ATTR_NAMES)
    for a in list(n.attribute):
        if a.name == name:
            n.attribute.remove(a)
    n.attribute.append(make_attr(r, name))


def m_del_attr(r, m):
    cand = [n for n in m.graph.node if n.attribute]
    if cand:
        n = r.choice(cand)
        del n.attribute[r.randrange(len(n.attribute))]


def m_init(r, m):
    if not m.graph.initializer:
        return m_attr(r, m)
    # shape parameters are the interesting ones: favour small int initializers
    ints_ = [t for t in m.graph.initializer if t.data_type in (I64, TensorProto.INT32)]
    t = r.choice(ints_ if ints_ and r.random() < 0.7 else m.graph.initializer)
    mutate_tensor(r, t)


def m_input_shape(r, m):
    ins = [i for i in m.graph.input if i.type.HasField("tensor_type")]
    if not ins:
        return
    tt = r.choice(ins).type.tensor_type
    x = r.random()
    if x < 0.15:
        tt.ClearField("shape")
        return
    shp = tt.shape
    dims = list(shp.dim)
    if x < 0.5 and dims:
        d = r.choice(dims)
        c = r.random()
        if c < 0.6:
            d.dim_value = r.choice([0, 1, 2, 3, 7, 1 << 20, 1 << 31, 1 << 40, (1 << 63) - 1, -1, -5])
        elif c < 0.9:
            d.dim_param = r.choice(["N", "M", "batch", ""])
        else:
            d.Clear()
        return
    if x < 0.7:
        new = small_shape(r)
    else:
        new = [r.choice([1, 2, 3]) for _ in range(r.choice([0, 1, 8, 9, 12]))]
    tt.ClearField("shape")
    tt.shape.SetInParent()
    for v in new:
        tt.shape.dim.add().dim_value = v


def m_input_dtype(r, m):
    cand = [i for i in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info)
            if i.type.HasField("tensor_type")]
    if cand:
        r.choice(cand).type.tensor_type.elem_type = r.choice(DTYPES)


def m_outputs(r, m):
    g = m.graph
    x = r.random()
    names = all_value_names(m)
    if x < 0.2 and g.output:
        g.output.append(copy.deepcopy(r.choice(g.output)))               # duplicate output
    elif x < 0.4 and g.input:
        inp = r.choice(g.input)
        g.output.append(copy.deepcopy(inp))                            # output that is an input
    elif x < 0.5 and g.initializer:
        t = r.choice(g.initializer)
        g.output.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    elif x < 0.6:
        g.output.append(helper.make_tensor_value_info("nowhere", F, None))
    elif x < 0.7:
        del g.output[:]
    elif x < 0.85 and names:
        g.output.append(helper.make_tensor_value_info(r.choice(names), F, None))   # an intermediate, typed wrongly
    elif g.output:
        o = r.choice(g.output)
        o.type.tensor_type.ClearField("shape")
        o.type.tensor_type.shape.dim.add().dim_value = r.choice([0, 1, 99, 1 << 40])


def m_node_io(r, m):
    g = m.graph
    if not g.node:
        return
    n = r.choice(g.node)
    names = all_value_names(m)
    x = r.random()
    if x < 0.15 and n.input:
        n.input[r.randrange(len(n.input))] = ""
    elif x < 0.3:
        n.input.append(r.choice(names + [""]))
    elif x < 0.4 and n.input:
        del n.input[-1]
    elif x < 0.5 and len(n.input) > 1:
        i, j = r.sample(range(len(n.input)), 2)
        n.input[i], n.input[j] = n.input[j], n.input[i]
    elif x < 0.6 and n.input:
        n.input[r.randrange(len(n.input))] = r.choice(names)
    elif x < 0.7 and n.output:
        n.output[r.randrange(len(n.output))] = r.choice(names)      # duplicate producer / redefinition
    elif x < 0.75 and n.output:
        n.output.append(r.choice(["extra_out", ""]))
    elif x < 0.8 and n.input and n.output:
        n.input[0] = n.output[0]                                        # a self loop
    elif x < 0.9:
        g.node.append(copy.deepcopy(n))                                 # the same node twice
    else:
        del n.output[:]


def m_op_type(r, m):
    if m.graph.node:
        r.choice(m.graph.node).op_type = r.choice(OPS)


def m_bind(r, m):
    """Turn a graph input into an initializer: the folding evaluator then sees the op."""
    g = m.graph
    inits = {t.name for t in g.initializer}
    cand = [i for i in g.input if i.name not in inits and i.type.HasField("tensor_type")]
    if not cand:
        return
    i = r.choice(cand)
    tt = i.type.tensor_type
    shp = [d.dim_value if d.HasField("dim_value") and 0 <= d.dim_value <= 64 else 2 for d in tt.shape.dim]
    if int(np.prod(shp)) > 4096:
        return
    t = numpy_helper.from_array(rand_array(r, tt.elem_type, shp), i.name)
    g.initializer.append(t)
    if r.random() < 0.5:
        g.input.remove(i)


def m_to_constant_node(r, m):
    """Move an initializer into a Constant node (another path through the frontend and folding)."""
    g = m.graph
    if not g.initializer:
        return
    t = r.choice(g.initializer)
    g.initializer.remove(t)
    for i in list(g.input):
        if i.name == t.name:
            g.input.remove(i)
    c = helper.make_node("Constant", [], [t.name], value=t)
    g.node.insert(0, c)


def m_opset(r, m):
    m.opset_import[0].version = r.choice([1, 5, 6, 7, 9, 10, 11, 12, 13, 17, 18, 21, 22, 99, 0])


def m_append_shape_op(r, m):
    """A shape-parameterised op with hostile constant parameters on some existing value."""
    g = m.graph
    vals = [o for n in g.node for o in n.output if o] + [i.name for i in g.input]
    if not vals:
        return
    src = r.choice(vals)
    op = r.choice(SHAPE_OPS)
    k = len(g.node)
    pname = lambda s: f"fz{k}_{s}"
    ps = []

    def param(vals_):
        nm = pname(len(ps))
        g.initializer.append(ints(nm, vals_))
        ps.append(nm)
        return nm

    def some(nmax=4):
        return [pick_int(r) for _ in range(r.choice([0, 1, 2, 3, nmax]))]

    attrs = {}
    if op in ("Reshape", "Expand", "Tile", "ConstantOfShape"):
        ins = [param(some(9))] if op == "ConstantOfShape" else [src, param(some(9))]
        if op == "Reshape" and r.random() < 0.3:
            attrs["allowzero"] = 1
    elif op == "Range":
        ins = [param(pick_int(r)), param(pick_int(r)), param(pick_int(r))]
    elif op == "Slice":
        c = r.choice([1, 2, 3])
        ins = [src, param(some() or [0]), param(some() or [1])]
        if r.random() < 0.7:
            ins.append(param([r.randint(-3, 3) for _ in range(c)]))
        if r.random() < 0.7:
            ins.append(param(some()))
    elif op == "Pad":
        ins = [src, param(some(8))]
        attrs["mode"] = r.choice(["constant", "reflect", "edge", "wrap"])
    elif op in ("Unsqueeze", "Squeeze", "ReduceSum"):
        ins = [src, param(some())]
    elif op == "Split":
        ins = [src, param(some())]
        attrs["axis"] = r.randint(-2, 2)
    elif op == "Gather":
        ins = [src, param(some())]
        attrs["axis"] = r.randint(-2, 2)
    elif op == "Resize":
        g.initializer.append(init(pname("sc"), np.array([r.choice(FLOATS) for _ in range(r.choice([1, 2, 4]))],
                                                         np.float32)))
        ins = [src, "", pname("sc")]
        attrs["mode"] = r.choice(["nearest", "linear", "cubic"])
    elif op in ("CumSum", "Trilu"):
        ins = [src, param(pick_int(r))]
    elif op == "Transpose":
        ins = [src]
        attrs["perm"] = some(8)
    else:
        ins = [src, src]
        attrs["axis"] = pick_int(r)
    outs = [pname("y")] if op != "Split" else [pname("y"), pname("z")]
    g.node.append(helper.make_node(op, ins, outs, **attrs))
    for o in outs:
        g.output.append(helper.make_tensor_value_info(o, F, None))


MUTATORS = [(m_attr, 20), (m_add_attr, 8), (m_del_attr, 3), (m_init, 20), (m_input_shape, 10), (m_input_dtype, 5),
            (m_outputs, 5), (m_node_io, 6), (m_op_type, 4), (m_bind, 6), (m_to_constant_node, 3), (m_opset, 2),
            (m_append_shape_op, 14)]


def make_case(seeds, seed, idx):
    r = random.Random(seed * 1000003 + idx)
    name, base = seeds[r.randrange(len(seeds))]
    m = copy.deepcopy(base)
    done = []
    fns, ws = zip(*MUTATORS)
    for _ in range(r.choice([1, 1, 2, 2, 3])):
        f = r.choices(fns, ws)[0]
        try:
            f(r, m)
            done.append(f.__name__[2:])
        except Exception as e:   # a mutation python cannot express: skip it
            done.append(f"{f.__name__[2:]}!{type(e).__name__}")
    try:
        data = m.SerializeToString()
    except Exception:
        data = base.SerializeToString()
    return f"{name} [{' '.join(done)}]", data


# ------------------------------------------------------------------ running
def limit_memory():
    os.setsid()
    if not ASAN:
        resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT_MB << 20, MEM_LIMIT_MB << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


ASAN = False
SAN_ENV = {}


def run_limited(cmd, cwd, env, timeout):
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=limit_memory)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return None, out.decode(errors="replace"), err.decode(errors="replace"), True


def listing(d):
    res = set()
    for root, dirs, files in os.walk(d):
        for f in files + dirs:
            res.add(os.path.relpath(os.path.join(root, f), d))
    return res


HUGE_RE = re.compile(r"allocation-size-too-big|requested allocation size|out of memory|rss limit exceeded|"
                     r"allocator is out of memory|std::bad_alloc|Cannot allocate memory|LLVM ERROR: out of memory")


def classify_compile(rc, err, timed_out, model_path, outdir, expect_file, extra_dirs):
    if timed_out:
        return "HANG", "timeout"
    if HUGE_RE.search(err):
        return "HUGE", first_line(err, HUGE_RE)
    if "LeakSanitizer" in err:
        return "LEAK", first_line(err, re.compile("LeakSanitizer"))
    if "Sanitizer" in err or "runtime error:" in err:
        return "CRASH", first_line(err, re.compile(r"Sanitizer|runtime error:"))
    if rc is not None and rc < 0:
        if rc == -signal.SIGKILL and not ASAN:
            return "HUGE", "killed (memory limit?)"
        return "CRASH", f"signal {-rc}: {err.strip()[-300:]}"
    for d in extra_dirs:
        if listing(d):
            return "STRAY", f"files written in {os.path.basename(d)}: {sorted(listing(d))[:5]}"
    if rc == 0:
        if not os.path.exists(expect_file):
            return "BADMSG", "exit 0 but no output"
        return "OK", ""
    if rc == 1:
        lines = err.strip().split("\n")
        if len(lines) != 1 or not lines[0].startswith("onnxc: error: "):
            return "BADMSG", f"{len(lines)} lines: {err.strip()[:300]}"
        if os.path.basename(model_path) not in lines[0]:
            return "BADMSG", f"does not name the model: {lines[0][:300]}"
        left = listing(outdir)
        if left:
            return "BADMSG", f"output left behind after a refusal: {sorted(left)}"
        return "REFUSED", lines[0]
    return "CRASH", f"exit {rc}: {err.strip()[:300]}"


def first_line(text, rx):
    for l in text.split("\n"):
        if rx.search(l):
            return l.strip()[:300]
    return text.strip()[:300]


def gen_inputs(model_bytes, r, d):
    """Input files for the compiled program; None when the graph has inputs we cannot make small."""
    m = onnx.load_from_string(model_bytes)
    inits = {t.name for t in m.graph.initializer}
    files = []
    sym = {}
    for k, i in enumerate(x for x in m.graph.input if x.name not in inits):
        tt = i.type.tensor_type
        shp = []
        for dd in tt.shape.dim:
            if dd.HasField("dim_value"):
                shp.append(dd.dim_value)
            else:
                shp.append(sym.setdefault(dd.dim_param or f"_{k}_{len(shp)}", r.choice([1, 2, 3])))
        if tt.elem_type not in NP_OF or any(v < 0 for v in shp) or int(np.prod(shp)) > (1 << 20):
            return None
        npdt = NP_OF[tt.elem_type]
        if np.issubdtype(npdt, np.integer):
            # indices and the like, out of range now and then: generated code must not read outside a buffer
            a = np.array([r.randint(-4, 4) if r.random() < 0.9 else pick_int(r) for _ in range(int(np.prod(shp)))])
            info = np.iinfo(npdt)
            a = np.clip(a, info.min, info.max).astype(npdt).reshape(shp)
        elif npdt == np.bool_:
            a = (np.random.RandomState(k).rand(*shp) < 0.5)
        else:
            a = np.random.RandomState(k).randn(*shp).astype(npdt)
        p = os.path.join(d, f"input_{k}.pb")
        with open(p, "wb") as f:
            f.write(numpy_helper.from_array(a, i.name).SerializeToString())
        files.append(p)
    return files


def run_case(args):
    idx, label, data, opts = args
    base = tempfile.mkdtemp(prefix=f"case{idx}_", dir=opts["workdir"])
    dirs = {k: os.path.join(base, k) for k in ("model", "out", "cwd", "tmp", "run")}
    for d in dirs.values():
        os.mkdir(d)
    model = os.path.join(dirs["model"], f"fz{idx}.onnx")
    with open(model, "wb") as f:
        f.write(data)
    env = dict(os.environ, TMPDIR=dirs["tmp"], **SAN_ENV)
    t0 = time.time()
    rc, out, err, to = run_limited([opts["onnxc"], model, "-o", os.path.join(dirs["out"], "x.o")], dirs["cwd"], env,
                                   COMPILE_TIMEOUT)
    cls, why = classify_compile(rc, err, to, model, dirs["out"], os.path.join(dirs["out"], "x.o"),
                                [dirs["cwd"], dirs["tmp"], dirs["model"]] if not listing(dirs["model"]) - {
                                    os.path.basename(model)} else [dirs["model"]])
    if cls == "OK" and opts["exe"] and random.Random(idx * 7919 + opts["seed"]).random() < opts["exe"]:
        for f in os.listdir(dirs["out"]):
            os.unlink(os.path.join(dirs["out"], f))
        exe = os.path.join(dirs["out"], "prog")
        rc, out, err, to = run_limited([opts["onnxc"], model, "--emit=exe", "-o", exe], dirs["cwd"], env,
                                       COMPILE_TIMEOUT * 2)
        cls, why = classify_compile(rc, err, to, model, dirs["out"], exe, [dirs["cwd"], dirs["tmp"]])
        if cls == "OK":
            ins = gen_inputs(data, random.Random(idx), dirs["run"])
            if ins is not None:
                rrc, rout, rerr, rto = run_limited([exe] + ins + ["-o", dirs["run"]], dirs["run"],
                                                   dict(os.environ, TMPDIR=dirs["tmp"]), RUN_TIMEOUT)
                if rto:
                    cls, why = "RUNHANG", "program timed out"
                elif rrc is not None and rrc < 0:
                    cls, why = "RUNCRASH", f"program died of signal {-rrc}: {rerr.strip()[-200:]}"
                elif rrc not in (0, 1, 2):
                    cls, why = "RUNCRASH", f"program exit {rrc}: {rerr.strip()[-200:]}"
    dt = time.time() - t0
    keep = opts["keep"] and (cls not in ("OK", "REFUSED") or opts["keep_all"])
    if keep:
        os.makedirs(opts["keep"], exist_ok=True)
        shutil.copy(model, os.path.join(opts["keep"], f"{cls.lower()}_{opts['seed']}_{idx}.onnx"))
    shutil.rmtree(base, ignore_errors=True)
    return idx, label, cls, why, dt


# ------------------------------------------------------------------ corpus: minimised crashers that were fixed
def corpus_models():
    """name -> ModelProto. Each reproduced a crash, hang or huge allocation before its fix."""
    N = helper.make_node
    C = {}
    return C


def write_corpus():
    os.makedirs(CORPUS_DIR, exist_ok=True)
    for name, m in sorted(corpus_models().items()):
        p = os.path.join(CORPUS_DIR, name + ".onnx")
        with open(p, "wb") as f:
            f.write(m.SerializeToString())
        print(f"wrote {os.path.relpath(p, ROOT)} ({os.path.getsize(p)} bytes)")


# ------------------------------------------------------------------ main
def main():
    global ASAN, COMPILE_TIMEOUT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnxc", default=os.environ.get("ONNXC", os.path.join(ROOT, "build", "onnxc")))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--only", type=int, action="append", help="run just case I (repeatable)")
    ap.add_argument("-j", "--jobs", type=int, default=1)
    ap.add_argument("--exe", type=float, default=0.3,
                    help="fraction of compiled cases also built with --emit=exe and run (default 0.3)")
    ap.add_argument("--no-node-cases", action="store_true", help="hand-built seeds only")
    ap.add_argument("--corpus", action="store_true", help="run tests/fuzz/corpus/*.onnx only")
    ap.add_argument("--write-corpus", action="store_true", help="regenerate tests/fuzz/corpus/ and exit")
    ap.add_argument("--keep", help="copy failing models into this folder")
    ap.add_argument("--keep-all", action="store_true", help="with --keep: keep passing models too")
    ap.add_argument("--leaks", action="store_true", help="report LeakSanitizer leaks (off by default)")
    ap.add_argument("--time-limit", type=float, default=0, help="stop starting cases after this many seconds")
    ap.add_argument("--timeout", type=int, default=COMPILE_TIMEOUT)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case, not just failures")
    a = ap.parse_args()
    COMPILE_TIMEOUT = a.timeout

    if a.write_corpus:
        write_corpus()
        return 0
    onnxc = os.path.abspath(a.onnxc)
    if not os.access(onnxc, os.X_OK):
        print(f"fuzz_models: no compiler at {onnxc}", file=sys.stderr)
        return 2
    with open(onnxc, "rb") as f:
        ASAN = b"__asan_init" in f.read()
    if ASAN:
        # ASan reserves terabytes of address space, so RLIMIT_AS cannot bound it; cap each allocation and the RSS.
        SAN_ENV.update(ASAN_OPTIONS=f"detect_leaks={int(a.leaks)}:max_allocation_size_mb={MEM_LIMIT_MB // 2}:"
                                    f"hard_rss_limit_mb={MEM_LIMIT_MB}:allocator_may_return_null=0:"
                                    "abort_on_error=0:symbolize=1",
                       UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")

    workdir = tempfile.mkdtemp(prefix="onnxc-fuzz-")
    opts = dict(onnxc=onnxc, workdir=workdir, exe=a.exe, keep=a.keep and os.path.abspath(a.keep),
                keep_all=a.keep_all, seed=a.seed)
    if a.corpus:
        files = sorted(glob.glob(os.path.join(CORPUS_DIR, "*.onnx")))
        if not files:
            print("fuzz_models: tests/fuzz/corpus is empty (run --write-corpus)", file=sys.stderr)
            return 2
        opts["exe"] = 1.0
        jobs = [(i, os.path.basename(p), open(p, "rb").read(), opts) for i, p in enumerate(files)]
    else:
        seeds = seed_models() + ([] if a.no_node_cases else node_case_seeds())
        idxs = a.only if a.only else range(a.count)
        jobs = ((i, *make_case(seeds, a.seed, i), opts) for i in idxs)
        print(f"fuzz: {len(seeds)} seed models, seed {a.seed}, {len(idxs)} cases, compiler {onnxc}"
              f"{' (ASan)' if ASAN else ''}", flush=True)

    counts = {}
    t0 = time.time()
    failed = []
    stopped = 0
    pool = multiprocessing.Pool(a.jobs) if a.jobs > 1 else None
    it = pool.imap_unordered(run_case, jobs) if pool else map(run_case, jobs)
    try:
        for idx, label, cls, why, dt in it:
            counts[cls] = counts.get(cls, 0) + 1
            bad = cls not in ("OK", "REFUSED")
            if bad:
                failed.append(idx)
            if bad or a.verbose:
                print(f"{cls:8s} case {idx} {label} ({dt:.1f}s): {why}", flush=True)
            if a.time_limit and time.time() - t0 > a.time_limit:
                stopped = 1
                break
    finally:
        if pool:
            pool.terminate()
        shutil.rmtree(workdir, ignore_errors=True)
    n = sum(counts.values())
    print("classes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if stopped:
        print(f"(stopped after {n} cases: --time-limit {a.time_limit:g} s)")
    if failed:
        print("failed cases: " + " ".join(map(str, sorted(failed)[:50])))
    npass = counts.get("OK", 0) + counts.get("REFUSED", 0)
    print(f"{npass} passed, {n - npass} failed ({time.time() - t0:.0f} s)")
    return 0 if n == npass else 1


if __name__ == "__main__":
    sys.exit(main())
