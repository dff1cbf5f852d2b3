/* Shape and dtype inference of the index-driven ops: GatherND, ScatterND and
 * ScatterElements (the deprecated Scatter arrives here as ScatterElements, mapped by the
 * frontend). Indices are run-time data, so only their shapes are checked here; the
 * kernels deal with out-of-range values (see backends/llvm/lower_index.c). Input dtypes
 * (indices int32 or int64: the spec says int64, int32 costs nothing) are checked by the
 * "types" column of ir/ops.def before these run. */
#include "ir/infer_util.h"

#include <stdio.h>
#include <string.h>

typedef struct { char s[192]; } shp_t;
static shp_t shp(const ir_graph_t *g, const ir_shape_t *s) {
    shp_t b;
    ir_shape_str(g, s, b.s, sizeof b.s);
    return b;
}
#define SHP(x) (shp(g, (x)).s)

static void set_out0(ir_node_t *n, ir_dtype_t dt, const ir_shape_t *s) {
    if (n->n_out > 0 && n->out[0]) {
        n->out[0]->dtype = dt;
        n->out[0]->shape = *s;
    }
}

/* The length of an index tuple (indices' last dim) decides the output's rank, so it must
 * be known at compile time. */
static int index_tuple_len(ir_graph_t *g, ir_node_t *n, const ir_value_t *ind, int64_t *m) {
    const ir_shape_t *s = &ind->shape;
    if (s->rank < 1) return ir_error(g, n, "indices must have rank >= 1, got a scalar");
    ir_dim_t d = s->dims[s->rank - 1];
    if (!ir_dim_is_const(d))
        return ir_error(g, n, "unsupported symbolic shape: the last dim of indices %s must be constant", SHP(s));
    *m = d.v;
    return 0;
}

static int reduction_ok(ir_graph_t *g, ir_node_t *n, ir_dtype_t dt) {
    const char *red = ir_attr_str(n, "reduction", "none");
    if (strcmp(red, "none") && strcmp(red, "add") && strcmp(red, "mul") && strcmp(red, "max") && strcmp(red, "min"))
        return ir_error(g, n, "reduction '%s' is not one of none, add, mul, max, min", red);
    if (strcmp(red, "none") && !ir_dtype_is_float(dt) && !ir_dtype_is_int(dt))
        return ir_error(g, n, "reduction '%s' needs numeric data, got %s", red, ir_dtype_name(dt));
    return 0;
}

/* GatherND-13: data rank r, indices rank q, tuples of m coordinates after b batch dims.
 * Output = indices.shape[:q-1] ++ data.shape[b+m:]. */
int ir_infer_gather_nd(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0], *ind = n->in[1];
    int r = x->shape.rank, q = ind->shape.rank;
    int64_t b = ir_attr_int(n, "batch_dims", 0), m = 0;
    if (index_tuple_len(g, n, ind, &m)) return -1;
    if (r < 1) return ir_error(g, n, "data must have rank >= 1, got a scalar");
    if (b < 0 || b >= r || b >= q)
        return ir_error(g, n, "batch_dims %lld must be in [0, min(data rank %d, indices rank %d))", (long long)b, r, q);
    if (m < 1 || m > r - b)
        return ir_error(g, n, "indices' last dim %lld must be in [1, %lld] for data %s with batch_dims %lld",
                        (long long)m, (long long)(r - b), SHP(&x->shape), (long long)b);
    for (int d = 0; d < b; d++)
        if (!ir_dim_eq(x->shape.dims[d], ind->shape.dims[d]))
            return ir_error(g, n, "batch dim %d differs: data %s, indices %s", d, SHP(&x->shape), SHP(&ind->shape));
    ir_shape_t o = {.rank = 0};
    int orank = q - 1 + r - (int)(b + m);
    if (orank > IR_MAX_RANK) return ir_error(g, n, "output rank %d is more than %d", orank, IR_MAX_RANK);
    for (int d = 0; d < q - 1; d++) o.dims[o.rank++] = ind->shape.dims[d];
    for (int d = (int)(b + m); d < r; d++) o.dims[o.rank++] = x->shape.dims[d];
    set_out0(n, x->dtype, &o);
    return 0;
}

