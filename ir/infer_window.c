/* Shape and dtype inference of the Lp family: LpPool (a sliding window, so its geometry
 * comes from ir_window_params like every other pool) and LpNormalization (its
 * axis-wise sibling, kept here so the two Lp ops read together). Both take float input,
 * checked by the "types" column of ir/ops.def before these run. */
#include "ir/infer_util.h"

#include <stdio.h>

static void set_out0(ir_node_t *n, ir_dtype_t dt, const ir_shape_t *s) {
    if (n->n_out > 0 && n->out[0]) {
        n->out[0]->dtype = dt;
        n->out[0]->shape = *s;
    }
}

/* LpPool-18: kernel_shape, strides, dilations, pads/auto_pad, ceil_mode as the other
 * pools; p is an integer exponent. */
int ir_infer_lp_pool(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0];
    int64_t p = ir_attr_int(n, "p", 2);
    /* p < 1 is not a norm (p = 0 would divide by zero in the 1/p root). */
    if (p < 1 || p > 1024) return ir_error(g, n, "p %lld must be in [1, 1024]", (long long)p);
    ir_window_t w;
    if (ir_window_params(g, n, &x->shape, NULL, &w)) return -1;
    ir_shape_t o = x->shape;
    for (int i = 0; i < w.ns; i++) o.dims[2 + i] = w.out_d[i];
    set_out0(n, x->dtype, &o);
    return 0;
}

/* LpNormalization-1: x / ||x||_p along axis; the spec allows p = 1 or 2 only. */
int ir_infer_lp_norm(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0];
    int axis;
    int64_t a = ir_attr_int(n, "axis", -1), p = ir_attr_int(n, "p", 2);
    if (ir_norm_axis(a, x->shape.rank, &axis))
        return ir_error(g, n, "axis %lld is out of range for rank %d", (long long)a, x->shape.rank);
    if (p != 1 && p != 2) return ir_error(g, n, "p %lld is not supported (the spec allows 1 or 2)", (long long)p);
    set_out0(n, x->dtype, &x->shape);
    return 0;
}
