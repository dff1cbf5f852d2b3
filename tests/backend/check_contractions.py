"""Focused correctness check of onnxc's Conv/Gemm/MatMul micro-kernel paths (and their
fallbacks) against onnxruntime: 62 small models built with onnx.helper, run at 1 and 2
threads. usage: check_contractions.py [ONNXC] [ONLY_NAME]"""
import os, subprocess, sys, tempfile, numpy as np, onnx, onnxruntime as ort
from onnx import helper as H, TensorProto as TP, numpy_helper as NH
ONNXC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "onnxc")
ONLY = sys.argv[2] if len(sys.argv) > 2 else None
D = tempfile.mkdtemp(prefix="onnxc-contractions-")
rng = np.random.default_rng(0)
cases = []

def vi(name, shape): return H.make_tensor_value_info(name, TP.FLOAT, shape)
def add_case(name, nodes, inputs, inits, out_shape_names):
    cases.append((name, nodes, inputs, inits, out_shape_names))

def conv_case(name, N, C, Hh, W, OC, k, s=1, p=None, d=1, bias=True, post=None, pads=None, auto_pad=None, group=1, wconst=True, one_d=False):
    ks = [k] if one_d else [k, k]
    xs = [N, C, W] if one_d else [N, C, Hh, W]
    wv = rng.standard_normal([OC, C // group] + ks).astype(np.float32) * 0.3
    attrs = dict(kernel_shape=ks, strides=[s] * len(ks), dilations=[d] * len(ks), group=group)
    if auto_pad: attrs["auto_pad"] = auto_pad
    else: attrs["pads"] = pads if pads else [p if p is not None else k // 2] * (2 * len(ks))
    ins = ["x", "w"] + (["b"] if bias else [])
    inits = []
    inputs = [("x", xs)]
    if wconst: inits.append(NH.from_array(wv, "w"))
    else: inputs.append(("w", list(wv.shape)))
    if bias: inits.append(NH.from_array(rng.standard_normal(OC).astype(np.float32), "b"))
    nodes = [H.make_node("Conv", ins, ["c"], **attrs)]
    last = "c"
    for q, op in enumerate(post or []):
        o = f"p{q}"
        if op == "Relu": nodes.append(H.make_node("Relu", [last], [o]))
        elif op == "Clip": nodes.append(H.make_node("Clip", [last, "lo", "hi"], [o])); inits += [NH.from_array(np.array(0, np.float32), "lo"), NH.from_array(np.array(6, np.float32), "hi")]
        elif op == "AddRes": nodes.append(H.make_node("Add", [last, "res"], [o])); inputs.append(("res", None))
        elif op.startswith("AddW"): nodes.append(H.make_node("Add", [last, "aw"], [o])); inits.append(NH.from_array(rng.standard_normal([int(op[4:])]).astype(np.float32), "aw"))
        elif op.startswith("SubSwapRes"): nodes.append(H.make_node("Sub", ["res", last], [o])); inputs.append(("res", None))
        elif op == "Sigmoid": nodes.append(H.make_node("Sigmoid", [last], [o]))
        elif op == "MulChan": nodes.append(H.make_node("Mul", [last, "mc"], [o])); inits.append(NH.from_array(rng.standard_normal([OC, 1] if one_d else [OC, 1, 1]).astype(np.float32), "mc"))
        last = o
    nodes.append(H.make_node("Identity", [last], ["y"]))
    add_case(name, nodes, inputs, inits, None)

conv_case("c1x1_tail", 1, 16, 7, 7, 10, 1, p=0)
conv_case("c1x1_b2", 2, 8, 5, 9, 13, 1, p=0, bias=False)
conv_case("c1x1_big", 1, 64, 14, 14, 70, 1, p=0, post=["Relu"])
conv_case("c1x1_s2", 1, 24, 9, 11, 30, 1, s=2, p=0)
conv_case("c3_small", 1, 5, 9, 11, 7, 3)
conv_case("c3_relu_b2", 2, 16, 8, 8, 12, 3, post=["Relu"])
conv_case("c3_s2", 1, 16, 15, 13, 19, 3, s=2)
conv_case("c7_s2", 1, 3, 32, 32, 8, 7, s=2, p=3)
conv_case("c3_dil2", 1, 6, 12, 12, 9, 3, d=2, p=2)
conv_case("c3_asym", 1, 6, 10, 9, 5, 3, pads=[0, 1, 1, 0])
conv_case("c3_same", 1, 6, 10, 9, 5, 3, s=2, auto_pad="SAME_UPPER")
conv_case("c3_valid", 1, 4, 10, 9, 5, 3, auto_pad="VALID", bias=False)
conv_case("c3_chunks_res", 1, 64, 9, 10, 33, 3, post=["AddRes", "Relu"])
conv_case("c3_bigK", 2, 100, 7, 7, 20, 3, post=["Clip"])
conv_case("c1d", 1, 4, 1, 20, 6, 3, one_d=True)
conv_case("c1d_s2", 2, 4, 1, 21, 6, 5, s=2, one_d=True, post=["MulChan"])
conv_case("cgroup2", 1, 8, 6, 6, 6, 3, group=2)
conv_case("cdw", 1, 8, 6, 6, 8, 3, group=8, post=["Relu"])
# depthwise (backends/llvm/lower_dwconv.c): odd sizes, row/column block tails, strides,
# dilation, asymmetric and SAME pads, vector and scalar post-ops, widths below one vector
conv_case("dw3_odd", 1, 7, 9, 33, 7, 3, group=7, post=["Relu"])
conv_case("dw3_s2_clip", 1, 5, 15, 17, 5, 3, s=2, group=5, post=["Clip"])
conv_case("dw5_w7", 1, 3, 7, 7, 3, 5, group=3)
conv_case("dw7_b2", 2, 6, 12, 13, 6, 7, group=6, post=["Sigmoid"])
conv_case("dw7_s2", 1, 3, 33, 33, 3, 7, s=2, p=3, group=3)
conv_case("dw3_dil2", 1, 4, 12, 12, 4, 3, d=2, p=2, group=4)
conv_case("dw3_asym", 1, 4, 10, 9, 4, 3, pads=[0, 1, 1, 0], group=4, bias=False)
conv_case("dw3_same_s2", 1, 4, 10, 9, 4, 3, s=2, auto_pad="SAME_UPPER", group=4)
conv_case("dw3_valid", 1, 4, 10, 11, 4, 3, auto_pad="VALID", group=4)
conv_case("dw3_w1", 1, 3, 5, 1, 3, 3, group=3)
conv_case("dw3_w4_h2", 1, 3, 2, 4, 3, 3, group=3)
conv_case("dw3_res", 1, 9, 8, 19, 9, 3, group=9, post=["AddRes", "MulChan"])
conv_case("dw_wvar", 1, 5, 9, 10, 5, 3, group=5, wconst=False)
conv_case("dw1d_s2", 1, 6, 1, 40, 6, 5, s=2, group=6, one_d=True, post=["Relu"])
conv_case("dw3_wide", 1, 2, 5, 130, 2, 3, group=2)
conv_case("c_wvar", 1, 7, 6, 6, 9, 3, wconst=False)
conv_case("c1x1_sig", 1, 12, 6, 6, 11, 1, p=0, post=["Sigmoid", "MulChan"])
conv_case("c1x1_bigK", 1, 300, 9, 9, 20, 1, p=0, post=["AddRes"])
conv_case("c1x1_s2_bigK", 2, 300, 9, 9, 14, 1, s=2, p=0, post=["Relu"])
conv_case("c3_wide", 1, 8, 20, 23, 9, 3)
conv_case("c_addw", 1, 16, 7, 7, 10, 1, p=0, post=["AddW7", "Relu"])
conv_case("c3_addw_chunks", 1, 40, 9, 9, 10, 3, post=["AddW9", "SubSwapRes"])
conv_case("c5_pad0", 1, 3, 11, 11, 4, 5, p=0)

def gemm_case(name, M, K, N, ta=0, tb=0, alpha=1.0, beta=1.0, cshape=None, bconst=True, relu=False):
    a_shape = [K, M] if ta else [M, K]
    b_shape = [N, K] if tb else [K, N]
    inputs = [("a", a_shape)]
    inits = []
    bv = rng.standard_normal(b_shape).astype(np.float32)
    if bconst: inits.append(NH.from_array(bv, "bb"))
    else: inputs.append(("bb", b_shape))
    ins = ["a", "bb"]
    if cshape is not None:
        inits.append(NH.from_array(rng.standard_normal(cshape).astype(np.float32), "cc")); ins.append("cc")
    nodes = [H.make_node("Gemm", ins, ["g"], transA=ta, transB=tb, alpha=alpha, beta=beta)]
    last = "g"
    if relu: nodes.append(H.make_node("Relu", ["g"], ["r"])); last = "r"
    nodes.append(H.make_node("Identity", [last], ["y"]))
    add_case(name, nodes, inputs, inits, None)

gemm_case("g_basic", 5, 7, 9, cshape=[9])
gemm_case("g_ta", 13, 17, 33, ta=1, cshape=[13, 33])
gemm_case("g_tb", 13, 17, 33, tb=1, cshape=[13, 1], alpha=0.5, beta=2.0, relu=True)
gemm_case("g_tab", 6, 20, 16, ta=1, tb=1, cshape=[])
gemm_case("g_nonconst", 7, 9, 40, bconst=False, cshape=[1, 40])
gemm_case("g_nonconst_tb", 7, 9, 40, tb=1, bconst=False)
gemm_case("g_fc", 1, 300, 100, tb=1, cshape=[100])
gemm_case("g_bigK", 9, 600, 70, cshape=[70], bconst=False)
gemm_case("g_bigK_tb", 3, 700, 150, tb=1, cshape=[3, 150], relu=True)
gemm_case("g_beta0", 4, 5, 6, cshape=[4, 6], beta=0.0)

def mm_case(name, ashape, bshape, bconst=False, post=None):
    inputs = [("a", ashape)]
    inits = []
    bv = rng.standard_normal(bshape).astype(np.float32)
    if bconst: inits.append(NH.from_array(bv, "bb"))
    else: inputs.append(("bb", bshape))
    nodes = [H.make_node("MatMul", ["a", "bb"], ["m"])]
    last = "m"
    if post == "AddBias":
        inits.append(NH.from_array(rng.standard_normal(bshape[-1]).astype(np.float32), "bias"))
        nodes.append(H.make_node("Add", ["m", "bias"], ["m2"])); last = "m2"
    if post == "Relu": nodes.append(H.make_node("Relu", ["m"], ["m2"])); last = "m2"
    nodes.append(H.make_node("Identity", [last], ["y"]))
    add_case(name, nodes, inputs, inits, None)

mm_case("m_const3d", [3, 5, 17], [17, 33], bconst=True, post="AddBias")
mm_case("m_batch", [2, 3, 7, 9], [2, 3, 9, 20])
mm_case("m_bcast", [1, 3, 7, 9], [2, 1, 9, 4], post="Relu")
mm_case("m_a1d", [9], [9, 6])
mm_case("m_b1d", [4, 9], [9])
mm_case("m_bconst_b1", [2, 5, 9], [1, 9, 6], bconst=True)
mm_case("m_bconst_batched", [2, 5, 9], [2, 9, 6], bconst=True)
mm_case("m_big", [1, 40, 64], [64, 130], bconst=True)
mm_case("m_bigK", [2, 13, 300], [2, 300, 77])
mm_case("m_att", [1, 4, 30, 16], [1, 4, 16, 30])
mm_case("m_a3d_b3d_bcast", [4, 7, 9], [9, 11])

os.makedirs(D, exist_ok=True)
fails = 0
for name, nodes, inputs, inits, _ in cases:
    if ONLY and ONLY not in name: continue
    # infer output shape with ORT later; declare outputs with no shape
    feeds = {}
    gin = []
    for nm, shp in inputs:
        if shp is None:  # residual: same as conv output, discovered by a first ORT run
            continue
        feeds[nm] = rng.standard_normal(shp).astype(np.float32)
        gin.append(vi(nm, shp))
    def mk(gin):
        g = H.make_graph(nodes, name, gin, [H.make_tensor_value_info("y", TP.FLOAT, None)], inits)
        m = H.make_model(g, opset_imports=[H.make_opsetid("", 13)]); m.ir_version = 8
        return m
    res = [nm for nm, shp in inputs if shp is None]
    if res:
        # shape of the conv output, from a model without the residual
        tmp_nodes = [nodes[0], H.make_node("Identity", [nodes[0].output[0]], ["y"])]
        g = H.make_graph(tmp_nodes, "t", gin, [H.make_tensor_value_info("y", TP.FLOAT, None)], [i for i in inits if i.name in nodes[0].input])
        m = H.make_model(g, opset_imports=[H.make_opsetid("", 13)]); m.ir_version = 8
        shp = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {k2: v for k2, v in feeds.items() if k2 in nodes[0].input})[0].shape
        for nm in res:
            feeds[nm] = rng.standard_normal(shp).astype(np.float32); gin.append(vi(nm, list(shp)))
    m = mk(gin)
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    # give onnxc the output shape
    m.graph.output[0].CopyFrom(vi("y", list(want.shape)))
    p = f"{D}/{name}.onnx"; onnx.save(m, p)
    exe = f"{D}/{name}"
    r = subprocess.run([ONNXC, p, "--emit=exe", "-o", exe], capture_output=True, text=True)
    if r.returncode:
        print(f"FAIL {name}: compile: {r.stderr.strip()}"); fails += 1; continue
    args = []
    for gi in m.graph.input:
        f = f"{D}/{name}_{gi.name}.pb"
        with open(f, "wb") as fh: fh.write(NH.from_array(feeds[gi.name], gi.name).SerializeToString())
        args.append(f)
    for th in ("1", "2"):
        od = f"{D}/{name}_out{th}"
        r = subprocess.run([exe] + args + ["-o", od, "--threads", th], capture_output=True, text=True)
        if r.returncode:
            print(f"FAIL {name}: run: {r.stderr.strip()}"); fails += 1; break
        t = onnx.TensorProto(); t.ParseFromString(open(f"{od}/output_0.pb", "rb").read())
        got = NH.to_array(t)
        if got.shape != want.shape:
            print(f"FAIL {name}: shape {got.shape} vs {want.shape}"); fails += 1; break
        err = np.abs(got - want); tol = 1e-5 + 1e-3 * np.abs(want)
        if not (err <= tol).all() or np.isnan(got).any():
            print(f"FAIL {name} threads={th}: max err {err.max():.3g} at {np.unravel_index(np.argmax(err - tol), err.shape)}"); fails += 1; break
    else:
        print(f"ok   {name} {want.shape} maxerr {err.max():.2g}")
import shutil
shutil.rmtree(D, ignore_errors=True)
print(f"{len(cases) - fails} passed, {fails} failed")
sys.exit(1 if fails else 0)