/* ScatterND-18: updates.shape must be indices.shape[:q-1] ++ data.shape[k:]. */
int ir_infer_scatter_nd(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0], *ind = n->in[1], *u = n->in[2];
    int r = x->shape.rank, q = ind->shape.rank;
    int64_t m = 0;
    if (index_tuple_len(g, n, ind, &m)) return -1;
    if (r < 1) return ir_error(g, n, "data must have rank >= 1, got a scalar");
    if (m < 1 || m > r)
        return ir_error(g, n, "indices' last dim %lld must be in [1, %d] for data %s", (long long)m, r, SHP(&x->shape));
    if (u->dtype != x->dtype)
        return ir_error(g, n, "updates dtype %s differs from data dtype %s", ir_dtype_name(u->dtype), ir_dtype_name(x->dtype));
    ir_shape_t want = {.rank = 0};
    int urank = q - 1 + r - (int)m;
    if (urank > IR_MAX_RANK) return ir_error(g, n, "updates rank %d is more than %d", urank, IR_MAX_RANK);
    for (int d = 0; d < q - 1; d++) want.dims[want.rank++] = ind->shape.dims[d];
    for (int d = (int)m; d < r; d++) want.dims[want.rank++] = x->shape.dims[d];
    bool same = u->shape.rank == want.rank;
    for (int d = 0; same && d < want.rank; d++) same = ir_dim_eq(u->shape.dims[d], want.dims[d]);
    if (!same)
        return ir_error(g, n, "updates shape %s does not match %s (indices %s, data %s)", SHP(&u->shape), SHP(&want),
                        SHP(&ind->shape), SHP(&x->shape));
    if (reduction_ok(g, n, x->dtype)) return -1;
    set_out0(n, x->dtype, &x->shape);
    return 0;
}

/* ScatterElements-18 (and Scatter-9/11): indices and updates have one shape, of data's
 * rank; off the axis, each index dim must fit inside data's, since the position is used
 * as is there. */
int ir_infer_scatter_elements(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0], *ind = n->in[1], *u = n->in[2];
    int r = x->shape.rank, axis;
    if (r < 1) return ir_error(g, n, "data must have rank >= 1, got a scalar");
    if (ind->shape.rank != r)
        return ir_error(g, n, "indices rank %d differs from data rank %d", ind->shape.rank, r);
    if (ir_norm_axis(ir_attr_int(n, "axis", 0), r, &axis))
        return ir_error(g, n, "axis %lld is out of range for rank %d", (long long)ir_attr_int(n, "axis", 0), r);
    if (u->dtype != x->dtype)
        return ir_error(g, n, "updates dtype %s differs from data dtype %s", ir_dtype_name(u->dtype), ir_dtype_name(x->dtype));
    bool same = u->shape.rank == r;
    for (int d = 0; same && d < r; d++) same = ir_dim_eq(u->shape.dims[d], ind->shape.dims[d]);
    if (!same) return ir_error(g, n, "updates shape %s differs from indices shape %s", SHP(&u->shape), SHP(&ind->shape));
    for (int d = 0; d < r; d++) {
        ir_dim_t di = ind->shape.dims[d], dx = x->shape.dims[d];
        if (d == axis || ir_dim_eq(di, dx)) continue;
        if (!ir_dim_is_const(di) || !ir_dim_is_const(dx))
            return ir_error(g, n, "unsupported symbolic shape: indices %s and data %s differ in dim %d", SHP(&ind->shape),
                            SHP(&x->shape), d);
        if (di.v > dx.v)
            return ir_error(g, n, "indices %s are larger than data %s in dim %d", SHP(&ind->shape), SHP(&x->shape), d);
    }
    if (reduction_ok(g, n, x->dtype)) return -1;
    set_out0(n, x->dtype, &x->shape);
    return 0;
}
