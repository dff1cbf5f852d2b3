/* Symbolic contents of small integer tensors (value->sval): Shape's result and what is
 * computed from it, kept as dims so that a Reshape or Expand target computed from shapes
 * gives symbolic dims. */
#include "ir/infer_int.h"

/* ---------------------------------------------------------------- symbolic contents
 * Small integer tensors computed from shapes keep their elements as dims (value->sval), so
 * that Shape -> Gather/Slice -> Concat -> Reshape, the way exporters write dynamic batch
 * and sequence dims, gives a Reshape with symbolic dims rather than a refusal. The
 * kernels still compute the tensors; only inference reads sval. */
static bool small_int(const ir_value_t *v) {
    return v && (v->dtype == IR_I64 || v->dtype == IR_I32) && v->shape.rank >= 0 && v->shape.rank <= 1 &&
           ir_shape_is_static(&v->shape) && ir_shape_numel(&v->shape) <= MAXC;
}

/* The elements of a small integer tensor as dims: its constant data, its known contents,
 * or (a graph input) data symbols. Count, or -1 when unknown. */
static int elems_of(ir_graph_t *g, ir_value_t *v, ir_dim_t *out) {
    if (!small_int(v)) return -1;
    if (v->data) {
        int64_t c[MAXC];
        int cnt = ir_const_ints(v, c, MAXC);
        for (int i = 0; i < cnt; i++) out[i] = ir_dim_const(c[i]);
        return cnt;
    }
    if (v->sval) {
        memcpy(out, v->sval, sizeof(ir_dim_t) * (size_t)v->n_sval);
        return v->n_sval;
    }
    if (v->is_input && !v->producer) {
        int64_t cnt = ir_shape_numel(&v->shape);
        if (cnt > IR_MAX_RANK * 2) return -1;
        for (int64_t i = 0; i < cnt; i++)
            if (ir_dim_data(g, v, i, &out[i])) return -1;
        return (int)cnt;
    }
    return -1;
}

static void set_sval(ir_graph_t *g, ir_value_t *v, const ir_dim_t *d, int cnt) {
    if (!small_int(v) || cnt != ir_shape_numel(&v->shape)) return;
    ir_dim_t *a = ir_arena_alloc(&g->arena, sizeof(ir_dim_t) * (size_t)(cnt ? cnt : 1));
    if (!a) return;
    memcpy(a, d, sizeof(ir_dim_t) * (size_t)cnt);
    v->sval = a;
    v->n_sval = cnt;
}

static int binop_dim(ir_graph_t *g, ir_op_t op, ir_dim_t a, ir_dim_t b, ir_dim_t *o) {
    switch (op) {
    case IR_OP_ADD: return ir_dim_add(g, a, b, o);
    case IR_OP_SUB: return ir_dim_sub(g, a, b, o);
    case IR_OP_MUL: return ir_dim_mul(g, a, b, o);
    case IR_OP_MAX: return ir_dim_max(g, a, b, o);
    case IR_OP_MIN: return ir_dim_min(g, a, b, o);
    case IR_OP_DIV:
        /* integer Div truncates: floor only where both are known non-negative */
        if (ir_dim_is_const(b) && b.v == 0) return -1;
        if (ir_dim_is_const(a) && ir_dim_is_const(b)) {
            if (a.v == INT64_MIN && b.v == -1) return -1;
            *o = ir_dim_const(a.v / b.v);
            return 0;
        }
        if (ir_dim_lower_bound(g, a) >= 0 && ir_dim_lower_bound(g, b) >= 1) return ir_dim_floordiv(g, a, b, o);
        if (ir_dim_lower_bound(g, b) >= 1) {
            /* a of either sign: truncation is a < 0 ? -((-a) // b) : a // b */
            ir_dim_t na, qn, qp;
            if (ir_dim_sub(g, ir_dim_const(0), a, &na) || ir_dim_floordiv(g, na, b, &qn) ||
                ir_dim_sub(g, ir_dim_const(0), qn, &qn) || ir_dim_floordiv(g, a, b, &qp))
                return -1;
            return ir_dim_select_lt(g, a, ir_dim_const(0), qn, qp, o);
        }
        return -1;
    default: return -1;
    }
}

