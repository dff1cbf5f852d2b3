/* Helpers shared by the inference files (infer.c, infer_conv.c, infer_sval.c): messages,
 * setting outputs, reading constant and run-time shape parameters. Private to ir/. */
#ifndef ONNXC_IR_INFER_INT_H
#define ONNXC_IR_INFER_INT_H

#include <string.h>

#include "ir/infer_util.h"

/* Longest constant list read for shapes, axes, pads, split sizes. */
#define MAXC 64


static inline bool dim_is(ir_dim_t d, int64_t v) { return ir_dim_is_const(d) && d.v == v; }


static inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }
/* ---------------------------------------------------------------- local helpers */
typedef struct sbuf { char str[192]; } sbuf_t;
static inline sbuf_t shp(const ir_graph_t *g, const ir_shape_t *s) {
    sbuf_t b;
    ir_shape_str(g, s, b.str, sizeof b.str);
    return b;
}
#define SHP(s) (shp(g, (s)).str)

static inline void set_out(ir_node_t *n, int i, ir_dtype_t dt, const ir_shape_t *s) {
    if (i < n->n_out && n->out[i]) {
        n->out[i]->dtype = dt;
        n->out[i]->shape = *s;
    }
}

static inline ir_shape_t shape1(int64_t len) {
    ir_shape_t s = {.rank = 1};
    s.dims[0] = ir_dim_const(len);
    return s;
}

static inline const char *vname(const ir_value_t *v) { return v && v->name ? v->name : "?"; }

/* A constant integer list input; `what` is the spec's input name for the message. */
static inline int need_ints(ir_graph_t *g, ir_node_t *n, int idx, const char *what, int64_t *out) {
    const ir_value_t *v = n->in[idx];
    if (!v->data)
        return ir_error(g, n, "input '%s' must be a constant (data-dependent shapes are not supported); "
                        "'%s' is computed at run time", what, vname(v));
    if (v->dtype != IR_I64 && v->dtype != IR_I32)
        return ir_error(g, n, "input '%s' must be int64, got %s", what, ir_dtype_name(v->dtype));
    if (v->shape.rank > 1) return ir_error(g, n, "input '%s' must be 1-D, got rank %d", what, v->shape.rank);
    int c = ir_const_ints(v, out, MAXC);
    if (c < 0) return ir_error(g, n, "input '%s' has more than %d elements", what, MAXC);
    return c;
}

/* An integer list input as dims: a constant, contents inference knows (computed from
 * shapes: Shape -> Gather -> Concat), or an integer graph input whose elements become data
 * symbols (the caller passes them; the run checks them). Returns the count, or -1. */
static inline int get_dims(ir_graph_t *g, ir_node_t *n, int idx, const char *what, ir_dim_t *out) {
    ir_value_t *v = n->in[idx];
    if (v->dtype != IR_I64 && v->dtype != IR_I32)
        return ir_error(g, n, "input '%s' must be int64, got %s", what, ir_dtype_name(v->dtype));
    if (v->shape.rank > 1) return ir_error(g, n, "input '%s' must be 1-D, got rank %d", what, v->shape.rank);
    if (v->data) {
        int64_t c[MAXC];
        int cnt = ir_const_ints(v, c, MAXC);
        if (cnt < 0) return ir_error(g, n, "input '%s' has more than %d elements", what, MAXC);
        for (int i = 0; i < cnt; i++) out[i] = ir_dim_const(c[i]);
        return cnt;
    }
    if (v->sval) {
        for (int i = 0; i < v->n_sval; i++) out[i] = v->sval[i];
        return v->n_sval;
    }
    if (v->is_input && !v->producer && ir_shape_is_static(&v->shape)) {
        int64_t cnt = ir_shape_numel(&v->shape);
        if (cnt > IR_MAX_RANK * 2)
            return ir_error(g, n, "input '%s' (graph input '%s') has %lld elements; a shape input may have at most %d",
                            what, vname(v), (long long)cnt, IR_MAX_RANK * 2);
        for (int64_t i = 0; i < cnt; i++)
            if (ir_dim_data(g, v, i, &out[i])) return ir_error(g, n, "too many symbols");
        return (int)cnt;
    }
    return ir_error(g, n, "input '%s' must be a constant, a graph input, or computed from tensor shapes; '%s' "
                    "is computed from tensor values at run time (data-dependent shapes are not supported)",
                    what, vname(v));
}

