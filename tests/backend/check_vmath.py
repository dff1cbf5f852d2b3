"""Accuracy of the generated float32 transcendental code (backends/llvm/lower_vmath.c and
what builds on it) against float64 references (numpy, math.erf) rounded to float32: single-op
models over a sweep of values (dense grids over the interesting ranges, random bit patterns
over every exponent, the edges: +-0, subnormals, overflow thresholds, +-inf, NaN). The
length is odd so both the vector body and the scalar tail run. Max error in ulps of the
correctly rounded result must stay within each function's bound; special values must match
exactly (inf, NaN, +-1, 0). Pow by the constants that are strength-reduced to multiplies,
sqrt and a division (lower_eltwise.c) is checked the same way against float64 pow.
usage: check_vmath.py [ONNXC] [ONLY_OP]"""
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ONNXC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "onnxc")
ONLY = sys.argv[2] if len(sys.argv) > 2 else None
rng = np.random.default_rng(7)
f32 = np.float32

EDGES = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-40, -1e-40, 1.17549435e-38, 1e-30, 1e-7, -1e-7,
         0.5, 0.625, 0.62499994, 1.0, 0.99999994, 1.0000001, 2.0, 3.92, 4.0, 4.0000005, 9.0, 10.0, 44.0, 45.0,
         87.3, 88.72, 88.7228, 88.7229, 88.73, 89.0, 100.0, -87.3, -88.0, -100.0, -103.0, -103.97, -104.0,
         -105.0, -150.0, 3.4e38, -3.4e38, 1e10, -1e10]


def sweep(lo, hi, n):
    return np.linspace(lo, hi, n, dtype=np.float64).astype(f32)


def random_bits(n, positive=False):
    b = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    if positive:
        b &= 0x7FFFFFFF
    x = b.view(f32)
    return x[np.isfinite(x)]


def values(op):
    parts = [np.array(EDGES, f32), np.array([-e for e in EDGES], f32), random_bits(100000, op == "Log")]
    if op == "Exp":
        parts += [sweep(-104, 89, 400001)]
    elif op == "Log":
        parts += [sweep(0.5, 2.0, 200001), sweep(1e-3, 1e3, 200001), sweep(0.0, 1e-36, 20001)]
    elif op in ("Tanh", "Erf"):
        parts += [sweep(-6, 6, 400001), sweep(-1e-3, 1e-3, 20001)]
    elif op == "Sigmoid":
        parts += [sweep(-110, 110, 400001)]
    else:
        parts += [sweep(-10, 10, 100001), sweep(-1e-9, 1e-9, 10001)]
    x = np.concatenate(parts).astype(f32)
    if len(x) % 2 == 0:
        x = np.append(x, f32(0.25))
    return x


def reference(op, x):
    d = x.astype(np.float64)
    with np.errstate(all="ignore"):
        if op == "Exp":
            return np.exp(d)
        if op == "Log":
            return np.log(d)
        if op == "Tanh":
            return np.tanh(d)
        if op == "Erf":
            return np.array([math.erf(v) if not math.isnan(v) else math.nan for v in d.tolist()])
        if op == "Sigmoid":
            return 1.0 / (1.0 + np.exp(-d))
    if op.startswith("Pow"):
        with np.errstate(all="ignore"):
            r = np.power(d, POW[op])
        r[d == -np.inf] = math.pow(-math.inf, POW[op])   # C's pow (numpy gives NaN for +-0.5)
        return r
    raise ValueError(op)


# max ulps of the float32-rounded float64 reference
# (tanh and erf are rational fits without exp: 4.7 and 5.9 ulp, relative error below 4e-7)
BOUNDS = {"Exp": 2.0, "Log": 2.0, "Tanh": 5.5, "Erf": 6.5, "Sigmoid": 3.0}
POW = {f"Pow{p:g}": p for p in (0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 4.0, -4.0)}
BOUNDS.update({name: 3.0 for name in POW})


def ulp_error(got, ref):
    """Error in ulps of the rounded reference; results in the subnormal range count in
    units of the smallest normal (1/(1+exp(89)) is 0 in float32 arithmetic, as in libm's)."""
    with np.errstate(over="ignore"):
        r32 = ref.astype(f32)
    sp = np.maximum(np.spacing(np.abs(r32)).astype(np.float64), 2.0**-126)
    return np.abs(got.astype(np.float64) - ref) / sp


def run_case(op, tmp):
    x = values(op)
    node = helper.make_node("Pow", ["x", "p"], ["y"]) if op in POW else helper.make_node(op, ["x"], ["y"])
    inits = [helper.make_tensor("p", TensorProto.FLOAT, [], [POW[op]])] if op in POW else []
    g = helper.make_graph([node], op,
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [len(x)])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [len(x)])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    mp, xp, prog, out = (os.path.join(tmp, op + s) for s in (".onnx", "_x.npy", "_prog", "_out"))
    onnx.save(m, mp)
    np.save(xp, x)
    for cmd in ([ONNXC, mp, "--emit=exe", "-o", prog], [prog, xp, "-o", out]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            return False, f"{op}: {cmd[0]} failed: {p.stderr.strip()[:300]}"
    y = numpy_helper.to_array(onnx.load_tensor(os.path.join(out, os.listdir(out)[0])))
    ref = reference(op, x)
    with np.errstate(over="ignore"):
        r32 = ref.astype(f32)
    errs = []
    # special values exactly: NaN where the reference is NaN, inf where it is inf
    nan_ref = np.isnan(ref)
    if np.any(np.isnan(y) != nan_ref):
        i = int(np.argmax(np.isnan(y) != nan_ref))
        errs.append(f"NaN mismatch at x={x[i]!r}: got {y[i]!r}, want {r32[i]!r}")
    inf_ref = np.isinf(r32)
    if np.any(y[inf_ref] != r32[inf_ref]) or np.any(np.isinf(y) & ~inf_ref):
        i = int(np.argmax((inf_ref & (y != r32)) | (np.isinf(y) & ~inf_ref)))
        errs.append(f"inf mismatch at x={x[i]!r}: got {y[i]!r}, want {r32[i]!r}")
    ok = ~nan_ref & ~inf_ref & np.isfinite(y)
    if op in ("Tanh", "Erf", "Sigmoid"):   # saturation: exactly +-1 (0 for Sigmoid) where the value
        # rounds there with a margin (a quarter ulp below 1)
        sat = ok & ((np.abs(ref) > 1 - 2.0**-26) | ((op == "Sigmoid") & (r32 == 0)))
        if np.any(y[sat] != r32[sat]):
            i = int(np.flatnonzero(sat & (y != r32))[0])
            errs.append(f"saturation at x={x[i]!r}: got {y[i]!r}, want {r32[i]!r}")
    e = ulp_error(y[ok], ref[ok])
    worst = int(np.argmax(e))
    xi = x[ok][worst]
    line = f"{op}: {len(x)} values, max {e[worst]:.2f} ulp at x={xi!r}, mean {np.mean(e):.3f} ulp (bound {BOUNDS[op]})"
    if e[worst] > BOUNDS[op]:
        errs.append(line)
    return not errs, "\n     ".join(errs) if errs else line


def main():
    tmp = tempfile.mkdtemp(prefix="onnxc-vmath-")
    fails = 0
    try:
        for op in BOUNDS:
            if ONLY and op != ONLY:
                continue
            good, msg = run_case(op, tmp)
            print(("ok   " if good else "FAIL ") + msg)
            fails += not good
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(BOUNDS) - fails if not ONLY else 1 - fails} passed, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
