#!/usr/bin/env python3
"""Side-by-side benchmark: onnxc-compiled programs against onnxruntime, in one run.

For each model in ${ONNXC_SHARED_DIR:-<repo>/../shared}/models: compile it with
`onnxc --emit=exe`, time `PROG inputs... --bench N --threads T` (its median), time
onnxruntime on the same inputs with the same thread count (median of N runs after
warm-up), and print a markdown table. Speed-up > 1 means onnxc is faster.
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

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MODELS = ["resnet50", "mobilenet_v2", "bert_mini", "mlp_dynbatch"]
MEDIAN_RE = re.compile(r"median\s+([0-9.]+)\s*ms")


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def ort_median(model_path, inputs, threads, runs, warmup):
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    feeds = {n: numpy_helper.to_array(onnx.load_tensor(p)) for n, p in zip(names, inputs)}
    for _ in range(warmup):
        sess.run(None, feeds)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--onnxc", default=os.environ.get("ONNXC", os.path.join(REPO, "build", "onnxc")))
    ap.add_argument("--models-dir", default=None)
    ap.add_argument("--only", default=None, help="comma-separated subset of: " + ",".join(MODELS))
    ap.add_argument("--threads", default="1", help="comma-separated thread counts (default 1)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--onnxc-arg", action="append", default=[])
    args = ap.parse_args()

    models_dir = args.models_dir or os.path.join(
        os.environ.get("ONNXC_SHARED_DIR", os.path.join(os.path.dirname(REPO), "shared")), "models")
    if not os.path.isdir(models_dir):
        print("SKIP: ../shared/models not found (models are not shipped with the repository)")
        return 0
    if not os.access(args.onnxc, os.X_OK):
        print(f"run_bench: compiler not found: {args.onnxc}", file=sys.stderr)
        return 2
    threads = [int(t) for t in args.threads.split(",")]
    names = args.only.split(",") if args.only else MODELS
    tmp = tempfile.mkdtemp(prefix="onnxc-bench-")
    rows, rc = [], 0
    try:
        for name in names:
            mdir = os.path.join(models_dir, name)
            model = os.path.join(mdir, "model.onnx")
            ds = os.path.join(mdir, "test_data_set_0")
            inputs = sorted((os.path.join(ds, f) for f in os.listdir(ds) if f.startswith("input_")),
                            key=lambda p: int(os.path.basename(p)[6:-3]))
            prog = os.path.join(tmp, name)
            p = subprocess.run([args.onnxc, model, "--emit=exe", "-o", prog] + args.onnxc_arg,
                               capture_output=True, text=True)
            for t in threads:
                ours = ort = None
                note = ""
                if p.returncode != 0:
                    note = "compile failed: " + (p.stderr.strip().splitlines() or ["?"])[0][:120]
                else:
                    b = subprocess.run([prog] + inputs + ["--bench", str(args.runs), "--threads", str(t)],
                                       capture_output=True, text=True)
                    m = MEDIAN_RE.search(b.stdout)
                    if b.returncode == 0 and m:
                        ours = float(m.group(1))
                    else:
                        note = "bench failed: " + ((b.stderr or b.stdout).strip().splitlines() or ["?"])[0][:120]
                ort = ort_median(model, inputs, t, args.runs, args.warmup)
                if ours is None:
                    rc = 1
                rows.append((name, t, ours, ort, note))
                print(f"{name} threads={t}: onnxc {ours if ours is not None else '-'} ms, "
                      f"onnxruntime {ort:.3f} ms {note}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    import onnxruntime
    print(f"\nHost: {cpu_name()}, {os.cpu_count()} CPUs; onnxruntime {onnxruntime.__version__}; "
          f"median of {args.runs} runs after warm-up\n")
    print("| model | threads | onnxc median (ms) | onnxruntime median (ms) | speed-up vs ORT | note |")
    print("|---|---:|---:|---:|---:|---|")
    for name, t, ours, ort, note in rows:
        sp = f"{ort / ours:.2f}x" if ours else "-"
        print(f"| {name} | {t} | {ours:.3f} | {ort:.3f} | {sp} | {note} |" if ours else
              f"| {name} | {t} | - | {ort:.3f} | - | {note} |")
    return rc


if __name__ == "__main__":
    sys.exit(main())
