#!/usr/bin/env python3
"""Writes the golden-test models (NAME.onnx) into this folder.

The .onnx files are committed; the golden runner never calls this script. Run it after
changing a model here, then `run_golden.sh --update` and review the diff of the
expectations. Weights come from a seeded generator and the files are serialised
deterministically, so a rerun without changes gives identical bytes.

    .venv/bin/python tests/golden/make_models.py            # all models
    .venv/bin/python tests/golden/make_models.py softmax    # only the ones named

Models whose name is in IR_CASES compile and have a NAME.ir expectation (the --dump-ir
text); those in ERR_CASES are broken on purpose and have a NAME.err expectation.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
F, I64, I32 = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32


def vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def rand(name, shape, seed):
    return const(name, np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def model(name, nodes, inputs, outputs, inits=(), opset=13, check=True):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8,
                          producer_name="onnxc-golden")
    if check:
        onnx.checker.check_model(m, full_check=True)
    return m


def node(op, ins, outs, name, **attrs):
    return helper.make_node(op, ins, outs, name=name, **attrs)


# ---- models that compile: NAME.ir ------------------------------------------------------

def conv_bias_relu_residual():
    """Conv + bias, a residual Add of the block input, then Relu: one Conv kernel with the
    bias, the Add and the Relu as post-ops."""
    return model("conv_bias_relu_residual", [
        node("Conv", ["inp", "w", "b"], ["c"], "conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        node("Add", ["c", "inp"], ["s"], "residual"),
        node("Relu", ["s"], ["y"], "relu"),
    ], [vi("inp", [1, 4, 6, 6])], [vi("y", [1, 4, 6, 6])],
        [rand("w", [4, 4, 3, 3], 1), rand("b", [4], 2)])


def batchnorm_fold():
    """Conv without bias followed by BatchNormalization: the BN is folded into the Conv's
    weights and a new bias; only a Conv (with Relu) remains."""
    rng = np.random.default_rng(3)
    return model("batchnorm_fold", [
        node("Conv", ["inp", "w"], ["c"], "conv", kernel_shape=[1, 1]),
        node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["n"], "bn",
             epsilon=1e-5),
        node("Relu", ["n"], ["y"], "relu"),
    ], [vi("inp", [1, 3, 4, 4])], [vi("y", [1, 4, 4, 4])],
        [rand("w", [4, 3, 1, 1], 4),
         const("gamma", rng.uniform(0.5, 1.5, 4).astype(np.float32)),
         const("beta", rng.standard_normal(4).astype(np.float32)),
         const("mean", rng.standard_normal(4).astype(np.float32)),
         const("var", rng.uniform(0.5, 2.0, 4).astype(np.float32))])


def gelu_chain():
    """GELU written out as torch exports it: x * 0.5 * (1 + erf(x / sqrt(2))). The
    element-wise chain becomes one kernel."""
    return model("gelu_chain", [
        node("Div", ["inp", "sqrt2"], ["d"], "div"),
        node("Erf", ["d"], ["e"], "erf"),
        node("Add", ["e", "one"], ["a"], "add"),
        node("Mul", ["inp", "a"], ["m"], "mul"),
        node("Mul", ["m", "half"], ["y"], "mul_half"),
    ], [vi("inp", [2, 8])], [vi("y", [2, 8])],
        [const("sqrt2", np.float32(1.4142135)), const("one", np.float32(1.0)),
         const("half", np.float32(0.5))])


def matmul_bias_gelu():
    """MatMul + bias Add + the GELU chain: all of it fused as the contraction's epilogue."""
    return model("matmul_bias_gelu", [
        node("MatMul", ["inp", "w"], ["mm"], "fc"),
        node("Add", ["mm", "b"], ["x1"], "fc_bias"),
        node("Div", ["x1", "sqrt2"], ["d"], "div"),
        node("Erf", ["d"], ["e"], "erf"),
        node("Add", ["e", "one"], ["a"], "add"),
        node("Mul", ["x1", "a"], ["m"], "mul"),
        node("Mul", ["m", "half"], ["y"], "mul_half"),
    ], [vi("inp", [4, 8])], [vi("y", [4, 16])],
        [rand("w", [8, 16], 5), rand("b", [16], 6), const("sqrt2", np.float32(1.4142135)),
         const("one", np.float32(1.0)), const("half", np.float32(0.5))])


