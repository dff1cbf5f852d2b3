/* Contractions, pooling, normalisation, softmax and reductions.
 * Loop orders are chosen so the innermost loop is unit-stride over the output, which
 * LLVM's loop vectorizer turns into vector FMAs. Register-tiled micro-kernels are the
 * next step (see docs); these are the correct, reasonably fast baseline. */
#include <math.h>
#include <string.h>

#include "backends/llvm/lower_int.h"
#include "ir/infer_util.h"

static int norm_axis(int64_t a, int r) { return (int)(a < 0 ? a + r : a); }

static LLVMValueRef fmuladd(lw_t *k, ir_dtype_t t, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
    if (!ir_dtype_is_float(t)) return LLVMBuildAdd(k->b, LLVMBuildMul(k->b, a, b, ""), c, "");
    return lw_intrin(k, "llvm.fmuladd", lw_type(k, t), (LLVMValueRef[]){a, b, c}, 3);
}

/* An add that may be reassociated so reductions vectorize. */
static LLVMValueRef radd(lw_t *k, ir_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
    if (!ir_dtype_is_float(t)) return LLVMBuildAdd(k->b, a, b, "");
    LLVMValueRef r = LLVMBuildFAdd(k->b, a, b, "");
    LLVMSetFastMathFlags(r, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
    return r;
}

static LLVMValueRef smax64(lw_t *k, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSGT, a, b, ""), a, b, "");
}
static LLVMValueRef smin64(lw_t *k, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, a, b, ""), a, b, "");
}
/* floor(a / s) for s > 0 */
static LLVMValueRef floordiv(lw_t *k, LLVMValueRef a, int64_t s) {
    LLVMValueRef q = LLVMBuildSDiv(k->b, a, lw_i64(k, s), "");
    LLVMValueRef r = LLVMBuildSRem(k->b, a, lw_i64(k, s), "");
    LLVMValueRef adj = LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntNE, r, lw_i64(k, 0), ""),
                                    LLVMBuildICmp(k->b, LLVMIntSLT, a, lw_i64(k, 0), ""), "");
    return LLVMBuildSub(k->b, q, LLVMBuildZExt(k->b, adj, k->i64, ""), "");
}
static LLVMValueRef ceildiv(lw_t *k, LLVMValueRef a, int64_t s) {
    return LLVMBuildNeg(k->b, floordiv(k, LLVMBuildNeg(k->b, a, ""), s), "");
}

/* ---------------------------------------------------------------- geometry */
#define MAXSP 3
typedef struct {
    int nsp;                       /* spatial rank */
    int64_t in[MAXSP], out[MAXSP], kern[MAXSP], stride[MAXSP], dil[MAXSP], pb[MAXSP], pe[MAXSP];
    ir_dim_t din[MAXSP], dout[MAXSP];   /* in/out as dims: symbolic spatial sizes are run-time values */
} geom_t;

/* The window geometry of a conv/pool, from ir_window_params: the same numbers shape
 * inference used, auto_pad already resolved. w: the weights (NULL for pools). */
static int get_geom(lw_t *k, const ir_node_t *n, const ir_value_t *x, const ir_value_t *y, const ir_value_t *w,
                    bool transposed, geom_t *gm) {
    int r = x->shape.rank;
    gm->nsp = r - 2;
    if (gm->nsp < 1 || gm->nsp > MAXSP) return lw_error(k, "%d spatial dimensions are not supported", gm->nsp);
    ir_window_t W;
    const ir_shape_t *ws = w ? &w->shape : NULL;
    if (transposed ? ir_window_params_transposed(k->g, n, &x->shape, ws, &W) : ir_window_params(k->g, n, &x->shape, ws, &W))
        return -1;
    for (int i = 0; i < gm->nsp; i++) {
        gm->in[i] = x->shape.dims[i + 2].v;
        gm->out[i] = y->shape.dims[i + 2].v;
        gm->din[i] = x->shape.dims[i + 2];
        gm->dout[i] = y->shape.dims[i + 2];
        gm->kern[i] = W.k[i];
        gm->stride[i] = W.s[i];
        gm->dil[i] = W.d[i];
        gm->pb[i] = W.pb[i];
        gm->pe[i] = W.pe[i];
    }
    return 0;
}

/* ---------------------------------------------------------------- Conv */
/* Any spatial rank, one output element at a time: the fallback for 3-D convolutions. */
typedef struct { geom_t gm; int64_t Cg, OCg, C; } convg_t;

static LLVMValueRef elem_conv_generic(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const convg_t *c = ud;
    const geom_t *gm = &c->gm;
    const ir_value_t *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL;
    ir_dtype_t t = n->out[0]->dtype;
    LLVMValueRef acc = lw_alloca(k, lw_type(k, t), "acc");
    LLVMBuildStore(k->b, bias ? lw_load(k, bias, idx[1]) : lw_const_f(k, t, 0), acc);
    LLVMValueRef grp = LLVMBuildSDiv(k->b, idx[1], lw_i64(k, c->OCg), "");
    lw_loop_t lc, lk[MAXSP];
    lw_loop_begin(k, &lc, lw_i64(k, 0), lw_i64(k, c->Cg), "icl");
    LLVMValueRef ic = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, grp, lw_i64(k, c->Cg), ""), lc.iv, "");
    LLVMValueRef valid = LLVMConstInt(k->i1, 1, 0);
    LLVMValueRef xoff = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, idx[0], lw_i64(k, c->C), ""), ic, "");
    LLVMValueRef woff = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, idx[1], lw_i64(k, c->Cg), ""), lc.iv, "");
    for (int s = 0; s < gm->nsp; s++) {
        lw_loop_begin(k, &lk[s], lw_i64(k, 0), lw_i64(k, gm->kern[s]), "k");
        LLVMValueRef i = LLVMBuildNSWAdd(k->b, LLVMBuildNSWSub(k->b, LLVMBuildNSWMul(k->b, idx[2 + s], lw_i64(k, gm->stride[s]), ""), lw_i64(k, gm->pb[s]), ""),
                                         LLVMBuildNSWMul(k->b, lk[s].iv, lw_i64(k, gm->dil[s]), ""), "");
        LLVMValueRef ok = LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntSGE, i, lw_i64(k, 0), ""),
                                       LLVMBuildICmp(k->b, LLVMIntSLT, i, lw_dim_value(k, gm->din[s]), ""), "");
        valid = LLVMBuildAnd(k->b, valid, ok, "");
        i = LLVMBuildSelect(k->b, ok, i, lw_i64(k, 0), "");
        xoff = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, xoff, lw_dim_value(k, gm->din[s]), ""), i, "");
        woff = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, woff, lw_i64(k, gm->kern[s]), ""), lk[s].iv, "");
    }
    lw_if_t f;
    lw_if_begin(k, &f, valid);
    LLVMValueRef cur = LLVMBuildLoad2(k->b, lw_type(k, t), acc, "");
    LLVMBuildStore(k->b, fmuladd(k, t, lw_load(k, x, xoff), lw_load(k, w, woff), cur), acc);
    lw_if_end(k, &f);
    for (int s = gm->nsp - 1; s >= 0; s--) lw_loop_end(k, &lk[s]);
    lw_loop_end(k, &lc);
    return LLVMBuildLoad2(k->b, lw_type(k, t), acc, "");
}

