/* Reference evaluations of the ops that read a tensor at computed coordinates: Resize,
 * GridSample and RoiAlign. Each is the LLVM lowering's arithmetic written over plain
 * loops (backends/llvm/lower_data.c's elem_resize, lower_sample.c's elem_grid_sample and
 * elem_roi_align), including their rounding, clamping and border rules, so a folded
 * constant equals what the kernel would compute. Coordinates may be NaN or infinite:
 * every index is saturated and clamped before it addresses memory, as in the kernels.
 * Work is bounded by EVAL_MAX_MACS taps. */
#include "passes/eval_int.h"

#define MAXSP 3

/* f64 -> index, defined for every input like lower_sample.c's to_index: NaN goes to the
 * low bound, values saturate at +-2^62 (far outside any axis). */
static int64_t to_index(double x) {
    const double big = 4611686018427387904.0;
    x = x >= -big ? x : -big;
    x = x <= big ? x : big;
    return (int64_t)x;
}

static int64_t clamp_index(int64_t i, int64_t D) { return i < 0 ? 0 : i > D - 1 ? D - 1 : i; }

/* ---------------------------------------------------------------- Resize */
/* Per resized axis the coordinate transform gives x_ori; base = ceil(x_ori) - 1 and
 * ratio = x_ori - base in (0, 1] pick 1 (nearest), 2 (linear) or 4 (cubic) taps, clamped
 * at the edges; exclude_outside renormalises the in-range weights. */
typedef struct {
    int mode, ctm, nearest, exclude;
    double a, extrap;
} rsz_t;

