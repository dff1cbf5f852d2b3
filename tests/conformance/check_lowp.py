#!/usr/bin/env python3
"""The low-precision dtypes beyond the node cases.

1. Constant folding and the frontend's tensor reader: every
node case of Cast, CastLike, BitCast, QuantizeLinear and DequantizeLinear, compiled with
all its inputs bound as constants (--bind, so the packed raw_data of int4/uint4/int2/uint2/
float4 inputs goes through frontend/tensor.c), must fold to a copy of a constant, and the
program's outputs must equal the case's expected outputs (codes bit for bit; NaN where NaN).
The evaluator does not compute in float16/bfloat16, so cases with such a tensor may stay
a kernel (on constant inputs); their outputs are still compared.

2. Element-moving ops (Concat, Transpose, Gather, Reshape, Identity) on int4, uint2,
float8e4m3fn and float4e2m1, as graph inputs (kernels, packed .pb in and out) and as
initializers (folded), against onnx's ReferenceEvaluator.

3. QuantizeLinear then DequantizeLinear per axis and blocked into int4, uint4, int2, uint2,
float8e4m3fn, float8e5m2fnuz and float4e2m1 (saturate on and off for float8), random data,
as kernels, against the ReferenceEvaluator bit for bit.

4. Cast between every low-precision kind and bool, the integer widths, float16, float32
and float64 (both ways, saturate on and off), one graph per source dtype, as kernels and
folded, against the ReferenceEvaluator (out-of-range values included: ml_dtypes wraps
finite values and saturates infinities when it converts to integers).

usage: check_lowp.py --onnxc build/onnxc [--cases-dir DIR] [--filter REGEX] [-j N]"""
import argparse
import concurrent.futures as cf
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper as nh

FAMILIES = r"^test_(cast|castlike|bitcast|quantizelinear|dequantizelinear)_"


def same(got, want):
    if got.dtype != want.dtype or got.shape != want.shape:
        return False
    if want.dtype.kind == "f" and want.dtype.itemsize >= 2:
        g, w = got.astype(np.float64), want.astype(np.float64)
        return bool(np.all((g == w) | (np.isnan(g) & np.isnan(w))))
    return got.tobytes() == want.tobytes()


def check(onnxc, case):
    m = onnx.load(os.path.join(case, "model.onnx"))
    ds = os.path.join(case, "test_data_set_0")
    binds = []
    for i, inp in enumerate(m.graph.input):
        binds += ["--bind", "%s=%s" % (inp.name, os.path.join(ds, "input_%d.pb" % i))]
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "prog")
        r = subprocess.run([onnxc, os.path.join(case, "model.onnx"), "--emit=exe", "-o", exe, "--dump-ir"] + binds,
                           capture_output=True, text=True, timeout=300)
        if r.returncode:
            return "compile failed: " + r.stderr.strip()[-300:]
        ops = re.findall(r"= (\w+)\(", r.stdout)
        half = any(v.type.tensor_type.elem_type in (onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16)
                   for v in list(m.graph.input) + list(m.graph.output))
        if any(op != "Identity" for op in ops) and not half:
            return "not folded: " + " ".join(ops)
        r = subprocess.run([exe, "-o", tmp], capture_output=True, text=True, timeout=60)
        if r.returncode:
            return "run failed: " + r.stderr.strip()[-300:]
        for k in range(len(m.graph.output)):
            want = nh.to_array(onnx.load_tensor(os.path.join(ds, "output_%d.pb" % k)))
            got = nh.to_array(onnx.load_tensor(os.path.join(tmp, "output_%d.pb" % k)))
            if not same(got, want):
                return "output %d differs:\n got %r\nwant %r" % (k, got, want)
    return None


