/* Inference for generator ops, whose output values come from shapes and attributes alone:
 * the window functions (HannWindow, HammingWindow, BlackmanWindow) and EyeLike. */
#include <math.h>

#include "ir/infer_util.h"

static const char *vname(const ir_value_t *v) { return v && v->name ? v->name : "?"; }

/* output dtype from an attribute holding a TensorProto.DataType, or dflt when absent */
static int dtype_attr(ir_graph_t *g, const ir_node_t *n, const char *name, ir_dtype_t dflt, ir_dtype_t *out) {
    int64_t t = ir_attr_int(n, name, (int64_t)dflt);
    if (t <= 0 || t >= IR_DTYPE_MAX || !ir_dtype_size((ir_dtype_t)t) || t == IR_STRING)
        return ir_error(g, n, "%s %lld is not a supported data type", name, (long long)t);
    *out = (ir_dtype_t)t;
    return 0;
}

int ir_window_size(ir_graph_t *g, const ir_node_t *n, int64_t *size) {
    const ir_value_t *s = n->in[0];
    double v;
    if (!s->data)
        return ir_error(g, n, "input 'size' must be a constant (data-dependent shapes are not supported); "
                        "'%s' is computed at run time", vname(s));
    if (!ir_dtype_is_int(s->dtype) || ir_const_scalar(s, &v) || v < 0 || v > (double)((int64_t)1 << 40))
        return ir_error(g, n, "size must be one non-negative integer");
    *size = (int64_t)v;
    return 0;
}

int ir_infer_window_fn(ir_graph_t *g, ir_node_t *n) {
    int64_t size;
    ir_dtype_t t = IR_UNDEFINED;
    ir_shape_t s = {.rank = 1};
    const ir_value_t *sv = n->in[0];
    if (!sv->data && sv->is_input && !sv->producer && ir_shape_numel(&sv->shape) == 1 && ir_dtype_is_int(sv->dtype) &&
        (sv->dtype == IR_I64 || sv->dtype == IR_I32)) {
        /* size fed at run time: a data symbol; the kernel reads it from the output's shape */
        if (dtype_attr(g, n, "output_datatype", IR_F32, &t)) return -1;
        if (ir_dim_data(g, sv, 0, &s.dims[0])) return ir_error(g, n, "too many symbols");
        if (ir_shape_check_add(g, IR_CHECK_GE, s.dims[0], ir_dim_const(0), n->name))
            return ir_error(g, n, "size must be non-negative");
    } else {
        if (ir_window_size(g, n, &size) || dtype_attr(g, n, "output_datatype", IR_F32, &t)) return -1;
        s.dims[0] = ir_dim_const(size);
    }
    n->out[0]->dtype = t;
    n->out[0]->shape = s;
    return 0;
}

int ir_infer_eye_like(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0];
    ir_dtype_t t = IR_UNDEFINED;
    if (x->shape.rank != 2) return ir_error(g, n, "input '%s' must be 2-D, got rank %d", vname(x), x->shape.rank);
    if (dtype_attr(g, n, "dtype", x->dtype, &t)) return -1;
    n->out[0]->dtype = t;
    n->out[0]->shape = x->shape;
    return 0;
}

/* w[i] for a window of `size` points: N = size (periodic) or size - 1 (symmetric) */
double ir_window_value(ir_op_t op, int64_t i, int64_t size, bool periodic) {
    double N = (double)(periodic ? size : size - 1), x = N > 0 ? 2 * 3.14159265358979323846 * (double)i / N : 0;
    switch (op) {
    case IR_OP_HANN_WINDOW: return 0.5 - 0.5 * cos(x);
    case IR_OP_HAMMING_WINDOW: return 25.0 / 46.0 - (1 - 25.0 / 46.0) * cos(x);
    default: return 0.42 - 0.5 * cos(x) + 0.08 * cos(2 * x);
    }
}
