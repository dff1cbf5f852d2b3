/* TopK, OneHot, ReverseSequence, Compress, Unique and NonMaxSuppression. Semantics as passes/eval_select.c: TopK orders by
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

/* ---------------------------------------------------------------- Unique */
/* Three-way comparison (-1, 0, 1 as i64) of two elements of type t. */
static LLVMValueRef cmp3(lw_t *k, ir_dtype_t t, LLVMValueRef a, LLVMValueRef b) {
    LLVMValueRef lt, gt;
    if (ir_dtype_is_float(t)) {
        ir_dtype_t ct = t == IR_F64 ? IR_F64 : IR_F32;
        a = lw_cast(k, a, t, ct);
        b = lw_cast(k, b, t, ct);
        lt = LLVMBuildFCmp(k->b, LLVMRealOLT, a, b, "");
        gt = LLVMBuildFCmp(k->b, LLVMRealOGT, a, b, "");
    } else {
        bool sg = ir_dtype_is_signed(t);
        lt = LLVMBuildICmp(k->b, sg ? LLVMIntSLT : LLVMIntULT, a, b, "");
        gt = LLVMBuildICmp(k->b, sg ? LLVMIntSGT : LLVMIntUGT, a, b, "");
    }
    return LLVMBuildSelect(k->b, lt, I64(-1), LLVMBuildZExt(k->b, gt, k->i64, ""), "");
}

typedef struct {
    const ir_value_t *x;
    LLVMValueRef len, inner, S, scr;
} uniq_t;

/* slices a and b of x ([outer][len][inner]) compared lexicographically: -1, 0 or 1 */
static LLVMValueRef cmp_slices(lw_t *k, const uniq_t *u, LLVMValueRef a, LLVMValueRef b) {
    LLVMValueRef res = lw_alloca(k, k->i64, "cmp");
    LLVMBuildStore(k->b, I64(0), res);
    lw_loop_t l;
    lw_loop_begin(k, &l, I64(0), u->S, "e");
    LLVMValueRef o = LLVMBuildSDiv(k->b, l.iv, u->inner, ""), i = LLVMBuildSRem(k->b, l.iv, u->inner, "");
    LLVMValueRef ol = LLVMBuildMul(k->b, o, u->len, "");
    LLVMValueRef pa = LLVMBuildAdd(k->b, LLVMBuildMul(k->b, LLVMBuildAdd(k->b, ol, a, ""), u->inner, ""), i, "");
    LLVMValueRef pb = LLVMBuildAdd(k->b, LLVMBuildMul(k->b, LLVMBuildAdd(k->b, ol, b, ""), u->inner, ""), i, "");
    LLVMValueRef c = cmp3(k, u->x->dtype, lw_load(k, u->x, pa), lw_load(k, u->x, pb));
    LLVMValueRef r = LLVMBuildLoad2(k->b, k->i64, res, "");
    LLVMBuildStore(k->b, LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntNE, r, I64(0), ""), r, c, ""), res);
    lw_loop_end(k, &l);
    return LLVMBuildLoad2(k->b, k->i64, res, "");
}

/* the scratch table: an int64 per slice, unaligned, in Y's buffer past the distinct values */
static LLVMValueRef scr_at(lw_t *k, const uniq_t *u, LLVMValueRef j) {
    return LLVMBuildGEP2(k->b, k->i64, u->scr, &j, 1, "");
}
static LLVMValueRef scr_ld(lw_t *k, const uniq_t *u, LLVMValueRef j) {
    LLVMValueRef v = LLVMBuildLoad2(k->b, k->i64, scr_at(k, u, j), "");
    LLVMSetAlignment(v, 1);
    return v;
}
static void scr_st(lw_t *k, const uniq_t *u, LLVMValueRef j, LLVMValueRef v) {
    LLVMSetAlignment(LLVMBuildStore(k->b, v, scr_at(k, u, j)), 1);
}

