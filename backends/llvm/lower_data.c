/* Data-movement kernels: Transpose, Concat, Split, Slice, Gather, Expand, Tile, Pad,
 * Shape, Size, ConstantOfShape, Range. Parameters that shape inference required to be
 * constant are read here from value->data at compile time. */
#include <stdlib.h>
#include <string.h>

#include "backends/llvm/lower_int.h"
#include "ir/infer_util.h"

/* Reads a constant int tensor (int32 or int64) into out; returns the count or -1. */
static int const_ints(const ir_value_t *v, int64_t *out, int max) {
    if (!v || !v->data) return -1;
    size_t es = ir_dtype_size(v->dtype);
    if (es == 0) return -1;
    int n = (int)(v->data_size / es);
    if (n > max) return -1;
    for (int i = 0; i < n; i++) {
        if (v->dtype == IR_I64) out[i] = ((const int64_t *)v->data)[i];
        else if (v->dtype == IR_I32) out[i] = ((const int32_t *)v->data)[i];
        else return -1;
    }
    return n;
}

static int norm_axis(int64_t a, int r) { return (int)(a < 0 ? a + r : a); }

static LLVMValueRef elem_transpose(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const int64_t *perm = ud;
    const ir_value_t *in = n->in[0];
    LLVMValueRef st[IR_MAX_RANK], ps[IR_MAX_RANK];
    lw_strides(k, in, st);
    for (int d = 0; d < in->shape.rank; d++) ps[d] = st[perm[d]];
    return lw_load(k, in, lw_dot(k, idx, ps, in->shape.rank));
}

static LLVMValueRef elem_expand(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    LLVMValueRef st[IR_MAX_RANK];
    lw_bcast_strides(k, n->in[0], n->out[0], st);
    return lw_load(k, n->in[0], lw_dot(k, idx, st, n->out[0]->shape.rank));
}

static LLVMValueRef elem_tile(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const ir_value_t *in = n->in[0];
    LLVMValueRef st[IR_MAX_RANK], ii[IR_MAX_RANK];
    lw_strides(k, in, st);
    for (int d = 0; d < in->shape.rank; d++) ii[d] = LLVMBuildSRem(k->b, idx[d], lw_dim(k, in, d), "");
    return lw_load(k, in, lw_dot(k, ii, st, in->shape.rank));
}

typedef struct { int64_t start[IR_MAX_RANK], step[IR_MAX_RANK]; } slice_t;

static LLVMValueRef elem_slice(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const slice_t *s = ud;
    const ir_value_t *in = n->in[0];
    LLVMValueRef st[IR_MAX_RANK], ii[IR_MAX_RANK];
    lw_strides(k, in, st);
    for (int d = 0; d < in->shape.rank; d++) {
        /* a first index known only at run time comes from the node's params */
        int r = in->shape.rank;
        LLVMValueRef first = n->n_params >= r ? lw_dim_value(k, n->params[d]) : lw_i64(k, s->start[d]);
        LLVMValueRef step = n->n_params == 2 * r ? lw_dim_value(k, n->params[r + d]) : lw_i64(k, s->step[d]);
        ii[d] = LLVMBuildNSWAdd(k->b, first, LLVMBuildNSWMul(k->b, idx[d], step, ""), "");
    }
    return lw_load(k, in, lw_dot(k, ii, st, in->shape.rank));
}

int lw_lower_slice(lw_t *k, const ir_node_t *n) {
    const ir_value_t *in = n->in[0];
    int r = in->shape.rank;
    int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
    int ns = const_ints(n->in[1], starts, IR_MAX_RANK), ne = const_ints(n->in[2], ends, IR_MAX_RANK);
    if (n->n_params == 2 * r) {
        /* run-time axes: first indices and steps both in params */
        slice_t s;
        for (int d = 0; d < r; d++) { s.start[d] = 0; s.step[d] = 1; }
        return lw_emit_map(k, n, n->out[0], elem_slice, &s);
    }
    if (n->n_params == r) {
        /* run-time bounds: inference put the first indices in params; steps are constant */
        slice_t s;
        for (int d = 0; d < r; d++) { s.start[d] = 0; s.step[d] = 1; }
        int cnt = n->in[1]->shape.rank == 1 ? (int)n->in[1]->shape.dims[0].v : 1;
        int na = n->n_in > 3 && n->in[3] ? const_ints(n->in[3], axes, IR_MAX_RANK) : -2;
        int nst = n->n_in > 4 && n->in[4] ? const_ints(n->in[4], steps, IR_MAX_RANK) : -2;
        if (na == -1 || nst == -1) return lw_error(k, "axes/steps must be constant");
        for (int i = 0; i < cnt && i < IR_MAX_RANK; i++) {
            int ax = na >= 0 ? norm_axis(axes[i], r) : i;
            if (ax < 0 || ax >= r) return lw_error(k, "slice axis out of range");
            s.step[ax] = nst >= 0 ? steps[i] : 1;
        }
        return lw_emit_map(k, n, n->out[0], elem_slice, &s);
    }
    if (ns < 0 || ne != ns) return lw_error(k, "starts/ends must be constant and of equal length");
    int na = n->n_in > 3 && n->in[3] ? const_ints(n->in[3], axes, IR_MAX_RANK) : -2;
    int nst = n->n_in > 4 && n->in[4] ? const_ints(n->in[4], steps, IR_MAX_RANK) : -2;
    if (na == -1 || nst == -1) return lw_error(k, "axes/steps must be constant");
    slice_t s;
    for (int d = 0; d < r; d++) { s.start[d] = 0; s.step[d] = 1; }
    for (int i = 0; i < ns; i++) {
        int ax = na >= 0 ? norm_axis(axes[i], r) : i;
        if (ax < 0 || ax >= r) return lw_error(k, "slice axis out of range");
        int64_t step = nst >= 0 ? steps[i] : 1;
        if (step == 0) return lw_error(k, "slice step is 0");
        ir_dim_t dim = in->shape.dims[ax];
        if (dim.sym >= 0) {
            /* inference proved the first index constant (else params hold it) */
            if (step == 1 && starts[i] >= 0) {
                s.start[ax] = starts[i];
                continue;
            }
            return lw_error(k, "internal error: a symbolic slice without run-time bounds");
        }
        int64_t first;
        ir_slice_range(dim.v, starts[i], ends[i], step, &first);
        s.start[ax] = first;
        s.step[ax] = step;
    }
    return lw_emit_map(k, n, n->out[0], elem_slice, &s);
}

