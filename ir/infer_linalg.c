/* Inference for Det and MaxUnpool: Det maps (..., M, M) to (...). MaxUnpool scatters into
 * the pooling geometry inverted, (in - 1) * stride + kernel - pads per spatial axis (the
 * space I's flat indices address), and that block is the top-left corner of output_shape
 * when one is given (as the ONNX reference does). */
#include "ir/infer_util.h"

static const char *vname(const ir_value_t *v) { return v && v->name ? v->name : "?"; }

int ir_infer_det(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0];
    int r = x->shape.rank;
    if (!ir_dtype_is_float(x->dtype)) return ir_error(g, n, "input must be floating-point");
    if (r < 2 || !ir_dim_is_const(x->shape.dims[r - 1]) || !ir_dim_eq(x->shape.dims[r - 1], x->shape.dims[r - 2]))
        return ir_error(g, n, "input '%s' must be (..., M, M) with a constant M", vname(x));
    if (x->shape.dims[r - 1].v > 256) return ir_error(g, n, "matrices larger than 256 x 256 are not supported");
    n->out[0]->dtype = x->dtype;
    n->out[0]->shape = x->shape;
    n->out[0]->shape.rank = r - 2;
    return 0;
}

int ir_maxunpool_shape(ir_graph_t *g, const ir_node_t *n, ir_shape_t *out, ir_shape_t *inferred) {
    const ir_value_t *x = n->in[0], *ind = n->in[1], *os = n->n_in > 2 ? n->in[2] : NULL;
    int r = x->shape.rank, ns = r - 2;
    if (r < 3 || !ir_shape_is_static(&x->shape)) return ir_error(g, n, "X must be (N, C, spatial...) with a static shape");
    if (ind->dtype != IR_I64 || ind->shape.rank != r) return ir_error(g, n, "I must be int64 with X's shape");
    *inferred = x->shape;
    const int64_t *ks, *st, *pd;
    int nk = ir_attr_ints(n, "kernel_shape", &ks), nst = ir_attr_ints(n, "strides", &st), np = ir_attr_ints(n, "pads", &pd);
    if (nk != ns || (nst >= 0 && nst != ns) || (np >= 0 && np != 2 * ns)) return ir_error(g, n, "kernel_shape, strides and pads do not fit X");
    for (int i = 0; i < ns; i++) {
        /* attribute values far past any tensor size would overflow the arithmetic below */
        const int64_t lim = (int64_t)1 << 31;
        if (ks[i] < 1 || ks[i] > lim || (nst >= 0 && (st[i] < 1 || st[i] > lim)) ||
            (np >= 0 && (pd[i] < 0 || pd[i] > lim || pd[ns + i] < 0 || pd[ns + i] > lim)))
            return ir_error(g, n, "kernel_shape, strides or pads on spatial axis %d are out of range", i);
        int64_t o;
        if (__builtin_mul_overflow(x->shape.dims[2 + i].v - 1, nst >= 0 ? st[i] : 1, &o) ||
            __builtin_add_overflow(o, ks[i] - (np >= 0 ? pd[i] + pd[ns + i] : 0), &o) || o > ((int64_t)1 << 40))
            return ir_error(g, n, "the unpooled size on spatial axis %d is too large", i);
        if (o < 1) return ir_error(g, n, "the output would be empty along spatial axis %d", i);
        inferred->dims[2 + i] = ir_dim_const(o);
    }
    *out = *inferred;
    if (os) {
        int64_t v[IR_MAX_RANK];
        if (!os->data)
            return ir_error(g, n, "input 'output_shape' must be a constant (data-dependent shapes are not supported); "
                            "'%s' is computed at run time", vname(os));
        if (ir_const_ints(os, v, IR_MAX_RANK) != r) return ir_error(g, n, "output_shape must list %d dims", r);
        for (int i = 0; i < r; i++) {
            if (v[i] < inferred->dims[i].v || (i < 2 && v[i] != x->shape.dims[i].v) || v[i] > ((int64_t)1 << 32))
                return ir_error(g, n, "output_shape dim %d (%lld) is smaller than the unpooled size %lld", i, (long long)v[i],
                                (long long)inferred->dims[i].v);
            out->dims[i] = ir_dim_const(v[i]);
        }
    }
    return 0;
}

int ir_infer_maxunpool(ir_graph_t *g, ir_node_t *n) {
    ir_shape_t s, inf;
    if (ir_maxunpool_shape(g, n, &s, &inf)) return -1;
    n->out[0]->dtype = n->in[0]->dtype;
    n->out[0]->shape = s;
    return 0;
}