int lw_lower_conv(lw_t *k, const ir_node_t *n) {
    int fast = lw_fast_conv(k, n);
    if (fast <= 0) return fast;
    const ir_value_t *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL, *y = n->out[0];
    ir_dtype_t t = y->dtype;
    if (!ir_dtype_is_float(t)) return lw_error(k, "Conv on %s is not supported", ir_dtype_name(t));
    geom_t gm;
    if (get_geom(k, n, x, y, w, false, &gm)) return -1;
    if (x->shape.dims[1].sym >= 0 || w->shape.dims[0].sym >= 0) return lw_error(k, "symbolic channel counts are not supported");
    if (gm.nsp > 2) {
        convg_t c = {gm, 0, 0, x->shape.dims[1].v};
        int64_t G = ir_attr_int(n, "group", 1);
        if (G < 1 || c.C % G || y->shape.dims[1].v % G) return lw_error(k, "group does not divide the channels");
        c.Cg = c.C / G;
        c.OCg = y->shape.dims[1].v / G;
        return lw_emit_map(k, n, y, elem_conv_generic, &c);
    }
    /* 1-D is 2-D with a unit height */
    ir_dim_t dH = gm.nsp == 2 ? gm.din[0] : ir_dim_const(1), dW = gm.din[gm.nsp - 1];
    ir_dim_t dOH = gm.nsp == 2 ? gm.dout[0] : ir_dim_const(1), dOW = gm.dout[gm.nsp - 1];
    int64_t KH = gm.nsp == 2 ? gm.kern[0] : 1, KW = gm.kern[gm.nsp - 1];
    int64_t sh = gm.nsp == 2 ? gm.stride[0] : 1, sw = gm.stride[gm.nsp - 1];
    int64_t dh = gm.nsp == 2 ? gm.dil[0] : 1, dw = gm.dil[gm.nsp - 1];
    int64_t ph = gm.nsp == 2 ? gm.pb[0] : 0, pw = gm.pb[gm.nsp - 1];
    int64_t C = x->shape.dims[1].v, OC = y->shape.dims[1].v, G = ir_attr_int(n, "group", 1);
    if (G < 1 || C % G || OC % G) return lw_error(k, "group %lld does not divide the channels", (long long)G);
    int64_t Cg = C / G, OCg = OC / G;
    if (G > 1 && ir_dim_is_const(dH) && ir_dim_is_const(dW) && ir_dim_is_const(dOH) && ir_dim_is_const(dOW)) {
        /* the depthwise kernel works on static planes; symbolic ones take the loop nest */
        lw_dwconv_t dwc = {G, dH.v, dW.v, dOH.v, dOW.v, KH, KW, sh, sw, dh, dw, ph, pw};
        int r = lw_lower_dwconv(k, n, &dwc);
        if (r <= 0) return r;
    }

    lw_kernel_begin_range(k, n, y, 0, 2);
    /* spatial sizes: constants, or run-time values for symbolic dims */
    LLVMValueRef H = lw_dim_value(k, dH), W = lw_dim_value(k, dW), OH = lw_dim_value(k, dOH), OW = lw_dim_value(k, dOW);
    LLVMValueRef OHW = LLVMBuildNSWMul(k->b, OH, OW, ""), HW = LLVMBuildNSWMul(k->b, H, W, "");
    lw_loop_t lt;
    lw_loop_begin(k, &lt, k->begin, k->end, "t");
    LLVMValueRef tt = lt.iv;
    LLVMValueRef nn = LLVMBuildSDiv(k->b, tt, lw_i64(k, OC), "n");
    LLVMValueRef oc = LLVMBuildSRem(k->b, tt, lw_i64(k, OC), "oc");
    LLVMValueRef grp = LLVMBuildSDiv(k->b, oc, lw_i64(k, OCg), "g");
    LLVMValueRef obase = LLVMBuildNSWMul(k->b, tt, OHW, "");
    LLVMValueRef b0 = bias ? lw_load(k, bias, oc) : lw_const_f(k, t, 0);
    LLVMValueRef yb = lw_base(k, y), xb = lw_base(k, x), wb = lw_base(k, w);
    LLVMTypeRef ty = lw_type(k, t);
    lw_loop_t lp;
    lw_loop_begin(k, &lp, lw_i64(k, 0), OHW, "p");
    LLVMBuildStore(k->b, b0, LLVMBuildGEP2(k->b, ty, yb, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, obase, lp.iv, "")}, 1, ""));
    lw_loop_end(k, &lp);

    lw_loop_t lc, lkh, lkw, loh, low;
    lw_loop_begin(k, &lc, lw_i64(k, 0), lw_i64(k, Cg), "icl");
    LLVMValueRef ic = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, grp, lw_i64(k, Cg), ""), lc.iv, "ic");
    LLVMValueRef ibase = LLVMBuildNSWMul(k->b, LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, nn, lw_i64(k, C), ""), ic, ""),
                                         HW, "");
    LLVMValueRef wrow = LLVMBuildNSWMul(k->b, LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, oc, lw_i64(k, Cg), ""), lc.iv, ""),
                                        lw_i64(k, KH * KW), "");
    lw_loop_begin(k, &lkh, lw_i64(k, 0), lw_i64(k, KH), "kh");
    /* oh range where ih = oh*sh - ph + kh*dh lies in [0, H) */
    LLVMValueRef offh = LLVMBuildSub(k->b, lw_i64(k, ph), LLVMBuildNSWMul(k->b, lkh.iv, lw_i64(k, dh), ""), "");
    LLVMValueRef oh_lo = smax64(k, lw_i64(k, 0), ceildiv(k, offh, sh));
    LLVMValueRef oh_hi = smin64(k, OH, LLVMBuildAdd(k->b, floordiv(k, LLVMBuildAdd(k->b, LLVMBuildSub(k->b, H, lw_i64(k, 1), ""), offh, ""), sh), lw_i64(k, 1), ""));
    lw_loop_begin(k, &lkw, lw_i64(k, 0), lw_i64(k, KW), "kw");
    LLVMValueRef offw = LLVMBuildSub(k->b, lw_i64(k, pw), LLVMBuildNSWMul(k->b, lkw.iv, lw_i64(k, dw), ""), "");
    LLVMValueRef ow_lo = smax64(k, lw_i64(k, 0), ceildiv(k, offw, sw));
    LLVMValueRef ow_hi = smin64(k, OW, LLVMBuildAdd(k->b, floordiv(k, LLVMBuildAdd(k->b, LLVMBuildSub(k->b, W, lw_i64(k, 1), ""), offw, ""), sw), lw_i64(k, 1), ""));
    LLVMValueRef widx = LLVMBuildNSWAdd(k->b, wrow, LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, lkh.iv, lw_i64(k, KW), ""), lkw.iv, ""), "");
    LLVMValueRef wv = LLVMBuildLoad2(k->b, ty, LLVMBuildGEP2(k->b, ty, wb, &widx, 1, ""), "w");
    lw_loop_begin(k, &loh, oh_lo, oh_hi, "oh");
    LLVMValueRef ih = LLVMBuildSub(k->b, LLVMBuildNSWMul(k->b, loh.iv, lw_i64(k, sh), ""), offh, "");
    LLVMValueRef rin = LLVMBuildSub(k->b, LLVMBuildNSWAdd(k->b, ibase, LLVMBuildNSWMul(k->b, ih, W, ""), ""), offw, "");
    LLVMValueRef rout = LLVMBuildNSWAdd(k->b, obase, LLVMBuildNSWMul(k->b, loh.iv, OW, ""), "");
    lw_loop_begin(k, &low, ow_lo, ow_hi, "ow");
    LLVMValueRef xi = LLVMBuildNSWAdd(k->b, rin, LLVMBuildNSWMul(k->b, low.iv, lw_i64(k, sw), ""), "");
    LLVMValueRef xv = LLVMBuildLoad2(k->b, ty, LLVMBuildGEP2(k->b, ty, xb, &xi, 1, ""), "");
    LLVMValueRef yp = LLVMBuildGEP2(k->b, ty, yb, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, rout, low.iv, "")}, 1, "");
    LLVMValueRef acc = LLVMBuildLoad2(k->b, ty, yp, "");
    LLVMBuildStore(k->b, fmuladd(k, t, wv, xv, acc), yp);
    lw_loop_end(k, &low);
    lw_loop_end(k, &loh);
    lw_loop_end(k, &lkw);
    lw_loop_end(k, &lkh);
    lw_loop_end(k, &lc);

    if (n->n_post) {
        lw_loop_t l1, l2;
        lw_loop_begin(k, &l1, lw_i64(k, 0), OH, "oh");
        lw_loop_begin(k, &l2, lw_i64(k, 0), OW, "ow");
        LLVMValueRef idx[4];
        int q = 0;
        idx[q++] = nn;
        idx[q++] = oc;
        if (gm.nsp == 2) idx[q++] = l1.iv;
        idx[q++] = l2.iv;
        LLVMValueRef off = LLVMBuildNSWAdd(k->b, obase, LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, l1.iv, OW, ""), l2.iv, ""), "");
        LLVMValueRef p = LLVMBuildGEP2(k->b, ty, yb, &off, 1, "");
        LLVMValueRef v = lw_apply_post(k, n, LLVMBuildLoad2(k->b, ty, p, ""), idx);
        if (!v) return -1;
        LLVMBuildStore(k->b, v, p);
        lw_loop_end(k, &l2);
        lw_loop_end(k, &l1);
    }
    lw_loop_end(k, &lt);
    lw_kernel_end(k);
    return 0;
}

/* ConvTranspose as a gather over the output: y[n,oc,o] = sum over ic, kk of
 * x[n,ic,i] * w[ic,oc_local,kk] where o = i*s - pb + kk*d. */
typedef struct { geom_t gm; int64_t G, Cg, OCg; } convt_t;

static LLVMValueRef elem_convt(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const convt_t *c = ud;
    const geom_t *gm = &c->gm;
    const ir_value_t *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL;
    ir_dtype_t t = n->out[0]->dtype;
    LLVMValueRef acc = lw_alloca(k, lw_type(k, t), "acc");
    LLVMBuildStore(k->b, bias ? lw_load(k, bias, idx[1]) : lw_const_f(k, t, 0), acc);
    LLVMValueRef grp = LLVMBuildSDiv(k->b, idx[1], lw_i64(k, c->OCg), "");
    LLVMValueRef ocl = LLVMBuildSRem(k->b, idx[1], lw_i64(k, c->OCg), "");
    lw_loop_t lc, lk[MAXSP];
    lw_loop_begin(k, &lc, lw_i64(k, 0), lw_i64(k, c->Cg), "icl");
    LLVMValueRef ic = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, grp, lw_i64(k, c->Cg), ""), lc.iv, "");
    LLVMValueRef valid = LLVMConstInt(k->i1, 1, 0);
    LLVMValueRef xoff = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, idx[0], lw_i64(k, x->shape.dims[1].v), ""), ic, "");
    LLVMValueRef woff = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, ic, lw_i64(k, c->OCg), ""), ocl, "");
    for (int s = 0; s < gm->nsp; s++) {
        lw_loop_begin(k, &lk[s], lw_i64(k, 0), lw_i64(k, gm->kern[s]), "k");
        /* i*s = o + pb - kk*d must be a non-negative multiple of the stride below in */
        LLVMValueRef num = LLVMBuildSub(k->b, LLVMBuildAdd(k->b, idx[2 + s], lw_i64(k, gm->pb[s]), ""),
                                        LLVMBuildMul(k->b, lk[s].iv, lw_i64(k, gm->dil[s]), ""), "");
        LLVMValueRef i = LLVMBuildSDiv(k->b, num, lw_i64(k, gm->stride[s]), "");
        LLVMValueRef ok = LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntSGE, num, lw_i64(k, 0), ""),
                                       LLVMBuildICmp(k->b, LLVMIntEQ, LLVMBuildSRem(k->b, num, lw_i64(k, gm->stride[s]), ""), lw_i64(k, 0), ""), "");
        ok = LLVMBuildAnd(k->b, ok, LLVMBuildICmp(k->b, LLVMIntSLT, i, lw_dim_value(k, gm->din[s]), ""), "");
        valid = LLVMBuildAnd(k->b, valid, ok, "");
        i = LLVMBuildSelect(k->b, ok, i, lw_i64(k, 0), "");
        xoff = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, xoff, lw_dim_value(k, gm->din[s]), ""), i, "");
        woff = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, woff, lw_i64(k, gm->kern[s]), ""), lk[s].iv, "");
    }
    lw_if_t f;
    lw_if_begin(k, &f, valid);
    LLVMValueRef cur = LLVMBuildLoad2(k->b, lw_type(k, t), acc, "");
    LLVMBuildStore(k->b, fmuladd(k, t, lw_load(k, x, xoff), lw_load(k, w, woff), cur), acc);
    lw_if_end(k, &f);
    for (int s = gm->nsp - 1; s >= 0; s--) lw_loop_end(k, &lk[s]);
    lw_loop_end(k, &lc);
    (void)w;
    return LLVMBuildLoad2(k->b, lw_type(k, t), acc, "");
}

int lw_lower_conv_transpose(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *w = n->in[1], *y = n->out[0];
    if (!ir_dtype_is_float(y->dtype)) return lw_error(k, "ConvTranspose on %s is not supported", ir_dtype_name(y->dtype));
    convt_t c;
    if (get_geom(k, n, x, y, w, true, &c.gm)) return -1;
    c.G = ir_attr_int(n, "group", 1);
    int64_t C = x->shape.dims[1].v;
    if (c.G < 1 || C % c.G) return lw_error(k, "group does not divide the channels");
    c.Cg = C / c.G;
    c.OCg = w->shape.dims[1].v;
    return lw_emit_map(k, n, y, elem_convt, &c);
}