typedef struct { int axis; } gather_t;

static LLVMValueRef elem_gather(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const gather_t *gt = ud;
    const ir_value_t *data = n->in[0], *ind = n->in[1];
    int q = ind->shape.rank, r = data->shape.rank, ax = gt->axis;
    LLVMValueRef ist[IR_MAX_RANK], dst[IR_MAX_RANK], di[IR_MAX_RANK];
    lw_strides(k, ind, ist);
    LLVMValueRef iv = lw_load(k, ind, lw_dot(k, idx + ax, ist, q));
    iv = LLVMBuildSExt(k->b, iv, k->i64, "");
    LLVMValueRef D = lw_dim(k, data, ax);
    LLVMValueRef neg = LLVMBuildICmp(k->b, LLVMIntSLT, iv, lw_i64(k, 0), "");
    iv = LLVMBuildSelect(k->b, neg, LLVMBuildAdd(k->b, iv, D, ""), iv, "");
    /* out-of-range indices are clamped rather than read out of bounds */
    iv = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, iv, lw_i64(k, 0), ""), lw_i64(k, 0), iv, "");
    LLVMValueRef hi = LLVMBuildSub(k->b, D, lw_i64(k, 1), "");
    iv = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSGT, iv, hi, ""), hi, iv, "");
    lw_strides(k, data, dst);
    for (int d = 0; d < r; d++) di[d] = d < ax ? idx[d] : d == ax ? iv : idx[d + q - 1];
    return lw_load(k, data, lw_dot(k, di, dst, r));
}

typedef struct { int64_t pb[IR_MAX_RANK]; int mode; LLVMValueRef cval; } pad_t;

static LLVMValueRef elem_pad(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    pad_t *p = ud;
    const ir_value_t *in = n->in[0];
    int r = in->shape.rank;
    LLVMValueRef st[IR_MAX_RANK], ii[IR_MAX_RANK];
    lw_strides(k, in, st);
    LLVMValueRef outside = LLVMConstInt(k->i1, 0, 0);
    for (int d = 0; d < r; d++) {
        LLVMValueRef D = lw_dim(k, in, d);
        LLVMValueRef pb = n->n_params == r ? lw_dim_value(k, n->params[d]) : lw_i64(k, p->pb[d]);
        LLVMValueRef i = LLVMBuildSub(k->b, idx[d], pb, "");
        LLVMValueRef lo = LLVMBuildICmp(k->b, LLVMIntSLT, i, lw_i64(k, 0), "");
        LLVMValueRef hi = LLVMBuildICmp(k->b, LLVMIntSGE, i, D, "");
        LLVMValueRef last = LLVMBuildSub(k->b, D, lw_i64(k, 1), "");
        if (p->mode == 0) {
            outside = LLVMBuildOr(k->b, outside, LLVMBuildOr(k->b, lo, hi, ""), "");
            i = LLVMBuildSelect(k->b, lo, lw_i64(k, 0), LLVMBuildSelect(k->b, hi, last, i, ""), "");
        } else if (p->mode == 1) { /* edge */
            i = LLVMBuildSelect(k->b, lo, lw_i64(k, 0), LLVMBuildSelect(k->b, hi, last, i, ""), "");
        } else if (p->mode == 3) { /* wrap: i mod D, for pads of any size */
            i = LLVMBuildSRem(k->b, LLVMBuildAdd(k->b, LLVMBuildSRem(k->b, i, D, ""), D, ""), D, "");
        } else { /* reflect: -i, and 2*(D-1)-i */
            i = LLVMBuildSelect(k->b, lo, LLVMBuildNeg(k->b, i, ""), i, "");
            LLVMValueRef hi2 = LLVMBuildICmp(k->b, LLVMIntSGE, i, D, "");
            i = LLVMBuildSelect(k->b, hi2, LLVMBuildSub(k->b, LLVMBuildMul(k->b, last, lw_i64(k, 2), ""), i, ""), i, "");
        }
        ii[d] = i;
    }
    LLVMValueRef x = lw_load(k, in, lw_dot(k, ii, st, r));
    if (p->mode == 0) x = LLVMBuildSelect(k->b, outside, p->cval, x, "");
    return x;
}

