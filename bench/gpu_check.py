#!/usr/bin/env python3
"""The CUDA backend on a real GPU (issue 9), driven by bench/gpu_check.sh.

1. Every model of --models is compiled with --target=cuda --emit=exe (nvcc, --cuda-arch
   of the GPU), run on each of its test_data_set_* of the compiled dims, and compared with
   the reference outputs (rtol 1e-3, atol 1e-5). The generated host code poisons output
   buffers with NaN (0xff bytes) before every run, so an element no kernel writes fails.
2. --cases: the listed conformance cases through tests/conformance/run_conformance.py
   --target cuda (same comparison).
3. --bench models at batch 1 and 8 (8 only where the batch is symbolic: --dim): the
   program's --bench (device time by CUDA events, median), onnxruntime's CPU provider (the
   reference), and onnxruntime's CUDA provider / PyTorch when importable; a markdown table.
Prints "N passed, N failed, N skipped".
"""
import argparse, concurrent.futures as cf, glob, os, re, shutil, subprocess, sys, tempfile, time

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "cuda"))
from run_cuda_models import bind, dim_args, input_files, sym_dims  # noqa: E402

RTOL, ATOL = 1e-3, 1e-5
MEDIAN_RE = re.compile(r"median\s+([0-9.]+)\s*ms")


def run(cmd, timeout=600, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, **kw)


def build(onnxc, model, exe, arch, dims):
    t0 = time.monotonic()
    r = run([onnxc, model, "--target=cuda", "--emit=exe", "--weights=file", "--cuda-arch", arch, "-o", exe] + dims)
    return r, time.monotonic() - t0


def check_model(onnxc, arch, tmp, name, model):
    out = []
    exe = os.path.join(tmp, name)
    r, secs = build(onnxc, model, exe, arch, dim_args(name, model))
    if r.returncode:
        return [("FAIL", f"{name}: build", r.stdout)]
    sets = sorted(glob.glob(os.path.join(os.path.dirname(model), "test_data_set_*")))
    want = bind(model, sets[0]) if sets else {}
    for ds in sets:
        if bind(model, ds) != want:
            continue
        od = os.path.join(tmp, name + "_" + os.path.basename(ds))
        r = run([exe] + input_files(ds) + ["-o", od])
        if r.returncode:
            out.append(("FAIL", f"{name}/{os.path.basename(ds)}: run", r.stdout))
            continue
        good, worst = True, 0.0
        for refp in sorted(glob.glob(os.path.join(ds, "output_*.pb"))):
            ref = numpy_helper.to_array(onnx.load_tensor(refp))
            got = numpy_helper.to_array(onnx.load_tensor(os.path.join(od, os.path.basename(refp))))
            if got.shape != ref.shape:
                good = False
            elif ref.dtype.kind == "f":
                d = np.abs(got.astype(np.float64) - ref)
                good &= bool(np.all(d <= ATOL + RTOL * np.abs(ref)))   # NaN (poison) fails
                worst = max(worst, float(np.nanmax(d)) if d.size else 0.0)
            else:
                good &= bool(np.array_equal(got, ref))
        out.append(("ok" if good else "FAIL",
                    f"{name}/{os.path.basename(ds)}: GPU output matches (max |diff| {worst:.3g}; build {secs:.0f} s)", ""))
    return out


def bench_inputs(model, batch):
    rng = np.random.default_rng(0)
    feeds = {}
    for name, dims in sym_dims(model).items():
        vi = [i for i in onnx.load(model, load_external_data=False).graph.input if i.name == name][0]
        et = onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        shape = [batch if isinstance(d, str) and d else (d or 1) for d in dims]
        if np.issubdtype(et, np.integer):
            feeds[name] = rng.integers(0, 100, size=shape).astype(et)
        else:
            feeds[name] = rng.standard_normal(shape).astype(et)
    return feeds


