/* Index-driven kernels: GatherND, ScatterND and ScatterElements (the deprecated Scatter
 * reaches here as ScatterElements).
 *
 * Indices are run-time data. Negative values count from the end of their axis, as the
 * spec says. Values still outside [0, dim) after that must never address memory outside
 * a buffer. A data check reports them first (lower_int.h: the program exits naming the
 * node); the kernels still guard every access, whatever the check:
 *   - gathers CLAMP them to the nearest valid position (as Gather and GatherElements do),
 *   - scatters SKIP the update (writing it to a clamped position would silently corrupt
 *     a valid element that no index names).
 *
 * Scatters copy data to the output, then apply the updates one at a time in the
 * row-major order of the updates tensor, serially: with duplicate indices the result
 * depends on that order (reduction 'none': last write wins, as in the ONNX reference;
 * add/mul/max/min accumulate in that order). */
#include <string.h>

#include "backends/llvm/lower_int.h"
#include "ir/infer_util.h"

/* An index value as i64, negative values counted from the end of an axis of size D. */
static LLVMValueRef index_value(lw_t *k, LLVMValueRef iv, LLVMValueRef D) {
    iv = LLVMBuildSExt(k->b, iv, k->i64, "");   /* no-op for int64 indices */
    LLVMValueRef neg = LLVMBuildICmp(k->b, LLVMIntSLT, iv, lw_i64(k, 0), "");
    return LLVMBuildSelect(k->b, neg, LLVMBuildAdd(k->b, iv, D, ""), iv, "");
}

static LLVMValueRef clamp_index(lw_t *k, LLVMValueRef iv, LLVMValueRef D) {
    LLVMValueRef hi = LLVMBuildSub(k->b, D, lw_i64(k, 1), "");
    iv = LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSGT, iv, hi, ""), hi, iv, "");
    return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, iv, lw_i64(k, 0), ""), lw_i64(k, 0), iv, "");
}

static LLVMValueRef in_range(lw_t *k, LLVMValueRef iv, LLVMValueRef D) {
    /* One unsigned compare covers both iv < 0 and iv >= D. */
    return LLVMBuildICmp(k->b, LLVMIntULT, iv, D, "");
}

/* ---------------------------------------------------------------- GatherND */
typedef struct { int b, m; } gnd_t;

/* out[i0..iq-2, j...] = data[i0..ib-1, indices[i0..iq-2, :], j...] */
static LLVMValueRef elem_gather_nd(lw_t *k, const ir_node_t *n, LLVMValueRef *idx, void *ud) {
    const gnd_t *p = ud;
    const ir_value_t *x = n->in[0], *ind = n->in[1];
    int r = x->shape.rank, q = ind->shape.rank;
    LLVMValueRef ist[IR_MAX_RANK], xst[IR_MAX_RANK], xi[IR_MAX_RANK];
    lw_strides(k, ind, ist);
    lw_strides(k, x, xst);
    /* The tuple is contiguous: indices' last dim has stride 1. */
    LLVMValueRef tuple = lw_dot(k, idx, ist, q - 1);
    for (int d = 0; d < p->b; d++) xi[d] = idx[d];
    for (int j = 0; j < p->m; j++) {
        LLVMValueRef D = lw_dim(k, x, p->b + j);
        LLVMValueRef iv = lw_load(k, ind, LLVMBuildNSWAdd(k->b, tuple, lw_i64(k, j), ""));
        xi[p->b + j] = clamp_index(k, index_value(k, iv, D), D);
    }
    for (int d = p->b + p->m; d < r; d++) xi[d] = idx[q - 1 + d - (p->b + p->m)];
    return lw_load(k, x, lw_dot(k, xi, xst, r));
}

/* The data check (lower_int.h) of GatherND and ScatterND: component j of every index
 * tuple (ind's last dim, p->m long) addresses axis p->b + j of x. The kernels still
 * clamp or skip, so nothing is read or written out of bounds either way. */
