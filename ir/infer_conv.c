/* Inference of the windowed ops: Conv, ConvTranspose, MaxPool, AveragePool and their
 * global forms, with the shared window geometry (ir_window_params) that folding and the
 * backends read too; symbolic spatial sizes become floor/ceil-div expressions. */
#include "ir/infer_int.h"

#include <stdio.h>

#define WIN_MAX ((int64_t)1 << 31)

static int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int read_ints_attr(ir_graph_t *g, const ir_node_t *n, const char *name, int want, int64_t dflt,
                          int64_t minv, int64_t *out) {
    const int64_t *a;
    int c = ir_attr_ints(n, name, &a);
    if (c < 0) {
        for (int i = 0; i < want; i++) out[i] = dflt;
        return 0;
    }
    if (c != want) return ir_error(g, n, "attribute '%s' has %d values, expected %d", name, c, want);
    for (int i = 0; i < c; i++) {
        if (a[i] < minv) return ir_error(g, n, "attribute '%s' value %lld must be >= %lld", name, (long long)a[i], (long long)minv);
        /* Keeps all window arithmetic below far from int64 overflow. */
        if (a[i] > WIN_MAX) return ir_error(g, n, "attribute '%s' value %lld is too large", name, (long long)a[i]);
        out[i] = a[i];
    }
    return 0;
}

/* Window geometry over symbolic spatial dims: output sizes as expressions, pads fixed.
 * Covers explicit pads (floor or ceil mode) and SAME padding with stride 1 (the padding
 * is then the same at every size); the rest needs pads that move with the size. */
static int window_symbolic(ir_graph_t *g, const ir_node_t *n, const ir_shape_t *x, bool tr, int mode,
                           const int64_t *pads, ir_window_t *p) {
    int ns = p->ns;
    if (tr) return ir_error(g, n, "unsupported symbolic shape: ConvTranspose over symbolic spatial dims of %s", SHP(x));
    /* after the symbols are ordered (a backend asking for the pads) the output sizes are
     * the node's output dims already: only the pads are worked out */
    bool frozen = g->syms_frozen;
    for (int i = 0; i < ns; i++) {
        ir_dim_t in = x->dims[2 + i];
        int64_t s = p->s[i], dk = (p->k[i] - 1) * p->d[i] + 1;
        ir_dim_t o, span;
        p->out[i] = -1;
        if (mode == 1 || mode == 2) {
            if (s != 1)
                return ir_error(g, n, "unsupported symbolic shape: %s padding with stride %lld over symbolic dims of %s",
                                mode == 1 ? "SAME_UPPER" : "SAME_LOWER", (long long)s, SHP(x));
            int64_t total = dk - 1;
            p->pb[i] = mode == 1 ? total / 2 : total - total / 2;
            p->pe[i] = total - p->pb[i];
            o = in;
        } else {
            p->pb[i] = mode ? 0 : pads[i];
            p->pe[i] = mode ? 0 : pads[ns + i];
            if (p->pb[i] >= dk || p->pe[i] >= dk) {
                if (!n->in[1] || n->op != IR_OP_CONV)
                    return ir_error(g, n, "pads %lld,%lld on spatial axis %d must be smaller than the kernel extent %lld",
                                    (long long)p->pb[i], (long long)p->pe[i], i, (long long)dk);
            }
            if (frozen) {
                p->out_d[i] = ir_dim_const(-1);
                continue;
            }
            if (ir_dim_add(g, in, ir_dim_const(p->pb[i] + p->pe[i] - dk), &span)) goto complex;
            if (p->ceil_mode) {
                /* o = ceil(span / s) + 1, less one when the last window would start inside
                 * the end padding: (o - 1) * s >= in + pb */
                ir_dim_t om1, last, lim;
                if (ir_dim_ceildiv(g, span, ir_dim_const(s), &om1) || ir_dim_add(g, om1, ir_dim_const(1), &o) ||
                    ir_dim_mul(g, om1, ir_dim_const(s), &last) || ir_dim_add(g, in, ir_dim_const(p->pb[i]), &lim) ||
                    ir_dim_select_lt(g, last, lim, o, om1, &o))
                    goto complex;
            } else if (ir_dim_floordiv(g, span, ir_dim_const(s), &o) || ir_dim_add(g, o, ir_dim_const(1), &o)) {
                goto complex;
            }
            /* the padded input must hold one window: checked when the model runs */
            if (ir_shape_check_add(g, IR_CHECK_GE, span, ir_dim_const(0), n->name))
                return ir_error(g, n, "kernel extent %lld is larger than the padded input on spatial axis %d",
                                (long long)dk, i);
        }
        p->out_d[i] = o;
    }
    return 0;
complex:
    return ir_error(g, n, "the output size expression over %s is too complex", SHP(x));
}

