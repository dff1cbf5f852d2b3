"""Hostile models (issue 12), run by run_cli_tests.py: each must be refused with one line
naming the model and the reason, non-zero exit, no signal, nothing left behind.

The raw-bytes builders write protobuf by hand so a model can be nested or sized past
what the onnx package would build; `wire` below is the few encoding rules they need.
"""
import os

import numpy as np
from onnx import TensorProto, helper


def _varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num, payload):
    """A length-delimited field."""
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def nested(prefix_fields, core, depth):
    """`depth` levels of messages, each opened by the field numbers in prefix_fields
    (cycled), around `core`; built outside-in in linear time."""
    lens, heads = len(core), []
    fields = [prefix_fields[i % len(prefix_fields)] for i in range(depth)]
    for num in reversed(fields):
        h = _varint(num << 3 | 2) + _varint(lens)
        heads.append(h)
        lens += len(h)
    return b"".join(reversed(heads)) + core


def opset_field(version):
    # ModelProto.opset_import (8): OperatorSetIdProto{domain(1)="", version(2)}
    return _field(8, _varint(2 << 3) + _varint(version))


def deep_subgraphs(levels):
    """ModelProto.graph(7) -> GraphProto.node(1) -> NodeProto.attribute(5) ->
    AttributeProto.g(6) -> GraphProto ... : If-in-If nesting, `levels` graphs deep."""
    chain = [1, 5, 6] * levels
    inner = nested(chain, b"", len(chain))
    return _varint(1 << 3) + _varint(8) + opset_field(13) + _field(7, inner)


def deep_types(levels):
    """A graph input whose TypeProto is sequence(sequence(...)) `levels` deep:
    ValueInfoProto.type(2) -> TypeProto.sequence_type(4) -> Sequence.elem_type(1) -> ..."""
    chain = [4, 1] * levels
    t = nested(chain, b"", len(chain))
    vi = _field(1, b"x") + _field(2, t)
    graph = _field(11, vi) + _field(2, b"g")
    return _varint(1 << 3) + _varint(8) + opset_field(13) + _field(7, graph)


def many_nodes(n):
    """A graph claiming n empty nodes (2 bytes each on disk, ~100+ bytes unpacked)."""
    graph = b"\x0a\x00" * n
    return _varint(1 << 3) + _varint(8) + opset_field(13) + _field(7, graph)


def _mk(nodes, inputs, outputs, inits=(), opset=13, value_info=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits),
                          value_info=list(value_info))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def relu_model(opset=13, in_shape=(2, 3), value_info=()):
    return _mk([helper.make_node("Relu", ["x"], ["r"], name="relu0"),
                helper.make_node("Neg", ["r"], ["y"], name="neg0")],
               [_vi("x", list(in_shape))], [_vi("y", None)], opset=opset, value_info=value_info)


def rank9_initializer():
    w = TensorProto(name="w_rank9", data_type=TensorProto.FLOAT, dims=[1] * 9)
    w.raw_data = np.ones(1, np.float32).tobytes()
    return _mk([helper.make_node("Add", ["x", "w_rank9"], ["y"], name="add9")],
               [_vi("x", [1])], [_vi("y", None)], [w])


def int4_initializer(raw=None, int32=None):
    """A Cast of an int4 initializer of 3 elements (2 packed bytes) given raw or int32_data."""
    w = TensorProto(name="w4", data_type=TensorProto.INT4, dims=[3])
    if raw is not None:
        w.raw_data = raw
    else:
        w.int32_data.extend(int32)
    return _mk([helper.make_node("Cast", ["w4"], ["y"], name="cast4", to=TensorProto.FLOAT)],
               [], [_vi("y", None)], [w], opset=21)


def wrong_attr_type():
    # Transpose's perm is INTS; a FLOAT perm is not a permutation.
    n = helper.make_node("Transpose", ["x"], ["y"], name="tp_bad")
    n.attribute.append(helper.make_attribute("perm", 1.5))
    return _mk([n], [_vi("x", [2, 3])], [_vi("y", None)])


def wrong_input_dtype():
    # Sqrt takes floating-point tensors only.
    return _mk([helper.make_node("Sqrt", ["x"], ["y"], name="sqrt_int")],
               [_vi("x", [4], TensorProto.INT64)], [_vi("y", None)])


