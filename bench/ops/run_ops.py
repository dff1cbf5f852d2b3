#!/usr/bin/env python3
"""Per-op benchmark: onnxc against onnxruntime on single-op models, in one run.

Each case is a small ONNX graph built here with onnx.helper (one op, or the few ops a
exporter writes for it, e.g. GELU). For each: compile with `onnxc --emit=exe`, time
`PROG INPUTS --bench N --threads T` (its median, after its own warm-up), time onnxruntime on
the same inputs (median of N runs after warm-up, intra-op threads T, sequential), check the
outputs agree, and print a markdown table. Ratio = onnxc / ORT latency: below 1 is faster.

    .venv/bin/python bench/ops/run_ops.py --onnxc build/onnxc --threads 1 --runs 50
"""
import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MEDIAN_RE = re.compile(r"median\s+([0-9.]+)\s*ms")
OPSET = 17
F = TensorProto.FLOAT


def const(name, arr):
    return numpy_helper.from_array(arr, name)


def model(nodes, inputs, out_shape, inits=(), out="y", dtype=F):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, dtype, a.shape) for n, a in inputs],
                          [helper.make_tensor_value_info(out, dtype, out_shape)], list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    return m


def unary(op, shape, lo=-4.0, hi=4.0, **attrs):
    def build(rng):
        x = rng.uniform(lo, hi, shape).astype(np.float32)
        return model([helper.make_node(op, ["x"], ["y"], **attrs)], [("x", x)], shape), [x]
    return build


def gelu_tanh(shape):
    def build(rng):
        x = rng.uniform(-5, 5, shape).astype(np.float32)
        c = lambda n, v: const(n, np.array(v, np.float32))  # noqa: E731
        nodes = [helper.make_node("Mul", ["x", "x"], ["x2"]), helper.make_node("Mul", ["x2", "x"], ["x3"]),
                 helper.make_node("Mul", ["x3", "k"], ["t0"]), helper.make_node("Add", ["x", "t0"], ["t1"]),
                 helper.make_node("Mul", ["t1", "s"], ["t2"]), helper.make_node("Tanh", ["t2"], ["t3"]),
                 helper.make_node("Add", ["t3", "one"], ["t4"]), helper.make_node("Mul", ["x", "t4"], ["t5"]),
                 helper.make_node("Mul", ["t5", "half"], ["y"])]
        inits = [c("k", 0.044715), c("s", 0.7978845608028654), c("one", 1.0), c("half", 0.5)]
        return model(nodes, [("x", x)], shape, inits), [x]
    return build


def gelu_erf(shape):
    def build(rng):
        x = rng.uniform(-5, 5, shape).astype(np.float32)
        c = lambda n, v: const(n, np.array(v, np.float32))  # noqa: E731
        nodes = [helper.make_node("Div", ["x", "r2"], ["t0"]), helper.make_node("Erf", ["t0"], ["t1"]),
                 helper.make_node("Add", ["t1", "one"], ["t2"]), helper.make_node("Mul", ["x", "t2"], ["t3"]),
                 helper.make_node("Mul", ["t3", "half"], ["y"])]
        inits = [c("r2", 1.4142135623730951), c("one", 1.0), c("half", 0.5)]
        return model(nodes, [("x", x)], shape, inits), [x]
    return build


def binary(op, sa, sb):
    def build(rng):
        a = rng.uniform(-2, 2, sa).astype(np.float32)
        b = rng.uniform(-2, 2, sb).astype(np.float32)
        out = np.broadcast_shapes(sa, sb)
        return model([helper.make_node(op, ["a", "b"], ["y"])], [("a", a), ("b", b)], out), [a, b]
    return build


def pow_const(shape, e):
    def build(rng):
        x = rng.uniform(0.1, 3, shape).astype(np.float32)
        return model([helper.make_node("Pow", ["x", "e"], ["y"])], [("x", x)], shape,
                     [const("e", np.array(e, np.float32))]), [x]
    return build


def reduce_mean(shape, axes):
    def build(rng):
        x = rng.uniform(-2, 2, shape).astype(np.float32)
        out = tuple(1 if i in axes else d for i, d in enumerate(shape))
        return model([helper.make_node("ReduceMean", ["x"], ["y"], axes=list(axes), keepdims=1)],
                     [("x", x)], out), [x]
    return build


H = TensorProto.FLOAT16


def softmax(shape, dt=np.float32):
    def build(rng):
        x = rng.uniform(-8, 8, shape).astype(dt)
        return model([helper.make_node("Softmax", ["x"], ["y"], axis=-1)], [("x", x)], shape,
                     dtype=H if dt == np.float16 else F), [x]
    return build


