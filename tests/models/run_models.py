#!/usr/bin/env python3
"""Model tests: the four reference models in ../shared/models, and the small models kept in
this folder (tests/models/<name>/model.onnx with test_data_set_K beside it, each written
by a gen_*.py here with onnxruntime's outputs), through `onnxc --emit=exe`.

Each model is compiled once and the one program runs every test_data_set_K (so
mlp_dynbatch's single binary must handle batch 5 and batch 1). Every output must satisfy
|got - want| <= 1e-5 + 1e-3*|want| with the same shape and dtype.
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


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--onnxc", default=os.environ.get("ONNXC", os.path.join(REPO, "build", "onnxc")))
    ap.add_argument("--models-dir", default=None,
                    help="default: ${ONNXC_SHARED_DIR:-<repo>/../shared}/models")
    ap.add_argument("--only", default=None, help="comma-separated subset of: " + ",".join(MODELS) + " and the models in tests/models")
    ap.add_argument("--onnxc-arg", action="append", default=[])
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--atol", type=float, default=1e-5)
    ap.add_argument("--compile-timeout", type=float, default=600)
    ap.add_argument("--run-timeout", type=float, default=300)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    models_dir = args.models_dir or os.path.join(
        os.environ.get("ONNXC_SHARED_DIR", os.path.join(os.path.dirname(REPO), "shared")), "models")
    repo_models = sorted(d for d in os.listdir(HERE) if os.path.isfile(os.path.join(HERE, d, "model.onnx")))
    dirs = {name: os.path.join(HERE, name) for name in repo_models}
    if os.path.isdir(models_dir):
        dirs.update({name: os.path.join(models_dir, name) for name in MODELS})
    else:
        print("SKIP: ../shared/models not found (models are not shipped with the repository); "
              "running the models in tests/models only")
    if not (os.path.isfile(args.onnxc) and os.access(args.onnxc, os.X_OK)):
        print(f"run_models: compiler not found: {args.onnxc}", file=sys.stderr)
        return 2
    names = args.only.split(",") if args.only else [n for n in MODELS if n in dirs] + repo_models
    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="onnxc-models-")
    try:
        for name in names:
            mdir = dirs.get(name, os.path.join(models_dir, name))
            sets = sorted((d for d in os.listdir(mdir) if d.startswith("test_data_set_")),
                          key=lambda d: int(d.rsplit("_", 1)[1])) if os.path.isdir(mdir) else []
            if not sets:
                print(f"FAIL {name}: no model folder or no test_data_set_* in {mdir}")
                failed += 1
                continue
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
            for ds in sets:
                label = f"{name}/{ds}"
                if compile_err:
                    print(f"FAIL {label}: {compile_err}", flush=True)
                    failed += 1
                    continue
                dsdir = os.path.join(mdir, ds)
                ins = sorted((f for f in os.listdir(dsdir) if f.startswith("input_")),
                             key=lambda f: int(f[6:-3]))
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
                            import numpy as np
                            worst = max(worst, float(np.max(np.abs(got.astype(np.float64) - want))))
                    shapes = " ".join(str(list(load_tensor(os.path.join(dsdir, f)).shape)) for f in ins)
                    print(f"PASS {label} (inputs {shapes}; {n_out} outputs, max |diff| {worst:.2g}; "
                          f"compile {t_compile:.1f} s, run {t_run:.2f} s)", flush=True)
                    passed += 1
                except CaseError as e:
                    print(f"FAIL {label}: {e}", flush=True)
                    failed += 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