def robust_cases(r, tmp, save):
    d = os.path.join(tmp, "robust")
    os.makedirs(d, exist_ok=True)

    def raw(name, data):
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    # Each of these crashed protobuf-c's recursive unpacking (SIGSEGV) before the wire
    # walk refused them.
    p = raw("deep_types.onnx", deep_types(200000))
    r.case("robust: TypeProto nested 400,000 messages deep (was SIGSEGV)",
           lambda: r.bad_model(p, ("nesting", "100")))
    p2 = raw("deep_subgraphs.onnx", deep_subgraphs(40))
    r.case("robust: subgraphs nested 40 deep", lambda: r.bad_model(p2, ("subgraphs", "32")))
    p3 = raw("many_nodes.onnx", many_nodes(5_000_000))
    r.case("robust: 5 million empty nodes in a 10 MB file refused before unpacking",
           lambda: r.bad_model(p3, any_of=("MiB", "nodes")))
    p4 = raw("bad_length.onnx", _varint(1 << 3) + _varint(8) + b"\x3a\xff\xff\xff\x0f\x0a")
    r.case("robust: a field length past the end of the file names the byte",
           lambda: r.bad_model(p4, ("byte",)))

    p5 = save(relu_model(opset=99), os.path.join(d, "opset99.onnx"))
    r.case("robust: opset 99 of ai.onnx refused naming domain and version",
           lambda: r.bad_model(p5, ("ai.onnx", "99")))
    p6 = save(relu_model(in_shape=(2, -3)), os.path.join(d, "negdim_input.onnx"))
    r.case("robust: a negative dim in a graph input", lambda: r.bad_model(p6, ("'x'", "negative")))
    p7 = save(relu_model(value_info=[_vi("r", [2, -1])]), os.path.join(d, "negdim_vi.onnx"))
    r.case("robust: a negative dim in value_info", lambda: r.bad_model(p7, ("'r'", "negative")))
    p7b = save(_mk([helper.make_node("Relu", ["x"], ["y"], name="relu0")], [_vi("x", [2])],
                   [_vi("y", [-2])]), os.path.join(d, "negdim_out.onnx"))
    r.case("robust: a negative dim in a graph output", lambda: r.bad_model(p7b, ("'y'", "negative")))
    p8 = save(rank9_initializer(), os.path.join(d, "rank9.onnx"))
    r.case("robust: an initializer of rank 9", lambda: r.bad_model(p8, ("rank",)))
    p9 = save(wrong_attr_type(), os.path.join(d, "attr_type.onnx"))
    r.case("robust: an attribute of the wrong type", lambda: r.bad_model(p9, ("tp_bad", "perm")))
    p10 = save(wrong_input_dtype(), os.path.join(d, "dtype.onnx"))
    r.case("robust: an input dtype the op does not take", lambda: r.bad_model(p10, ("sqrt_int",)))
    # Found by fuzz_compile (tests/fuzz/regressions/fuzz_compile/hardmax_axis_64).
    p11 = save(_mk([helper.make_node("Hardmax", ["x"], ["y"], name="hm", axis=64)],
                   [_vi("x", [3, 4, 5])], [_vi("y", None)]), os.path.join(d, "hardmax_axis.onnx"))
    r.case("robust: Hardmax axis 64 on a rank-3 input", lambda: r.bad_model(p11, ("hm", "axis 64")))
    # Found by fuzz_compile (regressions/fuzz_compile/split_dim_int64_max): a dim of
    # 2^63 - 1 overflowed Split's chunk arithmetic.
    p12 = save(relu_model(in_shape=(2, 2**63 - 1)), os.path.join(d, "huge_dim.onnx"))
    r.case("robust: an input dim of 2^63 - 1", lambda: r.bad_model(p12, ("'x'", "2^40")))
    # Found by fuzz_compile (regressions/fuzz_compile/lrn_size_int64_min).
    p13 = save(_mk([helper.make_node("LRN", ["x"], ["y"], name="lrn0", size=-2**63)],
                   [_vi("x", [1, 5, 5, 5])], [_vi("y", None)]), os.path.join(d, "lrn_size.onnx"))
    r.case("robust: LRN size -2^63", lambda: r.bad_model(p13, ("lrn0", "size")))
    # Control flow (issue 8): subgraphs are new input.
    bool_t = TensorProto.BOOL

    def loop_model(body_nodes, body_in, body_out, name):
        body = helper.make_graph(body_nodes, "body", body_in, body_out)
        return save(_mk([helper.make_node("Loop", ["m", "", "y"], ["y_out"], name="loop0", body=body)],
                        [_vi("m", [], TensorProto.INT64), _vi("y", [2])], [_vi("y_out", None)]),
                    os.path.join(d, name))

    std_in = [_vi("i", [], TensorProto.INT64), _vi("c", [], bool_t), _vi("y_in", [2])]
    p14 = loop_model([helper.make_node("Add", ["y_in", "nowhere"], ["y_o"], name="add_bad"),
                      helper.make_node("Identity", ["c"], ["c_o"])], std_in,
                     [_vi("c_o", [], bool_t), _vi("y_o", [2])], "sub_unknown.onnx")
    r.case("robust: a body reads a name no enclosing graph defines",
           lambda: r.bad_model(p14, ("loop0", "add_bad", "'nowhere'", "enclosing")))
    p15 = loop_model([helper.make_node("Identity", ["c"], ["c_o"])], std_in[:2],
                     [_vi("c_o", [], bool_t)], "sub_signature.onnx")
    r.case("robust: a Loop body whose inputs do not match the node's",
           lambda: r.bad_model(p15, ("loop0", "body", "carried")))
    p16 = loop_model([helper.make_node("Concat", ["y_in", "y_in"], ["y_o"], name="grow", axis=0),
                      helper.make_node("Identity", ["c"], ["c_o"])], std_in,
                     [_vi("c_o", [], bool_t), _vi("y_o", None)], "sub_growing.onnx")
    r.case("robust: a loop-carried value that changes shape",
           lambda: r.bad_model(p16, ("loop0", "'y_in'", "must not change")))
    then_g = helper.make_graph([helper.make_node("Constant", [], ["a"], value_floats=[1.0, 2.0])], "then", [],
                               [_vi("a", [2])])
    else_g = helper.make_graph([helper.make_node("Constant", [], ["b"], value_floats=[1.0, 2.0, 3.0])], "else", [],
                               [_vi("b", [3])])
    p17 = save(_mk([helper.make_node("If", ["c"], ["r"], name="if0", then_branch=then_g, else_branch=else_g)],
                   [_vi("c", [], bool_t)], [_vi("r", None)]), os.path.join(d, "if_shapes.onnx"))
    r.case("robust: If branches of different shapes",
           lambda: r.bad_model(p17, ("if0", "then_branch", "else_branch")))
    # Sub-byte initializers: 3 int4 elements are 2 packed bytes, whatever the field.
    p18 = save(int4_initializer(raw=b"\x21\x43\x05"), os.path.join(d, "int4_raw.onnx"))
    r.case("robust: int4 raw_data of 3 bytes for 3 elements",
           lambda: r.bad_model(p18, ("'w4'", "raw_data has 3 bytes", "need 2")))
    p19 = save(int4_initializer(int32=[0x21]), os.path.join(d, "int4_i32.onnx"))
    r.case("robust: int4 int32_data of 1 value for 3 elements",
           lambda: r.bad_model(p19, ("'w4'", "int32_data has 1 values", "2 packed bytes")))
    p20 = save(_mk([helper.make_node("Add", ["x", "x"], ["y"], name="add_f8")],
                   [_vi("x", [4], TensorProto.FLOAT8E4M3FN)], [_vi("y", None)], opset=21),
               os.path.join(d, "add_f8.onnx"))
    r.case("robust: Add on float8 refused naming node and dtype",
           lambda: r.bad_model(p20, ("add_f8", "float8e4m3fn")))
    ok4 = save(int4_initializer(raw=b"\x21\x03"), os.path.join(d, "int4_ok.onnx"))
    r.case("robust: control: an int4 initializer of 3 elements in 2 bytes compiles",
           lambda: r.good_model(ok4))
    ok = save(relu_model(opset=28), os.path.join(d, "opset28.onnx"))
    r.case("robust: control: opset 28 (the newest supported) compiles",
           lambda: r.good_model(ok))