static int check_index_tuples(lw_t *k, const ir_node_t *n, const ir_value_t *ind, const ir_value_t *x,
                              const gnd_t *p) {
    if (lw_check_begin(k, n, "an index is out of range")) return -1;
    LLVMValueRef acc = lw_alloca(k, k->i1, "any_bad");
    LLVMBuildStore(k->b, LLVMConstInt(k->i1, 0, 0), acc);
    LLVMValueRef tuples = LLVMBuildSDiv(k->b, lw_numel(k, ind), lw_i64(k, p->m), "");
    lw_loop_t l;
    lw_loop_begin(k, &l, lw_i64(k, 0), tuples, "chk");
    LLVMValueRef bad = LLVMBuildLoad2(k->b, k->i1, acc, "");
    for (int j = 0; j < p->m; j++) {
        LLVMValueRef D = lw_dim(k, x, p->b + j);
        LLVMValueRef off = LLVMBuildNSWAdd(k->b, LLVMBuildNSWMul(k->b, l.iv, lw_i64(k, p->m), ""), lw_i64(k, j), "");
        LLVMValueRef iv = index_value(k, lw_load(k, ind, off), D);
        bad = LLVMBuildOr(k->b, bad, LLVMBuildNot(k->b, in_range(k, iv, D), ""), "");
    }
    LLVMBuildStore(k->b, bad, acc);
    lw_loop_end(k, &l);
    lw_check_fail_if(k, LLVMBuildLoad2(k->b, k->i1, acc, ""));
    lw_check_end(k);
    return 0;
}

int lw_lower_gather_nd(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *ind = n->in[1];
    gnd_t p = {(int)ir_attr_int(n, "batch_dims", 0), 0};
    if (ind->shape.rank < 1 || ind->shape.dims[ind->shape.rank - 1].sym >= 0)
        return lw_error(k, "indices' last dim must be constant");
    p.m = (int)ind->shape.dims[ind->shape.rank - 1].v;
    if (p.b < 0 || p.m < 1 || p.b + p.m > x->shape.rank) return lw_error(k, "batch_dims/indices do not fit data");
    if (check_index_tuples(k, n, ind, x, &p)) return -1;
    return lw_emit_map(k, n, n->out[0], elem_gather_nd, &p);
}

/* ---------------------------------------------------------------- scatters */
/* reduction attribute -> how old and new values combine */
typedef enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN } red_t;
static int scatter_reduction(lw_t *k, const ir_node_t *n, red_t *op) {
    const char *red = ir_attr_str(n, "reduction", "none");
    static const struct { const char *name; red_t op; } tab[] = {
        {"none", RED_NONE}, {"add", RED_ADD}, {"mul", RED_MUL}, {"max", RED_MAX}, {"min", RED_MIN},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(red, tab[i].name)) {
            *op = tab[i].op;
            return 0;
        }
    return lw_error(k, "reduction '%s' is not supported", red);
}

/* Starts the serial kernel, copies data into the output, and opens a loop nest over the
 * updates' index space (idx receives the loop variables). */
static void scatter_begin(lw_t *k, const ir_node_t *n, lw_loop_t *loops, LLVMValueRef *idx) {
    const ir_value_t *x = n->in[0], *u = n->in[2], *y = n->out[0];
    lw_kernel_begin(k, n, y, -1);
    lw_loop_t cp;
    lw_loop_begin(k, &cp, lw_i64(k, 0), lw_numel(k, x), "c");
    lw_store(k, y, cp.iv, lw_load(k, x, cp.iv));
    lw_loop_end(k, &cp);
    for (int d = 0; d < u->shape.rank; d++) {
        lw_loop_begin(k, &loops[d], lw_i64(k, 0), lw_dim(k, u, d), "u");
        idx[d] = loops[d].iv;
    }
}