/* ---------------------------------------------------------------- Gemm / MatMul */
int lw_lower_gemm(lw_t *k, const ir_node_t *n) {
    int fast = lw_fast_gemm(k, n);
    if (fast <= 0) return fast;
    const ir_value_t *A = n->in[0], *B = n->in[1], *Cv = n->n_in > 2 ? n->in[2] : NULL, *Y = n->out[0];
    ir_dtype_t t = Y->dtype;
    if (!ir_dtype_is_float(t) && !ir_dtype_is_int(t)) return lw_error(k, "Gemm on %s is not supported", ir_dtype_name(t));
    int ta = (int)ir_attr_int(n, "transA", 0), tb = (int)ir_attr_int(n, "transB", 0);
    double alpha = ir_attr_float(n, "alpha", 1.0), beta = ir_attr_float(n, "beta", 1.0);
    LLVMTypeRef ty = lw_type(k, t);
    lw_kernel_begin(k, n, Y, 0);
    LLVMValueRef M = lw_dim(k, Y, 0), N = lw_dim(k, Y, 1), K = lw_dim(k, A, ta ? 0 : 1);
    LLVMValueRef ab = lw_base(k, A), bb = lw_base(k, B), yb = lw_base(k, Y);
    lw_loop_t li, lkk, lj;
    lw_loop_begin(k, &li, k->begin, k->end, "i");
    LLVMValueRef row = LLVMBuildNSWMul(k->b, li.iv, N, "");
    if (!tb) {
        lw_loop_begin(k, &lj, lw_i64(k, 0), N, "j");
        LLVMBuildStore(k->b, LLVMConstNull(ty), LLVMBuildGEP2(k->b, ty, yb, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, row, lj.iv, "")}, 1, ""));
        lw_loop_end(k, &lj);
        lw_loop_begin(k, &lkk, lw_i64(k, 0), K, "kk");
        LLVMValueRef ai = ta ? LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, lkk.iv, M, ""), li.iv, "")
                             : LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, li.iv, K, ""), lkk.iv, "");
        LLVMValueRef a = LLVMBuildLoad2(k->b, ty, LLVMBuildGEP2(k->b, ty, ab, &ai, 1, ""), "a");
        if (alpha != 1.0) a = lw_mul(k, t, a, lw_const_f(k, t, alpha));
        LLVMValueRef brow = LLVMBuildNSWMul(k->b, lkk.iv, N, "");
        lw_loop_begin(k, &lj, lw_i64(k, 0), N, "j");
        LLVMValueRef bv = LLVMBuildLoad2(k->b, ty, LLVMBuildGEP2(k->b, ty, bb, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, brow, lj.iv, "")}, 1, ""), "");
        LLVMValueRef yp = LLVMBuildGEP2(k->b, ty, yb, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, row, lj.iv, "")}, 1, "");
        LLVMBuildStore(k->b, fmuladd(k, t, a, bv, LLVMBuildLoad2(k->b, ty, yp, "")), yp);
        lw_loop_end(k, &lj);
        lw_loop_end(k, &lkk);
    } else {
        lw_loop_begin(k, &lj, lw_i64(k, 0), N, "j");
        LLVMValueRef acc = lw_alloca(k, ty, "acc");
        LLVMBuildStore(k->b, LLVMConstNull(ty), acc);
        LLVMValueRef brow = LLVMBuildNSWMul(k->b, lj.iv, K, "");
        lw_loop_begin(k, &lkk, lw_i64(k, 0), K, "kk");
        LLVMValueRef ai = ta ? LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, lkk.iv, M, ""), li.iv, "")
                             : LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, li.iv, K, ""), lkk.iv, "");
        LLVMValueRef a = LLVMBuildLoad2(k->b, ty, LLVMBuildGEP2(k->b, ty, ab, &ai, 1, ""), "a");
        LLVMValueRef bv = LLVMBuildLoad2(k->b, ty, LLVMBuildGEP2(k->b, ty, bb, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, brow, lkk.iv, "")}, 1, ""), "");
        LLVMBuildStore(k->b, radd(k, t, LLVMBuildLoad2(k->b, ty, acc, ""), lw_mul(k, t, a, bv)), acc);
        lw_loop_end(k, &lkk);
        LLVMValueRef s = LLVMBuildLoad2(k->b, ty, acc, "");
        if (alpha != 1.0) s = lw_mul(k, t, s, lw_const_f(k, t, alpha));
        LLVMBuildStore(k->b, s, LLVMBuildGEP2(k->b, ty, yb, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, row, lj.iv, "")}, 1, ""));
        lw_loop_end(k, &lj);
    }
    if (Cv || n->n_post) {
        LLVMValueRef cst[2];
        if (Cv) lw_bcast_strides(k, Cv, Y, cst);
        lw_loop_begin(k, &lj, lw_i64(k, 0), N, "j");
        LLVMValueRef idx[2] = {li.iv, lj.iv};
        LLVMValueRef yp = LLVMBuildGEP2(k->b, ty, yb, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, row, lj.iv, "")}, 1, "");
        LLVMValueRef v = LLVMBuildLoad2(k->b, ty, yp, "");
        if (Cv) {
            LLVMValueRef c = lw_load(k, Cv, lw_dot(k, idx, cst, 2));
            if (beta != 1.0) c = lw_mul(k, t, c, lw_const_f(k, t, beta));
            v = lw_add(k, t, v, c);
        }
        v = lw_apply_post(k, n, v, idx);
        if (!v) return -1;
        LLVMBuildStore(k->b, v, yp);
        lw_loop_end(k, &lj);
    }
    lw_loop_end(k, &li);
    lw_kernel_end(k);
    return 0;
}

int lw_lower_matmul(lw_t *k, const ir_node_t *n) {
    int fast = lw_fast_matmul(k, n);
    if (fast <= 0) return fast;
    const ir_value_t *A = n->in[0], *B = n->in[1], *Y = n->out[0];
    ir_dtype_t t = Y->dtype;
    if (!ir_dtype_is_float(t) && !ir_dtype_is_int(t)) return lw_error(k, "MatMul on %s is not supported", ir_dtype_name(t));
    int ra = A->shape.rank, rb = B->shape.rank, ro = Y->shape.rank;
    int nb = ro - (ra > 1) - (rb > 1); /* batch dims of the output */
    LLVMTypeRef ty = lw_type(k, t);
    lw_kernel_begin_range(k, n, Y, 0, rb > 1 ? ro - 1 : ro);
    LLVMValueRef M = ra > 1 ? lw_dim(k, A, ra - 2) : lw_i64(k, 1);
    LLVMValueRef K = lw_dim(k, A, ra - 1);
    LLVMValueRef N = rb > 1 ? lw_dim(k, B, rb - 1) : lw_i64(k, 1);
    LLVMValueRef ast[IR_MAX_RANK], bst[IR_MAX_RANK], abs_[IR_MAX_RANK], bbs[IR_MAX_RANK];
    lw_strides(k, A, ast);
    lw_strides(k, B, bst);
    /* batch strides of A and B aligned to the output's batch dims, 0 where broadcast */
    for (int d = 0; d < nb; d++) {
        int da = d - (nb - (ra - 2)), db = d - (nb - (rb - 2));
        ir_dim_t od = Y->shape.dims[d];
        bool o1 = od.sym < 0 && od.v == 1;
        abs_[d] = (ra > 2 && da >= 0 && !(A->shape.dims[da].sym < 0 && A->shape.dims[da].v == 1 && !o1)) ? ast[da] : lw_i64(k, 0);
        bbs[d] = (rb > 2 && db >= 0 && !(B->shape.dims[db].sym < 0 && B->shape.dims[db].v == 1 && !o1)) ? bst[db] : lw_i64(k, 0);
    }
    LLVMValueRef ab = lw_base(k, A), bb = lw_base(k, B), yb = lw_base(k, Y);
    lw_loop_t lt, lkk, lj;
    lw_loop_begin(k, &lt, k->begin, k->end, "t");
    LLVMValueRef i = LLVMBuildSRem(k->b, lt.iv, M, "i");
    LLVMValueRef bt = LLVMBuildSDiv(k->b, lt.iv, M, "");
    LLVMValueRef bidx[IR_MAX_RANK];
    for (int d = nb - 1; d >= 0; d--) {
        LLVMValueRef D = lw_dim(k, Y, d);
        bidx[d] = LLVMBuildSRem(k->b, bt, D, "");
        bt = LLVMBuildSDiv(k->b, bt, D, "");
    }
    LLVMValueRef aoff = LLVMBuildNSWAdd(k->b, lw_dot(k, bidx, abs_, nb), LLVMBuildNSWMul(k->b, i, K, ""), "");
    LLVMValueRef boff = lw_dot(k, bidx, bbs, nb);
    LLVMValueRef row = LLVMBuildNSWMul(k->b, lt.iv, N, "");
    lw_loop_begin(k, &lj, lw_i64(k, 0), N, "j");
    LLVMBuildStore(k->b, LLVMConstNull(ty), LLVMBuildGEP2(k->b, ty, yb, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, row, lj.iv, "")}, 1, ""));
    lw_loop_end(k, &lj);
    lw_loop_begin(k, &lkk, lw_i64(k, 0), K, "kk");
    LLVMValueRef a = LLVMBuildLoad2(k->b, ty, LLVMBuildGEP2(k->b, ty, ab, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, aoff, lkk.iv, "")}, 1, ""), "a");
    LLVMValueRef brow = LLVMBuildNSWAdd(k->b, boff, LLVMBuildNSWMul(k->b, lkk.iv, N, ""), "");
    lw_loop_begin(k, &lj, lw_i64(k, 0), N, "j");
    LLVMValueRef bv = LLVMBuildLoad2(k->b, ty, LLVMBuildGEP2(k->b, ty, bb, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, brow, lj.iv, "")}, 1, ""), "");
    LLVMValueRef yp = LLVMBuildGEP2(k->b, ty, yb, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, row, lj.iv, "")}, 1, "");
    LLVMBuildStore(k->b, fmuladd(k, t, a, bv, LLVMBuildLoad2(k->b, ty, yp, "")), yp);
    lw_loop_end(k, &lj);
    lw_loop_end(k, &lkk);
    if (n->n_post) {
        lw_loop_begin(k, &lj, lw_i64(k, 0), N, "j");
        LLVMValueRef idx[IR_MAX_RANK];
        int q = 0;
        for (int d = 0; d < nb; d++) idx[q++] = bidx[d];
        if (ra > 1) idx[q++] = i;
        if (rb > 1) idx[q++] = lj.iv;
        LLVMValueRef yp2 = LLVMBuildGEP2(k->b, ty, yb, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, row, lj.iv, "")}, 1, "");
        LLVMValueRef v = lw_apply_post(k, n, LLVMBuildLoad2(k->b, ty, yp2, ""), idx);
        if (!v) return -1;
        LLVMBuildStore(k->b, v, yp2);
        lw_loop_end(k, &lj);
    }
    lw_loop_end(k, &lt);
    lw_kernel_end(k);
    return 0;
}

/* ---------------------------------------------------------------- BatchNormalization */
static LLVMValueRef elem_bn(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const ir_value_t *x = n->in[0], *y = n->out[0];
    ir_dtype_t t = y->dtype;
    double eps = ir_attr_float(n, "epsilon", 1e-5);
    LLVMValueRef st[IR_MAX_RANK];
    lw_strides(k, x, st);
    LLVMValueRef c = y->shape.rank > 1 ? idx[1] : lw_i64(k, 0);
    LLVMValueRef xv = lw_load(k, x, lw_dot(k, idx, st, x->shape.rank));
    LLVMValueRef sc = lw_load(k, n->in[1], c), bi = lw_load(k, n->in[2], c);
    LLVMValueRef mean = lw_load(k, n->in[3], c), var = lw_load(k, n->in[4], c);
    LLVMValueRef inv = LLVMBuildFDiv(k->b, lw_const_f(k, t, 1.0),
                                     lw_intrin(k, "llvm.sqrt", lw_type(k, t), (LLVMValueRef[]){LLVMBuildFAdd(k->b, var, lw_const_f(k, t, eps), "")}, 1), "");
    LLVMValueRef v = LLVMBuildFMul(k->b, LLVMBuildFSub(k->b, xv, mean, ""), LLVMBuildFMul(k->b, inv, sc, ""), "");
    return LLVMBuildFAdd(k->b, v, bi, "");
}

/* ---------------------------------------------------------------- pooling */
typedef struct { geom_t gm; int max, include_pad; } pool_t;

