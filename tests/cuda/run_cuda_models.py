#!/usr/bin/env python3
"""The CUDA backend's test step (issue 9), run by tools/test.sh as `cuda`.

1. nvcc: every model is emitted with --target=cuda and compiled with nvcc for sm_90 and
   sm_80 with -Werror all-warnings and ptxas -v -warn-spills -warn-lmem-usage; any
   warning or spill fails. The per-kernel registers / shared memory table goes to
   build/test-logs/cuda_ptxas.md.
2. cuda-emu: every model is built with --target=cuda-emu --emit=exe, run on its
   test_data_set_*, and compared with the reference outputs (float32: rtol 1e-3, atol 1e-5).
3. CLI errors: nvcc missing (ONNXC_NVCC=/nonexistent), an op without a CUDA kernel, a
   symbolic model without --dim.

Prints "N passed, N failed, N skipped"; a part that cannot run (no nvcc, no C++ compiler,
no models) is counted as skipped with the reason, never as passed.
"""
import argparse, glob, os, re, shutil, subprocess, sys, tempfile

import numpy as np
import onnx
from onnx import numpy_helper, helper, TensorProto

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RTOL, ATOL = 1e-3, 1e-5
# models with a symbolic batch are compiled at this size (test_data_set with that batch only)
DIMS = {"mlp_dynbatch": ["--dim", "batch=5"]}


def nvcc_path():
    p = os.environ.get("ONNXC_NVCC") or shutil.which("nvcc")
    if not p and os.access("/usr/local/cuda/bin/nvcc", os.X_OK):
        p = "/usr/local/cuda/bin/nvcc"
    return p


def models(dirs):
    out = []
    for d in dirs:
        for m in sorted(glob.glob(os.path.join(d, "*", "model.onnx"))):
            out.append((os.path.basename(os.path.dirname(m)), m))
    return out


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def dim_args(name, model):
    if name in DIMS:
        return DIMS[name]
    return []