def shape_chain_reshape():
    """The torch flatten idiom: Shape -> Gather -> Unsqueeze -> Concat -> Reshape. The
    whole shape computation folds to a constant; only the Reshape remains."""
    return model("shape_chain_reshape", [
        node("Shape", ["inp"], ["s"], "shape"),
        node("Gather", ["s", "i0"], ["n"], "gather", axis=0),
        node("Unsqueeze", ["n", "ax0"], ["n1"], "unsqueeze"),
        node("Concat", ["n1", "minus1"], ["shp"], "concat", axis=0),
        node("Reshape", ["inp", "shp"], ["r"], "reshape"),
        node("Relu", ["r"], ["y"], "relu"),
    ], [vi("inp", [2, 3, 4])], [vi("y", [2, 12])],
        [const("i0", np.int64(0)), const("ax0", np.array([0], np.int64)),
         const("minus1", np.array([-1], np.int64))])


def reduce_prod_reshape():
    """The tf2onnx Einsum pattern: Shape -> Slice -> ReduceProd -> Concat -> Reshape. The
    product of the leading dims folds (ReduceProd has a reference evaluation), so the
    Reshape gets a constant [6, 4] target; only it and the MatMul remain."""
    return model("reduce_prod_reshape", [
        node("Shape", ["inp"], ["s"], "shape"),
        node("Slice", ["s", "st", "en"], ["lead"], "slice"),
        node("ReduceProd", ["lead"], ["prod"], "reduce_prod", keepdims=1),
        node("Slice", ["s", "en", "end"], ["tail"], "slice_tail"),
        node("Concat", ["prod", "tail"], ["shp"], "concat", axis=0),
        node("Reshape", ["inp", "shp"], ["r"], "reshape"),
        node("MatMul", ["r", "w"], ["y"], "matmul"),
    ], [vi("inp", [2, 3, 4])], [vi("y", [6, 5])],
        [const("st", np.array([0], np.int64)), const("en", np.array([2], np.int64)),
         const("end", np.array([3], np.int64)), rand("w", [4, 5], 7)])


def gemm_symbolic_batch():
    """A symbolic batch dim N through two Gemms with a Relu between: shapes carry N and the
    intermediate gets a symbolic-sized (dyn) slot."""
    return model("gemm_symbolic_batch", [
        node("Gemm", ["inp", "w1", "b1"], ["h"], "fc1", transB=1),
        node("Relu", ["h"], ["r"], "relu"),
        node("Gemm", ["r", "w2", "b2"], ["y"], "fc2"),
    ], [vi("inp", ["N", 8])], [vi("y", ["N", 4])],
        [rand("w1", [16, 8], 7), rand("b1", [16], 8), rand("w2", [16, 4], 9),
         rand("b2", [4], 10)])


def matmul_transpose():
    """MatMul(a, Transpose(b)): how the transposed operand reaches the contraction."""
    return model("matmul_transpose", [
        node("Transpose", ["b"], ["bt"], "transpose", perm=[1, 0]),
        node("MatMul", ["a", "bt"], ["y"], "matmul"),
    ], [vi("a", [4, 8]), vi("b", [6, 8])], [vi("y", [4, 6])])


def layernorm():
    """LayerNormalization (opset 17) over the last axis with scale and bias."""
    return model("layernorm", [
        node("LayerNormalization", ["inp", "scale", "bias"], ["y"], "ln", axis=-1,
             epsilon=1e-5),
    ], [vi("inp", [2, 3, 8])], [vi("y", [2, 3, 8])],
        [rand("scale", [8], 11), rand("bias", [8], 12)], opset=17)


def softmax():
    """Softmax over the last axis of a MatMul's result."""
    return model("softmax", [
        node("MatMul", ["inp", "w"], ["l"], "logits"),
        node("Softmax", ["l"], ["y"], "softmax", axis=-1),
    ], [vi("inp", [2, 8])], [vi("y", [2, 10])], [rand("w", [8, 10], 13)])


def dce_unused_branch():
    """A branch (Sigmoid -> Mul with an unused initializer) that reaches no output: it
    and its weight disappear; the weights blob holds nothing."""
    return model("dce_unused_branch", [
        node("Relu", ["inp"], ["y"], "used"),
        node("Sigmoid", ["inp"], ["s"], "unused_sigmoid"),
        node("Mul", ["s", "k"], ["dead"], "unused_mul"),
    ], [vi("inp", [2, 4])], [vi("y", [2, 4])], [rand("k", [2, 4], 14)])