static int window_params(ir_graph_t *g, const ir_node_t *n, const ir_shape_t *x, const ir_shape_t *w,
                         bool tr, ir_window_t *p) {
    memset(p, 0, sizeof *p);
    if (x->rank < 3) return ir_error(g, n, "input must have rank >= 3 (N, C, spatial...), got %s", SHP(x));
    int ns = p->ns = x->rank - 2;
    bool sym = false;
    for (int i = 0; i < ns; i++) sym |= !ir_dim_is_const(x->dims[2 + i]);
    if (w) {
        if (w->rank != x->rank)
            return ir_error(g, n, "kernel rank %d does not match input rank %d", w->rank, x->rank);
        if (!ir_shape_is_static(w)) return ir_error(g, n, "weight shape %s must be constant", SHP(w));
    }
    const int64_t *ks;
    int kc = ir_attr_ints(n, "kernel_shape", &ks);
    if (kc < 0 && !w) return ir_error(g, n, "attribute 'kernel_shape' is required");
    if (kc >= 0 && kc != ns) return ir_error(g, n, "kernel_shape has %d values, expected %d", kc, ns);
    for (int i = 0; i < ns; i++) {
        p->k[i] = kc >= 0 ? ks[i] : w->dims[2 + i].v;
        if (p->k[i] < 1 || p->k[i] > WIN_MAX) return ir_error(g, n, "kernel size %lld is invalid", (long long)p->k[i]);
        if (w && w->dims[2 + i].v != p->k[i])
            return ir_error(g, n, "kernel_shape does not match weight shape %s", SHP(w));
    }
    if (read_ints_attr(g, n, "strides", ns, 1, 1, p->s) || read_ints_attr(g, n, "dilations", ns, 1, 1, p->d) ||
        read_ints_attr(g, n, "output_padding", ns, 0, 0, p->out_pad))
        return -1;
    int64_t pads[2 * IR_MAX_RANK];
    if (read_ints_attr(g, n, "pads", 2 * ns, 0, 0, pads)) return -1;
    p->group = w ? ir_attr_int(n, "group", 1) : 1;
    p->ceil_mode = ir_attr_int(n, "ceil_mode", 0) != 0;
    const char *ap = ir_attr_str(n, "auto_pad", "NOTSET");
    int mode;
    if (!strcmp(ap, "NOTSET") || !*ap) mode = 0;
    else if (!strcmp(ap, "SAME_UPPER")) mode = 1;
    else if (!strcmp(ap, "SAME_LOWER")) mode = 2;
    else if (!strcmp(ap, "VALID")) mode = 3;
    else return ir_error(g, n, "unknown auto_pad '%s'", ap);
    const int64_t *os;
    int oc = tr ? ir_attr_ints(n, "output_shape", &os) : -1;
    if (oc >= 0 && oc != ns && oc != ns + 2)
        return ir_error(g, n, "output_shape has %d values, expected %d", oc, ns);
    for (int i = 0; i < oc; i++)
        if (os[i] < 0 || os[i] > ((int64_t)1 << 48)) return ir_error(g, n, "output_shape value %lld is invalid", (long long)os[i]);
    if (sym) return window_symbolic(g, n, x, tr, mode, pads, p);
    for (int i = 0; i < ns; i++) {
        int64_t in = x->dims[2 + i].v, k = p->k[i], s = p->s[i], d = p->d[i], dk, o;
        if (in < 1 || in > ((int64_t)1 << 48)) return ir_error(g, n, "spatial dim %d of %s is invalid", i, SHP(x));
        dk = (k - 1) * d + 1; /* both <= 2^31: no overflow */
        p->pb[i] = mode ? 0 : pads[i];
        p->pe[i] = mode ? 0 : pads[ns + i];
        if (tr) {
            /* Follows the ONNX reference: the transposed result of extent `full` is placed at
             * offset -pb in an output of size o, so pb/pe may come out negative (zero fill). */
            int64_t full;
            if (__builtin_mul_overflow(s, in - 1, &full) || __builtin_add_overflow(full, p->out_pad[i] + dk, &full))
                return ir_error(g, n, "output size overflows");
            if (mode == 1 || mode == 2) {
                o = oc >= 0 ? os[oc - ns + i] : in * s; /* <= 2^48 * 2^31 */
                int64_t total = full - o, half = floordiv(total, 2);
                p->pb[i] = mode == 1 ? half : total - half;
                p->pe[i] = total - p->pb[i];
            } else {
                o = oc >= 0 ? os[oc - ns + i] : full - p->pb[i] - p->pe[i];
                if (oc >= 0) p->pe[i] = full - p->pb[i] - o;
            }
        } else if (mode == 1 || mode == 2) {
            o = (in + s - 1) / s;
            int64_t total = (o - 1) * s + dk - in;
            if (total < 0) total = 0;
            if (mode == 1) { p->pb[i] = total / 2; p->pe[i] = total - total / 2; }
            else { p->pe[i] = total / 2; p->pb[i] = total - total / 2; }
        } else {
            /* A pooling window lying wholly in padding has no elements to reduce. */
            if (!w && (p->pb[i] >= dk || p->pe[i] >= dk))
                return ir_error(g, n, "pads %lld,%lld on spatial axis %d must be smaller than the kernel extent %lld",
                                (long long)p->pb[i], (long long)p->pe[i], i, (long long)dk);
            int64_t span = in + p->pb[i] + p->pe[i] - dk;
            if (span < 0)
                return ir_error(g, n, "kernel extent %lld is larger than padded input %lld on spatial axis %d",
                                (long long)dk, (long long)(in + p->pb[i] + p->pe[i]), i);
            o = (p->ceil_mode ? (span + s - 1) / s : span / s) + 1;
            /* A window that would start inside the end padding is dropped. */
            if (p->ceil_mode && (o - 1) * s >= in + p->pb[i]) o--;
        }
        if (o < 1) return ir_error(g, n, "output size %lld on spatial axis %d is not positive", (long long)o, i);
        p->out[i] = o;
        p->out_d[i] = ir_dim_const(o);
    }
    return 0;
}

