/* TopK, OneHot, ReverseSequence and Compress. Semantics as passes/eval_select.c: TopK orders by
 * value with ties to the lower index, OneHot counts negative indices from the end of
 * depth and leaves out-of-range ones 'off', ReverseSequence clamps lengths to the time
 * axis. Every index read from data is clamped before it addresses memory.
 *
 * TopK ranks instead of sorting: element i goes to output slot rank(i) = the number of
 * elements ordered before it, when that is < K. O(D^2) per row and no scratch memory;
 * fine for the short axes TopK is used on in exported models (class scores, beams), a
 * selection network or heap is the next step for long ones. */
#include <stdlib.h>

#include "backends/llvm/lower_int.h"
#include "ir/infer_util.h"

#define I64(x) lw_i64(k, (x))

/* x as i64 (integers widen by their signedness, floats truncate) */
static LLVMValueRef as_i64(lw_t *k, LLVMValueRef v, ir_dtype_t t) { return lw_cast(k, v, t, IR_I64); }

static LLVMValueRef clamp(lw_t *k, LLVMValueRef i, LLVMValueRef lo, LLVMValueRef hi) {
    i = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, i, lo, ""), lo, i, "");
    return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSGT, i, hi, ""), hi, i, "");
}

/* ---------------------------------------------------------------- TopK */
/* a ordered before b: strictly better value, or equal and a lower index */
static LLVMValueRef before(lw_t *k, ir_dtype_t t, bool largest, LLVMValueRef va, LLVMValueRef vb, LLVMValueRef ia,
                           LLVMValueRef ib) {
    LLVMValueRef better, eq;
    if (ir_dtype_is_float(t)) {
        ir_dtype_t ct = t == IR_F64 ? IR_F64 : IR_F32;
        va = lw_cast(k, va, t, ct);
        vb = lw_cast(k, vb, t, ct);
        better = LLVMBuildFCmp(k->b, largest ? LLVMRealOGT : LLVMRealOLT, va, vb, "");
        eq = LLVMBuildFCmp(k->b, LLVMRealOEQ, va, vb, "");
    } else {
        bool sg = ir_dtype_is_signed(t);
        better = LLVMBuildICmp(k->b, largest ? (sg ? LLVMIntSGT : LLVMIntUGT) : (sg ? LLVMIntSLT : LLVMIntULT), va, vb, "");
        eq = LLVMBuildICmp(k->b, LLVMIntEQ, va, vb, "");
    }
    return LLVMBuildOr(k->b, better, LLVMBuildAnd(k->b, eq, LLVMBuildICmp(k->b, LLVMIntSLT, ia, ib, ""), ""), "");
}

int lw_lower_topk(lw_t *k, const ir_node_t *n) {
    int axis;
    const ir_value_t *x = n->in[0], *vals = n->out[0], *idx = n->n_out > 1 ? n->out[1] : NULL;
    if (ir_norm_axis(ir_attr_int(n, "axis", -1), x->shape.rank, &axis)) return lw_error(k, "axis out of range");
    if (n->n_post) return lw_error(k, "fused post-ops on TopK are not supported");
    ir_dtype_t t = x->dtype;
    if (t == IR_BOOL || t == IR_STRING) return lw_error(k, "TopK on %s is not supported", ir_dtype_name(t));
    bool largest = ir_attr_int(n, "largest", 1) != 0;
    int r = x->shape.rank;
    ir_shape_t rows = x->shape;
    rows.dims[axis] = ir_dim_const(1);
    lw_kernel_begin_shape(k, n, &rows, 0, r);
    /* K and D as values: constants, or run-time dims (a K fed at run time) */
    LLVMValueRef Kv = lw_dim(k, vals, axis), Dv = lw_dim(k, x, axis);
    LLVMValueRef inner = I64(1);
    for (int d = axis + 1; d < r; d++) inner = LLVMBuildNSWMul(k->b, inner, lw_dim(k, x, d), "");
    LLVMValueRef rank = lw_alloca(k, k->i64, "rank");
    lw_loop_t lw, li, lj;
    lw_loop_begin(k, &lw, k->begin, k->end, "row");
    LLVMValueRef a = LLVMBuildSDiv(k->b, lw.iv, inner, ""), c = LLVMBuildSRem(k->b, lw.iv, inner, "");
    LLVMValueRef base = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, a, LLVMBuildNSWMul(k->b, Dv, inner, ""), ""), c, "");
    LLVMValueRef obase = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, a, LLVMBuildNSWMul(k->b, Kv, inner, ""), ""), c, "");
    lw_loop_begin(k, &li, I64(0), Dv, "i");
    LLVMValueRef vi = lw_load(k, x, LLVMBuildNSWAdd(k->b, base, LLVMBuildNSWMul(k->b, li.iv, inner, ""), ""));
    LLVMBuildStore(k->b, I64(0), rank);
    lw_loop_begin(k, &lj, I64(0), Dv, "j");
    LLVMValueRef vj = lw_load(k, x, LLVMBuildNSWAdd(k->b, base, LLVMBuildNSWMul(k->b, lj.iv, inner, ""), ""));
    LLVMValueRef bf = LLVMBuildZExt(k->b, before(k, t, largest, vj, vi, lj.iv, li.iv), k->i64, "");
    LLVMBuildStore(k->b, LLVMBuildNSWAdd(k->b, LLVMBuildLoad2(k->b, k->i64, rank, ""), bf, ""), rank);
    lw_loop_end(k, &lj);
    LLVMValueRef rk = LLVMBuildLoad2(k->b, k->i64, rank, "");
    lw_if_t f;
    lw_if_begin(k, &f, LLVMBuildICmp(k->b, LLVMIntSLT, rk, Kv, ""));
    LLVMValueRef oi = LLVMBuildNSWAdd(k->b, obase, LLVMBuildNSWMul(k->b, rk, inner, ""), "");
    lw_store(k, vals, oi, vi);
    if (idx) lw_store(k, idx, oi, li.iv);
    lw_if_end(k, &f);
    lw_loop_end(k, &li);
    lw_loop_end(k, &lw);
    lw_kernel_end(k);
    return 0;
}

