/* Resize parameters shared by inference and the backends: per axis, the output size,
 * the scale used by the coordinate transform, and the roi. Opset 11+ form:
 * inputs X, roi (optional), scales (optional), sizes (optional). */
#include <math.h>
#include <string.h>

#include "ir/infer_util.h"

static int const_floats(const ir_value_t *v, double *out, int max) {
    if (!v || !v->data) return -1;
    size_t es = ir_dtype_size(v->dtype);
    if (!es || !(v->dtype == IR_F32 || v->dtype == IR_F64)) return -1;
    int n = (int)(v->data_size / es);
    if (n > max) return -1;
    for (int i = 0; i < n; i++)
        out[i] = v->dtype == IR_F32 ? ((const float *)v->data)[i] : ((const double *)v->data)[i];
    return n;
}

static bool present(const ir_node_t *n, int i) {
    return i < n->n_in && n->in[i] && !(n->in[i]->data && n->in[i]->data_size == 0);
}

/* Element i of a shape input as a dim: its known contents, or a data symbol of a graph
 * input (int for sizes, float for scales). -1 when neither. */
static int param_dim(ir_graph_t *g, const ir_value_t *v, int i, ir_dim_t *out) {
    if (v->sval && i < v->n_sval) {
        *out = v->sval[i];
        return 0;
    }
    if (v->is_input && !v->producer && ir_shape_is_static(&v->shape) && i < ir_shape_numel(&v->shape))
        return ir_dim_data(g, v, i, out);
    return -1;
}

/* Sizes or scales known only at run time, or a symbolic input: output dims as
 * expressions, and the kernel works the scale out when it runs. */
static int resize_runtime(ir_graph_t *g, const ir_node_t *n, const ir_shape_t *x, const int *axes, int na,
                          bool has_scales, bool crop, ir_resize_t *p) {
    const ir_value_t *v = has_scales ? n->in[2] : n->in[3];
    if (v->shape.rank != 1 || !ir_shape_is_static(&v->shape) || ir_shape_numel(&v->shape) != na)
        return ir_error(g, n, "'%s' must be 1-D with %d values", has_scales ? "scales" : "sizes", na);
    if (crop && has_scales)
        return ir_error(g, n, "tf_crop_and_resize with run-time scales is not supported");
    const char *pol = ir_attr_str(n, "keep_aspect_ratio_policy", "stretch");
    bool nl = strcmp(pol, "not_larger") == 0, ns = strcmp(pol, "not_smaller") == 0;
    if (!has_scales && !nl && !ns && strcmp(pol, "stretch") != 0)
        return ir_error(g, n, "keep_aspect_ratio_policy '%s' is not supported", pol);
    if (!has_scales && (nl || ns)) {
        /* one scale for every axis, the smallest (not_larger) or largest (not_smaller)
         * size/in ratio, chosen at run time by cross-multiplying; out = floor(in * scale + 0.5) */
        for (int i = 0; i < na; i++) p->rt[axes[i]] = 3;
        if (g->syms_frozen) return 0;
        ir_dim_t num = ir_dim_const(0), den = ir_dim_const(1);
        for (int i = 0; i < na; i++) {
            ir_dim_t e, in = x->dims[axes[i]], lhs, rhs;
            if (param_dim(g, v, i, &e) && !(v->data && ir_const_ints(v, (int64_t[IR_MAX_RANK]){0}, IR_MAX_RANK) >= 0))
                return ir_error(g, n, "input 'sizes' must be a constant or a graph input");
            if (v->data) {
                int64_t sz[IR_MAX_RANK];
                ir_const_ints(v, sz, IR_MAX_RANK);
                e = ir_dim_const(sz[i]);
            }
            if (ir_shape_check_add(g, IR_CHECK_GE, e, ir_dim_const(0), n->name)) goto complex;
            if (i == 0) {
                num = e;
                den = in;
                continue;
            }
            /* e/in < num/den  <=>  e*den < num*in (all positive) */
            if (ir_dim_mul(g, e, den, &lhs) || ir_dim_mul(g, num, in, &rhs)) goto complex;
            ir_dim_t a = nl ? lhs : rhs, b = nl ? rhs : lhs;
            if (ir_dim_select_lt(g, a, b, e, num, &num) || ir_dim_select_lt(g, a, b, in, den, &den)) goto complex;
        }
        for (int i = 0; i < na; i++) {
            ir_dim_t t, twoden;
            int d = axes[i];
            if (ir_dim_mul(g, x->dims[d], num, &t) || ir_dim_mul(g, t, ir_dim_const(2), &t) || ir_dim_add(g, t, den, &t) ||
                ir_dim_mul(g, den, ir_dim_const(2), &twoden) || ir_dim_floordiv(g, t, twoden, &p->out_d[d]))
                goto complex;
            p->out[d] = ir_dim_is_const(p->out_d[d]) ? p->out_d[d].v : -1;
        }
        p->aspect_num = num;
        p->aspect_den = den;
        return 0;
    complex:
        return ir_error(g, n, "the output size expression for keep_aspect_ratio_policy is too complex");
    }
    double sc[IR_MAX_RANK];
    int64_t sz[IR_MAX_RANK];
    bool csc = has_scales && const_floats(v, sc, IR_MAX_RANK) == na;
    bool csz = !has_scales && ir_const_ints(v, sz, IR_MAX_RANK) == na;
    for (int i = 0; i < na; i++) {
        int d = axes[i];
        ir_dim_t in = x->dims[d], o;
        if (csz) {
            if (sz[i] < 0) return ir_error(g, n, "size %lld out of range", (long long)sz[i]);
            o = ir_dim_const(sz[i]);
            p->rt[d] = 1;
        } else if (csc) {
            /* a known scale over a symbolic dim: exact only for k and 1/k */
            double s = sc[i], k = floor(s + 0.5), ik = floor(1.0 / s + 0.5);
            if (s == 1.0) {
                o = in;
            } else if (k >= 2 && s == k) {
                if (ir_dim_mul(g, in, ir_dim_const((int64_t)k), &o)) return ir_error(g, n, "output size overflows");
            } else if (ik >= 2 && s == 1.0 / ik) {
                if (ir_dim_floordiv(g, in, ir_dim_const((int64_t)ik), &o)) return ir_error(g, n, "output size overflows");
            } else {
                return ir_error(g, n, "scale %g over the symbolic dim %d is not supported (only k and 1/k)", s, d);
            }
            p->scale[d] = s;
            p->rt[d] = 0;
        } else if (g->syms_frozen) {
            /* a backend asking: the output dims are the node's; only where the scale comes from */
            p->rt[d] = has_scales ? 2 : 1;
            p->rt_elem[d] = (int8_t)i;
            p->out[d] = -1;
            continue;
        } else {
            ir_dim_t e;
            if (param_dim(g, v, i, &e))
                return ir_error(g, n, "input '%s' must be a constant or a graph input; '%s' is computed from tensor "
                                "values at run time", has_scales ? "scales" : "sizes", v->name);
            if (has_scales) {
                if (ir_dim_floor_mul_f(g, in, e, &o)) return ir_error(g, n, "the output size expression is too complex");
                p->rt[d] = 2;
                p->rt_elem[d] = (int8_t)i;
            } else {
                if (ir_shape_check_add(g, IR_CHECK_GE, e, ir_dim_const(0), n->name))
                    return ir_error(g, n, "sizes must not be negative");
                o = e;
                p->rt[d] = 1;
            }
        }
        p->out_d[d] = o;
        p->out[d] = ir_dim_is_const(o) ? o.v : -1;
    }
    return 0;
}

