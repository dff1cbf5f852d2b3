/* Inference for the ops that sample a tensor at computed coordinates: GridSample,
 * DeformConv and RoiAlign. Coordinates are data, so only shapes and attributes are
 * checked here; the kernels clamp every index they compute (see lower_sample.c). */
#include <string.h>

#include "ir/infer_util.h"

static const char *vname(const ir_value_t *v) { return v && v->name ? v->name : "?"; }

static int need_float(ir_graph_t *g, ir_node_t *n, const ir_value_t *v, const char *what) {
    if (!ir_dtype_is_float(v->dtype))
        return ir_error(g, n, "%s '%s' must be a floating-point tensor, got %s", what, vname(v), ir_dtype_name(v->dtype));
    return 0;
}

static int shape_text(ir_graph_t *g, const ir_shape_t *s, char *buf, size_t cap) {
    ir_shape_str(g, s, buf, cap);
    return 0;
}

static bool dim_eq_const(ir_dim_t d, int64_t v) { return ir_dim_is_const(d) && d.v == v; }

/* GridSample: X (N, C, D1..Dr) sampled at grid (N, H1..Hr, r) gives (N, C, H1..Hr). */
int ir_infer_grid_sample(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0], *grid = n->in[1];
    char a[128], b[128];
    if (need_float(g, n, x, "input") || need_float(g, n, grid, "grid")) return -1;
    int r = x->shape.rank - 2;
    shape_text(g, &x->shape, a, sizeof a);
    shape_text(g, &grid->shape, b, sizeof b);
    if (r < 1 || r > 3) return ir_error(g, n, "input must be (N, C, D1..Dr) with 1 <= r <= 3, got %s", a);
    if (grid->shape.rank != r + 2 || !dim_eq_const(grid->shape.dims[r + 1], r))
        return ir_error(g, n, "grid %s must have shape (N, H1..H%d, %d) for input %s", b, r, r, a);
    if (!ir_dim_eq(grid->shape.dims[0], x->shape.dims[0]))
        return ir_error(g, n, "grid %s and input %s differ in batch size", b, a);
    const char *mode = ir_attr_str(n, "mode", "linear"), *pad = ir_attr_str(n, "padding_mode", "zeros");
    /* opset 20 renamed bilinear/bicubic to linear/cubic; both spellings are accepted. */
    if (strcmp(mode, "linear") && strcmp(mode, "bilinear") && strcmp(mode, "cubic") && strcmp(mode, "bicubic") &&
        strcmp(mode, "nearest"))
        return ir_error(g, n, "mode '%s' is not supported", mode);
    if (strcmp(pad, "zeros") && strcmp(pad, "border") && strcmp(pad, "reflection"))
        return ir_error(g, n, "padding_mode '%s' is not supported", pad);
    ir_shape_t o = {.rank = r + 2};
    o.dims[0] = x->shape.dims[0];
    o.dims[1] = x->shape.dims[1];
    for (int i = 0; i < r; i++) o.dims[2 + i] = grid->shape.dims[1 + i];
    n->out[0]->dtype = x->dtype;
    n->out[0]->shape = o;
    return 0;
}

/* DeformConv: a Conv whose taps are moved by per-output offsets (and scaled by an
 * optional mask). The window arithmetic is Conv's; offset and mask must match it. */