/* ---------------------------------------------------------------- OneHot */
typedef struct { int64_t depth; int axis; } onehot_t;

static LLVMValueRef elem_onehot(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const onehot_t *p = ud;
    const ir_value_t *ind = n->in[0], *vals = n->in[2];
    LLVMValueRef ii[IR_MAX_RANK], st[IR_MAX_RANK];
    int r = ind->shape.rank;
    for (int d = 0, j = 0; d <= r; d++)
        if (d != p->axis) ii[j++] = idx[d];
    lw_strides(k, ind, st);
    LLVMValueRef v = as_i64(k, lw_load(k, ind, lw_dot(k, ii, st, r)), ind->dtype);
    LLVMValueRef depth = lw_dim(k, n->out[0], p->axis);   /* a constant, or fed at run time */
    v = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, v, I64(0), ""), LLVMBuildAdd(k->b, v, depth, ""), v, "");
    LLVMValueRef hit = LLVMBuildICmp(k->b, LLVMIntEQ, v, idx[p->axis], "");
    return LLVMBuildSelect(k->b, hit, lw_load(k, vals, I64(1)), lw_load(k, vals, I64(0)), "");
}

int lw_lower_onehot(lw_t *k, const ir_node_t *n) {
    onehot_t p = {0, 0};
    if (ir_norm_axis(ir_attr_int(n, "axis", -1), n->in[0]->shape.rank + 1, &p.axis)) return lw_error(k, "axis out of range");
    return lw_emit_map(k, n, n->out[0], elem_onehot, &p);
}

/* ---------------------------------------------------------------- ReverseSequence */
typedef struct { int ba, ta; } revseq_t;

static LLVMValueRef elem_reverse_sequence(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const revseq_t *p = ud;
    const ir_value_t *x = n->in[0], *sl = n->in[1];
    int r = x->shape.rank;
    LLVMValueRef T = lw_dim(k, x, p->ta), t = idx[p->ta];
    LLVMValueRef len = clamp(k, as_i64(k, lw_load(k, sl, idx[p->ba]), sl->dtype), I64(0), T);
    LLVMValueRef rev = LLVMBuildSub(k->b, LLVMBuildSub(k->b, len, I64(1), ""), t, "");
    LLVMValueRef xi[IR_MAX_RANK], st[IR_MAX_RANK];
    for (int d = 0; d < r; d++) xi[d] = idx[d];
    xi[p->ta] = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, t, len, ""), rev, t, "");
    lw_strides(k, x, st);
    return lw_load(k, x, lw_dot(k, xi, st, r));
}

int lw_lower_reverse_sequence(lw_t *k, const ir_node_t *n) {
    revseq_t p;
    if (ir_reverse_seq_params(k->g, n, &p.ba, &p.ta)) return -1;
    return lw_emit_map(k, n, n->out[0], elem_reverse_sequence, &p);
}

/* ---------------------------------------------------------------- Compress */
/* The kept positions are known at compile time (constant condition): a constant table
 * maps output position j along the axis to its source position. */
typedef struct { int axis; LLVMValueRef table; LLVMTypeRef table_t; } compress_t;

static LLVMValueRef elem_compress(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const compress_t *p = ud;
    const ir_value_t *x = n->in[0];
    LLVMValueRef src = LLVMBuildLoad2(k->b, k->i64, LLVMBuildGEP2(k->b, k->i64, p->table, &idx[p->axis < 0 ? 0 : p->axis], 1, ""), "");
    if (p->axis < 0) return lw_load(k, x, src);   /* x read flat */
    int r = x->shape.rank;
    LLVMValueRef xi[IR_MAX_RANK], st[IR_MAX_RANK];
    for (int d = 0; d < r; d++) xi[d] = idx[d];
    xi[p->axis] = src;
    lw_strides(k, x, st);
    return lw_load(k, x, lw_dot(k, xi, st, r));
}