static LLVMValueRef elem_pad_wrap(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    pad_t *p = ud;
    const ir_value_t *in = n->in[0];
    if (n->n_in > 2 && n->in[2])
        p->cval = lw_load(k, n->in[2], lw_i64(k, 0));
    else
        p->cval = LLVMConstNull(lw_type(k, in->dtype));
    return elem_pad(k, n, idx, ud);
}

int lw_lower_pad(lw_t *k, const ir_node_t *n) {
    const ir_value_t *in = n->in[0];
    int r = in->shape.rank;
    int64_t pads[2 * IR_MAX_RANK], axes[IR_MAX_RANK];
    int np = const_ints(n->in[1], pads, 2 * IR_MAX_RANK);
    if (n->n_params == r) {
        /* run-time pads or axes: the leading pads come from params (elem_pad) */
        pad_t p;
        memset(&p, 0, sizeof p);
        const char *mode = ir_attr_str(n, "mode", "constant");
        p.mode = strcmp(mode, "edge") == 0 ? 1 : strcmp(mode, "reflect") == 0 ? 2 : strcmp(mode, "wrap") == 0 ? 3
               : strcmp(mode, "constant") == 0 ? 0 : -1;
        if (p.mode < 0) return lw_error(k, "pad mode '%s' is not supported", mode);
        return lw_emit_map(k, n, n->out[0], elem_pad_wrap, &p);
    }
    if (np < 0) return lw_error(k, "pads must be constant");
    int na = n->n_in > 3 && n->in[3] ? const_ints(n->in[3], axes, IR_MAX_RANK) : -2;
    if (na == -1) return lw_error(k, "axes must be constant");
    int cnt = na >= 0 ? na : r;
    if (np != 2 * cnt) return lw_error(k, "pads has %d values, expected %d", np, 2 * cnt);
    pad_t p;
    memset(&p, 0, sizeof p);
    for (int i = 0; i < cnt; i++) {
        int ax = na >= 0 ? norm_axis(axes[i], r) : i;
        if (ax < 0 || ax >= r) return lw_error(k, "pad axis out of range");
        p.pb[ax] = pads[i];
        if (pads[i] < 0 || pads[i + cnt] < 0) return lw_error(k, "negative pads are not supported");
    }
    const char *mode = ir_attr_str(n, "mode", "constant");
    p.mode = strcmp(mode, "edge") == 0      ? 1
             : strcmp(mode, "reflect") == 0 ? 2
             : strcmp(mode, "wrap") == 0    ? 3
             : strcmp(mode, "constant") == 0 ? 0
                                            : -1;
    if (p.mode < 0) return lw_error(k, "pad mode '%s' is not supported", mode);
    return lw_emit_map(k, n, n->out[0], elem_pad_wrap, &p);
}

/* Copies src (its whole index space) into dst at offset `at` along axis. */
static void copy_block(lw_t *k, const ir_value_t *src, const ir_value_t *dst, int axis, LLVMValueRef at, bool to_dst) {
    int r = src->shape.rank;
    const ir_value_t *big = to_dst ? dst : src, *small = to_dst ? src : dst;
    LLVMValueRef sst[IR_MAX_RANK], bst[IR_MAX_RANK], idx[IR_MAX_RANK], bidx[IR_MAX_RANK];
    lw_strides(k, small, sst);
    lw_strides(k, big, bst);
    lw_loop_t loops[IR_MAX_RANK];
    for (int d = 0; d < r; d++) {
        lw_loop_begin(k, &loops[d], lw_i64(k, 0), lw_dim(k, small, d), "i");
        idx[d] = loops[d].iv;
        bidx[d] = d == axis ? LLVMBuildNSWAdd(k->b, idx[d], at, "") : idx[d];
    }
    LLVMValueRef so = lw_dot(k, idx, sst, r), bo = lw_dot(k, bidx, bst, r);
    if (to_dst)
        lw_store(k, dst, bo, lw_load(k, src, so));
    else
        lw_store(k, dst, so, lw_load(k, src, bo));
    for (int d = r - 1; d >= 0; d--) lw_loop_end(k, &loops[d]);
}

/* Trilu: keep x[..., i, j] where j - i >= k (upper) or j - i <= k (lower), else 0. k is a
 * constant, or read from its tensor at run time (it does not change the shape). */
typedef struct { int64_t k; bool dyn; } trilu_t;

static LLVMValueRef elem_trilu(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const trilu_t *t = ud;
    const ir_value_t *x = n->in[0];
    int r = x->shape.rank;
    LLVMValueRef st[IR_MAX_RANK];
    lw_strides(k, x, st);
    LLVMValueRef v = lw_load(k, x, lw_dot(k, idx, st, r));
    LLVMValueRef diff = LLVMBuildSub(k->b, idx[r - 1], idx[r - 2], "");
    bool upper = ir_attr_int(n, "upper", 1) != 0;
    LLVMValueRef kv = t->dyn ? lw_cast(k, lw_load(k, n->in[1], lw_i64(k, 0)), n->in[1]->dtype, IR_I64) : lw_i64(k, t->k);
    LLVMValueRef keep = LLVMBuildICmp(k->b, upper ? LLVMIntSGE : LLVMIntSLE, diff, kv, "");
    return LLVMBuildSelect(k->b, keep, v, LLVMConstNull(lw_type(k, x->dtype)), "");
}

