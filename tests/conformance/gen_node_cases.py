#!/usr/bin/env python3
"""Writes the onnx package's node test cases to OUTDIR/node/<case>/ in the layout of
onnx/backend/test/data/node: model.onnx + test_data_set_K/{input,output}_J.pb.

The onnx wheel ships pytorch-converted/, simple/, light/ ... but not node/, so we generate
node/ from the same Python sources the onnx project generates it from (the serialisation
below mirrors onnx/backend/test/cmd_tools.py, including the sequence/optional/map cases).
"""
import argparse
import os
import shutil
import sys
import time
import warnings


def _serialize(value, type_proto, name):
    from onnx import TensorProto, numpy_helper
    if type_proto.HasField("map_type"):
        return numpy_helper.from_dict(value, name).SerializeToString()
    if type_proto.HasField("sequence_type"):
        return numpy_helper.from_list(value, name).SerializeToString()
    if type_proto.HasField("optional_type"):
        return numpy_helper.from_optional(value, name).SerializeToString()
    if isinstance(value, TensorProto):
        return value.SerializeToString()
    return numpy_helper.from_array(value, name).SerializeToString()


def write_case(case, outdir):
    case_dir = os.path.join(outdir, case.name)
    if os.path.exists(case_dir):
        shutil.rmtree(case_dir)
    os.makedirs(case_dir)
    model = case.model
    with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for k, (inputs, outputs) in enumerate(case.data_sets):
        ds = os.path.join(case_dir, f"test_data_set_{k}")
        os.makedirs(ds)
        for j, x in enumerate(inputs):
            vi = model.graph.input[j]
            with open(os.path.join(ds, f"input_{j}.pb"), "wb") as f:
                f.write(_serialize(x, vi.type, vi.name))
        for j, y in enumerate(outputs):
            vi = model.graph.output[j]
            with open(os.path.join(ds, f"output_{j}.pb"), "wb") as f:
                f.write(_serialize(y, vi.type, vi.name))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", help="writes OUTDIR/node/<case>/...")
    ap.add_argument("--op", default=None, help="only the cases of this op type")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args()

    t0 = time.time()
    warnings.filterwarnings("ignore")
    from onnx.backend.test.case import node as node_cases
    cases = node_cases.collect_testcases(args.op)
    node_dir = os.path.join(args.outdir, "node")
    os.makedirs(node_dir, exist_ok=True)
    written, failed = 0, 0
    seen = set()
    for case in cases:
        if case.name in seen:  # collect_testcases may be called twice in one process
            continue
        seen.add(case.name)
        try:
            write_case(case, node_dir)
            written += 1
        except Exception as e:  # one odd case must not lose the other 1,800
            failed += 1
            print(f"gen_node_cases: {case.name}: {type(e).__name__}: {e}", file=sys.stderr)
            shutil.rmtree(os.path.join(node_dir, case.name), ignore_errors=True)
    if not args.quiet:
        print(f"gen_node_cases: wrote {written} cases to {node_dir} "
              f"({failed} not serialisable) in {time.time() - t0:.1f} s")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
