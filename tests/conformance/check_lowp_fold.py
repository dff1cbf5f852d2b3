#!/usr/bin/env python3
"""Constant folding and the frontend's tensor reader on the low-precision dtypes: every
node case of Cast, CastLike, BitCast, QuantizeLinear and DequantizeLinear, compiled with
all its inputs bound as constants (--bind, so the packed raw_data of int4/uint4/int2/uint2/
float4 inputs goes through frontend/tensor.c), must fold to a copy of a constant, and the
program's outputs must equal the case's expected outputs (codes bit for bit; NaN where NaN).
The evaluator does not compute in float16/bfloat16, so cases with such a tensor may stay
a kernel (on constant inputs); their outputs are still compared.

usage: check_lowp_fold.py --onnxc build/onnxc [--cases-dir DIR] [--filter REGEX] [-j N]"""
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
    sys.exit(1 if bad else 0)


main()
