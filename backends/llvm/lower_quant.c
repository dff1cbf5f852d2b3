/* QuantizeLinear and DequantizeLinear as maps over the output (passes/eval_quant.c is the
 * same arithmetic): x / scale in float32 (float64 for double input), llvm.roundeven,
 * saturated to int32 before the conversion, plus the zero point, clamped to the output
 * type; and (float32(q) - zero_point) * scale. */
#include "backends/llvm/lower_int.h"
#include "ir/infer_util.h"

#define I64(x) lw_i64(k, (x))

/* offset of the scale (and zero point) element for output index idx */
static LLVMValueRef scale_off(lw_t *k, const ir_node_t *n, const ir_quant_t *q, LLVMValueRef *idx) {
    if (q->mode == IR_QUANT_TENSOR) return I64(0);
    if (q->mode == IR_QUANT_AXIS) return idx[q->axis];
    const ir_value_t *s = n->in[1];
    int r = s->shape.rank;
    LLVMValueRef si[IR_MAX_RANK], st[IR_MAX_RANK];
    for (int d = 0; d < r; d++) si[d] = idx[d];
    si[q->axis] = LLVMBuildUDiv(k->b, idx[q->axis], I64(q->block), "");
    lw_strides(k, s, st);
    return lw_dot(k, si, st, r);
}

static LLVMValueRef clampi(lw_t *k, LLVMValueRef v, int64_t lo, int64_t hi) {
    v = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, v, I64(lo), ""), I64(lo), v, "");
    return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSGT, v, I64(hi), ""), I64(hi), v, "");
}

static LLVMValueRef elem_quant(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const ir_quant_t *q = ud;
    const ir_value_t *x = n->in[0], *sc = n->in[1], *zp = n->n_in > 2 ? n->in[2] : NULL;
    LLVMValueRef st[IR_MAX_RANK];
    lw_strides(k, x, st);
    LLVMValueRef xv = lw_load(k, x, lw_dot(k, idx, st, x->shape.rank)), so = scale_off(k, n, q, idx);
    ir_dtype_t qt = n->op == IR_OP_QUANTIZE_LINEAR ? q->out : x->dtype;
    /* float8 and float4 codes: the reference ignores a float8 zero point (it must be 0) and
     * adds a float4 one as a float */
    bool qfloat = ir_dtype_is_lowp(qt) && qt != IR_I4 && qt != IR_U4 && qt != IR_I2 && qt != IR_U2;
    LLVMValueRef z = zp && !qfloat ? lw_cast(k, lw_load(k, zp, so), zp->dtype, IR_I64) : I64(0);
    if (n->op == IR_OP_QUANTIZE_LINEAR) {
        ir_dtype_t ct = x->dtype == IR_F64 ? IR_F64 : IR_F32;
        LLVMValueRef v = LLVMBuildFDiv(k->b, lw_cast(k, xv, x->dtype, ct), lw_cast(k, lw_load(k, sc, so), sc->dtype, ct), "");
        if (qfloat) {
            if (zp && qt == IR_F4E2M1) v = LLVMBuildFAdd(k->b, v, lw_cast(k, lw_load(k, zp, so), zp->dtype, ct), "");
            return lw_cast_lowp(k, v, ct, qt, ir_attr_int(n, "saturate", 1) != 0, 0);
        }
        v = lw_fmath(k, "llvm.roundeven", ct, v);
        /* saturate before fptosi (poison out of range; NaN goes to 0 as in the evaluator) */
        v = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealUNO, v, v, ""), lw_const_f(k, ct, 0), v, "");
        v = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOLT, v, lw_const_f(k, ct, -2147483648.0), ""), lw_const_f(k, ct, -2147483648.0), v, "");
        v = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOGT, v, lw_const_f(k, ct, 2147483647.0), ""), lw_const_f(k, ct, 2147483647.0), v, "");
        LLVMValueRef y = LLVMBuildAdd(k->b, LLVMBuildFPToSI(k->b, v, k->i64, ""), z, "");
        int64_t lo = 0, hi = 255;
        switch (q->out) {
        case IR_I8: lo = -128, hi = 127; break;
        case IR_U16: lo = 0, hi = 65535; break;
        case IR_I16: lo = -32768, hi = 32767; break;
        case IR_I4: lo = -8, hi = 7; break;
        case IR_U4: hi = 15; break;
        case IR_I2: lo = -2, hi = 1; break;
        case IR_U2: hi = 3; break;
        default: break;
        }
        y = clampi(k, y, lo, hi);
        if (ir_dtype_is_lowp(q->out))   /* int4/int2 and friends: the low bits (ir/lowp.h) */
            y = LLVMBuildAnd(k->b, y, I64(hi - lo), "");
        return LLVMBuildTrunc(k->b, y, lw_type(k, q->out), "");
    }
    LLVMValueRef d = LLVMBuildFSub(k->b, lw_cast(k, xv, x->dtype, IR_F32), lw_cast(k, z, IR_I64, IR_F32), "");
    d = LLVMBuildFMul(k->b, d, lw_cast(k, lw_load(k, sc, so), sc->dtype, IR_F32), "");
    return lw_cast(k, d, IR_F32, q->out);
}

