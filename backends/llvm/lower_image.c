/* Col2Im, CenterCropPad and AffineGrid as maps over the output: each element gathers what
 * it needs, so no two threads write the same element (passes/eval_image.c is the same
 * arithmetic over plain loops). Col2Im on float32/float64 scatters per channel plane
 * instead (lower_col2im_scatter). */
#include <string.h>

#include "backends/llvm/lower_int.h"
#include "ir/infer_util.h"

#define I64(x) lw_i64(k, (x))

/* ---------------------------------------------------------------- Col2Im */
/* out[n, c, pos] = sum over kernel offsets kk whose block b (b*stride - pad + kk*dil = pos
 * along every axis) exists of x[n, c*K + kk, l(b)] */
static LLVMValueRef elem_col2im(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const ir_col2im_t *p = ud;
    const ir_value_t *x = n->in[0];
    ir_dtype_t t = x->dtype, ct = t == IR_F64 ? IR_F64 : IR_F32;
    LLVMTypeRef cty = lw_type(k, ct);
    LLVMValueRef acc = lw_alloca(k, cty, "acc");
    LLVMBuildStore(k->b, lw_const_f(k, ct, 0), acc);
    lw_loop_t lk;
    lw_loop_begin(k, &lk, I64(0), I64(p->K), "kk");
    LLVMValueRef ok = LLVMConstInt(k->i1, 1, 0), l = I64(0), rem = lk.iv, kd[IR_MAX_RANK];
    for (int d = p->ns - 1; d >= 0; d--) {
        kd[d] = LLVMBuildSRem(k->b, rem, I64(p->blk[d]), "");
        rem = LLVMBuildSDiv(k->b, rem, I64(p->blk[d]), "");
    }
    for (int d = 0; d < p->ns; d++) {
        LLVMValueRef num = LLVMBuildSub(k->b, LLVMBuildAdd(k->b, idx[2 + d], I64(p->pb[d]), ""),
                                        LLVMBuildMul(k->b, kd[d], I64(p->dil[d]), ""), "");
        LLVMValueRef q = LLVMBuildSDiv(k->b, num, I64(p->str[d]), "");
        LLVMValueRef good = LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntSGE, num, I64(0), ""),
                                         LLVMBuildICmp(k->b, LLVMIntEQ, LLVMBuildSRem(k->b, num, I64(p->str[d]), ""), I64(0), ""), "");
        good = LLVMBuildAnd(k->b, good, LLVMBuildICmp(k->b, LLVMIntSLT, q, I64(p->nb[d]), ""), "");
        ok = LLVMBuildAnd(k->b, ok, good, "");
        l = LLVMBuildAdd(k->b, LLVMBuildMul(k->b, l, I64(p->nb[d]), ""), LLVMBuildSelect(k->b, good, q, I64(0), ""), "");
    }
    /* ((n*C + c)*K + kk)*L + l, read at 0 when no block covers this position */
    LLVMValueRef ch = LLVMBuildAdd(k->b, LLVMBuildMul(k->b, LLVMBuildAdd(k->b, LLVMBuildMul(k->b, idx[0], I64(p->C), ""), idx[1], ""),
                                                     I64(p->K), ""), lk.iv, "");
    LLVMValueRef off = LLVMBuildSelect(k->b, ok, LLVMBuildAdd(k->b, LLVMBuildMul(k->b, ch, I64(p->L), ""), l, ""), I64(0), "");
    LLVMValueRef v = lw_cast(k, lw_load(k, x, off), t, ct);
    LLVMValueRef cur = LLVMBuildLoad2(k->b, cty, acc, "");
    LLVMBuildStore(k->b, LLVMBuildSelect(k->b, ok, LLVMBuildFAdd(k->b, cur, v, ""), cur, ""), acc);
    lw_loop_end(k, &lk);
    return lw_cast(k, LLVMBuildLoad2(k->b, cty, acc, ""), ct, t);
}

/* float32/float64: per (batch, channel) plane, zero it, then for each kernel offset add
 * every block's value at the position it covers. The blocks that land inside the image
 * form a box [lo, hi) per axis, so the loops need no test and no division; the innermost
 * loop reads x contiguously. Threads split the planes, so no two write one element. This
 * is ConvTranspose's second half (passes/expand.c) and K/stride times fewer steps than
 * gathering per output element. */