int ir_window_params(ir_graph_t *g, const ir_node_t *n, const ir_shape_t *x, const ir_shape_t *w,
                     ir_window_t *p) {
    return window_params(g, n, x, w, false, p);
}

int ir_window_params_transposed(ir_graph_t *g, const ir_node_t *n, const ir_shape_t *x, const ir_shape_t *w,
                                ir_window_t *p) {
    return window_params(g, n, x, w, true, p);
}

/* Conv and ConvTranspose (tr) share the geometry. */
static int conv_like(ir_graph_t *g, ir_node_t *n, bool tr) {
    ir_value_t *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL;
    if (need_float(g, n, x) || same_dtype(g, n, x, w) || (b && same_dtype(g, n, x, b))) return -1;
    ir_window_t p;
    if (window_params(g, n, &x->shape, &w->shape, tr, &p)) return -1;
    int64_t grp = p.group, w0 = w->shape.dims[0].v, w1 = w->shape.dims[1].v, m, cin;
    if (grp < 1) return ir_error(g, n, "group %lld must be >= 1", (long long)grp);
    if (tr) {
        cin = w0;
        if (w0 % grp) return ir_error(g, n, "weight dim 0 (%lld) is not divisible by group %lld", (long long)w0, (long long)grp);
        if (__builtin_mul_overflow(w1, grp, &m)) return ir_error(g, n, "output channels overflow");
        for (int i = 0; i < p.ns; i++)
            if (p.out_pad[i] >= p.s[i] && p.out_pad[i] >= p.d[i])
                return ir_error(g, n, "output_padding %lld must be smaller than stride or dilation", (long long)p.out_pad[i]);
    } else {
        m = w0;
        if (__builtin_mul_overflow(w1, grp, &cin)) return ir_error(g, n, "input channels overflow");
        if (m % grp) return ir_error(g, n, "output channels %lld are not divisible by group %lld", (long long)m, (long long)grp);
    }
    if (!dim_is(x->shape.dims[1], cin))
        return ir_error(g, n, "input channels of %s do not match weight %s with group %lld (expected %lld)",
                        SHP(&x->shape), SHP(&w->shape), (long long)grp, (long long)cin);
    if (m < 1) return ir_error(g, n, "weight %s has no output channels", SHP(&w->shape));
    if (b && (b->shape.rank != 1 || !dim_is(b->shape.dims[0], m)))
        return ir_error(g, n, "bias shape %s does not match %lld output channels", SHP(&b->shape), (long long)m);
    ir_shape_t o = {.rank = x->shape.rank};
    o.dims[0] = x->shape.dims[0];
    o.dims[1] = ir_dim_const(m);
    for (int i = 0; i < p.ns; i++) o.dims[2 + i] = p.out_d[i];
    set_out(n, 0, x->dtype, &o);
    return 0;
}

int inf_conv(ir_graph_t *g, ir_node_t *n) { return conv_like(g, n, false); }
int inf_conv_transpose(ir_graph_t *g, ir_node_t *n) { return conv_like(g, n, true); }

/* Pools: dtypes by the row's type letters (MaxPool takes integers too). */
int inf_global_pool(ir_graph_t *g, ir_node_t *n) {
    ir_shape_t o = n->in[0]->shape;
    if (o.rank < 3) return ir_error(g, n, "input must have rank >= 3 (N, C, spatial...), got %s", SHP(&o));
    for (int i = 2; i < o.rank; i++) o.dims[i] = ir_dim_const(1);
    set_out(n, 0, n->in[0]->dtype, &o);
    return 0;
}

int inf_pool(ir_graph_t *g, ir_node_t *n) {
    ir_value_t *x = n->in[0];
    ir_shape_t o = x->shape;
    ir_window_t p;
    if (ir_window_params(g, n, &x->shape, NULL, &p)) return -1;
    for (int i = 0; i < p.ns; i++) o.dims[2 + i] = p.out_d[i];
    set_out(n, 0, x->dtype, &o);
    set_out(n, 1, IR_I64, &o);
    return 0;
}