int lw_lower_quant(lw_t *k, const ir_node_t *n) {
    ir_quant_t q;
    if (ir_quant_params(k->g, n, &q)) return -1;
    return lw_emit_map(k, n, n->out[0], elem_quant, &q);
}

/* ---------------------------------------------------------------- MatMulInteger, QLinearMatMul */
/* A map over the output with the K loop inside, int32 accumulation (eval_qmatmul's
 * arithmetic). A correct baseline, not yet on the micro-kernel path. */
static void bstrides(lw_t *k, const ir_value_t *v, const ir_shape_t *out, LLVMValueRef *st) {
    LLVMValueRef s[IR_MAX_RANK];
    int r = v->shape.rank, R = out->rank;
    lw_strides(k, v, s);
    for (int d = 0; d < R - 2; d++) {
        int dv = d - (R - r);
        bool one = dv < 0 || (ir_dim_is_const(v->shape.dims[dv]) && v->shape.dims[dv].v == 1);
        st[d] = one ? I64(0) : s[dv];
    }
    st[R - 2] = s[r - 2];
    st[R - 1] = s[r - 1];
}

static LLVMValueRef zp_i32(lw_t *k, const ir_value_t *z) {
    return z ? lw_cast(k, lw_load(k, z, I64(0)), z->dtype, IR_I32) : lw_i32(k, 0);
}

