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

/* out[i] = x[i + off] where that is inside x, else 0; off < 0 pads, off > 0 crops, both
 * centred with the extra element at the end (floor of half the difference first). */
int ir_center_crop_params(ir_graph_t *g, const ir_node_t *n, int64_t *off, ir_shape_t *out) {
    const ir_value_t *x = n->in[0];
    int r = x->shape.rank;
    int64_t sh[IR_MAX_RANK], axes[IR_MAX_RANK];
    int c = const_list(g, n, 1, "shape", sh, IR_MAX_RANK);
    if (c < 0) return -1;
    const int64_t *av;
    int na = ir_attr_ints(n, "axes", &av);
    if (na < 0) {
        na = r;
        for (int i = 0; i < r; i++) axes[i] = i;
    } else {
        if (na > r) return ir_error(g, n, "axes lists %d axes for rank %d", na, r);
        memcpy(axes, av, sizeof(int64_t) * (size_t)na);
    }
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

int ir_infer_center_crop_pad(ir_graph_t *g, ir_node_t *n) {
    int64_t off[IR_MAX_RANK];
    ir_shape_t s;
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
    if (ir_affine_grid_params(g, n, size, &ns)) return -1;
    ir_shape_t s = {.rank = ns + 2};
    s.dims[0] = ir_dim_const(size[0]);
    for (int i = 0; i < ns; i++) s.dims[1 + i] = ir_dim_const(size[2 + i]);
    s.dims[ns + 1] = ir_dim_const(ns);
    n->out[0]->dtype = n->in[0]->dtype;
    n->out[0]->shape = s;
    return 0;
}