def moves(onnxc):
    import ml_dtypes
    from onnx import TensorProto as T, helper
    from onnx.reference import ReferenceEvaluator
    rng = np.random.default_rng(0)
    bad = 0
    for dt, npdt in [(T.INT4, ml_dtypes.int4), (T.UINT2, ml_dtypes.uint2),
                     (T.FLOAT8E4M3FN, ml_dtypes.float8_e4m3fn), (T.FLOAT4E2M1, ml_dtypes.float4_e2m1fn)]:
        lo = 0 if dt == T.UINT2 else -2
        a = rng.integers(lo, lo + 4, (3, 5)).astype(np.float32).astype(npdt)
        b = a[:, :3].copy()
        for const in (True, False):
            nodes = [helper.make_node("Concat", ["a", "b"], ["c"], axis=1),
                     helper.make_node("Transpose", ["c"], ["t"], perm=[1, 0]),
                     helper.make_node("Gather", ["t", "idx"], ["g"], axis=0),
                     helper.make_node("Reshape", ["g", "shp"], ["r"]),
                     helper.make_node("Cast", ["r"], ["y"], to=T.FLOAT),
                     helper.make_node("Identity", ["r"], ["z"])]
            inits = [nh.from_array(np.array([7, 0, 3], np.int64), "idx"),   # 9 elements out: odd
                     nh.from_array(np.array([-1], np.int64), "shp")]
            ins, feeds = [], {}
            if const:
                inits += [nh.from_array(a, "a"), nh.from_array(b, "b")]
            else:
                ins = [helper.make_tensor_value_info("a", dt, [3, 5]), helper.make_tensor_value_info("b", dt, [3, 3])]
                feeds = {"a": a, "b": b}
            g = helper.make_graph(nodes, "g", ins, [helper.make_tensor_value_info("y", T.FLOAT, None),
                                                    helper.make_tensor_value_info("z", dt, None)], inits)
            m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
            want = ReferenceEvaluator(m).run(None, feeds)
            label = "moves %s %s" % (T.DataType.Name(dt), "initializers" if const else "inputs")
            with tempfile.TemporaryDirectory() as tmp:
                onnx.save(m, os.path.join(tmp, "m.onnx"))
                args = []
                for i, (k, v) in enumerate(feeds.items()):
                    args.append(os.path.join(tmp, "input_%d.pb" % i))
                    onnx.save_tensor(nh.from_array(v, k), args[-1])
                exe = os.path.join(tmp, "prog")
                r = subprocess.run([onnxc, os.path.join(tmp, "m.onnx"), "--emit=exe", "-o", exe], capture_output=True, text=True)
                if r.returncode == 0:
                    r = subprocess.run([exe] + args + ["-o", tmp], capture_output=True, text=True)
                if r.returncode:
                    bad += 1
                    print("FAIL %s: %s" % (label, r.stderr.strip()[-300:]))
                    continue
                got = [nh.to_array(onnx.load_tensor(os.path.join(tmp, "output_%d.pb" % k))) for k in range(2)]
                if not (same(got[0], want[0]) and same(got[1], want[1])):
                    bad += 1
                    print("FAIL %s:\n got %r\nwant %r" % (label, got, want))
    # BitCast between the 4-bit kinds keeps the code (int4 -2 is uint4 14, float4 -1.0)
    a = np.array([-2, 7, -8, 0, 1], ml_dtypes.int4)
    g = helper.make_graph([helper.make_node("BitCast", ["a"], ["u"], to=T.UINT4),
                           helper.make_node("BitCast", ["a"], ["f"], to=T.FLOAT4E2M1)], "g",
                          [helper.make_tensor_value_info("a", T.INT4, [5])],
                          [helper.make_tensor_value_info("u", T.UINT4, None),
                           helper.make_tensor_value_info("f", T.FLOAT4E2M1, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 26)])
    want = [a.view(np.uint8).astype(ml_dtypes.uint4), a.view(np.uint8).view(ml_dtypes.float4_e2m1fn)]
    got = run_model(onnxc, m, {"a": a}, 2)
    if isinstance(got, str) or not (same(got[0], want[0]) and same(got[1], want[1])):
        bad += 1
        print("FAIL BitCast int4 -> uint4, float4e2m1: got %r, want %r" % (got, want))
    print("%d of 9 element-moving and BitCast graphs match the reference" % (9 - bad))
    return bad