/* if (ok) y[yoff] = red(y[yoff], updates[idx]); then closes the loop nest. */
static void scatter_end(lw_t *k, const ir_node_t *n, red_t red, lw_loop_t *loops, LLVMValueRef *idx,
                        LLVMValueRef ok, LLVMValueRef yoff) {
    const ir_value_t *u = n->in[2], *y = n->out[0];
    LLVMValueRef ust[IR_MAX_RANK];
    lw_strides(k, u, ust);
    lw_if_t f;
    lw_if_begin(k, &f, ok);
    LLVMValueRef v = lw_load(k, u, lw_dot(k, idx, ust, u->shape.rank));
    if (red != RED_NONE) {
        LLVMValueRef old = lw_load(k, y, yoff);
        ir_dtype_t t = y->dtype;
        v = red == RED_ADD ? lw_add(k, t, old, v) : red == RED_MUL ? lw_mul(k, t, old, v)
          : red == RED_MAX ? lw_max(k, t, old, v) : lw_min(k, t, old, v);
    }
    lw_store(k, y, yoff, v);
    lw_if_end(k, &f);
    for (int d = u->shape.rank - 1; d >= 0; d--) lw_loop_end(k, &loops[d]);
    lw_kernel_end(k);
}

/* y[indices[u0..uq-2, :], j...] = red(., updates[u0..uq-2, j...]) */
int lw_lower_scatter_nd(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *ind = n->in[1], *y = n->out[0];
    int r = x->shape.rank, q = ind->shape.rank;
    red_t red = RED_NONE;
    if (scatter_reduction(k, n, &red)) return -1;
    if (n->n_post) return lw_error(k, "fused post-ops on %s are not supported", ir_op_name(n->op));
    if (q < 1 || ind->shape.dims[q - 1].sym >= 0) return lw_error(k, "indices' last dim must be constant");
    int m = (int)ind->shape.dims[q - 1].v;
    if (m < 1 || m > r) return lw_error(k, "indices do not fit data");
    if (check_index_tuples(k, n, ind, x, &(gnd_t){0, m})) return -1;
    lw_loop_t loops[IR_MAX_RANK];
    LLVMValueRef idx[IR_MAX_RANK], ist[IR_MAX_RANK], yst[IR_MAX_RANK], yi[IR_MAX_RANK];
    scatter_begin(k, n, loops, idx);
    lw_strides(k, ind, ist);
    lw_strides(k, y, yst);
    LLVMValueRef tuple = lw_dot(k, idx, ist, q - 1), ok = LLVMConstInt(k->i1, 1, 0);
    for (int j = 0; j < m; j++) {
        LLVMValueRef D = lw_dim(k, x, j);
        LLVMValueRef iv = index_value(k, lw_load(k, ind, LLVMBuildNSWAdd(k->b, tuple, lw_i64(k, j), "")), D);
        ok = LLVMBuildAnd(k->b, ok, in_range(k, iv, D), "");
        yi[j] = iv;
    }
    for (int d = m; d < r; d++) yi[d] = idx[q - 1 + d - m];
    scatter_end(k, n, red, loops, idx, ok, lw_dot(k, yi, yst, r));
    return 0;
}

/* y[u0.., indices[u], ..uq-1] = red(., updates[u]) with indices[u] on the axis. Off the
 * axis, inference guaranteed indices' dims fit inside data's. */
int lw_lower_scatter_elements(lw_t *k, const ir_node_t *n) {
    const ir_value_t *x = n->in[0], *ind = n->in[1], *y = n->out[0];
    int r = x->shape.rank, axis;
    red_t red = RED_NONE;
    if (scatter_reduction(k, n, &red)) return -1;
    if (n->n_post) return lw_error(k, "fused post-ops on %s are not supported", ir_op_name(n->op));
    if (ir_norm_axis(ir_attr_int(n, "axis", 0), r, &axis)) return lw_error(k, "axis out of range");
    if (lw_check_indices(k, n, ind, x, axis)) return -1;
    lw_loop_t loops[IR_MAX_RANK];
    LLVMValueRef idx[IR_MAX_RANK], ist[IR_MAX_RANK], yst[IR_MAX_RANK], yi[IR_MAX_RANK];
    scatter_begin(k, n, loops, idx);
    lw_strides(k, ind, ist);
    lw_strides(k, y, yst);
    LLVMValueRef D = lw_dim(k, x, axis);
    LLVMValueRef iv = index_value(k, lw_load(k, ind, lw_dot(k, idx, ist, r)), D);
    for (int d = 0; d < r; d++) yi[d] = d == axis ? iv : idx[d];
    scatter_end(k, n, red, loops, idx, in_range(k, iv, D), lw_dot(k, yi, yst, r));
    return 0;
}