/* One task, O(len^2 x slice) compares and no memory beyond the outputs: tab[j] (in Y's
 * buffer, which the bound of the count reserves, see ir_infer_unique) is first set to the
 * first slice equal to j, so the distinct slices are those with tab[j] == j; each of them,
 * in order, gets its place in Y (the number of distinct slices ordered before it, or seen
 * before it when unsorted), written as -(place + 1); the others then copy their first's
 * code, and every code gives inverse_indices and counts. */
int lw_lower_unique(lw_t *k, const ir_node_t *n) {
    uniq_t u = {.x = n->in[0]};
    const ir_value_t *y = n->out[0];
    const ir_value_t *ind = n->n_out > 1 ? n->out[1] : NULL, *inv = n->n_out > 2 ? n->out[2] : NULL,
                     *cnts = n->n_out > 3 ? n->out[3] : NULL;
    int axis, r = u.x->shape.rank;
    ir_dim_t dl, ds;
    if (ir_unique_params(k->g, n, &axis, &dl, &ds)) return -1;
    if (n->n_post) return lw_error(k, "fused post-ops on Unique are not supported");
    bool sorted = ir_attr_int(n, "sorted", 1) != 0;
    lw_kernel_begin(k, n, y, -1);
    u.inner = I64(1);
    LLVMValueRef outer = I64(1);
    if (axis >= 0) {
        for (int d = 0; d < axis; d++) outer = LLVMBuildNSWMul(k->b, outer, lw_dim(k, u.x, d), "");
        for (int d = axis + 1; d < r; d++) u.inner = LLVMBuildNSWMul(k->b, u.inner, lw_dim(k, u.x, d), "");
        u.len = lw_dim(k, u.x, axis);
    } else {
        u.len = lw_numel(k, u.x);
    }
    u.S = LLVMBuildNSWMul(k->b, outer, u.inner, "");
    int64_t es = (int64_t)ir_dtype_size(u.x->dtype);
    LLVMValueRef off = LLVMBuildMul(k->b, LLVMBuildMul(k->b, u.len, u.S, ""), I64(es), "");
    off = LLVMBuildAnd(k->b, LLVMBuildAdd(k->b, off, I64(7), ""), I64(~(int64_t)7), "");
    u.scr = LLVMBuildGEP2(k->b, k->i8, lw_base(k, y), &off, 1, "scratch");
    lw_loop_t lj, li, lo, ln;
    lw_if_t f, f2;
    /* tab[j] = the first slice equal to j; count the distinct ones */
    LLVMValueRef cnt = lw_alloca(k, k->i64, "cnt");
    LLVMBuildStore(k->b, I64(0), cnt);
    lw_loop_begin(k, &lj, I64(0), u.len, "j");
    scr_st(k, &u, lj.iv, lj.iv);
    lw_loop_begin(k, &li, I64(0), lj.iv, "i");
    lw_if_begin(k, &f, LLVMBuildICmp(k->b, LLVMIntEQ, scr_ld(k, &u, lj.iv), lj.iv, ""));
    lw_if_begin(k, &f2, LLVMBuildICmp(k->b, LLVMIntEQ, cmp_slices(k, &u, li.iv, lj.iv), I64(0), ""));
    scr_st(k, &u, lj.iv, li.iv);
    lw_if_end(k, &f2);
    lw_if_end(k, &f);
    lw_loop_end(k, &li);
    LLVMValueRef isf = LLVMBuildICmp(k->b, LLVMIntEQ, scr_ld(k, &u, lj.iv), lj.iv, "");
    LLVMBuildStore(k->b, LLVMBuildAdd(k->b, LLVMBuildLoad2(k->b, k->i64, cnt, ""), LLVMBuildZExt(k->b, isf, k->i64, ""), ""), cnt);
    lw_loop_end(k, &lj);
    LLVMValueRef K = LLVMBuildLoad2(k->b, k->i64, cnt, "count");
    lw_set_runtime(k, y, K);
    /* places of the distinct slices; Y, indices and zeroed counts at them */
    LLVMValueRef seen = lw_alloca(k, k->i64, "seen"), place = lw_alloca(k, k->i64, "place");
    LLVMBuildStore(k->b, I64(0), seen);
    lw_loop_begin(k, &lj, I64(0), u.len, "j");
    lw_if_begin(k, &f, LLVMBuildICmp(k->b, LLVMIntEQ, scr_ld(k, &u, lj.iv), lj.iv, ""));
    if (sorted) {
        LLVMBuildStore(k->b, I64(0), place);
        lw_loop_begin(k, &li, I64(0), u.len, "i");
        LLVMValueRef ti = scr_ld(k, &u, li.iv);
        LLVMValueRef first = LLVMBuildOr(k->b, LLVMBuildICmp(k->b, LLVMIntEQ, ti, li.iv, ""),
                                         LLVMBuildICmp(k->b, LLVMIntSLT, ti, I64(0), ""), "");
        lw_if_begin(k, &f2, first);
        LLVMValueRef less = LLVMBuildICmp(k->b, LLVMIntSLT, cmp_slices(k, &u, li.iv, lj.iv), I64(0), "");
        LLVMBuildStore(k->b, LLVMBuildAdd(k->b, LLVMBuildLoad2(k->b, k->i64, place, ""), LLVMBuildZExt(k->b, less, k->i64, ""), ""), place);
        lw_if_end(k, &f2);
        lw_loop_end(k, &li);
    } else {
        LLVMValueRef s = LLVMBuildLoad2(k->b, k->i64, seen, "");
        LLVMBuildStore(k->b, s, place);
        LLVMBuildStore(k->b, LLVMBuildAdd(k->b, s, I64(1), ""), seen);
    }
    LLVMValueRef p = LLVMBuildLoad2(k->b, k->i64, place, "");
    if (ind) lw_store(k, ind, p, lj.iv);
    if (cnts) lw_store(k, cnts, p, I64(0));
    lw_loop_begin(k, &lo, I64(0), outer, "o");
    lw_loop_begin(k, &ln, I64(0), u.inner, "n");
    LLVMValueRef src = LLVMBuildAdd(k->b, LLVMBuildMul(k->b, LLVMBuildAdd(k->b, LLVMBuildMul(k->b, lo.iv, u.len, ""), lj.iv, ""), u.inner, ""), ln.iv, "");
    LLVMValueRef dst = LLVMBuildAdd(k->b, LLVMBuildMul(k->b, LLVMBuildAdd(k->b, LLVMBuildMul(k->b, lo.iv, K, ""), p, ""), u.inner, ""), ln.iv, "");
    lw_store(k, y, dst, lw_load(k, u.x, src));
    lw_loop_end(k, &ln);
    lw_loop_end(k, &lo);
    scr_st(k, &u, lj.iv, LLVMBuildSub(k->b, I64(-1), p, ""));
    lw_if_end(k, &f);
    lw_loop_end(k, &lj);
    /* the others take their first's code; then inverse_indices and counts */
    lw_loop_begin(k, &lj, I64(0), u.len, "j");
    LLVMValueRef t = scr_ld(k, &u, lj.iv);
    lw_if_begin(k, &f, LLVMBuildICmp(k->b, LLVMIntSGE, t, I64(0), ""));
    scr_st(k, &u, lj.iv, scr_ld(k, &u, t));
    lw_if_end(k, &f);
    lw_loop_end(k, &lj);
    if (inv || cnts) {
        lw_loop_begin(k, &lj, I64(0), u.len, "j");
        LLVMValueRef pl = LLVMBuildSub(k->b, I64(-1), scr_ld(k, &u, lj.iv), "");
        if (inv) lw_store(k, inv, lj.iv, pl);
        if (cnts) lw_store(k, cnts, pl, LLVMBuildAdd(k->b, lw_load(k, cnts, pl), I64(1), ""));
        lw_loop_end(k, &lj);
    }
    lw_kernel_end(k);
    return 0;
}

