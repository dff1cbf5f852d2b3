/* Per-op shape and dtype inference, following the ONNX operator spec in its newest opset.
 * The frontend has already turned attributes-that-became-inputs into inputs (Reshape
 * shape, Unsqueeze axes, Slice starts/ends, Pad pads, Clip min/max, reduce axes, ...), so
 * only the newest form is handled here.
 *
 * Symbolic dims are "const or const * one symbol" (see ir.h). Anything that would leave
 * that form (S0*S1, 3+S0, slicing a symbolic axis) is refused with "unsupported symbolic
 * shape" rather than guessed, because the memory planner and backends rely on every
 * shape being exactly representable. */
#include "ir/infer_int.h"
#include "ir/lowp.h"
#include "ir/recipe.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- shared helpers */
int ir_norm_axis(int64_t axis, int rank, int *out) {
    if (axis < -(int64_t)rank || axis >= rank) return -1;
    *out = (int)(axis < 0 ? axis + rank : axis);
    return 0;
}

/* Dims past rank and struct padding are unspecified, so no memcmp. */
static bool shape_eq(const ir_shape_t *a, const ir_shape_t *b) {
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (!ir_dim_eq(a->dims[i], b->dims[i])) return false;
    return true;
}

int ir_broadcast_shapes(const ir_shape_t *a, const ir_shape_t *b, ir_shape_t *out) {
    if (a->rank < 0 || b->rank < 0) return -1;
    int r = a->rank > b->rank ? a->rank : b->rank;
    ir_shape_t o = {.rank = r};
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        ir_dim_t da = ia >= 0 ? a->dims[ia] : ir_dim_const(1);
        ir_dim_t db = ib >= 0 ? b->dims[ib] : ir_dim_const(1);
        if (ir_dim_eq(da, db) || dim_is(db, 1))
            o.dims[i] = da;
        else if (dim_is(da, 1))
            o.dims[i] = db;
        else
            return -1;
    }
    *out = o;
    return 0;
}

static int64_t data_count(const ir_value_t *v) {
    size_t es = ir_dtype_size(v->dtype);
    return es ? (int64_t)(v->data_size / es) : -1;
}

int ir_const_ints(const ir_value_t *v, int64_t *out, int max) {
    if (!v || !v->data || (v->dtype != IR_I64 && v->dtype != IR_I32)) return -1;
    int64_t cnt = data_count(v);
    if (cnt < 0 || cnt > max) return -1;
    for (int64_t i = 0; i < cnt; i++) {
        if (v->dtype == IR_I64) {
            int64_t x;
            memcpy(&x, (const char *)v->data + i * 8, 8);
            out[i] = x;
        } else {
            int32_t x;
            memcpy(&x, (const char *)v->data + i * 4, 4);
            out[i] = x;
        }
    }
    return (int)cnt;
}

int ir_const_scalar(const ir_value_t *v, double *out) {
    if (!v || !v->data || data_count(v) != 1) return -1;
    const void *p = v->data;
    switch (v->dtype) {
    case IR_F32: { float x; memcpy(&x, p, 4); *out = x; return 0; }
    case IR_F64: { double x; memcpy(&x, p, 8); *out = x; return 0; }
    case IR_I64: { int64_t x; memcpy(&x, p, 8); *out = (double)x; return 0; }
    case IR_I32: { int32_t x; memcpy(&x, p, 4); *out = x; return 0; }
    case IR_I16: { int16_t x; memcpy(&x, p, 2); *out = x; return 0; }
    case IR_I8: { int8_t x; memcpy(&x, p, 1); *out = x; return 0; }
    case IR_U8: case IR_BOOL: { uint8_t x; memcpy(&x, p, 1); *out = x; return 0; }
    default: return -1;
    }
}

/* ---------------------------------------------------------------- elementwise */
/* One input, same shape; dtypes are checked by the row's type letters, and an op whose
 * recipe gives bool (IsNaN, IsInf, Not) outputs bool. */
static int inf_unary(ir_graph_t *g, ir_node_t *n) {
    (void)g;
    ir_value_t *x = n->in[0];
    const ir_rexpr_t *e = ir_recipe(n->op, NULL);
    bool in_bool[3] = {x->dtype == IR_BOOL, false, false};
    set_out(n, 0, e && ir_recipe_is_bool(e, in_bool) ? IR_BOOL : x->dtype, &x->shape);
    return 0;
}

static int inf_cast(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    int64_t to = ir_attr_int(n, "to", -1);
    if (to <= 0 || to >= IR_DTYPE_MAX || to == IR_STRING || ir_dtype_size((ir_dtype_t)to) == 0)
        return ir_error(g, n, "attribute 'to' (%lld) is not a supported dtype", (long long)to);
    if (x->dtype == IR_STRING) return ir_error(g, n, "casting from string is not supported");
    set_out(n, 0, (ir_dtype_t)to, &x->shape);
    return 0;
}

static int inf_bit_cast(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    int64_t to = ir_attr_int(n, "to", -1);
    if (to <= 0 || to >= IR_DTYPE_MAX || to == IR_STRING || ir_dtype_size((ir_dtype_t)to) == 0)
        return ir_error(g, n, "attribute 'to' (%lld) is not a supported dtype", (long long)to);
    if (x->dtype == IR_STRING) return ir_error(g, n, "string inputs are not supported");
    if (ir_dtype_file_bits(x->dtype) != ir_dtype_file_bits((ir_dtype_t)to))
        return ir_error(g, n, "%s and %s differ in bit width", ir_dtype_name(x->dtype), ir_dtype_name((ir_dtype_t)to));
    set_out(n, 0, (ir_dtype_t)to, &x->shape);
    return 0;
}

static int inf_clip(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    for (int i = 1; i < n->n_in; i++) {
        ir_value_t *b = n->in[i];
        if (!b) continue;
        if (same_dtype(g, n, x, b)) return -1;
        if (b->shape.rank != 0 && ir_shape_numel(&b->shape) != 1)
            return ir_error(g, n, "%s must be a scalar, got shape %s", i == 1 ? "min" : "max", SHP(&b->shape));
    }
    set_out(n, 0, x->dtype, &x->shape);
    return 0;
}

/* ArgMax/ArgMin: int64 indices along one axis. */
static int inf_arg(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    if (need_numeric(g, n, x)) return -1;
    int r = x->shape.rank, axis;
    if (ir_norm_axis(ir_attr_int(n, "axis", 0), r, &axis)) return ir_error(g, n, "axis out of range for rank %d", r);
    bool keep = ir_attr_int(n, "keepdims", 1) != 0;
    ir_shape_t o = {.rank = 0};
    for (int i = 0; i < r; i++) {
        if (i != axis) o.dims[o.rank++] = x->shape.dims[i];
        else if (keep) o.dims[o.rank++] = ir_dim_const(1);
    }
    set_out(n, 0, IR_I64, &o);
    return 0;
}

/* GatherElements: the output takes the indices' shape. */
static int inf_gather_elements(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0], *ind = n->in[1];
    if (ind->dtype != IR_I64 && ind->dtype != IR_I32)
        return ir_error(g, n, "indices must be int32 or int64, got %s", ir_dtype_name(ind->dtype));
    if (ind->shape.rank != x->shape.rank) return ir_error(g, n, "indices rank %d differs from data rank %d", ind->shape.rank, x->shape.rank);
    int axis;
    if (ir_norm_axis(ir_attr_int(n, "axis", 0), x->shape.rank, &axis)) return ir_error(g, n, "axis out of range");
    set_out(n, 0, x->dtype, &ind->shape);
    return 0;
}

/* Add..Pow, the comparisons, logic ops, variadic Max/Min/Sum/Mean, Where, PRelu. */
/* Numpy-broadcast element-wise ops. The row's type letters say which dtypes each input
 * takes; the non-bool inputs share one dtype, and the output is bool when the op's recipe
 * gives bool (comparisons, logic), else that dtype. */
static int inf_nary(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = NULL;
    bool in_bool[3] = {false, false, false};
    for (int i = 0; i < n->n_in; i++) {
        if (!n->in[i]) return ir_error(g, n, "input %d is missing", i);
        if (n->in[i]->dtype == IR_STRING) return ir_error(g, n, "string inputs are not supported");
        if (i < 3) in_bool[i] = n->in[i]->dtype == IR_BOOL;
        if (!x && n->in[i]->dtype != IR_BOOL) x = n->in[i];
    }
    if (!x) x = n->in[0];
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] != x && (n->in[i]->dtype != IR_BOOL || x->dtype == IR_BOOL) && same_dtype(g, n, x, n->in[i]))
            return -1;
    ir_shape_t o = n->in[0]->shape;
    for (int i = 1; i < n->n_in; i++)
        if (bcast(g, n, &o, &n->in[i]->shape, &o)) return -1;
    const ir_rexpr_t *e = ir_recipe(n->op, NULL);
    set_out(n, 0, e && ir_recipe_is_bool(e, in_bool) ? IR_BOOL : x->dtype, &o);
    return 0;
}

/* Pow: base and exponent may differ in type; the result takes the base's. */
static int inf_pow(ir_graph_t *g, ir_node_t *n) {
    ir_shape_t o;
    if (bcast(g, n, &n->in[0]->shape, &n->in[1]->shape, &o)) return -1;
    set_out(n, 0, n->in[0]->dtype, &o);
    return 0;
}

/* PRelu: the slope broadcasts to the input (unidirectionally). */
static int inf_prelu(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    if (inf_nary(g, n)) return -1;
    if (!shape_eq(&n->out[0]->shape, &x->shape))
        return ir_error(g, n, "slope shape %s does not broadcast to input shape %s", SHP(&n->in[1]->shape), SHP(&x->shape));
    return 0;
}

/* ---------------------------------------------------------------- windows */
static int inf_batch_norm(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    if (need_float(g, n, x)) return -1;
    if (x->shape.rank < 2) return ir_error(g, n, "input must have rank >= 2, got %s", SHP(&x->shape));
    static const char *names[] = {"X", "scale", "B", "input_mean", "input_var"};
    for (int i = 1; i < 5; i++) {
        ir_value_t *v = n->in[i];
        if (!v) return ir_error(g, n, "input '%s' is missing", names[i]);
        if (need_float(g, n, v)) return -1;
        if (v->shape.rank != 1 || !ir_dim_eq(v->shape.dims[0], x->shape.dims[1]))
            return ir_error(g, n, "input '%s' has shape %s, expected [C] for input %s", names[i], SHP(&v->shape),
                            SHP(&x->shape));
    }
    set_out(n, 0, x->dtype, &x->shape);
    set_out(n, 1, n->in[3]->dtype, &n->in[3]->shape);
    set_out(n, 2, n->in[4]->dtype, &n->in[4]->shape);
    return 0;
}

