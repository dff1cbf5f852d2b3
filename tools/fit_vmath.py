#!/usr/bin/env python3
"""Fits the polynomial coefficients of the float32 vector math in backends/llvm/lower_vmath.c.

Each fit is a near-minimax polynomial (least squares on Chebyshev nodes, then Lawson's
reweighting toward the equioscillating max-error solution), in float64, of the function's
smooth part on its reduced interval. Prints the coefficients (lowest degree first) and the
max relative error of the fit; the float32 error of the generated code is measured by
tests/backend/check_vmath.py.

    .venv/bin/python tools/fit_vmath.py
"""
import math

import numpy as np


def fit(f, lo, hi, deg, rel=True, n=4000, iters=60, scale_fn=None):
    t = np.cos(np.pi * (np.arange(n) + 0.5) / n)
    x = (lo + hi) / 2 + (hi - lo) / 2 * t
    y = f(x)
    A = np.vander(x, deg + 1, increasing=True)
    scale = scale_fn(x) if scale_fn else np.abs(y) if rel else np.ones_like(y)
    w = np.ones(n) / n
    for _ in range(iters):
        sw = np.sqrt(w) / scale
        c, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
        e = np.abs(A @ c - y) / scale
        w = w * e
        w /= w.sum()
    return c, float(np.max(np.abs(A @ c - y) / scale))


def fit_odd_rational(f, lo, hi, np_, nq, n=6000, iters=40):
    """x P(x^2) / Q(x^2) with Q(0) = 1, near-minimax in relative error: the linearised
    problem x P - f Q = 0 solved by weighted least squares (Loeb), weights divided by the
    last Q and reweighted toward equal ripple (Lawson)."""
    t = np.cos(np.pi * (np.arange(n) + 0.5) / n)
    x = (lo + hi) / 2 + (hi - lo) / 2 * t
    s, y = x * x, f(x)
    Q, w = np.ones(n), np.ones(n) / n
    for _ in range(iters):
        A = np.hstack([x[:, None] * np.vander(s, np_, increasing=True),
                       -y[:, None] * np.vander(s, nq + 1, increasing=True)[:, 1:]])
        sw = np.sqrt(w) / (np.abs(y) * np.abs(Q))
        c, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
        p, q = c[:np_], np.concatenate([[1.0], c[np_:]])
        Q = np.polyval(q[::-1], s)
        e = np.abs(x * np.polyval(p[::-1], s) / Q - y) / np.abs(y)
        w = w * (e + 1e-30)
        w /= w.sum()
    return p, q, float(e.max())


def show(name, c, err):
    print(f"{name}: max err {err:.3e}")
    print("  {" + ", ".join(f"{v:.9e}" for v in c) + "}")


v = np.vectorize
ln2 = math.log(2)
# exp(r) = 1 + r + r^2 * P(r), |r| <= ln2/2: fit P = (exp(r) - 1 - r) / r^2 (relative to exp)
c, e = fit(lambda r: (np.expm1(r) - r) / r**2, -ln2 / 2, ln2 / 2, 5)
show("exp P", c, e)
# log(1+f) = f - f^2/2 + f^3 * P(f), f in [sqrt(1/2)-1, sqrt(2)-1]
c, e = fit(lambda f: (np.log1p(f) - f + f * f / 2) / f**3, math.sqrt(0.5) - 1, math.sqrt(2) - 1, 8)
show("log P", c, e)
# tanh(x) = x P(x^2) / Q(x^2) on |x| <= 9 (tanh(9) is 1 in float32; the code clamps there)
p, q, e = fit_odd_rational(np.tanh, 1e-6, 9.0, 5, 4)
show("tanh P(x^2) (rational)", p, e)
show("tanh Q(x^2)", q, e)
# erf(x) = x P(x^2) / Q(x^2) on |x| <= 3.92 (erf rounds to 1 in float32 beyond)
p, q, e = fit_odd_rational(v(math.erf), 1e-6, 3.92, 6, 5)
show("erf P(x^2) (rational)", p, e)
show("erf Q(x^2)", q, e)
