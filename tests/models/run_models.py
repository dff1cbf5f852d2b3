#!/usr/bin/env python3
"""Model tests through `onnxc --emit=exe`: each model is compiled once and the one program
runs every test_data_set_K in its folder.

Two groups:
  shared   the four reference models in ${ONNXC_SHARED_DIR:-<repo>/../shared}/models
           (resnet50, mobilenet_v2, bert_mini, mlp_dynbatch: mlp_dynbatch's single binary
           must handle batch 5 and batch 1). They are not shipped with the repository:
           when the folder is absent the group is skipped with a SKIP line.
  dynamic  the small models in tests/models/dynamic/ (always run), exported with symbolic
           dims by PyTorch's current exporter (tools/export_dynamic_models.py; references
           from onnxruntime). Each has data sets at two or more different input sizes, all
           run by the one program compiled without fixing any dim.

Every output must satisfy |got - want| <= 1e-5 + 1e-3*|want| with the same shape and dtype.
A model that does not compile fails each of its data sets with the compiler's message.
Ends with "N passed, N failed"; exit 1 when anything failed.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "conformance"))
from run_conformance import CaseError, compare, load_tensor, run_proc  # noqa: E402

MODELS = ["resnet50", "mobilenet_v2", "bert_mini", "mlp_dynbatch"]
DYNAMIC_DIR = os.path.join(HERE, "dynamic")


def dynamic_models(ddir):
    if not os.path.isdir(ddir):
        return []
    return sorted(d for d in os.listdir(ddir) if os.path.isfile(os.path.join(ddir, d, "model.onnx")))


def data_sets(mdir):
    if not os.path.isdir(mdir):
        return []
    return sorted((d for d in os.listdir(mdir) if d.startswith("test_data_set_")),
                  key=lambda d: int(d.rsplit("_", 1)[1]))


def input_files(dsdir):
    return sorted((f for f in os.listdir(dsdir) if f.startswith("input_")), key=lambda f: int(f[6:-3]))


def run_model(name, mdir, args, tmp, need_sizes):
    """Compiles mdir/model.onnx once and runs every data set; returns (passed, failed).
    need_sizes: the data sets must differ in their input shapes (a dynamic-shape model
    run at one size only would not test what it is there for)."""
    import numpy as np
    sets = data_sets(mdir)
    if not sets:
        print(f"FAIL {name}: no model folder or no test_data_set_* in {mdir}", flush=True)
        return 0, 1
    if need_sizes:
        shapes = [tuple(tuple(load_tensor(os.path.join(mdir, ds, f)).shape)
                        for f in input_files(os.path.join(mdir, ds))) for ds in sets]
        if len(sets) < 2 or len(set(shapes)) != len(shapes):
            print(f"FAIL {name}: needs two or more data sets with different input shapes, "
                  f"has {[list(map(list, s)) for s in shapes]}", flush=True)
            return 0, 1
    prog = os.path.join(tmp, name)
    t0 = time.monotonic()
    try:
        run_proc([args.onnxc, os.path.join(mdir, "model.onnx"), "--emit=exe", "-o", prog]
                 + args.onnxc_arg, args.compile_timeout, "compile")
        if not os.path.isfile(prog):
            raise CaseError("compile: exit 0 but no program written")
        compile_err = None
    except CaseError as e:
        compile_err = str(e)
    t_compile = time.monotonic() - t0
    passed = failed = 0
    for ds in sets:
        label = f"{name}/{ds}"
        if compile_err:
            print(f"FAIL {label}: {compile_err}", flush=True)
            failed += 1
            continue
        dsdir = os.path.join(mdir, ds)
        ins = input_files(dsdir)
        n_out = len([f for f in os.listdir(dsdir) if f.startswith("output_")])
        outdir = os.path.join(tmp, f"{name}_{ds}")
        os.makedirs(outdir)
        try:
            t1 = time.monotonic()
            run_proc([prog] + [os.path.join(dsdir, f) for f in ins] + ["-o", outdir],
                     args.run_timeout, "run")
            t_run = time.monotonic() - t1
            worst = 0.0
            for j in range(n_out):
                gp = os.path.join(outdir, f"output_{j}.pb")
                if not os.path.exists(gp):
                    raise CaseError(f"output_{j}.pb not written")
                got = load_tensor(gp)
                want = load_tensor(os.path.join(dsdir, f"output_{j}.pb"))
                compare(j, got, want, args.rtol, args.atol)
                if want.dtype.kind == "f" and want.size:
                    worst = max(worst, float(np.max(np.abs(got.astype(np.float64) - want))))
            shapes = " ".join(str(list(load_tensor(os.path.join(dsdir, f)).shape)) for f in ins)
            print(f"PASS {label} (inputs {shapes}; {n_out} outputs, max |diff| {worst:.2g}; "
                  f"compile {t_compile:.1f} s, run {t_run:.2f} s)", flush=True)
            passed += 1
        except CaseError as e:
            print(f"FAIL {label}: {e}", flush=True)
            failed += 1
    return passed, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnxc", default=os.environ.get("ONNXC", os.path.join(REPO, "build", "onnxc")))
    ap.add_argument("--models-dir", default=None,
                    help="the shared group's folder; default: ${ONNXC_SHARED_DIR:-<repo>/../shared}/models")
    ap.add_argument("--dynamic-dir", default=DYNAMIC_DIR,
                    help="the dynamic group's folder (default: tests/models/dynamic)")
    ap.add_argument("--only", default=None,
                    help="comma-separated subset of: " + ",".join(MODELS + dynamic_models(DYNAMIC_DIR))
                    + " (or 'shared' / 'dynamic' for a whole group)")
    ap.add_argument("--onnxc-arg", action="append", default=[])
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--atol", type=float, default=1e-5)
    ap.add_argument("--compile-timeout", type=float, default=600)
    ap.add_argument("--run-timeout", type=float, default=300)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    models_dir = args.models_dir or os.path.join(
        os.environ.get("ONNXC_SHARED_DIR", os.path.join(os.path.dirname(REPO), "shared")), "models")
    dyn = dynamic_models(args.dynamic_dir)
    if args.only:
        shared_names, dyn_names = [], []
        for n in args.only.split(","):
            if n == "shared":
                shared_names += MODELS
            elif n == "dynamic":
                dyn_names += dyn
            elif n in MODELS:
                shared_names.append(n)
            elif n in dyn:
                dyn_names.append(n)
            else:
                ap.error(f"--only: unknown model '{n}' (known: {', '.join(MODELS + dyn)})")
    else:
        shared_names, dyn_names = list(MODELS), list(dyn)
        if not dyn:
            print(f"run_models: no models in {args.dynamic_dir}", file=sys.stderr)
            return 2
    if not (os.path.isfile(args.onnxc) and os.access(args.onnxc, os.X_OK)):
        print(f"run_models: compiler not found: {args.onnxc}", file=sys.stderr)
        return 2
    if shared_names and not os.path.isdir(models_dir):
        print("SKIP: ../shared/models not found (models are not shipped with the repository)")
        shared_names = []
    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="onnxc-models-")
    try:
        for name in shared_names:
            p, f = run_model(name, os.path.join(models_dir, name), args, tmp, need_sizes=False)
            passed, failed = passed + p, failed + f
        for name in dyn_names:
            p, f = run_model(name, os.path.join(args.dynamic_dir, name), args, tmp, need_sizes=True)
            passed, failed = passed + p, failed + f
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