def memplan_chain():
    """A chain of kernels that do not fuse (MatMul, Softmax, MatMul, Softmax, MatMul):
    each intermediate dies after its consumer, so the plan reuses workspace buffers and
    the static workspace is smaller than one buffer per intermediate."""
    return model("memplan_chain", [
        node("MatMul", ["inp", "w1"], ["h1"], "mm1"),
        node("Softmax", ["h1"], ["s1"], "sm1", axis=-1),
        node("MatMul", ["s1", "w2"], ["h2"], "mm2"),
        node("Softmax", ["h2"], ["s2"], "sm2", axis=-1),
        node("MatMul", ["s2", "w3"], ["y"], "mm3"),
    ], [vi("inp", [8, 16])], [vi("y", [8, 16])],
        [rand("w1", [16, 16], 15), rand("w2", [16, 16], 16), rand("w3", [16, 16], 17)])


# ---- broken models: NAME.err -----------------------------------------------------------

def unsupported_ops():
    """Three unsupported ops (two kinds, one of them twice) among supported ones: one
    message should list every kind, with where it is used. (TfIdfVectorizer replaced
    Einsum here once Einsum became supported: a text op no numeric compiler needs;
    StringSplit replaced Unique, which replaced Det, each once it became supported.)"""
    return model("unsupported_ops", [
        node("Relu", ["inp"], ["r"], "relu"),
        node("TfIdfVectorizer", ["r"], ["e"], "tfidf", mode="TF"),
        node("StringSplit", ["e"], ["d", "dn"], "split_a"),
        node("TfIdfVectorizer", ["e"], ["e2"], "tfidf_2", mode="TF"),
        node("Add", ["e2", "r"], ["y"], "add"),
    ], [vi("inp", [3, 3])], [vi("y", [3, 3])], check=False)


def bad_attr_type():
    """Conv's `strides` given as floats (2.0, 2.0) instead of ints; the declared output
    is what stride 2 would give."""
    n = node("Conv", ["inp", "w"], ["y"], "conv_bad_strides", kernel_shape=[1, 1])
    n.attribute.append(helper.make_attribute("strides", [2.0, 2.0]))
    return model("bad_attr_type", [n], [vi("inp", [1, 2, 4, 4])], [vi("y", [1, 2, 2, 2])],
                 [rand("w", [2, 2, 1, 1], 18)], check=False)


def conv_kernel_rank():
    """A rank-3 kernel for a rank-4 (2-D) input."""
    return model("conv_kernel_rank", [
        node("Conv", ["inp", "w"], ["y"], "conv_17"),
    ], [vi("inp", [1, 2, 4, 4])], [vi("y", [1, 2, 4, 4])], [rand("w", [2, 2, 3], 19)],
        check=False)


def missing_input():
    """Gemm with only its A operand (B is required)."""
    return model("missing_input", [
        node("Gemm", ["inp"], ["y"], "gemm_no_b"),
    ], [vi("inp", [2, 4])], [vi("y", [2, 4])], check=False)


def undefined_input():
    """A node reads a tensor that no node, input or initializer defines."""
    return model("undefined_input", [
        node("Add", ["inp", "nowhere"], ["y"], "add_undefined"),
    ], [vi("inp", [2, 4])], [vi("y", [2, 4])], check=False)


def reshape_runtime_shape():
    """Reshape whose target shape is computed from input data (a Cast of a graph input),
    so it is known only at run time."""
    return model("reshape_runtime_shape", [
        node("Cast", ["dims"], ["target"], "cast_dims", to=I64),
        node("Reshape", ["inp", "target"], ["y"], "reshape_dyn"),
    ], [vi("inp", [2, 6]), vi("dims", [2])], [vi("y", [3, 4])], check=False)


def shape_chain_symbolic():
    """The torch flatten idiom of shape_chain_reshape with a symbolic batch N: the target
    shape is [N, 12], known once N is, so it need not be data-dependent."""
    return model("shape_chain_symbolic", [
        node("Shape", ["inp"], ["s"], "shape"),
        node("Gather", ["s", "i0"], ["n"], "gather", axis=0),
        node("Unsqueeze", ["n", "ax0"], ["n1"], "unsqueeze"),
        node("Concat", ["n1", "minus1"], ["shp"], "concat", axis=0),
        node("Reshape", ["inp", "shp"], ["y"], "reshape"),
    ], [vi("inp", ["N", 3, 4])], [vi("y", ["N", 12])],
        [const("i0", np.int64(0)), const("ax0", np.array([0], np.int64)),
         const("minus1", np.array([-1], np.int64))])


