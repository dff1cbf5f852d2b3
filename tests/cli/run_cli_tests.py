#!/usr/bin/env python3
"""Bad input through the real command line, and the standalone program's checks.

Compiler cases: each bad model must give a non-zero exit (not a signal), exactly one
non-empty line on stderr that names the model file (and the node, tensor or ops where
there is one), no sanitizer report, no core file, and nothing left in the output folder.
A control case compiles the same small model unbroken, so a compiler that refuses
everything cannot pass.

Program cases (skipped with --compiler-only): a small two-input model compiled with
--emit=exe must run, print its input names with --info, and refuse a wrong input count,
dtype or shape with a clear message and a non-zero exit.

Weights cases: --weights=file programs and objects (header check, bind, refusals).

Feature cases (issue 11): `--version`/`-V` of the compiler and of a program; `--dim` and
`--shape` fixing a symbolic batch (mlp_dynbatch from the shared models when present, else
a small model with the same [batch,784] input); `--time-passes` listing the graph passes
and the LLVM phases; a program matching named .pb inputs to its inputs (reordered, or
refused naming both names; .npy stays positional); and the CPU check: a program or
object built with a --cpu whose features this machine lacks refuses cleanly (message
naming the missing features, non-zero exit, no SIGILL), and the default build runs.

Prints PASS/FAIL per case and "N passed, N failed".
"""
import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from robust_cases import data_check_cases, external_cases, robust_cases  # noqa: E402
from weights_build_cases import build_cases, weights_cases  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OPSET = [helper.make_opsetid("", 13)]


class Fail(Exception):
    pass


# ---- model builders ------------------------------------------------------------------

def mk(nodes, inputs, outputs, inits=(), name="g"):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=OPSET, ir_version=8, producer_name="onnxc-cli-test")


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def good_model():
    """A small real MLP: Gemm + Relu + Gemm, weights a few KiB so truncation cuts data."""
    rng = np.random.default_rng(7)
    w1 = numpy_helper.from_array(rng.standard_normal((16, 64)).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(rng.standard_normal(64).astype(np.float32), "b1")
    w2 = numpy_helper.from_array(rng.standard_normal((64, 8)).astype(np.float32), "w2")
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"),
             helper.make_node("Relu", ["h"], ["r"], name="act1"),
             helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2")]
    return mk(nodes, [vi("x", [2, 16])], [vi("y", [2, 8])], [w1, b1, w2], "mlp")


def add_model():
    """Two named inputs for the program checks: gamma = relu(alpha + beta)."""
    nodes = [helper.make_node("Add", ["alpha", "beta"], ["s"], name="add0"),
             helper.make_node("Relu", ["s"], ["gamma"], name="relu0")]
    return mk(nodes, [vi("alpha", [2, 3]), vi("beta", [2, 3])], [vi("gamma", [2, 3])])


def sub_model():
    """gamma = alpha - beta: the order of two same-shaped inputs shows in the result."""
    nodes = [helper.make_node("Sub", ["alpha", "beta"], ["gamma"], name="sub0")]
    return mk(nodes, [vi("alpha", [2, 3]), vi("beta", [2, 3])], [vi("gamma", [2, 3])])


def dynbatch_model():
    """Stands in for mlp_dynbatch when the shared models are absent: x [batch,784]."""
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.standard_normal((784, 10)).astype(np.float32) * 0.05, "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"),
             helper.make_node("Softmax", ["h"], ["probs"], name="sm", axis=-1)]
    return mk(nodes, [vi("x", ["batch", 784])], [vi("probs", ["batch", 10])], [w], "mlp")


def unknown_ops_model():
    nodes = [helper.make_node("FrobnicateAlpha", ["x"], ["a"], name="frob_a"),
             helper.make_node("Relu", ["a"], ["b"], name="relu_ok"),
             helper.make_node("FrobnicateBeta", ["b"], ["y"], name="frob_b")]
    return mk(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])])


def undefined_input_model():
    nodes = [helper.make_node("Add", ["x", "no_such_value"], ["y"], name="add_undef")]
    return mk(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])])


def cycle_model():
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="cyc_add"),
             helper.make_node("Relu", ["a"], ["b"], name="cyc_relu"),
             helper.make_node("Identity", ["b"], ["y"], name="cyc_out")]
    return mk(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])])


def short_initializer_model():
    w = TensorProto(name="w_short", data_type=TensorProto.FLOAT, dims=[64, 64])
    w.raw_data = np.ones(10, np.float32).tobytes()  # 40 bytes for 16 KiB of dims
    nodes = [helper.make_node("MatMul", ["x", "w_short"], ["y"], name="mm_short")]
    return mk(nodes, [vi("x", [2, 64])], [vi("y", [2, 64])], [w])


def overflow_dims_model():
    w = TensorProto(name="w_huge", data_type=TensorProto.FLOAT,
                    dims=[1 << 40, 1 << 40, 1 << 20])  # product wraps int64 (and size_t)
    w.raw_data = np.ones(4, np.float32).tobytes()
    nodes = [helper.make_node("Add", ["x", "w_huge"], ["y"], name="add_huge")]
    return mk(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])], [w])


def external_model(location):
    w = TensorProto(name="w_ext", data_type=TensorProto.FLOAT, dims=[2, 3])
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "24")):
        e = w.external_data.add()
        e.key, e.value = k, v
    nodes = [helper.make_node("Add", ["x", "w_ext"], ["y"], name="add_ext")]
    return mk(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])], [w])


# ---- running -------------------------------------------------------------------------

def run(cmd, cwd, timeout=120, env=None):
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise Fail(f"timed out after {timeout} s: {' '.join(cmd)}")
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check_clean_failure(rc, err, cwd):
    if "Sanitizer" in err or "runtime error:" in err:
        raise Fail("sanitizer report: " + next(ln for ln in err.splitlines()
                                               if "Sanitizer" in ln or "runtime error:" in ln)[:200])
    if rc < 0:
        raise Fail(f"killed by signal {-rc}")
    if rc == 0:
        raise Fail("exit status 0, expected an error")
    if rc >= 128:
        raise Fail(f"exit status {rc} (a crash or abort?)")
    cores = [f for f in os.listdir(cwd) if f.startswith("core")]
    if cores:
        raise Fail(f"core file left: {cores}")