static LLVMValueRef elem_pool(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const pool_t *p = ud;
    const geom_t *gm = &p->gm;
    const ir_value_t *x = n->in[0];
    ir_dtype_t t = x->dtype;
    LLVMTypeRef ty = lw_type(k, t);
    LLVMValueRef acc = lw_alloca(k, ty, "acc"), cnt = lw_alloca(k, k->i64, "cnt");
    LLVMValueRef init = p->max ? (ir_dtype_is_float(t) ? lw_const_f(k, t, -INFINITY)
                                                       : LLVMConstInt(ty, ir_dtype_is_signed(t) ? (1ull << (LLVMGetIntTypeWidth(ty) - 1)) : 0, 0))
                               : lw_const_f(k, t, 0);
    LLVMBuildStore(k->b, init, acc);
    LLVMBuildStore(k->b, lw_i64(k, 0), cnt);
    LLVMValueRef base = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, idx[0], lw_dim(k, x, 1), ""), idx[1], "");
    lw_loop_t lk[MAXSP];
    LLVMValueRef valid = LLVMConstInt(k->i1, 1, 0), inpad = LLVMConstInt(k->i1, 1, 0), off = base;
    for (int s = 0; s < gm->nsp; s++) {
        lw_loop_begin(k, &lk[s], lw_i64(k, 0), lw_i64(k, gm->kern[s]), "k");
        LLVMValueRef i = LLVMBuildNSWAdd(k->b, LLVMBuildNSWSub(k->b, LLVMBuildNSWMul(k->b, idx[2 + s], lw_i64(k, gm->stride[s]), ""), lw_i64(k, gm->pb[s]), ""),
                                         LLVMBuildNSWMul(k->b, lk[s].iv, lw_i64(k, gm->dil[s]), ""), "");
        LLVMValueRef ok = LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntSGE, i, lw_i64(k, 0), ""),
                                       LLVMBuildICmp(k->b, LLVMIntSLT, i, lw_dim_value(k, gm->din[s]), ""), "");
        LLVMValueRef okp = LLVMBuildICmp(k->b, LLVMIntSLT, i, LLVMBuildAdd(k->b, lw_dim_value(k, gm->din[s]), lw_i64(k, gm->pe[s]), ""), "");
        valid = LLVMBuildAnd(k->b, valid, ok, "");
        inpad = LLVMBuildAnd(k->b, inpad, okp, "");
        i = LLVMBuildSelect(k->b, ok, i, lw_i64(k, 0), "");
        off = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, off, lw_dim_value(k, gm->din[s]), ""), i, "");
    }
    LLVMValueRef xv = lw_load(k, x, off);
    LLVMValueRef cur = LLVMBuildLoad2(k->b, ty, acc, "");
    LLVMValueRef nv = p->max ? lw_max(k, t, cur, xv) : LLVMBuildFAdd(k->b, cur, xv, "");
    LLVMBuildStore(k->b, LLVMBuildSelect(k->b, valid, nv, cur, ""), acc);
    LLVMValueRef counted = p->include_pad ? inpad : valid;
    LLVMValueRef c = LLVMBuildLoad2(k->b, k->i64, cnt, "");
    LLVMBuildStore(k->b, LLVMBuildAdd(k->b, c, LLVMBuildZExt(k->b, counted, k->i64, ""), ""), cnt);
    for (int s = gm->nsp - 1; s >= 0; s--) lw_loop_end(k, &lk[s]);
    LLVMValueRef r = LLVMBuildLoad2(k->b, ty, acc, "");
    if (!p->max) {
        LLVMValueRef c2 = LLVMBuildLoad2(k->b, k->i64, cnt, "");
        c2 = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntEQ, c2, lw_i64(k, 0), ""), lw_i64(k, 1), c2, "");
        r = LLVMBuildFDiv(k->b, r, LLVMBuildSIToFP(k->b, c2, ty, ""), "");
    }
    return r;
}

static LLVMValueRef elem_global_pool(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const ir_value_t *x = n->in[0];
    ir_dtype_t t = x->dtype;
    LLVMTypeRef ty = lw_type(k, t);
    bool mx = *(const bool *)ud;
    LLVMValueRef S = lw_i64(k, 1);
    for (int d = 2; d < x->shape.rank; d++) S = LLVMBuildNSWMul(k->b, S, lw_dim(k, x, d), "");
    LLVMValueRef base = LLVMBuildNSWMul(k->b, LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, idx[0], lw_dim(k, x, 1), ""), idx[1], ""), S, "");
    LLVMValueRef acc = lw_alloca(k, ty, "acc");
    LLVMBuildStore(k->b, lw_const_f(k, t, mx ? -INFINITY : 0), acc);
    lw_loop_t l;
    lw_loop_begin(k, &l, lw_i64(k, 0), S, "s");
    LLVMValueRef xv = lw_load(k, x, LLVMBuildNSWAdd(k->b, base, l.iv, ""));
    LLVMValueRef cur = LLVMBuildLoad2(k->b, ty, acc, "");
    LLVMBuildStore(k->b, mx ? lw_max(k, t, cur, xv) : radd(k, t, cur, xv), acc);
    lw_loop_end(k, &l);
    LLVMValueRef r = LLVMBuildLoad2(k->b, ty, acc, "");
    if (!mx) r = LLVMBuildFDiv(k->b, r, LLVMBuildSIToFP(k->b, S, ty, ""), "");
    return r;
}

/* MaxPool with its Indices output: one kernel writes both. Per (batch, channel) plane and
 * output position, the first window element strictly greater than all before it (the
 * ONNX reference's order: window offsets row-major), its flat index into x in row-major
 * order (storage_order 0) or with the spatial axes column-major (storage_order 1). */
static int lower_max_pool_indices(lw_t *k, const ir_node_t *n, const geom_t *gm) {
    const ir_value_t *x = n->in[0], *y = n->out[0], *ind = n->out[1];
    ir_dtype_t t = x->dtype;
    LLVMTypeRef ty = lw_type(k, t);
    bool colmajor = ir_attr_int(n, "storage_order", 0) != 0;
    int ns = gm->nsp;
    LLVMValueRef din[MAXSP], dout[MAXSP], xstep = lw_i64(k, 1), ystep = lw_i64(k, 1);
    lw_kernel_begin_range(k, n, y, 0, 2);
    for (int s = 0; s < ns; s++) {
        din[s] = lw_dim_value(k, gm->din[s]);
        dout[s] = lw_dim_value(k, gm->dout[s]);
        xstep = LLVMBuildNSWMul(k->b, xstep, din[s], "");
        ystep = LLVMBuildNSWMul(k->b, ystep, dout[s], "");
    }
    LLVMValueRef best = lw_alloca(k, ty, "best"), bidx = lw_alloca(k, k->i64, "bidx");
    lw_loop_t lr, lo, lk[MAXSP];
    lw_loop_begin(k, &lr, k->begin, k->end, "plane");
    LLVMValueRef xbase = LLVMBuildNSWMul(k->b, lr.iv, xstep, ""), ybase = LLVMBuildNSWMul(k->b, lr.iv, ystep, "");
    lw_loop_begin(k, &lo, lw_i64(k, 0), ystep, "o");
    LLVMValueRef oc[MAXSP], rem = lo.iv;
    for (int s = ns - 1; s >= 0; s--) {
        oc[s] = LLVMBuildSRem(k->b, rem, dout[s], "");
        rem = LLVMBuildSDiv(k->b, rem, dout[s], "");
    }
    LLVMBuildStore(k->b, ir_dtype_is_float(t) ? lw_const_f(k, t, -INFINITY)
                                             : LLVMConstInt(ty, ir_dtype_is_signed(t) ? (1ull << (LLVMGetIntTypeWidth(ty) - 1)) : 0, 0),
                   best);
    LLVMBuildStore(k->b, lw_i64(k, -1), bidx);
    LLVMValueRef valid = LLVMConstInt(k->i1, 1, 0), rm = lw_i64(k, 0), cm = lw_i64(k, 0), cmul = lw_i64(k, 1);
    for (int s = 0; s < ns; s++) {
        lw_loop_begin(k, &lk[s], lw_i64(k, 0), lw_i64(k, gm->kern[s]), "k");
        LLVMValueRef i = LLVMBuildNSWAdd(k->b, LLVMBuildNSWSub(k->b, LLVMBuildNSWMul(k->b, oc[s], lw_i64(k, gm->stride[s]), ""), lw_i64(k, gm->pb[s]), ""),
                                         LLVMBuildNSWMul(k->b, lk[s].iv, lw_i64(k, gm->dil[s]), ""), "");
        valid = LLVMBuildAnd(k->b, valid, LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntSGE, i, lw_i64(k, 0), ""),
                                                      LLVMBuildICmp(k->b, LLVMIntSLT, i, din[s], ""), ""), "");
        i = LLVMBuildSelect(k->b, valid, i, lw_i64(k, 0), "");
        rm = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, rm, din[s], ""), i, "");
        cm = LLVMBuildNSWAdd(k->b, cm, LLVMBuildNSWMul(k->b, i, cmul, ""), "");
        cmul = LLVMBuildNSWMul(k->b, cmul, din[s], "");
    }
    LLVMValueRef xv = lw_load(k, x, LLVMBuildNSWAdd(k->b, xbase, rm, ""));
    LLVMValueRef cur = LLVMBuildLoad2(k->b, ty, best, "");
    LLVMValueRef gt = ir_dtype_is_float(t) ? LLVMBuildFCmp(k->b, LLVMRealOGT, xv, cur, "")
                                           : LLVMBuildICmp(k->b, ir_dtype_is_signed(t) ? LLVMIntSGT : LLVMIntUGT, xv, cur, "");
    LLVMValueRef first = LLVMBuildICmp(k->b, LLVMIntSLT, LLVMBuildLoad2(k->b, k->i64, bidx, ""), lw_i64(k, 0), "");
    LLVMValueRef take = LLVMBuildAnd(k->b, valid, LLVMBuildOr(k->b, gt, first, ""), "");
    LLVMBuildStore(k->b, LLVMBuildSelect(k->b, take, xv, cur, ""), best);
    LLVMValueRef flat = LLVMBuildNSWAdd(k->b, xbase, colmajor ? cm : rm, "");
    LLVMBuildStore(k->b, LLVMBuildSelect(k->b, take, flat, LLVMBuildLoad2(k->b, k->i64, bidx, ""), ""), bidx);
    for (int s = ns - 1; s >= 0; s--) lw_loop_end(k, &lk[s]);
    LLVMValueRef yo = LLVMBuildNSWAdd(k->b, ybase, lo.iv, "");
    lw_store(k, y, yo, LLVMBuildLoad2(k->b, ty, best, ""));
    lw_store(k, ind, yo, LLVMBuildLoad2(k->b, k->i64, bidx, ""));
    lw_loop_end(k, &lo);
    lw_loop_end(k, &lr);
    lw_kernel_end(k);
    return 0;
}

static int lower_pool(lw_t *k, const ir_node_t *n, bool global, bool max) {
    const ir_value_t *x = n->in[0], *y = n->out[0];
    bool indices = n->n_out > 1 && n->out[1] && (n->out[1]->n_uses > 0 || n->out[1]->is_output);
    if (indices && (global || !max || n->n_post)) return lw_error(k, "MaxPool's Indices output with fused post-ops is not supported");
    if (!ir_dtype_is_float(x->dtype) && !(max && !global))
        return lw_error(k, "%s on %s is not supported", ir_op_name(n->op), ir_dtype_name(x->dtype));
    if (global) return lw_emit_map(k, n, y, elem_global_pool, &max);
    pool_t p;
    const int64_t *ks;
    int nk = ir_attr_ints(n, "kernel_shape", &ks);
    if (nk != x->shape.rank - 2) return lw_error(k, "kernel_shape must have one entry per spatial dimension");
    if (get_geom(k, n, x, y, NULL, false, &p.gm)) return -1;
    if (indices) return lower_max_pool_indices(k, n, &p.gm);
    p.max = max;
    p.include_pad = (int)ir_attr_int(n, "count_include_pad", 0);
    return lw_emit_map(k, n, y, elem_pool, &p);
}

int lw_lower_max_pool(lw_t *k, const ir_node_t *n) { return lower_pool(k, n, false, true); }
int lw_lower_average_pool(lw_t *k, const ir_node_t *n) { return lower_pool(k, n, false, false); }
int lw_lower_global_max_pool(lw_t *k, const ir_node_t *n) { return lower_pool(k, n, true, true); }
int lw_lower_global_average_pool(lw_t *k, const ir_node_t *n) { return lower_pool(k, n, true, false); }