def ext_model(location, offset="0", length="24", extra=()):
    w = TensorProto(name="w_ext", data_type=TensorProto.FLOAT, dims=[2, 3])
    w.data_location = TensorProto.EXTERNAL
    kv = [("location", location)]
    if offset is not None:
        kv.append(("offset", offset))
    if length is not None:
        kv.append(("length", length))
    for k, v in list(kv) + list(extra):
        e = w.external_data.add()
        e.key, e.value = k, v
    return _mk([helper.make_node("Add", ["x", "w_ext"], ["y"], name="add_ext")],
               [_vi("x", [2, 3])], [_vi("y", None)], [w])


def external_cases(r, tmp, save):
    """External data (issue 12): each hostile layout beside a control that compiles, so
    a compiler refusing all external data cannot pass."""
    root = os.path.join(tmp, "ext")
    m = os.path.join(root, "model")
    os.makedirs(os.path.join(m, "sub"), exist_ok=True)
    data = np.arange(6, dtype=np.float32).tobytes()
    for name in ("w.bin", "sub/w.bin"):
        with open(os.path.join(m, name), "wb") as f:
            f.write(data)
    with open(os.path.join(root, "secret.bin"), "wb") as f:   # outside the model folder
        f.write(data)
    os.symlink("../secret.bin", os.path.join(m, "escape.bin"))
    os.symlink(root, os.path.join(m, "outdir"))
    os.symlink("w.bin", os.path.join(m, "inside.bin"))
    os.link(os.path.join(root, "secret.bin"), os.path.join(m, "hardlink.bin"))
    os.mkfifo(os.path.join(m, "fifo.bin"))

    def model(name, *a, **k):
        return save(ext_model(*a, **k), os.path.join(m, name))

    for label, loc in (("w.bin", "w.bin"), ("sub/w.bin", "sub/w.bin"),
                       ("sub/../w.bin, '..' staying inside", "sub/../w.bin")):
        p = model(f"ok_{len(label)}.onnx", loc)
        r.case(f"external: control: {label} compiles", lambda p=p: r.good_model(p))
    p = model("esc_link.onnx", "escape.bin")
    r.case("external: a symlink to a file outside the folder",
           lambda: r.bad_model(p, ("w_ext", "escape.bin")))
    p2 = model("esc_dir.onnx", "outdir/secret.bin")
    r.case("external: a path through a symlinked folder outside",
           lambda: r.bad_model(p2, ("w_ext", "outdir/secret.bin")))
    p3 = model("hardlink.onnx", "hardlink.bin")
    r.case("external: a hard link (two names for one file)",
           lambda: r.bad_model(p3, ("w_ext", "hard link")))
    p4 = model("fifo.onnx", "fifo.bin")
    r.case("external: a FIFO is refused, not waited on",
           lambda: r.bad_model(p4, ("w_ext", "regular")))
    p5 = model("unknown_key.onnx", "w.bin", extra=[("basepath", "/etc")])
    r.case("external: an unknown key", lambda: r.bad_model(p5, ("w_ext", "basepath")))
    p6 = model("neg_offset.onnx", "w.bin", offset="-8")
    r.case("external: a negative offset", lambda: r.bad_model(p6, ("w_ext", "-8")))
    p7 = model("big_offset.onnx", "w.bin", offset="99999999999999999999999")
    r.case("external: an offset overflowing int64", lambda: r.bad_model(p7, ("w_ext", "offset")))
    p8 = model("big_len.onnx", "w.bin", offset="16", length="9223372036854775807")
    r.case("external: offset + length overflowing", lambda: r.bad_model(p8, ("w_ext",)))
    p9 = model("len_dims.onnx", "w.bin", length="20")
    r.case("external: a length that disagrees with the dims",
           lambda: r.bad_model(p9, ("w_ext", "20", "24")))
    p10 = model("dir.onnx", "sub")
    r.case("external: a folder", lambda: r.bad_model(p10, ("w_ext", "regular")))