static LLVMValueRef elem_gather_elements(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    int ax = *(const int *)ud;
    const ir_value_t *x = n->in[0], *ind = n->in[1];
    int r = x->shape.rank;
    LLVMValueRef ist[IR_MAX_RANK], xst[IR_MAX_RANK], xi[IR_MAX_RANK];
    lw_strides(k, ind, ist);
    lw_strides(k, x, xst);
    LLVMValueRef iv = LLVMBuildSExt(k->b, lw_load(k, ind, lw_dot(k, idx, ist, r)), k->i64, "");
    LLVMValueRef D = lw_dim(k, x, ax);
    iv = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, iv, lw_i64(k, 0), ""), LLVMBuildAdd(k->b, iv, D, ""), iv, "");
    /* clamp instead of reading out of bounds */
    iv = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, iv, lw_i64(k, 0), ""), lw_i64(k, 0), iv, "");
    LLVMValueRef hi = LLVMBuildSub(k->b, D, lw_i64(k, 1), "");
    iv = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSGT, iv, hi, ""), hi, iv, "");
    for (int d = 0; d < r; d++) xi[d] = d == ax ? iv : idx[d];
    return lw_load(k, x, lw_dot(k, xi, xst, r));
}

/* Resize: per resized axis, the coordinate transform gives x_ori; base = ceil(x_ori) - 1
 * and ratio = x_ori - base in (0, 1] pick the taps (1 nearest, 2 linear, 4 cubic) the way
 * the ONNX reference does, with edge clamping and optional exclude_outside. */
typedef struct {
    ir_resize_t rp;
    int mode;            /* 0 nearest, 1 linear, 2 cubic */
    int ctm;             /* 0 half_pixel 1 asymmetric 2 align_corners 3 pytorch_half_pixel 4 tf_crop 5 half_pixel_symmetric */
    int nearest;         /* 0 round_prefer_floor 1 round_prefer_ceil 2 floor 3 ceil */
    double a, extrap;
    int exclude;
    bool resized[IR_MAX_RANK];
} resize_t;

static LLVMValueRef dconst(lw_t *k, double v) { return LLVMConstReal(k->f64, v); }