static int inf_gemm(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *a = n->in[0], *b = n->in[1], *c = n->n_in > 2 ? n->in[2] : NULL;
    if (need_numeric(g, n, a) || same_dtype(g, n, a, b) || (c && same_dtype(g, n, a, c))) return -1;
    if (a->shape.rank != 2 || b->shape.rank != 2)
        return ir_error(g, n, "A and B must be 2-D, got %s and %s", SHP(&a->shape), SHP(&b->shape));
    int ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
    ir_dim_t m = a->shape.dims[ta], ka = a->shape.dims[!ta], kb = b->shape.dims[tb], nn = b->shape.dims[!tb];
    if (!ir_dim_eq(ka, kb))
        return ir_error(g, n, "inner dimensions differ: A %s%s, B %s%s", SHP(&a->shape), ta ? " (transposed)" : "",
                        SHP(&b->shape), tb ? " (transposed)" : "");
    ir_shape_t o = {.rank = 2, .dims = {m, nn}}, t;
    if (c && (ir_broadcast_shapes(&c->shape, &o, &t) || t.rank != 2 || !ir_dim_eq(t.dims[0], m) || !ir_dim_eq(t.dims[1], nn)))
        return ir_error(g, n, "C shape %s does not broadcast to the output shape %s", SHP(&c->shape), SHP(&o));
    set_out(n, 0, a->dtype, &o);
    return 0;
}

static int inf_matmul(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *a = n->in[0], *b = n->in[1];
    if (need_numeric(g, n, a) || same_dtype(g, n, a, b)) return -1;
    ir_shape_t sa = a->shape, sb = b->shape;
    if (sa.rank < 1 || sb.rank < 1)
        return ir_error(g, n, "operands must have rank >= 1, got %s and %s", SHP(&sa), SHP(&sb));
    bool va = sa.rank == 1, vb = sb.rank == 1;
    if (va) { sa.rank = 2; sa.dims[1] = sa.dims[0]; sa.dims[0] = ir_dim_const(1); }
    if (vb) { sb.rank = 2; sb.dims[1] = ir_dim_const(1); }
    if (!ir_dim_eq(sa.dims[sa.rank - 1], sb.dims[sb.rank - 2]))
        return ir_error(g, n, "inner dimensions differ: %s x %s", SHP(&a->shape), SHP(&b->shape));
    ir_shape_t ba = {.rank = sa.rank - 2}, bb = {.rank = sb.rank - 2}, o;
    memcpy(ba.dims, sa.dims, sizeof(ir_dim_t) * (size_t)ba.rank);
    memcpy(bb.dims, sb.dims, sizeof(ir_dim_t) * (size_t)bb.rank);
    if (ir_broadcast_shapes(&ba, &bb, &o))
        return ir_error(g, n, "batch dimensions of %s and %s cannot be broadcast together", SHP(&a->shape), SHP(&b->shape));
    if (!va) o.dims[o.rank++] = sa.dims[sa.rank - 2];
    if (!vb) o.dims[o.rank++] = sb.dims[sb.rank - 1];
    if (o.rank > IR_MAX_RANK) return ir_error(g, n, "result rank exceeds %d", IR_MAX_RANK);
    set_out(n, 0, a->dtype, &o);
    return 0;
}

/* ---------------------------------------------------------------- normalisation, reductions */
static int inf_softmax(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    int ax;
    if (need_float(g, n, x)) return -1;
    int64_t a = ir_attr_int(n, "axis", -1);
    if (ir_norm_axis(a, x->shape.rank, &ax))
        return ir_error(g, n, "axis %lld is out of range for input %s", (long long)a, SHP(&x->shape));
    set_out(n, 0, x->dtype, &x->shape);
    return 0;
}

/* Flags over `rank` positions from run-time axes ad[0, cnt): f_i = 1 when some axis
 * (normalised against rank, checked to be in [-rank, rank)) is i. */
static int axis_flags(ir_graph_t *g, ir_node_t *n, const ir_dim_t *ad, int cnt, int rank, ir_dim_t *f) {
    for (int i = 0; i < rank; i++) f[i] = ir_dim_const(0);
    for (int j = 0; j < cnt; j++) {
        ir_dim_t nj, t;
        if (ir_dim_add(g, ad[j], ir_dim_const(rank), &t) || ir_dim_select_lt(g, ad[j], ir_dim_const(0), t, ad[j], &nj) ||
            ir_shape_check_add(g, IR_CHECK_GE, ad[j], ir_dim_const(-rank), n->name) ||
            ir_shape_check_add(g, IR_CHECK_GE, ir_dim_const(rank - 1), ad[j], n->name))
            return -1;
        for (int i = 0; i < rank; i++)
            if (ir_dim_select(g, nj, ir_dim_const(i), ir_dim_const(1), f[i], &f[i])) return -1;
    }
    /* the axes are distinct: exactly cnt flags are set */
    ir_dim_t nset = ir_dim_const(0);
    for (int i = 0; i < rank; i++)
        if (ir_dim_add(g, nset, f[i], &nset)) return -1;
    return ir_shape_check_add(g, IR_CHECK_EQ, nset, ir_dim_const(cnt), n->name);
}

/* The dims of s without the flagged axes (rank s->rank - cnt): input axis i lands at i
 * less the flagged axes before it. */
static int drop_flagged(ir_graph_t *g, const ir_shape_t *s, const ir_dim_t *f, int cnt, ir_shape_t *o) {
    o->rank = s->rank - cnt;
    ir_dim_t pos = ir_dim_const(0);
    for (int k2 = 0; k2 < o->rank; k2++) o->dims[k2] = ir_dim_const(0);
    for (int i = 0; i < s->rank; i++) {
        for (int k2 = 0; k2 < o->rank; k2++) {
            ir_dim_t here, t;
            if (ir_dim_select(g, pos, ir_dim_const(k2), s->dims[i], ir_dim_const(0), &here) ||
                ir_dim_select(g, f[i], ir_dim_const(0), here, ir_dim_const(0), &t) ||
                ir_dim_add(g, o->dims[k2], t, &o->dims[k2]))
                return -1;
        }
        ir_dim_t one_minus;
        if (ir_dim_sub(g, ir_dim_const(1), f[i], &one_minus) || ir_dim_add(g, pos, one_minus, &pos)) return -1;
    }
    return 0;
}

/* Reduce* with axes known only at run time (a graph input): one flag per input axis,
 * f_i = 1 when some axis normalises to i, kept in the node's params for the kernel; each
 * output dim is an expression over the flags. */
static int reduce_runtime_axes(ir_graph_t *g, ir_node_t *n, const ir_dim_t *ad, int cnt) {
    ir_value_t *x = n->in[0];
    int r = x->shape.rank;
    if (cnt > r) return ir_error(g, n, "%d axes given for rank %d", cnt, r);
    ir_dim_t f[IR_MAX_RANK];
    if (axis_flags(g, n, ad, cnt, r, f)) goto complex;
    bool keep = ir_attr_int(n, "keepdims", 1) != 0;
    ir_shape_t o = {.rank = keep ? r : r - cnt};
    if (keep) {
        for (int i = 0; i < r; i++)
            if (ir_dim_select(g, f[i], ir_dim_const(1), ir_dim_const(1), x->shape.dims[i], &o.dims[i])) goto complex;
    } else if (drop_flagged(g, &x->shape, f, cnt, &o)) {
        goto complex;
    }
    n->params = ir_arena_alloc(&g->arena, sizeof(ir_dim_t) * (size_t)r);
    if (!n->params) return ir_error(g, n, "out of memory");
    memcpy(n->params, f, sizeof(ir_dim_t) * (size_t)r);
    n->n_params = r;
    set_out(n, 0, x->dtype, &o);
    return 0;
complex:
    return ir_error(g, n, "the output shape for run-time axes is too complex");
}

static int inf_reduce(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    /* dtypes by the row's type letters: opset 20 allows bool for ReduceMax/ReduceMin */
    int64_t ax[MAXC];
    int cnt = 0;
    n->params = NULL;
    n->n_params = 0;
    if (n->n_in > 1 && n->in[1] && !n->in[1]->data) {
        ir_dim_t ad[MAXC];
        if ((cnt = get_dims(g, n, 1, "axes", ad)) < 0) return -1;
        bool all_const = true;
        for (int i = 0; i < cnt; i++) {
            all_const &= ir_dim_is_const(ad[i]);
            ax[i] = ad[i].v;
        }
        if (!all_const) return reduce_runtime_axes(g, n, ad, cnt);
    } else if (n->n_in > 1 && n->in[1]) {
        if ((cnt = need_ints(g, n, 1, "axes", ax)) < 0) return -1;
    } else {
        /* Older encodings the frontend may have left as an attribute. */
        const int64_t *a;
        int c = ir_attr_ints(n, "axes", &a);
        if (c > MAXC) return ir_error(g, n, "too many axes");
        for (int i = 0; i < c; i++) ax[cnt++] = a[i];
    }
    int r = x->shape.rank, axes[IR_MAX_RANK];
    if (cnt > r) return ir_error(g, n, "%d axes given for rank %d", cnt, r);
    if (norm_axes(g, n, ax, cnt, r, axes)) return -1;
    bool noop = cnt == 0 && ir_attr_int(n, "noop_with_empty_axes", 0);
    bool red[IR_MAX_RANK] = {0};
    for (int i = 0; i < r; i++) red[i] = cnt == 0 && !noop;
    for (int i = 0; i < cnt; i++) red[axes[i]] = true;
    if (n->n_in > 1 && n->in[1] && !n->in[1]->data && r > 0) {
        /* axes known now but not a constant tensor: the kernel takes them as flags */
        n->params = ir_arena_alloc(&g->arena, sizeof(ir_dim_t) * (size_t)r);
        if (!n->params) return ir_error(g, n, "out of memory");
        for (int i = 0; i < r; i++) n->params[i] = ir_dim_const(red[i]);
        n->n_params = r;
    }
    if (noop) {
        set_out(n, 0, x->dtype, &x->shape);
        return 0;
    }
    bool keep = ir_attr_int(n, "keepdims", 1) != 0;
    ir_shape_t o = {.rank = 0};
    for (int i = 0; i < r; i++) {
        if (!red[i]) o.dims[o.rank++] = x->shape.dims[i];
        else if (keep) o.dims[o.rank++] = ir_dim_const(1);
    }
    set_out(n, 0, x->dtype, &o);
    return 0;
}