/* ---------------------------------------------------------------- reductions */
/* A reduction: an optional map of each element, the combining op, an optional final map. */
typedef enum { R_ADD, R_MAX, R_MIN, R_MUL } rkind_t;
typedef enum { PRE_NONE, PRE_ABS, PRE_SQUARE, PRE_EXP } rpre_t;
typedef enum { POST_NONE, POST_MEAN, POST_SQRT, POST_LOG } rpost_t;
typedef struct { bool red[IR_MAX_RANK]; int keep; rkind_t kind; rpre_t pre; rpost_t post; } reduce_t;

static LLVMValueRef elem_reduce(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const reduce_t *rd = ud;
    const ir_value_t *x = n->in[0];
    ir_dtype_t t = x->dtype;
    LLVMTypeRef ty = lw_type(k, t);
    int r = x->shape.rank;
    bool fl = ir_dtype_is_float(t);
    rkind_t op = rd->kind;
    double init = op == R_MAX ? -INFINITY : op == R_MIN ? INFINITY : op == R_MUL ? 1 : 0;
    LLVMValueRef iv;
    if (fl) iv = lw_const_f(k, t, init);
    else if (op == R_MAX) iv = LLVMConstInt(ty, ir_dtype_is_signed(t) ? 1ull << (LLVMGetIntTypeWidth(ty) - 1) : 0, 0);
    else if (op == R_MIN) iv = LLVMConstInt(ty, ir_dtype_is_signed(t) ? ~(1ull << (LLVMGetIntTypeWidth(ty) - 1)) : ~0ull, 0);
    else iv = lw_const_f(k, t, init);
    LLVMValueRef acc = lw_alloca(k, ty, "acc");
    LLVMBuildStore(k->b, iv, acc);
    LLVMValueRef st[IR_MAX_RANK];
    lw_strides(k, x, st);
    lw_loop_t lr[IR_MAX_RANK];
    int q = 0, nl = 0;
    /* the element count before the loops: built inside them it would not dominate its use */
    LLVMValueRef cnt = lw_i64(k, 1), off = lw_i64(k, 0);
    for (int d = 0; d < r; d++)
        if (rd->red[d]) cnt = LLVMBuildNSWMul(k->b, cnt, lw_dim(k, x, d), "");
    for (int d = 0; d < r; d++) {
        if (rd->red[d]) {
            /* a run of adjacent reduced dims is one contiguous range of x: one loop over
             * it (one vectorized reduction instead of one per innermost row) */
            int e = d;
            LLVMValueRef ext = lw_dim(k, x, d);
            while (e + 1 < r && rd->red[e + 1]) ext = LLVMBuildNSWMul(k->b, ext, lw_dim(k, x, ++e), "");
            lw_loop_begin(k, &lr[nl], lw_i64(k, 0), ext, "r");
            off = LLVMBuildNSWAdd(k->b, off, LLVMBuildNSWMul(k->b, lr[nl].iv, st[e], ""), "");
            nl++;
            if (rd->keep) q += e - d + 1;
            d = e;
        } else {
            off = LLVMBuildNSWAdd(k->b, off, LLVMBuildNSWMul(k->b, idx[q++], st[d], ""), "");
        }
    }
    LLVMValueRef v = lw_load(k, x, off);
    if (rd->pre == PRE_ABS) v = lw_abs(k, t, v);
    if (rd->pre == PRE_SQUARE) v = lw_mul(k, t, v, v);
    if (rd->pre == PRE_EXP) v = lw_fmath(k, "llvm.exp", t, v);
    LLVMValueRef cur = LLVMBuildLoad2(k->b, ty, acc, "");
    LLVMValueRef nv = op == R_ADD ? radd(k, t, cur, v) : op == R_MAX ? lw_max(k, t, cur, v)
                    : op == R_MIN ? lw_min(k, t, cur, v) : lw_mul(k, t, cur, v);
    LLVMBuildStore(k->b, nv, acc);
    for (int j = nl - 1; j >= 0; j--) lw_loop_end(k, &lr[j]);
    LLVMValueRef res = LLVMBuildLoad2(k->b, ty, acc, "");
    if (rd->post == POST_SQRT) {
        if (fl) res = lw_fmath(k, "llvm.sqrt", t, res);
        else res = lw_cast(k, lw_fmath(k, "llvm.sqrt", IR_F64, lw_cast(k, res, t, IR_F64)), IR_F64, t);
    }
    if (rd->post == POST_LOG) res = lw_fmath(k, "llvm.log", t, res);
    if (rd->post == POST_MEAN) {
        if (fl) res = LLVMBuildFDiv(k->b, res, LLVMBuildSIToFP(k->b, cnt, ty, ""), "");
        else res = LLVMBuildSDiv(k->b, res, LLVMBuildIntCast2(k->b, cnt, ty, 1, ""), "");
    }
    return res;
}

/* ArgMax/ArgMin: index of the first (or last, select_last_index) extreme along axis. */
typedef struct { int axis, keep, last; bool max; } arg_t;

static LLVMValueRef elem_arg(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const arg_t *a = ud;
    const ir_value_t *x = n->in[0];
    ir_dtype_t t = x->dtype;
    LLVMTypeRef ty = lw_type(k, t);
    int r = x->shape.rank;
    bool mx = a->max, fl = ir_dtype_is_float(t), sg = ir_dtype_is_signed(t);
    LLVMValueRef best = lw_alloca(k, ty, "best"), bi = lw_alloca(k, k->i64, "bi");
    LLVMValueRef st[IR_MAX_RANK], xi[IR_MAX_RANK];
    lw_strides(k, x, st);
    int q = 0;
    for (int d = 0; d < r; d++) {
        if (d == a->axis) { xi[d] = lw_i64(k, 0); if (a->keep) q++; }
        else xi[d] = idx[q++];
    }
    LLVMBuildStore(k->b, lw_load(k, x, lw_dot(k, xi, st, r)), best);
    LLVMBuildStore(k->b, lw_i64(k, 0), bi);
    lw_loop_t l;
    lw_loop_begin(k, &l, lw_i64(k, 1), lw_dim(k, x, a->axis), "a");
    xi[a->axis] = l.iv;
    LLVMValueRef v = lw_load(k, x, lw_dot(k, xi, st, r));
    LLVMValueRef cur = LLVMBuildLoad2(k->b, ty, best, "");
    LLVMValueRef better;
    if (fl) better = LLVMBuildFCmp(k->b, mx ? (a->last ? LLVMRealOGE : LLVMRealOGT) : (a->last ? LLVMRealOLE : LLVMRealOLT), v, cur, "");
    else better = LLVMBuildICmp(k->b, mx ? (a->last ? (sg ? LLVMIntSGE : LLVMIntUGE) : (sg ? LLVMIntSGT : LLVMIntUGT))
                                        : (a->last ? (sg ? LLVMIntSLE : LLVMIntULE) : (sg ? LLVMIntSLT : LLVMIntULT)), v, cur, "");
    LLVMBuildStore(k->b, LLVMBuildSelect(k->b, better, v, cur, ""), best);
    LLVMBuildStore(k->b, LLVMBuildSelect(k->b, better, l.iv, LLVMBuildLoad2(k->b, k->i64, bi, ""), ""), bi);
    lw_loop_end(k, &l);
    return LLVMBuildLoad2(k->b, k->i64, bi, "");
}

/* LRN across channels: x / (bias + alpha/size * sum of squares in the window)^beta */
static LLVMValueRef elem_lrn(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const ir_value_t *x = n->in[0];
    ir_dtype_t t = x->dtype;
    LLVMTypeRef ty = lw_type(k, t);
    int r = x->shape.rank;
    int64_t size = ir_attr_int(n, "size", 1);
    double alpha = ir_attr_float(n, "alpha", 1e-4), beta = ir_attr_float(n, "beta", 0.75), bias = ir_attr_float(n, "bias", 1.0);
    LLVMValueRef st[IR_MAX_RANK], xi[IR_MAX_RANK];
    lw_strides(k, x, st);
    for (int d = 0; d < r; d++) xi[d] = idx[d];
    LLVMValueRef acc = lw_alloca(k, ty, "acc");
    LLVMBuildStore(k->b, lw_const_f(k, t, 0), acc);
    LLVMValueRef C = lw_dim(k, x, 1);
    LLVMValueRef lo = LLVMBuildSub(k->b, idx[1], lw_i64(k, (size - 1) / 2), "");
    LLVMValueRef hi = LLVMBuildAdd(k->b, idx[1], lw_i64(k, size / 2 + 1), "");
    lo = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, lo, lw_i64(k, 0), ""), lw_i64(k, 0), lo, "");
    hi = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSGT, hi, C, ""), C, hi, "");
    lw_loop_t l;
    lw_loop_begin(k, &l, lo, hi, "c");
    xi[1] = l.iv;
    LLVMValueRef v = lw_load(k, x, lw_dot(k, xi, st, r));
    LLVMBuildStore(k->b, fmuladd(k, t, v, v, LLVMBuildLoad2(k->b, ty, acc, "")), acc);
    lw_loop_end(k, &l);
    xi[1] = idx[1];
    LLVMValueRef den = LLVMBuildFAdd(k->b, lw_const_f(k, t, bias),
                                     LLVMBuildFMul(k->b, lw_const_f(k, t, alpha / (double)size), LLVMBuildLoad2(k->b, ty, acc, ""), ""), "");
    den = lw_intrin(k, "llvm.pow", ty, (LLVMValueRef[]){den, lw_const_f(k, t, beta)}, 2);
    return LLVMBuildFDiv(k->b, lw_load(k, x, lw_dot(k, xi, st, r)), den, "");
}

/* Hardmax: 1 where the element is the first maximum along axis. */
static LLVMValueRef elem_hardmax(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    arg_t a = {*(const int *)ud, 1, 0, true};
    LLVMValueRef am = elem_arg(k, n, idx, &a);
    LLVMValueRef hit = LLVMBuildICmp(k->b, LLVMIntEQ, am, idx[a.axis], "");
    ir_dtype_t t = n->out[0]->dtype;
    return LLVMBuildSelect(k->b, hit, lw_const_f(k, t, 1), lw_const_f(k, t, 0), "");
}

/* CumSum / CumProd along axis, inclusive or exclusive, forward or reversed. */
typedef struct { int axis, excl, rev, prod; } cumsum_t;

static LLVMValueRef elem_cumsum(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const cumsum_t *c = ud;
    const ir_value_t *x = n->in[0];
    ir_dtype_t t = x->dtype;
    LLVMTypeRef ty = lw_type(k, t);
    int r = x->shape.rank;
    LLVMValueRef st[IR_MAX_RANK], xi[IR_MAX_RANK];
    lw_strides(k, x, st);
    for (int d = 0; d < r; d++) xi[d] = idx[d];
    LLVMValueRef acc = lw_alloca(k, ty, "acc");
    LLVMBuildStore(k->b, lw_const_f(k, t, c->prod ? 1 : 0), acc);
    LLVMValueRef i, D, lo, hi, sa = NULL;
    if (n->n_params == 1) {
        /* axis known at run time: pick its index, size and stride */
        LLVMValueRef av = lw_dim_value(k, n->params[0]);
        i = D = sa = lw_i64(k, 0);
        for (int d = 0; d < r; d++) {
            LLVMValueRef is = LLVMBuildICmp(k->b, LLVMIntEQ, av, lw_i64(k, d), "");
            i = LLVMBuildSelect(k->b, is, idx[d], i, "");
            D = LLVMBuildSelect(k->b, is, lw_dim(k, x, d), D, "");
            sa = LLVMBuildSelect(k->b, is, st[d], sa, "");
        }
    } else {
        i = idx[c->axis];
        D = lw_dim(k, x, c->axis);
    }
    if (!c->rev) {
        lo = lw_i64(k, 0);
        hi = c->excl ? i : LLVMBuildAdd(k->b, i, lw_i64(k, 1), "");
    } else {
        lo = c->excl ? LLVMBuildAdd(k->b, i, lw_i64(k, 1), "") : i;
        hi = D;
    }
    lw_loop_t l;
    LLVMValueRef base = sa ? LLVMBuildSub(k->b, lw_dot(k, xi, st, r), LLVMBuildMul(k->b, i, sa, ""), "") : NULL;
    lw_loop_begin(k, &l, lo, hi, "j");
    LLVMValueRef off;
    if (sa) {
        off = LLVMBuildAdd(k->b, base, LLVMBuildMul(k->b, l.iv, sa, ""), "");
    } else {
        xi[c->axis] = l.iv;
        off = lw_dot(k, xi, st, r);
    }
    LLVMValueRef v = lw_load(k, x, off);
    LLVMValueRef cur = LLVMBuildLoad2(k->b, ty, acc, "");
    LLVMBuildStore(k->b, c->prod ? lw_mul(k, t, cur, v) : lw_add(k, t, cur, v), acc);
    lw_loop_end(k, &l);
    return LLVMBuildLoad2(k->b, ty, acc, "");
}