static LLVMValueRef elem_resize(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const resize_t *R = ud;
    const ir_value_t *x = n->in[0];
    int r = x->shape.rank;
    LLVMBuilderRef b = k->b;
    int ntap = R->mode == 0 ? 1 : R->mode == 1 ? 2 : 4;
    LLVMValueRef tidx[IR_MAX_RANK][4], tco[IR_MAX_RANK][4];
    LLVMValueRef outside = LLVMConstInt(k->i1, 0, 0);
    int rd[IR_MAX_RANK], nr = 0;
    for (int d = 0; d < r; d++) {
        if (!R->resized[d]) continue;
        rd[nr++] = d;
        /* in, the scale and ow = scale * in as values: constants folded by LLVM, or worked
         * out at run time (sizes: out / in; scales: the tensor's element) */
        LLVMValueRef in = LLVMBuildSIToFP(b, lw_dim(k, x, d), k->f64, ""), sc, outd;
        outd = LLVMBuildSIToFP(b, lw_dim(k, n->out[0], d), k->f64, "");
        if (R->rp.rt[d] == 1)
            sc = LLVMBuildFDiv(b, outd, in, "");
        else if (R->rp.rt[d] == 3 && n->n_params == 2)
            sc = LLVMBuildFDiv(b, LLVMBuildSIToFP(b, lw_dim_value(k, n->params[0]), k->f64, ""),
                               LLVMBuildSIToFP(b, lw_dim_value(k, n->params[1]), k->f64, ""), "");
        else if (R->rp.rt[d] == 2)
            sc = lw_cast(k, lw_load(k, n->in[2], lw_i64(k, R->rp.rt_elem[d])), n->in[2]->dtype, IR_F64);
        else
            sc = dconst(k, R->rp.scale[d]);
        LLVMValueRef ow = LLVMBuildFMul(b, sc, in, "");
        LLVMValueRef ow1 = LLVMBuildFCmp(b, LLVMRealOEQ, ow, dconst(k, 1), "");
        LLVMValueRef inm1 = LLVMBuildFSub(b, in, dconst(k, 1), ""), owm1 = LLVMBuildFSub(b, ow, dconst(k, 1), "");
        LLVMValueRef r0 = dconst(k, R->rp.roi_start[d]), r1 = dconst(k, R->rp.roi_end[d]);
        if (R->rp.rt_roi) {
            /* tf_crop_and_resize with the roi fed at run time */
            const ir_value_t *rv = n->in[1];
            r0 = lw_cast(k, lw_load(k, rv, lw_i64(k, R->rp.roi_idx[d])), rv->dtype, IR_F64);
            r1 = lw_cast(k, lw_load(k, rv, lw_i64(k, R->rp.roi_idx[d] + R->rp.n_axes)), rv->dtype, IR_F64);
        }
        LLVMValueRef xf = LLVMBuildSIToFP(b, idx[d], k->f64, ""), xo;
        LLVMValueRef half = LLVMBuildFAdd(b, xf, dconst(k, 0.5), "");
        LLVMValueRef hp = LLVMBuildFSub(b, LLVMBuildFDiv(b, half, sc, ""), dconst(k, 0.5), "");
        switch (R->ctm) {
        case 1: xo = LLVMBuildFDiv(b, xf, sc, ""); break;
        case 2: xo = LLVMBuildSelect(b, ow1, dconst(k, 0), LLVMBuildFMul(b, xf, LLVMBuildFDiv(b, inm1, owm1, ""), ""), ""); break;
        case 3: xo = LLVMBuildSelect(b, ow1, dconst(k, -0.5), hp, ""); break;
        case 4: {
            LLVMValueRef span = LLVMBuildFMul(b, LLVMBuildFSub(b, r1, r0, ""), inm1, "");
            xo = LLVMBuildSelect(b, ow1, LLVMBuildFDiv(b, span, dconst(k, 2), ""),
                                 LLVMBuildFMul(b, xf, LLVMBuildFDiv(b, span, owm1, ""), ""), "");
            xo = LLVMBuildFAdd(b, xo, LLVMBuildFMul(b, r0, inm1, ""), "");
            outside = LLVMBuildOr(b, outside, LLVMBuildOr(b, LLVMBuildFCmp(b, LLVMRealOLT, xo, dconst(k, 0), ""),
                                                          LLVMBuildFCmp(b, LLVMRealOGT, xo, inm1, ""), ""), "");
            break;
        }
        case 5: {
            LLVMValueRef adj = LLVMBuildFDiv(b, outd, ow, "");
            LLVMValueRef off = LLVMBuildFMul(b, LLVMBuildFDiv(b, in, dconst(k, 2), ""), LLVMBuildFSub(b, dconst(k, 1), adj, ""), "");
            xo = LLVMBuildFAdd(b, off, hp, "");
            break;
        }
        default: xo = hp; break;
        }
        LLVMValueRef basef = LLVMBuildFSub(b, lw_intrin(k, "llvm.ceil", k->f64, &xo, 1), dconst(k, 1), "");
        LLVMValueRef ratio = LLVMBuildFSub(b, xo, basef, "");
        LLVMValueRef base = LLVMBuildFPToSI(b, basef, k->i64, "");
        LLVMValueRef last = LLVMBuildSub(b, lw_dim(k, x, d), lw_i64(k, 1), "");
        int first = R->mode == 2 ? -1 : 0;
        if (R->mode == 0) {
            LLVMValueRef j;
            switch (R->nearest) {
            case 1: j = LLVMBuildFCmp(b, LLVMRealOGE, ratio, dconst(k, 0.5), ""); break;
            case 2: j = LLVMBuildFCmp(b, LLVMRealOEQ, ratio, dconst(k, 1.0), ""); break;
            case 3: j = LLVMConstInt(k->i1, 1, 0); break;
            default: j = LLVMBuildFCmp(b, LLVMRealOGT, ratio, dconst(k, 0.5), ""); break;
            }
            base = LLVMBuildAdd(b, base, LLVMBuildZExt(b, j, k->i64, ""), "");
        }
        LLVMValueRef sum = dconst(k, 0);
        for (int t = 0; t < ntap; t++) {
            LLVMValueRef ti = LLVMBuildAdd(b, base, lw_i64(k, first + t), "");
            LLVMValueRef in_range = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, ti, lw_i64(k, 0), ""),
                                                 LLVMBuildICmp(b, LLVMIntSLE, ti, last, ""), "");
            LLVMValueRef c;
            if (R->mode == 0) c = dconst(k, 1);
            else if (R->mode == 1) c = t == 0 ? LLVMBuildFSub(b, dconst(k, 1), ratio, "") : ratio;
            else {
                /* cubic convolution kernel at distances ratio+1, ratio, 1-ratio, 2-ratio */
                double A = R->a;
                LLVMValueRef s = t == 0 ? LLVMBuildFAdd(b, ratio, dconst(k, 1), "")
                               : t == 1 ? ratio
                               : t == 2 ? LLVMBuildFSub(b, dconst(k, 1), ratio, "")
                                        : LLVMBuildFSub(b, dconst(k, 2), ratio, "");
                LLVMValueRef s2 = LLVMBuildFMul(b, s, s, ""), s3 = LLVMBuildFMul(b, s2, s, "");
                if (t == 1 || t == 2)
                    c = LLVMBuildFAdd(b, LLVMBuildFSub(b, LLVMBuildFMul(b, dconst(k, A + 2), s3, ""), LLVMBuildFMul(b, dconst(k, A + 3), s2, ""), ""), dconst(k, 1), "");
                else
                    c = LLVMBuildFSub(b, LLVMBuildFAdd(b, LLVMBuildFSub(b, LLVMBuildFMul(b, dconst(k, A), s3, ""), LLVMBuildFMul(b, dconst(k, 5 * A), s2, ""), ""),
                                                       LLVMBuildFMul(b, dconst(k, 8 * A), s, ""), ""), dconst(k, 4 * A), "");
            }
            if (R->exclude) c = LLVMBuildSelect(b, in_range, c, dconst(k, 0), "");
            sum = LLVMBuildFAdd(b, sum, c, "");
            ti = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, ti, lw_i64(k, 0), ""), lw_i64(k, 0), ti, "");
            ti = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, ti, last, ""), last, ti, "");
            tidx[nr - 1][t] = ti;
            tco[nr - 1][t] = c;
        }
        if (R->exclude)
            for (int t = 0; t < ntap; t++) tco[nr - 1][t] = LLVMBuildFDiv(b, tco[nr - 1][t], sum, "");
    }
    LLVMValueRef st[IR_MAX_RANK], xi[IR_MAX_RANK];
    lw_strides(k, x, st);
    for (int d = 0; d < r; d++) xi[d] = idx[d];
    LLVMValueRef acc = dconst(k, 0);
    int combos = 1;
    for (int i = 0; i < nr; i++) combos *= ntap;
    for (int c = 0; c < combos; c++) {
        LLVMValueRef w = dconst(k, 1);
        int rem = c;
        for (int i = nr - 1; i >= 0; i--) {
            int t = rem % ntap;
            rem /= ntap;
            xi[rd[i]] = tidx[i][t];
            w = LLVMBuildFMul(b, w, tco[i][t], "");
        }
        LLVMValueRef v = lw_cast(k, lw_load(k, x, lw_dot(k, xi, st, r)), x->dtype, IR_F64);
        acc = LLVMBuildFAdd(b, acc, LLVMBuildFMul(b, w, v, ""), "");
    }
    if (R->ctm == 4) acc = LLVMBuildSelect(b, outside, dconst(k, R->extrap), acc, "");
    if (!ir_dtype_is_float(x->dtype)) acc = lw_intrin(k, "llvm.round", k->f64, &acc, 1);
    return lw_cast(k, acc, IR_F64, x->dtype);
}