int ir_infer_deform_conv(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0], *w = n->in[1], *off = n->in[2];
    const ir_value_t *bias = n->n_in > 3 ? n->in[3] : NULL, *mask = n->n_in > 4 ? n->in[4] : NULL;
    char a[128], b[128];
    if (need_float(g, n, x, "input")) return -1;
    for (int i = 1; i < n->n_in; i++)
        if (n->in[i] && n->in[i]->dtype != x->dtype)
            return ir_error(g, n, "input '%s' (%s) must have the input's dtype %s", vname(n->in[i]),
                            ir_dtype_name(n->in[i]->dtype), ir_dtype_name(x->dtype));
    ir_window_t p;
    if (ir_window_params(g, n, &x->shape, &w->shape, &p)) return -1;
    if (!ir_dim_is_const(x->shape.dims[1])) return ir_error(g, n, "input channels must be constant");
    int64_t C = x->shape.dims[1].v, M = w->shape.dims[0].v, G = p.group, OG = ir_attr_int(n, "offset_group", 1);
    if (G < 1 || M % G || w->shape.dims[1].v * G != C)
        return ir_error(g, n, "group %lld does not fit input channels %lld and weight channels %lld x %lld", (long long)G,
                        (long long)C, (long long)M, (long long)w->shape.dims[1].v);
    if (OG < 1 || C % OG) return ir_error(g, n, "offset_group %lld does not divide the %lld input channels", (long long)OG, (long long)C);
    if (p.ns > 3) return ir_error(g, n, "%d spatial dimensions are not supported (at most 3)", p.ns);
    int64_t K = 1, ch;
    for (int i = 0; i < p.ns; i++)
        if (__builtin_mul_overflow(K, p.k[i], &K)) return ir_error(g, n, "kernel is too large");
    if (__builtin_mul_overflow(K * p.ns, OG, &ch)) return ir_error(g, n, "offset channel count overflows");
    ir_shape_t o = {.rank = p.ns + 2};
    o.dims[0] = x->shape.dims[0];
    o.dims[1] = ir_dim_const(M);
    for (int i = 0; i < p.ns; i++) {
        if (p.out[i] == -1) return ir_error(g, n, "unsupported symbolic shape: spatial dims must be constant");
        if (p.out[i] < 1) return ir_error(g, n, "the output would be empty along spatial axis %d", i);
        o.dims[2 + i] = ir_dim_const(p.out[i]);
    }
    /* offset (N, OG*ns*K, out...) and mask (N, OG*K, out...) */
    for (int q = 0; q < 2; q++) {
        const ir_value_t *v = q ? mask : off;
        if (!v) continue;
        int64_t ch = OG * K * (q ? 1 : p.ns);
        bool okshape = v->shape.rank == o.rank && ir_dim_eq(v->shape.dims[0], o.dims[0]) &&
                       dim_eq_const(v->shape.dims[1], ch);
        for (int i = 0; okshape && i < p.ns; i++) okshape = ir_dim_eq(v->shape.dims[2 + i], o.dims[2 + i]);
        if (!okshape) {
            ir_shape_t want = o;
            want.dims[1] = ir_dim_const(ch);
            shape_text(g, &v->shape, a, sizeof a);
            shape_text(g, &want, b, sizeof b);
            return ir_error(g, n, "%s '%s' has shape %s, expected %s", q ? "mask" : "offset", vname(v), a, b);
        }
    }
    if (bias && ir_shape_numel(&bias->shape) != M)
        return ir_error(g, n, "bias '%s' must have %lld elements", vname(bias), (long long)M);
    n->out[0]->dtype = x->dtype;
    n->out[0]->shape = o;
    return 0;
}

/* RoiAlign: X (N, C, H, W), rois (R, 4), batch_indices (R) give (R, C, oh, ow). */
int ir_infer_roi_align(ir_graph_t *g, ir_node_t *n) {
    const ir_value_t *x = n->in[0], *rois = n->in[1], *bi = n->in[2];
    char a[128];
    if (need_float(g, n, x, "input")) return -1;
    if (rois->dtype != x->dtype)
        return ir_error(g, n, "rois '%s' (%s) must have the input's dtype %s", vname(rois), ir_dtype_name(rois->dtype),
                        ir_dtype_name(x->dtype));
    if (bi->dtype != IR_I64 && bi->dtype != IR_I32)
        return ir_error(g, n, "batch_indices must be int64, got %s", ir_dtype_name(bi->dtype));
    shape_text(g, &x->shape, a, sizeof a);
    if (x->shape.rank != 4) return ir_error(g, n, "input must be (N, C, H, W), got %s", a);
    shape_text(g, &rois->shape, a, sizeof a);
    if (rois->shape.rank != 2 || !dim_eq_const(rois->shape.dims[1], 4))
        return ir_error(g, n, "rois must be (num_rois, 4), got %s", a);
    if (bi->shape.rank != 1 || !ir_dim_eq(bi->shape.dims[0], rois->shape.dims[0]))
        return ir_error(g, n, "batch_indices must have one entry per roi");
    int64_t oh = ir_attr_int(n, "output_height", 1), ow = ir_attr_int(n, "output_width", 1);
    if (oh < 1 || ow < 1 || oh > ((int64_t)1 << 31) || ow > ((int64_t)1 << 31))
        return ir_error(g, n, "output_height %lld and output_width %lld must be positive", (long long)oh, (long long)ow);
    if (ir_attr_int(n, "sampling_ratio", 0) < 0) return ir_error(g, n, "sampling_ratio must be >= 0");
    const char *mode = ir_attr_str(n, "mode", "avg"), *ctm = ir_attr_str(n, "coordinate_transformation_mode", "half_pixel");
    if (strcmp(mode, "avg") && strcmp(mode, "max")) return ir_error(g, n, "mode '%s' is not supported", mode);
    if (strcmp(ctm, "half_pixel") && strcmp(ctm, "output_half_pixel"))
        return ir_error(g, n, "coordinate_transformation_mode '%s' is not supported", ctm);
    ir_shape_t o = {.rank = 4};
    o.dims[0] = rois->shape.dims[0];
    o.dims[1] = x->shape.dims[1];
    o.dims[2] = ir_dim_const(oh);
    o.dims[3] = ir_dim_const(ow);
    n->out[0]->dtype = x->dtype;
    n->out[0]->shape = o;
    return 0;
}
