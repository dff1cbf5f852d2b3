/* Inference for DFT: the transform length, axis and output shape resolved once
 * (ir_dft_params) for the evaluator and the backends. Opset 20 reads the axis from its
 * third input (default -2); earlier opsets from the attribute (default 1). */
#include "ir/infer_util.h"

static const char *vname(const ir_value_t *v) { return v && v->name ? v->name : "?"; }

/* optional constant scalar integer input; absent: dflt */
static int scalar_input(ir_graph_t *g, const ir_node_t *n, int idx, const char *what, int64_t dflt, int64_t *out) {
    const ir_value_t *v = idx < n->n_in ? n->in[idx] : NULL;
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!v->data)
        return ir_error(g, n, "input '%s' must be a constant (data-dependent shapes are not supported); "
                        "'%s' is computed at run time", what, vname(v));
    if (ir_const_ints(v, out, 1) != 1) return ir_error(g, n, "input '%s' must be one int64", what);
    return 0;
}

int ir_dft_params(ir_graph_t *g, const ir_node_t *n, ir_dft_t *p) {
    const ir_value_t *x = n->in[0];
    int r = x->shape.rank;
    char a[128];
    ir_shape_str(g, &x->shape, a, sizeof a);
    if (!ir_dtype_is_float(x->dtype)) return ir_error(g, n, "input must be floating-point, got %s", ir_dtype_name(x->dtype));
    if (r < 3 || !ir_dim_is_const(x->shape.dims[r - 1]) || (x->shape.dims[r - 1].v != 1 && x->shape.dims[r - 1].v != 2))
        return ir_error(g, n, "input %s must be (batch, signal..., 1 or 2)", a);
    p->complex_in = x->shape.dims[r - 1].v == 2;
    p->inverse = ir_attr_int(n, "inverse", 0) != 0;
    p->onesided = ir_attr_int(n, "onesided", 0) != 0;
    int64_t ax;
    if (g->opset >= 20) {
        if (scalar_input(g, n, 2, "axis", -2, &ax)) return -1;
    } else {
        ax = ir_attr_int(n, "axis", 1);
    }
    if (ax < -r || ax >= r - 1 || ir_norm_axis(ax, r, &p->axis) || p->axis == 0)
        return ir_error(g, n, "axis %lld is not a signal axis of %s", (long long)ax, a);
    if (!ir_dim_is_const(x->shape.dims[p->axis])) return ir_error(g, n, "the transformed axis must have a constant size");
    p->n = x->shape.dims[p->axis].v;
    int64_t dflt = p->inverse && p->onesided ? 2 * (p->n - 1) : p->n;
    if (scalar_input(g, n, 1, "dft_length", dflt, &p->len)) return -1;
    if (p->len < 1 || p->len > ((int64_t)1 << 24)) return ir_error(g, n, "dft_length %lld is out of range", (long long)p->len);
    p->out = x->shape;
    p->out.dims[p->axis] = ir_dim_const(p->onesided && !p->inverse ? p->len / 2 + 1 : p->len);
    p->out.dims[r - 1] = ir_dim_const(p->inverse && p->onesided ? 1 : 2);
    return 0;
}

int ir_infer_dft(ir_graph_t *g, ir_node_t *n) {
    ir_dft_t p;
    if (ir_dft_params(g, n, &p)) return -1;
    n->out[0]->dtype = n->in[0]->dtype;
    n->out[0]->shape = p.out;
    return 0;
}