def cycle():
    """Two nodes that feed each other."""
    return model("cycle", [
        node("Add", ["inp", "b"], ["a"], "add_a"),
        node("Relu", ["a"], ["b"], "relu_b"),
    ], [vi("inp", [2, 4])], [vi("a", [2, 4])], check=False)


def add_dtype_mismatch():
    """Add of a float32 and an int32 tensor."""
    return model("add_dtype_mismatch", [
        node("Add", ["inp", "k"], ["y"], "add_mixed"),
    ], [vi("inp", [2, 4]), vi("k", [2, 4], I32)], [vi("y", [2, 4])], check=False)


def many_infer_errors():
    """Two independent nodes that inference refuses (a float32 + int32 Add, a rank-3 Conv
    kernel on a 2-D input), a Relu that depends on the bad Add, and a valid branch: both
    refusals are reported in one run, the Relu's unknown input is not reported again."""
    return model("many_infer_errors", [
        node("Add", ["inp", "k"], ["a"], "add_mixed"),
        node("Relu", ["a"], ["y1"], "relu_after_bad_add"),
        node("Conv", ["img", "w"], ["y2"], "conv_17"),
        node("Sigmoid", ["inp"], ["y3"], "fine"),
    ], [vi("inp", [2, 4]), vi("k", [2, 4], I32), vi("img", [1, 2, 4, 4])],
        [vi("y1", [2, 4]), vi("y2", [1, 2, 4, 4]), vi("y3", [2, 4])],
        [rand("w", [2, 2, 3], 20)], check=False)


def many_lower_errors():
    """Three nodes that pass inference but that the LLVM backend refuses (Col2Im on int32,
    negative Pad amounts, Resize with antialias) between nodes it lowers: every refusal is
    reported in one run and no output file is left. (Col2Im replaced MaxPool's Indices
    output once that became supported.)"""
    return model("many_lower_errors", [
        node("Relu", ["inp"], ["r"], "relu"),
        node("MaxPool", ["r"], ["p"], "pool", kernel_shape=[2, 2]),
        node("Col2Im", ["cols", "img", "blk"], ["idx"], "col2im_int"),
        node("Pad", ["r", "neg"], ["c"], "pad_negative"),
        node("Resize", ["r", "", "scales"], ["w"], "resize_antialias", mode="linear", antialias=1),
        node("Sigmoid", ["p"], ["y1"], "sigmoid"),
    ], [vi("inp", [1, 1, 4, 4]), vi("cols", [1, 4, 9], I32)],
        [vi("y1", [1, 1, 3, 3]), vi("idx", [1, 1, 4, 4], I32), vi("c", [1, 1, 2, 2]),
         vi("w", [1, 1, 2, 2])],
        [const("neg", np.array([0, 0, -1, -1, 0, 0, -1, -1], np.int64)),
         const("scales", np.array([1, 1, 0.5, 0.5], np.float32)),
         const("img", np.array([4, 4], np.int64)), const("blk", np.array([2, 2], np.int64))], opset=19, check=False)


IR_CASES = [conv_bias_relu_residual, batchnorm_fold, gelu_chain, matmul_bias_gelu,
            shape_chain_reshape, shape_chain_symbolic, reduce_prod_reshape, gemm_symbolic_batch, matmul_transpose,
            layernorm, softmax, dce_unused_branch, memplan_chain]
ERR_CASES = [unsupported_ops, bad_attr_type, conv_kernel_rank, missing_input, undefined_input,
             reshape_runtime_shape, cycle, add_dtype_mismatch,
             many_infer_errors, many_lower_errors]


def main():
    want = set(sys.argv[1:])
    known = {f.__name__ for f in IR_CASES + ERR_CASES}
    if want - known:
        sys.exit("make_models.py: unknown case(s): " + ", ".join(sorted(want - known)))
    for f in IR_CASES + ERR_CASES:
        if want and f.__name__ not in want:
            continue
        m = f()
        m.doc_string = (f.__doc__ or "").strip().replace("\n    ", " ")
        path = os.path.join(HERE, f.__name__ + ".onnx")
        with open(path, "wb") as fh:
            fh.write(m.SerializeToString(deterministic=True))
        print(f"{f.__name__}.onnx ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