def run_model(onnxc, m, feeds, nout):
    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(m, os.path.join(tmp, "m.onnx"))
        args = []
        for i, (k, v) in enumerate(feeds.items()):
            args.append(os.path.join(tmp, "input_%d.pb" % i))
            onnx.save_tensor(nh.from_array(v, k), args[-1])
        exe = os.path.join(tmp, "prog")
        r = subprocess.run([onnxc, os.path.join(tmp, "m.onnx"), "--emit=exe", "-o", exe], capture_output=True, text=True)
        if r.returncode == 0:
            r = subprocess.run([exe] + args + ["-o", tmp], capture_output=True, text=True)
        if r.returncode:
            return r.stderr.strip()[-300:]
        return [nh.to_array(onnx.load_tensor(os.path.join(tmp, "output_%d.pb" % k))) for k in range(nout)]


def qdq(onnxc):
    from onnx import TensorProto as T, helper
    from onnx.reference import ReferenceEvaluator
    rng = np.random.default_rng(1)
    bad = total = 0
    x = (rng.standard_normal((4, 6, 5)) * 3).astype(np.float32)
    x[0, 0, :2] = [1e6, -1e6]
    xnan = x.copy()
    xnan[0, 0, 2] = np.nan
    for dt in (T.INT4, T.UINT4, T.INT2, T.UINT2, T.FLOAT8E4M3FN, T.FLOAT8E5M2FNUZ, T.FLOAT4E2M1):
        f8 = dt in (T.FLOAT8E4M3FN, T.FLOAT8E5M2FNUZ)
        # NaN quantized to an integer: the reference's value is x86's float-to-int32
        # conversion (INT32_MIN, then clamped); onnxc gives the zero point, as for uint8
        xin = x if dt in (T.INT4, T.UINT4, T.INT2, T.UINT2) else xnan
        for mode in ("axis", "blocked"):
            for sat in ((1, 0) if f8 else (1,)):
                if mode == "axis":
                    sshape, attrs = [6], {"axis": 1}
                else:
                    sshape, attrs = [4, 6, 3], {"axis": 2, "block_size": 2}
                scale = rng.uniform(0.05, 0.6, sshape).astype(np.float32)
                zp_vals = np.zeros(sshape, np.float32) if f8 else rng.integers(0, 2, sshape).astype(np.float32)
                zp = nh.from_array(zp_vals.astype(onnx.helper.tensor_dtype_to_np_dtype(dt)), "zp")
                q = helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"], saturate=sat, **attrs)
                d = helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["y"], **attrs)
                g = helper.make_graph([q, d], "g", [helper.make_tensor_value_info("x", T.FLOAT, list(x.shape))],
                                      [helper.make_tensor_value_info("q", dt, None),
                                       helper.make_tensor_value_info("y", T.FLOAT, None)],
                                      [nh.from_array(scale, "s"), zp])
                m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
                want = ReferenceEvaluator(m).run(None, {"x": xin})
                got = run_model(onnxc, m, {"x": xin}, 2)
                total += 1
                label = "qdq %s %s saturate=%d" % (T.DataType.Name(dt), mode, sat)
                if isinstance(got, str):
                    bad += 1
                    print("FAIL %s: %s" % (label, got))
                elif not (same(got[0], want[0]) and same(got[1], want[1])):
                    bad += 1
                    g0, w0 = got[0].astype(np.float32), want[0].astype(np.float32)
                    where = np.argwhere(~((g0 == w0) | (np.isnan(g0) & np.isnan(w0))))[:5]
                    print("FAIL %s: at %s x %s: got %s, want %s" % (label, where.tolist(), [xin[tuple(i)] for i in where],
                          [g0[tuple(i)] for i in where], [w0[tuple(i)] for i in where]))
    print("%d of %d QuantizeLinear/DequantizeLinear graphs match the reference" % (total - bad, total))
    return bad