static LLVMValueRef elem_qmatmul(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const ir_qmatmul_t *p = ud;
    int R = p->out.rank;
    LLVMValueRef ast[IR_MAX_RANK], bst[IR_MAX_RANK], ai[IR_MAX_RANK], bi[IR_MAX_RANK];
    bstrides(k, p->a, &p->out, ast);
    bstrides(k, p->b, &p->out, bst);
    for (int d = 0; d < R; d++) ai[d] = bi[d] = idx[d];
    ai[R - 1] = I64(0);   /* A (.., i, q), B (.., q, j): q added in the loop */
    bi[R - 2] = I64(0);
    LLVMValueRef ao = lw_dot(k, ai, ast, R), bo = lw_dot(k, bi, bst, R);
    LLVMValueRef azp = zp_i32(k, p->azp), bzp = zp_i32(k, p->bzp);
    LLVMValueRef acc = lw_alloca(k, k->i32, "acc");
    LLVMBuildStore(k->b, lw_i32(k, 0), acc);
    lw_loop_t l;
    lw_loop_begin(k, &l, I64(0), I64(p->K), "q");
    LLVMValueRef av = lw_cast(k, lw_load(k, p->a, LLVMBuildAdd(k->b, ao, LLVMBuildMul(k->b, l.iv, ast[R - 1], ""), "")), p->a->dtype, IR_I32);
    LLVMValueRef bv = lw_cast(k, lw_load(k, p->b, LLVMBuildAdd(k->b, bo, LLVMBuildMul(k->b, l.iv, bst[R - 2], ""), "")), p->b->dtype, IR_I32);
    LLVMValueRef prod = LLVMBuildMul(k->b, LLVMBuildSub(k->b, av, azp, ""), LLVMBuildSub(k->b, bv, bzp, ""), "");
    LLVMBuildStore(k->b, LLVMBuildAdd(k->b, LLVMBuildLoad2(k->b, k->i32, acc, ""), prod, ""), acc);
    lw_loop_end(k, &l);
    LLVMValueRef s = LLVMBuildLoad2(k->b, k->i32, acc, "");
    if (!p->as) return s;
    /* (a_scale * b_scale / y_scale) in the scales' own float type */
    ir_dtype_t st = p->as->dtype;
    LLVMValueRef m = LLVMBuildFDiv(k->b, LLVMBuildFMul(k->b, lw_load(k, p->as, I64(0)), lw_load(k, p->bs, I64(0)), ""),
                                   lw_load(k, p->ys, I64(0)), "");
    LLVMValueRef v = LLVMBuildFMul(k->b, LLVMBuildSIToFP(k->b, s, k->f64, ""), lw_cast(k, m, st, IR_F64), "");
    if (p->yzp) v = LLVMBuildFAdd(k->b, v, lw_cast(k, lw_load(k, p->yzp, I64(0)), p->yzp->dtype, IR_F64), "");
    v = lw_fmath(k, "llvm.roundeven", IR_F64, v);
    double lo = p->out_t == IR_I8 ? -128 : 0, hi = p->out_t == IR_I8 ? 127 : 255;
    v = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOLT, v, LLVMConstReal(k->f64, lo), ""), LLVMConstReal(k->f64, lo), v, "");
    v = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOGT, v, LLVMConstReal(k->f64, hi), ""), LLVMConstReal(k->f64, hi), v, "");
    v = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealUNO, v, v, ""), LLVMConstReal(k->f64, 0), v, "");
    return LLVMBuildTrunc(k->b, LLVMBuildFPToSI(k->b, v, k->i32, ""), lw_type(k, p->out_t), "");
}

int lw_lower_qmatmul(lw_t *k, const ir_node_t *n) {
    ir_qmatmul_t p;
    if (ir_qmatmul_params(k->g, n, &p)) return -1;
    return lw_emit_map(k, n, n->out[0], elem_qmatmul, &p);
}

/* ---------------------------------------------------------------- DynamicQuantizeLinear */
/* One serial kernel: a min/max pass, the scale and zero point (eval_dyn_quant's float32
 * arithmetic), then the quantizing pass. */
static LLVMValueRef fsel(lw_t *k, LLVMRealPredicate pr, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, pr, a, b, ""), a, b, "");
}
static LLVMValueRef clamp255(lw_t *k, LLVMValueRef v) {
    v = fsel(k, LLVMRealOGT, v, LLVMConstReal(k->f32, 0.0));
    return fsel(k, LLVMRealOLT, v, LLVMConstReal(k->f32, 255.0));
}