/* ---------------------------------------------------------------- NonMaxSuppression */
typedef struct {
    ir_dtype_t bt, ct;   /* boxes' dtype, compute dtype */
    const ir_value_t *boxes;
} nms_t;

static LLVMValueRef fsel_min(lw_t *k, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOLT, a, b, ""), a, b, "");
}
static LLVMValueRef fsel_max(lw_t *k, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOGT, a, b, ""), a, b, "");
}

/* i1: box p (flat offset of its 4 coordinates) and box q overlap with IoU > thr, in the
 * order of operations of the ONNX reference (float32 for float32 boxes). */
static LLVMValueRef nms_suppress(lw_t *k, const nms_t *m, LLVMValueRef p, LLVMValueRef q, bool center, LLVMValueRef thr) {
    LLVMValueRef a[4], b[4];
    for (int i = 0; i < 4; i++) {
        a[i] = lw_cast(k, lw_load(k, m->boxes, LLVMBuildAdd(k->b, p, I64(i), "")), m->bt, m->ct);
        b[i] = lw_cast(k, lw_load(k, m->boxes, LLVMBuildAdd(k->b, q, I64(i), "")), m->bt, m->ct);
    }
    LLVMValueRef x1a, x1b, y1a, y1b, x2a, x2b, y2a, y2b;
    if (!center) {
        x1a = fsel_min(k, a[1], a[3]), x1b = fsel_max(k, a[1], a[3]);
        x2a = fsel_min(k, b[1], b[3]), x2b = fsel_max(k, b[1], b[3]);
        y1a = fsel_min(k, a[0], a[2]), y1b = fsel_max(k, a[0], a[2]);
        y2a = fsel_min(k, b[0], b[2]), y2b = fsel_max(k, b[0], b[2]);
    } else {
        LLVMValueRef two = lw_const_f(k, m->ct, 2.0);
        LLVMValueRef w1 = LLVMBuildFDiv(k->b, a[2], two, ""), h1 = LLVMBuildFDiv(k->b, a[3], two, "");
        LLVMValueRef w2 = LLVMBuildFDiv(k->b, b[2], two, ""), h2 = LLVMBuildFDiv(k->b, b[3], two, "");
        x1a = LLVMBuildFSub(k->b, a[0], w1, ""), x1b = LLVMBuildFAdd(k->b, a[0], w1, "");
        x2a = LLVMBuildFSub(k->b, b[0], w2, ""), x2b = LLVMBuildFAdd(k->b, b[0], w2, "");
        y1a = LLVMBuildFSub(k->b, a[1], h1, ""), y1b = LLVMBuildFAdd(k->b, a[1], h1, "");
        y2a = LLVMBuildFSub(k->b, b[1], h2, ""), y2b = LLVMBuildFAdd(k->b, b[1], h2, "");
    }
    LLVMValueRef ix0 = fsel_max(k, x1a, x2a), ix1 = fsel_min(k, x1b, x2b);
    LLVMValueRef iy0 = fsel_max(k, y1a, y2a), iy1 = fsel_min(k, y1b, y2b);
    LLVMValueRef zero = lw_const_f(k, m->ct, 0.0);
    LLVMValueRef inter = LLVMBuildFMul(k->b, LLVMBuildFSub(k->b, ix1, ix0, ""), LLVMBuildFSub(k->b, iy1, iy0, ""), "");
    LLVMValueRef a1 = LLVMBuildFMul(k->b, LLVMBuildFSub(k->b, x1b, x1a, ""), LLVMBuildFSub(k->b, y1b, y1a, ""), "");
    LLVMValueRef a2 = LLVMBuildFMul(k->b, LLVMBuildFSub(k->b, x2b, x2a, ""), LLVMBuildFSub(k->b, y2b, y2a, ""), "");
    LLVMValueRef uni = LLVMBuildFSub(k->b, LLVMBuildFAdd(k->b, a1, a2, ""), inter, "");
    LLVMValueRef ok = LLVMBuildFCmp(k->b, LLVMRealOGT, ix1, ix0, "");
    ok = LLVMBuildAnd(k->b, ok, LLVMBuildFCmp(k->b, LLVMRealOGT, iy1, iy0, ""), "");
    ok = LLVMBuildAnd(k->b, ok, LLVMBuildFCmp(k->b, LLVMRealOGT, inter, zero, ""), "");
    ok = LLVMBuildAnd(k->b, ok, LLVMBuildFCmp(k->b, LLVMRealOGT, a1, zero, ""), "");
    ok = LLVMBuildAnd(k->b, ok, LLVMBuildFCmp(k->b, LLVMRealOGT, a2, zero, ""), "");
    ok = LLVMBuildAnd(k->b, ok, LLVMBuildFCmp(k->b, LLVMRealOGT, uni, zero, ""), "");
    LLVMValueRef iou = LLVMBuildFDiv(k->b, inter, uni, "");
    return LLVMBuildAnd(k->b, ok, LLVMBuildFCmp(k->b, LLVMRealOGT, iou, thr, ""), "");
}