static int inf_layer_norm(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    int ax;
    if (need_float(g, n, x)) return -1;
    int64_t a = ir_attr_int(n, "axis", -1);
    if (ir_norm_axis(a, x->shape.rank, &ax))
        return ir_error(g, n, "axis %lld is out of range for input %s", (long long)a, SHP(&x->shape));
    for (int i = 1; i < n->n_in; i++) {
        ir_value_t *v = n->in[i];
        if (!v) continue;
        ir_shape_t t;
        if (same_dtype(g, n, x, v)) return -1;
        if (v->shape.rank > x->shape.rank - ax || ir_broadcast_shapes(&v->shape, &x->shape, &t) ||
            !shape_eq(&t, &x->shape))
            return ir_error(g, n, "%s shape %s does not broadcast to the normalised dims of %s", i == 1 ? "Scale" : "B",
                            SHP(&v->shape), SHP(&x->shape));
    }
    int64_t st = ir_attr_int(n, "stash_type", IR_F32);
    if (!ir_dtype_is_float((ir_dtype_t)st)) return ir_error(g, n, "stash_type %lld is not a float type", (long long)st);
    ir_shape_t ms = x->shape;
    for (int i = ax; i < ms.rank; i++) ms.dims[i] = ir_dim_const(1);
    set_out(n, 0, x->dtype, &x->shape);
    set_out(n, 1, (ir_dtype_t)st, &ms);
    set_out(n, 2, (ir_dtype_t)st, &ms);
    return 0;
}

/* ---------------------------------------------------------------- data movement */
static int inf_flatten(ir_graph_t *g, ir_node_t *n) {
    const ir_shape_t *s = &n->in[0]->shape;
    int64_t a = ir_attr_int(n, "axis", 1);
    if (a < -(int64_t)s->rank || a > s->rank)
        return ir_error(g, n, "axis %lld is out of range for input %s", (long long)a, SHP(s));
    int ax = (int)(a < 0 ? a + s->rank : a);
    ir_shape_t o = {.rank = 2};
    if (dims_prod(g, s, 0, ax, &o.dims[0]) || dims_prod(g, s, ax, s->rank, &o.dims[1]))
        return ir_error(g, n, "flattening %s at axis %d: the size is too large or too complex", SHP(s), ax);
    set_out(n, 0, n->in[0]->dtype, &o);
    return 0;
}

static int inf_reshape(ir_graph_t *g, ir_node_t *n) {
    const ir_shape_t *s = &n->in[0]->shape;
    ir_dim_t sh[MAXC];
    int cnt = get_dims(g, n, 1, "shape", sh);
    if (cnt < 0) return -1;
    if (cnt > IR_MAX_RANK) return ir_error(g, n, "target rank %d exceeds %d", cnt, IR_MAX_RANK);
    bool allowzero = ir_attr_int(n, "allowzero", 0) != 0;
    ir_shape_t o = {.rank = cnt};
    ir_dim_t total;
    if (dims_prod(g, s, 0, s->rank, &total)) return ir_error(g, n, "input %s is too large", SHP(s));
    /* Each entry resolved for 0 (copy the input's dim unless allowzero); -1 entries marked. */
    int neg = -1;
    bool maybe_neg[IR_MAX_RANK] = {0}, any_maybe = false;
    for (int i = 0; i < cnt; i++) {
        ir_dim_t d = sh[i];
        if (ir_dim_is_const(d)) {
            if (d.v == -1) {
                if (neg >= 0) return ir_error(g, n, "shape has more than one -1");
                neg = i;
                continue;
            }
            if (d.v < -1) return ir_error(g, n, "shape value %lld is invalid", (long long)d.v);
            if (d.v == 0 && !allowzero) {
                if (i >= s->rank)
                    return ir_error(g, n, "shape[%d] = 0 copies a dim that input %s does not have", i, SHP(s));
                d = s->dims[i];
            }
            o.dims[i] = d;
            continue;
        }
        /* a run-time value: 0 copies the input's dim, -1 is inferred, else itself */
        int64_t lo = ir_dim_lower_bound(g, d);
        if (!allowzero && (lo == INT64_MIN || lo < 1)) {
            if (i < s->rank) {
                if (ir_dim_select(g, d, ir_dim_const(0), s->dims[i], d, &d)) goto complex;
            } else if (ir_shape_check_add(g, IR_CHECK_GE, d, ir_dim_const(-1), n->name)) {
                goto complex;
            }
        }
        maybe_neg[i] = ir_dim_lower_bound(g, d) < 0;
        any_maybe |= maybe_neg[i];
        o.dims[i] = d;
    }
    if (neg >= 0 && any_maybe) return ir_error(g, n, "shape has a -1 and run-time values that may also be -1");
    if (neg >= 0) {
        ir_dim_t known = ir_dim_const(1);
        for (int i = 0; i < cnt; i++)
            if (i != neg && ir_dim_mul(g, known, o.dims[i], &known)) goto complex;
        if (ir_dim_is_const(known) && known.v == 0) {
            if (allowzero) return ir_error(g, n, "shape has both 0 and -1 with allowzero");
            return ir_error(g, n, "cannot infer the -1 dim of a reshape to a shape with a zero dim");
        }
        if (ir_dim_div_exact(g, total, known, &o.dims[neg])) {
            if (ir_dim_is_const(total) && ir_dim_is_const(known))
                return ir_error(g, n, "cannot reshape %s: the known dims of the target do not divide its size", SHP(s));
            if (ir_dim_floordiv(g, total, known, &o.dims[neg])) goto complex;
        }
    } else if (any_maybe) {
        /* at most one entry is -1 at run time: it becomes total / product of the others */
        ir_dim_t p = ir_dim_const(1);
        for (int i = 0; i < cnt; i++) {
            ir_dim_t f = o.dims[i];
            if (maybe_neg[i] && ir_dim_select(g, f, ir_dim_const(-1), ir_dim_const(1), f, &f)) goto complex;
            if (ir_dim_mul(g, p, f, &p)) goto complex;
        }
        ir_dim_t q;
        if (ir_dim_floordiv(g, total, p, &q)) goto complex;
        for (int i = 0; i < cnt; i++)
            if (maybe_neg[i] && ir_dim_select(g, o.dims[i], ir_dim_const(-1), q, o.dims[i], &o.dims[i])) goto complex;
    }
    ir_dim_t prod;
    if (dims_prod(g, &o, 0, cnt, &prod)) goto complex;
    if (ir_shape_check_add(g, IR_CHECK_EQ, prod, total, n->name))
        return ir_error(g, n, "cannot reshape %s to %s: element counts differ", SHP(s), SHP(&o));
    set_out(n, 0, n->in[0]->dtype, &o);
    return 0;
complex:
    return ir_error(g, n, "reshaping %s: the target's size expression is too large or too complex", SHP(s));
}

static int inf_transpose(ir_graph_t *g, ir_node_t *n) {
    const ir_shape_t *s = &n->in[0]->shape;
    const int64_t *perm;
    int c = ir_attr_ints(n, "perm", &perm);
    ir_shape_t o = {.rank = s->rank};
    bool seen[IR_MAX_RANK] = {0};
    if (c >= 0 && c != s->rank)
        return ir_error(g, n, "perm has %d entries for input %s", c, SHP(s));
    for (int i = 0; i < s->rank; i++) {
        int64_t p = c >= 0 ? perm[i] : s->rank - 1 - i;
        if (p < 0 || p >= s->rank || seen[p]) return ir_error(g, n, "perm is not a permutation of 0..%d", s->rank - 1);
        seen[p] = true;
        o.dims[i] = s->dims[p];
    }
    set_out(n, 0, n->in[0]->dtype, &o);
    return 0;
}

static int inf_concat(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    if (!ir_attr_find(n, "axis")) return ir_error(g, n, "attribute 'axis' is required");
    int64_t a = ir_attr_int(n, "axis", 0);
    int ax;
    if (ir_norm_axis(a, x->shape.rank, &ax))
        return ir_error(g, n, "axis %lld is out of range for input %s", (long long)a, SHP(&x->shape));
    ir_shape_t o = x->shape;
    for (int i = 1; i < n->n_in; i++) {
        ir_value_t *v = n->in[i];
        if (!v) return ir_error(g, n, "input %d is missing", i);
        if (same_dtype(g, n, x, v)) return -1;
        bool ok = v->shape.rank == o.rank;
        for (int d = 0; ok && d < o.rank; d++)
            if (d != ax && !ir_dim_eq(v->shape.dims[d], o.dims[d])) ok = false;
        if (!ok) return ir_error(g, n, "input shapes %s and %s differ outside axis %d", SHP(&x->shape), SHP(&v->shape), ax);
        if (ir_dim_add(g, o.dims[ax], v->shape.dims[ax], &o.dims[ax]))
            return ir_error(g, n, "unsupported symbolic shape: concatenating %s and %s", SHP(&x->shape), SHP(&v->shape));
    }
    set_out(n, 0, x->dtype, &o);
    return 0;
}