def data_check_cases(r, tmp, run, Fail, check_clean_failure):
    """Generated code checks what data can break (issue 12): Gather / GatherElements /
    GatherND / ScatterElements / ScatterND with indices out of range and integer Div / Mod
    by zero (also where a chain computes the divisor) make the program exit non-zero
    naming the node; the same programs on good data match onnxruntime."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    d = os.path.join(tmp, "datacheck")
    os.makedirs(d, exist_ok=True)
    I64 = TensorProto.INT64

    models = {
        "gather": (_mk([helper.make_node("Gather", ["x", "i"], ["y"], name="gather_dyn", axis=1)],
                       [_vi("x", [3, 5]), _vi("i", [4], I64)], [_vi("y", None)]),
                   [np.arange(15, dtype=np.float32).reshape(3, 5), np.array([0, 4, -5, 2], np.int64)],
                   [np.arange(15, dtype=np.float32).reshape(3, 5), np.array([0, 5, 1, 2], np.int64)],
                   [np.arange(15, dtype=np.float32).reshape(3, 5), np.array([1, -6, 1, 1], np.int64)]),
        "gather_el": (_mk([helper.make_node("GatherElements", ["x", "i"], ["y"], name="gel_dyn", axis=0)],
                          [_vi("x", [3, 2]), _vi("i", [2, 2], I64)], [_vi("y", None)]),
                      [np.arange(6, dtype=np.float32).reshape(3, 2), np.array([[2, 0], [-1, 1]], np.int64)],
                      [np.arange(6, dtype=np.float32).reshape(3, 2),
                       np.array([[2, 0], [1 << 40, 1]], np.int64)], None),
        "gather_nd": (_mk([helper.make_node("GatherND", ["x", "i"], ["y"], name="gnd_dyn")],
                          [_vi("x", [2, 3]), _vi("i", [2, 2], I64)], [_vi("y", None)]),
                      [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([[0, 1], [1, -1]], np.int64)],
                      [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([[0, 3], [1, 2]], np.int64)],
                      [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([[-3, 0], [0, 0]], np.int64)]),
        "div": (_mk([helper.make_node("Div", ["a", "b"], ["y"], name="div_int")],
                    [_vi("a", [4], TensorProto.INT32), _vi("b", [4], TensorProto.INT32)],
                    [_vi("y", None, TensorProto.INT32)]),
                [np.array([7, -7, 9, 100], np.int32), np.array([2, 3, -4, 7], np.int32)],
                [np.array([7, -7, 9, 100], np.int32), np.array([2, 0, -4, 7], np.int32)], None),
        "scatter_el": (_mk([helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], name="sel_dyn",
                                             axis=1)],
                           [_vi("x", [2, 3]), _vi("i", [2, 2], I64), _vi("u", [2, 2])], [_vi("y", None)]),
                       [np.zeros((2, 3), np.float32), np.array([[0, 2], [-1, 1]], np.int64),
                        np.array([[1, 2], [3, 4]], np.float32)],
                       [np.zeros((2, 3), np.float32), np.array([[0, 3], [1, 1]], np.int64),
                        np.array([[1, 2], [3, 4]], np.float32)], None),
        "scatter_nd": (_mk([helper.make_node("ScatterND", ["x", "i", "u"], ["y"], name="snd_dyn")],
                           [_vi("x", [4, 2]), _vi("i", [2, 1], I64), _vi("u", [2, 2])], [_vi("y", None)]),
                       [np.zeros((4, 2), np.float32), np.array([[3], [-4]], np.int64),
                        np.array([[1, 2], [3, 4]], np.float32)],
                       [np.zeros((4, 2), np.float32), np.array([[3], [4]], np.int64),
                        np.array([[1, 2], [3, 4]], np.float32)], None),
        # Found by fuzz_compile (regressions/fuzz_compile/conv_batch_0): a batch of 0
        # divided by zero in the schedule. It compiles and gives ORT's empty result.
        "conv_batch_0": (_mk([helper.make_node("Conv", ["x", "w"], ["y"], name="conv0",
                                               kernel_shape=[3, 3], strides=[2, 2])],
                             [_vi("x", [0, 17, 5, 5]), _vi("w", [126, 17, 3, 3])], [_vi("y", None)]),
                         [np.zeros((0, 17, 5, 5), np.float32),
                          np.ones((126, 17, 3, 3), np.float32)], None, None),
        # (a + b) / c and c / (a + b): an integer Div whose divisor an elementwise chain
        # would compute stays a node of its own, so its divisor is checked too.
        "chain": (_mk([helper.make_node("Add", ["a", "b"], ["s"], name="add0"),
                       helper.make_node("Div", ["s", "c"], ["y"], name="div_chain"),
                       helper.make_node("Div", ["c", "s"], ["z"], name="div_self")],
                      [_vi("a", [4], TensorProto.INT32), _vi("b", [4], TensorProto.INT32),
                       _vi("c", [4], TensorProto.INT32)],
                      [_vi("y", None, TensorProto.INT32), _vi("z", None, TensorProto.INT32)]),
                  [np.array([1, 2, 3, -4], np.int32), np.array([1, 5, 6, 7], np.int32),
                   np.array([3, -2, 5, 1], np.int32)],
                  [np.array([1, 2, 3, -4], np.int32), np.array([1, 5, 6, 7], np.int32),
                   np.array([3, 0, 5, 1], np.int32)],
                  [np.array([1, 2, 3, -4], np.int32), np.array([-1, 5, 6, 7], np.int32),
                   np.array([3, 2, 5, 1], np.int32)]),
        "mod": (_mk([helper.make_node("Mod", ["a", "b"], ["y"], name="mod_int")],
                    [_vi("a", [3], I64), _vi("b", [3], I64)], [_vi("y", None, I64)]),
                [np.array([7, -7, 9], np.int64), np.array([2, 3, -4], np.int64)],
                [np.array([7, -7, 9], np.int64), np.array([2, 3, 0], np.int64)], None),
    }
    node_of = {"gather": "gather_dyn", "gather_el": "gel_dyn", "gather_nd": "gnd_dyn", "div": "div_int",
               "mod": "mod_int", "chain": ["div_chain", "div_self"],
               "scatter_el": "sel_dyn", "scatter_nd": "snd_dyn"}
    what_of = {"gather": "out of range", "gather_el": "out of range", "gather_nd": "out of range",
               "div": "division by zero",
               "mod": "division by zero", "chain": "division by zero",
               "scatter_el": "out of range", "scatter_nd": "out of range"}

    def pbs(tag, arrs):
        paths = []
        for j, a in enumerate(arrs):
            p = os.path.join(d, f"{tag}_{j}.pb")
            with open(p, "wb") as f:
                f.write(numpy_helper.from_array(a).SerializeToString())
            paths.append(p)
        return paths

    for name, (m, good, bad, bad2) in models.items():
        mp = os.path.join(d, f"{name}.onnx")
        with open(mp, "wb") as f:
            f.write(m.SerializeToString())
        prog = os.path.join(d, f"{name}_prog")

        def good_run(name=name, m=m, mp=mp, prog=prog, good=good):
            rc, _, err = run([r.onnxc, mp, "--emit=exe", "-o", prog], d)
            if rc != 0:
                raise Fail(f"compile: exit {rc}: {err.strip()[:300]!r}")
            out = os.path.join(d, f"{name}_out")
            rc, _, err = run([prog] + pbs(f"{name}_good", good) + ["-o", out], d, 60)
            if rc != 0:
                raise Fail(f"good data: exit {rc}: {err.strip()[:300]!r}")
            t = onnx.TensorProto()
            with open(os.path.join(out, "output_0.pb"), "rb") as f:
                t.ParseFromString(f.read())
            got = numpy_helper.to_array(t)
            sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            want = sess.run(None, {i.name: a for i, a in zip(m.graph.input, good)})[0]
            if got.shape != want.shape or not np.array_equal(got, want):
                raise Fail(f"output {got.tolist()} != onnxruntime {want.tolist()}")
        r.case(f"data checks: {name} on good data matches onnxruntime", good_run)

        for k, arrs in enumerate([a for a in (bad, bad2) if a is not None]):
            def bad_run(name=name, prog=prog, arrs=arrs, k=k):
                if not os.path.isfile(prog):
                    raise Fail("no program (compile failed)")
                cwd = os.path.join(d, f"{name}_cwd{k}")
                os.makedirs(cwd, exist_ok=True)
                out = os.path.join(d, f"{name}_bad{k}")
                rc, _, err = run([prog] + pbs(f"{name}_bad{k}", arrs) + ["-o", out], cwd, 60)
                check_clean_failure(rc, err, cwd)
                node = node_of[name][k] if isinstance(node_of[name], list) else node_of[name]
                for s in (node, what_of[name]):
                    if s not in err:
                        raise Fail(f"message does not name {s!r}: {err.strip()[:300]!r}")
                if os.path.exists(os.path.join(out, "output_0.pb")):
                    raise Fail("output_0.pb written despite the error")
            r.case(f"data checks: {name} with bad data #{k + 1} exits non-zero naming the node",
                   bad_run)