def one_line(err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if len(lines) != 1:
        shown = " | ".join(lines[:4])
        raise Fail(f"expected exactly one line on stderr, got {len(lines)}: {shown[:300]!r}")
    return lines[0]


class Runner:
    def __init__(self, onnxc, tmp):
        self.onnxc = onnxc
        self.tmp = tmp
        self.passed = 0
        self.failed = 0
        self.n = 0
        self.filter = None

    def case(self, name, fn):
        if self.filter and not re.search(self.filter, name):
            return
        try:
            fn()
            print(f"PASS {name}", flush=True)
            self.passed += 1
        except Fail as e:
            print(f"FAIL {name}: {e}", flush=True)
            self.failed += 1
        except Exception as e:  # a bug in this script must fail loudly, not pass
            print(f"FAIL {name}: test error: {type(e).__name__}: {e}", flush=True)
            self.failed += 1

    def fresh(self):
        self.n += 1
        d = os.path.join(self.tmp, f"c{self.n}")
        os.makedirs(os.path.join(d, "out"))
        os.makedirs(os.path.join(d, "cwd"))
        return d

    def bad_model(self, model_path, must_name=(), emit="obj", extra=(), any_of=(), lines=1):
        """Compiles model_path expecting a clean refusal of `lines` lines (one diagnostic
        each) that names must_name."""
        d = self.fresh()
        out = os.path.join(d, "out", "prog" if emit == "exe" else "model.o")
        cmd = [self.onnxc, model_path, f"--emit={emit}", "-o", out] + list(extra)
        rc, _, err = run(cmd, os.path.join(d, "cwd"))
        check_clean_failure(rc, err, os.path.join(d, "cwd"))
        if lines == 1:
            line = one_line(err)
        else:
            got = [ln for ln in err.splitlines() if ln.strip()]
            if len(got) != lines or not all(ln.startswith("onnxc: error: ") for ln in got):
                raise Fail(f"expected {lines} 'onnxc: error:' lines, got {len(got)}: {err[:400]!r}")
            line = "\n".join(got)
        for s in (os.path.basename(model_path),) + tuple(must_name):
            if s not in line:
                raise Fail(f"error line does not name {s!r}: {line[:300]!r}")
        if any_of and not any(s in line for s in any_of):
            raise Fail(f"error line names none of {list(any_of)}: {line[:300]!r}")
        left = os.listdir(os.path.join(d, "out")) + os.listdir(os.path.join(d, "cwd"))
        if left:
            raise Fail(f"output left behind: {sorted(left)} (error was {line[:200]!r})")

    def good_model(self, model_path, extra=()):
        """The control beside bad_model: model_path compiles, clean."""
        d = self.fresh()
        out = os.path.join(d, "out", "model.o")
        rc, _, err = run([self.onnxc, model_path, "-o", out] + list(extra), os.path.join(d, "cwd"))
        if "Sanitizer" in err or "runtime error:" in err or rc != 0 or not os.path.isfile(out):
            raise Fail(f"does not compile: exit {rc}: {err.strip()[:300]!r}")

    def bad_cli(self, args, must_name=(), lines_ok=False):
        d = self.fresh()
        rc, _, err = run([self.onnxc] + args, os.path.join(d, "cwd"))
        check_clean_failure(rc, err, os.path.join(d, "cwd"))
        if lines_ok:
            if not err.strip():
                raise Fail("nothing on stderr")
            line = err
        else:
            line = one_line(err)
        for s in must_name:
            if s not in line:
                raise Fail(f"error does not name {s!r}: {line.strip()[:300]!r}")
        left = os.listdir(os.path.join(d, "out")) + os.listdir(os.path.join(d, "cwd"))
        if left:
            raise Fail(f"output left behind: {sorted(left)}")


def save(model, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


def compiler_cases(r, tmp):
    models = os.path.join(tmp, "models")
    good = save(good_model(), os.path.join(models, "good.onnx"))

    def control():
        d = r.fresh()
        out = os.path.join(d, "out", "good.o")
        rc, _, err = run([r.onnxc, good, "-o", out], os.path.join(d, "cwd"))
        if "Sanitizer" in err or "runtime error:" in err or rc != 0:
            raise Fail(f"the unbroken model does not compile: exit {rc}: {err.strip()[:300]!r}")
        for f in ("good.o", "good.h"):
            if not os.path.isfile(os.path.join(d, "out", f)):
                raise Fail(f"{f} not written (out/ has {sorted(os.listdir(os.path.join(d, 'out')))})")
    r.case("control: the unbroken model compiles to good.o + good.h", control)

    empty = os.path.join(models, "empty.onnx")
    open(empty, "wb").close()
    r.case("empty file", lambda: r.bad_model(empty))

    rnd = os.path.join(models, "random.onnx")
    with open(rnd, "wb") as f:
        f.write(random.Random(1234).randbytes(4096))
    r.case("random bytes", lambda: r.bad_model(rnd))

    trunc = os.path.join(models, "truncated.onnx")
    data = good_model().SerializeToString()
    with open(trunc, "wb") as f:
        f.write(data[: len(data) // 2])
    r.case("truncated model (first half of a real one)", lambda: r.bad_model(trunc))

    unk = save(unknown_ops_model(), os.path.join(models, "unknown_ops.onnx"))
    r.case("two unknown ops listed in one message",
           lambda: r.bad_model(unk, ("FrobnicateAlpha", "FrobnicateBeta")))

    undef = save(undefined_input_model(), os.path.join(models, "undefined_input.onnx"))
    r.case("undefined input name", lambda: r.bad_model(undef, ("add_undef", "no_such_value")))

    cyc = save(cycle_model(), os.path.join(models, "cycle.onnx"))
    r.case("a cycle", lambda: r.bad_model(cyc, any_of=("cyc_add", "cyc_relu")))

    short = save(short_initializer_model(), os.path.join(models, "short_init.onnx"))
    r.case("initializer data shorter than its dims", lambda: r.bad_model(short, ("w_short",)))

    ovf = save(overflow_dims_model(), os.path.join(models, "overflow_dims.onnx"))
    r.case("dims whose product overflows", lambda: r.bad_model(ovf, ("w_huge",)))

    # A real file at the escaped location, so a compiler that does not check would succeed.
    os.makedirs(os.path.join(tmp, "etc"), exist_ok=True)
    with open(os.path.join(tmp, "etc", "passwd"), "wb") as f:
        f.write(np.ones(6, np.float32).tobytes())
    esc = save(external_model("../../etc/passwd"), os.path.join(tmp, "a", "b", "escape.onnx"))
    r.case("external data escaping the model folder (../../etc/passwd)",
           lambda: r.bad_model(esc, ("w_ext",)))
    absl = save(external_model(os.path.join(tmp, "etc", "passwd")),
                os.path.join(tmp, "a", "b", "absolute.onnx"))
    r.case("external data at an absolute path", lambda: r.bad_model(absl, ("w_ext",)))
    with open(os.path.join(tmp, "a", "b", "short.bin"), "wb") as f:
        f.write(b"\0" * 8)
    shortext = save(external_model("short.bin"), os.path.join(tmp, "a", "b", "short_ext.onnx"))
    r.case("external data file shorter than offset+length",
           lambda: r.bad_model(shortext, ("w_ext",)))

    missing = os.path.join(models, "does_not_exist.onnx")
    r.case("nonexistent file", lambda: r.bad_model(missing))
    r.case("bad input to --emit=exe leaves no program",
           lambda: r.bad_model(unk, ("FrobnicateAlpha",), emit="exe"))
    # Refusals from the lowering, after the output's temporary files exist: all three are
    # reported, and nothing is left.
    lower3 = os.path.join(HERE, "..", "golden", "many_lower_errors.onnx")
    for emit in ("obj", "exe"):
        r.case(f"three unlowerable nodes all reported (--emit={emit})",
               lambda emit=emit: r.bad_model(lower3, ("'col2im_int'", "'pad_negative'", "'resize_antialias'"),
                                             emit=emit, lines=3))
    infer2 = os.path.join(HERE, "..", "golden", "many_infer_errors.onnx")
    r.case("two independent inference refusals reported",
           lambda: r.bad_model(infer2, ("'add_mixed'", "'conv_17'"), lines=2))

    r.case("no arguments", lambda: r.bad_cli([], lines_ok=True))
    r.case("unknown option", lambda: r.bad_cli([good, "--frobnicate", "-o", "x.o"], ("--frobnicate",)))
    r.case("bad --emit value", lambda: r.bad_cli([good, "--emit=bogus", "-o", "x.o"], ("bogus",)))
    r.case("bad -O level", lambda: r.bad_cli([good, "-O9", "-o", "x.o"], ("-O9",)))
    r.case("-o without a value", lambda: r.bad_cli([good, "-o"], ("-o",)))
    r.case("two model files", lambda: r.bad_cli([good, good, "-o", "x.o"]))
    r.case("output folder does not exist",
           lambda: r.bad_cli([good, "-o", os.path.join(tmp, "no", "such", "dir", "x.o")], ("x.o",)))

    def help_ok():
        d = r.fresh()
        rc, out, err = run([r.onnxc, "--help"], os.path.join(d, "cwd"))
        if rc != 0 or "--emit" not in out:
            raise Fail(f"--help: exit {rc}, stdout does not describe --emit: {(out + err)[:200]!r}")
    r.case("--help prints usage on stdout, exit 0", help_ok)


# ---- depfiles (-MD -MF -MT) ------------------------------------------------------------

def parse_depfile(text):
    """Make's reading of a one-rule depfile: (target, [prerequisites]), unescaped."""
    text = text.replace("\\\n", " ")
    words, cur, i = [], "", 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in " \t#":
            cur += text[i + 1]
            i += 2
            continue
        if c == "$" and text[i + 1:i + 2] == "$":
            cur += "$"
            i += 2
            continue
        if c in " \t\n":
            if cur:
                words.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    if cur:
        words.append(cur)
    if not words or not words[0].endswith(":"):
        raise Fail(f"not a make rule: {text[:200]!r}")
    if words[0] == ":" or len([w for w in words if w.endswith(":")]) != 1:
        raise Fail(f"expected exactly one target: {text[:200]!r}")
    return words[0][:-1], words[1:]


def depfile_cases(r, tmp):
    # A folder and a data file with spaces and a '#': the escaping is part of the format.
    d = os.path.join(tmp, "dep dir#1")
    os.makedirs(os.path.join(d, "out"))
    with open(os.path.join(d, "w data.bin"), "wb") as f:
        f.write(np.arange(6, dtype=np.float32).tobytes())
    model = save(external_model("w data.bin"), os.path.join(d, "ext.onnx"))
    bind = os.path.join(d, "x.pb")
    with open(bind, "wb") as f:
        f.write(numpy_helper.from_array(np.ones((2, 3), np.float32), "x").SerializeToString())
    onnxc_real = os.path.realpath(r.onnxc)

    def full():
        out = os.path.join(d, "out", "ext.o")
        dep = os.path.join(d, "out", "ext.deps")
        rc, _, err = run([r.onnxc, model, "-o", out, "--bind", f"x={bind}", "-MD", "-MF", dep], d)
        if rc != 0:
            raise Fail(f"exit {rc}: {err.strip()[:300]!r}")
        target, deps = parse_depfile(open(dep).read())
        want = [model, os.path.join(d, "w data.bin"), bind, onnxc_real]
        if target != out or deps != want:
            raise Fail(f"depfile says {target!r}: {deps!r}; expected {out!r}: {want!r}")
        if os.path.exists(os.path.join(d, "out", "ext.d")):
            raise Fail("-MF given, yet the default ext.d was written too")
    r.case("depfile: -MD -MF names the output, the model, its external data, the --bind "
           "file and onnxc (spaces and '#' escaped)", full)

    def default_name_and_mt():
        cwd = os.path.join(tmp, "depcwd")
        os.makedirs(os.path.join(cwd, "o"), exist_ok=True)
        rel_model = os.path.relpath(model, cwd)
        rc, _, err = run([r.onnxc, rel_model, "--bind", f"x={bind}", "-o", "o/m.o", "-MD",
                          "-MT", "my$target"], cwd)
        if rc != 0:
            raise Fail(f"exit {rc}: {err.strip()[:300]!r}")
        dep = os.path.join(cwd, "o", "m.d")
        if not os.path.isfile(dep):
            raise Fail(f"-MD without -MF did not write o/m.d (o/ has {os.listdir(os.path.join(cwd, 'o'))})")
        target, deps = parse_depfile(open(dep).read())
        # The model and its data are named the way the command line named the model.
        want = [rel_model, os.path.join(os.path.dirname(rel_model), "w data.bin"), bind, onnxc_real]
        if target != "my$target" or deps != want:
            raise Fail(f"depfile says {target!r}: {deps!r}; expected 'my$target': {want!r}")
    r.case("depfile: -MD alone writes OUTPUT-less-suffix.d; -MT sets the target ($ escaped)",
           default_name_and_mt)

    # Refused by the lowering, after the output's temporary files exist.
    lower3 = os.path.join(HERE, "..", "golden", "many_lower_errors.onnx")
    r.case("depfile: a failed compile writes none (nothing left in the output folder)",
           lambda: r.bad_model(lower3, ("'col2im_int'",), extra=("-MD",), lines=3))
    good = os.path.join(tmp, "models", "good.onnx")
    r.case("depfile: -MT without -MD or -MF is refused",
           lambda: r.bad_cli([good, "-MT", "x", "-o", "x.o"], ("-MT",)))


def program_cases(r, tmp):
    d = os.path.join(tmp, "prog")
    os.makedirs(d)
    model = save(add_model(), os.path.join(d, "add.onnx"))
    prog = os.path.join(d, "addprog")
    state = {}

    def build():
        rc, _, err = run([r.onnxc, model, "--emit=exe", "-o", prog], d)
        if rc != 0 or not os.path.isfile(prog):
            raise Fail(f"compile --emit=exe: exit {rc}: {err.strip()[:300]!r}")
        state["ok"] = True
    r.case("program: compile a two-input model with --emit=exe", build)

    def pb(name, arr):
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(numpy_helper.from_array(arr).SerializeToString())
        return p

    a = np.array([[1, -2, 3], [-4, 5, -6]], np.float32)
    b = np.array([[0.5, 0.5, -4], [1, -7, 2]], np.float32)
    pa, pbb = pb("a.pb", a), pb("b.pb", b)

    def need():
        if not state.get("ok"):
            raise Fail("no program (compile failed)")

    def good_run():
        need()
        out = os.path.join(d, "out_good")
        rc, _, err = run([prog, pa, pbb, "-o", out], d, 60)
        if rc != 0:
            raise Fail(f"exit {rc}: {err.strip()[:300]!r}")
        t = onnx.TensorProto()
        with open(os.path.join(out, "output_0.pb"), "rb") as f:
            t.ParseFromString(f.read())
        got = numpy_helper.to_array(t)
        want = np.maximum(a + b, 0)
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-6, atol=0):
            raise Fail(f"output {got.tolist()} != {want.tolist()}")
        if t.name != "gamma":
            raise Fail(f"output_0.pb has name {t.name!r}, expected 'gamma'")
    r.case("program: correct inputs give relu(alpha+beta) in output_0.pb named 'gamma'", good_run)

    def info():
        need()
        rc, out, err = run([prog, "--info"], d, 60)
        if rc != 0:
            raise Fail(f"--info: exit {rc}: {err.strip()[:200]!r}")
        for s in ("alpha", "beta", "gamma"):
            if s not in out:
                raise Fail(f"--info does not mention {s!r}: {out[:300]!r}")
    r.case("program: --info names inputs and outputs", info)

    def bench():
        need()
        rc, out, err = run([prog, "--bench", "5", "--threads", "1"], d, 60)
        if rc != 0 or "median" not in out:
            raise Fail(f"--bench 5: exit {rc}, no median in {(out + err)[:200]!r}")
    r.case("program: --bench 5 --threads 1 prints a median", bench)

    def refuse(args, must, label):
        need()
        out = os.path.join(d, f"out_{label}")
        cwd = os.path.join(d, f"cwd_{label}")
        os.makedirs(cwd)
        rc, _, err = run([prog] + args + ["-o", out], cwd, 60)
        check_clean_failure(rc, err, cwd)
        if not err.strip():
            raise Fail("no message on stderr")
        if not any(m in err for m in must):
            raise Fail(f"message names none of {list(must)}: {err.strip()[:300]!r}")
        if os.path.exists(os.path.join(out, "output_0.pb")):
            raise Fail("output_0.pb written despite the error")

    r.case("program: wrong input count", lambda: refuse([pa], ("2", "beta", "input"), "count"))
    r.case("program: too many inputs", lambda: refuse([pa, pbb, pa], ("2", "input"), "many"))
    r.case("program: wrong dtype", lambda: refuse(
        [pb("a_int.pb", a.astype(np.int64)), pbb], ("alpha",), "dtype"))
    r.case("program: wrong shape", lambda: refuse(
        [pb("a_t.pb", a.T.copy()), pbb], ("alpha",), "shape"))
    r.case("program: missing input file", lambda: refuse(
        [os.path.join(d, "nope.pb"), pbb], ("nope.pb",), "missing"))
    rndpb = os.path.join(d, "random.pb")
    with open(rndpb, "wb") as f:
        f.write(random.Random(99).randbytes(300))
    r.case("program: garbage input file", lambda: refuse([rndpb, pbb], ("random.pb",), "garbage"))

def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        for ln in f:
            if ln.startswith("project(") and "VERSION" in ln:
                return ln.split("VERSION")[1].split()[0]
    raise Fail("no project(... VERSION x.y.z ...) in CMakeLists.txt")


def host_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("flags"):
                    return set(ln.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def write_pb(path, arr, name=None):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString() if name is not None
                else numpy_helper.from_array(arr).SerializeToString())
    return path


def read_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def feature_cases(r, tmp, models_dir):
    d = os.path.join(tmp, "feat")
    os.makedirs(d)
    state = {}

    # ---- 1. --version --------------------------------------------------------------
    def version():
        want = project_version()
        lines = []
        for flag in ("--version", "-V"):
            rc, out, err = run([r.onnxc, flag], d)
            if rc != 0 or err.strip():
                raise Fail(f"{flag}: exit {rc}, stderr {err.strip()[:200]!r}")
            ln = out.strip()
            if not ln.startswith(f"onnxc {want}") or "LLVM " not in ln:
                raise Fail(f"{flag} prints {ln!r}: expected 'onnxc {want}...' and the LLVM version")
            lines.append(ln)
        if lines[0] != lines[1]:
            raise Fail(f"--version and -V differ: {lines}")
        state["version"] = lines[0]
    r.case("--version and -V print the project version (+git) and the LLVM version", version)

    # ---- 2. --dim / --shape --------------------------------------------------------
    mlp_dir = os.path.join(models_dir, "mlp_dynbatch") if models_dir else ""
    if os.path.isfile(os.path.join(mlp_dir, "model.onnx")):
        dyn = os.path.join(mlp_dir, "model.onnx")
        x5 = os.path.join(mlp_dir, "test_data_set_0", "input_0.pb")
        y5 = os.path.join(mlp_dir, "test_data_set_0", "output_0.pb")
        x1 = os.path.join(mlp_dir, "test_data_set_1", "input_0.pb")
        if read_pb(x5).shape[0] != 5 or read_pb(x1).shape[0] != 1:
            raise SystemExit("run_cli_tests: mlp_dynbatch data sets are not batch 5 and 1")
    else:
        dyn = save(dynbatch_model(), os.path.join(d, "dyn.onnx"))
        rng = np.random.default_rng(5)
        x5 = write_pb(os.path.join(d, "x5.pb"), rng.standard_normal((5, 784)).astype(np.float32), "x")
        x1 = write_pb(os.path.join(d, "x1.pb"), rng.standard_normal((1, 784)).astype(np.float32), "x")
        y5 = None

    def fixed_prog(label, flags):
        prog = os.path.join(d, f"mlp_{label}")
        rc, _, err = run([r.onnxc, dyn, "--emit=exe", "-o", prog] + flags, d)
        if rc != 0:
            raise Fail(f"compile {' '.join(flags)}: exit {rc}: {err.strip()[:300]!r}")
        rc, out, err = run([prog, "--info"], d, 60)
        if rc != 0:
            raise Fail(f"--info: exit {rc}: {err.strip()[:200]!r}")
        if "x float32 [5,784]" not in out or "probs float32 [5,10]" not in out or "symbols:" in out:
            raise Fail(f"--info does not show static shapes [5,784] -> [5,10]: {out!r}")
        out5 = os.path.join(d, f"out_{label}")
        rc, _, err = run([prog, x5, "-o", out5], d, 60)
        if rc != 0:
            raise Fail(f"batch 5 run: exit {rc}: {err.strip()[:300]!r}")
        got = read_pb(os.path.join(out5, "output_0.pb"))
        if got.shape != (5, 10):
            raise Fail(f"output shape {got.shape}, expected (5, 10)")
        if y5 and not np.allclose(got, read_pb(y5), rtol=1e-3, atol=1e-5):
            raise Fail("batch 5 output differs from the data set's output_0.pb")
        cwd = os.path.join(d, f"cwd_{label}")
        os.makedirs(cwd)
        rc, _, err = run([prog, x1, "-o", os.path.join(d, f"out1_{label}")], cwd, 60)
        check_clean_failure(rc, err, cwd)
        if "'x'" not in err or "[5,784]" not in err or "[1,784]" not in err:
            raise Fail(f"batch 1 refused without naming x, [5,784] and [1,784]: {err.strip()[:300]!r}")
    r.case("--dim batch=5: --info static, runs batch 5, refuses batch 1",
           lambda: fixed_prog("dim", ["--dim", "batch=5"]))
    r.case("--shape x=5x784: same as --dim batch=5", lambda: fixed_prog("shape", ["--shape", "x=5x784"]))
    r.case("--shape contradicting a static dim is refused, naming the input",
           lambda: r.bad_model(dyn, ("--shape", "'x'", "784", "785"), extra=["--shape", "x=5x785"]))
    r.case("--shape contradicting --dim is refused, naming the input",
           lambda: r.bad_model(dyn, ("'x'",), extra=["--dim", "batch=2", "--shape", "x=5x784"]))
    r.case("--shape with the wrong rank", lambda: r.bad_model(dyn, ("'x'", "rank"), extra=["--shape", "x=5x784x1"]))
    r.case("--shape of an input the model lacks", lambda: r.bad_model(dyn, ("'nope'",), extra=["--shape", "nope=5"]))
    r.case("--dim of a symbol the model lacks", lambda: r.bad_model(dyn, ("'seq'", "batch"), extra=["--dim", "seq=4"]))
    r.case("--dim batch=0 is a usage error", lambda: r.bad_cli([dyn, "--dim", "batch=0", "-o", "x.o"], ("batch=0",)))
    r.case("--shape x=5xq is a usage error", lambda: r.bad_cli([dyn, "--shape", "x=5xq", "-o", "x.o"], ("x=5xq",)))

    # ---- 3. --time-passes ----------------------------------------------------------
    def time_passes():
        prog = os.path.join(d, "timed")
        rc, out, err = run([r.onnxc, dyn, "--emit=exe", "-o", prog, "--time-passes"], d)
        if rc != 0:
            raise Fail(f"exit {rc}: {err.strip()[:300]!r}")
        rows = {}
        for ln in err.splitlines():
            parts = ln.rsplit(None, 2)
            if len(parts) == 3 and parts[2].endswith("%") and parts[2] != "%":
                rows[parts[0].strip()] = float(parts[1])
        need = ["load model (frontend)", "pass const-fold", "pass schedule", "pass plan-memory",
                "llvm: lower to LLVM IR", "llvm: optimisation pipeline", "llvm: code generation + emit",
                "link (C compiler driver)"]
        missing = [k for k in need if k not in rows]
        if missing or "total" not in err:
            raise Fail(f"time report lacks {missing or 'total'}: {err[:600]!r}")
        llvm = rows["llvm: optimisation pipeline"] + rows["llvm: code generation + emit"]
        if llvm <= 0:
            raise Fail(f"LLVM phases took {llvm} ms")
        if out.strip():
            raise Fail(f"the report went to stdout: {out[:200]!r}")
    r.case("--time-passes: table on stderr with graph passes and LLVM lower/opt/codegen/link", time_passes)

    def progress_line():
        # on a terminal: one line rewritten in place (\r ESC[K) through the phases, cleared at
        # the end; through a pipe: nothing; ONNXC_PROGRESS=0 silences a terminal
        import pty
        env = {k: v for k, v in os.environ.items() if k != "ONNXC_PROGRESS"}
        env["TERM"] = "xterm"

        def on_tty(extra_env):
            master, slave = pty.openpty()
            p = subprocess.Popen([r.onnxc, dyn, "--emit=exe", "-o", os.path.join(d, "prog_tty")], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=slave, env=dict(env, **extra_env), cwd=d)
            os.close(slave)
            chunks = []
            while True:
                try:
                    b = os.read(master, 4096)
                except OSError:
                    break
                if not b:
                    break
                chunks.append(b)
            rc = p.wait(timeout=120)
            os.close(master)
            return rc, b"".join(chunks).decode(errors="replace")
        rc, out = on_tty({})
        if rc != 0:
            raise Fail(f"exit {rc} on a terminal: {out[-300:]!r}")
        for phase in ("loading", "graph passes", "lowering nodes", "optimising (LLVM)", "generating code", "linking"):
            if f"onnxc: " not in out or phase not in out:
                raise Fail(f"no '{phase}' in the progress line: {out[-400:]!r}")
        if not out.endswith("\r\x1b[K"):
            raise Fail(f"the progress line is not cleared at the end: {out[-80:]!r}")
        rc, out = on_tty({"ONNXC_PROGRESS": "0"})
        if rc != 0 or out:
            raise Fail(f"ONNXC_PROGRESS=0 on a terminal printed {out[:200]!r} (exit {rc})")
        rc, _, err = run([r.onnxc, dyn, "--emit=exe", "-o", os.path.join(d, "prog_pipe")], d)
        if rc != 0 or err:
            raise Fail(f"through a pipe: exit {rc}, stderr {err[:200]!r} (want nothing)")
    r.case("progress: a one-line indicator on a terminal through every phase, cleared; none through a pipe "
           "or with ONNXC_PROGRESS=0", progress_line)

    # ---- 1b. a program's --version -------------------------------------------------
    def prog_version():
        prog = os.path.join(d, "timed")
        if not os.path.isfile(prog) or "version" not in state:
            raise Fail("no program or compiler version (earlier case failed)")
        rc, out, err = run([prog, "--version"], d, 60)
        if rc != 0:
            raise Fail(f"exit {rc}: {err.strip()[:200]!r}")
        if state["version"] not in out:
            raise Fail(f"program --version does not name {state['version']!r}: {out!r}")
        if "x86_64" in os.uname().machine and ("target: x86_64" not in out or "cpu " not in out):
            raise Fail(f"program --version lacks the target triple and CPU: {out!r}")
    r.case("program --version: the onnxc that built it, target triple and CPU", prog_version)

    # ---- 4. inputs matched by .pb tensor names --------------------------------------
    sub = save(sub_model(), os.path.join(d, "sub.onnx"))
    sprog = os.path.join(d, "subprog")
    a = np.array([[1, -2, 3], [-4, 5, -6]], np.float32)
    b = np.array([[0.5, 0.5, -4], [1, -7, 2]], np.float32)
    pa, pb_ = write_pb(os.path.join(d, "na.pb"), a, "alpha"), write_pb(os.path.join(d, "nb.pb"), b, "beta")

    def sub_run(files, label):
        if not os.path.isfile(sprog):
            rc, _, err = run([r.onnxc, sub, "--emit=exe", "-o", sprog], d)
            if rc != 0:
                raise Fail(f"compile sub.onnx: exit {rc}: {err.strip()[:300]!r}")
        out = os.path.join(d, f"o_{label}")
        cwd = os.path.join(d, f"c_{label}")
        os.makedirs(cwd)
        rc, _, err = run([sprog] + files + ["-o", out], cwd, 60)
        return rc, err, out, cwd

    def reorder():
        rc, err, out, _ = sub_run([pb_, pa], "rev")
        if rc != 0:
            raise Fail(f"named files in reverse order: exit {rc}: {err.strip()[:300]!r}")
        got = read_pb(os.path.join(out, "output_0.pb"))
        if not np.allclose(got, a - b):
            raise Fail(f"got {got.tolist()}, want alpha - beta = {(a - b).tolist()}")
    r.case("program: named .pb files in the wrong order are reordered by name", reorder)

    def refuse_named(files, label, must):
        rc, err, out, cwd = sub_run(files, label)
        check_clean_failure(rc, err, cwd)
        for m in must:
            if m not in err:
                raise Fail(f"message does not name {m!r}: {err.strip()[:300]!r}")
        if os.path.exists(os.path.join(out, "output_0.pb")):
            raise Fail("output written despite the error")
    pz = write_pb(os.path.join(d, "nz.pb"), a, "zeta")
    r.case("program: a file named 'zeta' in alpha's place is refused naming both",
           lambda: refuse_named([pz, pb_], "zeta", ("'alpha'", "'zeta'", "nz.pb")))
    r.case("program: two files both named 'alpha' are refused naming beta and alpha",
           lambda: refuse_named([pa, pa], "dup", ("'beta'", "'alpha'")))

    def npy_positional():
        na, nb = os.path.join(d, "a.npy"), os.path.join(d, "b.npy")
        np.save(na, a)
        np.save(nb, b)
        rc, err, out, _ = sub_run([nb, na], "npy")
        if rc != 0:
            raise Fail(f"exit {rc}: {err.strip()[:300]!r}")
        got = read_pb(os.path.join(out, "output_0.pb"))
        if not np.allclose(got, b - a):
            raise Fail(f".npy files were not taken positionally: got {got.tolist()}")
    r.case("program: .npy files stay positional", npy_positional)

    # ---- 5. CPU features -----------------------------------------------------------
    flags = host_flags()
    if flags is None or os.uname().machine != "x86_64":
        print("SKIP CPU feature cases: not an x86-64 Linux machine", flush=True)
        return
    if "avx512f" not in flags:
        cpu, lacking = "znver4", "avx512f"
    elif "avx512fp16" not in flags:
        cpu, lacking = "sapphirerapids", "avx512fp16"
    else:
        print("SKIP CPU feature cases: this CPU has every feature onnxc checks", flush=True)
        return
    good = save(good_model(), os.path.join(d, "good.onnx"))
    x = write_pb(os.path.join(d, "gx.pb"), np.ones((2, 16), np.float32), "x")

    def cpu_prog():
        prog = os.path.join(d, f"prog_{cpu}")
        rc, _, err = run([r.onnxc, good, "--emit=exe", "--cpu", cpu, "-o", prog], d)
        if rc != 0:
            raise Fail(f"compile --cpu {cpu}: exit {rc}: {err.strip()[:300]!r}")
        for args in ([x, "-o", os.path.join(d, "o_cpu")], ["--bench", "3"]):
            cwd = os.path.join(d, f"c_cpu{len(args)}")
            os.makedirs(cwd)
            rc, out, err = run([prog] + args, cwd, 60)
            check_clean_failure(rc, err, cwd)   # a signal (SIGILL) fails here
            line = one_line(err)
            want = f"prog_{cpu}: this program was built for CPU '{cpu}' (needs "
            if not line.startswith(want) or "which this CPU lacks: " not in line:
                raise Fail(f"message {line[:300]!r} is not {want!r}... 'which this CPU lacks: ...'")
            if lacking not in line.split("which this CPU lacks: ")[1]:
                raise Fail(f"message does not name the missing {lacking}: {line[:300]!r}")
        if os.path.exists(os.path.join(d, "o_cpu", "output_0.pb")):
            raise Fail("output written by a program that must not run")
        rc, out, err = run([prog, "--version"], d, 60)
        if rc != 0 or f"cpu {cpu}" not in out or lacking not in out:
            raise Fail(f"--version: exit {rc}, does not record cpu {cpu} and {lacking}: {out!r}")
    r.case(f"CPU: a program built with --cpu {cpu} refuses to run here (lacks {lacking}), no SIGILL",
           cpu_prog)

    def default_runs():
        prog = os.path.join(d, "prog_native")
        rc, _, err = run([r.onnxc, good, "--emit=exe", "-o", prog], d)
        if rc != 0:
            raise Fail(f"compile: exit {rc}: {err.strip()[:300]!r}")
        rc, out, err = run([prog, x, "-o", os.path.join(d, "o_native")], d, 60)
        if rc != 0:
            raise Fail(f"the default (host CPU) build does not run: exit {rc}: {err.strip()[:300]!r}")
        rc, out, err = run([prog, "--version"], d, 60)
        if rc != 0 or "needs: " not in out:
            raise Fail(f"--version: exit {rc}: {out!r}")
    r.case("CPU: the default (host) build runs and records what it needs", default_runs)

    def library_check():
        cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("cc")
        if not cc:
            raise Fail("no C compiler")
        src = os.path.join(d, "use.c")
        with open(src, "w") as f:
            f.write("#include <stdio.h>\n#include \"lib{n}.h\"\n"
                    "int main(void) {{ char msg[512]; int st = lib{n}_check_cpu(msg, sizeof msg);\n"
                    "  printf(\"%d|%s|%s\\n\", st, msg, lib{n}_build_info.onnxc_version); return 0; }}\n"
                    .format(n="X"))
        for label, extra, want_st in (("bad", ["--cpu", cpu], 5), ("host", [], 0)):
            obj = os.path.join(d, "libX.o")
            rc, _, err = run([r.onnxc, good, "-o", obj, "--name", "libX"] + extra, d)
            if rc != 0:
                raise Fail(f"compile {label}: exit {rc}: {err.strip()[:300]!r}")
            exe = os.path.join(d, f"use_{label}")
            rc, _, err = run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", exe, src, obj, "-lm"], d)
            if rc != 0:
                raise Fail(f"a C program using libX.h does not build: {err.strip()[:400]!r}")
            rc, out, err = run([exe], d, 60)
            st, msg, ver = (out.strip().split("|") + ["", "", ""])[:3]
            if rc != 0 or st != str(want_st):
                raise Fail(f"{label}: libX_check_cpu returned {st!r} (want {want_st}): {out.strip()[:300]!r}")
            if want_st and (f"built for CPU '{cpu}'" not in msg or lacking not in msg):
                raise Fail(f"{label}: message {msg!r} does not name {cpu} and {lacking}")
            if state.get("version") and ver != state["version"]:
                raise Fail(f"libX_build_info.onnxc_version is {ver!r}, not {state['version']!r}")
    r.case("CPU: NAME_check_cpu in the header reports ONNXC_ERR_CPU for --cpu "
           f"{cpu}, ONNXC_OK for the host", library_check)



def dynamic_cases(r, tmp):
    """Issue 7: shape parameters fed at run time (no --bind) and dims as expressions. Each
    program is compiled once and run at several sizes, values checked against numpy or
    onnxruntime; a shape value that does not fit is refused with a message and a non-zero
    exit, never garbage."""
    d = os.path.join(tmp, "dyn")
    os.makedirs(d)
    O18 = [helper.make_opsetid("", 18)]

    def mk18(nodes, inputs, outputs, inits=()):
        g = helper.make_graph(nodes, "dyn", inputs, outputs, initializer=list(inits))
        return helper.make_model(g, opset_imports=O18, ir_version=8)

    def build(model, name, extra=()):
        path = save(model, os.path.join(d, name + ".onnx"))
        prog = os.path.join(d, name)
        rc, _, err = run([r.onnxc, path, "--emit=exe", "-o", prog] + list(extra), d)
        if rc != 0:
            raise Fail(f"compile {name}: exit {rc}: {err.strip()[:300]!r}")
        return prog

    def run_prog(prog, arrays, tag):
        files = []
        for i, a in enumerate(arrays):
            p = os.path.join(d, f"{os.path.basename(prog)}_{tag}_{i}.pb")
            write_pb(p, a)
            files.append(p)
        out = os.path.join(d, f"out_{os.path.basename(prog)}_{tag}")
        rc, _, err = run([prog] + files + ["-o", out], d, 60)
        return rc, err, out

    def reshape_input():
        m = mk18([helper.make_node("Reshape", ["x", "shape"], ["y"])],
                 [vi("x", [2, 3, 4]), vi("shape", [3], TensorProto.INT64)], [vi("y", ["a", "b", "c"])])
        prog = build(m, "reshape_in")
        x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
        for k, (sh, want) in enumerate([([4, 0, -1], (4, 3, 2)), ([-1, 2, 3], (4, 2, 3)), ([24, 1, 1], (24, 1, 1))]):
            rc, err, out = run_prog(prog, [x, np.array(sh, np.int64)], str(k))
            if rc != 0:
                raise Fail(f"shape {sh}: exit {rc}: {err.strip()[:300]!r}")
            got = read_pb(os.path.join(out, "output_0.pb"))
            if got.shape != want or not np.array_equal(got.ravel(), x.ravel()):
                raise Fail(f"shape {sh}: got {got.shape}, want {want}")
        rc, err, _ = run_prog(prog, [x, np.array([5, 0, -1], np.int64)], "bad")
        if rc == 0 or rc < 0 or "do not fit the model" not in err or "node 'Reshape_0'" not in err \
                or len(err.strip().splitlines()) != 1:
            raise Fail(f"shape [5,0,-1] of 24 elements: exit {rc}, stderr {err.strip()[:300]!r}")
    r.case("dynamic: Reshape by a graph-input shape runs at 3 shapes from one program, refuses one that does not fit",
           reshape_input)

    def expand_slice_symbolic():
        # y = Expand(x[N,1], shape) ; z = x[:, -1] through Shape->Gather->Sub->Slice chains
        nodes = [helper.make_node("Expand", ["x", "shape"], ["y"]),
                 helper.make_node("Shape", ["t"], ["ts"]),
                 helper.make_node("Gather", ["ts", "one"], ["T"], axis=0),
                 helper.make_node("Sub", ["T", "one"], ["Tm1"]),
                 helper.make_node("Unsqueeze", ["Tm1", "zero1"], ["e"]),
                 helper.make_node("Slice", ["t", "zero1", "e", "one1"], ["z"])]
        inits = [numpy_helper.from_array(np.array(1, np.int64), "one"),
                 numpy_helper.from_array(np.array([0], np.int64), "zero1"),
                 numpy_helper.from_array(np.array([1], np.int64), "one1")]
        m = mk18(nodes, [vi("x", ["N", 1]), vi("shape", [2], TensorProto.INT64), vi("t", [2, "T"])],
                 [vi("y", ["N", "M"]), vi("z", [2, "T1"])], inits)
        prog = build(m, "expand_slice")
        rng = np.random.default_rng(3)
        for k, (n, mm, t) in enumerate([(3, 5, 4), (1, 7, 9)]):
            x = rng.standard_normal((n, 1)).astype(np.float32)
            tt = rng.standard_normal((2, t)).astype(np.float32)
            rc, err, out = run_prog(prog, [x, np.array([n, mm], np.int64), tt], str(k))
            if rc != 0:
                raise Fail(f"N={n} M={mm} T={t}: exit {rc}: {err.strip()[:300]!r}")
            y, z = read_pb(os.path.join(out, "output_0.pb")), read_pb(os.path.join(out, "output_1.pb"))
            if not np.array_equal(y, np.broadcast_to(x, (n, mm))) or not np.array_equal(z, tt[:, :t - 1]):
                raise Fail(f"N={n} M={mm} T={t}: wrong values (shapes {y.shape}, {z.shape})")
        rc, err, _ = run_prog(prog, [np.zeros((3, 1), np.float32), np.array([2, 5], np.int64),
                                     np.zeros((2, 4), np.float32)], "bad")
        if rc <= 0 or "do not fit the model" not in err:
            raise Fail(f"Expand of [3,1] to [2,5]: exit {rc}, stderr {err.strip()[:300]!r}")
    r.case("dynamic: Expand by a graph-input shape and a slice bounded by a Shape chain, at two sizes", expand_slice_symbolic)

    def resize_scales():
        import onnxruntime as ort
        m = mk18([helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear")],
                 [vi("x", [1, 1, 4, 6]), vi("scales", [4])], [vi("y", [1, 1, "H", "W"])])
        prog = build(m, "resize_sc")
        sess = ort.InferenceSession(os.path.join(d, "resize_sc.onnx"))
        x = np.random.default_rng(5).standard_normal((1, 1, 4, 6)).astype(np.float32)
        for k, sc in enumerate([[1, 1, 2, 0.5], [1, 1, 1.5, 3]]):
            scales = np.array(sc, np.float32)
            rc, err, out = run_prog(prog, [x, scales], str(k))
            if rc != 0:
                raise Fail(f"scales {sc}: exit {rc}: {err.strip()[:300]!r}")
            got = read_pb(os.path.join(out, "output_0.pb"))
            want = sess.run(None, {"x": x, "scales": scales})[0]
            if got.shape != want.shape or not np.allclose(got, want, rtol=1e-5, atol=1e-6):
                raise Fail(f"scales {sc}: got {got.shape}, onnxruntime {want.shape}")
    r.case("dynamic: Resize with run-time scales matches onnxruntime at two scale sets", resize_scales)

    def attention_symbolic():
        # Attention expands into MatMul/Softmax/masks at compile time (passes/expand.c);
        # here the sequence and past lengths are symbols, so the causal frontier, the
        # KV-cache concatenation and the grouped-head reshapes must work at run time.
        import onnxruntime as ort
        node = helper.make_node("Attention", ["q", "k", "v", "", "pk", "pv"], ["y", "nk", "nv"],
                                is_causal=1, q_num_heads=4, kv_num_heads=2, softcap=3.0)
        g = helper.make_graph([node], "attn",
                              [vi("q", [2, "S", 32]), vi("k", [2, "S", 16]), vi("v", [2, "S", 24]),
                               vi("pk", [2, 2, "P", 8]), vi("pv", [2, 2, "P", 12])],
                              [vi("y", None), vi("nk", None), vi("nv", None)])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 23)], ir_version=10)
        prog = build(m, "attn_sym")
        sess = ort.InferenceSession(os.path.join(d, "attn_sym.onnx"))
        rng = np.random.default_rng(11)
        for k, (S, P) in enumerate([(3, 2), (6, 5)]):
            ins = [rng.standard_normal(sh).astype(np.float32)
                   for sh in [(2, S, 32), (2, S, 16), (2, S, 24), (2, 2, P, 8), (2, 2, P, 12)]]
            rc, err, out = run_prog(prog, ins, str(k))
            if rc != 0:
                raise Fail(f"S={S} P={P}: exit {rc}: {err.strip()[:300]!r}")
            want = sess.run(None, dict(zip(["q", "k", "v", "pk", "pv"], ins)))
            for j, w in enumerate(want):
                got = read_pb(os.path.join(out, f"output_{j}.pb"))
                if got.shape != w.shape or not np.all(np.abs(got - w) <= 1e-5 + 1e-3 * np.abs(w)):
                    raise Fail(f"S={S} P={P}: output {j}: shape {got.shape} vs {w.shape}, "
                               f"max diff {np.max(np.abs(got - w)) if got.shape == w.shape else '-'}")
    r.case("dynamic: Attention (3-D, grouped heads, causal, softcap, KV cache) with symbolic sequence "
           "and past lengths matches onnxruntime at two sizes", attention_symbolic)

    def header_doc():
        m = mk18([helper.make_node("Reshape", ["x", "shape"], ["y"])],
                 [vi("x", ["N", 4]), vi("shape", [2], TensorProto.INT64)], [vi("y", ["a", "b"])])
        path = save(m, os.path.join(d, "rsh.onnx"))
        rc, _, err = run([r.onnxc, path, "-o", os.path.join(d, "rsh.o")], d)
        if rc != 0:
            raise Fail(f"compile: exit {rc}: {err.strip()[:300]!r}")
        h = open(os.path.join(d, "rsh.h")).read()
        for want in ("syms[0] = N", "syms[1] = shape[0]  (the value of element 0 of input \"shape\"",
                     "int rsh_shapes(const int64_t *syms, int64_t *all);", "#define rsh_NUM_SYMS 3"):
            if want not in h:
                raise Fail(f"header lacks {want!r}")
    r.case("dynamic: the header documents data symbols and declares NAME_shapes", header_doc)

    def nonzero_chain():
        nodes = [helper.make_node("Greater", ["x", "zero"], ["m"]),
                 helper.make_node("NonZero", ["m"], ["nz"]),
                 helper.make_node("Transpose", ["nz"], ["t"], perm=[1, 0]),
                 helper.make_node("Cast", ["t"], ["tf"], to=TensorProto.FLOAT),
                 helper.make_node("Mul", ["tf", "two"], ["y"])]
        inits = [numpy_helper.from_array(np.array(0, np.float32), "zero"),
                 numpy_helper.from_array(np.array(2, np.float32), "two")]
        prog = build(mk18(nodes, [vi("x", ["N", 3])], [vi("y", ["K", 2])], inits), "nonzero")
        rng = np.random.default_rng(11)
        for k, x in enumerate([rng.standard_normal((4, 3)).astype(np.float32),
                               rng.standard_normal((9, 3)).astype(np.float32), -np.ones((2, 3), np.float32)]):
            rc, err, out = run_prog(prog, [x], str(k))
            if rc != 0:
                raise Fail(f"x {x.shape}: exit {rc}: {err.strip()[:300]!r}")
            got = read_pb(os.path.join(out, "output_0.pb"))
            want = np.transpose(np.nonzero(x > 0)).astype(np.float32) * 2
            if got.shape != want.shape or not np.array_equal(got, want):
                raise Fail(f"x {x.shape}: got {got.shape}, want {want.shape}")
    r.case("dynamic: NonZero's data-dependent count flows through Transpose/Cast/Mul to the output (3 inputs, one all-zero)",
           nonzero_chain)

    def unique_nms():
        # Unique (sorted, along an axis and flattened) and NonMaxSuppression on random
        # data, each count known only at run time, against onnxruntime; then the same
        # graph with constant inputs, folded at compile time, against the same reference.
        import onnxruntime as ort
        rng = np.random.default_rng(5)
        nodes = [helper.make_node("Unique", ["x"], ["y", "ind", "inv", "cnt"], sorted=1),
                 helper.make_node("Unique", ["m"], ["my", "mind", "minv", "mcnt"], axis=1, sorted=0),
                 helper.make_node("NonMaxSuppression", ["boxes", "scores", "maxo", "iou", "sthr"], ["sel"])]
        ins = [vi("x", ["N"], TensorProto.INT64), vi("m", [3, "M"]), vi("boxes", [2, "B", 4]), vi("scores", [2, 3, "B"])]
        inits = [numpy_helper.from_array(np.array([5], np.int64), "maxo"),
                 numpy_helper.from_array(np.array([0.4], np.float32), "iou"),
                 numpy_helper.from_array(np.array([0.2], np.float32), "sthr")]
        outs = [vi("y", ["K"], TensorProto.INT64), vi("ind", ["K"], TensorProto.INT64), vi("inv", ["N"], TensorProto.INT64),
                vi("cnt", ["K"], TensorProto.INT64), vi("my", [3, "L"]), vi("mind", ["L"], TensorProto.INT64),
                vi("minv", ["M"], TensorProto.INT64), vi("mcnt", ["L"], TensorProto.INT64),
                vi("sel", ["S", 3], TensorProto.INT64)]
        model = mk18(nodes, ins, outs, inits)
        model.opset_import[0].version = 18
        prog = build(model, "unique_nms")
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])

        def data(n, mcols, nb):
            x = rng.integers(-6, 6, n).astype(np.int64)
            m = rng.integers(0, 2, (3, mcols)).astype(np.float32)
            xy = rng.random((2, nb, 2)).astype(np.float32) * 10
            wh = rng.random((2, nb, 2)).astype(np.float32) * 4 + 0.5
            boxes = np.concatenate([xy, xy + wh], axis=2)
            return [x, m, boxes, rng.random((2, 3, nb)).astype(np.float32)]

        for k, arrays in enumerate([data(40, 9, 30), data(7, 2, 3), data(300, 40, 200)]):
            want = sess.run(None, dict(zip(["x", "m", "boxes", "scores"], arrays)))
            rc, err, out = run_prog(prog, arrays, str(k))
            if rc != 0:
                raise Fail(f"data set {k}: exit {rc}: {err.strip()[:300]!r}")
            for j, w in enumerate(want):
                got = read_pb(os.path.join(out, f"output_{j}.pb"))
                if got.shape != w.shape or not np.array_equal(got, w):
                    raise Fail(f"data set {k}, output {outs[j].name}: got {got.shape} {got.ravel()[:8]}, "
                               f"want {w.shape} {w.ravel()[:8]}")
        # constant inputs: the compiler folds all three nodes (reference evaluation)
        arrays = data(40, 9, 30)
        want = sess.run(None, dict(zip(["x", "m", "boxes", "scores"], arrays)))
        cinits = inits + [numpy_helper.from_array(a, nm) for a, nm in zip(arrays, ["x", "m", "boxes", "scores"])]
        nodes2 = nodes + [helper.make_node("Identity", ["t"], ["u"])]
        folded = mk18(nodes2, [vi("t", [2])], outs + [vi("u", [2])], cinits)
        fprog = build(folded, "unique_nms_folded")
        rc, err, out = run_prog(fprog, [np.zeros(2, np.float32)], "c")
        if rc != 0:
            raise Fail(f"folded: exit {rc}: {err.strip()[:300]!r}")
        for j, w in enumerate(want):
            got = read_pb(os.path.join(out, f"output_{j}.pb"))
            if got.shape != w.shape or not np.array_equal(got, w):
                raise Fail(f"folded output {outs[j].name}: got {got.shape}, want {w.shape}")
    r.case("dynamic: Unique (flat sorted, axis unsorted) and NonMaxSuppression with run-time counts match "
           "onnxruntime on 3 random data sets, and when folded from constants", unique_nms)

    def max_memory():
        # a shape fed at run time decides the allocation: refused before anything is
        # allocated when outputs + workspace pass --max-memory / ONNXC_MAX_MEMORY / the
        # machine's physical memory; within the limit the same program runs
        m = mk18([helper.make_node("Expand", ["x", "shape"], ["y"])],
                 [vi("x", [1]), vi("shape", [2], TensorProto.INT64)], [vi("y", ["a", "b"])])
        prog = build(m, "expand_mem")
        x = np.array([2.5], np.float32)
        sh = np.array([1000, 1000], np.int64)   # 4 MB of output
        files = []
        for i, a in enumerate([x, sh]):
            files.append(os.path.join(d, f"mem_in{i}.pb"))
            write_pb(files[-1], a)
        rc, _, err = run([prog] + files + ["-o", os.path.join(d, "mem_ok"), "--max-memory", "8M"], d, 60)
        got = read_pb(os.path.join(d, "mem_ok", "output_0.pb")) if rc == 0 else None
        if rc != 0 or got.shape != (1000, 1000) or not np.all(got == 2.5):
            raise Fail(f"within 8M: exit {rc}: {err.strip()[:300]!r}")
        for extra, env, want in [(["--max-memory", "1M"], {}, "1.0 MiB"), ([], {"ONNXC_MAX_MEMORY": "2M"}, "2.0 MiB")]:
            rc, _, err = run([prog] + files + ["-o", os.path.join(d, "mem_bad")] + extra, d, 60, env=dict(os.environ, **env))
            if rc != 1 or "need 3.8 MiB" not in err or want not in err or len(err.strip().splitlines()) != 1 \
                    or os.path.exists(os.path.join(d, "mem_bad", "output_0.pb")):
                raise Fail(f"limit {extra or env}: exit {rc}, stderr {err.strip()[:300]!r}")
        # twice this machine's physical memory in one output: refused by default
        phys = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGESIZE")
        cols = -(-2 * phys // (4 * 100000))
        big = os.path.join(d, "mem_big.pb")
        write_pb(big, np.array([100000, cols], np.int64))
        env = {k: v for k, v in os.environ.items() if k != "ONNXC_MAX_MEMORY"}
        rc, _, err = run([prog, files[0], big, "-o", os.path.join(d, "mem_big")], d, 60, env=env)
        if rc != 1 or "GiB" not in err or "memory limit" not in err:
            raise Fail(f"an output of twice the physical memory under the default limit: exit {rc}, "
                       f"stderr {err.strip()[:300]!r}")
        rc, _, err = run([prog] + files + ["-o", os.path.join(d, "mem_x"), "--max-memory", "lots"], d, 60)
        if rc != 2 or "--max-memory" not in err:
            raise Fail(f"--max-memory lots: exit {rc}, stderr {err.strip()[:200]!r}")
    def cast_out_of_range():
        # float -> integer outside the target's range is undefined in ONNX; onnxc's rule
        # (docs/architecture.md): truncate, saturate at int64, NaN -> 0, keep the low bits.
        # The kernel (input at run time) and the constant folder (same values as an
        # initializer) must both follow it, with no poison from a plain fptosi.
        vals = np.array([np.nan, np.inf, -np.inf, 1e20, -1e20, 300.7, -1.5, 2.5e9, -2.5e9, 65535.9],
                        np.float32)

        def rule(t):
            def one(x):
                x = float(x)
                if x != x:
                    return 0
                if x >= 2.0**63:
                    return 2**63 - 1
                if x <= -2.0**63:
                    return -2**63
                return int(x)
            return np.array([one(x) for x in vals], np.int64).astype(t)
        types = [(TensorProto.INT8, np.int8), (TensorProto.UINT8, np.uint8), (TensorProto.INT32, np.int32),
                 (TensorProto.UINT16, np.uint16), (TensorProto.INT64, np.int64)]
        nodes = [helper.make_node("Cast", ["x"], [f"y{j}"], to=tp) for j, (tp, _) in enumerate(types)]
        nodes += [helper.make_node("Cast", ["c"], [f"z{j}"], to=tp) for j, (tp, _) in enumerate(types)]
        outs = [vi(f"y{j}", [10], tp) for j, (tp, _) in enumerate(types)] + \
               [vi(f"z{j}", [10], tp) for j, (tp, _) in enumerate(types)]
        m = mk18(nodes, [vi("x", [10])], outs, [numpy_helper.from_array(vals, "c")])
        prog = build(m, "cast_range")
        rc, err, out = run_prog(prog, [vals], "0")
        if rc != 0:
            raise Fail(f"exit {rc}: {err.strip()[:300]!r}")
        for j, (tp, t) in enumerate(types * 2):
            got = read_pb(os.path.join(out, f"output_{j}.pb"))
            want = rule(t)
            if not np.array_equal(got, want):
                raise Fail(f"{'folded' if j >= len(types) else 'kernel'} Cast to {t.__name__}: got {got}, want {want}")
    r.case("Cast float -> int8/uint8/int32/uint16/int64 of NaN, infinities and out-of-range values: kernel and "
           "constant folder follow one rule (truncate, saturate at int64, NaN 0, low bits)", cast_out_of_range)

    r.case("--max-memory: a run-time shape whose outputs + workspace pass the limit (flag, ONNXC_MAX_MEMORY, "
           "physical memory) is refused before allocating; within it the program runs", max_memory)

    def upsample():
        # Upsample (deprecated in opset 10) becomes Resize: opset 7 (scales attribute) and 9
        # (scales input), nearest and linear, integer and fractional scales, vs onnxruntime
        import onnxruntime as ort
        rng = np.random.default_rng(9)
        x = rng.standard_normal((1, 2, 3, 5)).astype(np.float32)
        for opset, mode, scales in [(7, "nearest", [1.0, 1.0, 2.0, 3.0]), (7, "linear", [1.0, 1.0, 2.0, 1.5]),
                                    (9, "nearest", [1, 1, 1.5, 2.5]), (9, "linear", [1, 1, 3, 2])]:
            if opset == 7:
                node = helper.make_node("Upsample", ["x"], ["y"], mode=mode, scales=scales)
                inits = []
            else:
                node = helper.make_node("Upsample", ["x", "s"], ["y"], mode=mode)
                inits = [numpy_helper.from_array(np.array(scales, np.float32), "s")]
            g = helper.make_graph([node], "up", [vi("x", list(x.shape))], [vi("y", None)], initializer=inits)
            m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=7)
            want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
            prog = build(m, f"upsample{opset}{mode}")
            rc, err, out = run_prog(prog, [x], "0")
            if rc != 0:
                raise Fail(f"opset {opset} {mode} {scales}: exit {rc}: {err.strip()[:300]!r}")
            got = read_pb(os.path.join(out, "output_0.pb"))
            if got.shape != want.shape or not np.allclose(got, want, rtol=1e-5, atol=1e-6):
                raise Fail(f"opset {opset} {mode} {scales}: got {got.shape}, want {want.shape}, "
                           f"max diff {np.abs(got - want).max() if got.shape == want.shape else '-'}")
    r.case("legacy: Upsample-7 (scales attribute) and Upsample-9 (scales input), nearest and linear, "
           "match onnxruntime", upsample)

    def maxpool_indices():
        # MaxPool's Indices (row-major and storage_order=1, pads, strides, dilations) feeding
        # MaxUnpool as SegNet does, against onnxruntime
        import onnxruntime as ort
        rng = np.random.default_rng(17)
        x = rng.standard_normal((2, 3, 9, 11)).astype(np.float32)
        nodes = [helper.make_node("MaxPool", ["x"], ["p", "i"], kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1],
                                  dilations=[1, 2]),
                 helper.make_node("MaxPool", ["x"], ["p2", "i2"], kernel_shape=[2, 2], strides=[2, 2], storage_order=1),
                 helper.make_node("MaxPool", ["x2"], ["p3", "i3"], kernel_shape=[2, 2], strides=[2, 2]),
                 helper.make_node("MaxUnpool", ["p3", "i3"], ["u"], kernel_shape=[2, 2], strides=[2, 2])]
        x2 = rng.standard_normal((1, 2, 8, 10)).astype(np.float32)
        g = helper.make_graph(nodes, "mp", [vi("x", list(x.shape)), vi("x2", list(x2.shape))],
                              [vi("p", None), vi("i", None, TensorProto.INT64), vi("i2", None, TensorProto.INT64),
                               vi("u", None)])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 12)], ir_version=7)
        want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x, "x2": x2})
        prog = build(m, "maxpool_idx")
        rc, err, out = run_prog(prog, [x, x2], "0")
        if rc != 0:
            raise Fail(f"exit {rc}: {err.strip()[:300]!r}")
        for j, w in enumerate(want):
            got = read_pb(os.path.join(out, f"output_{j}.pb"))
            if got.shape != w.shape or not np.array_equal(got, w):
                raise Fail(f"output {j}: got {got.shape} {got.ravel()[:6]}, want {w.shape} {w.ravel()[:6]}")
    r.case("MaxPool Indices (pads, strides, dilations; storage_order=1) match onnxruntime", maxpool_indices)

    def half_in_float32():
        # float16 MatMul with K=768 (float16 accumulation is off by ~0.3 here), Conv,
        # ConvTranspose (expanded to MatMul + Col2Im), LayerNorm and Softmax: computed in
        # float32 and rounded once, as onnxruntime does; checked against it
        import onnxruntime as ort
        rng = np.random.default_rng(21)
        H = TensorProto.FLOAT16

        def c16(name, shape, scale=1.0):
            return numpy_helper.from_array((rng.uniform(-1, 1, shape) * scale).astype(np.float16), name)
        nodes = [helper.make_node("MatMul", ["a", "w"], ["m"]),
                 helper.make_node("LayerNormalization", ["m", "g", "bb"], ["ln"], axis=-1),
                 helper.make_node("Softmax", ["ln"], ["sm"], axis=-1),
                 helper.make_node("Conv", ["img", "cw", "cb"], ["cv"], pads=[1, 1, 1, 1]),
                 helper.make_node("ConvTranspose", ["cv", "tw", "tb"], ["ct"], strides=[2, 2], pads=[1, 1, 1, 1],
                                  output_padding=[1, 1], kernel_shape=[3, 3])]
        inits = [c16("w", (768, 64)), c16("g", (64,)), c16("bb", (64,)), c16("cw", (16, 8, 3, 3), 0.3),
                 c16("cb", (16,)), c16("tw", (16, 4, 3, 3), 0.3), c16("tb", (4,))]
        g = helper.make_graph(nodes, "half", [helper.make_tensor_value_info("a", H, [32, 768]),
                                              helper.make_tensor_value_info("img", H, [1, 8, 12, 12])],
                              [helper.make_tensor_value_info("m", H, None), helper.make_tensor_value_info("sm", H, None),
                               helper.make_tensor_value_info("ct", H, None)], initializer=inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
        a = rng.uniform(-1, 1, (32, 768)).astype(np.float16)
        img = rng.uniform(-1, 1, (1, 8, 12, 12)).astype(np.float16)
        want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"a": a, "img": img})
        prog = build(m, "half")
        rc, err, out = run_prog(prog, [a, img], "0")
        if rc != 0:
            raise Fail(f"exit {rc}: {err.strip()[:300]!r}")
        for j, (nm, w) in enumerate(zip(["MatMul", "Softmax", "ConvTranspose"], want)):
            got = read_pb(os.path.join(out, f"output_{j}.pb"))
            if got.dtype != np.float16 or got.shape != w.shape or \
                    not np.allclose(got.astype(np.float32), w.astype(np.float32), rtol=4e-3, atol=2e-3):
                d = np.abs(got.astype(np.float32) - w.astype(np.float32)).max() if got.shape == w.shape else "-"
                raise Fail(f"{nm}: {got.dtype} {got.shape} vs {w.shape}, max |d| {d}")
    r.case("float16: MatMul (K=768), LayerNorm, Softmax, Conv and ConvTranspose compute in float32 and match "
           "onnxruntime", half_in_float32)

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnxc", default=os.environ.get("ONNXC", os.path.join(REPO, "build", "onnxc")))
    ap.add_argument("--compiler-only", action="store_true",
                    help="skip the standalone-program checks (e.g. for the ASan build)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--filter", default=None, help="only cases whose name matches REGEX (re.search); for development")
    ap.add_argument("--models-dir", default=os.path.join(
        os.environ.get("ONNXC_SHARED_DIR", os.path.join(os.path.dirname(REPO), "shared")), "models"),
        help="where mlp_dynbatch is (default: ${ONNXC_SHARED_DIR:-<repo>/../shared}/models)")
    args = ap.parse_args()
    if not (os.path.isfile(args.onnxc) and os.access(args.onnxc, os.X_OK)):
        print(f"run_cli_tests: compiler not found: {args.onnxc}", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="onnxc-cli-")
    r = Runner(os.path.abspath(args.onnxc), tmp)
    r.filter = args.filter
    try:
        compiler_cases(r, tmp)
        robust_cases(r, tmp, save)
        external_cases(r, tmp, save)
        depfile_cases(r, tmp)
        build_cases(r, tmp, sys.modules[__name__])
        if not args.compiler_only:
            program_cases(r, tmp)
            data_check_cases(r, tmp, run, Fail, check_clean_failure)
            feature_cases(r, tmp, args.models_dir)
            dynamic_cases(r, tmp)
            weights_cases(r, tmp, sys.modules[__name__])
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{r.passed} passed, {r.failed} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