def layernorm(shape, dt=np.float32):
    def build(rng):
        x = rng.uniform(-2, 2, shape).astype(dt)
        c = shape[-1]
        g = rng.uniform(0.5, 1.5, (c,)).astype(dt)
        b = rng.uniform(-0.5, 0.5, (c,)).astype(dt)
        return model([helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1, epsilon=1e-5)],
                     [("x", x)], shape, [const("g", g), const("b", b)], dtype=H if dt == np.float16 else F), [x]
    return build


def conv_transpose(cin, cout, hw, k, stride, pad, out_pad):
    # a decoder's upsampling layer (UNet, FPN, GAN generators): ConvTranspose + bias
    def build(rng):
        x = rng.uniform(-1, 1, (1, cin, hw, hw)).astype(np.float32)
        w = rng.uniform(-0.2, 0.2, (cin, cout, k, k)).astype(np.float32)
        b = rng.uniform(-0.5, 0.5, (cout,)).astype(np.float32)
        o = (hw - 1) * stride - 2 * pad + k + out_pad
        node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=[k, k], strides=[stride, stride],
                                pads=[pad, pad, pad, pad], output_padding=[out_pad, out_pad])
        return model([node], [("x", x)], (1, cout, o, o), [const("w", w), const("b", b)]), [x]
    return build


def depthwise(c, hw, k, stride):
    def build(rng):
        x = rng.uniform(-1, 1, (1, c, hw, hw)).astype(np.float32)
        w = rng.uniform(-0.5, 0.5, (c, 1, k, k)).astype(np.float32)
        b = rng.uniform(-0.5, 0.5, (c,)).astype(np.float32)
        p = k // 2
        o = (hw + 2 * p - k) // stride + 1
        node = helper.make_node("Conv", ["x", "w", "b"], ["y"], group=c, kernel_shape=[k, k],
                                strides=[stride, stride], pads=[p, p, p, p])
        return model([node], [("x", x)], (1, c, o, o), [const("w", w), const("b", b)]), [x]
    return build


def matmul(m, k, n, dt=np.float32):
    def build(rng):
        a = rng.uniform(-1, 1, (m, k)).astype(dt)
        b = rng.uniform(-1, 1, (k, n)).astype(dt)
        return model([helper.make_node("MatMul", ["a", "b"], ["y"])], [("a", a)], (m, n), [const("b", b)],
                     dtype=H if dt == np.float16 else F), [a]
    return build


EW = (1, 64, 112, 112)   # 802,816 elements: an early CNN activation
TOK = (1, 128, 768)      # a transformer's hidden states
CASES = [
    ("Exp", unary("Exp", EW)),
    ("Log", unary("Log", EW, 0.01, 100.0)),
    ("Tanh", unary("Tanh", EW)),
    ("Erf", unary("Erf", EW)),
    ("Sigmoid", unary("Sigmoid", EW, -8, 8)),
    ("GELU tanh (9 ops) 128x3072", gelu_tanh((1, 128, 3072))),
    ("GELU erf (5 ops) 128x3072", gelu_erf((1, 128, 3072))),
    ("Relu", unary("Relu", EW)),
    ("Add 64x112x112 + 64x1x1", binary("Add", EW, (1, 64, 1, 1))),
    ("Pow x^2", pow_const(EW, 2.0)),
    ("Pow x^3", pow_const(EW, 3.0)),
    ("Pow x^0.5", pow_const(EW, 0.5)),
    ("Pow x^-1", pow_const(EW, -1.0)),
    ("ReduceMean 128x768 last axis", reduce_mean(TOK, (2,))),
    ("ReduceMean 64x112x112 spatial", reduce_mean(EW, (2, 3))),
    ("Softmax 12x128x128", softmax((1, 12, 128, 128))),
    ("LayerNorm 128x768", layernorm(TOK)),
    ("DW conv 3x3 s1 32ch 112x112", depthwise(32, 112, 3, 1)),
    ("DW conv 3x3 s2 96ch 112x112", depthwise(96, 112, 3, 2)),
    ("DW conv 3x3 s1 576ch 14x14", depthwise(576, 14, 3, 1)),
    ("DW conv 5x5 s1 240ch 28x28", depthwise(240, 28, 5, 1)),
    ("DW conv 7x7 s1 384ch 28x28", depthwise(384, 28, 7, 1)),
    ("MatMul 128x768x768", matmul(128, 768, 768)),
    ("MatMul 256x256x256", matmul(256, 256, 256)),
    ("ConvTranspose 2x2 s2 128->64ch 28x28", conv_transpose(128, 64, 28, 2, 2, 0, 0)),
    ("ConvTranspose 3x3 s2 p1 op1 64->32ch 56x56", conv_transpose(64, 32, 56, 3, 2, 1, 1)),
    ("MatMul f16 128x768x768", matmul(128, 768, 768, np.float16)),
    ("LayerNorm f16 128x768", layernorm(TOK, np.float16)),
    ("Softmax f16 12x128x128", softmax((1, 12, 128, 128), np.float16)),
]