static int inf_split(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    int64_t a = ir_attr_int(n, "axis", 0);
    int ax, k = n->n_out;
    if (ir_norm_axis(a, x->shape.rank, &ax))
        return ir_error(g, n, "axis %lld is out of range for input %s", (long long)a, SHP(&x->shape));
    ir_dim_t d = x->shape.dims[ax];
    ir_dim_t parts[MAXC];
    if (k > MAXC) return ir_error(g, n, "too many outputs");
    if (n->n_in > 1 && n->in[1]) {
        /* sizes: constants, dims computed from shapes, or graph-input elements */
        int c = get_dims(g, n, 1, "split", parts);
        if (c < 0) return -1;
        if (c != k) return ir_error(g, n, "split has %d sizes for %d outputs", c, k);
        ir_dim_t sum = ir_dim_const(0);
        for (int i = 0; i < k; i++) {
            if (ir_dim_is_const(parts[i]) && parts[i].v < 0)
                return ir_error(g, n, "split size %lld is invalid", (long long)parts[i].v);
            if (ir_dim_add(g, sum, parts[i], &sum)) return ir_error(g, n, "split sizes overflow");
        }
        if (ir_shape_check_add(g, IR_CHECK_EQ, sum, d, n->name)) {
            char sb[128], db[128];
            ir_dim_str(g, sum, sb, sizeof sb);
            ir_dim_str(g, d, db, sizeof db);
            return ir_error(g, n, "split sizes sum to %s, but axis %d of %s has %s", sb, ax, SHP(&x->shape), db);
        }
    } else {
        int64_t no = ir_attr_int(n, "num_outputs", -1);
        if (no >= 0 && no != k) return ir_error(g, n, "num_outputs is %lld but the node has %d outputs", (long long)no, k);
        if (ir_dim_is_const(d) && no >= 0) {
            /* opset 18: chunks of ceil(d/k), the last one smaller. */
            int64_t ch = d.v / k + (d.v % k != 0), last = d.v - ch * (k - 1);   /* no d.v + k overflow */
            if (last < 0) return ir_error(g, n, "axis %d of %s cannot be split in %d", ax, SHP(&x->shape), k);
            for (int i = 0; i < k; i++) parts[i] = ir_dim_const(i == k - 1 ? last : ch);
        } else if (ir_dim_is_const(d)) {
            if (d.v % k) return ir_error(g, n, "axis %d of %s does not split evenly in %d", ax, SHP(&x->shape), k);
            for (int i = 0; i < k; i++) parts[i] = ir_dim_const(d.v / k);
        } else {
            /* symbolic: ceil(d/k) chunks and the rest (num_outputs), or d/k each, checked */
            ir_dim_t ch, used, last;
            if (no >= 0) {
                if (ir_dim_ceildiv(g, d, ir_dim_const(k), &ch) || ir_dim_mul(g, ch, ir_dim_const(k - 1), &used) ||
                    ir_dim_sub(g, d, used, &last) || ir_shape_check_add(g, IR_CHECK_GE, last, ir_dim_const(0), n->name))
                    return ir_error(g, n, "axis %d of %s cannot be split in %d", ax, SHP(&x->shape), k);
            } else {
                if (ir_dim_floordiv(g, d, ir_dim_const(k), &ch) || ir_dim_mul(g, ch, ir_dim_const(k), &used) ||
                    ir_shape_check_add(g, IR_CHECK_EQ, used, d, n->name))
                    return ir_error(g, n, "axis %d of %s does not split evenly in %d", ax, SHP(&x->shape), k);
                last = ch;
            }
            for (int i = 0; i < k; i++) parts[i] = i == k - 1 ? last : ch;
        }
    }
    for (int i = 0; i < k; i++) {
        ir_shape_t o = x->shape;
        o.dims[ax] = parts[i];
        set_out(n, i, x->dtype, &o);
    }
    return 0;
}



int64_t ir_slice_range(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *first) {
    int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? dim : dim - 1;
    if (start < 0) start = start < -dim ? lo : start + dim;
    if (end < 0) end = end < -dim ? lo : end + dim;
    start = clamp64(start, lo, hi);
    end = clamp64(end, lo, hi);
    *first = start;
    if (step > 0) return end > start ? (end - start - 1) / step + 1 : 0;
    return start > end ? (start - end - 1) / (step == INT64_MIN ? INT64_MAX : -step) + 1 : 0;
}

/* One index of a slice normalised against dim D (s < 0 counts from the end), then clamped
 * to [lo, D + hi_off]. Beyond +-2^40 a constant means "past the end". */
static int slice_index(ir_graph_t *g, ir_dim_t D, ir_dim_t x, int64_t lo, int64_t hi_off, ir_dim_t *out) {
    ir_dim_t hi, t;
    if (ir_dim_add(g, D, ir_dim_const(hi_off), &hi)) return -1;
    if (ir_dim_is_const(x) && x.v >= IR_DIM_MAX) { *out = hi; return 0; }
    if (ir_dim_is_const(x) && x.v <= -IR_DIM_MAX) { *out = ir_dim_const(lo); return 0; }
    /* a run-time bound may be INT64_MAX ("to the end"): clamp before any arithmetic */
    if (!ir_dim_is_const(x) && (ir_dim_min(g, x, ir_dim_const(IR_DIM_MAX), &x) || ir_dim_max(g, x, ir_dim_const(-IR_DIM_MAX), &x)))
        return -1;
    if (ir_dim_add(g, x, D, &t) || ir_dim_select_lt(g, x, ir_dim_const(0), t, x, &t)) return -1;
    if (ir_dim_max(g, t, ir_dim_const(lo), &t) || ir_dim_min(g, t, hi, out)) return -1;
    return 0;
}

/* Slice with axes or steps fed at run time: per input axis, the start, end and step of
 * whichever entry names it (select chains), else the whole axis; a step's sign picks the
 * clamping (positive: [0, D], negative: [-1, D - 1]) at run time. The kernel reads first
 * indices and steps from params[0, r) and params[r, 2r). */
static int slice_dynamic(ir_graph_t *g, ir_node_t *n, const ir_dim_t *st, const ir_dim_t *en, int cs) {
    ir_value_t *x = n->in[0];
    int r = x->shape.rank;
    ir_dim_t ad[MAXC], sp[MAXC], nj[MAXC];
    if (n->n_in > 3 && n->in[3]) {
        int c = get_dims(g, n, 3, "axes", ad);
        if (c < 0) return -1;
        if (c != cs) return ir_error(g, n, "axes has %d values, expected %d", c, cs);
    } else {
        for (int j = 0; j < cs; j++) ad[j] = ir_dim_const(j);
    }
    if (n->n_in > 4 && n->in[4]) {
        int c = get_dims(g, n, 4, "steps", sp);
        if (c < 0) return -1;
        if (c != cs) return ir_error(g, n, "steps has %d values, expected %d", c, cs);
    } else {
        for (int j = 0; j < cs; j++) sp[j] = ir_dim_const(1);
    }
    if (cs > r) return ir_error(g, n, "%d axes given for input %s", cs, SHP(&x->shape));
    ir_dim_t f[IR_MAX_RANK];
    if (axis_flags(g, n, ad, cs, r, f)) goto complex;   /* range and distinctness checks */
    for (int j = 0; j < cs; j++) {
        ir_dim_t t, nz;
        if (ir_dim_is_const(sp[j]) && sp[j].v == 0) return ir_error(g, n, "step %d is 0", j);
        if (ir_dim_select(g, sp[j], ir_dim_const(0), ir_dim_const(0), ir_dim_const(1), &nz) ||
            ir_shape_check_add(g, IR_CHECK_EQ, nz, ir_dim_const(1), n->name))   /* a zero step fails the run */
            goto complex;
        if (ir_dim_add(g, ad[j], ir_dim_const(r), &t) || ir_dim_select_lt(g, ad[j], ir_dim_const(0), t, ad[j], &nj[j]))
            goto complex;
    }
    ir_shape_t o = x->shape;
    ir_dim_t *params = ir_arena_alloc(&g->arena, sizeof(ir_dim_t) * (size_t)(2 * r));
    if (!params) return ir_error(g, n, "out of memory");
    for (int d = 0; d < r; d++) {
        ir_dim_t s0 = ir_dim_const(0), e0 = ir_dim_const(IR_DIM_MAX), k0 = ir_dim_const(1), D = x->shape.dims[d];
        for (int j = 0; j < cs; j++)
            if (ir_dim_select(g, nj[j], ir_dim_const(d), st[j], s0, &s0) ||
                ir_dim_select(g, nj[j], ir_dim_const(d), en[j], e0, &e0) ||
                ir_dim_select(g, nj[j], ir_dim_const(d), sp[j], k0, &k0))
                goto complex;
        ir_dim_t sp1, ep1, sn1, en1, span, lenp, lenn, nk;
        /* positive step */
        if (slice_index(g, D, s0, 0, 0, &sp1) || slice_index(g, D, e0, 0, 0, &ep1) || ir_dim_sub(g, ep1, sp1, &span) ||
            ir_dim_ceildiv(g, span, k0, &lenp) || ir_dim_max(g, lenp, ir_dim_const(0), &lenp))
            goto complex;
        params[d] = sp1;
        o.dims[d] = lenp;
        if (ir_dim_lower_bound(g, k0) < 1) {
            /* negative step possible: e starting past the end means "to the front" */
            ir_dim_t e0n;
            if (ir_dim_select(g, e0, ir_dim_const(IR_DIM_MAX), ir_dim_const(-IR_DIM_MAX), e0, &e0n) ||
                slice_index(g, D, s0, -1, -1, &sn1) || slice_index(g, D, e0n, -1, -1, &en1) ||
                ir_dim_sub(g, sn1, en1, &span) || ir_dim_sub(g, ir_dim_const(0), k0, &nk) ||
                ir_dim_ceildiv(g, span, nk, &lenn) || ir_dim_max(g, lenn, ir_dim_const(0), &lenn) ||
                ir_dim_select_lt(g, k0, ir_dim_const(0), sn1, sp1, &params[d]) ||
                ir_dim_select_lt(g, k0, ir_dim_const(0), lenn, lenp, &o.dims[d]))
                goto complex;
        }
        params[r + d] = k0;
    }
    n->params = params;
    n->n_params = 2 * r;
    set_out(n, 0, x->dtype, &o);
    return 0;
complex:
    return ir_error(g, n, "the slice bounds given at run time are too complex");
}

