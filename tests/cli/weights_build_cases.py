"""--weights=file and build cases (issue 11), run by run_cli_tests.py: weights files beside
programs and objects, cross targets' ABI and byte-identical output. The runner's helpers
come in as `h` (run, save, Fail, ...), as robust_cases.py's do.
"""
import os
import random
import shutil

import numpy as np
import onnx
from onnx import numpy_helper


def _helpers(h):
    return h.Fail, h.run, h.save, h.read_pb, h.write_pb, h.vi, h.good_model, h.check_clean_failure

# ---- --weights=file ---------------------------------------------------------------------

WEIGHTS_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include "W.h"
/* The header alone: read the weights file 64-byte aligned, check it, run unbound (must
 * refuse), bind, run; prints "unbound=S bound=S" and the outputs. */
int main(int argc, char **argv) {
    if (argc != 2) return 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 3;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *file = aligned_alloc(64, ((size_t)n + 63) / 64 * 64);
    if (!file || fread(file, 1, (size_t)n, f) != (size_t)n) return 4;
    fclose(f);
    const void *payload = NULL;
    char msg[256];
    int st = onnxc_weights_check(&W_weights_info, file, (size_t)n, &payload, msg, sizeof msg);
    if (st != ONNXC_OK) { printf("check=%d %s\n", st, msg); return 0; }
    float x[2 * 16], y[2 * 8];
    for (int i = 0; i < 2 * 16; i++) x[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    size_t wsz = W_workspace_size(NULL);
    void *ws = aligned_alloc(64, (wsz + 63) / 64 * 64);
    for (size_t i = 0; i < wsz; i++) ((unsigned char *)ws)[i] = 0;
    const void *in[1] = {x};
    void *out[1] = {y};
    int unbound = W_run(NULL, NULL, in, out, ws);
    W_bind_weights(ws, payload);
    int bound = W_run(NULL, NULL, in, out, ws);
    printf("unbound=%d bound=%d\n", unbound, bound);
    for (int i = 0; i < 2 * 8; i++) printf("%.9g\n", y[i]);
    free(ws);
    free(file);
    return 0;
}
"""


def weights_cases(r, tmp, h):
    Fail, run, save, read_pb, write_pb, vi, good_model, check_clean_failure = _helpers(h)
    d = os.path.join(tmp, "weights")
    os.makedirs(d)
    good = save(good_model(), os.path.join(d, "good.onnx"))
    x = np.random.default_rng(3).standard_normal((2, 16)).astype(np.float32)
    px = write_pb(os.path.join(d, "x.pb"), x, "x")
    emb, sep = os.path.join(d, "emb", "mlp"), os.path.join(d, "sep", "mlp")
    wfile = sep + ".weights"

    def run_prog(prog, extra=(), label="run"):
        out = os.path.join(d, "o_" + label)
        rc, _, err = run([prog, px, "-o", out] + list(extra), d, 60)
        return rc, err, os.path.join(out, "output_0.pb")

    def separate():
        for path, extra in ((emb, []), (sep, ["--weights=file"])):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            rc, _, err = run([r.onnxc, good, "--emit=exe", "-o", path] + extra, d)
            if rc != 0:
                raise Fail(f"compile {extra}: exit {rc}: {err.strip()[:300]!r}")
        if os.path.exists(emb + ".weights") or not os.path.isfile(wfile):
            raise Fail("NAME.weights must exist only beside the --weights=file program")
        data = open(wfile, "rb").read()
        payload = data[64:]
        if data[:8] != b"ONNXCWT\0" or int.from_bytes(data[8:12], "little") != 1 \
                or int.from_bytes(data[12:16], "little") != 64 \
                or int.from_bytes(data[16:24], "little") != len(payload):
            raise Fail(f"bad header {data[:32].hex()} for a {len(payload)}-byte payload")
        # the payload (initializers, maybe packed) is as large as the initializers, and
        # a window of it is in the embedded program but not in the other one
        m = onnx.load(good)
        total = sum(numpy_helper.to_array(i).nbytes for i in m.graph.initializer)
        if len(payload) < total:
            raise Fail(f"payload {len(payload)} bytes < {total} bytes of initializers")
        win = payload[len(payload) // 2:len(payload) // 2 + 256]
        ebin, sbin = open(emb, "rb").read(), open(sep, "rb").read()
        if win not in ebin or win in sbin:
            raise Fail("the weights are not where they should be (in the embedded program only)")
        if os.path.getsize(sep) + 4 * 16 * 64 > os.path.getsize(emb):
            raise Fail(f"program with separate weights is {os.path.getsize(sep)} bytes, embedded "
                       f"{os.path.getsize(emb)}: the weights did not leave the code")
        rc1, err1, o1 = run_prog(emb, label="emb")
        rc2, err2, o2 = run_prog(sep, label="sep")
        if rc1 or rc2:
            raise Fail(f"runs: {rc1} {err1.strip()[:200]!r}, {rc2} {err2.strip()[:200]!r}")
        import onnxruntime as ort
        want = ort.InferenceSession(good, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        a, b = read_pb(o1), read_pb(o2)
        if not np.array_equal(a, b) or not np.allclose(b, want, rtol=1e-4, atol=1e-4):
            raise Fail(f"outputs differ: embedded {a.ravel()[:4]}, file {b.ravel()[:4]}, onnxruntime {want.ravel()[:4]}")
    r.case("--weights=file: NAME.weights (64-byte header: magic, version, size) beside the program "
           "holds the weights (not the program, which is smaller) and matches the embedded build and onnxruntime", separate)

    def refused(label, path_arg, must, prepare=None):
        wdir = os.path.join(d, "w_" + label)
        os.makedirs(wdir)
        extra = []
        if path_arg is not None:
            p = os.path.join(wdir, path_arg)
            if prepare:
                prepare(p)
            extra = ["--weights", p]
        rc, err, out = run_prog(sep, extra, label)
        check_clean_failure(rc, err, d)
        for m_ in must:
            if m_ not in err:
                raise Fail(f"message does not say {m_!r}: {err.strip()[:300]!r}")
        if os.path.exists(out):
            raise Fail("output written despite the error")

    def corrupt(p):
        data = bytearray(open(wfile, "rb").read())
        data[64 + 100] ^= 0x40
        open(p, "wb").write(bytes(data))

    def other_model(p):
        m = good_model()
        m.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.zeros((16, 64), np.float32), "w1"))
        m.graph.initializer.pop()   # w2 goes: a larger payload
        m.graph.initializer.append(numpy_helper.from_array(np.zeros((64, 40), np.float32), "w2"))
        m.graph.output[0].CopyFrom(vi("y", [2, 40]))
        om = save(m, os.path.join(os.path.dirname(p), "other.onnx"))
        rc, _, err = run([r.onnxc, om, "--emit=exe", "--weights=file", "--name", "other", "-o",
                          os.path.join(os.path.dirname(p), "other")], d)
        if rc != 0:
            raise Fail(f"compile other: {err.strip()[:300]!r}")
        os.replace(os.path.join(os.path.dirname(p), "other.weights"), p)

    r.case("--weights=file: one flipped bit in the payload is refused (hash), exit 1, no output",
           lambda: refused("bit", "mlp.weights", ("hash",), corrupt))
    r.case("--weights=file: another model's weights file is refused (size)",
           lambda: refused("other", "x.weights", ("size",), other_model))
    r.case("--weights=file: a missing weights file is refused naming it",
           lambda: refused("missing", "nope.weights", ("nope.weights",)))
    r.case("--weights=file: a truncated file is refused",
           lambda: refused("short", "t.weights", ("not an onnxc weights file",),
                           lambda p: open(p, "wb").write(open(wfile, "rb").read()[:40])))

    def moved():
        # --weights FILE from elsewhere; and without it the program looks beside itself only.
        alt = os.path.join(d, "alt.weights")
        shutil.copy(wfile, alt)
        rc, err, out = run_prog(sep, ["--weights", alt], "alt")
        if rc != 0 or not os.path.isfile(out):
            raise Fail(f"--weights {alt}: exit {rc}: {err.strip()[:300]!r}")
        rc, err, _ = run_prog(emb, ["--weights", alt], "embw")
        if rc != 2 or "inside" not in err:
            raise Fail(f"an embedded program given --weights: exit {rc}, {err.strip()[:200]!r}")
    r.case("--weights=file: program --weights FILE; an embedded program refuses --weights (exit 2)", moved)

    def library():
        cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("cc")
        if not cc:
            raise Fail("no C compiler")
        ld = os.path.join(d, "lib")
        os.makedirs(ld)
        obj = os.path.join(ld, "W.o")
        rc, _, err = run([r.onnxc, good, "--weights=file", "--name", "W", "-o", obj], d)
        if rc != 0 or not os.path.isfile(os.path.join(ld, "W.weights")):
            raise Fail(f"compile: exit {rc}: {err.strip()[:300]!r}")
        src = os.path.join(ld, "use.c")
        open(src, "w").write(WEIGHTS_C)
        exe = os.path.join(ld, "use")
        rc, _, err = run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", ld, "-o", exe, src, obj, "-lm"], d)
        if rc != 0:
            raise Fail(f"a C program using W.h does not build: {err.strip()[:400]!r}")
        rc, out, err = run([exe, os.path.join(ld, "W.weights")], d, 60)
        lines = out.split()
        if rc != 0 or not lines or lines[0] != "unbound=6" or lines[1] != "bound=0":
            raise Fail(f"want unbound=6 (ONNXC_ERR_WEIGHTS) bound=0: exit {rc}: {out[:200]!r} {err[:200]!r}")
        got = np.array([float(v) for v in lines[2:]], np.float32).reshape(2, 8)
        xin = np.array([((i * 37) % 101) / 101.0 - 0.5 for i in range(32)], np.float32).reshape(2, 16)
        import onnxruntime as ort
        want = ort.InferenceSession(good, providers=["CPUExecutionProvider"]).run(None, {"x": xin})[0]
        if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
            raise Fail(f"got {got.ravel()[:4]}, onnxruntime {want.ravel()[:4]}")
        bad = os.path.join(ld, "bad.weights")
        corrupt(bad)
        rc, out, _ = run([exe, bad], d, 60)
        if not out.startswith("check=6") or "hash" not in out:
            raise Fail(f"onnxc_weights_check passed a corrupted file: {out[:200]!r}")
    r.case("--weights=file object: the header alone checks the file (onnxc_weights_check), a run on an "
           "unbound workspace returns ONNXC_ERR_WEIGHTS, NAME_bind_weights then matches onnxruntime", library)


def build_cases(r, tmp, h):
    Fail, run, save, read_pb, write_pb, vi, good_model, check_clean_failure = _helpers(h)
    """Cross targets' ABI and byte-identical output (compiler only: nothing runs)."""
    d = os.path.join(tmp, "build")
    os.makedirs(d)
    good = save(good_model(), os.path.join(d, "good.onnx"))

    def readelf_h(path):
        rc, out, err = run(["readelf", "-h", path], d)
        if rc != 0:
            raise Fail(f"readelf -h {path}: {err.strip()[:200]!r}")
        return out

    def riscv():
        obj = os.path.join(d, "rv.o")
        rc, _, err = run([r.onnxc, good, "--triple", "riscv64-linux-gnu", "-o", obj], d)
        if rc != 0:
            raise Fail(f"exit {rc}: {err.strip()[:300]!r}")
        h = readelf_h(obj)
        if "RISC-V" not in h or "double-float ABI" not in h or "RVC" not in h:
            raise Fail("not an rv64gc lp64d object: " + " ".join(ln.strip() for ln in h.splitlines()
                                                                   if "Machine" in ln or "Flags" in ln))
        rc, out, _ = run([r.onnxc, good, "--triple", "riscv64-linux-gnu", "--emit=asm", "-o", "-"], d)
        if rc != 0 or "fmadd.s" not in out and "fmul.s" not in out and "vf" not in out:
            raise Fail("no hardware float instructions in the riscv64 assembly")
    if shutil.which("readelf"):
        r.case("--triple riscv64-linux-gnu: rv64gc with the lp64d hard-float ABI (readelf: RVC, "
               "double-float ABI), hardware float instructions", riscv)

    def foreign_link():
        for emit in ("exe", "so", "static"):
            out = os.path.join(d, "cross_" + emit)
            rc, _, err = run([r.onnxc, good, "--triple", "aarch64-linux-gnu", f"--emit={emit}", "-o", out], d)
            check_clean_failure(rc, err, d)
            if "aarch64" not in err or "--emit=obj" not in err or len(err.strip().splitlines()) != 1:
                raise Fail(f"--emit={emit}: message does not name the target and the way out: {err.strip()[:300]!r}")
            if os.path.exists(out):
                raise Fail(f"--emit={emit}: output left behind")
    r.case("--triple aarch64 with --emit=exe|so|static is refused up front (the runtime and linker "
           "are the host's), naming the target and --emit=obj", foreign_link)

    def deterministic():
        outs = []
        for sub in ("a", "b/deeper"):
            w = os.path.join(d, "det", sub)
            os.makedirs(w)
            m = shutil.copy(good, os.path.join(w, "model.onnx"))
            files = {}
            for emit, out, extra in (("obj", "m.o", []), ("static", "libm.a", []), ("obj", "f/m.o", ["--weights=file"])):
                os.makedirs(os.path.dirname(os.path.join(w, out)), exist_ok=True)
                rc, _, err = run([r.onnxc, "model.onnx", f"--emit={emit}", "--name", "m", "-o", out] + extra, w)
                if rc != 0:
                    raise Fail(f"{emit} {extra}: exit {rc}: {err.strip()[:300]!r}")
            for f in ("m.o", "libm.a", "f/m.o", "f/m.weights", "m.h"):
                files[f] = open(os.path.join(w, f), "rb").read()
            outs.append(files)
            del m
        diff = [f for f in outs[0] if outs[0][f] != outs[1][f]]
        if diff:
            raise Fail(f"two compiles from two folders differ in {diff}")
    r.case("deterministic bytes: the object, static library, weights file and header from two "
           "folders are identical", deterministic)