/* A scalar integer input as a dim (Range's start/limit/delta, TopK's k). */
static inline int get_dim1(ir_graph_t *g, ir_node_t *n, int idx, const char *what, ir_dim_t *out) {
    ir_value_t *v = n->in[idx];
    if (v->dtype == IR_F32 || v->dtype == IR_F64) {
        /* a float scalar: a constant's float64 bits, or a graph input's float data symbol */
        double c;
        if (v->data && ir_const_scalar(v, &c) == 0) {
            int64_t bits;
            memcpy(&bits, &c, 8);
            *out = ir_dim_const(bits);
            return 0;
        }
        if (!v->is_input || v->producer || ir_shape_numel(&v->shape) != 1)
            return ir_error(g, n, "input '%s' must be a constant or a graph input", what);
        if (ir_dim_data(g, v, 0, out)) return ir_error(g, n, "too many symbols");
        return 0;
    }
    ir_dim_t d[MAXC];
    int c = get_dims(g, n, idx, what, d);
    if (c < 0) return -1;
    if (c != 1) return ir_error(g, n, "input '%s' must hold one value, got %d", what, c);
    *out = d[0];
    return 0;
}

static inline int need_float(ir_graph_t *g, ir_node_t *n, const ir_value_t *v) {
    if (!ir_dtype_is_float(v->dtype))
        return ir_error(g, n, "input '%s' must be a floating-point tensor, got %s", vname(v), ir_dtype_name(v->dtype));
    return 0;
}

static inline int need_numeric(ir_graph_t *g, ir_node_t *n, const ir_value_t *v) {
    if (!ir_dtype_is_float(v->dtype) && !ir_dtype_is_int(v->dtype))
        return ir_error(g, n, "input '%s' must be numeric, got %s", vname(v), ir_dtype_name(v->dtype));
    return 0;
}

static inline int same_dtype(ir_graph_t *g, ir_node_t *n, const ir_value_t *a, const ir_value_t *b) {
    if (a->dtype != b->dtype)
        return ir_error(g, n, "inputs '%s' (%s) and '%s' (%s) must have the same dtype", vname(a),
                        ir_dtype_name(a->dtype), vname(b), ir_dtype_name(b->dtype));
    return 0;
}

static inline int bcast(ir_graph_t *g, ir_node_t *n, const ir_shape_t *a, const ir_shape_t *b, ir_shape_t *o) {
    if (ir_broadcast_shapes(a, b, o))
        return ir_error(g, n, "shapes %s and %s cannot be broadcast together", SHP(a), SHP(b));
    return 0;
}

/* Axis list (reduce, squeeze, unsqueeze): normalised, no duplicates. */
static inline int norm_axes(ir_graph_t *g, ir_node_t *n, const int64_t *ax, int cnt, int rank, int *out) {
    bool seen[IR_MAX_RANK] = {0};
    for (int i = 0; i < cnt; i++) {
        if (ir_norm_axis(ax[i], rank, &out[i]))
            return ir_error(g, n, "axis %lld is out of range for rank %d", (long long)ax[i], rank);
        if (seen[out[i]]) return ir_error(g, n, "axis %lld is repeated", (long long)ax[i]);
        seen[out[i]] = true;
    }
    return 0;
}


/* Product of dims [from, to) of s. */
static inline int dims_prod(ir_graph_t *g, const ir_shape_t *s, int from, int to, ir_dim_t *out) {
    ir_dim_t p = ir_dim_const(1);
    for (int i = from; i < to; i++)
        if (ir_dim_mul(g, p, s->dims[i], &p)) return -1;
    *out = p;
    return 0;
}

#endif