static int inf_slice(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    int r = x->shape.rank;
    int64_t ax[MAXC] = {0}, sp[MAXC];
    ir_dim_t st[MAXC], en[MAXC];
    int cs = get_dims(g, n, 1, "starts", st);
    if (cs < 0) return -1;
    int ce = get_dims(g, n, 2, "ends", en);
    if (ce < 0) return -1;
    if (cs != ce) return ir_error(g, n, "starts has %d values but ends has %d", cs, ce);
    if ((n->n_in > 3 && n->in[3] && !n->in[3]->data) || (n->n_in > 4 && n->in[4] && !n->in[4]->data))
        return slice_dynamic(g, n, st, en, cs);
    if (n->n_in > 4 && n->in[4]) {
        int c = need_ints(g, n, 4, "steps", sp);
        if (c < 0) return -1;
        if (c != cs) return ir_error(g, n, "steps has %d values, expected %d", c, cs);
    } else {
        for (int i = 0; i < cs; i++) sp[i] = 1;
    }
    if (n->n_in > 3 && n->in[3]) {
        int c = need_ints(g, n, 3, "axes", ax);
        if (c < 0) return -1;
        if (c != cs) return ir_error(g, n, "axes has %d values, expected %d", c, cs);
    } else {
        if (cs > r) return ir_error(g, n, "%d starts given for input %s", cs, SHP(&x->shape));
        for (int i = 0; i < cs; i++) ax[i] = i;
    }
    int axes[IR_MAX_RANK];
    if (cs > r) return ir_error(g, n, "%d axes given for input %s", cs, SHP(&x->shape));
    if (norm_axes(g, n, ax, cs, r, axes)) return -1;
    ir_shape_t o = x->shape;
    ir_dim_t first[IR_MAX_RANK];
    bool dyn = false;
    for (int d = 0; d < r; d++) first[d] = ir_dim_const(0);
    for (int i = 0; i < cs; i++) {
        int64_t step = sp[i];
        ir_dim_t dd = x->shape.dims[axes[i]];
        if (step == 0) return ir_error(g, n, "step on axis %d is 0", axes[i]);
        if (ir_dim_is_const(dd) && ir_dim_is_const(st[i]) && ir_dim_is_const(en[i])) {
            int64_t f;
            o.dims[axes[i]] = ir_dim_const(ir_slice_range(dd.v, st[i].v, en[i].v, step, &f));
            first[axes[i]] = ir_dim_const(f);
            continue;
        }
        /* step > 0: [s', e') with both clamped to [0, D]; step < 0: (e', s'] within [-1, D-1] */
        ir_dim_t s1, e1, span, len;
        int64_t lo = step > 0 ? 0 : -1, hoff = step > 0 ? 0 : -1;
        if (slice_index(g, dd, st[i], lo, hoff, &s1) || slice_index(g, dd, en[i], lo, hoff, &e1) ||
            (step > 0 ? ir_dim_sub(g, e1, s1, &span) : ir_dim_sub(g, s1, e1, &span)) ||
            ir_dim_ceildiv(g, span, ir_dim_const(step > 0 ? step : -step), &len) ||
            ir_dim_max(g, len, ir_dim_const(0), &o.dims[axes[i]]))
            return ir_error(g, n, "slicing axis %d of %s: the bounds' expressions are too complex", axes[i],
                            SHP(&x->shape));
        first[axes[i]] = s1;
        dyn = true;
    }
    if (dyn) {
        /* the kernel reads its first indices as run-time values */
        n->params = ir_arena_alloc(&g->arena, sizeof(ir_dim_t) * (size_t)(r ? r : 1));
        if (!n->params) return ir_error(g, n, "out of memory");
        memcpy(n->params, first, sizeof(ir_dim_t) * (size_t)r);
        n->n_params = r;
    } else {
        n->params = NULL;
        n->n_params = 0;
    }
    set_out(n, 0, x->dtype, &o);
    return 0;
}

static int inf_gather(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0], *idx = n->in[1];
    int64_t a = ir_attr_int(n, "axis", 0);
    int ax, r = x->shape.rank, q = idx->shape.rank;
    if (ir_norm_axis(a, r, &ax)) return ir_error(g, n, "axis %lld is out of range for input %s", (long long)a, SHP(&x->shape));
    if (idx->dtype != IR_I64 && idx->dtype != IR_I32)
        return ir_error(g, n, "indices must be int32 or int64, got %s", ir_dtype_name(idx->dtype));
    if (r + q - 1 > IR_MAX_RANK) return ir_error(g, n, "result rank exceeds %d", IR_MAX_RANK);
    ir_dim_t d = x->shape.dims[ax];
    if (idx->data && ir_dim_is_const(d)) {
        /* Constant indices out of range would be an out-of-bounds read in generated code. */
        int64_t cnt = data_count(idx);
        for (int64_t i = 0; i < cnt; i++) {
            int64_t v;
            if (idx->dtype == IR_I64) memcpy(&v, (const char *)idx->data + 8 * i, 8);
            else { int32_t w; memcpy(&w, (const char *)idx->data + 4 * i, 4); v = w; }
            if (v < -d.v || v >= d.v)
                return ir_error(g, n, "index %lld is out of range for axis %d of %s", (long long)v, ax, SHP(&x->shape));
        }
    }
    ir_shape_t o = {.rank = 0};
    for (int i = 0; i < ax; i++) o.dims[o.rank++] = x->shape.dims[i];
    for (int i = 0; i < q; i++) o.dims[o.rank++] = idx->shape.dims[i];
    for (int i = ax + 1; i < r; i++) o.dims[o.rank++] = x->shape.dims[i];
    set_out(n, 0, x->dtype, &o);
    return 0;
}

static int inf_squeeze(ir_graph_t *g, ir_node_t *n) {
    const ir_shape_t *s = &n->in[0]->shape;
    bool drop[IR_MAX_RANK] = {0};
    if (n->n_in > 1 && n->in[1] && !n->in[1]->data) {
        /* axes fed at run time: each must name a dim of size 1 */
        ir_dim_t ad[MAXC], f[IR_MAX_RANK];
        ir_shape_t o;
        int c = get_dims(g, n, 1, "axes", ad);
        if (c < 0) return -1;
        if (c > s->rank) return ir_error(g, n, "%d axes given for input %s", c, SHP(s));
        if (axis_flags(g, n, ad, c, s->rank, f) || drop_flagged(g, s, f, c, &o))
            return ir_error(g, n, "the output shape for run-time axes is too complex");
        for (int i = 0; i < s->rank; i++) {
            ir_dim_t one;
            if (ir_dim_select(g, f[i], ir_dim_const(1), s->dims[i], ir_dim_const(1), &one) ||
                ir_shape_check_add(g, IR_CHECK_EQ, one, ir_dim_const(1), n->name))
                return ir_error(g, n, "cannot squeeze axis %d of %s: its size is not 1", i, SHP(s));
        }
        set_out(n, 0, n->in[0]->dtype, &o);
        return 0;
    }
    if (n->n_in > 1 && n->in[1]) {
        int64_t ax[MAXC];
        int axes[IR_MAX_RANK], c = need_ints(g, n, 1, "axes", ax);
        if (c < 0) return -1;
        if (c > s->rank) return ir_error(g, n, "%d axes given for input %s", c, SHP(s));
        if (norm_axes(g, n, ax, c, s->rank, axes)) return -1;
        for (int i = 0; i < c; i++) {
            if (!dim_is(s->dims[axes[i]], 1))
                return ir_error(g, n, "cannot squeeze axis %d of %s: its size is not 1", axes[i], SHP(s));
            drop[axes[i]] = true;
        }
    } else {
        for (int i = 0; i < s->rank; i++) drop[i] = dim_is(s->dims[i], 1);
    }
    ir_shape_t o = {.rank = 0};
    for (int i = 0; i < s->rank; i++)
        if (!drop[i]) o.dims[o.rank++] = s->dims[i];
    set_out(n, 0, n->in[0]->dtype, &o);
    return 0;
}

static int inf_unsqueeze(ir_graph_t *g, ir_node_t *n) {
    const ir_shape_t *s = &n->in[0]->shape;
    if (!n->in[1]->data) {
        /* axes fed at run time: output position i is a new 1 when flagged, else the next
         * input dim (i less the flags before it) */
        ir_dim_t ad[MAXC], f[IR_MAX_RANK];
        int c = get_dims(g, n, 1, "axes", ad);
        if (c < 0) return -1;
        int r = s->rank + c;
        if (r > IR_MAX_RANK) return ir_error(g, n, "result rank %d exceeds %d", r, IR_MAX_RANK);
        if (axis_flags(g, n, ad, c, r, f)) return ir_error(g, n, "the output shape for run-time axes is too complex");
        ir_shape_t o = {.rank = r};
        ir_dim_t pos = ir_dim_const(0);
        for (int i = 0; i < r; i++) {
            ir_dim_t d = ir_dim_const(0), t, one_minus;
            for (int j = 0; j < s->rank; j++) {
                if (ir_dim_select(g, pos, ir_dim_const(j), s->dims[j], ir_dim_const(0), &t) || ir_dim_add(g, d, t, &d))
                    return ir_error(g, n, "the output shape for run-time axes is too complex");
            }
            if (ir_dim_select(g, f[i], ir_dim_const(1), ir_dim_const(1), d, &o.dims[i]) ||
                ir_dim_sub(g, ir_dim_const(1), f[i], &one_minus) || ir_dim_add(g, pos, one_minus, &pos))
                return ir_error(g, n, "the output shape for run-time axes is too complex");
        }
        set_out(n, 0, n->in[0]->dtype, &o);
        return 0;
    }
    int64_t ax[MAXC];
    int axes[IR_MAX_RANK], c = need_ints(g, n, 1, "axes", ax);
    if (c < 0) return -1;
    int r = s->rank + c;
    if (r > IR_MAX_RANK) return ir_error(g, n, "result rank %d exceeds %d", r, IR_MAX_RANK);
    if (norm_axes(g, n, ax, c, r, axes)) return -1;
    bool ins[IR_MAX_RANK] = {0};
    for (int i = 0; i < c; i++) ins[axes[i]] = true;
    ir_shape_t o = {.rank = r};
    for (int i = 0, j = 0; i < r; i++) o.dims[i] = ins[i] ? ir_dim_const(1) : s->dims[j++];
    set_out(n, 0, n->in[0]->dtype, &o);
    return 0;
}

/* A shape input (Expand, ConstantOfShape) as an ir_shape_t: constants, dims computed from
 * shapes, or data symbols of a graph input; each must be >= 0 (checked when it runs). */
static int shape_input(ir_graph_t *g, ir_node_t *n, int idx, const char *what, ir_shape_t *o) {
    ir_dim_t v[MAXC];
    int c = get_dims(g, n, idx, what, v);
    if (c < 0) return -1;
    if (c > IR_MAX_RANK) return ir_error(g, n, "input '%s' has rank %d, more than %d", what, c, IR_MAX_RANK);
    o->rank = c;
    for (int i = 0; i < c; i++) {
        if (ir_dim_is_const(v[i]) && v[i].v < 0)
            return ir_error(g, n, "input '%s' has a negative dim %lld", what, (long long)v[i].v);
        o->dims[i] = v[i];
    }
    return 0;
}

