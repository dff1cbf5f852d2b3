#!/usr/bin/env python3
"""Regenerates the fuzz seed corpora and dictionaries under tests/fuzz/ (committed; run
again only to change them):

  corpus/model/       small models of the ONNX node tests (fuzz_model, fuzz_compile)
  corpus/external/    models whose initializers name each file fuzz_external lays out
  corpus/tensor_pb/   input/output .pb files of the node tests, one per dtype and rank
  corpus/tensor_npy/  .npy files: every dtype, orders, v1/v2/v3 headers, empty arrays
  onnx.dict, npy.dict dictionaries (op names from ir/ops.def, attribute and key names)

usage: make_seeds.py CASES_DIR   (tests/conformance/cases of a checkout with the cases)
Deterministic: the same cases give the same files.
"""
import hashlib
import os
import re
import shutil
import sys

import numpy as np
from onnx import TensorProto, helper, load_tensor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def fresh(name):
    d = os.path.join(HERE, "corpus", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def put(d, data):
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def models(cases):
    d = fresh("model")
    picked, seen_ops = 0, set()
    for case in sorted(os.listdir(os.path.join(cases, "node"))):
        p = os.path.join(cases, "node", case, "model.onnx")
        if not os.path.isfile(p) or os.path.getsize(p) > 1500:
            continue
        op = re.sub(r"_.*", "", case[5:])   # one or two per op family keeps it small
        if sum(1 for s in seen_ops if s[0] == op) >= 2:
            continue
        seen_ops.add((op, case))
        with open(p, "rb") as f:
            put(d, f.read())
        picked += 1
    return picked


def tensors(cases):
    d = fresh("tensor_pb")
    seen = set()
    for case in sorted(os.listdir(os.path.join(cases, "node"))):
        ds = os.path.join(cases, "node", case, "test_data_set_0")
        if not os.path.isdir(ds):
            continue
        for fn in sorted(os.listdir(ds)):
            p = os.path.join(ds, fn)
            if os.path.getsize(p) > 600:
                continue
            with open(p, "rb") as f:
                data = f.read()
            try:
                t = load_tensor(p)
            except Exception:
                continue
            key = (t.data_type, len(t.dims), t.HasField("raw_data"))
            if key in seen:
                continue
            seen.add(key)
            put(d, data)
    return len(seen)


def npys():
    d = fresh("tensor_npy")
    import io
    n = 0
    arrays = [(np.arange(6) % 3).astype(t).reshape(2, 3) for t in
              (np.float32, np.float64, np.float16, np.int8, np.uint8, np.int16, np.uint16,
               np.int32, np.uint32, np.int64, np.uint64, np.bool_)]
    arrays += [np.zeros((0, 4), np.float32), np.float32(3.5), np.ones((1, 2, 1, 2, 1, 2), np.int64),
               np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)),
               np.arange(4, dtype=">f4")]
    for a in arrays:
        for version in ((1, 0), (2, 0), (3, 0)):
            b = io.BytesIO()
            np.lib.format.write_array(b, np.asanyarray(a), version=version)
            put(d, b.getvalue())
            n += 1
    return n


def external():
    d = fresh("external")
    files = ["w.bin", "sub/w.bin", "short.bin", "empty.bin", "in.bin", "out.bin", "up/secret.bin",
             "hard.bin", "fifo.bin", "sub", "sub/../w.bin", "../secret.bin", "./w.bin", "nope.bin"]
    n = 0
    for i, loc in enumerate(files):
        for off, ln in (("0", "24"), ("16", None), (None, None), ("4090", "24")):
            w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, 3])
            w.data_location = TensorProto.EXTERNAL
            kv = [("location", loc)] + ([("offset", off)] if off else []) + ([("length", ln)] if ln else [])
            for k, v in kv:
                e = w.external_data.add()
                e.key, e.value = k, v
            g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
            m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
            put(d, m.SerializeToString())
            n += 1
    return n


def dicts():
    ops = re.findall(r'^OP\(\w+, "(\w+)"', open(os.path.join(REPO, "ir", "ops.def")).read(), re.M)
    attrs = ["axis", "axes", "perm", "kernel_shape", "strides", "pads", "dilations", "group",
             "alpha", "beta", "transA", "transB", "keepdims", "epsilon", "mode", "value", "to",
             "starts", "ends", "auto_pad", "ceil_mode", "batch_dims", "reduction", "blocksize"]
    keys = ["location", "offset", "length", "checksum", "w.bin", "sub/", "../", "in.bin",
            "out.bin", "hard.bin", "fifo.bin", "up/", "ai.onnx", "ai.onnx.ml"]
    with open(os.path.join(HERE, "onnx.dict"), "w") as f:
        f.write("# op, attribute and external-data names (tests/fuzz/make_seeds.py)\n")
        for w in sorted(set(ops)) + attrs + keys:
            f.write(f'"{w}"\n')
    with open(os.path.join(HERE, "npy.dict"), "w") as f:
        f.write("# .npy header words (tests/fuzz/make_seeds.py)\n")
        for w in ["\\x93NUMPY", "\\x01\\x00", "\\x02\\x00", "\\x03\\x00", "{'descr': ", "'descr'",
                  "'fortran_order'", "'shape'", "False", "True", "'<f4'", "'<f8'", "'<f2'",
                  "'|b1'", "'|u1'", "'|i1'", "'<i2'", "'<u2'", "'<i4'", "'<u4'", "'<i8'",
                  "'<u8'", "'>f4'", "'<c8'", "'|O'", "(", ")", ",)", "}", "9223372036854775807"]:
            f.write(f'"{w}"\n')


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    cases = sys.argv[1]
    print("model:", models(cases), "tensor_pb:", tensors(cases), "tensor_npy:", npys(),
          "external:", external())
    dicts()
    return 0


if __name__ == "__main__":
    sys.exit(main())