/* A reduction whose axes are known only at run time (an `axes` graph input): inference put
 * one flag per input axis (1 = reduced) in the node's params. One task: fill the output
 * with the identity, accumulate every input element at its output offset (stride 0 on a
 * reduced axis), then finish (mean, sqrt, log) over the output. The output layout is the
 * same with or without keepdims. */
static int lower_reduce_dynamic(lw_t *k, const ir_node_t *n, rkind_t op, rpre_t pre, rpost_t post) {
    const ir_value_t *x = n->in[0], *y = n->out[0];
    ir_dtype_t t = x->dtype;
    LLVMTypeRef ty = lw_type(k, t);
    int r = x->shape.rank;
    bool fl = ir_dtype_is_float(t);
    if (n->n_post) return lw_error(k, "internal error: a fused epilogue on a run-time-axes reduction");
    lw_kernel_begin(k, n, y, -1);
    double init = op == R_MAX ? -INFINITY : op == R_MIN ? INFINITY : op == R_MUL ? 1 : 0;
    LLVMValueRef iv;
    if (fl) iv = lw_const_f(k, t, init);
    else if (op == R_MAX) iv = LLVMConstInt(ty, ir_dtype_is_signed(t) ? 1ull << (LLVMGetIntTypeWidth(ty) - 1) : 0, 0);
    else if (op == R_MIN) iv = LLVMConstInt(ty, ir_dtype_is_signed(t) ? ~(1ull << (LLVMGetIntTypeWidth(ty) - 1)) : ~0ull, 0);
    else iv = lw_const_f(k, t, init);
    LLVMValueRef red[IR_MAX_RANK], ost[IR_MAX_RANK], D[IR_MAX_RANK], st[IR_MAX_RANK];
    LLVMValueRef cnt = lw_i64(k, 1), onum = lw_i64(k, 1);
    for (int d = 0; d < r; d++) {
        red[d] = LLVMBuildICmp(k->b, LLVMIntNE, lw_dim_value(k, n->params[d]), lw_i64(k, 0), "");
        D[d] = lw_dim(k, x, d);
        cnt = LLVMBuildMul(k->b, cnt, LLVMBuildSelect(k->b, red[d], D[d], lw_i64(k, 1), ""), "");
    }
    LLVMValueRef acc = lw_i64(k, 1);
    for (int d = r - 1; d >= 0; d--) {
        ost[d] = acc;
        acc = LLVMBuildMul(k->b, acc, LLVMBuildSelect(k->b, red[d], lw_i64(k, 1), D[d], ""), "");
    }
    onum = acc;
    lw_strides(k, x, st);
    lw_loop_t l;
    lw_loop_begin(k, &l, lw_i64(k, 0), onum, "o");
    lw_store(k, y, l.iv, iv);
    lw_loop_end(k, &l);
    lw_loop_t lr[IR_MAX_RANK];
    LLVMValueRef xi[IR_MAX_RANK];
    for (int d = 0; d < r; d++) {
        lw_loop_begin(k, &lr[d], lw_i64(k, 0), D[d], "r");
        xi[d] = lr[d].iv;
    }
    LLVMValueRef off = lw_i64(k, 0);
    for (int d = 0; d < r; d++)
        off = LLVMBuildAdd(k->b, off, LLVMBuildSelect(k->b, red[d], lw_i64(k, 0), LLVMBuildMul(k->b, xi[d], ost[d], ""), ""), "");
    LLVMValueRef v = lw_load(k, x, lw_dot(k, xi, st, r));
    if (pre == PRE_ABS) v = lw_abs(k, t, v);
    if (pre == PRE_SQUARE) v = lw_mul(k, t, v, v);
    if (pre == PRE_EXP) v = lw_fmath(k, "llvm.exp", t, v);
    LLVMValueRef cur = lw_load(k, y, off);
    LLVMValueRef nv = op == R_ADD ? radd(k, t, cur, v) : op == R_MAX ? lw_max(k, t, cur, v)
                    : op == R_MIN ? lw_min(k, t, cur, v) : lw_mul(k, t, cur, v);
    lw_store(k, y, off, nv);
    for (int d = r - 1; d >= 0; d--) lw_loop_end(k, &lr[d]);
    if (post != POST_NONE) {
        lw_loop_begin(k, &l, lw_i64(k, 0), onum, "p");
        LLVMValueRef res = lw_load(k, y, l.iv);
        if (post == POST_SQRT) {
            if (fl) res = lw_fmath(k, "llvm.sqrt", t, res);
            else res = lw_cast(k, lw_fmath(k, "llvm.sqrt", IR_F64, lw_cast(k, res, t, IR_F64)), IR_F64, t);
        }
        if (post == POST_LOG) res = lw_fmath(k, "llvm.log", t, res);
        if (post == POST_MEAN) {
            if (fl) res = LLVMBuildFDiv(k->b, res, LLVMBuildSIToFP(k->b, cnt, ty, ""), "");
            else res = LLVMBuildSDiv(k->b, res, LLVMBuildIntCast2(k->b, cnt, ty, 1, ""), "");
        }
        lw_store(k, y, l.iv, res);
        lw_loop_end(k, &l);
    }
    lw_kernel_end(k);
    return 0;
}

static int lower_reduce(lw_t *k, const ir_node_t *n, rkind_t kind, rpre_t pre, rpost_t post) {
    const ir_value_t *x = n->in[0];
    int r = x->shape.rank;
    if (n->n_params == r && r > 0) return lower_reduce_dynamic(k, n, kind, pre, post);
    reduce_t rd;
    memset(&rd, 0, sizeof rd);
    rd.kind = kind;
    rd.pre = pre;
    rd.post = post;
    rd.keep = (int)ir_attr_int(n, "keepdims", 1);
    int na = 0;
    const ir_value_t *ax = n->n_in > 1 ? n->in[1] : NULL;
    if (ax) {
        if (!ax->data) return lw_error(k, "axes must be constant");
        na = (int)(ax->data_size / 8);
        for (int i = 0; i < na; i++) {
            int a = norm_axis(((const int64_t *)ax->data)[i], r);
            if (a < 0 || a >= r) return lw_error(k, "axis out of range");
            rd.red[a] = true;
        }
    } else {
        const int64_t *axes;
        int n2 = ir_attr_ints(n, "axes", &axes);
        for (int i = 0; i < n2; i++) {
            int a = norm_axis(axes[i], r);
            if (a < 0 || a >= r) return lw_error(k, "axis out of range");
            rd.red[a] = true;
        }
        na = n2 > 0 ? n2 : 0;
    }
    if (na == 0 && !ir_attr_int(n, "noop_with_empty_axes", 0))
        for (int d = 0; d < r; d++) rd.red[d] = true;
    return lw_emit_map(k, n, n->out[0], elem_reduce, &rd);
}

int lw_lower_reduce_sum(lw_t *k, const ir_node_t *n) { return lower_reduce(k, n, R_ADD, PRE_NONE, POST_NONE); }
int lw_lower_reduce_mean(lw_t *k, const ir_node_t *n) { return lower_reduce(k, n, R_ADD, PRE_NONE, POST_MEAN); }
int lw_lower_reduce_max(lw_t *k, const ir_node_t *n) { return lower_reduce(k, n, R_MAX, PRE_NONE, POST_NONE); }
int lw_lower_reduce_min(lw_t *k, const ir_node_t *n) { return lower_reduce(k, n, R_MIN, PRE_NONE, POST_NONE); }
int lw_lower_reduce_prod(lw_t *k, const ir_node_t *n) { return lower_reduce(k, n, R_MUL, PRE_NONE, POST_NONE); }
int lw_lower_reduce_l1(lw_t *k, const ir_node_t *n) { return lower_reduce(k, n, R_ADD, PRE_ABS, POST_NONE); }
int lw_lower_reduce_l2(lw_t *k, const ir_node_t *n) { return lower_reduce(k, n, R_ADD, PRE_SQUARE, POST_SQRT); }
int lw_lower_reduce_sum_square(lw_t *k, const ir_node_t *n) { return lower_reduce(k, n, R_ADD, PRE_SQUARE, POST_NONE); }
int lw_lower_reduce_log_sum(lw_t *k, const ir_node_t *n) { return lower_reduce(k, n, R_ADD, PRE_NONE, POST_LOG); }
int lw_lower_reduce_log_sum_exp(lw_t *k, const ir_node_t *n) { return lower_reduce(k, n, R_ADD, PRE_EXP, POST_LOG); }

/* ---------------------------------------------------------------- Softmax, LayerNorm */
static int lower_softmax(lw_t *k, const ir_node_t *n, bool log) {
    const ir_value_t *x = n->in[0], *y = n->out[0];
    ir_dtype_t t = x->dtype;
    if (!ir_dtype_is_float(t)) return lw_error(k, "%s on %s is not supported", ir_op_name(n->op), ir_dtype_name(t));
    if (n->n_post) return lw_error(k, "fused post-ops on softmax are not supported");
    int r = x->shape.rank;
    bool old = k->g->opset < 13;
    int axis = norm_axis(ir_attr_int(n, "axis", old ? 1 : -1), r);
    if (axis < 0 || axis >= (r ? r : 1)) return lw_error(k, "axis out of range");
    LLVMTypeRef ty = lw_type(k, t);
    lw_kernel_begin_range(k, n, x, 0, axis);
    LLVMValueRef L = lw_i64(k, 1), inner = lw_i64(k, 1);
    if (old) {
        for (int d = axis; d < r; d++) L = LLVMBuildNSWMul(k->b, L, lw_dim(k, x, d), "");
    } else {
        L = lw_dim(k, x, axis);
        for (int d = axis + 1; d < r; d++) inner = LLVMBuildNSWMul(k->b, inner, lw_dim(k, x, d), "");
    }
    LLVMValueRef xb = lw_base(k, x), yb = lw_base(k, y);
    LLVMValueRef mx = lw_alloca(k, ty, "mx"), sum = lw_alloca(k, ty, "sum");
    lw_loop_t lo, li, ll;
    lw_loop_begin(k, &lo, k->begin, k->end, "o");
    lw_loop_begin(k, &li, lw_i64(k, 0), inner, "in");
    LLVMValueRef base = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, LLVMBuildNSWMul(k->b, lo.iv, L, ""), inner, ""), li.iv, "");