static int inf_expand(ir_graph_t *g, ir_node_t *n) {
    ir_shape_t t, o;
    const ir_shape_t *x = &n->in[0]->shape;
    if (shape_input(g, n, 1, "shape", &t)) return -1;
    int r = x->rank > t.rank ? x->rank : t.rank;
    o.rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - x->rank), ib = i - (r - t.rank);
        ir_dim_t da = ia >= 0 ? x->dims[ia] : ir_dim_const(1);
        ir_dim_t db = ib >= 0 ? t.dims[ib] : ir_dim_const(1);
        if (ir_dim_eq(da, db) || dim_is(db, 1)) {
            o.dims[i] = da;
        } else if (dim_is(da, 1)) {
            o.dims[i] = db;
        } else if (ir_dim_is_const(da) && ir_dim_is_const(db)) {
            return ir_error(g, n, "shapes %s and %s cannot be broadcast together", SHP(x), SHP(&t));
        } else {
            /* the input's dim stays (the kernel does not broadcast it): the target's must be
             * 1 or the same, checked when the model runs */
            ir_dim_t eff;
            if (ir_dim_select(g, db, ir_dim_const(1), da, db, &eff) ||
                ir_shape_check_add(g, IR_CHECK_EQ, eff, da, n->name))
                return ir_error(g, n, "shapes %s and %s cannot be broadcast together", SHP(x), SHP(&t));
            o.dims[i] = da;
        }
    }
    set_out(n, 0, n->in[0]->dtype, &o);
    return 0;
}

static int inf_tile(ir_graph_t *g, ir_node_t *n) {
    const ir_shape_t *s = &n->in[0]->shape;
    ir_dim_t rep[MAXC];
    int c = get_dims(g, n, 1, "repeats", rep);
    if (c < 0) return -1;
    if (c != s->rank) return ir_error(g, n, "repeats has %d values for input %s", c, SHP(s));
    ir_shape_t o = *s;
    for (int i = 0; i < c; i++) {
        if (ir_dim_is_const(rep[i]) && rep[i].v < 0) return ir_error(g, n, "repeat %lld is negative", (long long)rep[i].v);
        if (ir_dim_mul(g, s->dims[i], rep[i], &o.dims[i])) return ir_error(g, n, "tiling %s overflows", SHP(s));
    }
    set_out(n, 0, n->in[0]->dtype, &o);
    return 0;
}

static int inf_pad(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    const ir_shape_t *s = &x->shape;
    int r = s->rank, axes[IR_MAX_RANK];
    int64_t ax[MAXC];
    ir_dim_t pads[MAXC];
    int c = get_dims(g, n, 1, "pads", pads);
    if (c < 0) return -1;
    int na = r;
    if (n->n_in > 3 && n->in[3] && !n->in[3]->data) {
        /* axes given at run time: each input axis takes the pads of the entry naming it */
        ir_dim_t ad[MAXC], f[IR_MAX_RANK], pb[IR_MAX_RANK], pe[IR_MAX_RANK];
        int ca = get_dims(g, n, 3, "axes", ad);
        if (ca < 0) return -1;
        if (ca > r) return ir_error(g, n, "%d axes given for input %s", ca, SHP(s));
        if (c != 2 * ca) return ir_error(g, n, "pads has %d values, expected %d", c, 2 * ca);
        if (axis_flags(g, n, ad, ca, r, f)) return ir_error(g, n, "the pads for run-time axes are too complex");
        for (int d = 0; d < r; d++) pb[d] = pe[d] = ir_dim_const(0);
        for (int j = 0; j < ca; j++) {
            ir_dim_t nj, t;
            if (ir_dim_add(g, ad[j], ir_dim_const(r), &t) || ir_dim_select_lt(g, ad[j], ir_dim_const(0), t, ad[j], &nj))
                return ir_error(g, n, "the pads for run-time axes are too complex");
            for (int d = 0; d < r; d++)
                if (ir_dim_select(g, nj, ir_dim_const(d), pads[j], pb[d], &pb[d]) ||
                    ir_dim_select(g, nj, ir_dim_const(d), pads[ca + j], pe[d], &pe[d]))
                    return ir_error(g, n, "the pads for run-time axes are too complex");
        }
        for (int d = 0; d < r; d++) {
            pads[d] = pb[d];
            pads[r + d] = pe[d];
            ax[d] = d;
        }
        c = 2 * r;
    } else if (n->n_in > 3 && n->in[3]) {
        if ((na = need_ints(g, n, 3, "axes", ax)) < 0) return -1;
        if (na > r) return ir_error(g, n, "%d axes given for input %s", na, SHP(s));
    } else {
        for (int i = 0; i < r; i++) ax[i] = i;
    }
    if (norm_axes(g, n, ax, na, r, axes)) return -1;
    if (c != 2 * na) return ir_error(g, n, "pads has %d values, expected %d", c, 2 * na);
    if (n->n_in > 2 && n->in[2]) {
        ir_value_t *cv = n->in[2];
        if (same_dtype(g, n, x, cv)) return -1;
        if (cv->shape.rank > 1 || ir_shape_numel(&cv->shape) > 1)
            return ir_error(g, n, "constant_value must be a scalar, got %s", SHP(&cv->shape));
    }
    const char *mode = ir_attr_str(n, "mode", "constant");
    bool refl = !strcmp(mode, "reflect");
    if (!refl && strcmp(mode, "constant") && strcmp(mode, "edge") && strcmp(mode, "wrap"))
        return ir_error(g, n, "unknown mode '%s'", mode);
    ir_shape_t o = *s;
    ir_dim_t lead[IR_MAX_RANK];
    bool dyn = false;
    for (int i = 0; i < r; i++) lead[i] = ir_dim_const(0);
    for (int i = 0; i < na; i++) {
        int a = axes[i];
        ir_dim_t pb = pads[i], pe = pads[na + i], d = s->dims[a];
        lead[a] = pb;
        if (dim_is(pb, 0) && dim_is(pe, 0)) continue;
        if (ir_dim_is_const(d) && ir_dim_is_const(pb) && ir_dim_is_const(pe)) {
            int64_t v;
            if (__builtin_add_overflow(d.v, pb.v, &v) || __builtin_add_overflow(v, pe.v, &v) || v < 0)
                return ir_error(g, n, "pads %lld,%lld on axis %d of %s give an invalid size", (long long)pb.v,
                                (long long)pe.v, a, SHP(s));
            if (strcmp(mode, "constant") && (d.v == 0 || (refl && (pb.v >= d.v || pe.v >= d.v))))
                return ir_error(g, n, "pads %lld,%lld are too large for %s mode on axis %d of %s", (long long)pb.v,
                                (long long)pe.v, mode, a, SHP(s));
            o.dims[a] = ir_dim_const(v);
            continue;
        }
        /* run-time dims or pads: the size is an expression; the kernel reads the leading
         * pad from params; negative pads (crops) and reflect past the edge fail the run */
        if (!ir_dim_is_const(pb) || !ir_dim_is_const(pe)) dyn = true;
        if (ir_dim_add(g, d, pb, &o.dims[a]) || ir_dim_add(g, o.dims[a], pe, &o.dims[a]) ||
            ir_shape_check_add(g, IR_CHECK_GE, pb, ir_dim_const(0), n->name) ||
            ir_shape_check_add(g, IR_CHECK_GE, pe, ir_dim_const(0), n->name))
            return ir_error(g, n, "pads on axis %d of %s give an invalid size", a, SHP(s));
        if (strcmp(mode, "constant") && strcmp(mode, "wrap")) {   /* wrap takes pads of any size */
            ir_dim_t dm1;
            if (ir_dim_sub(g, d, ir_dim_const(refl ? 1 : 0), &dm1) ||
                ir_shape_check_add(g, IR_CHECK_GE, dm1, pb, n->name) ||
                ir_shape_check_add(g, IR_CHECK_GE, dm1, pe, n->name) ||
                ir_shape_check_add(g, IR_CHECK_GE, d, ir_dim_const(1), n->name))
                return ir_error(g, n, "pads are too large for %s mode on axis %d of %s", mode, a, SHP(s));
        }
    }
    if (dyn) {
        n->params = ir_arena_alloc(&g->arena, sizeof(ir_dim_t) * (size_t)(r ? r : 1));
        if (!n->params) return ir_error(g, n, "out of memory");
        memcpy(n->params, lead, sizeof(ir_dim_t) * (size_t)r);
        n->n_params = r;
    } else {
        n->params = NULL;
        n->n_params = 0;
    }
    set_out(n, 0, x->dtype, &o);
    return 0;
}

static int inf_shape(ir_graph_t *g, ir_node_t *n) {
    int64_t r = n->in[0]->shape.rank;
    int64_t st = ir_attr_int(n, "start", 0), en = ir_attr_int(n, "end", r);
    if (st < 0) st += r;
    if (en < 0) en += r;
    st = clamp64(st, 0, r);
    en = clamp64(en, 0, r);
    ir_shape_t o = shape1(en > st ? en - st : 0);
    set_out(n, 0, IR_I64, &o);
    return 0;
}

/* Constant (usually already an initializer) and ConstantOfShape read a value attribute. */
static int inf_constant(ir_graph_t *g, ir_node_t *n) {
    const ir_attr_t *a = NULL;
    for (int i = 0; i < n->n_attrs && !a; i++) a = &n->attrs[i];
    if (!a) return ir_error(g, n, "needs a value attribute");
    ir_shape_t s = {.rank = 0};
    if (a->kind == IR_ATTR_TENSOR && a->t) {
        set_out(n, 0, a->t->dtype, &a->t->shape);
        return 0;
    }
    if (a->kind == IR_ATTR_INTS || a->kind == IR_ATTR_FLOATS) s = shape1(a->n);
    if (a->kind == IR_ATTR_INT || a->kind == IR_ATTR_INTS) set_out(n, 0, IR_I64, &s);
    else if (a->kind == IR_ATTR_FLOAT || a->kind == IR_ATTR_FLOATS) set_out(n, 0, IR_F32, &s);
    else return ir_error(g, n, "attribute '%s' is not supported", a->name);
    return 0;
}