/* Compress with a condition known only at run time: one task counts the kept positions
 * (the run-time count the kernels after it see), then copies each kept slice. */
static int lower_compress_dynamic(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *c = n->in[1], *y = n->out[0];
    const ir_attr_t *a = ir_attr_find(n, "axis");
    int r = x->shape.rank, axis = 0;
    if (a && ir_norm_axis(a->i, r, &axis)) return lw_error(k, "axis out of range");
    lw_kernel_begin(k, n, y, -1);
    LLVMValueRef outer = I64(1), inner = I64(1), D;
    if (a) {
        for (int d = 0; d < axis; d++) outer = LLVMBuildNSWMul(k->b, outer, lw_dim(k, x, d), "");
        for (int d = axis + 1; d < r; d++) inner = LLVMBuildNSWMul(k->b, inner, lw_dim(k, x, d), "");
        D = lw_dim(k, x, axis);
    } else {
        D = lw_numel(k, x);
    }
    LLVMValueRef cl = lw_dim(k, c, 0);
    LLVMValueRef lim = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, cl, D, ""), cl, D, "");
    LLVMValueRef cnt = lw_alloca(k, k->i64, "cnt");
    LLVMBuildStore(k->b, I64(0), cnt);
    lw_loop_t l, lo, lin;
    lw_loop_begin(k, &l, I64(0), lim, "i");
    LLVMValueRef keep = LLVMBuildICmp(k->b, LLVMIntNE, lw_load(k, c, l.iv), LLVMConstNull(lw_type(k, c->dtype)), "");
    LLVMBuildStore(k->b, LLVMBuildAdd(k->b, LLVMBuildLoad2(k->b, k->i64, cnt, ""), LLVMBuildZExt(k->b, keep, k->i64, ""), ""), cnt);
    lw_loop_end(k, &l);
    LLVMValueRef K = LLVMBuildLoad2(k->b, k->i64, cnt, "count");
    lw_set_runtime(k, y, K);
    LLVMBuildStore(k->b, I64(0), cnt);
    lw_loop_begin(k, &l, I64(0), lim, "i");
    keep = LLVMBuildICmp(k->b, LLVMIntNE, lw_load(k, c, l.iv), LLVMConstNull(lw_type(k, c->dtype)), "");
    lw_if_t f;
    lw_if_begin(k, &f, keep);
    LLVMValueRef j = LLVMBuildLoad2(k->b, k->i64, cnt, "");
    lw_loop_begin(k, &lo, I64(0), outer, "o");
    lw_loop_begin(k, &lin, I64(0), inner, "n");
    LLVMValueRef src = LLVMBuildAdd(k->b, LLVMBuildMul(k->b, LLVMBuildAdd(k->b, LLVMBuildMul(k->b, lo.iv, D, ""), l.iv, ""), inner, ""), lin.iv, "");
    LLVMValueRef dst = LLVMBuildAdd(k->b, LLVMBuildMul(k->b, LLVMBuildAdd(k->b, LLVMBuildMul(k->b, lo.iv, K, ""), j, ""), inner, ""), lin.iv, "");
    lw_store(k, y, dst, lw_load(k, x, src));
    lw_loop_end(k, &lin);
    lw_loop_end(k, &lo);
    LLVMBuildStore(k->b, LLVMBuildAdd(k->b, j, I64(1), ""), cnt);
    lw_if_end(k, &f);
    lw_loop_end(k, &l);
    lw_kernel_end(k);
    return 0;
}

int lw_lower_compress(lw_t *k, const ir_node_t *n) {
    if (!n->in[1]->data) return lower_compress_dynamic(k, n);
    compress_t p;
    int64_t cnt = 0;
    if (ir_compress_params(k->g, n, &p.axis, &cnt)) return -1;
    const ir_value_t *c = n->in[1];
    int64_t cn = ir_shape_numel(&c->shape);
    LLVMValueRef *vals = malloc(sizeof(LLVMValueRef) * (size_t)(cnt ? cnt : 1));
    if (!vals) return lw_error(k, "out of memory");
    int64_t j = 0;
    for (int64_t i = 0; i < cn; i++)
        if (((const uint8_t *)c->data)[i]) vals[j++] = I64(i);
    if (!cnt) vals[0] = I64(0);
    p.table_t = LLVMArrayType2(k->i64, (uint64_t)(cnt ? cnt : 1));
    p.table = LLVMAddGlobal(k->m, p.table_t, "compress_idx");
    LLVMSetInitializer(p.table, LLVMConstArray2(k->i64, vals, (uint64_t)(cnt ? cnt : 1)));
    LLVMSetGlobalConstant(p.table, 1);
    LLVMSetLinkage(p.table, LLVMPrivateLinkage);
    free(vals);
    return lw_emit_map(k, n, n->out[0], elem_compress, &p);
}