def cpu_desc():
    name, flags = platform.processor() or "?", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = line
    except OSError:
        pass
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{name} ({isa}), {os.cpu_count()} CPUs"


def ort_run(path, feeds, threads, runs, warmup):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for _ in range(warmup):
        out = sess.run(None, feeds)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)), out[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnxc", default=os.environ.get("ONNXC", os.path.join(REPO, "build", "onnxc")))
    ap.add_argument("--threads", default="1", help="comma-separated thread counts (default 1)")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--filter", default=None, help="only cases whose name contains this")
    args = ap.parse_args()
    if not os.access(args.onnxc, os.X_OK):
        print(f"run_ops: compiler not found: {args.onnxc}", file=sys.stderr)
        return 2
    threads = [int(t) for t in args.threads.split(",")]
    tmp = tempfile.mkdtemp(prefix="onnxc-ops-")
    rows, rc = [], 0
    try:
        for i, (name, build) in enumerate(CASES):
            if args.filter and args.filter.lower() not in name.lower():
                continue
            m, xs = build(np.random.default_rng(i))
            path = os.path.join(tmp, f"case{i}.onnx")
            onnx.save(m, path)
            files = []
            for j, x in enumerate(xs):
                files.append(os.path.join(tmp, f"case{i}_in{j}.npy"))
                np.save(files[-1], x)
            prog = os.path.join(tmp, f"case{i}")
            p = subprocess.run([args.onnxc, path, "--emit=exe", "-o", prog], capture_output=True, text=True)
            feeds = {v.name: x for v, x in zip(m.graph.input, xs)}
            for t in threads:
                ours, note = None, ""
                ort_ms, ref = ort_run(path, feeds, t, args.runs, args.warmup)
                if p.returncode != 0:
                    note = "compile failed: " + (p.stderr.strip().splitlines() or ["?"])[0][:100]
                else:
                    outdir = os.path.join(tmp, f"out{i}")
                    r = subprocess.run([prog] + files + ["-o", outdir], capture_output=True, text=True)
                    got = None
                    if r.returncode == 0:
                        outs = [f for f in os.listdir(outdir) if f.endswith(".pb")]
                        if outs:
                            got = numpy_helper.to_array(onnx.load_tensor(os.path.join(outdir, outs[0])))
                    tol = (1e-2, 1e-3) if ref.dtype == np.float16 else (1e-3, 1e-5)
                    if got is None or got.shape != ref.shape or not np.allclose(got, ref, rtol=tol[0], atol=tol[1]):
                        err = "no output" if got is None or got.shape != ref.shape else \
                            f"max|d|={np.max(np.abs(got - ref)):.2e}"
                        note = f"MISMATCH vs ORT ({err})"
                        rc = 1
                    b = subprocess.run([prog] + files + ["--bench", str(args.runs), "--threads", str(t)],
                                       capture_output=True, text=True)
                    mm = MEDIAN_RE.search(b.stdout)
                    if b.returncode == 0 and mm:
                        ours = float(mm.group(1))
                    else:
                        note = "bench failed: " + ((b.stderr or b.stdout).strip().splitlines() or ["?"])[0][:100]
                if ours is None:
                    rc = 1
                rows.append((name, t, ours, ort_ms, note))
                print(f"{name} threads={t}: onnxc {ours} ms, ORT {ort_ms:.3f} ms {note}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    import onnxruntime
    print(f"\nHost: {cpu_desc()}; onnxruntime {onnxruntime.__version__}; float32 unless named; median of "
          f"{args.runs} runs after warm-up\n")
    print("| case | threads | onnxc (ms) | ORT (ms) | onnxc / ORT | note |")
    print("|---|---:|---:|---:|---:|---|")
    ratios = []
    for name, t, ours, ort_ms, note in rows:
        if ours:
            ratios.append(max(ours, 0.001) / ort_ms)
            print(f"| {name} | {t} | {ours:.3f} | {ort_ms:.3f} | {ratios[-1]:.2f} | {note} |")
        else:
            print(f"| {name} | {t} | - | {ort_ms:.3f} | - | {note} |")
    if ratios:
        print(f"\nGeometric mean onnxc / ORT: {float(np.exp(np.mean(np.log(ratios)))):.2f} over {len(ratios)} rows")
    return rc


if __name__ == "__main__":
    sys.exit(main())