static int inf_constant_of_shape(ir_graph_t *g, ir_node_t *n) {
    ir_shape_t o;
    if (shape_input(g, n, 0, "input", &o)) return -1;
    ir_dtype_t dt = IR_F32;
    const ir_attr_t *a = ir_attr_find(n, "value");
    if (a) {
        if (a->kind != IR_ATTR_TENSOR || !a->t || ir_shape_numel(&a->t->shape) != 1)
            return ir_error(g, n, "attribute 'value' must be a one-element tensor");
        dt = a->t->dtype;
        if (ir_dtype_size(dt) == 0) return ir_error(g, n, "value dtype %s is not supported", ir_dtype_name(dt));
    }
    set_out(n, 0, dt, &o);
    return 0;
}

static int inf_range(ir_graph_t *g, ir_node_t *n) {
    static const char *nm[] = {"start", "limit", "delta"};
    double v[3];
    int64_t iv[3];
    ir_dtype_t dt = n->in[0]->dtype;
    if (need_numeric(g, n, n->in[0])) return -1;
    bool all_const = true;
    for (int i = 0; i < 3; i++) {
        ir_value_t *x = n->in[i];
        if (i && same_dtype(g, n, n->in[0], x)) return -1;
        if (x->shape.rank > 1 || (ir_shape_is_static(&x->shape) && ir_shape_numel(&x->shape) != 1))
            return ir_error(g, n, "input '%s' must be a scalar", nm[i]);
        all_const &= x->data != NULL;
    }
    if (!all_const) {
        /* integer ranges whose bounds are graph inputs or computed from shapes */
        ir_dim_t d[3], diff, q, len;
        if (dt == IR_F32 || dt == IR_F64) {
            /* float bounds fed at run time: the length from their float64 values */
            for (int i = 0; i < 3; i++)
                if (get_dim1(g, n, i, nm[i], &d[i])) return -1;
            if (ir_dim_float_range(g, d[0], d[1], d[2], &len))
                return ir_error(g, n, "inputs must be constants or graph inputs for a %s range", ir_dtype_name(dt));
            ir_shape_t o = {.rank = 1};
            o.dims[0] = len;
            set_out(n, 0, dt, &o);
            return 0;
        }
        if (dt != IR_I64 && dt != IR_I32)
            return ir_error(g, n, "inputs must be constants for a %s range (a float range's length computed at "
                            "run time is not supported)", ir_dtype_name(dt));
        for (int i = 0; i < 3; i++)
            if (get_dim1(g, n, i, nm[i], &d[i])) return -1;
        if (ir_dim_is_const(d[2]) && d[2].v == 0) return ir_error(g, n, "delta is 0");
        /* max(ceil((limit - start) / delta), 0); a zero delta fails the run */
        if (ir_dim_sub(g, d[1], d[0], &diff) || ir_dim_ceildiv(g, diff, d[2], &q) ||
            ir_dim_max(g, q, ir_dim_const(0), &len))
            return ir_error(g, n, "the range's length expression is too complex");
        ir_shape_t o = {.rank = 1};
        o.dims[0] = len;
        set_out(n, 0, dt, &o);
        /* the kernel reads start and delta from the tensors themselves */
        return 0;
    }
    for (int i = 0; i < 3; i++) {
        ir_value_t *x = n->in[i];
        if (ir_const_scalar(x, &v[i])) return ir_error(g, n, "input '%s' must be a scalar", nm[i]);
        if (ir_const_ints(x, &iv[i], 1) != 1) iv[i] = 0;
    }
    int64_t cnt;
    if (dt == IR_I64 || dt == IR_I32) {
        /* Integer math: doubles lose precision past 2^53. */
        int64_t diff;
        if (iv[2] == 0) return ir_error(g, n, "delta is 0");
        if (__builtin_sub_overflow(iv[1], iv[0], &diff)) return ir_error(g, n, "range overflows");
        if ((diff > 0) != (iv[2] > 0) || diff == 0) cnt = 0;
        else if (iv[2] == -1 && diff == INT64_MIN) return ir_error(g, n, "range has too many elements");
        else cnt = diff / iv[2] + (diff % iv[2] != 0);
    } else {
        if (v[2] == 0 || !isfinite(v[0]) || !isfinite(v[1]) || !isfinite(v[2]))
            return ir_error(g, n, "start, limit and delta must be finite with a non-zero delta");
        double c = ceil((v[1] - v[0]) / v[2]);
        if (c > 4e18) return ir_error(g, n, "range has too many elements");
        cnt = c > 0 ? (int64_t)c : 0;
    }
    ir_shape_t o = shape1(cnt);
    set_out(n, 0, dt, &o);
    return 0;
}

static int inf_dropout(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    if (need_float(g, n, x)) return -1;
    if (n->n_in > 1 && n->in[1] && !ir_dtype_is_float(n->in[1]->dtype))
        return ir_error(g, n, "ratio must be a float scalar");
    if (n->n_in > 2 && n->in[2] && n->in[2]->dtype != IR_BOOL)
        return ir_error(g, n, "training_mode must be a bool scalar");
    set_out(n, 0, x->dtype, &x->shape);
    set_out(n, 1, IR_BOOL, &x->shape);
    return 0;
}

/* ---------------------------------------------------------------- entry */
static int check_dims(ir_graph_t *g, ir_node_t *n, const ir_value_t *v, const char *role) {
    const ir_shape_t *s = &v->shape;
    if (s->rank < 0) return ir_error(g, n, "%s '%s' has an unknown shape", role, vname(v));
    if (s->rank > IR_MAX_RANK) return ir_error(g, n, "%s '%s' has rank %d, more than %d", role, vname(v), s->rank, IR_MAX_RANK);
    for (int i = 0; i < s->rank; i++)
        if ((s->dims[i].sym < 0 && s->dims[i].v < 0) || (s->dims[i].sym >= 0 && s->dims[i].sym >= g->n_syms))
            return ir_error(g, n, "%s '%s' has an invalid dim %d in %s", role, vname(v), i, SHP(s));
    int64_t ne = ir_shape_numel(s), bytes;
    if (ir_shape_is_static(s) &&
        (ne < 0 || __builtin_mul_overflow(ne, (int64_t)(ir_dtype_size(v->dtype) ? ir_dtype_size(v->dtype) : 1), &bytes)))
        return ir_error(g, n, "%s '%s' has shape %s whose size overflows int64", role, vname(v), SHP(s));
    return 0;
}

/* ---------------------------------------------------------------- rules that were inline */
static int inf_keep(ir_graph_t *g, ir_node_t *n) {
    if (need_numeric(g, n, n->in[0])) return -1;
    set_out(n, 0, n->in[0]->dtype, &n->in[0]->shape);
    return 0;
}

static int inf_lrn(ir_graph_t *g, ir_node_t *n) {
    if (n->in[0]->shape.rank < 3) return ir_error(g, n, "input must have rank >= 3");
    /* Found by fuzz_compile: size INT64_MIN overflowed the window bounds (size - 1) / 2. */
    int64_t size = ir_attr_int(n, "size", 1);
    if (size < 1 || size > INT32_MAX) return ir_error(g, n, "size %lld must be in [1, 2^31)", (long long)size);
    return inf_keep(g, n);
}

static int inf_hardmax(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    int ax;
    if (x->shape.rank < 1) return ir_error(g, n, "input must have rank >= 1");
    /* Found by fuzz_compile: an unchecked axis reached the lowering as dims[64]. */
    int64_t a = ir_attr_int(n, "axis", -1);
    if (ir_norm_axis(a, x->shape.rank, &ax))
        return ir_error(g, n, "axis %lld is out of range for input %s", (long long)a, SHP(&x->shape));
    return inf_keep(g, n);
}

static int inf_cumsum(ir_graph_t *g, ir_node_t *n) {
    int64_t ax;
    int a;
    if (need_numeric(g, n, n->in[0])) return -1;
    n->params = NULL;
    n->n_params = 0;
    if (!n->in[1]->data) {
        /* an axis fed at run time: the kernel picks it; it must be in [-r, r) */
        ir_dim_t d, t;
        int r = n->in[0]->shape.rank;
        if (get_dim1(g, n, 1, "axis", &d)) return -1;
        {
            n->params = ir_arena_alloc(&g->arena, sizeof(ir_dim_t));
            if (!n->params || ir_dim_add(g, d, ir_dim_const(r), &t) ||
                ir_dim_select_lt(g, d, ir_dim_const(0), t, d, &n->params[0]) ||
                ir_shape_check_add(g, IR_CHECK_GE, d, ir_dim_const(-r), n->name) ||
                ir_shape_check_add(g, IR_CHECK_GE, ir_dim_const(r - 1), d, n->name))
                return ir_error(g, n, "the run-time axis is too complex");
            n->n_params = 1;
            return inf_keep(g, n);
        }
    } else if (need_ints(g, n, 1, "axis", &ax) != 1) {
        return ir_error(g, n, "axis must be a constant scalar");
    }
    if (ir_norm_axis(ax, n->in[0]->shape.rank, &a)) return ir_error(g, n, "axis %lld out of range", (long long)ax);
    return inf_keep(g, n);
}

static int inf_resize(ir_graph_t *g, ir_node_t *n) {
    ir_resize_t rp;
    if (need_numeric(g, n, n->in[0]) || ir_resize_params(g, n, &n->in[0]->shape, &rp)) return -1;
    ir_shape_t o = n->in[0]->shape;
    for (int d = 0; d < o.rank; d++) o.dims[d] = rp.out_d[d];
    n->params = NULL;
    n->n_params = 0;
    bool aspect = false;
    for (int d = 0; d < o.rank; d++) aspect |= rp.rt[d] == 3;
    if (aspect) {
        /* the kernel's common scale num/den */
        n->params = ir_arena_alloc(&g->arena, 2 * sizeof(ir_dim_t));
        if (!n->params) return ir_error(g, n, "out of memory");
        n->params[0] = rp.aspect_num;
        n->params[1] = rp.aspect_den;
        n->n_params = 2;
    }
    set_out(n, 0, n->in[0]->dtype, &o);
    return 0;
}

static int inf_cast_like(ir_graph_t *g, ir_node_t *n) {
    (void)g;
    set_out(n, 0, n->in[1]->dtype, &n->in[0]->shape);
    return 0;
}

static int inf_trilu(ir_graph_t *g, ir_node_t *n) {
    if (n->in[0]->shape.rank < 2) return ir_error(g, n, "input must have rank >= 2");
    set_out(n, 0, n->in[0]->dtype, &n->in[0]->shape);
    return 0;
}

/* InstanceNormalization is GroupNormalization with one group per channel: absent
 * num_groups means C groups. */