def cast_matrix(onnxc):
    import ml_dtypes
    from onnx import TensorProto as T, helper
    from onnx.reference import ReferenceEvaluator
    lowp = [T.FLOAT8E4M3FN, T.FLOAT8E4M3FNUZ, T.FLOAT8E5M2, T.FLOAT8E5M2FNUZ, T.UINT4, T.INT4, T.FLOAT4E2M1,
            T.FLOAT8E8M0, T.UINT2, T.INT2]
    plain = [T.BOOL, T.INT8, T.UINT8, T.INT16, T.INT32, T.INT64, T.UINT64, T.FLOAT16, T.FLOAT, T.DOUBLE]
    vals = np.array([0, 1, -1, 2, -2, 3, 0.5, -0.75, 5, -7, 100, 300, -1000, 1e5], np.float64)
    bad = total = 0
    for src in lowp + plain:
        npsrc = onnx.helper.tensor_dtype_to_np_dtype(src)
        if src == T.BOOL:
            x = (vals > 0.6)
        elif np.issubdtype(npsrc, np.integer):
            info = np.iinfo(npsrc)
            x = np.clip(np.trunc(vals), info.min, info.max).astype(npsrc)
        elif src in (T.UINT4, T.UINT2, T.INT4, T.INT2):
            info = ml_dtypes.iinfo(npsrc)
            x = np.clip(np.trunc(vals), info.min, info.max).astype(npsrc)
        else:
            with np.errstate(over="ignore"):   # 1e5 is infinity in float16 and float8e4m3fn: wanted
                x = vals.astype(np.float32).astype(npsrc)
        targets = plain if src in lowp else lowp
        for sat in (1, 0):
            for const in (False, True):
                nodes, outs = [], []
                for j, dst in enumerate(targets):
                    if src == T.FLOAT8E8M0 and dst == T.BOOL:
                        continue   # the reference has no such cast
                    nodes.append(helper.make_node("Cast", ["x"], ["y%d" % j], to=dst, saturate=sat))
                    outs.append(helper.make_tensor_value_info("y%d" % j, dst, None))
                ins = [] if const else [helper.make_tensor_value_info("x", src, [len(x)])]
                inits = [nh.from_array(x, "x")] if const else []
                m = helper.make_model(helper.make_graph(nodes, "g", ins, outs, inits),
                                      opset_imports=[helper.make_opsetid("", 24)])
                label = "Cast from %s saturate=%d %s" % (T.DataType.Name(src), sat, "folded" if const else "kernel")
                total += 1
                try:
                    want = ReferenceEvaluator(m).run(None, {} if const else {"x": x})
                except Exception as e:   # a pair the reference cannot run
                    print("skip %s: reference: %s" % (label, e))
                    continue
                got = run_model(onnxc, m, {} if const else {"x": x}, len(outs))
                if isinstance(got, str):
                    bad += 1
                    print("FAIL %s: %s" % (label, got))
                    continue
                for o, g_, w_ in zip(outs, got, want):
                    if not same(g_, w_):
                        bad += 1
                        print("FAIL %s to %s: x %r\n got %r\nwant %r" % (label, T.DataType.Name(o.type.tensor_type.elem_type),
                                                                     x, g_, w_))
                        break
    print("%d of %d Cast graphs match the reference" % (total - bad, total))
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--cases-dir", default=os.path.join(os.path.dirname(__file__), "cases"))
    ap.add_argument("--filter", default="")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    a = ap.parse_args()
    node = os.path.join(a.cases_dir, "node")
    cases = sorted(c for c in os.listdir(node) if re.search(FAMILIES, c) and re.search(a.filter, c)
                   and not c.endswith("_expanded"))
    if not cases:
        sys.exit("no cases under %s" % node)
    bad = 0
    with cf.ThreadPoolExecutor(a.jobs) as ex:
        for c, why in zip(cases, ex.map(lambda c: check(a.onnxc, os.path.join(node, c)), cases)):
            if why:
                bad += 1
                print("FAIL %s: %s" % (c, why))
    print("%d of %d cases fold to the reference outputs" % (len(cases) - bad, len(cases)))
    bad += moves(a.onnxc)
    bad += qdq(a.onnxc)
    bad += cast_matrix(a.onnxc)
    sys.exit(1 if bad else 0)


main()