def ort_median(model, feeds, providers, runs):
    import onnxruntime as ort
    sess = ort.InferenceSession(model, providers=providers)
    if providers[0] not in sess.get_providers():
        return None
    for _ in range(3):
        sess.run(None, feeds)
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        ts.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(ts))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnxc", default=os.path.join(REPO, "build", "onnxc"))
    ap.add_argument("--models-dir", default=os.environ.get("ONNXC_MODELS_DIR", "/work/shared/models"))
    ap.add_argument("--models", default="resnet50,bert_mini,mobilenet_v2,mlp_dynbatch")
    ap.add_argument("--bench", default="resnet50,bert_mini,mobilenet_v2", help="models to benchmark ('' for none)")
    ap.add_argument("--cases", default=os.path.join(REPO, "tests", "conformance", "passing_cuda.txt"),
                    help="conformance cases to run ('' for none)")
    ap.add_argument("--cases-dir", default=os.path.join(REPO, "tests", "conformance", "cases"))
    ap.add_argument("--arch", default=None, help="sm_90, sm_80, sm_89 (default: the GPU's)")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 4)
    ap.add_argument("--dry-run", action="store_true", help="print the plan and exit (no GPU needed)")
    a = ap.parse_args()
    models = [m for m in a.models.split(",") if m]
    bench = [m for m in a.bench.split(",") if m]
    print(f"gpu_check: arch {a.arch}, models {models}, bench {bench}, cases {a.cases or 'none'}, {a.jobs} jobs")
    if a.dry_run:
        for m in sorted(set(models + bench)):
            p = os.path.join(a.models_dir, m, "model.onnx")
            dims = dim_args(m, p) if os.path.exists(p) else None
            print(f"  {m}: {'missing' if dims is None else 'dims ' + (' '.join(dims) or 'static')}")
        return 0
    tmp = tempfile.mkdtemp(prefix="onnxc-gpu-")
    passed = failed = skipped = 0
    t_start = time.monotonic()
    with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        futs = [ex.submit(check_model, a.onnxc, a.arch, tmp, m, os.path.join(a.models_dir, m, "model.onnx"))
                for m in models if os.path.exists(os.path.join(a.models_dir, m, "model.onnx"))]
        for f in futs:
            for st, msg, out in f.result():
                print(("ok   " if st == "ok" else "FAIL ") + msg + ("\n     " + out.strip()[-1500:] if out else ""))
                passed += st == "ok"
                failed += st != "ok"
    print(f"gpu_check: models {time.monotonic() - t_start:.0f} s")
    if a.cases and os.path.exists(a.cases):
        t0 = time.monotonic()
        r = run([sys.executable, os.path.join(REPO, "tests", "conformance", "run_conformance.py"), "--onnxc", a.onnxc,
                 "--target", "cuda", f"--onnxc-arg=--cuda-arch={a.arch}", "--cases-dir", a.cases_dir,
                 "--expect", a.cases, "--only-listed", "-j", str(a.jobs), "-q"], timeout=3600)
        print(r.stdout[-4000:])
        m = re.search(r"^(\d+) passed, (\d+) failed", r.stdout, re.M)
        reg = len(re.findall(r"^REGRESSION ", r.stdout, re.M))
        if m:
            passed += int(m.group(1))
            failed += reg
        else:
            failed += 1
        print(f"gpu_check: conformance {time.monotonic() - t0:.0f} s")
    rows = ["| model | batch | onnxc CUDA (ms, events) | ORT CPU (ms) | ORT CUDA (ms) | PyTorch (ms) | vs ORT CUDA |",
            "|---|---|---|---|---|---|---|"]
    for m in bench:
        p = os.path.join(a.models_dir, m, "model.onnx")
        if not os.path.exists(p):
            skipped += 1
            continue
        symbolic = any(isinstance(d, str) and d for dims in sym_dims(p).values() for d in dims[:1])
        for batch in ([1, 8] if symbolic else [1]):
            feeds = bench_inputs(p, batch)
            dims = []
            for dd in sym_dims(p).values():
                for d in dd:
                    if isinstance(d, str) and d and f"{d}=" not in " ".join(dims):
                        dims += ["--dim", f"{d}={batch}"]
            exe = os.path.join(tmp, f"{m}_b{batch}")
            r, _ = build(a.onnxc, p, exe, a.arch, dims)
            ours = None
            if r.returncode == 0:
                ins = []
                for k, (nm, v) in enumerate(feeds.items()):
                    f = os.path.join(tmp, f"{m}_b{batch}_in{k}.pb")
                    with open(f, "wb") as fh:
                        fh.write(numpy_helper.from_array(v, nm).SerializeToString())
                    ins.append(f)
                rr = run([exe] + ins + ["--bench", str(a.runs)])
                mm = MEDIAN_RE.search(rr.stdout)
                ours = float(mm.group(1)) if mm and "CUDA events" in rr.stdout else None
                if ours is None:
                    print(f"FAIL {m} batch {batch}: --bench\n     {rr.stdout.strip()[-800:]}")
                    failed += 1
            else:
                print(f"FAIL {m} batch {batch}: build\n     {r.stdout.strip()[-800:]}")
                failed += 1
            cpu = ort_median(p, feeds, ["CPUExecutionProvider"], max(5, a.runs // 5))
            try:
                cuda = ort_median(p, feeds, ["CUDAExecutionProvider"], a.runs)
            except Exception:
                cuda = None
            torch_ms = None   # needs onnx2torch; left out when not importable
            try:
                import torch
                from onnx2torch import convert
                if torch.cuda.is_available():
                    net = convert(p).cuda().eval()
                    args = [torch.from_numpy(v).cuda() for v in feeds.values()]
                    with torch.no_grad():
                        for _ in range(3):
                            net(*args)
                        torch.cuda.synchronize()
                        ts = []
                        for _ in range(a.runs):
                            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                            e0.record()
                            net(*args)
                            e1.record()
                            torch.cuda.synchronize()
                            ts.append(e0.elapsed_time(e1))
                    torch_ms = float(np.median(ts))
            except Exception:
                pass
            fmt = lambda x: "n/a" if x is None else f"{x:.3f}"
            ref = cuda if cuda is not None else torch_ms
            ratio = f"{ref / ours:.2f}x" if ours and ref else "n/a"
            rows.append(f"| {m} | {batch} | {fmt(ours)} | {fmt(cpu)} | {fmt(cuda)} | {fmt(torch_ms)} | {ratio} |")
    if len(rows) > 2:
        print("\n".join(rows))
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"gpu_check: {time.monotonic() - t_start:.0f} s")
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