int lw_lower_resize(lw_t *k, const ir_node_t *n) {
    resize_t R;
    memset(&R, 0, sizeof R);
    const ir_value_t *x = n->in[0];
    if (ir_resize_params(k->g, n, &x->shape, &R.rp)) return -1;
    static const char *modes[] = {"nearest", "linear", "cubic"};
    static const char *ctms[] = {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "tf_crop_and_resize", "half_pixel_symmetric"};
    static const char *nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    const char *m = ir_attr_str(n, "mode", "nearest"), *c = ir_attr_str(n, "coordinate_transformation_mode", "half_pixel");
    const char *nm = ir_attr_str(n, "nearest_mode", "round_prefer_floor");
    R.mode = R.ctm = R.nearest = -1;
    for (int i = 0; i < 3; i++) if (!strcmp(m, modes[i])) R.mode = i;
    for (int i = 0; i < 6; i++) if (!strcmp(c, ctms[i])) R.ctm = i;
    for (int i = 0; i < 4; i++) if (!strcmp(nm, nms[i])) R.nearest = i;
    if (R.mode < 0) return lw_error(k, "mode '%s' is not supported", m);
    if (R.ctm < 0) return lw_error(k, "coordinate_transformation_mode '%s' is not supported", c);
    if (R.nearest < 0) return lw_error(k, "nearest_mode '%s' is not supported", nm);
    if (ir_attr_int(n, "antialias", 0) && R.mode != 0) return lw_error(k, "antialias is not supported yet");
    R.a = ir_attr_float(n, "cubic_coeff_a", -0.75);
    R.extrap = ir_attr_float(n, "extrapolation_value", 0.0);
    R.exclude = (int)ir_attr_int(n, "exclude_outside", 0);
    int nr = 0;
    for (int d = 0; d < x->shape.rank; d++) {
        R.resized[d] = R.rp.rt[d] != 0 || (R.rp.rt_roi && R.ctm == 4) ||
                       (x->shape.dims[d].sym < 0 ? R.rp.out[d] != x->shape.dims[d].v : R.rp.scale[d] != 1.0) ||
                       R.rp.scale[d] != 1.0 || (R.ctm == 4 && (R.rp.roi_start[d] != 0.0 || R.rp.roi_end[d] != 1.0));
        nr += R.resized[d];
    }
    int taps = R.mode == 0 ? 1 : R.mode == 1 ? 2 : 4, combos = 1;
    for (int i = 0; i < nr; i++) combos *= taps;
    if (combos > 256) return lw_error(k, "resizing %d axes with %s interpolation is not supported", nr, m);
    return lw_emit_map(k, n, n->out[0], elem_resize, &R);
}

/* DepthToSpace (DCR or CRD) and SpaceToDepth: pure index arithmetic over NCHW. */
static LLVMValueRef elem_d2s(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const ir_value_t *x = n->in[0];
    int64_t b = ir_attr_int(n, "blocksize", 1);
    LLVMBuilderRef B = k->b;
    LLVMValueRef st[4], xi[4];
    lw_strides(k, x, st);
    xi[0] = idx[0];
    if (*(const bool *)ud) {   /* DepthToSpace */
        int64_t Cp = n->out[0]->shape.dims[1].v;
        bool crd = strcmp(ir_attr_str(n, "mode", "DCR"), "CRD") == 0;
        LLVMValueRef i = LLVMBuildSRem(B, idx[2], lw_i64(k, b), ""), j = LLVMBuildSRem(B, idx[3], lw_i64(k, b), "");
        LLVMValueRef ij = LLVMBuildAdd(B, LLVMBuildMul(B, i, lw_i64(k, b), ""), j, "");
        xi[1] = crd ? LLVMBuildAdd(B, LLVMBuildMul(B, idx[1], lw_i64(k, b * b), ""), ij, "")
                    : LLVMBuildAdd(B, LLVMBuildMul(B, ij, lw_i64(k, Cp), ""), idx[1], "");
        xi[2] = LLVMBuildSDiv(B, idx[2], lw_i64(k, b), "");
        xi[3] = LLVMBuildSDiv(B, idx[3], lw_i64(k, b), "");
    } else {
        int64_t C = x->shape.dims[1].v;
        bool crd = strcmp(ir_attr_str(n, "mode", "DCR"), "CRD") == 0;
        LLVMValueRef blk = crd ? LLVMBuildSRem(B, idx[1], lw_i64(k, b * b), "") : LLVMBuildSDiv(B, idx[1], lw_i64(k, C), "");
        xi[1] = crd ? LLVMBuildSDiv(B, idx[1], lw_i64(k, b * b), "") : LLVMBuildSRem(B, idx[1], lw_i64(k, C), "");
        LLVMValueRef i = LLVMBuildSDiv(B, blk, lw_i64(k, b), ""), j = LLVMBuildSRem(B, blk, lw_i64(k, b), "");
        xi[2] = LLVMBuildAdd(B, LLVMBuildMul(B, idx[2], lw_i64(k, b), ""), i, "");
        xi[3] = LLVMBuildAdd(B, LLVMBuildMul(B, idx[3], lw_i64(k, b), ""), j, "");
    }
    return lw_load(k, x, lw_dot(k, xi, st, 4));
}