static int str_index(const char *s, const char *const *names, int cnt) {
    for (int i = 0; i < cnt; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

/* The taps of output coordinate oi along axis d: indices ti[], weights tw[]; sets *outside
 * for tf_crop_and_resize beyond the input. */
static void resize_taps(const rsz_t *R, const ir_resize_t *rp, int d, int64_t in_d, int64_t oi, int64_t *ti,
                        double *tw, bool *outside) {
    double in = (double)in_d, sc = rp->scale[d], ow = sc * in, r0 = rp->roi_start[d], r1 = rp->roi_end[d];
    double xf = (double)oi, half = xf + 0.5, xo;
    switch (R->ctm) {
    case 1: xo = xf / sc; break;
    case 2: xo = ow == 1 ? 0 : xf * ((in - 1) / (ow - 1)); break;
    case 3: xo = ow == 1 ? -0.5 : half / sc - 0.5; break;
    case 4:
        xo = ow == 1 ? (r1 - r0) * (in - 1) / 2 : xf * ((r1 - r0) * (in - 1) / (ow - 1));
        xo += r0 * (in - 1);
        if (xo < 0 || xo > in - 1) *outside = true;
        break;
    case 5: {
        double adj = (double)rp->out[d] / ow, off = in / 2 * (1 - adj);
        xo = off + (half / sc - 0.5);
        break;
    }
    default: xo = half / sc - 0.5; break;
    }
    double basef = ceil(xo) - 1, ratio = xo - basef;
    int64_t base = (int64_t)basef;   /* xo is finite: scales and sizes are checked */
    int ntap = R->mode == 0 ? 1 : R->mode == 1 ? 2 : 4, first = R->mode == 2 ? -1 : 0;
    if (R->mode == 0) {
        bool j;
        switch (R->nearest) {
        case 1: j = ratio >= 0.5; break;
        case 2: j = ratio == 1.0; break;
        case 3: j = true; break;
        default: j = ratio > 0.5; break;
        }
        base += j;
    }
    double sum = 0, A = R->a;
    for (int t = 0; t < ntap; t++) {
        int64_t i = base + first + t;
        double c;
        if (R->mode == 0) {
            c = 1;
        } else if (R->mode == 1) {
            c = t == 0 ? 1 - ratio : ratio;
        } else {
            /* cubic convolution kernel at distances ratio+1, ratio, 1-ratio, 2-ratio */
            double s = t == 0 ? ratio + 1 : t == 1 ? ratio : t == 2 ? 1 - ratio : 2 - ratio, s2 = s * s, s3 = s2 * s;
            c = t == 1 || t == 2 ? (A + 2) * s3 - (A + 3) * s2 + 1 : A * s3 - 5 * A * s2 + 8 * A * s - 4 * A;
        }
        if (R->exclude && (i < 0 || i > in_d - 1)) c = 0;
        sum += c;
        ti[t] = clamp_index(i, in_d);
        tw[t] = c;
    }
    if (R->exclude)
        for (int t = 0; t < ntap; t++) tw[t] /= sum;
}

int eval_resize(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s;
    if (!in_const(n, 0, &s)) return 0;
    const ir_value_t *x = n->in[0];
    ir_resize_t rp;
    if (ir_resize_params(g, n, &x->shape, &rp)) return -1;
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const ctms[] = {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel",
                                       "tf_crop_and_resize", "half_pixel_symmetric"};
    static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    rsz_t R = {
        .mode = str_index(ir_attr_str(n, "mode", "nearest"), modes, 3),
        .ctm = str_index(ir_attr_str(n, "coordinate_transformation_mode", "half_pixel"), ctms, 6),
        .nearest = str_index(ir_attr_str(n, "nearest_mode", "round_prefer_floor"), nms, 4),
        .exclude = (int)ir_attr_int(n, "exclude_outside", 0),
        .a = ir_attr_float(n, "cubic_coeff_a", -0.75),
        .extrap = ir_attr_float(n, "extrapolation_value", 0.0),
    };
    /* what the lowering refuses is left to it, so the message names the real limit */
    if (R.mode < 0 || R.ctm < 0 || R.nearest < 0 || (ir_attr_int(n, "antialias", 0) && R.mode != 0)) return 0;
    sh_t o = s;
    bool resized[IR_MAX_RANK];
    int rd[IR_MAX_RANK], nr = 0, ntap = R.mode == 0 ? 1 : R.mode == 1 ? 2 : 4, combos = 1;
    for (int d = 0; d < s.r; d++) {
        o.d[d] = rp.out[d];
        resized[d] = rp.out[d] != s.d[d] || rp.scale[d] != 1.0 ||
                     (R.ctm == 4 && (rp.roi_start[d] != 0.0 || rp.roi_end[d] != 1.0));
        if (resized[d]) {
            rd[nr++] = d;
            combos *= ntap;
        }
    }
    if (combos > 256) return 0;
    int64_t on = sh_numel(&o);
    if (on < 0 || !work_ok(on, combos) || !res_alloc(g, r, x->dtype, &o)) return 0;
    if (on && sh_numel(&s) == 0) return ir_error(g, n, "cannot resize an empty tensor to a non-empty one");
    int64_t st[IR_MAX_RANK], xi[IR_MAX_RANK], oc[IR_MAX_RANK];
    row_strides(&s, st);
    for (int64_t i = 0; i < on; i++) {
        int64_t rem = i;
        for (int d = o.r - 1; d >= 0; d--) {
            oc[d] = rem % o.d[d];
            rem /= o.d[d];
        }
        int64_t tidx[IR_MAX_RANK][4];
        double tco[IR_MAX_RANK][4];
        bool outside = false;
        for (int k = 0; k < nr; k++) resize_taps(&R, &rp, rd[k], s.d[rd[k]], oc[rd[k]], tidx[k], tco[k], &outside);
        for (int d = 0; d < s.r; d++) xi[d] = oc[d];
        double acc = 0;
        for (int c = 0; c < combos; c++) {
            double w = 1;
            int cr = c;
            for (int k = nr - 1; k >= 0; k--) {
                int t = cr % ntap;
                cr /= ntap;
                xi[rd[k]] = tidx[k][t];
                w *= tco[k][t];
            }
            int64_t off = 0;
            for (int d = 0; d < s.r; d++) off += xi[d] * st[d];
            acc += w * ld_f(x->dtype, x->data, off);
        }
        if (R.ctm == 4 && outside) acc = R.extrap;
        if (!ir_dtype_is_float(x->dtype)) acc = round(acc);
        st_f(x->dtype, r->buf, i, acc);
    }
    return 1;
}

/* ---------------------------------------------------------------- GridSample */
enum { GS_NEAREST, GS_LINEAR, GS_CUBIC };
enum { GS_ZEROS, GS_BORDER, GS_REFLECTION };

/* Reflects x into [lo, hi] by folding at the nearer border (the reference's _gs_reflect);
 * a zero-width range gives lo. */
static double reflect(double x, double lo, double hi) {
    double rng = hi - lo;
    if (!(rng > 0)) return lo;
    bool below = x < lo, above = x > hi;
    if (!below && !above) return x;
    double dx = below ? lo - x : x - hi, nf = trunc(dx / rng), rm = dx - nf * rng;
    bool even = fmod(nf, 2) == 0;
    return below ? (even ? lo + rm : hi - rm) : (even ? hi - rm : lo + rm);
}

/* Keys' cubic convolution weights (A = -0.75) for the four taps around fraction t. */
static void cubic_coeffs(double t, double *c) {
    const double A = -0.75;
    double d[4] = {t + 1, t, 1 - t, 2 - t};
    for (int i = 0; i < 4; i++) {
        double s = d[i];
        c[i] = i == 1 || i == 2 ? ((A + 2) * s - (A + 3)) * s * s + 1 : ((A * s - 5 * A) * s + 8 * A) * s - 4 * A;
    }
}

/* The grid value g denormalised onto an axis of D pixels, in the grid's precision (float
 * for a float grid) as the kernel does, then widened. */
static double denorm(double g, int64_t D, bool align, bool f64) {
    if (f64) return align ? (g + 1) / 2 * (double)(D - 1) : ((g + 1) * (double)D - 1) / 2;
    float gf = (float)g, Df = (float)D, g1 = gf + 1.0f;
    return align ? (double)(g1 / 2.0f * (Df - 1.0f)) : (double)((g1 * Df - 1.0f) / 2.0f);
}

int eval_grid_sample(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, gs;
    if (!in_const(n, 0, &s) || !in_const(n, 1, &gs)) return 0;
    const ir_value_t *x = n->in[0], *grid = n->in[1];
    int ns = s.r - 2;
    if (!ir_dtype_is_float(x->dtype) || !ir_dtype_is_float(grid->dtype) || ns < 1 || ns > MAXSP) return 0;
    if (gs.r != s.r || gs.d[0] != s.d[0] || gs.d[gs.r - 1] != ns)
        return ir_error(g, n, "grid must be [N, spatial..., %d]", ns);
    const char *ms = ir_attr_str(n, "mode", "linear"), *ps = ir_attr_str(n, "padding_mode", "zeros");
    int mode = !strcmp(ms, "nearest") ? GS_NEAREST
             : !strcmp(ms, "linear") || !strcmp(ms, "bilinear") ? GS_LINEAR
             : !strcmp(ms, "cubic") || !strcmp(ms, "bicubic") ? GS_CUBIC : -1;
    int pad = !strcmp(ps, "zeros") ? GS_ZEROS : !strcmp(ps, "border") ? GS_BORDER : !strcmp(ps, "reflection") ? GS_REFLECTION : -1;
    if (mode < 0 || pad < 0) return 0;
    bool align = ir_attr_int(n, "align_corners", 0) != 0, f64 = grid->dtype == IR_F64;
    sh_t o = s;
    for (int i = 0; i < ns; i++) o.d[2 + i] = gs.d[1 + i];
    int ntap = mode == GS_NEAREST ? 1 : mode == GS_LINEAR ? 2 : 4, combos = 1;
    for (int i = 0; i < ns; i++) combos *= ntap;
    int64_t on = sh_numel(&o);
    if (on < 0 || !work_ok(on, combos)) return 0;
    for (int k = 0; k < ns; k++)
        if (on && s.d[2 + k] < 1) return 0;   /* nothing to sample from: left to the kernel's rules */
    if (!res_alloc(g, r, x->dtype, &o)) return 0;
    int64_t xst[IR_MAX_RANK], gst[IR_MAX_RANK], oc[IR_MAX_RANK];
    row_strides(&s, xst);
    row_strides(&gs, gst);
    for (int64_t i = 0; i < on; i++) {
        int64_t rem = i;
        for (int d = o.r - 1; d >= 0; d--) {
            oc[d] = rem % o.d[d];
            rem /= o.d[d];
        }
        int64_t goff = oc[0] * gst[0];
        for (int k = 0; k < ns; k++) goff += oc[2 + k] * gst[1 + k];
        int64_t tidx[MAXSP][4];
        double tw[MAXSP][4];
        bool tok[MAXSP][4];
        for (int k = 0; k < ns; k++) {
            /* grid's last axis is (x, y[, z]): the innermost spatial axis comes first */
            int64_t D = s.d[2 + k];
            double c = denorm(ld_f(grid->dtype, grid->data, goff + ns - 1 - k), D, align, f64);
            if (mode == GS_NEAREST) c = nearbyint(c);   /* half to even, as PyTorch */
            double Df = (double)D, lo = align ? 0 : -0.5, hi = align ? Df - 1 : Df - 0.5;
            /* border clamps the coordinate for nearest/linear; cubic clamps only its taps */
            if (pad == GS_BORDER && mode != GS_CUBIC) {
                if (c < lo || c > hi) c = c < 0 ? 0 : c > Df - 1 ? Df - 1 : c;
            } else if (pad == GS_REFLECTION) {
                c = reflect(c, lo, hi);
            }
            int64_t base;
            double frac = 0, cw[4];
            if (mode == GS_NEAREST) {
                base = to_index(trunc(c));
            } else {
                double fl = floor(c);
                frac = c - fl;
                base = to_index(fl);
            }
            if (mode == GS_NEAREST) cw[0] = 1;
            else if (mode == GS_LINEAR) { cw[0] = 1 - frac; cw[1] = frac; }
            else cubic_coeffs(frac, cw);
            int first = mode == GS_CUBIC ? -1 : 0;
            for (int t = 0; t < ntap; t++) {
                int64_t ti = base + first + t;
                bool ok = true;
                if (pad == GS_ZEROS) ok = ti >= 0 && ti < D;
                else if (pad == GS_REFLECTION) ti = to_index(trunc(reflect((double)ti, lo, hi)));
                tidx[k][t] = clamp_index(ti, D);
                tok[k][t] = ok;
                tw[k][t] = cw[t];
            }
        }
        double acc = 0;
        for (int c = 0; c < combos; c++) {
            int64_t off = oc[0] * xst[0] + oc[1] * xst[1];
            double w = 1;
            bool ok = true;
            int cr = c;
            for (int k = ns - 1; k >= 0; k--) {
                int t = cr % ntap;
                cr /= ntap;
                off += tidx[k][t] * xst[2 + k];
                w *= tw[k][t];
                ok = ok && tok[k][t];
            }
            if (ok) acc += w * ld_f(x->dtype, x->data, off);
        }
        st_f(x->dtype, r->buf, i, acc);
    }
    return 1;
}

/* ---------------------------------------------------------------- RoiAlign */
/* Each output bin averages (or takes the max of) gh x gw bilinear samples; samples more
 * than a pixel outside the map weigh 0; output_half_pixel (RoiAlign-10 and the explicit
 * mode) forces malformed rois to at least 1x1. */
typedef struct {
    double c[4], bh, bw;
    int64_t gh, gw, b;
} roi_geo_t;

static void roi_geometry(const ir_node_t *n, int64_t q, bool half_pixel, double scale, int64_t ratio, int64_t oh,
                         int64_t ow, int64_t N, roi_geo_t *G) {
    const ir_value_t *rois = n->in[1], *bi = n->in[2];
    for (int i = 0; i < 4; i++) G->c[i] = ld_f(rois->dtype, rois->data, q * 4 + i) * scale - (half_pixel ? 0.5 : 0.0);
    double rw = G->c[2] - G->c[0], rh = G->c[3] - G->c[1];
    if (!half_pixel) {
        rw = rw > 1 ? rw : 1;
        rh = rh > 1 ? rh : 1;
    }
    G->bh = rh / (double)oh;
    G->bw = rw / (double)ow;
    if (ratio > 0) {
        G->gh = G->gw = ratio;
    } else {
        G->gh = to_index(ceil(rh / (double)oh));
        G->gw = to_index(ceil(rw / (double)ow));
        if (G->gh < 0) G->gh = 0;
        if (G->gw < 0) G->gw = 0;
    }
    /* an out-of-range batch index reads the nearest batch rather than outside X */
    G->b = clamp_index(ld_i(bi->dtype, bi->data, q), N);
}

/* One bilinear sample at (yy, xx) of the plane at base: the four weighted taps combined
 * by sum (avg) or max, as elem_roi_align. */
static double roi_sample(const ir_value_t *x, int64_t plane, int64_t H, int64_t W, double yy, double xx, bool mx) {
    bool inside = yy >= -1 && yy <= (double)H && xx >= -1 && xx <= (double)W;
    double cc[2] = {inside ? (yy > 0 ? yy : 0) : 0, inside ? (xx > 0 ? xx : 0) : 0}, fr[2];
    int64_t dims[2] = {H, W}, lo[2], hi[2];
    for (int a = 0; a < 2; a++) {
        int64_t last = dims[a] - 1, l = to_index(cc[a]);
        bool at_end = l >= last;
        if (at_end) l = last;
        double pos = at_end ? (double)l : cc[a];
        lo[a] = clamp_index(l, dims[a]);
        hi[a] = clamp_index(at_end ? l : l + 1, dims[a]);
        fr[a] = pos - (double)l;
    }
    double hy = 1 - fr[0], hx = 1 - fr[1];
    double wts[4] = {hy * hx, hy * fr[1], fr[0] * hx, fr[0] * fr[1]};
    int64_t ys[4] = {lo[0], lo[0], hi[0], hi[0]}, xs[4] = {lo[1], hi[1], lo[1], hi[1]};
    double val = 0;
    for (int q = 0; q < 4; q++) {
        double term = (inside ? wts[q] : 0) * ld_f(x->dtype, x->data, plane + ys[q] * W + xs[q]);
        val = q == 0 ? term : mx ? fmax(val, term) : val + term;
    }
    return val;
}

int eval_roi_align(ir_graph_t *g, ir_node_t *n, res_t *r) {
    sh_t s, rs, bs;
    if (!in_const(n, 0, &s) || !in_const(n, 1, &rs) || !in_const(n, 2, &bs) || s.r != 4) return 0;
    const ir_value_t *x = n->in[0];
    if (!ir_dtype_is_float(x->dtype) || !ir_dtype_is_float(n->in[1]->dtype)) return 0;
    int64_t R = rs.r == 2 ? rs.d[0] : -1;
    if (R < 0 || rs.d[1] != 4 || sh_numel(&bs) != R) return ir_error(g, n, "rois must be [R, 4] and batch_indices [R]");
    bool mx = !strcmp(ir_attr_str(n, "mode", "avg"), "max");
    /* RoiAlign-10 has no coordinate_transformation_mode and behaves as output_half_pixel;
     * opset 16 added the attribute with half_pixel as its default */
    const ir_attr_t *ctm = ir_attr_find(n, "coordinate_transformation_mode");
    bool half_pixel = ctm && ctm->kind == IR_ATTR_STRING && ctm->s ? !strcmp(ctm->s, "half_pixel") : g->opset >= 16;
    double scale = ir_attr_float(n, "spatial_scale", 1.0);
    int64_t ratio = ir_attr_int(n, "sampling_ratio", 0), oh = ir_attr_int(n, "output_height", 1),
            ow = ir_attr_int(n, "output_width", 1), N = s.d[0], C = s.d[1], H = s.d[2], W = s.d[3];
    if (oh < 1 || ow < 1) return ir_error(g, n, "output_height and output_width must be positive");
    sh_t o = {4, {R, C, oh, ow}};
    int64_t per_bin = C * oh * ow, work = 0;
    if (!work_ok(per_bin, 4)) return 0;
    for (int64_t q = 0; q < R; q++) {
        roi_geo_t G;
        roi_geometry(n, q, half_pixel, scale, ratio, oh, ow, N, &G);
        int64_t roi = 1;   /* this roi's taps, added to the running total within the budget */
        if (!work_mul(&roi, G.gh) || !work_mul(&roi, G.gw) || !work_mul(&roi, per_bin * 4)) return 0;
        work += roi;
        if (work > EVAL_MAX_MACS) return 0;
    }
    if (R > 0 && C > 0 && (N < 1 || H < 1 || W < 1)) return 0;   /* nothing to sample from */
    if (!res_alloc(g, r, x->dtype, &o)) return 0;
    for (int64_t q = 0; q < R; q++) {
        roi_geo_t G;
        roi_geometry(n, q, half_pixel, scale, ratio, oh, ow, N, &G);
        int64_t count = G.gh * G.gw < 1 ? 1 : G.gh * G.gw;
        for (int64_t c = 0; c < C; c++) {
            int64_t plane = (G.b * C + c) * H * W;
            for (int64_t ph = 0; ph < oh; ph++)
                for (int64_t pw = 0; pw < ow; pw++) {
                    double y0 = G.c[1] + (double)ph * G.bh, x0 = G.c[0] + (double)pw * G.bw, acc = 0;
                    bool first = true;
                    for (int64_t iy = 0; iy < G.gh; iy++) {
                        double yy = y0 + ((double)iy + 0.5) * G.bh / (double)G.gh;
                        for (int64_t ix = 0; ix < G.gw; ix++) {
                            double xx = x0 + ((double)ix + 0.5) * G.bw / (double)G.gw;
                            double v = roi_sample(x, plane, H, W, yy, xx, mx);
                            acc = mx ? (first ? v : fmax(acc, v)) : acc + v;
                            first = false;
                        }
                    }
                    if (!mx) acc /= (double)count;
                    st_f(x->dtype, r->buf, ((q * C + c) * oh + ph) * ow + pw, acc);
                }
        }
    }
    return 1;
}