static int lower_col2im_scatter(lw_t *k, const ir_node_t *n, const ir_col2im_t *p) {
    const ir_value_t *x = n->in[0], *y = n->out[0];
    ir_dtype_t t = x->dtype;
    LLVMTypeRef ty = lw_type(k, t);
    int ns = p->ns;
    int64_t plane = 1, ost[IR_MAX_RANK], bst[IR_MAX_RANK];
    for (int d = ns - 1; d >= 0; d--) {
        ost[d] = plane;
        plane *= p->img[d];
    }
    for (int d = ns - 1, s = 1; d >= 0; d--) {
        bst[d] = s;
        s *= (int)p->nb[d];
    }
    lw_kernel_begin_range(k, n, y, 0, 2);
    LLVMValueRef yb = lw_base(k, y), xb = lw_base(k, x);
    lw_loop_t lr, lz, lk, lb[IR_MAX_RANK];
    lw_loop_begin(k, &lr, k->begin, k->end, "plane");
    LLVMValueRef ybase = LLVMBuildNSWMul(k->b, lr.iv, I64(plane), "");
    lw_loop_begin(k, &lz, I64(0), I64(plane), "z");
    LLVMBuildStore(k->b, LLVMConstNull(ty), LLVMBuildGEP2(k->b, ty, yb, (LLVMValueRef[]){LLVMBuildNSWAdd(k->b, ybase, lz.iv, "")}, 1, ""));
    lw_loop_end(k, &lz);
    lw_loop_begin(k, &lk, I64(0), I64(p->K), "kk");
    /* x row of this plane and offset: ((plane * K) + kk) * L */
    LLVMValueRef xrow = LLVMBuildNSWMul(k->b, LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, lr.iv, I64(p->K), ""), lk.iv, ""), I64(p->L), "");
    LLVMValueRef rem = lk.iv, kd[IR_MAX_RANK], lo[IR_MAX_RANK], hi[IR_MAX_RANK], sh[IR_MAX_RANK];
    for (int d = ns - 1; d >= 0; d--) {
        kd[d] = LLVMBuildSRem(k->b, rem, I64(p->blk[d]), "");
        rem = LLVMBuildSDiv(k->b, rem, I64(p->blk[d]), "");
    }
    for (int d = 0; d < ns; d++) {
        /* block b covers pos = b*str + sh, sh = kd*dil - pb; inside when 0 <= pos < img */
        sh[d] = LLVMBuildNSWSub(k->b, LLVMBuildNSWMul(k->b, kd[d], I64(p->dil[d]), ""), I64(p->pb[d]), "");
        LLVMValueRef neg = LLVMBuildNeg(k->b, sh[d], "");   /* first b: ceil(-sh / str), at least 0 */
        LLVMValueRef l0 = LLVMBuildSDiv(k->b, LLVMBuildNSWAdd(k->b, neg, I64(p->str[d] - 1), ""), I64(p->str[d]), "");
        lo[d] = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLE, neg, I64(0), ""), I64(0), l0, "");
        LLVMValueRef top = LLVMBuildNSWSub(k->b, I64(p->img[d] - 1), sh[d], "");   /* last b: floor(top / str) */
        LLVMValueRef h0 = LLVMBuildNSWAdd(k->b, LLVMBuildSDiv(k->b, top, I64(p->str[d]), ""), I64(1), "");
        h0 = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, top, I64(0), ""), I64(0), h0, "");
        hi[d] = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSGT, h0, I64(p->nb[d]), ""), I64(p->nb[d]), h0, "");
    }
    LLVMValueRef xo = xrow, yo = ybase;
    for (int d = 0; d < ns; d++) {
        lw_loop_begin(k, &lb[d], lo[d], hi[d], "b");
        xo = LLVMBuildNSWAdd(k->b, xo, LLVMBuildNSWMul(k->b, lb[d].iv, I64(bst[d]), ""), "");
        LLVMValueRef pos = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, lb[d].iv, I64(p->str[d]), ""), sh[d], "");
        yo = LLVMBuildNSWAdd(k->b, yo, LLVMBuildNSWMul(k->b, pos, I64(ost[d]), ""), "");
    }
    LLVMValueRef yp = LLVMBuildGEP2(k->b, ty, yb, &yo, 1, "");
    LLVMValueRef v = LLVMBuildLoad2(k->b, ty, LLVMBuildGEP2(k->b, ty, xb, &xo, 1, ""), "");
    LLVMBuildStore(k->b, LLVMBuildFAdd(k->b, LLVMBuildLoad2(k->b, ty, yp, ""), v, ""), yp);
    for (int d = ns - 1; d >= 0; d--) lw_loop_end(k, &lb[d]);
    lw_loop_end(k, &lk);
    lw_loop_end(k, &lr);
    lw_kernel_end(k);
    return 0;
}

int lw_lower_col2im(lw_t *k, const ir_node_t *n) {
    ir_col2im_t p;
    if (ir_col2im_params(k->g, n, &p)) return -1;
    if (!ir_dtype_is_float(n->in[0]->dtype)) return lw_error(k, "Col2Im on %s is not supported", ir_dtype_name(n->in[0]->dtype));
    if ((n->in[0]->dtype == IR_F32 || n->in[0]->dtype == IR_F64) && n->n_post == 0) return lower_col2im_scatter(k, n, &p);
    return lw_emit_map(k, n, n->out[0], elem_col2im, &p);
}

