/* Inference for the image-layout ops whose output shape comes from constant parameters:
 * Col2Im (image_shape, block_shape), CenterCropPad (shape) and AffineGrid (size). The
 * parameters are resolved here once for the evaluator and the backends. */
#include <string.h>

#include "ir/infer_util.h"

static const char *vname(const ir_value_t *v) { return v && v->name ? v->name : "?"; }

/* A constant int list input; the wording lets the conformance runner --bind it. */
static int const_list(ir_graph_t *g, const ir_node_t *n, int idx, const char *what, int64_t *out, int cap) {
    const ir_value_t *v = n->in[idx];
    if (!v->data)
        return ir_error(g, n, "input '%s' must be a constant (data-dependent shapes are not supported); "
                        "'%s' is computed at run time", what, vname(v));
    int c = ir_const_ints(v, out, cap);
    if (c < 0 || v->shape.rank != 1) return ir_error(g, n, "input '%s' must be a 1-D int64 list of at most %d values", what, cap);
    return c;
}

/* attribute list of cnt values, or dflt everywhere when absent */
static int attr_list(ir_graph_t *g, const ir_node_t *n, const char *name, int cnt, int64_t dflt, int64_t *out) {
    const int64_t *v;
    int c = ir_attr_ints(n, name, &v);
    if (c < 0) {
        for (int i = 0; i < cnt; i++) out[i] = dflt;
        return 0;
    }
    if (c != cnt) return ir_error(g, n, "%s has %d values, expected %d", name, c, cnt);
    memcpy(out, v, sizeof(int64_t) * (size_t)cnt);
    return 0;
}

int ir_col2im_params(ir_graph_t *g, const ir_node_t *n, ir_col2im_t *p) {
    memset(p, 0, sizeof *p);
    const ir_value_t *x = n->in[0];
    int ns = const_list(g, n, 1, "image_shape", p->img, IR_MAX_RANK - 2);
    if (ns < 0) return -1;
    int nb = const_list(g, n, 2, "block_shape", p->blk, IR_MAX_RANK - 2);
    if (nb < 0) return -1;
    if (ns < 1 || nb != ns) return ir_error(g, n, "image_shape and block_shape must have the same length >= 1");
    p->ns = ns;
    int64_t pads[2 * IR_MAX_RANK];
    if (attr_list(g, n, "dilations", ns, 1, p->dil) || attr_list(g, n, "strides", ns, 1, p->str) ||
        attr_list(g, n, "pads", 2 * ns, 0, pads))
        return -1;
    p->K = 1;
    p->L = 1;
    for (int d = 0; d < ns; d++) {
        p->pb[d] = pads[d];
        p->pe[d] = pads[ns + d];
        if (p->img[d] < 1 || p->blk[d] < 1 || p->dil[d] < 1 || p->str[d] < 1 || p->pb[d] < 0 || p->pe[d] < 0 ||
            p->img[d] > (1 << 24) || p->blk[d] > (1 << 16) || p->dil[d] > (1 << 16) || p->str[d] > (1 << 16) ||
            p->pb[d] > (1 << 24) || p->pe[d] > (1 << 24))
            return ir_error(g, n, "image, block, dilation, stride and pad sizes of axis %d are out of range", d);
        int64_t span = p->dil[d] * (p->blk[d] - 1) + 1, ext = p->img[d] + p->pb[d] + p->pe[d];
        if (ext < span) return ir_error(g, n, "the block does not fit the padded image along axis %d", d);
        p->nb[d] = (ext - span) / p->str[d] + 1;
        p->K *= p->blk[d];
        p->L *= p->nb[d];
    }
    char a[128];
    ir_shape_str(g, &x->shape, a, sizeof a);
    if (x->shape.rank != 3 || !ir_dim_is_const(x->shape.dims[1]) || !ir_dim_is_const(x->shape.dims[2]))
        return ir_error(g, n, "input must be (N, C*prod(block_shape), L) with constant C and L, got %s", a);
    if (x->shape.dims[1].v % p->K || x->shape.dims[2].v != p->L)
        return ir_error(g, n, "input %s does not match block_shape (%lld elements) and %lld blocks", a,
                        (long long)p->K, (long long)p->L);
    p->C = x->shape.dims[1].v / p->K;
    return 0;
}

int ir_infer_col2im(ir_graph_t *g, ir_node_t *n) {
    ir_col2im_t p;
    if (ir_col2im_params(g, n, &p)) return -1;
    ir_shape_t s = {.rank = p.ns + 2};
    s.dims[0] = n->in[0]->shape.dims[0];
    s.dims[1] = ir_dim_const(p.C);
    for (int d = 0; d < p.ns; d++) s.dims[2 + d] = ir_dim_const(p.img[d]);
    n->out[0]->dtype = n->in[0]->dtype;
    n->out[0]->shape = s;
    return 0;
}