void ir_prop_sval(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *out = n->n_out > 0 ? n->out[0] : NULL;
    if (!small_int(out) || out->data) return;
    ir_dim_t a[MAXC], b[MAXC], o[MAXC];
    int na, nb, no = 0;
    switch (n->op) {
    case IR_OP_SHAPE: {
        const ir_shape_t *s = &n->in[0]->shape;
        int64_t r = s->rank, st = ir_attr_int(n, "start", 0), en = ir_attr_int(n, "end", r);
        if (st < 0) st += r;
        if (en < 0) en += r;
        st = clamp64(st, 0, r);
        en = clamp64(en, 0, r);
        for (int64_t i = st; i < en; i++) o[no++] = s->dims[i];
        break;
    }
    case IR_OP_SIZE:
        if (dims_prod(g, &n->in[0]->shape, 0, n->in[0]->shape.rank, &o[0])) return;
        no = 1;
        break;
    case IR_OP_GATHER: {
        int64_t idx[MAXC];
        if ((na = elems_of(g, n->in[0], a)) < 0 || n->in[0]->shape.rank != 1) return;
        int ni = ir_const_ints(n->in[1], idx, MAXC);
        if (ni < 0) return;
        for (int i = 0; i < ni; i++) {
            int64_t k = idx[i] < 0 ? idx[i] + na : idx[i];
            if (k < 0 || k >= na) return;
            o[no++] = a[k];
        }
        break;
    }
    case IR_OP_SLICE: {
        int64_t st, en, sp = 1, ax = 0;
        if ((na = elems_of(g, n->in[0], a)) < 0 || n->in[0]->shape.rank != 1) return;
        if (ir_const_ints(n->in[1], &st, 1) != 1 || ir_const_ints(n->in[2], &en, 1) != 1) return;
        if (n->n_in > 3 && n->in[3] && (ir_const_ints(n->in[3], &ax, 1) != 1 || (ax != 0 && ax != -1))) return;
        if (n->n_in > 4 && n->in[4] && ir_const_ints(n->in[4], &sp, 1) != 1) return;
        if (sp == 0) return;
        int64_t first, len = ir_slice_range(na, st, en, sp, &first);
        for (int64_t i = 0; i < len; i++) o[no++] = a[first + i * sp];
        break;
    }
    case IR_OP_CONCAT:
        for (int i = 0; i < n->n_in; i++) {
            if (!n->in[i] || (na = elems_of(g, n->in[i], a)) < 0 || no + na > MAXC) return;
            memcpy(o + no, a, sizeof(ir_dim_t) * (size_t)na);
            no += na;
        }
        break;
    case IR_OP_UNSQUEEZE: case IR_OP_SQUEEZE: case IR_OP_RESHAPE: case IR_OP_IDENTITY: case IR_OP_FLATTEN:
    case IR_OP_CAST:
        if ((no = elems_of(g, n->in[0], o)) < 0) return;
        break;
    case IR_OP_NEG:
        if ((na = elems_of(g, n->in[0], a)) < 0) return;
        for (int i = 0; i < na; i++)
            if (ir_dim_sub(g, ir_dim_const(0), a[i], &o[no++])) return;
        break;
    case IR_OP_ADD: case IR_OP_SUB: case IR_OP_MUL: case IR_OP_DIV: case IR_OP_MAX: case IR_OP_MIN:
        if (n->n_in != 2 || (na = elems_of(g, n->in[0], a)) < 0 || (nb = elems_of(g, n->in[1], b)) < 0) return;
        if (na != nb && na != 1 && nb != 1) return;
        no = na > nb ? na : nb;
        for (int i = 0; i < no; i++)
            if (binop_dim(g, n->op, a[na == 1 ? 0 : i], b[nb == 1 ? 0 : i], &o[i])) return;
        break;
    case IR_OP_REDUCE_PROD: case IR_OP_REDUCE_SUM:
        if ((na = elems_of(g, n->in[0], a)) < 0 || (n->n_in > 1 && n->in[1] && !n->in[1]->data)) return;
        o[0] = ir_dim_const(n->op == IR_OP_REDUCE_PROD ? 1 : 0);
        for (int i = 0; i < na; i++)
            if ((n->op == IR_OP_REDUCE_PROD ? ir_dim_mul : ir_dim_add)(g, o[0], a[i], &o[0])) return;
        no = 1;
        break;
    default:
        return;
    }
    set_sval(g, out, o, no);
}