/* One task. Per (batch, class): the candidates (score > score_threshold when given) are
 * put in the scratch rows past the bound's batches x classes x boxes rows and sorted by
 * score, descending, ties by box index (selection sort, O(boxes^2)); then each is kept
 * unless it overlaps a box kept before it for this class, until max_output_boxes_per_class. */
int lw_lower_nms(lw_t *k, const ir_node_t *n) {
    nms_t m = {.boxes = n->in[0]};
    const ir_value_t *sc = n->in[1], *y = n->out[0];
    const ir_value_t *mo = n->n_in > 2 ? n->in[2] : NULL, *it = n->n_in > 3 ? n->in[3] : NULL,
                     *st = n->n_in > 4 ? n->in[4] : NULL;
    m.bt = m.boxes->dtype;
    m.ct = m.bt == IR_F64 ? IR_F64 : IR_F32;
    bool center = ir_attr_int(n, "center_point_box", 0) != 0;
    if (n->n_post) return lw_error(k, "fused post-ops on NonMaxSuppression are not supported");
    lw_kernel_begin(k, n, y, -1);
    LLVMValueRef B = lw_dim(k, sc, 0), C = lw_dim(k, sc, 1), N = lw_dim(k, sc, 2);
    LLVMValueRef maxo = mo ? as_i64(k, lw_load(k, mo, I64(0)), mo->dtype) : I64(0);
    LLVMValueRef iou = it ? lw_cast(k, lw_load(k, it, I64(0)), it->dtype, m.ct) : lw_const_f(k, m.ct, 0.0);
    LLVMValueRef sthr = st ? lw_cast(k, lw_load(k, st, I64(0)), st->dtype, m.ct) : NULL;
    LLVMValueRef ord0 = LLVMBuildMul(k->b, LLVMBuildMul(k->b, LLVMBuildMul(k->b, B, C, ""), N, ""), I64(3), "");
#define ORD(i) LLVMBuildAdd(k->b, ord0, (i), "")
#define SCORE(i) lw_cast(k, lw_load(k, sc, LLVMBuildAdd(k->b, so, (i), "")), sc->dtype, m.ct)
    LLVMValueRef cnt = lw_alloca(k, k->i64, "cnt"), nc = lw_alloca(k, k->i64, "nc"), best = lw_alloca(k, k->i64, "best");
    LLVMValueRef keep = lw_alloca(k, k->i1, "keep");
    LLVMBuildStore(k->b, I64(0), cnt);
    lw_loop_t lb, lc, li, lq, ls;
    lw_if_t f, f2;
    lw_loop_begin(k, &lb, I64(0), B, "b");
    lw_loop_begin(k, &lc, I64(0), C, "c");
    LLVMValueRef so = LLVMBuildMul(k->b, LLVMBuildAdd(k->b, LLVMBuildMul(k->b, lb.iv, C, ""), lc.iv, ""), N, "");
    LLVMBuildStore(k->b, I64(0), nc);
    lw_loop_begin(k, &li, I64(0), N, "i");
    LLVMValueRef cand = sthr ? LLVMBuildFCmp(k->b, LLVMRealOGT, SCORE(li.iv), sthr, "") : LLVMConstInt(k->i1, 1, 0);
    lw_if_begin(k, &f, cand);
    LLVMValueRef c0 = LLVMBuildLoad2(k->b, k->i64, nc, "");
    lw_store(k, y, ORD(c0), li.iv);
    LLVMBuildStore(k->b, LLVMBuildAdd(k->b, c0, I64(1), ""), nc);
    lw_if_end(k, &f);
    lw_loop_end(k, &li);
    LLVMValueRef NC = LLVMBuildLoad2(k->b, k->i64, nc, "");
    /* selection sort of the candidates */
    lw_loop_begin(k, &li, I64(0), NC, "p");
    LLVMBuildStore(k->b, li.iv, best);
    lw_loop_begin(k, &lq, LLVMBuildAdd(k->b, li.iv, I64(1), ""), NC, "q");
    LLVMValueRef bq = lw_load(k, y, ORD(lq.iv)), bb = lw_load(k, y, ORD(LLVMBuildLoad2(k->b, k->i64, best, "")));
    LLVMValueRef sq = SCORE(bq), sb = SCORE(bb);
    LLVMValueRef better = LLVMBuildOr(k->b, LLVMBuildFCmp(k->b, LLVMRealOGT, sq, sb, ""),
                                      LLVMBuildAnd(k->b, LLVMBuildFCmp(k->b, LLVMRealOEQ, sq, sb, ""),
                                                   LLVMBuildICmp(k->b, LLVMIntSLT, bq, bb, ""), ""), "");
    lw_if_begin(k, &f, better);
    LLVMBuildStore(k->b, lq.iv, best);
    lw_if_end(k, &f);
    lw_loop_end(k, &lq);
    LLVMValueRef bi = LLVMBuildLoad2(k->b, k->i64, best, "");
    LLVMValueRef vp = lw_load(k, y, ORD(li.iv)), vb = lw_load(k, y, ORD(bi));
    lw_store(k, y, ORD(li.iv), vb);
    lw_store(k, y, ORD(bi), vp);
    lw_loop_end(k, &li);
    /* greedy selection */
    LLVMValueRef start = LLVMBuildLoad2(k->b, k->i64, cnt, "start");
    LLVMValueRef boff = LLVMBuildMul(k->b, lb.iv, N, "");
    lw_loop_begin(k, &li, I64(0), NC, "p");
    LLVMValueRef cur = LLVMBuildLoad2(k->b, k->i64, cnt, "");
    lw_if_begin(k, &f, LLVMBuildICmp(k->b, LLVMIntSLT, LLVMBuildSub(k->b, cur, start, ""), maxo, ""));
    LLVMValueRef box = lw_load(k, y, ORD(li.iv));
    LLVMValueRef pbox = LLVMBuildMul(k->b, LLVMBuildAdd(k->b, boff, box, ""), I64(4), "");
    LLVMBuildStore(k->b, LLVMConstInt(k->i1, 1, 0), keep);
    lw_loop_begin(k, &ls, start, cur, "s");
    LLVMValueRef other = lw_load(k, y, LLVMBuildAdd(k->b, LLVMBuildMul(k->b, ls.iv, I64(3), ""), I64(2), ""));
    LLVMValueRef qbox = LLVMBuildMul(k->b, LLVMBuildAdd(k->b, boff, other, ""), I64(4), "");
    LLVMValueRef sup = nms_suppress(k, &m, pbox, qbox, center, iou);
    LLVMBuildStore(k->b, LLVMBuildAnd(k->b, LLVMBuildLoad2(k->b, k->i1, keep, ""), LLVMBuildNot(k->b, sup, ""), ""), keep);
    lw_loop_end(k, &ls);
    lw_if_begin(k, &f2, LLVMBuildLoad2(k->b, k->i1, keep, ""));
    LLVMValueRef row = LLVMBuildMul(k->b, cur, I64(3), "");
    lw_store(k, y, row, lb.iv);
    lw_store(k, y, LLVMBuildAdd(k->b, row, I64(1), ""), lc.iv);
    lw_store(k, y, LLVMBuildAdd(k->b, row, I64(2), ""), box);
    LLVMBuildStore(k->b, LLVMBuildAdd(k->b, cur, I64(1), ""), cnt);
    lw_if_end(k, &f2);
    lw_if_end(k, &f);
    lw_loop_end(k, &li);
    lw_loop_end(k, &lc);
    lw_loop_end(k, &lb);
#undef ORD
#undef SCORE
    lw_set_runtime(k, y, LLVMBuildLoad2(k->b, k->i64, cnt, "count"));
    lw_kernel_end(k);
    return 0;
}