/* ---------------------------------------------------------------- CenterCropPad */
typedef struct { int64_t off[IR_MAX_RANK]; } ccp_t;

static LLVMValueRef elem_center_crop_pad(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const ccp_t *p = ud;
    const ir_value_t *x = n->in[0];
    int r = x->shape.rank;
    LLVMValueRef xi[IR_MAX_RANK], st[IR_MAX_RANK], in = LLVMConstInt(k->i1, 1, 0);
    for (int d = 0; d < r; d++) {
        LLVMValueRef off = n->n_params == r ? lw_dim_value(k, n->params[d]) : I64(p->off[d]);   /* run-time shape */
        LLVMValueRef i = LLVMBuildAdd(k->b, idx[d], off, "");
        LLVMValueRef good = LLVMBuildICmp(k->b, LLVMIntULT, i, lw_dim(k, x, d), "");
        in = LLVMBuildAnd(k->b, in, good, "");
        xi[d] = LLVMBuildSelect(k->b, good, i, I64(0), "");
    }
    lw_strides(k, x, st);
    LLVMValueRef v = lw_load(k, x, lw_dot(k, xi, st, r));
    return LLVMBuildSelect(k->b, in, v, LLVMConstNull(lw_type(k, x->dtype)), "");
}

int lw_lower_center_crop_pad(lw_t *k, const ir_node_t *n) {
    ccp_t p;
    ir_shape_t s;
    memset(&p, 0, sizeof p);
    if (n->n_params != n->in[0]->shape.rank && ir_center_crop_params(k->g, n, p.off, &s)) return -1;
    return lw_emit_map(k, n, n->out[0], elem_center_crop_pad, &p);
}

/* ---------------------------------------------------------------- AffineGrid */
typedef struct { int64_t size[5]; int ns; bool align; } agrid_t;

/* base coordinate of index i along an axis of size S (an i64 value: a constant, or a
 * run-time dim), in double */
static LLVMValueRef grid_coord(lw_t *k, LLVMValueRef i, LLVMValueRef Si, bool align) {
    LLVMValueRef fi = LLVMBuildSIToFP(k->b, i, k->f64, ""), S = LLVMBuildSIToFP(k->b, Si, k->f64, "");
    LLVMValueRef one = LLVMConstReal(k->f64, 1.0), two = LLVMConstReal(k->f64, 2.0);
    if (align) {
        LLVMValueRef v = LLVMBuildFAdd(k->b, LLVMConstReal(k->f64, -1.0),
                                       LLVMBuildFDiv(k->b, LLVMBuildFMul(k->b, two, fi, ""), LLVMBuildFSub(k->b, S, one, ""), ""), "");
        return LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOEQ, S, one, ""), LLVMConstReal(k->f64, -1.0), v, "");
    }
    LLVMValueRef num = LLVMBuildFAdd(k->b, LLVMBuildFMul(k->b, two, fi, ""), one, "");
    return LLVMBuildFSub(k->b, LLVMBuildFDiv(k->b, num, S, ""), one, "");
}

static LLVMValueRef elem_affine_grid(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const agrid_t *p = ud;
    const ir_value_t *th = n->in[0];
    int ns = p->ns;
    LLVMValueRef pt[4];
    /* the grid's sizes from the output's dims (size may be fed at run time) */
    for (int a = 0; a < ns; a++) pt[ns - 1 - a] = grid_coord(k, idx[1 + a], lw_dim(k, n->out[0], 1 + a), p->align);
    pt[ns] = LLVMConstReal(k->f64, 1.0);
    /* theta row (b, comp): offset (b*ns + comp)*(ns + 1) */
    LLVMValueRef row = LLVMBuildMul(k->b, LLVMBuildAdd(k->b, LLVMBuildMul(k->b, idx[0], I64(ns), ""), idx[ns + 1], ""), I64(ns + 1), "");
    LLVMValueRef acc = LLVMConstReal(k->f64, 0.0);
    for (int j = 0; j <= ns; j++) {
        LLVMValueRef v = lw_cast(k, lw_load(k, th, LLVMBuildAdd(k->b, row, I64(j), "")), th->dtype, IR_F64);
        acc = LLVMBuildFAdd(k->b, acc, LLVMBuildFMul(k->b, v, pt[j], ""), "");
    }
    return lw_cast(k, acc, IR_F64, th->dtype);
}

int lw_lower_affine_grid(lw_t *k, const ir_node_t *n) {
    agrid_t p;
    memset(&p, 0, sizeof p);
    p.ns = n->out[0]->shape.rank - 2;
    if (p.ns < 2 || p.ns > 3) return lw_error(k, "AffineGrid output must be 2-D or 3-D");
    p.align = ir_attr_int(n, "align_corners", 0) != 0;
    return lw_emit_map(k, n, n->out[0], elem_affine_grid, &p);
}