int lw_lower_dyn_quant(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *y = n->out[0], *ys = n->n_out > 1 ? n->out[1] : NULL, *yz = n->n_out > 2 ? n->out[2] : NULL;
    if (n->n_post) return lw_error(k, "fused post-ops on DynamicQuantizeLinear are not supported");
    ir_shape_t one = {.rank = 0};
    lw_kernel_begin_shape(k, n, &one, 0, 0);
    LLVMValueRef ne = lw_numel(k, x), mn = lw_alloca(k, k->f32, "mn"), mx = lw_alloca(k, k->f32, "mx");
    LLVMValueRef zero = LLVMConstReal(k->f32, 0.0);
    LLVMBuildStore(k->b, zero, mn);
    LLVMBuildStore(k->b, zero, mx);
    lw_loop_t l;
    lw_loop_begin(k, &l, I64(0), ne, "i");
    LLVMValueRef v = lw_load(k, x, l.iv);
    LLVMBuildStore(k->b, fsel(k, LLVMRealOLT, v, LLVMBuildLoad2(k->b, k->f32, mn, "")), mn);
    LLVMBuildStore(k->b, fsel(k, LLVMRealOGT, v, LLVMBuildLoad2(k->b, k->f32, mx, "")), mx);
    lw_loop_end(k, &l);
    LLVMValueRef a = LLVMBuildLoad2(k->b, k->f32, mn, ""), b = LLVMBuildLoad2(k->b, k->f32, mx, "");
    LLVMValueRef range = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOEQ, a, b, ""), LLVMConstReal(k->f32, 1.0),
                                         LLVMBuildFSub(k->b, b, a, ""), "");
    LLVMValueRef scale = LLVMBuildFDiv(k->b, range, LLVMConstReal(k->f32, 255.0), "");
    LLVMValueRef zp = LLVMBuildFSub(k->b, zero, LLVMBuildFDiv(k->b, a, scale, ""), "");
    zp = lw_fmath(k, "llvm.roundeven", IR_F32, clamp255(k, zp));
    lw_loop_begin(k, &l, I64(0), ne, "i");
    LLVMValueRef q = LLVMBuildFDiv(k->b, lw_load(k, x, l.iv), scale, "");
    q = clamp255(k, LLVMBuildFAdd(k->b, lw_fmath(k, "llvm.roundeven", IR_F32, q), zp, ""));
    q = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealUNO, q, q, ""), zero, q, "");
    lw_store(k, y, l.iv, LLVMBuildFPToUI(k->b, q, k->i8, ""));
    lw_loop_end(k, &l);
    if (ys) lw_store(k, ys, I64(0), scale);
    if (yz) lw_store(k, yz, I64(0), LLVMBuildFPToUI(k->b, zp, k->i8, ""));
    lw_kernel_end(k);
    return 0;
}

/* ---------------------------------------------------------------- ConvInteger, QLinearConv */
/* A map over the output with the channel and kernel-tap loops inside (eval_qconv's
 * arithmetic); taps outside x are skipped. A baseline, not yet on the micro-kernel. */
static LLVMValueRef per_channel(lw_t *k, const ir_value_t *v, LLVMValueRef m) {
    return lw_load(k, v, ir_shape_numel(&v->shape) > 1 ? m : I64(0));
}