/* CenterCropPad's axes attribute (all axes when absent) into axes[]; the count or -1. */
static int ccp_axes(ir_graph_t *g, const ir_node_t *n, int r, int64_t *axes) {
    const int64_t *av;
    int na = ir_attr_ints(n, "axes", &av);
    if (na < 0) {
        for (int i = 0; i < r; i++) axes[i] = i;
        return r;
    }
    if (na > r) return ir_error(g, n, "axes lists %d axes for rank %d", na, r);
    memcpy(axes, av, sizeof(int64_t) * (size_t)na);
    return na;
}

/* out[i] = x[i + off] where that is inside x, else 0; off < 0 pads, off > 0 crops, both
 * centred with the extra element at the end (floor of half the difference first). */
int ir_center_crop_params(ir_graph_t *g, const ir_node_t *n, int64_t *off, ir_shape_t *out) {
    const ir_value_t *x = n->in[0];
    int r = x->shape.rank;
    int64_t sh[IR_MAX_RANK], axes[IR_MAX_RANK];
    int c = const_list(g, n, 1, "shape", sh, IR_MAX_RANK);
    if (c < 0) return -1;
    int na = ccp_axes(g, n, r, axes);
    if (na < 0) return -1;
    if (c != na) return ir_error(g, n, "shape has %d values for %d axes", c, na);
    *out = x->shape;
    for (int i = 0; i < r; i++) off[i] = 0;
    bool seen[IR_MAX_RANK] = {false};
    for (int i = 0; i < na; i++) {
        int a;
        if (ir_norm_axis(axes[i], r, &a) || seen[a]) return ir_error(g, n, "axis %lld is out of range or repeated", (long long)axes[i]);
        seen[a] = true;
        ir_dim_t d = x->shape.dims[a];
        if (!ir_dim_is_const(d)) return ir_error(g, n, "axis %d must have a constant size", a);
        if (sh[i] < 0 || sh[i] > ((int64_t)1 << 40)) return ir_error(g, n, "target size %lld is out of range", (long long)sh[i]);
        off[a] = d.v >= sh[i] ? (d.v - sh[i]) / 2 : -((sh[i] - d.v) / 2);
        out->dims[a] = ir_dim_const(sh[i]);
    }
    return 0;
}

/* CenterCropPad with the target shape fed at run time (a graph input): the output dims are
 * its elements (data symbols) and the offsets, (d - t) // 2 when cropping, -((t - d) // 2)
 * when padding, are run-time values the kernel reads from the node's params. */
static int center_crop_runtime(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0], *sv = n->in[1];
    int r = x->shape.rank;
    if (!sv->is_input || sv->producer || sv->shape.rank != 1 || !ir_shape_is_static(&sv->shape) ||
        (sv->dtype != IR_I64 && sv->dtype != IR_I32))
        return ir_error(g, n, "input 'shape' must be a constant or a 1-D int64 graph input; '%s' is computed from "
                        "tensor values at run time", vname(sv));
    int64_t axes[IR_MAX_RANK];
    int na = ccp_axes(g, n, r, axes);
    if (na < 0) return -1;
    if (ir_shape_numel(&sv->shape) != na) return ir_error(g, n, "shape has %lld values for %d axes",
                                                           (long long)ir_shape_numel(&sv->shape), na);
    ir_shape_t o = x->shape;
    ir_dim_t *off = ir_arena_alloc(&g->arena, sizeof(ir_dim_t) * (size_t)(r ? r : 1));
    if (!off) return ir_error(g, n, "out of memory");
    for (int i = 0; i < r; i++) off[i] = ir_dim_const(0);
    bool seen[IR_MAX_RANK] = {false};
    for (int i = 0; i < na; i++) {
        int a;
        if (ir_norm_axis(axes[i], r, &a) || seen[a]) return ir_error(g, n, "axis %lld is out of range or repeated", (long long)axes[i]);
        seen[a] = true;
        ir_dim_t t, d = x->shape.dims[a], dmt, tmd, crop, pad;
        if (ir_dim_data(g, sv, i, &t) || ir_shape_check_add(g, IR_CHECK_GE, t, ir_dim_const(0), n->name) ||
            ir_dim_sub(g, d, t, &dmt) || ir_dim_sub(g, t, d, &tmd) || ir_dim_floordiv(g, dmt, ir_dim_const(2), &crop) ||
            ir_dim_floordiv(g, tmd, ir_dim_const(2), &pad) || ir_dim_sub(g, ir_dim_const(0), pad, &pad) ||
            ir_dim_select_lt(g, d, t, pad, crop, &off[a]))
            return ir_error(g, n, "the crop/pad offsets are too complex");
        o.dims[a] = t;
    }
    n->params = off;
    n->n_params = r;
    n->out[0]->dtype = x->dtype;
    n->out[0]->shape = o;
    return 0;
}