int lw_lower_transpose(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0], *in = n->in[0];
    int r = in->shape.rank;
    int64_t perm[IR_MAX_RANK];
    const int64_t *p;
    int np = ir_attr_ints(n, "perm", &p);
    for (int d = 0; d < r; d++) perm[d] = np == r ? p[d] : r - 1 - d;
    return lw_emit_map(k, n, out, elem_transpose, perm);
}

int lw_lower_expand(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    return lw_emit_map(k, n, out, elem_expand, NULL);
}

int lw_lower_tile(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    return lw_emit_map(k, n, out, elem_tile, NULL);
}

int lw_lower_gather(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0], *in = n->in[0];
    gather_t gt = {norm_axis(ir_attr_int(n, "axis", 0), in->shape.rank)};
    /* The kernel still clamps (no read outside data, whatever); the check reports. */
    if (lw_check_indices(k, n, n->in[1], in, gt.axis)) return -1;
    return lw_emit_map(k, n, out, elem_gather, &gt);
}

int lw_lower_depth_to_space(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    return lw_emit_map(k, n, out, elem_d2s, &(bool){true});
}

int lw_lower_space_to_depth(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    return lw_emit_map(k, n, out, elem_d2s, &(bool){false});
}

int lw_lower_trilu(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    trilu_t t = {0, false};
    if (n->n_in > 1 && n->in[1]) {
        const ir_value_t *kv = n->in[1];
        if (kv->dtype != IR_I64 || ir_shape_numel(&kv->shape) != 1) return lw_error(k, "k must be a single int64");
        if (kv->data) {
            if (const_ints(kv, &t.k, 1) != 1) return lw_error(k, "k must be a constant scalar");
        } else {
            t.dyn = true;
        }
    }
    return lw_emit_map(k, n, out, elem_trilu, &t);
}

int lw_lower_gather_elements(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0], *in = n->in[0];
    int ax = norm_axis(ir_attr_int(n, "axis", 0), in->shape.rank);
    if (lw_check_indices(k, n, n->in[1], in, ax)) return -1;
    return lw_emit_map(k, n, out, elem_gather_elements, &ax);
}

int lw_lower_concat(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    int axis = norm_axis(ir_attr_int(n, "axis", 0), out->shape.rank);
    lw_kernel_begin(k, n, out, -1);
    LLVMValueRef at = lw_i64(k, 0);
    for (int j = 0; j < n->n_in; j++) {
        if (!n->in[j]) continue;
        copy_block(k, n->in[j], out, axis, at, true);
        at = LLVMBuildNSWAdd(k->b, at, lw_dim(k, n->in[j], axis), "");
    }
    lw_kernel_end(k);
    if (n->n_post) return lw_error(k, "fused post-ops on Concat are not supported");
    return 0;
}

int lw_lower_split(lw_t *k, const ir_node_t *n) {
    const ir_value_t *in = n->in[0];
    int axis = norm_axis(ir_attr_int(n, "axis", 0), in->shape.rank);
    lw_kernel_begin(k, n, in, -1);
    LLVMValueRef at = lw_i64(k, 0);
    for (int j = 0; j < n->n_out; j++) {
        const ir_value_t *o = n->out[j];
        if (!o) continue;
        if (o->storage != IR_ST_NONE) copy_block(k, in, o, axis, at, false);
        at = LLVMBuildNSWAdd(k->b, at, lw_dim(k, o, axis), "");
    }
    lw_kernel_end(k);
    return 0;
}

int lw_lower_size(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0], *in = n->in[0];
    lw_kernel_begin(k, n, out, -1);
    lw_store(k, out, lw_i64(k, 0), lw_numel(k, in));
    lw_kernel_end(k);
    return 0;
}

int lw_lower_shape(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0], *in = n->in[0];
    lw_kernel_begin(k, n, out, -1);
    int r = in->shape.rank;
    int64_t s = ir_attr_int(n, "start", 0), e = ir_attr_int(n, "end", r);
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    for (int64_t d = s; d < e; d++) lw_store(k, out, lw_i64(k, d - s), lw_dim(k, in, (int)d));
    lw_kernel_end(k);
    return 0;
}