static LLVMValueRef elem_qconv(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const ir_qconv_t *p = ud;
    const ir_window_t *W = &p->win;
    int ns = W->ns;
    int64_t K = 1;
    for (int d = 0; d < ns; d++) K *= W->k[d];
    LLVMValueRef xst[IR_MAX_RANK], wst[IR_MAX_RANK];
    lw_strides(k, p->x, xst);
    lw_strides(k, p->w, wst);
    LLVMValueRef m = idx[1], grp = LLVMBuildSDiv(k->b, m, I64(p->M / W->group), "");
    LLVMValueRef xzp = zp_i32(k, p->xzp), wzp = p->wzp ? lw_cast(k, per_channel(k, p->wzp, m), p->wzp->dtype, IR_I32) : lw_i32(k, 0);
    LLVMValueRef acc = lw_alloca(k, k->i32, "acc");
    LLVMBuildStore(k->b, p->bias ? per_channel(k, p->bias, m) : lw_i32(k, 0), acc);
    lw_loop_t lc, lk;
    lw_loop_begin(k, &lc, I64(0), I64(p->Cg), "c");
    lw_loop_begin(k, &lk, I64(0), I64(K), "kk");
    LLVMValueRef xo = LLVMBuildAdd(k->b, LLVMBuildMul(k->b, idx[0], xst[0], ""),
                                   LLVMBuildMul(k->b, LLVMBuildAdd(k->b, LLVMBuildMul(k->b, grp, I64(p->Cg), ""), lc.iv, ""), xst[1], ""), "");
    LLVMValueRef wo = LLVMBuildAdd(k->b, LLVMBuildMul(k->b, m, wst[0], ""), LLVMBuildMul(k->b, lc.iv, wst[1], ""), "");
    LLVMValueRef rem = lk.iv, in = LLVMConstInt(k->i1, 1, 0);
    for (int d = ns - 1; d >= 0; d--) {
        LLVMValueRef kd = LLVMBuildSRem(k->b, rem, I64(W->k[d]), "");
        rem = LLVMBuildSDiv(k->b, rem, I64(W->k[d]), "");
        LLVMValueRef i = LLVMBuildAdd(k->b, LLVMBuildSub(k->b, LLVMBuildMul(k->b, idx[2 + d], I64(W->s[d]), ""), I64(W->pb[d]), ""),
                                      LLVMBuildMul(k->b, kd, I64(W->d[d]), ""), "");
        LLVMValueRef ok = LLVMBuildICmp(k->b, LLVMIntULT, i, lw_dim(k, p->x, 2 + d), "");
        in = LLVMBuildAnd(k->b, in, ok, "");
        xo = LLVMBuildAdd(k->b, xo, LLVMBuildMul(k->b, LLVMBuildSelect(k->b, ok, i, I64(0), ""), xst[2 + d], ""), "");
        wo = LLVMBuildAdd(k->b, wo, LLVMBuildMul(k->b, kd, wst[2 + d], ""), "");
    }
    LLVMValueRef xv = LLVMBuildSub(k->b, lw_cast(k, lw_load(k, p->x, xo), p->x->dtype, IR_I32), xzp, "");
    LLVMValueRef wv = LLVMBuildSub(k->b, lw_cast(k, lw_load(k, p->w, wo), p->w->dtype, IR_I32), wzp, "");
    LLVMValueRef prod = LLVMBuildSelect(k->b, in, LLVMBuildMul(k->b, xv, wv, ""), lw_i32(k, 0), "");
    LLVMBuildStore(k->b, LLVMBuildAdd(k->b, LLVMBuildLoad2(k->b, k->i32, acc, ""), prod, ""), acc);
    lw_loop_end(k, &lk);
    lw_loop_end(k, &lc);
    LLVMValueRef s = LLVMBuildLoad2(k->b, k->i32, acc, "");
    if (!p->xs) return s;
    LLVMValueRef mult = LLVMBuildFDiv(k->b, LLVMBuildFMul(k->b, lw_cast(k, lw_load(k, p->xs, I64(0)), p->xs->dtype, IR_F32),
                                                          lw_cast(k, per_channel(k, p->ws, m), p->ws->dtype, IR_F32), ""),
                                      lw_cast(k, lw_load(k, p->ys, I64(0)), p->ys->dtype, IR_F32), "");
    LLVMValueRef v = LLVMBuildFMul(k->b, LLVMBuildSIToFP(k->b, s, k->f64, ""), LLVMBuildFPExt(k->b, mult, k->f64, ""), "");
    if (p->yzp) v = LLVMBuildFAdd(k->b, v, lw_cast(k, lw_load(k, p->yzp, I64(0)), p->yzp->dtype, IR_F64), "");
    double lo = p->out_t == IR_I8 ? -128 : 0, hi = p->out_t == IR_I8 ? 127 : 255;
    v = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOLT, v, LLVMConstReal(k->f64, lo), ""), LLVMConstReal(k->f64, lo), v, "");
    v = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOGT, v, LLVMConstReal(k->f64, hi), ""), LLVMConstReal(k->f64, hi), v, "");
    v = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealUNO, v, v, ""), LLVMConstReal(k->f64, 0), v, "");
    v = lw_fmath(k, "llvm.roundeven", IR_F64, v);
    return LLVMBuildTrunc(k->b, LLVMBuildFPToSI(k->b, v, k->i32, ""), lw_type(k, p->out_t), "");
}

int lw_lower_qconv(lw_t *k, const ir_node_t *n) {
    ir_qconv_t p;
    if (ir_qconv_params(k->g, n, &p)) return -1;
    return lw_emit_map(k, n, n->out[0], elem_qconv, &p);
}