def parse_ptxas(text):
    rows, cur = [], None
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '(\w+)' for '(sm_\d+)'", line)
        if m:
            cur = [m.group(1), m.group(2), 0, 0, 0]
            rows.append(cur)
        m = re.search(r"Used (\d+) registers", line)
        if m and cur:
            cur[2] = int(m.group(1))
            s = re.search(r"(\d+) bytes smem", line)
            cur[3] = int(s.group(1)) if s else 0
        m = re.search(r"(\d+) bytes spill stores", line)
        if m and cur:
            cur[4] = int(m.group(1))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", default=os.path.join(ROOT, "build", "onnxc"))
    ap.add_argument("--models", nargs="*", default=["/work/shared/models", os.path.join(ROOT, "tests", "models")])
    ap.add_argument("--archs", default="sm_90,sm_80")
    ap.add_argument("--log-dir", default=os.path.join(ROOT, "build", "test-logs"))
    a = ap.parse_args()
    onnxc = os.path.abspath(a.onnxc)
    passed = failed = skipped = 0
    ms = [(n, m) for n, m in models([d for d in a.models if os.path.isdir(d)])]
    nvcc = nvcc_path()
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    tmp = tempfile.mkdtemp(prefix="onnxc-cuda-test-")
    table = ["| model | arch | kernel | registers | smem bytes | spill bytes |", "|---|---|---|---|---|---|"]

    def ok(msg):
        nonlocal passed
        passed += 1
        print("ok   " + msg)

    def bad(msg, out=""):
        nonlocal failed
        failed += 1
        print("FAIL " + msg)
        if out:
            print("     " + out.strip().replace("\n", "\n     ")[-2000:])

    def skip(msg):
        nonlocal skipped
        skipped += 1
        print("SKIP " + msg)

    if not ms:
        skip("no models found in " + " ".join(a.models))
    # 1. nvcc
    for name, model in ms:
        cu = os.path.join(tmp, name + ".cu")
        r = run([onnxc, model, "--target=cuda", "--weights=file", "-o", cu] + dim_args(name, model))
        if r.returncode != 0:
            bad(f"{name}: --target=cuda", r.stdout)
            continue
        if not nvcc:
            skip(f"{name}: nvcc not found (set ONNXC_NVCC)")
            continue
        for arch in a.archs.split(","):
            r = run([nvcc, f"-arch={arch}", "-std=c++17", "-Werror", "all-warnings", "-Xptxas",
                     "-v,-warn-spills,-warn-lmem-usage", "-c", cu, "-o", os.path.join(tmp, f"{name}_{arch}.o")])
            rows = parse_ptxas(r.stdout)
            for k, sm, regs, smem, spill in rows:
                table.append(f"| {name} | {sm} | {k} | {regs} | {smem} | {spill} |")
            spills = [x for x in rows if x[4] > 0]
            if r.returncode != 0 or spills or "warning" in r.stdout.lower():
                bad(f"{name}: nvcc -arch={arch}", r.stdout if r.returncode else f"spills in {len(spills)} kernels")
            else:
                regs = max([x[2] for x in rows] or [0])
                ok(f"{name}: nvcc -arch={arch} ({len(rows)} kernels, max {regs} registers, no spills)")
    os.makedirs(a.log_dir, exist_ok=True)
    with open(os.path.join(a.log_dir, "cuda_ptxas.md"), "w") as f:
        f.write("\n".join(table) + "\n")

    # 2. cuda-emu
    for name, model in ms:
        if not cxx:
            skip(f"{name}: no C++ compiler for --target=cuda-emu")
            continue
        exe = os.path.join(tmp, name + "_emu")
        r = run([onnxc, model, "--target=cuda-emu", "--emit=exe", "--weights=file", "-o", exe] + dim_args(name, model))
        if r.returncode != 0:
            bad(f"{name}: --target=cuda-emu --emit=exe", r.stdout)
            continue
        sets = sorted(glob.glob(os.path.join(os.path.dirname(model), "test_data_set_*")))
        want_batch = None
        for ds in sets:
            ins = sorted(glob.glob(os.path.join(ds, "input_*.pb")), key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))
            if name in DIMS:
                b = int(DIMS[name][1].split("=")[1])
                if numpy_helper.to_array(onnx.load_tensor(ins[0])).shape[0] != b:
                    continue
            outd = os.path.join(tmp, name + "_out_" + os.path.basename(ds))
            r = run([exe] + ins + ["-o", outd])
            if r.returncode != 0:
                bad(f"{name}/{os.path.basename(ds)}: cuda-emu run", r.stdout)
                continue
            worst, good = 0.0, True
            for refp in sorted(glob.glob(os.path.join(ds, "output_*.pb"))):
                ref = numpy_helper.to_array(onnx.load_tensor(refp))
                got = numpy_helper.to_array(onnx.load_tensor(os.path.join(outd, os.path.basename(refp))))
                if got.shape != ref.shape:
                    good = False
                    continue
                if ref.dtype.kind == "f":
                    d = np.abs(got.astype(np.float64) - ref)
                    good &= bool(np.all(d <= ATOL + RTOL * np.abs(ref)))
                    worst = max(worst, float(np.nanmax(d)) if d.size else 0.0)
                else:
                    good &= bool(np.array_equal(got, ref))
            (ok if good else bad)(f"{name}/{os.path.basename(ds)}: cuda-emu matches the reference (max |diff| {worst:.3g})")

    # 3. CLI errors
    m = os.path.join(tmp, "topk.onnx")
    g = helper.make_graph([helper.make_node("TopK", ["x", "k"], ["v", "i"], name="my_topk")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                          [helper.make_tensor_value_info("v", TensorProto.FLOAT, [4, 3]),
                           helper.make_tensor_value_info("i", TensorProto.INT64, [4, 3])],
                          [numpy_helper.from_array(np.array([3], dtype=np.int64), "k")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), m)
    r = run([onnxc, m, "--target=cuda", "-o", os.path.join(tmp, "topk.cu")])
    if r.returncode == 1 and "my_topk" in r.stdout and "TopK" in r.stdout and "no kernel" in r.stdout:
        ok("unsupported op: exit 1 naming node and op")
    else:
        bad("unsupported op message", r.stdout)
    if ms:
        env = dict(os.environ, ONNXC_NVCC="/nonexistent")
        r = run([onnxc, ms[0][1], "--target=cuda", "--emit=obj", "-o", os.path.join(tmp, "x.o")] + dim_args(*ms[0]), env=env)
        if r.returncode == 1 and "needs nvcc" in r.stdout and "ONNXC_NVCC" in r.stdout and not os.path.exists(os.path.join(tmp, "x.o")):
            ok("nvcc missing: clear error, no output")
        else:
            bad("nvcc missing message", r.stdout)
    dyn = [mm for n, mm in ms if n in DIMS]
    if dyn:
        r = run([onnxc, dyn[0], "--target=cuda", "-o", os.path.join(tmp, "d.cu")])
        if r.returncode == 1 and "static shapes" in r.stdout and "--dim" in r.stdout:
            ok("symbolic dims: refused with a hint")
        else:
            bad("symbolic dims message", r.stdout)
    r = run([onnxc, m, "--target=cuda", "--cuda-arch", "sm_70"])
    (ok if r.returncode == 2 and "sm_70" in r.stdout else bad)("unknown --cuda-arch: usage error")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"cuda: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