int lw_lower_constant_of_shape(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    const ir_attr_t *a = ir_attr_find(n, "value");
    lw_kernel_begin(k, n, out, -1);
    LLVMValueRef v = LLVMConstNull(lw_type(k, out->dtype));
    if (a && a->kind == IR_ATTR_TENSOR && a->t && a->t->data) {
        const ir_value_t *t = a->t;
        LLVMTypeRef ty = lw_type(k, t->dtype);
        /* load the single element from a private constant */
        LLVMValueRef gv = LLVMAddGlobal(k->m, ty, "cos_value");
        LLVMSetLinkage(gv, LLVMPrivateLinkage);
        LLVMSetGlobalConstant(gv, 1);
        LLVMValueRef init;
        switch (t->dtype) {
        case IR_F32: init = LLVMConstReal(ty, *(const float *)t->data); break;
        case IR_F64: init = LLVMConstReal(ty, *(const double *)t->data); break;
        case IR_I64: case IR_U64: init = LLVMConstInt(ty, (unsigned long long)*(const int64_t *)t->data, 1); break;
        case IR_I32: case IR_U32: init = LLVMConstInt(ty, (unsigned long long)(int64_t)*(const int32_t *)t->data, 1); break;
        case IR_I16: case IR_U16: init = LLVMConstInt(ty, *(const uint16_t *)t->data, 0); break;
        case IR_I8: case IR_U8: case IR_BOOL: init = LLVMConstInt(ty, *(const uint8_t *)t->data, 0); break;
        default: return lw_error(k, "ConstantOfShape value dtype %s is not supported", ir_dtype_name(t->dtype));
        }
        LLVMSetInitializer(gv, init);
        v = LLVMBuildLoad2(k->b, ty, gv, "");
    }
    lw_loop_t l;
    lw_loop_begin(k, &l, lw_i64(k, 0), lw_numel(k, out), "i");
    lw_store(k, out, l.iv, v);
    lw_loop_end(k, &l);
    lw_kernel_end(k);
    return 0;
}

int lw_lower_range(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0];
    lw_kernel_begin(k, n, out, -1);
    ir_dtype_t t = out->dtype;
    LLVMValueRef start = lw_load(k, n->in[0], lw_i64(k, 0)), delta = lw_load(k, n->in[2], lw_i64(k, 0));
    lw_loop_t l;
    lw_loop_begin(k, &l, lw_i64(k, 0), lw_numel(k, out), "i");
    LLVMValueRef fi = lw_cast(k, l.iv, IR_I64, t);
    lw_store(k, out, l.iv, lw_add(k, t, start, lw_mul(k, t, fi, delta)));
    lw_loop_end(k, &l);
    lw_kernel_end(k);
    return 0;
}

/* NonZero: one task. Counts the non-zero elements (the run-time count the kernels after
 * it see), then writes their indices, coordinate d of the j-th at y[d * count + j]. */
int lw_lower_non_zero(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *y = n->out[0];
    int r = x->shape.rank;
    lw_kernel_begin(k, n, y, -1);
    LLVMValueRef ne = lw_numel(k, x);
    LLVMValueRef cnt = lw_alloca(k, k->i64, "cnt");
    LLVMBuildStore(k->b, lw_i64(k, 0), cnt);
    lw_loop_t l;
#define NZ(v) (ir_dtype_is_float(x->dtype) ? LLVMBuildFCmp(k->b, LLVMRealUNE, (v), LLVMConstNull(LLVMTypeOf(v)), "") \
                                           : LLVMBuildICmp(k->b, LLVMIntNE, (v), LLVMConstNull(LLVMTypeOf(v)), ""))
    lw_loop_begin(k, &l, lw_i64(k, 0), ne, "i");
    LLVMValueRef v = lw_load(k, x, l.iv);
    LLVMValueRef c = LLVMBuildLoad2(k->b, k->i64, cnt, "");
    LLVMBuildStore(k->b, LLVMBuildAdd(k->b, c, LLVMBuildZExt(k->b, NZ(v), k->i64, ""), ""), cnt);
    lw_loop_end(k, &l);
    LLVMValueRef total = LLVMBuildLoad2(k->b, k->i64, cnt, "count");
    lw_set_runtime(k, y, total);
    LLVMValueRef st[IR_MAX_RANK];
    lw_strides(k, x, st);
    LLVMBuildStore(k->b, lw_i64(k, 0), cnt);
    lw_loop_begin(k, &l, lw_i64(k, 0), ne, "i");
    v = lw_load(k, x, l.iv);
    lw_if_t f;
    lw_if_begin(k, &f, NZ(v));
    LLVMValueRef j = LLVMBuildLoad2(k->b, k->i64, cnt, "");
    LLVMValueRef rem = l.iv;
    for (int d = 0; d < r; d++) {
        LLVMValueRef q = LLVMBuildSDiv(k->b, rem, st[d], "");
        rem = LLVMBuildSRem(k->b, rem, st[d], "");
        lw_store(k, y, LLVMBuildAdd(k->b, LLVMBuildMul(k->b, lw_i64(k, d), total, ""), j, ""), q);
    }
    LLVMBuildStore(k->b, LLVMBuildAdd(k->b, j, lw_i64(k, 1), ""), cnt);
    lw_if_end(k, &f);
    lw_loop_end(k, &l);
#undef NZ
    lw_kernel_end(k);
    return 0;
}
