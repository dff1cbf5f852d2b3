/* Data-movement kernels: Transpose, Concat, Split, Slice, Gather, Expand, Tile, Pad,
 * Shape, Size, ConstantOfShape, Range. Parameters that shape inference required to be
 * constant are read here from value->data at compile time. */
#include <stdlib.h>
#include <string.h>

#include "backends/llvm/lower_int.h"

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
    for (int d = 0; d < in->shape.rank; d++)
        ii[d] = LLVMBuildNSWAdd(k->b, lw_i64(k, s->start[d]), LLVMBuildNSWMul(k->b, idx[d], lw_i64(k, s->step[d]), ""), "");
    return lw_load(k, in, lw_dot(k, ii, st, in->shape.rank));
}

static int lower_slice(lw_t *k, const ir_node_t *n) {
    const ir_value_t *in = n->in[0];
    int r = in->shape.rank;
    int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
    int ns = const_ints(n->in[1], starts, IR_MAX_RANK), ne = const_ints(n->in[2], ends, IR_MAX_RANK);
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
            if (starts[i] == 0 && step == 1) continue; /* [0:...] of a symbolic dim: start 0 */
            return lw_error(k, "slicing a symbolic dimension is not supported");
        }
        int64_t D = dim.v, st = starts[i];
        if (st < 0) st += D;
        if (step > 0) st = st < 0 ? 0 : (st > D ? D : st);
        else st = st < 0 ? -1 : (st > D - 1 ? D - 1 : st);
        s.start[ax] = st;
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
        LLVMValueRef i = LLVMBuildSub(k->b, idx[d], lw_i64(k, p->pb[d]), "");
        LLVMValueRef lo = LLVMBuildICmp(k->b, LLVMIntSLT, i, lw_i64(k, 0), "");
        LLVMValueRef hi = LLVMBuildICmp(k->b, LLVMIntSGE, i, D, "");
        LLVMValueRef last = LLVMBuildSub(k->b, D, lw_i64(k, 1), "");
        if (p->mode == 0) {
            outside = LLVMBuildOr(k->b, outside, LLVMBuildOr(k->b, lo, hi, ""), "");
            i = LLVMBuildSelect(k->b, lo, lw_i64(k, 0), LLVMBuildSelect(k->b, hi, last, i, ""), "");
        } else if (p->mode == 1) { /* edge */
            i = LLVMBuildSelect(k->b, lo, lw_i64(k, 0), LLVMBuildSelect(k->b, hi, last, i, ""), "");
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

static int lower_pad(lw_t *k, const ir_node_t *n) {
    const ir_value_t *in = n->in[0];
    int r = in->shape.rank;
    int64_t pads[2 * IR_MAX_RANK], axes[IR_MAX_RANK];
    int np = const_ints(n->in[1], pads, 2 * IR_MAX_RANK);
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
    p.mode = strcmp(mode, "edge") == 0 ? 1 : strcmp(mode, "reflect") == 0 ? 2 : strcmp(mode, "constant") == 0 ? 0 : -1;
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

/* Trilu: keep x[..., i, j] where j - i >= k (upper) or j - i <= k (lower), else 0. */
static LLVMValueRef elem_trilu(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const int64_t *kk = ud;
    const ir_value_t *x = n->in[0];
    int r = x->shape.rank;
    LLVMValueRef st[IR_MAX_RANK];
    lw_strides(k, x, st);
    LLVMValueRef v = lw_load(k, x, lw_dot(k, idx, st, r));
    LLVMValueRef diff = LLVMBuildSub(k->b, idx[r - 1], idx[r - 2], "");
    bool upper = ir_attr_int(n, "upper", 1) != 0;
    LLVMValueRef keep = LLVMBuildICmp(k->b, upper ? LLVMIntSGE : LLVMIntSLE, diff, lw_i64(k, *kk), "");
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

int lw_lower_data(lw_t *k, const ir_node_t *n) {
    const ir_value_t *out = n->out[0], *in = n->in[0];
    switch (n->op) {
    case IR_OP_TRANSPOSE: {
        int r = in->shape.rank;
        int64_t perm[IR_MAX_RANK];
        const int64_t *p;
        int np = ir_attr_ints(n, "perm", &p);
        for (int d = 0; d < r; d++) perm[d] = np == r ? p[d] : r - 1 - d;
        return lw_emit_map(k, n, out, elem_transpose, perm);
    }
    case IR_OP_EXPAND:
        return lw_emit_map(k, n, out, elem_expand, NULL);
    case IR_OP_TILE:
        return lw_emit_map(k, n, out, elem_tile, NULL);
    case IR_OP_SLICE:
        return lower_slice(k, n);
    case IR_OP_GATHER: {
        gather_t gt = {norm_axis(ir_attr_int(n, "axis", 0), in->shape.rank)};
        return lw_emit_map(k, n, out, elem_gather, &gt);
    }
    case IR_OP_PAD:
        return lower_pad(k, n);
    case IR_OP_TRILU: {
        int64_t kk = 0;
        if (n->n_in > 1 && n->in[1]) {
            if (const_ints(n->in[1], &kk, 1) != 1) return lw_error(k, "k must be a constant scalar");
        }
        return lw_emit_map(k, n, out, elem_trilu, &kk);
    }
    case IR_OP_GATHER_ELEMENTS: {
        int ax = norm_axis(ir_attr_int(n, "axis", 0), in->shape.rank);
        return lw_emit_map(k, n, out, elem_gather_elements, &ax);
    }
    case IR_OP_CONCAT: {
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
    case IR_OP_SPLIT: {
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
    case IR_OP_SHAPE: case IR_OP_SIZE: {
        lw_kernel_begin(k, n, out, -1);
        if (n->op == IR_OP_SIZE) {
            lw_store(k, out, lw_i64(k, 0), lw_numel(k, in));
        } else {
            int r = in->shape.rank;
            int64_t s = ir_attr_int(n, "start", 0), e = ir_attr_int(n, "end", r);
            if (s < 0) s += r;
            if (e < 0) e += r;
            s = s < 0 ? 0 : s > r ? r : s;
            e = e < 0 ? 0 : e > r ? r : e;
            for (int64_t d = s; d < e; d++) lw_store(k, out, lw_i64(k, d - s), lw_dim(k, in, (int)d));
        }
        lw_kernel_end(k);
        return 0;
    }
    case IR_OP_CONSTANT_OF_SHAPE: {
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
    case IR_OP_RANGE: {
        lw_kernel_begin(k, n, out, -1);
        ir_dtype_t t = out->dtype;
        LLVMValueRef start = lw_load(k, n->in[0], lw_i64(k, 0)), delta = lw_load(k, n->in[2], lw_i64(k, 0));
        lw_loop_t l;
        lw_loop_begin(k, &l, lw_i64(k, 0), lw_numel(k, out), "i");
        LLVMValueRef fi = lw_cast(k, l.iv, IR_I64, t);
        lw_store(k, out, l.iv, lw_binary(k, IR_OP_ADD, t, start, lw_binary(k, IR_OP_MUL, t, fi, delta)));
        lw_loop_end(k, &l);
        lw_kernel_end(k);
        return 0;
    }
    default:
        return lw_error(k, "no LLVM lowering for %s", ir_op_name(n->op));
    }
}