int ir_infer_center_crop_pad(ir_graph_t *g, ir_node_t *n) {
    int64_t off[IR_MAX_RANK];
    ir_shape_t s;
    n->params = NULL;
    n->n_params = 0;
    if (!n->in[1]->data) return center_crop_runtime(g, n);
    if (ir_center_crop_params(g, n, off, &s)) return -1;
    n->out[0]->dtype = n->in[0]->dtype;
    n->out[0]->shape = s;
    return 0;
}

/* theta (N, 2, 3) with size (N, C, H, W), or theta (N, 3, 4) with size (N, C, D, H, W) */
int ir_affine_grid_params(ir_graph_t *g, const ir_node_t *n, int64_t *size, int *ns) {
    const ir_value_t *th = n->in[0];
    int c = const_list(g, n, 1, "size", size, 5);
    if (c < 0) return -1;
    if (c != 4 && c != 5) return ir_error(g, n, "size must be (N, C, H, W) or (N, C, D, H, W), got %d values", c);
    *ns = c - 2;
    for (int i = 0; i < c; i++)
        if (size[i] < 1 || size[i] > ((int64_t)1 << 24)) return ir_error(g, n, "size[%d] = %lld is out of range", i, (long long)size[i]);
    char a[128];
    ir_shape_str(g, &th->shape, a, sizeof a);
    if (!ir_dtype_is_float(th->dtype)) return ir_error(g, n, "theta must be floating-point");
    if (th->shape.rank != 3 || !ir_dim_is_const(th->shape.dims[0]) || th->shape.dims[0].v != size[0] ||
        !ir_dim_is_const(th->shape.dims[1]) || th->shape.dims[1].v != *ns || !ir_dim_is_const(th->shape.dims[2]) ||
        th->shape.dims[2].v != *ns + 1)
        return ir_error(g, n, "theta %s must be (%lld, %d, %d)", a, (long long)size[0], *ns, *ns + 1);
    return 0;
}

int ir_infer_affine_grid(ir_graph_t *g, ir_node_t *n) {
    int64_t size[5];
    int ns;
    const ir_value_t *sv = n->in[1], *th = n->in[0];
    if (!sv->data) {
        /* size fed at run time (a graph input): N must match theta, the rest are data symbols */
        if (!sv->is_input || sv->producer || sv->shape.rank != 1 || !ir_shape_is_static(&sv->shape) ||
            (sv->dtype != IR_I64 && sv->dtype != IR_I32))
            return ir_error(g, n, "input 'size' must be a constant or a 1-D int64 graph input; '%s' is computed from "
                            "tensor values at run time", vname(sv));
        int c = (int)ir_shape_numel(&sv->shape);
        if (c != 4 && c != 5) return ir_error(g, n, "size must be (N, C, H, W) or (N, C, D, H, W), got %d values", c);
        ns = c - 2;
        if (!ir_dtype_is_float(th->dtype) || th->shape.rank != 3 || !ir_dim_is_const(th->shape.dims[1]) ||
            th->shape.dims[1].v != ns || !ir_dim_is_const(th->shape.dims[2]) || th->shape.dims[2].v != ns + 1)
            return ir_error(g, n, "theta must be floating-point (N, %d, %d)", ns, ns + 1);
        ir_shape_t s = {.rank = ns + 2};
        ir_dim_t e;
        if (ir_dim_data(g, sv, 0, &e) || ir_shape_check_add(g, IR_CHECK_EQ, e, th->shape.dims[0], n->name))
            return ir_error(g, n, "size[0] must be theta's batch");
        s.dims[0] = th->shape.dims[0];
        for (int i = 0; i < ns; i++) {
            if (ir_dim_data(g, sv, 2 + i, &s.dims[1 + i]) ||
                ir_shape_check_add(g, IR_CHECK_GE, s.dims[1 + i], ir_dim_const(1), n->name))
                return ir_error(g, n, "too many symbols");
        }
        s.dims[ns + 1] = ir_dim_const(ns);
        n->out[0]->dtype = th->dtype;
        n->out[0]->shape = s;
        return 0;
    }
    if (ir_affine_grid_params(g, n, size, &ns)) return -1;
    ir_shape_t s = {.rank = ns + 2};
    s.dims[0] = ir_dim_const(size[0]);
    for (int i = 0; i < ns; i++) s.dims[1 + i] = ir_dim_const(size[2 + i]);
    s.dims[ns + 1] = ir_dim_const(ns);
    n->out[0]->dtype = n->in[0]->dtype;
    n->out[0]->shape = s;
    return 0;
}