#define AT(ptr, l) LLVMBuildGEP2(k->b, ty, ptr, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, base, LLVMBuildNSWMul(k->b, l, inner, ""), "")}, 1, "")
    LLVMBuildStore(k->b, lw_const_f(k, t, -INFINITY), mx);
    lw_loop_begin(k, &ll, lw_i64(k, 0), L, "l");
    /* llvm.maximum (NaN-propagating) vectorizes as a reduction where a compare-select
     * does not; a NaN anywhere in the row makes every output NaN either way */
    LLVMBuildStore(k->b, lw_intrin(k, "llvm.maximum", ty, (LLVMValueRef[]){LLVMBuildLoad2(k->b, ty, mx, ""), LLVMBuildLoad2(k->b, ty, AT(xb, ll.iv), "")}, 2), mx);
    lw_loop_end(k, &ll);
    LLVMValueRef m = LLVMBuildLoad2(k->b, ty, mx, "");
    LLVMBuildStore(k->b, lw_const_f(k, t, 0), sum);
    lw_loop_begin(k, &ll, lw_i64(k, 0), L, "l");
    LLVMValueRef e = lw_fmath(k, "llvm.exp", t, LLVMBuildFSub(k->b, LLVMBuildLoad2(k->b, ty, AT(xb, ll.iv), ""), m, ""));
    if (!log) LLVMBuildStore(k->b, e, AT(yb, ll.iv));
    LLVMBuildStore(k->b, radd(k, t, LLVMBuildLoad2(k->b, ty, sum, ""), e), sum);
    lw_loop_end(k, &ll);
    LLVMValueRef s = LLVMBuildLoad2(k->b, ty, sum, "");
    lw_loop_begin(k, &ll, lw_i64(k, 0), L, "l");
    if (!log) {
        LLVMValueRef inv = LLVMBuildFDiv(k->b, lw_const_f(k, t, 1), s, "");
        LLVMValueRef p = AT(yb, ll.iv);
        LLVMBuildStore(k->b, LLVMBuildFMul(k->b, LLVMBuildLoad2(k->b, ty, p, ""), inv, ""), p);
    } else {
        LLVMValueRef ls = lw_fmath(k, "llvm.log", t, s);
        LLVMValueRef v = LLVMBuildFSub(k->b, LLVMBuildFSub(k->b, LLVMBuildLoad2(k->b, ty, AT(xb, ll.iv), ""), m, ""), ls, "");
        LLVMBuildStore(k->b, v, AT(yb, ll.iv));
    }
    lw_loop_end(k, &ll);
#undef AT
    lw_loop_end(k, &li);
    lw_loop_end(k, &lo);
    lw_kernel_end(k);
    return 0;
}

/* Mean and 1/sqrt(var + eps) of the L contiguous elements of x at base, in double
 * (two passes: the mean first, then the centred squares, for accuracy). With rms the
 * mean is taken as 0 (RMSNormalization). */
static void row_moments(lw_t *k, const ir_value_t *x, LLVMValueRef base, LLVMValueRef L, double eps, bool rms,
                        LLVMValueRef *mean_out, LLVMValueRef *inv_out) {
    LLVMTypeRef dt = k->f64;
    LLVMValueRef Ld = LLVMBuildSIToFP(k->b, L, dt, "");
    LLVMValueRef acc = lw_alloca(k, dt, "acc");
    lw_loop_t ll;
    LLVMValueRef mean = LLVMConstReal(dt, 0);
    if (!rms) {
        LLVMBuildStore(k->b, LLVMConstReal(dt, 0), acc);
        lw_loop_begin(k, &ll, lw_i64(k, 0), L, "l");
        LLVMValueRef v = LLVMBuildFPCast(k->b, lw_load(k, x, LLVMBuildNSWAdd(k->b, base, ll.iv, "")), dt, "");
        LLVMBuildStore(k->b, radd(k, IR_F64, LLVMBuildLoad2(k->b, dt, acc, ""), v), acc);
        lw_loop_end(k, &ll);
        mean = LLVMBuildFDiv(k->b, LLVMBuildLoad2(k->b, dt, acc, ""), Ld, "mean");
    }
    LLVMBuildStore(k->b, LLVMConstReal(dt, 0), acc);
    lw_loop_begin(k, &ll, lw_i64(k, 0), L, "l");
    LLVMValueRef v = LLVMBuildFSub(k->b, LLVMBuildFPCast(k->b, lw_load(k, x, LLVMBuildNSWAdd(k->b, base, ll.iv, "")), dt, ""), mean, "");
    LLVMBuildStore(k->b, radd(k, IR_F64, LLVMBuildLoad2(k->b, dt, acc, ""), LLVMBuildFMul(k->b, v, v, "")), acc);
    lw_loop_end(k, &ll);
    LLVMValueRef var = LLVMBuildFDiv(k->b, LLVMBuildLoad2(k->b, dt, acc, ""), Ld, "");
    *mean_out = mean;
    *inv_out = LLVMBuildFDiv(k->b, LLVMConstReal(dt, 1),
                             lw_intrin(k, "llvm.sqrt", dt, (LLVMValueRef[]){LLVMBuildFAdd(k->b, var, LLVMConstReal(dt, eps), "")}, 1), "inv");
}

static int lower_layernorm(lw_t *k, const ir_node_t *n, bool rms) {
    const ir_value_t *x = n->in[0], *sc = n->in[1], *bi = n->n_in > 2 ? n->in[2] : NULL, *y = n->out[0];
    ir_dtype_t t = x->dtype;
    if (!ir_dtype_is_float(t)) return lw_error(k, "LayerNormalization on %s is not supported", ir_dtype_name(t));
    int r = x->shape.rank;
    int axis = norm_axis(ir_attr_int(n, "axis", -1), r);
    double eps = ir_attr_float(n, "epsilon", 1e-5);
    const ir_value_t *mo = n->n_out > 1 && n->out[1] && n->out[1]->storage != IR_ST_NONE ? n->out[1] : NULL;
    const ir_value_t *io = n->n_out > 2 && n->out[2] && n->out[2]->storage != IR_ST_NONE ? n->out[2] : NULL;
    /* accumulate in double for float16/32 stability; cheap next to the loads */
    LLVMTypeRef ty = lw_type(k, t), dt = k->f64;
    lw_kernel_begin_range(k, n, x, 0, axis);
    LLVMValueRef L = lw_i64(k, 1);
    for (int d = axis; d < r; d++) L = LLVMBuildNSWMul(k->b, L, lw_dim(k, x, d), "");
    LLVMValueRef sst[IR_MAX_RANK], bst[IR_MAX_RANK], xst[IR_MAX_RANK];
    lw_bcast_strides(k, sc, x, sst);
    if (bi) lw_bcast_strides(k, bi, x, bst);
    lw_strides(k, x, xst);
    lw_loop_t lo, ll;
    lw_loop_begin(k, &lo, k->begin, k->end, "o");
    LLVMValueRef base = LLVMBuildNSWMul(k->b, lo.iv, L, "");
    LLVMValueRef mean, inv, v;
    row_moments(k, x, base, L, eps, rms, &mean, &inv);
    if (mo) lw_store(k, mo, lo.iv, LLVMBuildFPCast(k->b, mean, lw_type(k, mo->dtype), ""));
    if (io) lw_store(k, io, lo.iv, LLVMBuildFPCast(k->b, inv, lw_type(k, io->dtype), ""));
    /* scale and bias covering the whole normalized row (the usual [..., C] case, float32,
     * no post-ops): index them by the position in the row, normalise in float32 with the
     * row's moments rounded once, so the loop vectorizes */
    int64_t Ls = 1;
    for (int d = axis; d < r; d++) Ls = x->shape.dims[d].sym >= 0 || Ls < 0 ? -1 : Ls * x->shape.dims[d].v;
    if (t == IR_F32 && !n->n_post && Ls > 0 && ir_shape_numel(&sc->shape) == Ls && (!bi || ir_shape_numel(&bi->shape) == Ls)) {
        LLVMValueRef mf = LLVMBuildFPCast(k->b, mean, ty, ""), inf_ = LLVMBuildFPCast(k->b, inv, ty, "");
        lw_loop_begin(k, &ll, lw_i64(k, 0), L, "l");
        LLVMValueRef flat = LLVMBuildNSWAdd(k->b, base, ll.iv, "");
        LLVMValueRef o = LLVMBuildFMul(k->b, LLVMBuildFMul(k->b, LLVMBuildFSub(k->b, lw_load(k, x, flat), mf, ""), inf_, ""),
                                       lw_load(k, sc, ll.iv), "");
        if (bi) o = LLVMBuildFAdd(k->b, o, lw_load(k, bi, ll.iv), "");
        lw_store(k, y, flat, o);
        lw_loop_end(k, &ll);
        lw_loop_end(k, &lo);
        lw_kernel_end(k);
        return 0;
    }
    lw_loop_begin(k, &ll, lw_i64(k, 0), L, "l");
    /* the scale/bias index: the multi-index of (base + l) in x, dotted with their strides */
    LLVMValueRef flat = LLVMBuildNSWAdd(k->b, base, ll.iv, "");
    LLVMValueRef idx[IR_MAX_RANK], rem = flat;
    for (int d = r - 1; d >= 0; d--) {
        LLVMValueRef D = lw_dim(k, x, d);
        idx[d] = LLVMBuildSRem(k->b, rem, D, "");
        rem = LLVMBuildSDiv(k->b, rem, D, "");
    }
    v = LLVMBuildFMul(k->b, LLVMBuildFSub(k->b, LLVMBuildFPCast(k->b, lw_load(k, x, flat), dt, ""), mean, ""), inv, "");
    LLVMValueRef o = LLVMBuildFMul(k->b, LLVMBuildFPCast(k->b, v, ty, ""), lw_load(k, sc, lw_dot(k, idx, sst, r)), "");
    if (bi) o = LLVMBuildFAdd(k->b, o, lw_load(k, bi, lw_dot(k, idx, bst, r)), "");
    o = lw_apply_post(k, n, o, idx);
    if (!o) return -1;
    lw_store(k, y, flat, o);
    lw_loop_end(k, &ll);
    lw_loop_end(k, &lo);
    lw_kernel_end(k);
    (void)xst;
    return 0;
}

/* Instance/Group normalisation over NCHW: a group of one sample is contiguous, so each
 * (n, g) is one row of L = C/G * spatial elements; scale/bias are per channel (or per
 * group for GroupNormalization-18's [num_groups] form). */