static int inf_chan_norm(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    if (need_float(g, n, x)) return -1;
    if (x->shape.rank < 3 || x->shape.dims[1].sym >= 0) return ir_error(g, n, "input must be N x C x ... with a static C");
    int64_t C = x->shape.dims[1].v, G = ir_attr_int(n, "num_groups", C);
    if (G < 1 || C % G) return ir_error(g, n, "num_groups %lld does not divide %lld channels", (long long)G, (long long)C);
    for (int i = 1; i < 3; i++) {
        int64_t m = ir_shape_numel(&n->in[i]->shape);
        if (same_dtype(g, n, x, n->in[i]) || (m != C && m != G))
            return ir_error(g, n, "%s must have %lld elements", i == 1 ? "scale" : "bias", (long long)C);
    }
    set_out(n, 0, x->dtype, &x->shape);
    return 0;
}

static int inf_loss(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0], *t = n->in[1];
    if (need_float(g, n, x)) return -1;
    if (t->dtype != IR_I32 && t->dtype != IR_I64) return ir_error(g, n, "target must be int32 or int64");
    if (x->shape.rank < 2 || t->shape.rank != x->shape.rank - 1 || !ir_shape_is_static(&x->shape))
        return ir_error(g, n, "input must be a static [N, C, ...] tensor and target [N, ...]");
    for (int d = 0; d < t->shape.rank; d++)
        if (!ir_dim_eq(t->shape.dims[d], x->shape.dims[d ? d + 1 : 0])) return ir_error(g, n, "target shape does not match the input");
    if (n->n_in > 2 && n->in[2] && (same_dtype(g, n, x, n->in[2]) || ir_shape_numel(&n->in[2]->shape) != x->shape.dims[1].v))
        return ir_error(g, n, "weight must have C elements");
    const char *red = ir_attr_str(n, "reduction", "mean");
    if (strcmp(red, "none") && strcmp(red, "sum") && strcmp(red, "mean")) return ir_error(g, n, "reduction '%s' is not supported", red);
    ir_shape_t scalar = {.rank = 0};
    set_out(n, 0, x->dtype, strcmp(red, "none") ? &scalar : &t->shape);
    set_out(n, 1, x->dtype, &x->shape);
    return 0;
}

/* DepthToSpace (to_space) and SpaceToDepth share the checks. */
static int depth_space(ir_graph_t *g, ir_node_t *n, bool to_space) {
    ir_value_t *x = n->in[0];
    int64_t b = ir_attr_int(n, "blocksize", 0);
    if (x->shape.rank != 4 || !ir_shape_is_static(&x->shape)) return ir_error(g, n, "input must be a static 4-D tensor");
    if (b < 1 || b > 4096) return ir_error(g, n, "blocksize %lld is out of range", (long long)b);
    ir_shape_t o = x->shape;
    if (to_space) {
        if (o.dims[1].v % (b * b)) return ir_error(g, n, "channels %lld are not a multiple of blocksize^2", (long long)o.dims[1].v);
        o.dims[1].v /= b * b; o.dims[2].v *= b; o.dims[3].v *= b;
    } else {
        if (o.dims[2].v % b || o.dims[3].v % b) return ir_error(g, n, "height and width must be multiples of blocksize");
        o.dims[1].v *= b * b; o.dims[2].v /= b; o.dims[3].v /= b;
    }
    set_out(n, 0, x->dtype, &o);
    return 0;
}
static int inf_depth_to_space(ir_graph_t *g, ir_node_t *n) { return depth_space(g, n, true); }
static int inf_space_to_depth(ir_graph_t *g, ir_node_t *n) { return depth_space(g, n, false); }

static int inf_size(ir_graph_t *g, ir_node_t *n) {
    (void)g;
    ir_shape_t o = {.rank = 0};
    set_out(n, 0, IR_I64, &o);
    return 0;
}

/* NonZero: [rank, count] indices, int64; count is known only when the kernel has run
 * (a run-time symbol, at most the input's element count, which sizes the buffer). */
static int inf_non_zero(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0];
    if (x->dtype == IR_STRING) return ir_error(g, n, "string inputs are not supported");
    ir_dim_t bound, cnt;
    if (dims_prod(g, &x->shape, 0, x->shape.rank, &bound)) return ir_error(g, n, "input %s is too large", SHP(&x->shape));
    if (ir_dim_runtime(g, n->out[0], bound, &cnt)) return ir_error(g, n, "too many symbols");
    ir_shape_t o = {.rank = 2};
    o.dims[0] = ir_dim_const(x->shape.rank);
    o.dims[1] = cnt;
    set_out(n, 0, IR_I64, &o);
    return 0;
}

/* Ops that handle the low-precision dtypes (ir/lowp.h): conversions, and ops that only
 * move elements (one byte each in the IR) or read shapes. Anything else refuses them
 * by name rather than computing on codes as if they were integers. */
static bool lowp_ok(ir_op_t op) {
    switch (op) {
    case IR_OP_CAST: case IR_OP_CAST_LIKE: case IR_OP_BIT_CAST: case IR_OP_QUANTIZE_LINEAR:
    case IR_OP_DEQUANTIZE_LINEAR: case IR_OP_IDENTITY: case IR_OP_SHAPE: case IR_OP_SIZE: case IR_OP_CONSTANT:
    case IR_OP_FLATTEN: case IR_OP_RESHAPE: case IR_OP_TRANSPOSE: case IR_OP_CONCAT: case IR_OP_SPLIT:
    case IR_OP_SLICE: case IR_OP_GATHER: case IR_OP_SQUEEZE: case IR_OP_UNSQUEEZE: case IR_OP_EXPAND:
    case IR_OP_TILE: case IR_OP_GATHER_ELEMENTS: case IR_OP_DEPTH_TO_SPACE: case IR_OP_SPACE_TO_DEPTH:
    case IR_OP_GATHER_ND: case IR_OP_REVERSE_SEQUENCE: case IR_OP_COMPRESS:
        return true;
    default:
        return false;
    }
}

static int lowp_check(ir_graph_t *g, ir_node_t *n, ir_value_t *const *vs, int nv, const char *what) {
    for (int i = 0; i < nv; i++)
        if (vs[i] && ir_dtype_is_lowp(vs[i]->dtype) && !lowp_ok(n->op))
            return ir_error(g, n, "%s '%s' has dtype %s, which %s does not support (only Cast, CastLike, BitCast, "
                            "QuantizeLinear, DequantizeLinear and ops that move elements do)",
                            what, vname(vs[i]), ir_dtype_name(vs[i]->dtype), ir_op_name(n->op));
    return 0;
}

/* The "types" column: one letter per input, the last repeating. */
static bool type_ok(char c, ir_dtype_t t) {
    switch (c) {
    case 'f': return ir_dtype_is_float(t);
    case 'n': return t != IR_BOOL && t != IR_STRING;
    case 'i': return ir_dtype_is_int(t);
    case 's': return ir_dtype_is_signed(t);
    case 'b': return t == IR_BOOL;
    case 'x': return t == IR_I32 || t == IR_I64;
    default: return true;
    }
}

static const char *type_word(char c) {
    switch (c) {
    case 'f': return "a floating-point tensor";
    case 'n': return "numeric";
    case 'i': return "an integer type";
    case 's': return "a signed type";
    case 'b': return "bool";
    case 'x': return "int32 or int64";
    default: return "any type";
    }
}

typedef int (*infer_fn)(ir_graph_t *, ir_node_t *);
/* Declares each row's function; rules defined above keep their internal linkage, rules in
 * other files (declared in infer_util.h) are external. */
#define OP(e, name, mi, xi, mo, xo, cls, inf, ev, types, attrs, recipe) int inf(ir_graph_t *, ir_node_t *);
#include "ir/ops.def"
#undef OP
static const infer_fn infer_table[IR_OP_COUNT] = {
#define OP(e, name, mi, xi, mo, xo, cls, inf, ev, types, attrs, recipe) inf,
#include "ir/ops.def"
#undef OP
};

int ir_infer_node(ir_graph_t *g, ir_node_t *n) {
    int mi, xi, mo, xo;
    if (n->op >= IR_OP_COUNT) return ir_error(g, n, "unknown op");
    ir_op_arity(n->op, &mi, &xi, &mo, &xo);
    if (n->n_in < mi || n->n_in > xi) return ir_error(g, n, "has %d inputs, expected %d to %d", n->n_in, mi, xi);
    if (n->n_out < mo || n->n_out > xo) return ir_error(g, n, "has %d outputs, expected %d to %d", n->n_out, mo, xo);
    for (int i = 0; i < n->n_in; i++) {
        ir_value_t *v = n->in[i];
        if (!v) {
            if (i < mi) return ir_error(g, n, "required input %d is missing", i);
            continue;
        }
        if (v->dtype == IR_UNDEFINED || ir_dtype_size(v->dtype) == 0)
            return ir_error(g, n, "input '%s' has unsupported dtype %s", vname(v), ir_dtype_name(v->dtype));
        if (check_dims(g, n, v, "input")) return -1;
    }
    const char *types = ir_op_types(n->op);
    size_t nt = strlen(types);
    for (int i = 0; i < n->n_in && nt; i++) {
        char c = types[(size_t)i < nt ? (size_t)i : nt - 1];
        if (n->in[i] && !type_ok(c, n->in[i]->dtype))
            return ir_error(g, n, "input '%s' must be %s, got %s", vname(n->in[i]), type_word(c),
                            ir_dtype_name(n->in[i]->dtype));
    }
    if (lowp_check(g, n, n->in, n->n_in, "input")) return -1;
    int rc = infer_table[n->op](g, n);
    if (rc) return rc;
    if (lowp_check(g, n, n->out, n->n_out, "output")) return -1;
    for (int i = 0; i < n->n_out; i++) {
        if (n->out[i] && check_dims(g, n, n->out[i], "output")) return -1;
        for (int d = 0; n->out[i] && d < n->out[i]->shape.rank; d++)
            if (!ir_dim_runtime_ok(g, n->out[i]->shape.dims[d]))
                return ir_error(g, n, "output '%s' has shape %s, which depends on a count known only while the model "
                                "runs in a way the memory plan cannot bound (a count inside a division, min, max or "
                                "difference)", vname(n->out[i]), SHP(&n->out[i]->shape));
    }
    ir_prop_sval(g, n);
    return 0;
}