int ir_resize_params(ir_graph_t *g, const ir_node_t *n, const ir_shape_t *x, ir_resize_t *p) {
    int r = x->rank;
    memset(p, 0, sizeof *p);
    if (n->n_in < 2) return ir_error(g, n, "Resize before opset 11 (scales only) is not supported");
    int axes[IR_MAX_RANK], na = 0;
    const int64_t *ax;
    int nax = ir_attr_ints(n, "axes", &ax);
    if (nax > r) return ir_error(g, n, "too many axes");
    if (nax > 0) {
        for (int i = 0; i < nax; i++)
            if (ir_norm_axis(ax[i], r, &axes[na++])) return ir_error(g, n, "axis %lld out of range", (long long)ax[i]);
    } else {
        for (int i = 0; i < r; i++) axes[na++] = i;
    }
    for (int d = 0; d < r; d++) {
        p->scale[d] = 1.0;
        p->roi_start[d] = 0.0;
        p->roi_end[d] = 1.0;
        p->out[d] = x->dims[d].v;
    }
    double roi[2 * IR_MAX_RANK];
    p->n_axes = (int8_t)na;
    for (int i = 0; i < na; i++) p->roi_idx[axes[i]] = (int8_t)i;
    const char *ctm0 = ir_attr_str(n, "coordinate_transformation_mode", "half_pixel");
    if (present(n, 1) && !n->in[1]->data && strcmp(ctm0, "tf_crop_and_resize") == 0) {
        /* a roi fed at run time: the kernel reads it; only output sizes given as sizes */
        const ir_value_t *rv = n->in[1];
        if (rv->shape.rank != 1 || !ir_shape_is_static(&rv->shape) || ir_shape_numel(&rv->shape) != 2 * na ||
            !ir_dtype_is_float(rv->dtype))
            return ir_error(g, n, "roi must be a float tensor of %d values", 2 * na);
        if (!present(n, 3))
            return ir_error(g, n, "tf_crop_and_resize with a run-time roi needs 'sizes' (the output size from "
                            "'scales' would depend on the roi's values)");
        p->rt_roi = true;
    } else if (present(n, 1)) {
        int c = const_floats(n->in[1], roi, 2 * IR_MAX_RANK);
        if (c < 0)
            return ir_error(g, n, "input 'roi' must be a constant float tensor%s%s%s", n->in[1]->data ? "" : "; '",
                            n->in[1]->data ? "" : n->in[1]->name, n->in[1]->data ? "" : "' is computed at run time");
        if (c == 2 * na)
            for (int i = 0; i < na; i++) {
                p->roi_start[axes[i]] = roi[i];
                p->roi_end[axes[i]] = roi[i + na];
            }
        else if (c != 0)
            return ir_error(g, n, "roi has %d values, expected %d", c, 2 * na);
    }
    const char *ctm = ir_attr_str(n, "coordinate_transformation_mode", "half_pixel");
    bool crop = strcmp(ctm, "tf_crop_and_resize") == 0;
    bool has_sizes = present(n, 3), has_scales = present(n, 2);
    if (has_sizes == has_scales) return ir_error(g, n, "exactly one of 'scales' and 'sizes' must be given");
    for (int d = 0; d < r; d++) p->out_d[d] = x->dims[d];
    bool sym_in = false;
    for (int i = 0; i < na; i++) sym_in |= x->dims[axes[i]].sym >= 0;
    const ir_value_t *sv = has_scales ? n->in[2] : n->in[3];
    if (!sv->data || sym_in || p->rt_roi) return resize_runtime(g, n, x, axes, na, has_scales, crop, p);
    if (has_scales) {
        double sc[IR_MAX_RANK];
        int c = const_floats(n->in[2], sc, IR_MAX_RANK);
        if (c < 0)
            return ir_error(g, n, "input 'scales' must be a constant float tensor (data-dependent shapes are not supported)%s%s%s",
                            n->in[2]->data ? "" : "; '", n->in[2]->data ? "" : n->in[2]->name,
                            n->in[2]->data ? "" : "' is computed at run time");
        if (c != na) return ir_error(g, n, "scales has %d values, expected %d", c, na);
        for (int i = 0; i < na; i++) {
            int d = axes[i];
            if (!(sc[i] > 0) || sc[i] > 1e6) return ir_error(g, n, "scale %g is not in (0, 1e6]", sc[i]);
            double len = (double)x->dims[d].v * (crop ? p->roi_end[d] - p->roi_start[d] : 1.0) * sc[i];
            if (!(len >= 0) || len > 1e12) return ir_error(g, n, "output size out of range");
            p->scale[d] = sc[i];
            p->out[d] = (int64_t)floor(len);
            p->out_d[d] = ir_dim_const(p->out[d]);
        }
    } else {
        int64_t sz[IR_MAX_RANK];
        int c = ir_const_ints(n->in[3], sz, IR_MAX_RANK);
        if (c < 0)
            return ir_error(g, n, "input 'sizes' must be a constant int64 tensor (data-dependent shapes are not supported)%s%s%s",
                            n->in[3]->data ? "" : "; '", n->in[3]->data ? "" : n->in[3]->name,
                            n->in[3]->data ? "" : "' is computed at run time");
        if (c != na) return ir_error(g, n, "sizes has %d values, expected %d", c, na);
        const char *pol = ir_attr_str(n, "keep_aspect_ratio_policy", "stretch");
        bool nl = strcmp(pol, "not_larger") == 0, ns = strcmp(pol, "not_smaller") == 0;
        if (!nl && !ns && strcmp(pol, "stretch") != 0) return ir_error(g, n, "keep_aspect_ratio_policy '%s' is not supported", pol);
        double common = nl ? INFINITY : 0;
        for (int i = 0; i < na; i++) {
            int d = axes[i];
            if (sz[i] < 0 || sz[i] > ((int64_t)1 << 31)) return ir_error(g, n, "size %lld out of range", (long long)sz[i]);
            if (x->dims[d].v == 0) return ir_error(g, n, "cannot resize an empty dimension");
            double s = (double)sz[i] / (double)x->dims[d].v;
            if (nl && s < common) common = s;
            if (ns && s > common) common = s;
            p->scale[d] = s;
            p->out[d] = sz[i];
            p->out_d[d] = ir_dim_const(sz[i]);
        }
        if (nl || ns)
            for (int i = 0; i < na; i++) {
                int d = axes[i];
                p->scale[d] = common;
                p->out[d] = (int64_t)floor(common * (double)x->dims[d].v + 0.5);
                p->out_d[d] = ir_dim_const(p->out[d]);
            }
    }
    return 0;
}