int lw_lower_group_norm(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *sc = n->in[1], *bi = n->in[2], *y = n->out[0];
    ir_dtype_t t = x->dtype;
    LLVMTypeRef ty = lw_type(k, t), dt = k->f64;
    int64_t C = x->shape.dims[1].v, G = ir_attr_int(n, "num_groups", C);   /* InstanceNormalization: one group per channel */
    bool per_group = ir_shape_numel(&sc->shape) == G && G != C;
    double eps = ir_attr_float(n, "epsilon", 1e-5);
    lw_kernel_begin_range(k, n, x, 0, 2);  /* N*C rows of work; we split N*G */
    LLVMValueRef S = lw_i64(k, 1);
    for (int d = 2; d < x->shape.rank; d++) S = LLVMBuildNSWMul(k->b, S, lw_dim(k, x, d), "");
    LLVMValueRef L = LLVMBuildNSWMul(k->b, S, lw_i64(k, C / G), "");
    /* the parallel extent counts N*C; map it onto rows N*G */
    LLVMValueRef r0 = LLVMBuildSDiv(k->b, LLVMBuildNSWMul(k->b, k->begin, lw_i64(k, G), ""), lw_i64(k, C), "");
    LLVMValueRef r1 = LLVMBuildSDiv(k->b, LLVMBuildNSWMul(k->b, k->end, lw_i64(k, G), ""), lw_i64(k, C), "");
    lw_loop_t lo, ll;
    lw_loop_begin(k, &lo, r0, r1, "row");
    LLVMValueRef base = LLVMBuildNSWMul(k->b, lo.iv, L, "");
    LLVMValueRef grp = LLVMBuildSRem(k->b, lo.iv, lw_i64(k, G), "");
    LLVMValueRef mean, inv, v;
    row_moments(k, x, base, L, eps, false, &mean, &inv);
    lw_loop_begin(k, &ll, lw_i64(k, 0), L, "l");
    LLVMValueRef flat = LLVMBuildNSWAdd(k->b, base, ll.iv, "");
    LLVMValueRef ch = per_group ? grp : LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, grp, lw_i64(k, C / G), ""), LLVMBuildSDiv(k->b, ll.iv, S, ""), "");
    v = LLVMBuildFMul(k->b, LLVMBuildFSub(k->b, LLVMBuildFPCast(k->b, lw_load(k, x, flat), dt, ""), mean, ""), inv, "");
    LLVMValueRef o = LLVMBuildFAdd(k->b, LLVMBuildFMul(k->b, LLVMBuildFPCast(k->b, v, ty, ""), lw_load(k, sc, ch), ""), lw_load(k, bi, ch), "");
    if (n->n_post) {
        LLVMValueRef idx[IR_MAX_RANK], rem = flat;
        for (int d = x->shape.rank - 1; d >= 0; d--) {
            LLVMValueRef D = lw_dim(k, x, d);
            idx[d] = LLVMBuildSRem(k->b, rem, D, "");
            rem = LLVMBuildSDiv(k->b, rem, D, "");
        }
        o = lw_apply_post(k, n, o, idx);
        if (!o) return -1;
    }
    lw_store(k, y, flat, o);
    lw_loop_end(k, &ll);
    lw_loop_end(k, &lo);
    lw_kernel_end(k);
    return 0;
}

/* NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (log-softmax over C first). One
 * serial pass over the target's index space; sums in double. */
static int lower_loss(lw_t *k, const ir_node_t *n, bool sce) {
    const ir_value_t *x = n->in[0], *tg = n->in[1], *w = n->n_in > 2 ? n->in[2] : NULL, *y = n->out[0];
    const ir_value_t *lp = sce && n->n_out > 1 && n->out[1] && n->out[1]->storage != IR_ST_NONE ? n->out[1] : NULL;
    ir_dtype_t t = x->dtype;
    LLVMTypeRef dt = k->f64;
    LLVMBuilderRef b = k->b;
    const char *red = ir_attr_str(n, "reduction", "mean");
    bool none = strcmp(red, "none") == 0, mean = strcmp(red, "mean") == 0;
    const ir_attr_t *ig = ir_attr_find(n, "ignore_index");
    int64_t N = x->shape.dims[0].v, C = x->shape.dims[1].v, S = 1;
    for (int d = 2; d < x->shape.rank; d++) S *= x->shape.dims[d].v;
    lw_kernel_begin(k, n, y, -1);
    LLVMValueRef acc = lw_alloca(k, dt, "acc"), accw = lw_alloca(k, dt, "accw"), mx = lw_alloca(k, dt, "mx"), se = lw_alloca(k, dt, "se");
    LLVMBuildStore(b, LLVMConstReal(dt, 0), acc);
    LLVMBuildStore(b, LLVMConstReal(dt, 0), accw);
    lw_loop_t ln, ls, lc;
    lw_loop_begin(k, &ln, lw_i64(k, 0), lw_i64(k, N), "n");
    lw_loop_begin(k, &ls, lw_i64(k, 0), lw_i64(k, S), "s");
    LLVMValueRef toff = LLVMBuildAdd(b, LLVMBuildMul(b, ln.iv, lw_i64(k, S), ""), ls.iv, "");
    LLVMValueRef tv = LLVMBuildSExt(b, lw_load(k, tg, toff), k->i64, "");
    LLVMValueRef ign = ig && ig->kind == IR_ATTR_INT ? LLVMBuildICmp(b, LLVMIntEQ, tv, lw_i64(k, ig->i), "") : LLVMConstInt(k->i1, 0, 0);
    LLVMValueRef tc = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, tv, lw_i64(k, 0), ""), lw_i64(k, 0), tv, "");
    tc = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, tc, lw_i64(k, C - 1), ""), lw_i64(k, C - 1), tc, "");
    tc = LLVMBuildSelect(b, ign, lw_i64(k, 0), tc, "");
#define XOFF(c) LLVMBuildAdd(b, LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildMul(b, ln.iv, lw_i64(k, C), ""), c, ""), lw_i64(k, S), ""), ls.iv, "")
    LLVMValueRef val = lw_cast(k, lw_load(k, x, XOFF(tc)), t, IR_F64);
    if (sce) {
        LLVMBuildStore(b, LLVMConstReal(dt, -INFINITY), mx);
        lw_loop_begin(k, &lc, lw_i64(k, 0), lw_i64(k, C), "c");
        LLVMBuildStore(b, lw_fmax(k, LLVMBuildLoad2(b, dt, mx, ""), lw_cast(k, lw_load(k, x, XOFF(lc.iv)), t, IR_F64)), mx);
        lw_loop_end(k, &lc);
        LLVMValueRef m = LLVMBuildLoad2(b, dt, mx, "");
        LLVMBuildStore(b, LLVMConstReal(dt, 0), se);
        lw_loop_begin(k, &lc, lw_i64(k, 0), lw_i64(k, C), "c");
        LLVMValueRef e = lw_intrin(k, "llvm.exp", dt, (LLVMValueRef[]){LLVMBuildFSub(b, lw_cast(k, lw_load(k, x, XOFF(lc.iv)), t, IR_F64), m, "")}, 1);
        LLVMBuildStore(b, LLVMBuildFAdd(b, LLVMBuildLoad2(b, dt, se, ""), e, ""), se);
        lw_loop_end(k, &lc);
        LLVMValueRef sev = LLVMBuildLoad2(b, dt, se, "");
        LLVMValueRef lse = LLVMBuildFAdd(b, m, lw_intrin(k, "llvm.log", dt, &sev, 1), "");
        if (lp) {
            lw_loop_begin(k, &lc, lw_i64(k, 0), lw_i64(k, C), "c");
            LLVMValueRef o = XOFF(lc.iv);
            lw_store(k, lp, o, lw_cast(k, LLVMBuildFSub(b, lw_cast(k, lw_load(k, x, o), t, IR_F64), lse, ""), IR_F64, lp->dtype));
            lw_loop_end(k, &lc);
        }
        val = LLVMBuildFSub(b, val, lse, "");
    }
#undef XOFF
    LLVMValueRef wv = w ? lw_cast(k, lw_load(k, w, tc), w->dtype, IR_F64) : LLVMConstReal(dt, 1);
    wv = LLVMBuildSelect(b, ign, LLVMConstReal(dt, 0), wv, "");
    LLVMValueRef loss = LLVMBuildFNeg(b, LLVMBuildFMul(b, val, wv, ""), "");
    if (none) {
        lw_store(k, y, toff, lw_cast(k, loss, IR_F64, y->dtype));
    } else {
        LLVMBuildStore(b, LLVMBuildFAdd(b, LLVMBuildLoad2(b, dt, acc, ""), loss, ""), acc);
        LLVMBuildStore(b, LLVMBuildFAdd(b, LLVMBuildLoad2(b, dt, accw, ""), wv, ""), accw);
    }
    lw_loop_end(k, &ls);
    lw_loop_end(k, &ln);
    if (!none) {
        LLVMValueRef r = LLVMBuildLoad2(b, dt, acc, "");
        if (mean) r = LLVMBuildFDiv(b, r, LLVMBuildLoad2(b, dt, accw, ""), "");
        lw_store(k, y, lw_i64(k, 0), lw_cast(k, r, IR_F64, y->dtype));
    }
    lw_kernel_end(k);
    return 0;
}

int lw_lower_softmax(lw_t *k, const ir_node_t *n) { return lower_softmax(k, n, false); }
int lw_lower_log_softmax(lw_t *k, const ir_node_t *n) { return lower_softmax(k, n, true); }
int lw_lower_layer_norm(lw_t *k, const ir_node_t *n) { return lower_layernorm(k, n, false); }
int lw_lower_rms_norm(lw_t *k, const ir_node_t *n) { return lower_layernorm(k, n, true); }
int lw_lower_nll_loss(lw_t *k, const ir_node_t *n) { return lower_loss(k, n, false); }
int lw_lower_sce_loss(lw_t *k, const ir_node_t *n) { return lower_loss(k, n, true); }

int lw_lower_batch_norm(lw_t *k, const ir_node_t *n) {
    if (!ir_dtype_is_float(n->out[0]->dtype)) return lw_error(k, "BatchNormalization needs a float type");
    for (int i = 1; i < n->n_out; i++)
        if (n->out[i] && (n->out[i]->n_uses > 0 || n->out[i]->is_output))
            return lw_error(k, "training-mode outputs are not supported");
    return lw_emit_map(k, n, n->out[0], elem_bn, NULL);
}

int lw_lower_lrn(lw_t *k, const ir_node_t *n) {
    if (!ir_dtype_is_float(n->in[0]->dtype)) return lw_error(k, "LRN needs a float type");
    return lw_emit_map(k, n, n->out[0], elem_lrn, NULL);
}

int lw_lower_hardmax(lw_t *k, const ir_node_t *n) {
    int ax = norm_axis(ir_attr_int(n, "axis", k->g->opset < 13 ? 1 : -1), n->in[0]->shape.rank);
    if (k->g->opset < 13 && n->in[0]->shape.rank != 2) return lw_error(k, "Hardmax before opset 13 is supported on 2-D inputs only");
    return lw_emit_map(k, n, n->out[0], elem_hardmax, &ax);
}

static int lower_cum(lw_t *k, const ir_node_t *n, bool prod) {
    const ir_value_t *av = n->in[1];
    if (!av->data) {
        if (n->n_params != 1) return lw_error(k, "internal error: a run-time axis without params");
        cumsum_t c = {0, (int)ir_attr_int(n, "exclusive", 0), (int)ir_attr_int(n, "reverse", 0), prod};
        return lw_emit_map(k, n, n->out[0], elem_cumsum, &c);
    }
    int64_t ax = av->dtype == IR_I32 ? ((const int32_t *)av->data)[0] : ((const int64_t *)av->data)[0];
    cumsum_t c = {norm_axis(ax, n->in[0]->shape.rank), (int)ir_attr_int(n, "exclusive", 0), (int)ir_attr_int(n, "reverse", 0), prod};
    return lw_emit_map(k, n, n->out[0], elem_cumsum, &c);
}
int lw_lower_cum_sum(lw_t *k, const ir_node_t *n) { return lower_cum(k, n, false); }
int lw_lower_cum_prod(lw_t *k, const ir_node_t *n) { return lower_cum(k, n, true); }

static int lower_arg(lw_t *k, const ir_node_t *n, bool max) {
    arg_t a = {(int)ir_attr_int(n, "axis", 0), (int)ir_attr_int(n, "keepdims", 1), (int)ir_attr_int(n, "select_last_index", 0), max};
    if (a.axis < 0) a.axis += n->in[0]->shape.rank;
    return lw_emit_map(k, n, n->out[0], elem_arg, &a);
}
int lw_lower_arg_max(lw_t *k, const ir_node_t *n) { return lower_arg(k, n, true); }
int lw_lower_arg_min(lw_t *k, const ir_node_t *n) { return lower_arg(k, n, false); }
